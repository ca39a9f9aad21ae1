//! Free text outside a flow. A trigger phrase starts its flow with whatever the message
//! already says ("prueba de manejo del Tiguan mañana" skips the model and day
//! questions); anything else goes to the assistant, which answers from the knowledge
//! base or starts a flow itself. A question that happens to contain a trigger phrase
//! ("¿qué necesito para la prueba de manejo?") is answered, not booked.

use std::sync::Arc;

use serde_json::Map;

use super::model::{Flow, FlowSet};
use super::runner::{FLOW_PREFIX, FlowRouter, FlowState};
use crate::assistant::budget::Exchange;
use crate::assistant::{Answer, AnswerKind, Assistant, FlowTool, Question, Response};
use crate::engine::{Button, MENU_PAYLOAD, Reply, RouteError, Turn, fold};

/// Longest answer kept in the history (characters); follow-ups need the gist.
const HISTORY_ANSWER_CHARS: usize = 1_200;

impl FlowRouter {
    /// Lets free text reach the assistant.
    pub fn with_assistant(mut self, assistant: Arc<Assistant>) -> Self {
        self.assistant = Some(assistant);
        self
    }

    /// Text typed outside any flow.
    pub(super) async fn free_text(
        &self,
        set: &FlowSet,
        state: &mut FlowState,
        turn: &mut Turn<'_>,
        text: &str,
    ) -> Result<(), RouteError> {
        let language = turn.language;
        if is_small_talk(&fold(text)) {
            // "hola", "gracias": the menu, not a search of the spec sheets. Right after
            // the greeting (a first "hola" opens the conversation) nothing more is said.
            if turn.replies.is_empty() && !state.greeted {
                turn.reply(self.greeting(set, language));
            }
            return Ok(());
        }
        let trigger = set.flow_for_text(&fold(text)).cloned();
        let Some(assistant) = self.assistant.clone() else {
            return match trigger {
                Some(flow) => self.start(set, state, turn, &flow, Map::new()).await,
                None => {
                    let fallback = self.settings.fallback.get(language).to_owned();
                    turn.reply(self.menu_reply(set, fallback, language));
                    Ok(())
                }
            };
        };
        let now = self.settings.clock.now();
        if let Some(flow) = trigger
            && !(crate::assistant::is_question(text)
                && assistant.intents().detect(text, &now).is_none())
        {
            let values = assistant.intents().values_for(&flow.params, text, &now);
            return self.start_noted(set, state, turn, &flow, values).await;
        }
        self.ask(&assistant, set, state, turn, text, now).await
    }

    async fn ask(
        &self,
        assistant: &Assistant,
        set: &FlowSet,
        state: &mut FlowState,
        turn: &mut Turn<'_>,
        text: &str,
        now: jiff::Zoned,
    ) -> Result<(), RouteError> {
        let flows = flow_tools(set);
        let question = Question {
            text,
            language: turn.language,
            history: &state.history,
            now,
            flows: &flows,
        };
        let mut writer = turn.stream.map(|stream| stream.start());
        let response = assistant.respond(&question, writer.as_mut()).await;
        match response {
            Response::StartFlow { intent, language } => {
                turn.language = language;
                match set.flow(&intent.flow).cloned() {
                    Some(flow) => {
                        self.start_noted(set, state, turn, &flow, intent.values)
                            .await
                    }
                    None => {
                        let fallback = self.settings.fallback.get(language).to_owned();
                        turn.reply(self.menu_reply(set, fallback, language));
                        Ok(())
                    }
                }
            }
            Response::Answer(answer) => {
                turn.language = answer.language;
                self.remember(assistant, state, text, &answer);
                let mut reply = self.answer_reply(set, answer);
                reply.stream_id = writer
                    .filter(|w| w.has_written())
                    .map(|w| w.id().to_owned());
                turn.reply(reply);
                Ok(())
            }
        }
    }

    /// A question typed where the current step expected an answer: the assistant's
    /// answer when the knowledge has one, without its buttons (the step is asked again
    /// right after). `None` for anything else, which stays a wrong answer.
    pub(super) async fn side_question(
        &self,
        state: &mut FlowState,
        turn: &mut Turn<'_>,
        text: &str,
    ) -> Option<Reply> {
        let assistant = self.assistant.clone()?;
        if !crate::assistant::is_question(text) {
            return None;
        }
        let question = Question {
            text,
            language: turn.language,
            history: &state.history,
            now: self.settings.clock.now(),
            // No flow starts from inside another.
            flows: &[],
        };
        let mut writer = turn.stream.map(|stream| stream.start());
        let Response::Answer(answer) = assistant.respond(&question, writer.as_mut()).await else {
            return None;
        };
        if answer.kind == AnswerKind::NoData {
            if let Some(writer) = writer.as_mut() {
                writer.discard();
            }
            return None;
        }
        self.remember(&assistant, state, text, &answer);
        let mut reply = Reply::text(answer.text).with_citations(answer.citations);
        reply.stream_id = writer
            .filter(|w| w.has_written())
            .map(|w| w.id().to_owned());
        Some(reply)
    }

