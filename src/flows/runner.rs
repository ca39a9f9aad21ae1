//! Runs flows as the engine's `Router`. A conversation waits only at questions; every
//! other step runs at once. The position is stored by step *key* (not index), so a
//! conversation survives a reload of edited flows, and one whose question was removed
//! is told so and returned to the menu.
//!
//! Escape words (menú, cancelar, asesor, atrás, English/español) work the same at every
//! step; after `max_attempts` wrong answers in a row the bot offers an advisor instead
//! of asking forever.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::actions::{ActionCall, Actions};
use super::input::{self, InputContext, InputKind, Lang, PlateCountry};
use super::matching::{Escape, escape, match_choice};
use super::model::{Ask, Choice, Expect, Flow, FlowSet, StepKind, Value};
use super::reload::FlowRegistry;
use super::sources::{Interpretation, SourceContext, Sources};
use crate::config::Localized;
use crate::engine::{
    Button, Input, Language, MENU_PAYLOAD, MenuRouter, Reply, RouteError, Router, Turn,
};

pub(super) const FLOW_PREFIX: &str = "flow:";
const ANSWER_PREFIX: &str = "answer:";
const ADVISOR_YES: &str = "advisor:yes";
const ADVISOR_NO: &str = "advisor:no";
/// The buttons of an outreach message: `offer:<id>` starts the offered flow with its
/// values, `offer:no` declines.
const OFFER_PREFIX: &str = "offer:";
const OFFER_NO: &str = "offer:no";
/// A flow that runs this many steps without stopping at a question is looping.
const MAX_STEPS_PER_TURN: usize = 500;

/// "Now", for relative dates: the system clock, or a fixed moment in flow tests.
#[derive(Debug, Clone)]
pub enum Clock {
    System(jiff::tz::TimeZone),
    Fixed(jiff::Zoned),
}

impl Clock {
    pub fn now(&self) -> jiff::Zoned {
        match self {
            Self::System(tz) => jiff::Timestamp::now().to_zoned(tz.clone()),
            Self::Fixed(now) => now.clone(),
        }
    }
}

/// Settings the runner needs.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    pub bot_name: String,
    pub greeting: Localized,
    pub fallback: Localized,
    pub max_attempts: u32,
    pub advisor_flow: Option<String>,
    pub clock: Clock,
    pub phone_region: phonenumber::country::Id,
    pub plate_country: PlateCountry,
}

/// Flows offered to a customer from outside the conversation (an outreach message's
/// "Agendar" button), with the values to start them with.
#[async_trait]
pub trait Offers: Send + Sync {
    /// The flow id and values of offer `id`; `None` when there is no such offer.
    async fn offer(&self, id: &str) -> Result<Option<(String, Map<String, Json>)>, RouteError>;
}

pub struct FlowRouter {
    offers: Option<Arc<dyn Offers>>,
    /// Answers free text no flow claims; without it, the fallback text and the menu.
    pub(super) assistant: Option<Arc<crate::assistant::Assistant>>,
    registry: Arc<FlowRegistry>,
    fallback: MenuRouter,
    actions: Arc<dyn Actions>,
    sources: Arc<dyn Sources>,
    pub(super) settings: RunnerSettings,
}

/// Where a conversation is in its flows, stored in the session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowState {
    /// Running flows; the last one is current. Lower frames wait at their `call` step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stack: Vec<Frame>,
    /// Wrong answers in a row to the current question.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// We offered an advisor after repeated wrong answers and wait for yes/no.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub advisor_offered: bool,
    /// The assistant's recent questions and answers, oldest first, for follow-ups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<crate::assistant::budget::Exchange>,
    /// The last turn was the conversation's greeting: a "hola" right after it needs no
    /// second one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub greeted: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    pub flow: String,
    /// Key of the step this frame waits at (a question, or the `call` of a sub-flow).
    pub at: String,
    #[serde(default)]
    pub vars: Map<String, Json>,
    /// Keys of the questions answered so far, for "atrás".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answered: Vec<String>,
}

/// What `advance` ended with.
enum Stop {
    /// Waiting at a question.
    Asked,
    /// The outermost flow finished.
    Finished,
}

impl FlowRouter {
    pub fn new(
        registry: Arc<FlowRegistry>,
        fallback: MenuRouter,
        actions: Arc<dyn Actions>,
        sources: Arc<dyn Sources>,
        settings: RunnerSettings,
    ) -> Self {
        Self {
            offers: None,
            assistant: None,
            registry,
            fallback,
            actions,
            sources,
            settings,
        }
    }

    /// Lets outreach buttons (`offer:<id>`) start the flows they offer.
    pub fn with_offers(mut self, offers: Arc<dyn Offers>) -> Self {
        self.offers = Some(offers);
        self
    }

