//! Validated flows: what the runner executes. Holding a `FlowSet` means every jump
//! target exists, every template compiled, every input type, action and option source is
//! known, and every text exists in Spanish and English.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::diagnostic::SourcePos;
use super::input::InputKind;
use crate::config::Localized;
use crate::engine::Language;

/// A complete, valid set of flows, swapped in as a whole on reload.
#[derive(Debug)]
pub struct FlowSet {
    pub(super) flows: BTreeMap<String, Arc<Flow>>,
    /// Flow ids in main-menu order.
    pub(super) menu: Vec<String>,
    /// Folded trigger phrase → flow id.
    pub(super) keywords: Vec<(String, String)>,
    pub(super) start_payloads: HashMap<String, String>,
    pub(super) templates: Templates,
    pub(super) files: Vec<PathBuf>,
}

impl FlowSet {
    /// A set with no flows (the settings menu is used instead).
    pub fn empty() -> Self {
        Self {
            flows: BTreeMap::new(),
            menu: Vec::new(),
            keywords: Vec::new(),
            start_payloads: HashMap::new(),
            templates: Templates::default(),
            files: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    pub fn flow(&self, id: &str) -> Option<&Arc<Flow>> {
        self.flows.get(id)
    }

    pub fn flows(&self) -> impl Iterator<Item = &Arc<Flow>> {
        self.flows.values()
    }

    pub fn menu(&self) -> impl Iterator<Item = &Arc<Flow>> {
        self.menu.iter().filter_map(|id| self.flows.get(id))
    }

    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The flow a deep-link payload starts.
    pub fn flow_for_start(&self, payload: &str) -> Option<&Arc<Flow>> {
        self.start_payloads
            .get(payload)
            .and_then(|id| self.flows.get(id))
    }

    /// The flow whose trigger phrase appears in `folded` text (longest phrase wins).
    pub fn flow_for_text(&self, folded: &str) -> Option<&Arc<Flow>> {
        let padded = format!(" {folded} ");
        self.keywords
            .iter()
            .filter(|(phrase, _)| padded.contains(&format!(" {phrase} ")))
            .max_by_key(|(phrase, _)| phrase.len())
            .and_then(|(_, id)| self.flows.get(id))
    }

    pub fn templates(&self) -> &Templates {
        &self.templates
    }
}

#[derive(Debug)]
pub struct Flow {
    pub id: String,
    pub title: Localized,
    pub params: Vec<String>,
    pub steps: Vec<Step>,
    pub file: PathBuf,
}

impl Flow {
    /// The index of the step with this key.
    pub fn position(&self, key: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.key == key)
    }
}

#[derive(Debug)]
pub struct Step {
    /// Stable name used to find the step again after a reload: its `id`, or for a
    /// question `ask:<save>`, or `#<index>`.
    pub key: String,
    pub pos: SourcePos,
    pub condition: Option<String>,
    pub kind: StepKind,
}

#[derive(Debug)]
pub enum StepKind {
    Say(Text),
    Ask(Ask),
    Set(Vec<(String, Value)>),
    Goto(usize),
    Flow(String),
    Call {
        flow: String,
        with: Vec<(String, Value)>,
    },
    Action {
        name: String,
        with: Vec<(String, Value)>,
    },
    End,
}

#[derive(Debug)]
pub struct Ask {
    pub question: Text,
    pub expect: Expect,
    pub save: String,
    pub retry: Option<Text>,
}

#[derive(Debug)]
pub enum Expect {
    Input(InputKind),
    Buttons(Vec<Choice>),
    Source(String),
}

/// A button answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub value: String,
    pub title: Localized,
    pub synonyms: Vec<String>,
    /// How the answer reads in later messages (`<save>_display`) when that differs
    /// from the button title: a time button "10:00" displays as "sáb 28 nov, 10:00".
    pub display: Option<Localized>,
}

impl Choice {
    pub fn new(value: impl Into<String>, title: Localized) -> Self {
        Self {
            value: value.into(),
            title,
            synonyms: Vec::new(),
            display: None,
        }
    }

    /// The text an accepted answer displays as.
    pub fn display(&self, language: crate::engine::Language) -> String {
        self.display
            .as_ref()
            .unwrap_or(&self.title)
            .get(language)
            .to_owned()
    }
}

/// A text in both languages, as names of compiled templates.
#[derive(Debug, Clone)]
pub struct Text {
    pub es: String,
    pub en: String,
}

impl Text {
    pub fn template(&self, language: Language) -> &str {
        match language {
            Language::Es => &self.es,
            Language::En => &self.en,
        }
    }
}

/// A value in `set` or `with`: literal, or a template rendered at run time.
#[derive(Debug, Clone)]
pub enum Value {
    Literal(serde_json::Value),
    Template(String),
}

/// The compiled templates and conditions of a flow set.
#[derive(Debug, Default)]
pub struct Templates {
    env: minijinja::Environment<'static>,
}

impl Templates {
    pub(super) fn new() -> Self {
        let mut env = minijinja::Environment::new();
        // Customers' texts are plain text, not HTML.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_keep_trailing_newline(false);
        Self { env }
    }

    pub(super) fn add(&mut self, name: String, source: String) -> Result<(), minijinja::Error> {
        self.env.add_template_owned(name, source)
    }

    /// Names a template reads that it does not define itself.
    pub(super) fn undeclared(&self, name: &str) -> Vec<String> {
        self.env
            .get_template(name)
            .map(|t| t.undeclared_variables(false).into_iter().collect())
            .unwrap_or_default()
    }

    pub fn render(&self, name: &str, context: &impl Serialize) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(context)
    }

    /// Evaluates a condition compiled by `add_condition`.
    pub fn holds(&self, name: &str, context: &impl Serialize) -> Result<bool, minijinja::Error> {
        Ok(self.render(name, context)? == "1")
    }
}

/// Wraps a condition so it compiles as a template that renders "1" when it holds.
pub(super) fn condition_source(expression: &str) -> String {
    format!("{{% if ({expression}) %}}1{{% endif %}}")
}