    fn remember(&self, assistant: &Assistant, state: &mut FlowState, text: &str, answer: &Answer) {
        state.history.push(Exchange {
            question: text.to_owned(),
            answer: answer.text.chars().take(HISTORY_ANSWER_CHARS).collect(),
        });
        let keep = assistant.config().history_turns;
        if state.history.len() > keep {
            state.history.drain(..state.history.len() - keep);
        }
    }

    /// Starts a flow with values taken from the customer's words, and says what was
    /// understood, so a skipped question is no surprise.
    async fn start_noted(
        &self,
        set: &FlowSet,
        state: &mut FlowState,
        turn: &mut Turn<'_>,
        flow: &Arc<Flow>,
        values: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), RouteError> {
        let at = turn.replies.len();
        let given: Vec<String> = values.keys().cloned().collect();
        self.start(set, state, turn, flow, values).await?;
        let understood = understood(state, &flow.id, &given);
        if !understood.is_empty() {
            let text = Self::t(
                turn.language,
                &format!("Perfecto, ya anoté: {}.", understood.join(" · ")),
                &format!("Great, noted: {}.", understood.join(" · ")),
            );
            turn.replies.insert(at, Reply::text(text));
        }
        Ok(())
    }

    /// The answer with its sources and what the customer can do next: an advisor (first
    /// when the knowledge had no answer), a test drive, the menu.
    fn answer_reply(&self, set: &FlowSet, answer: Answer) -> Reply {
        let language = answer.language;
        let advisor = self
            .settings
            .advisor_flow
            .as_deref()
            .and_then(|id| set.flow(id))
            .map(|flow| {
                let title = match answer.kind {
                    AnswerKind::NoData => Self::t(
                        language,
                        "Sí, hablar con un asesor",
                        "Yes, talk to an advisor",
                    ),
                    _ => flow.title.get(language).to_owned(),
                };
                Button::new(title, format!("{FLOW_PREFIX}{}", flow.id))
            });
        let test_drive = set.flow("test_drive").map(|flow| {
            Button::new(
                flow.title.get(language),
                format!("{FLOW_PREFIX}{}", flow.id),
            )
        });
        let menu = Button::new(Self::t(language, "Menú", "Menu"), MENU_PAYLOAD);
        let buttons = advisor
            .into_iter()
            .chain(test_drive)
            .chain([menu])
            .collect();
        Reply::text(answer.text)
            .with_citations(answer.citations)
            .with_buttons(buttons)
    }
}

/// The display values of `given` that the flow `flow` accepted, in the order given.
fn understood(state: &FlowState, flow: &str, given: &[String]) -> Vec<String> {
    let Some(frame) = state.stack.iter().find(|frame| frame.flow == flow) else {
        return Vec::new();
    };
    given
        .iter()
        .filter(|name| !name.ends_with("_display"))
        .filter_map(|name| frame.vars.get(&format!("{name}_display"))?.as_str())
        .map(str::to_owned)
        .collect()
}

/// Menu flows, offered to the LLM as tools that start them.
pub fn flow_tools(set: &FlowSet) -> Vec<FlowTool> {
    set.menu().map(|flow| flow_tool(flow)).collect()
}

fn flow_tool(flow: &Flow) -> FlowTool {
    let filled = if flow.params.is_empty() {
        String::new()
    } else {
        format!(
            " Pass what the customer already said for: {}.",
            flow.params.join(", ")
        )
    };
    FlowTool {
        id: flow.id.clone(),
        description: format!(
            "Start the \"{}\" conversation ({}) when the customer asks for it, not when they only ask a question about it.{filled}",
            flow.title.en, flow.title.es
        ),
        params: flow.params.clone(),
    }
}

/// Greetings and thanks with nothing else in them.
fn is_small_talk(folded: &str) -> bool {
    const PHRASES: &[&str] = &[
        "hola",
        "holi",
        "buenas",
        "buen dia",
        "buenos dias",
        "buenas tardes",
        "buenas noches",
        "hey",
        "hi",
        "hello",
        "good morning",
        "good afternoon",
        "good evening",
        "gracias",
        "muchas gracias",
        "mil gracias",
        "thanks",
        "thank you",
        "ok",
        "okay",
        "vale",
        "listo",
        "saludos",
    ];
    let words: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let text = words.join(" ");
    PHRASES.contains(&text.as_str())
        || PHRASES.iter().any(|p| {
            text.strip_prefix(p).is_some_and(|rest| {
                matches!(rest.trim(), "" | "como estas" | "que tal" | "how are you")
            })
        })
}

#[cfg(test)]
mod small_talk_tests {
    use super::is_small_talk;

    #[test]
    fn greetings_and_thanks_are_small_talk_and_requests_are_not() {
        for text in [
            "hola",
            "hola!",
            "buenas tardes",
            "hola como estas",
            "gracias",
            "hi",
        ] {
            assert!(is_small_talk(text), "{text}");
        }
        for text in [
            "hola quiero una prueba de manejo",
            "precio tiguan",
            "ok y el baul",
            "",
        ] {
            assert!(!is_small_talk(text), "{text}");
        }
    }
}