    /// An outreach button: start what it offers, or say it's fine to decline.
    async fn offer(
        &self,
        set: &FlowSet,
        state: &mut FlowState,
        turn: &mut Turn<'_>,
        payload: &str,
    ) -> Result<(), RouteError> {
        let language = turn.language;
        if payload == OFFER_NO {
            let text = Self::t(
                language,
                "¡Entendido! Cuando quieras, aquí estamos. ¿Te ayudo con algo más?",
                "Understood! We're here whenever you need us. Anything else I can help with?",
            );
            turn.reply(self.menu_reply(set, text, language));
            return Ok(());
        }
        let id = payload.trim_start_matches(OFFER_PREFIX);
        let offered = match &self.offers {
            Some(offers) => offers.offer(id).await?,
            None => None,
        };
        match offered.and_then(|(flow, values)| set.flow(&flow).cloned().map(|f| (f, values))) {
            Some((flow, values)) => self.start(set, state, turn, &flow, values).await,
            None => {
                let text = Self::t(
                    language,
                    "Esa oferta ya no está disponible. ¿En qué te puedo ayudar?",
                    "That offer is no longer available. How can I help you?",
                );
                turn.reply(self.menu_reply(set, text, language));
                Ok(())
            }
        }
    }

    pub(super) fn t(language: Language, es: &str, en: &str) -> String {
        match language {
            Language::Es => es.to_owned(),
            Language::En => en.to_owned(),
        }
    }

    fn menu_buttons(&self, set: &FlowSet, language: Language) -> Vec<Button> {
        set.menu()
            .map(|flow| {
                Button::new(
                    flow.title.get(language),
                    format!("{FLOW_PREFIX}{}", flow.id),
                )
            })
            .collect()
    }

    pub(super) fn menu_reply(&self, set: &FlowSet, text: String, language: Language) -> Reply {
        Reply::text(text).with_buttons(self.menu_buttons(set, language))
    }

    pub(super) fn greeting(&self, set: &FlowSet, language: Language) -> Reply {
        let text = self.settings.greeting.get(language).to_owned();
        self.menu_reply(set, text, language)
    }

    fn anything_else(&self, set: &FlowSet, language: Language) -> Reply {
        self.menu_reply(
            set,
            Self::t(
                language,
                "¿En qué más te puedo ayudar?",
                "What else can I help you with?",
            ),
            language,
        )
    }

    fn context(&self, vars: &Map<String, Json>, language: Language) -> Json {
        let mut context = vars.clone();
        context.insert("bot".into(), Json::String(self.settings.bot_name.clone()));
        context.insert("lang".into(), Json::String(language.as_str().into()));
        Json::Object(context)
    }

    fn render(
        &self,
        set: &FlowSet,
        template: &str,
        vars: &Map<String, Json>,
        language: Language,
    ) -> Result<String, RouteError> {
        set.templates()
            .render(template, &self.context(vars, language))
            .map(|text| text.trim().to_owned())
            .map_err(|err| RouteError(Box::new(err)))
    }

    fn render_values(
        &self,
        set: &FlowSet,
        values: &[(String, Value)],
        vars: &Map<String, Json>,
        language: Language,
    ) -> Result<Map<String, Json>, RouteError> {
        let mut out = Map::new();
        for (key, value) in values {
            let value = match value {
                Value::Literal(json) => json.clone(),
                Value::Template(template) => {
                    Json::String(self.render(set, template, vars, language)?)
                }
            };
            out.insert(key.clone(), value);
        }
        Ok(out)
    }

    /// The options of a question.
    async fn choices(
        &self,
        ask: &Ask,
        vars: &Map<String, Json>,
        language: Language,
        customer_id: &str,
    ) -> Result<Vec<Choice>, RouteError> {
        match &ask.expect {
            Expect::Buttons(choices) => Ok(choices.clone()),
            Expect::Source(name) => {
                let now = self.settings.clock.now();
                let ctx = SourceContext {
                    vars,
                    language,
                    customer_id,
                    now: &now,
                };
                self.sources
                    .options(name, &ctx)
                    .await
                    .map_err(|err| RouteError(Box::new(err)))
            }
            Expect::Input(_) => Ok(Vec::new()),
        }
    }

    /// The option a pressed button stands for, if it can still be chosen.
    async fn offered(
        &self,
        ask: &Ask,
        value: &str,
        vars: &Map<String, Json>,
        language: Language,
        customer_id: &str,
    ) -> Result<Option<Choice>, RouteError> {
        match &ask.expect {
            Expect::Buttons(choices) => Ok(choices.iter().find(|c| c.value == value).cloned()),
            Expect::Source(name) => {
                let now = self.settings.clock.now();
                let ctx = SourceContext {
                    vars,
                    language,
                    customer_id,
                    now: &now,
                };
                self.sources
                    .offered(name, value, &ctx)
                    .await
                    .map_err(|err| RouteError(Box::new(err)))
            }
            Expect::Input(_) => Ok(None),
        }
    }

