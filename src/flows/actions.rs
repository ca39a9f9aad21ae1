//! Named actions flows can run (`action: opt_out`). Each is Rust code with a fixed list
//! of values it sets, so `flows check` knows what a flow may use after the action.
//! Booking actions arrive with bookings, the CRM handoff with leads; the ones here are
//! what the shipped flows need now.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::engine::{ChannelKind, Language, Reply};
use crate::store::{AuditEntry, AuditStore, CustomerStore, StoreError, now_ms};

/// One action call from a flow.
#[derive(Debug, Clone)]
pub struct ActionCall<'a> {
    pub name: &'a str,
    /// The step's `with:` values, rendered.
    pub args: Map<String, Value>,
    pub customer_id: &'a str,
    pub conversation_id: &'a str,
    pub channel: ChannelKind,
    pub language: Language,
}

/// What an action gives back: values for the flow and messages for the customer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActionOutcome {
    pub values: Map<String, Value>,
    pub replies: Vec<Reply>,
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("the action `{0}` does not exist")]
    Unknown(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The flow passed something the action cannot use; a flow-file mistake.
    #[error("the action `{action}` cannot use its `with:` values: {message}")]
    BadArguments { action: String, message: String },
}

/// Several action providers as one: the first whose vocabulary has the name runs it.
/// Each provider's vocabulary is read once, not on every call.
pub struct ActionSet {
    vocabulary: BTreeMap<String, Vec<String>>,
    providers: Vec<(Vec<String>, Arc<dyn Actions>)>,
}

impl ActionSet {
    pub fn new(providers: Vec<Arc<dyn Actions>>) -> Self {
        let mut vocabulary = BTreeMap::new();
        let providers = providers
            .into_iter()
            .map(|actions| {
                let own = actions.vocabulary();
                let names = own.keys().cloned().collect();
                for (name, outputs) in own {
                    vocabulary.entry(name).or_insert(outputs);
                }
                (names, actions)
            })
            .collect();
        Self {
            vocabulary,
            providers,
        }
    }
}

#[async_trait]
impl Actions for ActionSet {
    fn vocabulary(&self) -> BTreeMap<String, Vec<String>> {
        self.vocabulary.clone()
    }

    async fn run(&self, call: ActionCall<'_>) -> Result<ActionOutcome, ActionError> {
        match self
            .providers
            .iter()
            .find(|(names, _)| names.iter().any(|n| n == call.name))
        {
            Some((_, actions)) => actions.run(call).await,
            None => Err(ActionError::Unknown(call.name.to_owned())),
        }
    }
}

#[async_trait]
pub trait Actions: Send + Sync {
    /// Action name → the values it sets.
    fn vocabulary(&self) -> BTreeMap<String, Vec<String>>;

    async fn run(&self, call: ActionCall<'_>) -> Result<ActionOutcome, ActionError>;
}

/// The actions backed by the store.
pub struct StoreActions {
    customers: Arc<dyn CustomerStore>,
    audit: Arc<dyn AuditStore>,
}

impl StoreActions {
    pub fn new(customers: Arc<dyn CustomerStore>, audit: Arc<dyn AuditStore>) -> Self {
        Self { customers, audit }
    }

    async fn audit(&self, call: &ActionCall<'_>, action: &str) -> Result<(), StoreError> {
        self.audit
            .record(&AuditEntry {
                at: now_ms(),
                actor: format!("customer:{}", call.channel),
                action: action.into(),
                subject: Some(call.customer_id.to_owned()),
                detail: Some(Value::Object(call.args.clone())),
            })
            .await
    }
}

pub const BUILTIN_ACTIONS: &[(&str, &[&str])] = &[
    // The customer asked not to be contacted: later outreach skips them.
    ("opt_out", &[]),
    // The customer agreed to be contacted again.
    ("opt_in", &[]),
    // A customer asked for a person; kept with the contact and reason they gave.
    ("request_advisor", &[]),
];

pub fn builtin_vocabulary() -> BTreeMap<String, Vec<String>> {
    BUILTIN_ACTIONS
        .iter()
        .map(|(name, outputs)| {
            (
                name.to_string(),
                outputs.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect()
}

#[async_trait]
impl Actions for StoreActions {
    fn vocabulary(&self) -> BTreeMap<String, Vec<String>> {
        builtin_vocabulary()
    }

    async fn run(&self, call: ActionCall<'_>) -> Result<ActionOutcome, ActionError> {
        match call.name {
            "opt_out" => {
                self.customers
                    .set_opted_out(call.customer_id, Some(now_ms()))
                    .await?;
                self.audit(&call, "customer.opted_out").await?;
            }
            "opt_in" => {
                self.customers.set_opted_out(call.customer_id, None).await?;
                self.audit(&call, "customer.opted_in").await?;
            }
            "request_advisor" => self.audit(&call, "advisor.requested").await?,
            other => return Err(ActionError::Unknown(other.to_owned())),
        }
        Ok(ActionOutcome::default())
    }
}
