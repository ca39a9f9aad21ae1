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
        self.audit_detail(call, action, Value::Object(call.args.clone()))
            .await
    }

    async fn audit_detail(
        &self,
        call: &ActionCall<'_>,
        action: &str,
        detail: Value,
    ) -> Result<(), StoreError> {
        self.audit
            .record(&AuditEntry {
                at: now_ms(),
                actor: format!("customer:{}", call.channel),
                action: action.into(),
                subject: Some(call.customer_id.to_owned()),
                detail: Some(detail),
            })
            .await
    }

    /// "Don't contact me" (habeas data): marks the customer opted out and withdraws every
    /// consent they gave, so nothing later contacts them on the strength of an old "yes".
    async fn opt_out(&self, call: &ActionCall<'_>) -> Result<(), StoreError> {
        let at = now_ms();
        self.customers
            .set_opted_out(call.customer_id, Some(at))
            .await?;
        let mut withdrawn = Vec::new();
        for purpose in CONSENT_PURPOSES {
            if self
                .customers
                .revoke_consent(call.customer_id, purpose, at)
                .await?
                > 0
            {
                withdrawn.push(*purpose);
            }
        }
        self.audit(call, "customer.opted_out").await?;
        if !withdrawn.is_empty() {
            self.audit_detail(
                call,
                "consent.revoked",
                serde_json::json!({"purposes": withdrawn, "by": "opt_out"}),
            )
            .await?;
        }
        Ok(())
    }
}

/// The purposes a customer can consent to (`record_consent`'s `purpose`); opting out
/// withdraws them all.
pub const CONSENT_PURPOSES: &[&str] = &["contact", "marketing"];

pub const BUILTIN_ACTIONS: &[(&str, &[&str])] = &[
    // The customer asked not to be contacted: later outreach skips them, and every consent
    // they gave is withdrawn.
    ("opt_out", &[]),
    // The customer asked to be contacted again: clears the opt-out only. Consents withdrawn
    // by `opt_out` stay withdrawn until the customer gives a new one (`record_consent`).
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
            "opt_out" => self.opt_out(&call).await?,
            "opt_in" => {
                // Deliberately no consent here: a withdrawn authorisation comes back only
                // with a new explicit "yes" (the privacy flow asks for it).
                self.customers.set_opted_out(call.customer_id, None).await?;
                self.audit(&call, "customer.opted_in").await?;
            }
            "request_advisor" => {
                // The log keeps why, not who: name and phone live in the profile, where
                // consent and erasure reach them.
                let detail: serde_json::Map<String, Value> = call
                    .args
                    .iter()
                    .filter(|(key, _)| matches!(key.as_str(), "reason" | "request"))
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect();
                self.audit_detail(&call, "advisor.requested", Value::Object(detail))
                    .await?
            }
            other => return Err(ActionError::Unknown(other.to_owned())),
        }
        Ok(ActionOutcome::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ChannelIdentity;
    use crate::store::{ConversationStore, Store};

    async fn store_with_customer() -> (tempfile::TempDir, Store, String) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::test_store(dir.path()).await;
        let customer = store
            .open_conversation(&ChannelIdentity::new(ChannelKind::Web, "w1"), 0)
            .await
            .unwrap()
            .customer_id;
        (dir, store, customer)
    }

    fn call<'a>(name: &'a str, customer_id: &'a str) -> ActionCall<'a> {
        ActionCall {
            name,
            args: Map::new(),
            customer_id,
            conversation_id: "c1",
            channel: ChannelKind::Web,
            language: Language::Es,
        }
    }

    fn actions(store: &Store) -> StoreActions {
        StoreActions::new(Arc::new(store.clone()), Arc::new(store.clone()))
    }

    fn audited(entries: &[AuditEntry], action: &str) -> Vec<Option<Value>> {
        entries
            .iter()
            .filter(|e| e.action == action)
            .map(|e| e.detail.clone())
            .collect()
    }

    #[tokio::test]
    async fn opting_out_withdraws_every_consent_and_opting_in_gives_none_back() {
        let (_dir, store, customer) = store_with_customer().await;
        for purpose in ["contact", "marketing"] {
            store
                .record_consent(&customer, purpose, "web", "Acepto.", "2026-12", 1_000)
                .await
                .unwrap();
        }
        let actions = actions(&store);

        actions.run(call("opt_out", &customer)).await.unwrap();
        assert!(store.opted_out_at(&customer).await.unwrap().is_some());
        for purpose in ["contact", "marketing"] {
            assert!(
                !store.has_consent(&customer, purpose).await.unwrap(),
                "{purpose}"
            );
        }
        let audit = store.entries_for(&customer).await.unwrap();
        assert_eq!(audited(&audit, "customer.opted_out").len(), 1);
        assert_eq!(
            audited(&audit, "consent.revoked"),
            vec![Some(
                serde_json::json!({"purposes": ["contact", "marketing"], "by": "opt_out"})
            )]
        );

        // Opting back in lifts the opt-out only: a new explicit consent is needed.
        actions.run(call("opt_in", &customer)).await.unwrap();
        assert_eq!(store.opted_out_at(&customer).await.unwrap(), None);
        assert!(!store.has_consent(&customer, "contact").await.unwrap());
        let audit = store.entries_for(&customer).await.unwrap();
        assert_eq!(audited(&audit, "customer.opted_in").len(), 1);
        assert!(audited(&audit, "consent.granted").is_empty());
    }

    #[tokio::test]
    async fn opting_out_without_consents_records_no_revocation() {
        let (_dir, store, customer) = store_with_customer().await;
        actions(&store)
            .run(call("opt_out", &customer))
            .await
            .unwrap();
        assert!(store.opted_out_at(&customer).await.unwrap().is_some());
        let audit = store.entries_for(&customer).await.unwrap();
        assert_eq!(audited(&audit, "customer.opted_out").len(), 1);
        assert!(audited(&audit, "consent.revoked").is_empty());
    }
}