    async fn question(
        &self,
        set: &FlowSet,
        ask: &Ask,
        vars: &Map<String, Json>,
        language: Language,
        customer_id: &str,
    ) -> Result<Reply, RouteError> {
        let text = self.render(set, ask.question.template(language), vars, language)?;
        let choices = self.choices(ask, vars, language, customer_id).await?;
        let buttons = choices
            .iter()
            .map(|c| Button::new(c.title.get(language), format!("{ANSWER_PREFIX}{}", c.value)))
            .collect();
        let reply = Reply::text(text).with_buttons(buttons);
        Ok(match ask.expect {
            Expect::Input(InputKind::Phone) => reply.asking_contact(),
            _ => reply,
        })
    }

    /// Starts `flow` on top of a cleared stack with pre-filled values.
    pub(super) async fn start(
        &self,
        set: &FlowSet,
        state: &mut FlowState,
        turn: &mut Turn<'_>,
        flow: &Arc<Flow>,
        vars: Map<String, Json>,
    ) -> Result<(), RouteError> {
        state.stack.clear();
        state.attempts = 0;
        state.advisor_offered = false;
        let vars = self.as_answers(flow, vars, turn).await?;
        state.stack.push(Frame {
            flow: flow.id.clone(),
            at: String::new(),
            vars: with_display_values(vars),
            answered: Vec::new(),
        });
        self.advance(set, state, turn, 0).await
    }

    /// Values handed to a flow from outside (the assistant, an outreach offer) are
    /// treated like answers to the flow's questions: a plate "abc123" is stored as
    /// "ABC123" and shown as "ABC-123", a model id `tiguan` is shown as "Tiguan". A value
    /// its question would not accept is dropped, so the question is asked instead.
    async fn as_answers(
        &self,
        flow: &Flow,
        mut vars: Map<String, Json>,
        turn: &Turn<'_>,
    ) -> Result<Map<String, Json>, RouteError> {
        for step in &flow.steps {
            let StepKind::Ask(ask) = &step.kind else {
                continue;
            };
            let display_key = format!("{}_display", ask.save);
            let Some(value) = vars.get(&ask.save).cloned() else {
                continue;
            };
            if vars.contains_key(&display_key) {
                continue;
            }
            let text = match &value {
                Json::String(text) => text.clone(),
                other => other.to_string(),
            };
            let answer = match &ask.expect {
                Expect::Input(kind) => self.parse_input(*kind, &text, turn.language).ok(),
                // An option list that cannot be built for these values (a day without
                // its branch, a branch without that model's demo car) drops the value:
                // the question is asked instead.
                Expect::Buttons(_) | Expect::Source(_) => self
                    .choices(ask, &vars, turn.language, turn.customer_id)
                    .await
                    .ok()
                    .and_then(|choices| {
                        choices
                            .iter()
                            .find(|c| c.value == text)
                            .map(|c| (Json::String(c.value.clone()), c.display(turn.language)))
                    }),
            };
            match answer {
                Some((value, display)) => {
                    vars.insert(ask.save.clone(), value);
                    vars.insert(display_key, Json::String(display));
                }
                None => {
                    vars.remove(&ask.save);
                }
            }
        }
        Ok(vars)
    }

    /// Runs steps of the top frame from `index` until a question or the end.
    async fn advance(
        &self,
        set: &FlowSet,
        state: &mut FlowState,
        turn: &mut Turn<'_>,
        index: usize,
    ) -> Result<(), RouteError> {
        match self.run_steps(set, state, turn, index).await? {
            Stop::Asked => Ok(()),
            Stop::Finished => {
                state.stack.clear();
                let language = turn.language;
                match turn.replies.last_mut() {
                    Some(last) if last.buttons.is_empty() => {
                        last.buttons = self.menu_buttons(set, language)
                    }
                    _ => turn.reply(self.anything_else(set, language)),
                }
                Ok(())
            }
        }
    }

