//! `serve` keeps the index in line with the knowledge folder: a change (debounced, so an
//! editor's save dance counts once) triggers an incremental ingest. Failures are logged
//! and show in `/admin/api/knowledge`; the last good index keeps answering.

use std::sync::Arc;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::new_debouncer;
use tokio_util::sync::CancellationToken;

use super::base::KnowledgeBase;
use super::ingest::{FileOutcome, FileReport, IngestProgress};

/// Logs what each ingest changed.
pub struct LogProgress;

impl IngestProgress for LogProgress {
    fn file_done(&self, report: &FileReport) {
        match &report.outcome {
            FileOutcome::Unchanged { .. } => {}
            FileOutcome::Failed { error } => {
                tracing::warn!(source = %report.source, %error, "knowledge file skipped; its previous version stays indexed")
            }
            outcome => tracing::info!(source = %report.source, ?outcome, "knowledge file indexed"),
        }
    }
}

/// Ingests once now, then again whenever the folder changes, until `token` is cancelled.
pub async fn watch(base: Arc<KnowledgeBase>, token: CancellationToken) {
    let (changed_tx, mut changed) = tokio::sync::mpsc::channel::<()>(1);
    let debouncer = new_debouncer(
        Duration::from_millis(500),
        None,
        move |result: notify_debouncer_full::DebounceEventResult| {
            if let Ok(events) = result
                && events.iter().any(|e| !e.kind.is_access())
            {
                // A full channel already means "ingest pending".
                let _ = changed_tx.try_send(());
            }
        },
    );
    let mut debouncer = match debouncer {
        Ok(debouncer) => Some(debouncer),
        Err(err) => {
            tracing::error!(cause = %err, "cannot watch the knowledge folder; run `showroom kb ingest` after edits");
            None
        }
    };
    if let Some(watcher) = debouncer.as_mut()
        && let Err(err) = watcher.watch(base.root(), RecursiveMode::Recursive)
    {
        tracing::error!(cause = %err, dir = %base.root().display(), "cannot watch the knowledge folder; run `showroom kb ingest` after edits");
        debouncer = None;
    }
    ingest_logged(&base).await;
    if debouncer.is_none() {
        return;
    }
    loop {
        tokio::select! {
            () = token.cancelled() => break,
            Some(()) = changed.recv() => ingest_logged(&base).await,
        }
    }
}

pub async fn ingest_logged(base: &KnowledgeBase) {
    match base.ingest(&LogProgress).await {
        Ok(report) if report.changed() || report.failed() > 0 => tracing::info!(
            files = report.files.len(),
            chunks = report.chunks,
            failed = report.failed(),
            seconds = report.elapsed.as_secs_f64(),
            "knowledge ingested"
        ),
        Ok(_) => tracing::debug!("knowledge unchanged"),
        Err(err) => {
            metrics::counter!("showroom_knowledge_ingest_failures_total").increment(1);
            tracing::error!(error = %err, "knowledge ingest failed; the previous index keeps answering, next change retries")
        }
    }
}
