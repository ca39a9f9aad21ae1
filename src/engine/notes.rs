//! What a turn learned about the customer, handed to whoever builds leads: values the
//! flows collected (`model`, `phone`…) and the actions they ran (`book_test_drive`).
//! Routers write notes; they never decide what a lead is.

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{ChannelKind, Input, Language, Reply};
use crate::store::StoreError;

/// Values collected and actions run during one turn.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TurnNotes {
    /// The latest value of each key the turn saved or set (`*_display` left out).
    pub values: Map<String, Value>,
    /// Actions run, in order, each with its `with:` values and what it set.
    pub actions: Vec<ActionNote>,
}

/// One action a flow ran.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionNote {
    pub name: String,
    pub args: Map<String, Value>,
    pub outcome: Map<String, Value>,
}

impl TurnNotes {
    pub fn value(&mut self, key: &str, value: &Value) {
        if !key.ends_with("_display") && !value.is_null() {
            self.values.insert(key.to_owned(), value.clone());
        }
    }

    pub fn values<'a>(&mut self, values: impl IntoIterator<Item = (&'a String, &'a Value)>) {
        for (key, value) in values {
            self.value(key, value);
        }
    }

    /// An action ran. Its arguments and results stay with it, not among `values`: a
    /// `version` passed to `record_consent` is not the trim of a car.
    pub fn action(&mut self, name: &str, args: &Map<String, Value>, outcome: &Map<String, Value>) {
        self.actions.push(ActionNote {
            name: name.to_owned(),
            args: args.clone(),
            outcome: outcome.clone(),
        });
    }

    pub fn ran(&self, name: &str) -> Option<&ActionNote> {
        self.actions.iter().find(|a| a.name == name)
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.actions.is_empty()
    }
}

/// A processed turn, as the observer sees it (before it is committed).
#[derive(Debug)]
pub struct ObservedTurn<'a> {
    pub customer_id: &'a str,
    pub conversation_id: &'a str,
    pub channel: ChannelKind,
    pub language: Language,
    pub input: &'a Input,
    pub notes: &'a TurnNotes,
}

/// What observing a turn produced.
#[derive(Debug, Default)]
pub struct Observation {
    /// Messages for the customer, after the router's ("Laura te contactará hoy…").
    pub replies: Vec<Reply>,
    /// Outbox messages written; handed back to `committed` once the turn is stored.
    pub outbox: Vec<i64>,
}

/// Learns from every turn: the leads desk. Runs after the router and before the turn is
/// committed; its own changes are committed on their own, idempotently, so a turn
/// processed again after a crash changes nothing twice.
#[async_trait]
pub trait TurnObserver: Send + Sync {
    async fn observe(&self, turn: ObservedTurn<'_>) -> Result<Observation, StoreError>;

    /// The turn that produced `outbox` is committed: its messages can go out now.
    fn committed(&self, outbox: Vec<i64>);
}