    async fn run_steps(
        &self,
        set: &FlowSet,
        state: &mut FlowState,
        turn: &mut Turn<'_>,
        mut index: usize,
    ) -> Result<Stop, RouteError> {
        let language = turn.language;
        for _ in 0..MAX_STEPS_PER_TURN {
            let Some(frame) = state.stack.last_mut() else {
                return Ok(Stop::Finished);
            };
            let Some(flow) = set.flow(&frame.flow).cloned() else {
                return Ok(self.lost_place(set, state, turn));
            };
            let Some(step) = flow.steps.get(index) else {
                // Running off the end of a flow is the same as `end: true`.
                if self.return_from_call(set, state, &mut index) {
                    continue;
                }
                return Ok(Stop::Finished);
            };
            if let Some(condition) = &step.condition {
                let holds = set
                    .templates()
                    .holds(condition, &self.context(&frame.vars, language))
                    .map_err(|err| RouteError(Box::new(err)))?;
                if !holds {
                    index += 1;
                    continue;
                }
            }
            match &step.kind {
                StepKind::Say(text) => {
                    let text = self.render(set, text.template(language), &frame.vars, language)?;
                    if !text.is_empty() {
                        turn.reply(Reply::text(text));
                    }
                    index += 1;
                }
                StepKind::Ask(ask) => {
                    if let Some(value) = frame.vars.get(&ask.save) {
                        // Pre-filled by the caller or answered before: don't ask again.
                        turn.notes.value(&ask.save, value);
                        index += 1;
                        continue;
                    }
                    frame.at = step.key.clone();
                    let reply = self
                        .question(set, ask, &frame.vars, language, turn.customer_id)
                        .await?;
                    turn.reply(reply);
                    return Ok(Stop::Asked);
                }
                StepKind::Set(values) => {
                    let values = self.render_values(set, values, &frame.vars, language)?;
                    turn.notes.values(&values);
                    frame.vars.extend(values);
                    index += 1;
                }
                StepKind::Goto(target) => {
                    if *target <= index {
                        // Going back means "ask again": forget the answers to the
                        // questions between the target and here, or they would be
                        // skipped as already answered.
                        for step in &flow.steps[*target..=index] {
                            if let StepKind::Ask(ask) = &step.kind {
                                frame.vars.remove(&ask.save);
                                frame.vars.remove(&format!("{}_display", ask.save));
                                frame.answered.retain(|key| key != &step.key);
                            }
                        }
                    }
                    index = *target;
                }
                StepKind::Flow(target) => {
                    // The new flow keeps what the customer already told us: its
                    // questions for those values are skipped.
                    frame.flow = target.clone();
                    frame.answered.clear();
                    index = 0;
                }
                StepKind::Call { flow: target, with } => {
                    // The callee gets its `with:` values, and whatever of its `params`
                    // the caller already knows: calling `contact` again after a `goto`
                    // doesn't ask the name twice.
                    let mut vars = Map::new();
                    if let Some(callee) = set.flow(target) {
                        for param in &callee.params {
                            for key in [param.clone(), format!("{param}_display")] {
                                if let Some(value) = frame.vars.get(&key) {
                                    vars.insert(key, value.clone());
                                }
                            }
                        }
                    }
                    vars.extend(self.render_values(set, with, &frame.vars, language)?);
                    frame.at = step.key.clone();
                    state.stack.push(Frame {
                        flow: target.clone(),
                        at: String::new(),
                        vars: with_display_values(vars),
                        answered: Vec::new(),
                    });
                    index = 0;
                }
                StepKind::Action { name, with } => {
                    let args = self.render_values(set, with, &frame.vars, language)?;
                    let outcome = self
                        .actions
                        .run(ActionCall {
                            name,
                            args: args.clone(),
                            customer_id: turn.customer_id,
                            conversation_id: turn.conversation_id,
                            channel: turn.channel,
                            language,
                        })
                        .await
                        .map_err(|err| RouteError(Box::new(err)))?;
                    turn.notes.action(name, &args, &outcome.values);
                    frame.vars.extend(outcome.values);
                    turn.replies.extend(outcome.replies);
                    index += 1;
                }
                StepKind::End => {
                    if self.return_from_call(set, state, &mut index) {
                        continue;
                    }
                    return Ok(Stop::Finished);
                }
            }
        }
        Err(RouteError(format!("a flow ran {MAX_STEPS_PER_TURN} steps without asking anything; check its `goto` steps for a loop").into()))
    }

    /// Pops a finished sub-flow and continues its caller after the `call` step, with the
    /// values the sub-flow collected. False when the outermost flow finished.
    fn return_from_call(&self, set: &FlowSet, state: &mut FlowState, index: &mut usize) -> bool {
        if state.stack.len() < 2 {
            return false;
        }
        let Some(finished) = state.stack.pop() else {
            return false;
        };
        let Some(parent) = state.stack.last_mut() else {
            return false;
        };
        parent.vars.extend(finished.vars);
        match set
            .flow(&parent.flow)
            .and_then(|flow| flow.position(&parent.at))
        {
            Some(position) => {
                *index = position + 1;
                true
            }
            None => {
                // The caller's step was removed by a reload: finish cleanly.
                state.stack.clear();
                false
            }
        }
    }

    /// The conversation's place no longer exists (flows were edited): say so, go to menu.
    fn lost_place(&self, set: &FlowSet, state: &mut FlowState, turn: &mut Turn<'_>) -> Stop {
        state.stack.clear();
        state.attempts = 0;
        let language = turn.language;
        turn.reply(self.menu_reply(
            set,
            Self::t(
                language,
                "Actualizamos nuestras opciones y el paso en el que ibas ya no existe. Empecemos de nuevo desde el menú:",
                "We updated our options and the step you were on no longer exists. Let's start again from the menu:",
            ),
            language,
        ));
        Stop::Asked
    }

    /// The question the conversation waits at, if it still exists.
    fn waiting_question(&self, set: &FlowSet, state: &FlowState) -> Option<(Arc<Flow>, usize)> {
        let frame = state.stack.last()?;
        let flow = set.flow(&frame.flow)?.clone();
        let index = flow.position(&frame.at)?;
        matches!(flow.steps[index].kind, StepKind::Ask(_)).then_some((flow, index))
    }

