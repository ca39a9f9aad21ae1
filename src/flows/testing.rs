//! Conversation tests (`flows/tests/*.yaml`), in the spirit of Rasa's end-to-end tests:
//! each test is a list of turns — what the customer says or clicks, and what the bot
//! must answer, offer, remember, start or do. They run the real flow runner with a fixed
//! clock and recorded actions, so they are fast and repeatable.
//!
//! ```yaml
//! - name: asks for a person
//!   turns:
//!     - user: quiero hablar con un asesor
//!     - bot: ¿Cómo te llamas?
//!     - user: ana maría
//!     - value: { name: Ana María }
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use serde_saphyr::Spanned;

use super::actions::{ActionCall, ActionError, ActionOutcome, Actions};
use super::diagnostic::SourcePos;
use super::model::FlowSet;
use super::reload::FlowRegistry;
use super::runner::{Clock, FlowRouter, FlowState, RunnerSettings};
use super::sources::Sources;
use super::validate::Vocabulary;
use crate::engine::{
    ChannelKind, InboundContent, Language, MenuRouter, Reply, Router, Session, Turn,
};

/// One test in a tests file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    name: Spanned<String>,
    /// "2026-11-23 10:00" in the flows' time zone; default 2026-11-23 10:00 (a Monday).
    #[serde(default)]
    now: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    fixtures: RawFixtures,
    turns: Vec<Spanned<RawTurn>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFixtures {
    /// Values each action returns in this test (actions are recorded, not run).
    #[serde(default)]
    actions: BTreeMap<String, Map<String, Json>>,
}

/// One turn: exactly one of these keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTurn {
    user: Option<String>,
    click: Option<String>,
    start: Option<String>,
    contact: Option<String>,
    bot: Option<String>,
    bot_contains: Option<String>,
    bot_matches: Option<String>,
    buttons: Option<Vec<String>>,
    value: Option<Map<String, Json>>,
    flow: Option<String>,
    action: Option<String>,
}

/// Outcome of one test.
#[derive(Debug, Clone)]
pub struct TestOutcome {
    pub file: PathBuf,
    pub name: String,
    /// `None` when it passed; otherwise where and why it failed.
    pub failure: Option<String>,
}

/// Everything the tests of a folder produced.
#[derive(Debug, Default)]
pub struct TestReport {
    pub outcomes: Vec<TestOutcome>,
    /// Files that could not be read or parsed.
    pub errors: Vec<String>,
}

impl TestReport {
    pub fn passed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.failure.is_none()).count()
    }

    pub fn failed(&self) -> usize {
        self.outcomes.len() - self.passed() + self.errors.len()
    }
}

/// What a test run needs besides the flows.
pub struct TestSetup {
    pub settings: RunnerSettings,
    pub fallback: MenuRouter,
    pub sources: Arc<dyn Sources>,
    pub vocabulary: Vocabulary,
    pub default_language: Language,
    /// `None`: straight to the flow runner. `Some`: every message goes through that
    /// channel's adapter, as the customer would see and send it.
    pub channel: Option<Arc<dyn ChannelRoundTrip>>,
}

/// A channel adapter in the loop of a conversation test: the bot's replies are rendered
/// in the channel's own format and read back as the customer sees them, and what the
/// customer does is built as the channel's own update and parsed by the adapter. A test
/// that passes this way passes on that channel (same texts, same buttons, limits kept).
#[async_trait]
pub trait ChannelRoundTrip: Send + Sync {
    /// The channel's name, for failure messages.
    fn name(&self) -> &'static str;

    /// Renders `replies` as the channel sends them and reads back, for each reply, what
    /// the customer sees: the text without markup (a reply split over several messages
    /// joined back), and the buttons with the data a click sends back. Fails, saying
    /// why, when a rendered message breaks one of the channel's limits.
    async fn shown(&self, replies: &[Reply]) -> Result<Vec<Reply>, String>;

