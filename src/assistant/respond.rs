//! One customer question, answered. The order of decisions is the product's promise:
//!
//! 1. Retrieve passages and measure how much of the question they cover.
//! 2. With an LLM: stream its answer (or its tool call that starts a flow). A text
//!    answer is kept only if retrieval covered the question, it does not leak the
//!    system prompt, and every figure in it appears in the retrieved text; otherwise,
//!    or when the LLM fails (timeout, errors, open breaker), go on as without one.
//! 3. Without an LLM: rules over the catalog, branches and dates start a flow ("quiero
//!    probar el Tiguan el sábado"); else the sentences that answer the question, cited;
//!    else an honest "no tengo ese dato" with an advisor offer.
//!
//! The assistant sees only the dealer's knowledge and this conversation's own recent
//! exchanges: nothing of other customers is ever put in a prompt.

use std::sync::Arc;

use serde_json::{Map, Value as Json, json};

use super::budget::{Budget, Exchange};
use super::grounding::{self, Coverage};
use super::injection::LeakGuard;
use super::intent::{Intent, IntentRules};
use super::llm::{ChatMessage, ChatModel, ChatRequest, Completion, ToolSpec};
use super::prompts::{Passage, PromptRegistry, SystemVars};
use super::{AssistantConfig, extractive, injection, language};
use crate::engine::{Citation, Language, StreamWriter};
use crate::knowledge::{Hit, KnowledgeBase, SearchOptions};

/// Most sentences an extractive answer quotes.
const EXTRACT_SENTENCES: usize = 3;
/// Prefix of the tools that start flows (`start_test_drive`).
const TOOL_PREFIX: &str = "start_";

/// Who the assistant speaks for, for the system prompt.
#[derive(Debug, Clone)]
pub struct Persona {
    pub bot_name: String,
    pub dealer_name: String,
    pub branches: Vec<String>,
}

/// A flow the assistant may start, offered to the LLM as a tool.
#[derive(Debug, Clone)]
pub struct FlowTool {
    pub id: String,
    /// What the flow does, in English (the model reads it).
    pub description: String,
    pub params: Vec<String>,
}

/// What the customer asked, with what the assistant may use to answer.
#[derive(Debug)]
pub struct Question<'a> {
    pub text: &'a str,
    /// The conversation's language so far; the question's own language wins when clear.
    pub language: Language,
    /// This conversation's earlier exchanges, oldest first.
    pub history: &'a [Exchange],
    pub now: jiff::Zoned,
    pub flows: &'a [FlowTool],
}

/// How an answer was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    /// Written by the LLM from the retrieved passages, checked.
    Generated,
    /// Sentences of the knowledge files, quoted.
    Extractive,
    /// The knowledge does not say; an advisor is offered.
    NoData,
}

impl AnswerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generated => "generated",
            Self::Extractive => "extractive",
            Self::NoData => "no_data",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Answer {
    pub text: String,
    pub citations: Vec<Citation>,
    pub kind: AnswerKind,
    pub language: Language,
}

#[derive(Debug, Clone)]
pub enum Response {
    Answer(Answer),
    /// Start this flow with these values already filled in.
    StartFlow {
        intent: Intent,
        language: Language,
    },
}

pub struct Assistant {
    knowledge: Arc<KnowledgeBase>,
    prompts: Arc<PromptRegistry>,
    llm: Option<Arc<dyn ChatModel>>,
    intents: IntentRules,
    config: AssistantConfig,
    persona: Persona,
    /// Marks the system prompt, so an answer that repeats it is recognised.
    canary: String,
}

/// What the LLM produced, before the checks.
enum Generated {
    /// The answer, and the leak guard built for the system prompt it was given.
    Text(String, Box<LeakGuard>),
    Tool(Intent),
}

impl Assistant {
    pub fn new(
        knowledge: Arc<KnowledgeBase>,
        prompts: Arc<PromptRegistry>,
        llm: Option<Arc<dyn ChatModel>>,
        intents: IntentRules,
        config: AssistantConfig,
        persona: Persona,
    ) -> Self {
        Self {
            knowledge,
            prompts,
            llm,
            intents,
            config,
            persona,
            canary: injection::new_canary(),
        }
    }