    /// Repeats the current question (after "atrás", a language switch, a resume).
    async fn ask_again(
        &self,
        set: &FlowSet,
        state: &mut FlowState,
        turn: &mut Turn<'_>,
    ) -> Result<(), RouteError> {
        match self.waiting_question(set, state) {
            Some((flow, index)) => {
                if let StepKind::Ask(ask) = &flow.steps[index].kind {
                    let vars = state
                        .stack
                        .last()
                        .map(|f| f.vars.clone())
                        .unwrap_or_default();
                    let reply = self
                        .question(set, ask, &vars, turn.language, turn.customer_id)
                        .await?;
                    turn.reply(reply);
                }
                Ok(())
            }
            None if state.stack.is_empty() => {
                turn.reply(self.anything_else(set, turn.language));
                Ok(())
            }
            None => {
                self.lost_place(set, state, turn);
                Ok(())
            }
        }
    }

    async fn escape(
        &self,
        set: &FlowSet,
        state: &mut FlowState,
        turn: &mut Turn<'_>,
        escape: Escape,
    ) -> Result<bool, RouteError> {
        let language = turn.language;
        match escape {
            Escape::Menu => {
                state.stack.clear();
                state.attempts = 0;
                turn.reply(self.anything_else(set, language));
            }
            Escape::Cancel => {
                let was_in_flow = !state.stack.is_empty();
                state.stack.clear();
                state.attempts = 0;
                let text = if was_in_flow {
                    Self::t(
                        language,
                        "Listo, lo cancelé. ¿En qué más te puedo ayudar?",
                        "Done, I cancelled that. What else can I help you with?",
                    )
                } else {
                    Self::t(
                        language,
                        "No hay nada en curso. ¿En qué te puedo ayudar?",
                        "There is nothing in progress. How can I help you?",
                    )
                };
                turn.reply(self.menu_reply(set, text, language));
            }
            Escape::Back => {
                let Some((flow, _)) = self.waiting_question(set, state) else {
                    return Ok(false);
                };
                let Some(frame) = state.stack.last_mut() else {
                    return Ok(false);
                };
                match frame.answered.pop() {
                    Some(previous) => {
                        if let Some(StepKind::Ask(ask)) =
                            flow.position(&previous).map(|i| &flow.steps[i].kind)
                        {
                            frame.vars.remove(&ask.save);
                            frame.vars.remove(&format!("{}_display", ask.save));
                        }
                        frame.at = previous;
                        state.attempts = 0;
                    }
                    None => turn.reply(Reply::text(Self::t(
                        language,
                        "Esta es la primera pregunta.",
                        "This is the first question.",
                    ))),
                }
                self.ask_again(set, state, turn).await?;
            }
            Escape::Language(new) => {
                turn.language = new;
                turn.reply(Reply::text(Self::t(
                    new,
                    "¡Claro! Seguimos en español.",
                    "Sure! Let's continue in English.",
                )));
                self.ask_again(set, state, turn).await?;
            }
            Escape::Advisor => {
                let Some(advisor) = self
                    .settings
                    .advisor_flow
                    .as_deref()
                    .and_then(|id| set.flow(id))
                    .cloned()
                else {
                    return Ok(false);
                };
                if state.stack.first().is_some_and(|f| f.flow == advisor.id) {
                    return Ok(false);
                }
                self.start(set, state, turn, &advisor, Map::new()).await?;
            }
        }
        Ok(true)
    }