    /// Builds the channel's update for what the customer did (typed text, a click on a
    /// button with the data `shown` gave it, a shared contact, a start) and parses it
    /// with the adapter: what reaches the engine.
    async fn received(&self, content: InboundContent) -> Result<InboundContent, String>;
}

/// Runs every `*.yaml` test file in `tests_dir` against `flows`.
pub async fn run_dir(tests_dir: &Path, flows: Arc<FlowSet>, setup: &TestSetup) -> TestReport {
    let mut report = TestReport::default();
    let mut files: Vec<PathBuf> = match std::fs::read_dir(tests_dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| e == "yaml" || e == "yml")
            })
            .collect(),
        Err(err) => {
            report.errors.push(format!(
                "{}: cannot read the tests folder: {err}",
                tests_dir.display()
            ));
            return report;
        }
    };
    files.sort();
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(err) => {
                report.errors.push(format!(
                    "{}:1:1: error: cannot read this file: {err}",
                    file.display()
                ));
                continue;
            }
        };
        let tests: Vec<RawTest> = match serde_saphyr::from_str(&text) {
            Ok(tests) => tests,
            Err(err) => {
                let (line, column) = err
                    .location()
                    .map(|l| (l.line(), l.column()))
                    .unwrap_or((1, 1));
                let first = err
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                report.errors.push(format!(
                    "{}:{line}:{column}: error: this tests file is not valid: {first}",
                    file.display()
                ));
                continue;
            }
        };
        for test in tests {
            let failure = run_test(&file, &test, flows.clone(), setup).await.err();
            report.outcomes.push(TestOutcome {
                file: file.clone(),
                name: test.name.value.clone(),
                failure,
            });
        }
    }
    report
}

/// Records action calls instead of running them, answering with the test's fixtures.
struct RecordingActions {
    vocabulary: BTreeMap<String, Vec<String>>,
    fixtures: BTreeMap<String, Map<String, Json>>,
    calls: Mutex<Vec<String>>,
}

#[async_trait]
impl Actions for RecordingActions {
    fn vocabulary(&self) -> BTreeMap<String, Vec<String>> {
        self.vocabulary.clone()
    }

    async fn run(&self, call: ActionCall<'_>) -> Result<ActionOutcome, ActionError> {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(call.name.to_owned());
        Ok(ActionOutcome {
            values: self.fixtures.get(call.name).cloned().unwrap_or_default(),
            replies: Vec::new(),
        })
    }
}

async fn run_test(
    file: &Path,
    test: &RawTest,
    flows: Arc<FlowSet>,
    setup: &TestSetup,
) -> Result<(), String> {
    let mut settings = setup.settings.clone();
    let tz = match &settings.clock {
        Clock::System(tz) => tz.clone(),
        Clock::Fixed(now) => now.time_zone().clone(),
    };
    let now_text = test.now.as_deref().unwrap_or("2026-11-23 10:00");
    let now = now_text
        .parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|dt| dt.to_zoned(tz).ok())
        .ok_or_else(|| {
            format!(
                "{}: `now: {now_text}` is not a date and time like \"2026-11-23 10:00\"",
                SourcePos::of(file, &test.name)
            )
        })?;
    settings.clock = Clock::Fixed(now);
    let language = match test.language.as_deref() {
        None => setup.default_language,
        Some(tag) => Language::parse(tag).ok_or_else(|| {
            format!(
                "{}: `language: {tag}` must be es or en",
                SourcePos::of(file, &test.name)
            )
        })?,
    };
    let actions = Arc::new(RecordingActions {
        vocabulary: setup.vocabulary.actions.clone(),
        fixtures: test.fixtures.actions.clone(),
        calls: Mutex::new(Vec::new()),
    });
    let registry = Arc::new(FlowRegistry::fixed_arc(flows, setup.vocabulary.clone()));
    let router = FlowRouter::new(
        registry,
        setup.fallback.clone(),
        actions.clone(),
        setup.sources.clone(),
        settings,
    );
    let mut conversation = Conversation {
        channel: setup.channel.clone(),
        router,
        session: Session {
            language: Some(language),
            ..Session::default()
        },
        unread: VecDeque::new(),
        last: Vec::new(),
        actions,
        called: Vec::new(),
        shown_buttons: Vec::new(),
    };
    for turn in &test.turns {
        let at = SourcePos::of(file, turn);
        conversation
            .check(&turn.value)
            .await
            .map_err(|problem| format!("{at}: {problem}"))?;
    }
    Ok(())
}