    pub fn has_llm(&self) -> bool {
        self.llm.is_some()
    }

    pub fn config(&self) -> &AssistantConfig {
        &self.config
    }

    pub fn intents(&self) -> &IntentRules {
        &self.intents
    }

    /// Answers one question, streaming an LLM answer to `stream` as it is written.
    pub async fn respond(
        &self,
        question: &Question<'_>,
        mut stream: Option<&mut StreamWriter>,
    ) -> Response {
        let language = language::detect(question.text).unwrap_or(question.language);
        let hits = match self
            .knowledge
            .search(
                question.text,
                SearchOptions {
                    k: self.config.passages,
                    dense: true,
                },
            )
            .await
        {
            Ok(hits) => hits,
            Err(err) => {
                tracing::warn!(cause = %err, "knowledge search failed; answering without it");
                Vec::new()
            }
        };
        let coverage = grounding::coverage(&self.knowledge, question.text, &hits);
        let grounded = !hits.is_empty() && coverage.share >= self.config.min_coverage;
        tracing::debug!(
            share = coverage.share,
            missing = ?coverage.missing,
            hits = hits.len(),
            "retrieval coverage"
        );

        if let Some(llm) = &self.llm {
            let context: &[Hit] = if grounded { &hits } else { &[] };
            match self
                .generate(
                    llm.as_ref(),
                    question,
                    language,
                    context,
                    stream.as_deref_mut(),
                )
                .await
            {
                Ok(Generated::Tool(intent)) => {
                    discard(stream.as_deref_mut());
                    record("tool_call");
                    return Response::StartFlow { intent, language };
                }
                Ok(Generated::Text(text, guard)) => {
                    match check(&text, &guard, context, &coverage, grounded) {
                        Ok(()) => {
                            record("generated");
                            return Response::Answer(Answer {
                                citations: self.cited_by_markers(&text, context),
                                text: strip_markers(&text),
                                kind: AnswerKind::Generated,
                                language,
                            });
                        }
                        Err(reason) => {
                            metrics::counter!("showroom_assistant_guard_total", "reason" => reason)
                                .increment(1);
                            // Refusing an ungrounded answer is routine (chit-chat, questions
                            // the files don't cover); `check` logs the real guard hits.
                            tracing::debug!(
                                reason,
                                "an LLM answer was not used; answering from the knowledge files instead"
                            );
                        }
                    }
                }
                Err(cause) => {
                    metrics::counter!("showroom_assistant_fallbacks_total").increment(1);
                    tracing::warn!(%cause, llm = %llm.describe(), "the LLM did not answer; answering from the knowledge files instead");
                }
            }
            discard(stream);
        }

        if let Some(intent) = self.intents.detect(question.text, &question.now) {
            record("intent");
            return Response::StartFlow { intent, language };
        }
        if grounded
            && let Some(extract) = extractive::extract(
                &self.knowledge,
                question.text,
                &hits,
                language,
                EXTRACT_SENTENCES,
            )
        {
            record("extractive");
            let cited: Vec<&Hit> = extract.cited.iter().filter_map(|&i| hits.get(i)).collect();
            return Response::Answer(Answer {
                text: extract.text,
                citations: self.citations(cited),
                kind: AnswerKind::Extractive,
                language,
            });
        }
        record("no_data");
        Response::Answer(no_data(language))
    }