    /// The customer answered the question the conversation waits at.
    async fn answer(
        &self,
        set: &FlowSet,
        state: &mut FlowState,
        turn: &mut Turn<'_>,
    ) -> Result<(), RouteError> {
        let Some((flow, index)) = self.waiting_question(set, state) else {
            self.lost_place(set, state, turn);
            return Ok(());
        };
        let StepKind::Ask(ask) = &flow.steps[index].kind else {
            return Ok(());
        };
        let language = turn.language;
        let accepted: Result<(Json, String), String> = match (&ask.expect, &turn.input) {
            (Expect::Input(kind), Input::Text(text)) => self.parse_input(*kind, text, language),
            (Expect::Input(InputKind::Phone), Input::Contact { phone }) => {
                self.parse_input(InputKind::Phone, phone, language)
            }
            (Expect::Input(_), _) => Err(Self::t(
                language,
                "Escríbeme la respuesta, por favor.",
                "Please type your answer.",
            )),
            (_, Input::Button { payload }) => {
                let empty = Map::new();
                let vars = state.stack.last().map(|f| &f.vars).unwrap_or(&empty);
                let chosen = match payload.strip_prefix(ANSWER_PREFIX) {
                    Some(value) => {
                        self.offered(ask, value, vars, language, turn.customer_id)
                            .await?
                    }
                    None => None,
                };
                chosen
                    .map(|c| (Json::String(c.value.clone()), c.display(language)))
                    .ok_or_else(|| {
                        Self::t(
                            language,
                            "Esa opción ya no está disponible.",
                            "That option is no longer available.",
                        )
                    })
            }
            (_, Input::Text(text)) => {
                let empty = Map::new();
                let vars = state.stack.last().map(|f| &f.vars).unwrap_or(&empty);
                let choices = self.choices(ask, vars, language, turn.customer_id).await?;
                match match_choice(text, &choices) {
                    Some(c) => Ok((Json::String(c.value.clone()), c.display(language))),
                    None => self
                        .interpret(ask, text, vars, language, turn.customer_id)
                        .await?
                        .unwrap_or_else(|| Err(Self::t(language, "No reconocí esa opción. Elige uno de los botones o escribe su número.", "I didn't recognise that option. Pick one of the buttons or type its number."))),
                }
            }
            _ => Err(Self::t(
                language,
                "Elige una de las opciones, por favor.",
                "Please pick one of the options.",
            )),
        };
        let Some(frame) = state.stack.last_mut() else {
            return Ok(());
        };
        match accepted {
            Ok((value, display)) => {
                turn.notes.value(&ask.save, &value);
                frame.vars.insert(ask.save.clone(), value);
                frame
                    .vars
                    .insert(format!("{}_display", ask.save), Json::String(display));
                frame.answered.push(flow.steps[index].key.clone());
                state.attempts = 0;
                self.advance(set, state, turn, index + 1).await
            }
            Err(problem) => {
                let vars = frame.vars.clone();
                // "¿Y cuánto rinde?" while choosing a model: answer it, ask again, and
                // don't count it as a wrong answer.
                if let Input::Text(text) = turn.input.clone()
                    && let Some(answer) = self.side_question(state, turn, &text).await
                {
                    turn.reply(answer);
                    let reply = self
                        .question(set, ask, &vars, language, turn.customer_id)
                        .await?;
                    turn.reply(reply);
                    return Ok(());
                }
                state.attempts += 1;
                if state.attempts >= self.settings.max_attempts
                    && let Some(advisor) = self
                        .settings
                        .advisor_flow
                        .as_deref()
                        .and_then(|id| set.flow(id))
                    && state.stack.first().is_some_and(|f| f.flow != advisor.id)
                {
                    state.attempts = 0;
                    state.advisor_offered = true;
                    turn.reply(Reply::text(Self::t(
                        language,
                        "Parece que no logro entenderte. ¿Quieres que te atienda un asesor?",
                        "It seems I can't understand your answer. Would you like an advisor to help you?",
                    )).with_buttons(vec![
                        Button::new(Self::t(language, "Sí, un asesor", "Yes, an advisor"), ADVISOR_YES),
                        Button::new(Self::t(language, "Seguir intentando", "Keep trying"), ADVISOR_NO),
                    ]));
                    return Ok(());
                }
                let mut text = problem;
                if let Some(retry) = &ask.retry {
                    let extra = self.render(set, retry.template(language), &vars, language)?;
                    text = format!("{text} {extra}");
                }
                turn.reply(Reply::text(text));
                let reply = self
                    .question(set, ask, &vars, language, turn.customer_id)
                    .await?;
                turn.reply(reply);
                Ok(())
            }
        }
    }

    /// Typed text no button matched, offered to the question's list (a date typed at
    /// a day question). `None` when the list doesn't understand it either.
    async fn interpret(
        &self,
        ask: &Ask,
        text: &str,
        vars: &Map<String, Json>,
        language: Language,
        customer_id: &str,
    ) -> Result<Option<Result<(Json, String), String>>, RouteError> {
        let Expect::Source(name) = &ask.expect else {
            return Ok(None);
        };
        let now = self.settings.clock.now();
        let ctx = SourceContext {
            vars,
            language,
            customer_id,
            now: &now,
        };
        let interpretation = self
            .sources
            .interpret(name, text, &ctx)
            .await
            .map_err(|err| RouteError(Box::new(err)))?;
        Ok(interpretation.map(|i| match i {
            Interpretation::Chosen(c) => Ok((Json::String(c.value.clone()), c.display(language))),
            Interpretation::Refused(why) => Err(why),
        }))
    }

    fn parse_input(
        &self,
        kind: InputKind,
        text: &str,
        language: Language,
    ) -> Result<(Json, String), String> {
        let lang = match language {
            Language::Es => Lang::Es,
            Language::En => Lang::En,
        };
        let context = InputContext {
            now: self.settings.clock.now(),
            default_region: self.settings.phone_region,
            plate_country: self.settings.plate_country,
            language: lang,
        };
        input::parse(kind, text, &context)
            .map(|parsed| (parsed.value, parsed.display))
            .map_err(|invalid| invalid.message(lang).to_owned())
    }