struct Conversation {
    /// The adapter messages go through, if any.
    channel: Option<Arc<dyn ChannelRoundTrip>>,
    router: FlowRouter,
    session: Session,
    /// Bot messages of the last customer turn not yet matched by a `bot*` check.
    unread: VecDeque<Reply>,
    /// All bot messages of the last customer turn.
    last: Vec<Reply>,
    actions: Arc<RecordingActions>,
    /// Actions called during the last customer turn.
    called: Vec<String>,
    /// Buttons on screen, as the channel shows them; a click sends back their payload.
    shown_buttons: Vec<crate::engine::Button>,
}

impl Conversation {
    async fn send(&mut self, content: InboundContent) -> Result<(), String> {
        let content = match &self.channel {
            Some(channel) => channel
                .received(content)
                .await
                .map_err(|err| format!("on {}: {err}", channel.name()))?,
            None => content,
        };
        let (input, _) = self.session.input_for(content);
        let mut turn = Turn {
            input,
            channel: ChannelKind::Cli,
            customer_id: "test-customer",
            conversation_id: "test-conversation",
            language: self.session.language.unwrap_or_default(),
            state: &mut self.session.router,
            replies: Vec::new(),
            stream: None,
            notes: Default::default(),
        };
        self.router
            .route(&mut turn)
            .await
            .map_err(|err| format!("the flow failed: {err}"))?;
        let (language, replies) = (turn.language, turn.replies);
        self.session.language = Some(language);
        self.session.remember_offered(&replies);
        // What the customer sees: through the channel, buttons carry the channel's data.
        let replies = match &self.channel {
            Some(channel) => channel
                .shown(&replies)
                .await
                .map_err(|err| format!("on {}: {err}", channel.name()))?,
            None => replies,
        };
        self.shown_buttons = replies.iter().flat_map(|r| r.buttons.clone()).collect();
        self.last = replies.clone();
        self.unread = replies.into();
        self.called =
            std::mem::take(&mut *self.actions.calls.lock().unwrap_or_else(|e| e.into_inner()));
        Ok(())
    }

    fn shown(&self) -> String {
        let mut out = String::new();
        if self.last.is_empty() {
            out.push_str("\n      (nothing)");
        }
        for reply in &self.last {
            let _ = write!(out, "\n      {}", reply.text.replace('\n', "\n      "));
            if !reply.buttons.is_empty() {
                let titles: Vec<&str> = reply.buttons.iter().map(|b| b.title.as_str()).collect();
                let _ = write!(out, "\n      [{}]", titles.join("] ["));
            }
        }
        out
    }

    fn next_bot(&mut self, what: &str) -> Result<Reply, String> {
        self.unread
            .pop_front()
            .ok_or_else(|| format!("expected the bot to say {what}, but it said nothing more. Its messages this turn:{}", self.shown()))
    }

