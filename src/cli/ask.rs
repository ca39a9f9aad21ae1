//! `showroom ask QUESTION`: one assistant answer with its sources, exactly as a customer
//! would get it (LLM when configured, extractive otherwise). `showroom ask --eval FILE`
//! asks every question of an evaluation file and reports how often the answer contains
//! the expected fact.

use std::path::PathBuf;
use std::sync::Arc;

use super::kb::{open_knowledge, refresh_quietly};
use crate::assistant::{Answer, AnswerKind, Assistant, FlowTool, Question, Response, eval};
use crate::config::Config;
use crate::engine::Language;
use crate::flows::FlowRegistry;

pub enum AskCommand {
    Question {
        question: String,
        language: Language,
        json: bool,
    },
    Eval {
        file: PathBuf,
        json: bool,
    },
}

pub async fn ask(config: &Config, command: AskCommand) -> anyhow::Result<()> {
    let base = Arc::new(open_knowledge(config).await?);
    refresh_quietly(&base).await?;
    let (sources, vocabulary) =
        crate::server::flow_vocabulary(config, Arc::new(crate::booking::sources::NoBookings));
    drop(sources);
    let flows = FlowRegistry::load(&config.flows_dir, vocabulary).map_err(|diagnostics| {
        anyhow::anyhow!(
            "the flow files in {} have problems; fix them (or run `showroom flows check`):\n{diagnostics}",
            config.flows_dir.display()
        )
    })?;
    let tools = crate::flows::flow_tools(&flows.current());
    let (assistant, _prompts) = crate::server::assistant(config, base)?;
    let now = || jiff::Timestamp::now().to_zoned(config.flows.time_zone.clone());
    match command {
        AskCommand::Question {
            question,
            language,
            json,
        } => {
            let response = respond(&assistant, &question, language, &tools, now()).await;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&response_json(&response))?
                );
            } else {
                print_response(&assistant, &response);
            }
            Ok(())
        }
        AskCommand::Eval { file, json } => {
            let cases = eval::load_cases(&file)?;
            let report = eval::run(&cases, |question| {
                let assistant = &assistant;
                let tools = &tools;
                let now = now();
                async move {
                    match respond(assistant, &question, Language::Es, tools, now).await {
                        Response::Answer(answer) => answer.text,
                        Response::StartFlow { intent, .. } => format!("(starts {})", intent.flow),
                    }
                }
            })
            .await;
            if json {
                let misses: Vec<serde_json::Value> = report
                    .misses
                    .iter()
                    .map(|m| {
                        serde_json::json!({
                            "question": m.question,
                            "facts": m.facts,
                            "answer": m.answer,
                        })
                    })
                    .collect();
                let body = serde_json::json!({
                    "questions": report.total,
                    "with_fact": report.with_fact,
                    "share": report.share,
                    "misses": misses,
                });
                println!("{}", serde_json::to_string_pretty(&body)?);
                return Ok(());
            }
            for miss in &report.misses {
                println!(
                    "  {:?}\n    expected {}; answered: {}",
                    miss.question,
                    miss.facts.join(" or "),
                    miss.answer.lines().next().unwrap_or_default()
                );
            }
            if !report.misses.is_empty() {
                println!();
            }
            println!(
                "{} questions, {} answers ({})",
                report.total,
                if assistant.has_llm() {
                    "LLM"
                } else {
                    "extractive"
                },
                file.display()
            );
            println!(
                "answer contains the expected fact  {:.3} ({} of {})",
                report.share, report.with_fact, report.total
            );
            Ok(())
        }
    }
}

async fn respond(
    assistant: &Assistant,
    text: &str,
    language: Language,
    flows: &[FlowTool],
    now: jiff::Zoned,
) -> Response {
    let question = Question {
        text,
        language,
        history: &[],
        now,
        flows,
    };
    assistant.respond(&question, None).await
}

fn print_response(assistant: &Assistant, response: &Response) {
    match response {
        Response::Answer(answer) => print_answer(assistant, answer),
        Response::StartFlow { intent, .. } => {
            println!("This starts the flow `{}`", intent.flow);
            if intent.values.is_empty() {
                println!("  with nothing filled in yet");
            }
            for (name, value) in &intent.values {
                let value = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                println!("  {name} = {value}");
            }
        }
    }
}

fn print_answer(assistant: &Assistant, answer: &Answer) {
    println!("{}", answer.text);
    if !answer.citations.is_empty() {
        println!();
        println!("Sources:");
        for citation in &answer.citations {
            let mut line = format!("  - {}", citation.title);
            if let Some(section) = &citation.section {
                line.push_str(&format!(" › {section}"));
            }
            if let Some(url) = &citation.url {
                line.push_str(&format!(" ({url})"));
            }
            println!("{line}");
        }
    }
    println!();
    println!(
        "({})",
        match answer.kind {
            AnswerKind::Generated => "written by the LLM from the sources above, figures checked",
            AnswerKind::Extractive if assistant.has_llm() =>
                "quoted from the knowledge files: the LLM was unavailable or its answer failed the checks",
            AnswerKind::Extractive => "quoted from the knowledge files (no LLM configured)",
            AnswerKind::NoData => "the knowledge files do not answer this; an advisor is offered",
        }
    );
}

fn response_json(response: &Response) -> serde_json::Value {
    match response {
        Response::Answer(answer) => serde_json::json!({
            "kind": answer.kind.as_str(),
            "language": answer.language.as_str(),
            "text": answer.text,
            "sources": answer.citations,
        }),
        Response::StartFlow { intent, language } => serde_json::json!({
            "kind": "start_flow",
            "language": language.as_str(),
            "flow": intent.flow,
            "values": intent.values,
        }),
    }
}