    /// Asks the LLM, streaming text pieces to `stream`.
    async fn generate(
        &self,
        llm: &dyn ChatModel,
        question: &Question<'_>,
        language: Language,
        context: &[Hit],
        stream: Option<&mut StreamWriter>,
    ) -> Result<Generated, String> {
        let prompts = self.prompts.current();
        let system = prompts
            .system(&SystemVars {
                bot_name: self.persona.bot_name.clone(),
                dealer_name: self.persona.dealer_name.clone(),
                language,
                today: today_label(question.now.date(), language),
                branches: self.persona.branches.clone(),
                canary: self.canary.clone(),
            })
            .map_err(|problem| problem.to_string())?;
        let passages: Vec<String> = context
            .iter()
            .map(|hit| injection::passage_text(&hit.text))
            .collect();
        let llm_config = self
            .config
            .llm
            .as_ref()
            .ok_or_else(|| "no LLM is configured".to_owned())?;
        let budget = Budget {
            context_window: llm_config.context_window,
            answer_tokens: llm_config.answer_tokens,
        };
        let fitted = budget
            .fit(&system, &passages, question.history, question.text)
            .map_err(|err| err.to_string())?;
        let kept: Vec<Passage<'_>> = fitted
            .passages
            .iter()
            .enumerate()
            .filter_map(|(i, text)| {
                context.get(i).map(|hit| Passage {
                    number: i + 1,
                    title: &hit.title,
                    section: hit.section.as_deref(),
                    text,
                })
            })
            .collect();
        let context_block = prompts
            .context(&kept)
            .map_err(|problem| problem.to_string())?;
        // The layout docs/prompts.md describes: rules, earlier turns, then the passages
        // and the question together, each block delimited and labelled.
        let mut messages = vec![ChatMessage::system(system.clone())];
        for exchange in &fitted.history {
            messages.push(ChatMessage::user(injection::customer_text(
                &exchange.question,
            )));
            messages.push(ChatMessage::assistant(strip_markers(&exchange.answer)));
        }
        messages.push(ChatMessage::user(format!(
            "{context_block}\n\n{}",
            injection::customer_text(&fitted.question)
        )));
        let mut guard = LeakGuard::new(&system, &self.canary);
        for text in context
            .iter()
            .map(|hit| hit.text.as_str())
            .chain([
                self.persona.bot_name.as_str(),
                self.persona.dealer_name.as_str(),
            ])
            .chain(self.persona.branches.iter().map(String::as_str))
        {
            guard.allow(text);
        }
        let request = ChatRequest {
            messages,
            tools: question.flows.iter().map(tool_spec).collect(),
            max_tokens: u32::try_from(llm_config.answer_tokens).unwrap_or(u32::MAX),
            response_schema: None,
        };

        let (deltas, mut pieces) = tokio::sync::mpsc::unbounded_channel::<String>();
        let completion = llm.complete(&request, &deltas);
        tokio::pin!(completion);
        // Pieces are forwarded as they come, until the text so far repeats the system
        // prompt: then the stream stops and is voided (the checked answer replaces it).
        let mut relay = Relay {
            stream,
            so_far: String::new(),
            cut: false,
        };
        let completion: Completion = loop {
            tokio::select! {
                result = &mut completion => break result.map_err(|err| err.to_string())?,
                Some(piece) = pieces.recv() => relay.forward(&piece, &guard),
            }
        };
        while let Ok(piece) = pieces.try_recv() {
            relay.forward(&piece, &guard);
        }
        if let Some(call) = completion.tool_calls.first() {
            let flow = call
                .name
                .strip_prefix(TOOL_PREFIX)
                .filter(|id| question.flows.iter().any(|f| f.id == *id))
                .ok_or_else(|| format!("the LLM called an unknown tool {:?}", call.name))?;
            return Ok(Generated::Tool(self.intent_from_tool(
                flow,
                &call.arguments,
                question,
            )));
        }
        if completion.text.trim().is_empty() {
            return Err("the LLM returned an empty answer".into());
        }
        Ok(Generated::Text(completion.text, Box::new(guard)))
    }

    /// Tool arguments are read like what a customer types ("el sábado", "Sede Norte"),
    /// so they become the same values the rules would fill in; the flow then checks
    /// them like answers and asks again for any it would not accept.
    fn intent_from_tool(&self, flow: &str, arguments: &Json, question: &Question<'_>) -> Intent {
        let params: Vec<String> = question
            .flows
            .iter()
            .find(|f| f.id == flow)
            .map(|f| f.params.clone())
            .unwrap_or_default();
        let mut values = Map::new();
        if let Some(arguments) = arguments.as_object() {
            for (name, value) in arguments {
                if !params.contains(name) {
                    continue;
                }
                let Some(text) = value.as_str().filter(|t| !t.trim().is_empty()) else {
                    continue;
                };
                let found =
                    self.intents
                        .values_for(std::slice::from_ref(name), text, &question.now);
                match found.get(name) {
                    Some(value) => values.insert(name.clone(), value.clone()),
                    None => values.insert(name.clone(), Json::String(text.to_owned())),
                };
            }
        }
        Intent {
            flow: flow.to_owned(),
            values,
        }
    }