    async fn check(&mut self, turn: &RawTurn) -> Result<(), String> {
        if let Some(text) = &turn.user {
            return self.send(InboundContent::Text { text: text.clone() }).await;
        }
        if let Some(title) = &turn.click {
            // Directly, the buttons of any earlier message (typed "1" works on them too);
            // through a channel, what is on screen with the channel's own data.
            let on_screen = match &self.channel {
                Some(_) => &self.shown_buttons,
                None => &self.session.offered,
            };
            let payload = on_screen
                .iter()
                .find(|b| b.title == *title)
                .map(|b| b.payload.clone())
                .ok_or_else(|| {
                    let titles: Vec<&str> = on_screen.iter().map(|b| b.title.as_str()).collect();
                    format!(
                        "there is no button \"{title}\" to click; buttons offered: [{}]",
                        titles.join("] [")
                    )
                })?;
            return self.send(InboundContent::Button { payload }).await;
        }
        if let Some(payload) = &turn.start {
            return self
                .send(InboundContent::Start {
                    payload: Some(payload.clone()).filter(|p| !p.is_empty()),
                })
                .await;
        }
        if let Some(phone) = &turn.contact {
            return self
                .send(InboundContent::Contact {
                    phone: phone.clone(),
                })
                .await;
        }
        if let Some(expected) = &turn.bot {
            let said = self.next_bot(&format!("\"{expected}\""))?;
            return (said.text == *expected).then_some(()).ok_or_else(|| {
                format!(
                    "expected the bot to say:\n      {expected}\n    but it said:\n      {}",
                    said.text
                )
            });
        }
        if let Some(part) = &turn.bot_contains {
            let said = self.next_bot(&format!("something containing \"{part}\""))?;
            return said
                .text
                .contains(part.as_str())
                .then_some(())
                .ok_or_else(|| {
                    format!(
                        "expected the bot's message to contain \"{part}\", but it said:\n      {}",
                        said.text
                    )
                });
        }
        if let Some(pattern) = &turn.bot_matches {
            let regex = regex::Regex::new(pattern)
                .map_err(|err| format!("`bot_matches` is not a valid pattern: {err}"))?;
            let said = self.next_bot(&format!("something matching /{pattern}/"))?;
            return regex.is_match(&said.text).then_some(()).ok_or_else(|| {
                format!(
                    "expected the bot's message to match /{pattern}/, but it said:\n      {}",
                    said.text
                )
            });
        }
        if let Some(expected) = &turn.buttons {
            let offered: Vec<&str> = self
                .session
                .offered
                .iter()
                .map(|b| b.title.as_str())
                .collect();
            return (offered == *expected).then_some(()).ok_or_else(|| {
                format!(
                    "expected the buttons [{}], but the bot offered [{}]",
                    expected.join("] ["),
                    offered.join("] [")
                )
            });
        }
        if let Some(values) = &turn.value {
            let state: FlowState =
                serde_json::from_value(self.session.router.clone()).unwrap_or_default();
            // The innermost flow that has the value: a sub-flow's caller keeps what was
            // collected before the call.
            let find = |key: &str| state.stack.iter().rev().find_map(|f| f.vars.get(key));
            for (key, expected) in values {
                let actual = find(key);
                // `null` means "not set".
                let matches = match expected {
                    Json::Null => actual.is_none(),
                    expected => actual == Some(expected),
                };
                if !matches {
                    return Err(format!(
                        "expected the value `{key}` to be {expected}, but it is {}",
                        actual
                            .map(|v| v.to_string())
                            .unwrap_or_else(|| "not set (or the flow already ended)".into())
                    ));
                }
            }
            return Ok(());
        }
        if let Some(expected) = &turn.flow {
            let state: FlowState =
                serde_json::from_value(self.session.router.clone()).unwrap_or_default();
            let current = state
                .stack
                .last()
                .map(|f| f.flow.as_str())
                .unwrap_or("none");
            return (current == expected).then_some(()).ok_or_else(|| {
                format!("expected to be in flow `{expected}`, but the current flow is `{current}`")
            });
        }
        if let Some(expected) = &turn.action {
            return self.called.contains(expected).then_some(()).ok_or_else(|| {
                format!(
                    "expected the action `{expected}` to run this turn; actions that ran: [{}]",
                    self.called.join(", ")
                )
            });
        }
        Err("this turn is empty; use one of user, click, start, contact, bot, bot_contains, bot_matches, buttons, value, flow, action".into())
    }
}
