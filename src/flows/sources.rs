//! Named option lists for questions (`options: models`). A list may depend on what the
//! conversation collected (available times depend on the branch and the day), and may
//! understand typed answers that are not one of its buttons (a date typed at a day
//! question).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value as Json};

use super::model::Choice;
use crate::config::{CatalogConfig, Localized};
use crate::engine::Language;

/// What a list may look at.
#[derive(Debug, Clone, Copy)]
pub struct SourceContext<'a> {
    /// The values the flow collected so far.
    pub vars: &'a Map<String, Json>,
    pub language: Language,
    pub customer_id: &'a str,
    /// "Now", from the runner's clock (fixed in flow tests).
    pub now: &'a jiff::Zoned,
}

impl SourceContext<'_> {
    /// A collected value as text (`"tiguan"`), if there is one.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.vars.get(key).and_then(Json::as_str)
    }
}

/// A typed answer a list understood.
#[derive(Debug, Clone, PartialEq)]
pub enum Interpretation {
    Chosen(Choice),
    /// Understood but not possible, with why and what is possible instead.
    Refused(String),
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build the option list `{list}`: {message}")]
pub struct SourceError {
    pub list: String,
    pub message: String,
}

#[async_trait]
pub trait Sources: Send + Sync {
    fn names(&self) -> Vec<String>;

    /// The current options of a list; empty for a list this source doesn't have.
    async fn options(
        &self,
        name: &str,
        ctx: &SourceContext<'_>,
    ) -> Result<Vec<Choice>, SourceError>;

    /// A typed answer that matched no option. `None`: not understood.
    async fn interpret(
        &self,
        _name: &str,
        _text: &str,
        _ctx: &SourceContext<'_>,
    ) -> Result<Option<Interpretation>, SourceError> {
        Ok(None)
    }

    /// The option `value` of a list if it can still be chosen (a pressed button, maybe on
    /// an old message). This lists every option; a list that can check one value for
    /// less work says so by overriding it.
    async fn offered(
        &self,
        name: &str,
        value: &str,
        ctx: &SourceContext<'_>,
    ) -> Result<Option<Choice>, SourceError> {
        listed(self, name, value, ctx).await
    }
}

/// `value` among all the current options of a list: what [`Sources::offered`] does
/// unless a list checks one value more cheaply.
pub async fn listed<S: Sources + ?Sized>(
    source: &S,
    name: &str,
    value: &str,
    ctx: &SourceContext<'_>,
) -> Result<Option<Choice>, SourceError> {
    Ok(source
        .options(name, ctx)
        .await?
        .into_iter()
        .find(|c| c.value == value))
}

/// Several sources as one: the first that has a list answers for it. Each source's list
/// names are read once, not on every question.
pub struct SourceSet {
    sources: Vec<(Vec<String>, Arc<dyn Sources>)>,
}

impl SourceSet {
    pub fn new(sources: Vec<Arc<dyn Sources>>) -> Self {
        Self {
            sources: sources.into_iter().map(|s| (s.names(), s)).collect(),
        }
    }

    fn owner(&self, name: &str) -> Option<&Arc<dyn Sources>> {
        self.sources
            .iter()
            .find(|(names, _)| names.iter().any(|n| n == name))
            .map(|(_, source)| source)
    }
}

#[async_trait]
impl Sources for SourceSet {
    fn names(&self) -> Vec<String> {
        self.sources
            .iter()
            .flat_map(|(names, _)| names.iter().cloned())
            .collect()
    }

    async fn options(
        &self,
        name: &str,
        ctx: &SourceContext<'_>,
    ) -> Result<Vec<Choice>, SourceError> {
        match self.owner(name) {
            Some(source) => source.options(name, ctx).await,
            None => Ok(Vec::new()),
        }
    }

    async fn interpret(
        &self,
        name: &str,
        text: &str,
        ctx: &SourceContext<'_>,
    ) -> Result<Option<Interpretation>, SourceError> {
        match self.owner(name) {
            Some(source) => source.interpret(name, text, ctx).await,
            None => Ok(None),
        }
    }

    async fn offered(
        &self,
        name: &str,
        value: &str,
        ctx: &SourceContext<'_>,
    ) -> Result<Option<Choice>, SourceError> {
        match self.owner(name) {
            Some(source) => source.offered(name, value, ctx).await,
            None => Ok(None),
        }
    }
}

/// Models and branches from settings.
pub struct CatalogSources {
    catalog: CatalogConfig,
}

impl CatalogSources {
    pub fn new(catalog: CatalogConfig) -> Self {
        Self { catalog }
    }
}

#[async_trait]
impl Sources for CatalogSources {
    fn names(&self) -> Vec<String> {
        vec!["models".into(), "branches".into()]
    }

    async fn options(
        &self,
        name: &str,
        _ctx: &SourceContext<'_>,
    ) -> Result<Vec<Choice>, SourceError> {
        Ok(match name {
            "models" => self
                .catalog
                .models
                .iter()
                .map(|m| Choice {
                    synonyms: m.synonyms.clone(),
                    ..Choice::new(&m.id, Localized::new(&m.name, &m.name))
                })
                .collect(),
            "branches" => self
                .catalog
                .branches
                .iter()
                .map(|b| Choice {
                    synonyms: vec![b.city.clone()],
                    ..Choice::new(&b.id, Localized::new(&b.name, &b.name))
                })
                .collect(),
            _ => Vec::new(),
        })
    }
}