    /// Input outside any flow: deep links, menu buttons, trigger phrases.
    async fn idle(
        &self,
        set: &FlowSet,
        state: &mut FlowState,
        turn: &mut Turn<'_>,
    ) -> Result<(), RouteError> {
        let language = turn.language;
        match turn.input.clone() {
            Input::Start { payload } => match payload
                .as_deref()
                .and_then(|p| set.flow_for_start(p))
                .cloned()
            {
                Some(flow) => self.start(set, state, turn, &flow, Map::new()).await,
                None => {
                    turn.reply(self.greeting(set, language));
                    Ok(())
                }
            },
            Input::Button { payload } => match payload
                .strip_prefix(FLOW_PREFIX)
                .and_then(|id| set.flow(id))
                .cloned()
            {
                Some(flow) => self.start(set, state, turn, &flow, Map::new()).await,
                None => {
                    turn.reply(self.anything_else(set, language));
                    Ok(())
                }
            },
            Input::Text(text) => self.free_text(set, state, turn, &text).await,

            Input::Resume | Input::Contact { .. } => {
                turn.reply(self.anything_else(set, language));
                Ok(())
            }
        }
    }

    /// Starts a flow by id with pre-filled values (used by the assistant and outreach).
    pub async fn start_flow(
        &self,
        turn: &mut Turn<'_>,
        flow_id: &str,
        vars: Map<String, Json>,
    ) -> Result<bool, RouteError> {
        let set = self.registry.current();
        let Some(flow) = set.flow(flow_id).cloned() else {
            return Ok(false);
        };
        let mut state: FlowState = serde_json::from_value(turn.state.clone()).unwrap_or_default();
        self.start(&set, &mut state, turn, &flow, vars).await?;
        *turn.state = serde_json::to_value(&state).unwrap_or(Json::Null);
        Ok(true)
    }
}

/// Values given to a flow from outside (a caller's `with:`, the assistant, outreach)
/// get the `<name>_display` companion a question would have set, so templates can use
/// either.
fn with_display_values(mut vars: Map<String, Json>) -> Map<String, Json> {
    for (key, value) in vars.clone() {
        if key.ends_with("_display") {
            continue;
        }
        vars.entry(format!("{key}_display"))
            .or_insert_with(|| match value {
                Json::String(text) => Json::String(text),
                other => Json::String(other.to_string()),
            });
    }
    vars
}

#[async_trait]
impl Router for FlowRouter {
    async fn route(&self, turn: &mut Turn<'_>) -> Result<(), RouteError> {
        let set = self.registry.current();
        if set.is_empty() {
            return self.fallback.route(turn).await;
        }
        // Work on a copy: if anything fails, the stored state stays as it was.
        let mut state: FlowState = serde_json::from_value(turn.state.clone()).unwrap_or_default();

        if state.advisor_offered {
            state.advisor_offered = false;
            match &turn.input {
                Input::Button { payload } if payload == ADVISOR_YES => {
                    if let Some(advisor) = self
                        .settings
                        .advisor_flow
                        .as_deref()
                        .and_then(|id| set.flow(id))
                        .cloned()
                    {
                        self.start(&set, &mut state, turn, &advisor, Map::new())
                            .await?;
                        *turn.state = serde_json::to_value(&state).unwrap_or(Json::Null);
                        return Ok(());
                    }
                }
                Input::Button { payload } if payload == ADVISOR_NO => {
                    self.ask_again(&set, &mut state, turn).await?;
                    *turn.state = serde_json::to_value(&state).unwrap_or(Json::Null);
                    return Ok(());
                }
                _ => {}
            }
        }

        let escaped = match &turn.input {
            Input::Text(text) => match escape(text) {
                Some(escape) => self.escape(&set, &mut state, turn, escape).await?,
                None => false,
            },
            Input::Button { payload } if payload == MENU_PAYLOAD => {
                self.escape(&set, &mut state, turn, Escape::Menu).await?
            }
            _ => false,
        };
        if !escaped {
            match turn.input.clone() {
                Input::Start { .. } => {
                    state = FlowState {
                        history: std::mem::take(&mut state.history),
                        ..FlowState::default()
                    };
                    self.idle(&set, &mut state, turn).await?;
                }
                Input::Resume => self.ask_again(&set, &mut state, turn).await?,
                Input::Button { payload } if payload.starts_with(OFFER_PREFIX) => {
                    self.offer(&set, &mut state, turn, &payload).await?;
                }
                // A main-menu button pressed in the middle of a flow switches flows.
                Input::Button { payload } if payload.starts_with(FLOW_PREFIX) => {
                    state = FlowState::default();
                    self.idle(&set, &mut state, turn).await?;
                }
                _ if !state.stack.is_empty() => self.answer(&set, &mut state, turn).await?,
                _ => self.idle(&set, &mut state, turn).await?,
            }
        }
        state.greeted = matches!(turn.input, Input::Start { .. });
        // What the flow under way knows, so the lead sees each value with its context
        // (`booking_kind: service` next to the `model` of the customer's own car).
        if let Some(frame) = state.stack.last() {
            turn.notes.values(&frame.vars);
        }
        *turn.state = serde_json::to_value(&state).unwrap_or(Json::Null);
        Ok(())
    }

