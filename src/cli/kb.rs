//! `showroom kb ingest|search|eval`: index the knowledge folder, try questions against
//! it, and measure retrieval on an evaluation file.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};

use super::plural;
use crate::config::Config;
use crate::knowledge::eval::{self, EvalReport};
use crate::knowledge::{
    FileOutcome, FileReport, IngestProgress, IngestReport, KnowledgeBase, SearchOptions,
};

pub enum KbCommand {
    Ingest {
        json: bool,
    },
    Search {
        query: String,
        k: usize,
        json: bool,
        sparse_only: bool,
    },
    Eval {
        file: PathBuf,
        json: bool,
        sparse_only: bool,
    },
}

pub async fn kb(config: &Config, command: KbCommand) -> anyhow::Result<()> {
    let base = open_knowledge(config).await?;
    match command {
        KbCommand::Ingest { json } => {
            let progress = FileLines::new(!json);
            let report = base.ingest(&progress).await?;
            progress.finish();
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{}", summary(&report, base.index().backend()));
            }
            Ok(())
        }
        KbCommand::Search {
            query,
            k,
            json,
            sparse_only,
        } => {
            refresh_quietly(&base).await?;
            let options = SearchOptions {
                k: k.clamp(1, 100),
                dense: !sparse_only,
            };
            let hits = base.search(&query, options).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&hits)?);
                return Ok(());
            }
            if hits.is_empty() {
                println!(
                    "no passage matches {query:?}; try other words, or check that {} has files and `showroom kb ingest` reports them",
                    base.root().display()
                );
            }
            for hit in &hits {
                println!(
                    "{}. [{:.4}] {}{}",
                    hit.rank,
                    hit.score,
                    hit.source,
                    hit.section
                        .as_deref()
                        .map(|s| format!(" › {s}"))
                        .unwrap_or_default()
                );
                for line in hit.text.lines().filter(|l| !l.trim().is_empty()) {
                    println!("     {line}");
                }
                println!();
            }
            Ok(())
        }
        KbCommand::Eval {
            file,
            json,
            sparse_only,
        } => {
            let questions = eval::load_questions(&file)?;
            refresh_quietly(&base).await?;
            let report = base.evaluate(&file, &questions, !sparse_only).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_eval(&report);
            }
            Ok(())
        }
    }
}

/// Opens the knowledge base, with a hint when `serve` holds the embedded index.
pub(super) async fn open_knowledge(config: &Config) -> anyhow::Result<KnowledgeBase> {
    KnowledgeBase::from_config(config).await.map_err(|err| {
        let mut message = format!("{err}");
        if matches!(
            err,
            crate::knowledge::KnowledgeError::Index(crate::knowledge::index::IndexError::Open { .. })
        ) {
            message.push_str(
                "\n  hint: a running `showroom serve` holds the embedded index; it re-ingests edits by itself, and staff can search through it with GET /admin/api/knowledge/search?q=… — or stop it first",
            );
        }
        anyhow::anyhow!(message)
    })
}

/// Search and eval read the folder as it is now: an incremental ingest first (fast when
/// nothing changed), reported on stderr only when it did something.
pub(super) async fn refresh_quietly(base: &KnowledgeBase) -> anyhow::Result<()> {
    let report = base.ingest(&crate::knowledge::ingest::Quiet).await?;
    if report.changed() || report.failed() > 0 {
        eprintln!("{}", summary(&report, base.index().backend()));
    }
    Ok(())
}

fn summary(report: &IngestReport, backend: &str) -> String {
    let added = report.count(|o| matches!(o, FileOutcome::Added { .. }));
    let updated = report.count(|o| matches!(o, FileOutcome::Updated { .. }));
    let unchanged = report.count(|o| matches!(o, FileOutcome::Unchanged { .. }));
    let removed = report.count(|o| matches!(o, FileOutcome::Removed));
    let failed = report.failed();
    let files = report.files.len();
    let mut line = format!(
        "{files} file{}: {added} added, {updated} updated, {unchanged} unchanged, {removed} removed, {failed} failed — {} chunk{} in the {backend} index ({:.1} s)",
        plural(files),
        report.chunks,
        plural(report.chunks),
        report.elapsed.as_secs_f64(),
    );
    if failed > 0 {
        line.push_str(&format!(
            "\n{failed} file{} could not be read; a version indexed before stays searchable until {} fixed (see above), then run `showroom kb ingest` again",
            plural(failed),
            if failed == 1 { "it is" } else { "they are" },
        ));
    }
    line
}

fn print_eval(report: &EvalReport) {
    let misses: Vec<_> = report.misses(5).collect();
    if !misses.is_empty() {
        println!("Not in the top 5:");
        for miss in &misses {
            println!(
                "  {:?}\n    expected {} (rank {}), got {}",
                miss.question,
                miss.expected,
                miss.rank.map_or("–".to_owned(), |r| r.to_string()),
                miss.top.join(", ")
            );
        }
        println!();
    }
    println!("{} questions, {} retrieval", report.questions, report.mode);
    println!("recall@1  {:.3}", report.recall_at_1);
    println!("recall@3  {:.3}", report.recall_at_3);
    println!("recall@5  {:.3}", report.recall_at_5);
    println!("MRR       {:.3}", report.mrr);
    if let Some(accuracy) = report.section_accuracy {
        println!(
            "section   {accuracy:.3} (first hit from the right file was in the expected section)"
        );
    }
}

/// Per-file lines, with a progress bar on a terminal when many files are read.
struct FileLines {
    enabled: bool,
    bar: std::sync::Mutex<Option<ProgressBar>>,
}

/// Below this many files to read, lines alone are enough.
const BAR_FROM_FILES: usize = 20;

impl FileLines {
    fn new(enabled: bool) -> Self {
        Self {
            enabled,
            bar: std::sync::Mutex::new(None),
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

impl IngestProgress for FileLines {
    fn start(&self, files_to_read: usize) {
        if self.enabled && files_to_read >= BAR_FROM_FILES && std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(files_to_read as u64);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {pos}/{len} files  {elapsed} {msg}")
            {
                bar.set_style(style);
            }
            *self.bar.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar);
        }
    }

    fn file_done(&self, report: &FileReport) {
        if !self.enabled {
            return;
        }
        let line = match &report.outcome {
            FileOutcome::Added { chunks } => format!(
                "added      {}  ({chunks} chunk{})",
                report.source,
                plural(*chunks)
            ),
            FileOutcome::Updated { chunks } => format!(
                "updated    {}  ({chunks} chunk{})",
                report.source,
                plural(*chunks)
            ),
            FileOutcome::Unchanged { chunks } => format!(
                "unchanged  {}  ({chunks} chunk{})",
                report.source,
                plural(*chunks)
            ),
            FileOutcome::Removed => format!("removed    {}", report.source),
            FileOutcome::Failed { error } => {
                format!("failed     {}\n           {error}", report.source)
            }
        };
        let guard = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(bar) => {
                if !matches!(
                    report.outcome,
                    FileOutcome::Unchanged { .. } | FileOutcome::Removed
                ) {
                    bar.inc(1);
                }
                bar.println(line);
            }
            None => println!("{line}"),
        }
    }
}