    /// Sources of an LLM answer: the passages its `[n]` markers name, in order of first
    /// mention; the best passage when it names none.
    fn cited_by_markers(&self, text: &str, context: &[Hit]) -> Vec<Citation> {
        let mut cited: Vec<&Hit> = Vec::new();
        for number in markers(text) {
            if let Some(hit) = number.checked_sub(1).and_then(|i| context.get(i))
                && !cited.iter().any(|c| std::ptr::eq(*c, hit))
            {
                cited.push(hit);
            }
        }
        if cited.is_empty() {
            cited.extend(context.first());
        }
        self.citations(cited)
    }

    /// Distinct (title, section) pairs, best first, at most `max_citations`.
    fn citations<'h>(&self, hits: impl IntoIterator<Item = &'h Hit>) -> Vec<Citation> {
        let mut citations: Vec<Citation> = Vec::new();
        for hit in hits {
            let citation = Citation {
                title: hit.title.clone(),
                section: hit.section.clone(),
                url: hit.url.clone(),
            };
            if !citations.contains(&citation) {
                citations.push(citation);
            }
            if citations.len() == self.config.max_citations {
                break;
            }
        }
        citations
    }
}

/// Why an LLM answer may not be shown, if it may not.
fn check(
    text: &str,
    guard: &LeakGuard,
    context: &[Hit],
    coverage: &Coverage,
    grounded: bool,
) -> Result<(), &'static str> {
    if let Some(leak) = guard.find(text) {
        tracing::warn!(?leak, "an answer repeated the system prompt");
        return Err("system_prompt_leak");
    }
    if !grounded {
        // Nothing retrieved covers the question: whatever the model says, it did not
        // read it in the dealer's files.
        tracing::debug!(missing = ?coverage.missing, "answer without grounding refused");
        return Err("not_grounded");
    }
    // Titles and headings count as context: "Tiguan 2025" names the year.
    let context_texts: Vec<String> = context
        .iter()
        .map(|hit| {
            format!(
                "{}\n{}\n{}",
                hit.title,
                hit.section.as_deref().unwrap_or_default(),
                hit.text
            )
        })
        .collect();
    let context_refs: Vec<&str> = context_texts.iter().map(String::as_str).collect();
    let unsupported = grounding::unsupported_figures(text, &context_refs);
    if !unsupported.is_empty() {
        let figures: Vec<&str> = unsupported.iter().map(|f| f.text.as_str()).collect();
        tracing::warn!(?figures, "figures in an answer are not in the passages");
        return Err("unsupported_figure");
    }
    Ok(())
}

/// "lun 23 nov 2026": the date the model should take as today.
fn today_label(today: jiff::civil::Date, language: Language) -> String {
    // Labelled against a week earlier, so it is the dated form, not "hoy".
    let reference = today
        .checked_sub(jiff::Span::new().days(7))
        .unwrap_or(today);
    format!(
        "{} {}",
        crate::booking::availability::day_label(today, reference, language),
        today.year()
    )
}

fn record(outcome: &'static str) {
    metrics::counter!("showroom_assistant_answers_total", "outcome" => outcome).increment(1);
}

/// Forwards streamed pieces to the channel while they pass the leak guard.
struct Relay<'w> {
    stream: Option<&'w mut StreamWriter>,
    so_far: String,
    cut: bool,
}

impl Relay<'_> {
    fn forward(&mut self, piece: &str, guard: &LeakGuard) {
        self.so_far.push_str(piece);
        if self.cut {
            return;
        }
        if guard.leaks(&self.so_far) {
            self.cut = true;
            discard(self.stream.as_deref_mut());
            return;
        }
        if let Some(writer) = self.stream.as_deref_mut() {
            writer.write(piece);
        }
    }
}

fn discard(stream: Option<&mut StreamWriter>) {
    if let Some(writer) = stream {
        writer.discard();
    }
}

/// The honest answer when the knowledge does not say.
pub fn no_data(language: Language) -> Answer {
    let text = match language {
        Language::Es => {
            "No tengo ese dato en la información del concesionario, y prefiero no adivinar. ¿Quieres que un asesor te contacte para confirmarlo? También puedo agendarte una prueba de manejo."
        }
        Language::En => {
            "I don't have that information in the dealership's files, and I'd rather not guess. Would you like an advisor to contact you to confirm it? I can also book you a test drive."
        }
    };
    Answer {
        text: text.to_owned(),
        citations: Vec::new(),
        kind: AnswerKind::NoData,
        language,
    }
}