    fn in_progress(&self, state: &Json) -> bool {
        state
            .get("stack")
            .and_then(Json::as_array)
            .is_some_and(|s| !s.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;
    use crate::config::Config;
    use crate::engine::ChannelKind;
    use crate::flows::actions::{ActionCall, ActionError, ActionOutcome};
    use crate::flows::validate::validate_sources;

    struct NoActions;

    #[async_trait]
    impl Actions for NoActions {
        fn vocabulary(&self) -> BTreeMap<String, Vec<String>> {
            BTreeMap::new()
        }
        async fn run(&self, _call: ActionCall<'_>) -> Result<ActionOutcome, ActionError> {
            Ok(ActionOutcome::default())
        }
    }

    const FLOWS: &[(&str, &str)] = &[
        (
            "confirm.yaml",
            r#"id: confirm
title: { es: Confirmar, en: Confirm }
triggers: { menu: 1 }
steps:
  - id: name
    ask: { es: ¿Nombre?, en: Name? }
    input: name
    save: name
  - ask: { es: "¿{{ name }} es correcto?", en: "Is {{ name }} right?" }
    buttons:
      - { value: "yes", es: Sí, en: "Yes" }
      - { value: "no", es: "No", en: "No" }
    save: right
  - if: right == "no"
    goto: name
  - call: greet
    with: { who: "{{ name }}" }
  - say: { es: "Fin", en: "End" }
"#,
        ),
        (
            "greet.yaml",
            r#"id: greet
title: { es: Saludo, en: Greeting }
params: [who]
steps:
  - say: { es: "Hola {{ who_display }}", en: "Hi {{ who_display }}" }
"#,
        ),
    ];

    fn router() -> FlowRouter {
        let config = Config::defaults_with_data_dir("unused").unwrap();
        let (sources, mut vocabulary) =
            crate::server::flow_vocabulary(&config, Arc::new(crate::booking::sources::NoBookings));
        vocabulary.advisor_flow = None;
        let files: Vec<(PathBuf, String)> = FLOWS
            .iter()
            .map(|(name, text)| (PathBuf::from(name), text.to_string()))
            .collect();
        let set = validate_sources(&files, &vocabulary).unwrap_or_else(|d| panic!("{d}"));
        FlowRouter::new(
            Arc::new(FlowRegistry::fixed_arc(Arc::new(set), vocabulary)),
            MenuRouter::new(&config.bot, config.menu.clone()),
            Arc::new(NoActions),
            sources,
            crate::server::runner_settings(&config),
        )
    }

    async fn send(router: &FlowRouter, state: &mut Json, input: Input) -> Vec<String> {
        let mut turn = Turn {
            input,
            channel: ChannelKind::Cli,
            customer_id: "c",
            conversation_id: "v",
            language: Language::Es,
            state,
            replies: Vec::new(),
            stream: None,
            notes: Default::default(),
        };
        router.route(&mut turn).await.unwrap();
        turn.replies.into_iter().map(|r| r.text).collect()
    }

    fn text(t: &str) -> Input {
        Input::Text(t.into())
    }

    #[tokio::test]
    async fn goto_back_asks_again_and_call_with_gets_display_values() {
        let router = router();
        let mut state = Json::Null;
        let start = Input::Button {
            payload: "flow:confirm".into(),
        };
        assert_eq!(send(&router, &mut state, start).await, ["¿Nombre?"]);
        assert_eq!(
            send(&router, &mut state, text("ana")).await,
            ["¿Ana es correcto?"]
        );
        // "No" jumps back to the name question, which must be asked again.
        assert_eq!(send(&router, &mut state, text("no")).await, ["¿Nombre?"]);
        assert_eq!(
            send(&router, &mut state, text("ana maría")).await,
            ["¿Ana María es correcto?"]
        );
        let replies = send(&router, &mut state, text("sí")).await;
        assert_eq!(replies[..2], ["Hola Ana María", "Fin"]);
    }

    #[tokio::test]
    async fn start_flow_with_pre_filled_values_skips_their_questions() {
        let router = router();
        let mut state = Json::Null;
        let mut turn = Turn {
            input: Input::Resume,
            channel: ChannelKind::Cli,
            customer_id: "c",
            conversation_id: "v",
            language: Language::Es,
            state: &mut state,
            replies: Vec::new(),
            stream: None,
            notes: Default::default(),
        };
        let mut values = Map::new();
        values.insert("name".into(), Json::String("Luis".into()));
        assert!(
            router
                .start_flow(&mut turn, "confirm", values)
                .await
                .unwrap()
        );
        let texts: Vec<String> = turn.replies.into_iter().map(|r| r.text).collect();
        assert_eq!(texts, ["¿Luis es correcto?"]);
        let mut turn = Turn {
            input: Input::Resume,
            channel: ChannelKind::Cli,
            customer_id: "c",
            conversation_id: "v",
            language: Language::Es,
            state: &mut state,
            replies: Vec::new(),
            stream: None,
            notes: Default::default(),
        };
        assert!(
            !router
                .start_flow(&mut turn, "nope", Map::new())
                .await
                .unwrap()
        );
    }
}