fn tool_spec(flow: &FlowTool) -> ToolSpec {
    let properties: Map<String, Json> = flow
        .params
        .iter()
        .map(|param| {
            (
                param.clone(),
                json!({
                    "type": "string",
                    "description": param_description(param),
                }),
            )
        })
        .collect();
    ToolSpec {
        name: format!("{TOOL_PREFIX}{}", flow.id),
        description: flow.description.clone(),
        parameters: json!({
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
        }),
    }
}

fn param_description(param: &str) -> &'static str {
    match param {
        "model" => "The car model the customer named, as they wrote it (e.g. \"Tiguan\").",
        "branch" => "The branch (sede) the customer named, as they wrote it.",
        "day" => "The day the customer asked for, as they said it (e.g. \"el sábado\", \"15/12\").",
        "plate" => "The car's licence plate, if the customer gave it.",
        "service_type" => "The kind of service asked for (maintenance, brakes, warranty…).",
        _ => "A value the customer already gave, as they wrote it.",
    }
}

/// Whether a message asks something rather than asks for something: "¿qué necesito para
/// la prueba de manejo?" is answered, "quiero una prueba de manejo" starts the flow.
pub fn is_question(text: &str) -> bool {
    let text = text.trim();
    if text.starts_with('¿') || text.ends_with('?') {
        return true;
    }
    let folded = crate::engine::fold(text);
    const OPENERS: &[&str] = &[
        "que ", "cual ", "cuales ", "cuanto ", "cuanta ", "cuantos ", "cuantas ", "como ",
        "donde ", "cuando ", "por que ", "tiene ", "trae ", "viene ", "what ", "which ", "how ",
        "where ", "when ", "why ", "does ", "do ", "is ", "are ", "can ",
    ];
    OPENERS.iter().any(|opener| folded.starts_with(opener))
}

/// Citation markers `[n]` in order of appearance.
fn markers(text: &str) -> Vec<usize> {
    static MARKER: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"\[(\d{1,2})\]").expect("valid regex"));
    MARKER
        .captures_iter(text)
        .filter_map(|c| c.get(1)?.as_str().parse().ok())
        .collect()
}

/// The text without `[n]` markers: the sources are listed under the answer.
fn strip_markers(text: &str) -> String {
    static MARKER: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"\s?\[\d{1,2}\]").expect("valid regex"));
    MARKER.replace_all(text, "").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_told_from_requests() {
        assert!(is_question("¿qué necesito para la prueba de manejo?"));
        assert!(is_question("cuanto rinde la tiguan en carretera"));
        assert!(is_question("how much does it weigh"));
        assert!(!is_question("quiero una prueba de manejo"));
        assert!(!is_question("prueba de manejo del tiguan mañana"));
    }

    #[test]
    fn markers_are_read_and_stripped() {
        let text = "El Tiguan rinde 17,2 km/l en carretera [2] y tiene 150 hp [1][2].";
        assert_eq!(markers(text), vec![2, 1, 2]);
        assert_eq!(
            strip_markers(text),
            "El Tiguan rinde 17,2 km/l en carretera y tiene 150 hp."
        );
    }

    #[test]
    fn flows_become_tools_with_their_params() {
        let tool = tool_spec(&FlowTool {
            id: "test_drive".into(),
            description: "Book a test drive".into(),
            params: vec!["model".into(), "branch".into(), "day".into()],
        });
        assert_eq!(tool.name, "start_test_drive");
        let properties = tool.parameters["properties"]
            .as_object()
            .expect("properties");
        assert_eq!(properties.len(), 3);
        assert_eq!(properties["day"]["type"], "string");
    }

    #[test]
    fn no_data_offers_an_advisor_in_both_languages() {
        assert!(no_data(Language::Es).text.contains("No tengo ese dato"));
        assert!(no_data(Language::Es).text.contains("asesor"));
        assert!(no_data(Language::En).text.contains("advisor"));
    }
}
