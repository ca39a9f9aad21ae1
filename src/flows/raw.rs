//! Flow files exactly as staff write them: serde structs with source positions
//! (`Spanned`) and no meaning attached yet. `validate.rs` turns them into a `FlowSet`.
//! Unknown keys are rejected here so a typo (`sya:`) never silently does nothing.
//!
//! The same structs generate the JSON Schema (`showroom flows schema`) that editors use
//! for autocompletion, so the schema can never drift from what the loader accepts.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// One `flows/*.yaml` file: a single flow.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "showroom flow",
    description = "A menu flow: what the bot says and asks, in order."
)]
pub struct RawFlow {
    /// Unique name of the flow: lowercase letters, digits and `_` (e.g. `test_drive`).
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// Name shown to customers (main-menu button, "continue with …").
    pub title: RawText,
    /// A note for staff; never shown to customers.
    #[serde(default)]
    pub description: Option<String>,
    /// How customers get into this flow.
    #[serde(default)]
    pub triggers: RawTriggers,
    /// Values that another flow or the assistant may fill in before the flow starts
    /// (for example `model` or `date`); questions that save them are then skipped.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub params: Vec<Spanned<String>>,
    /// What happens, top to bottom.
    #[schemars(with = "Vec<RawStep>")]
    pub steps: Spanned<Vec<Spanned<RawStep>>>,
}

/// A text in Spanish and English. Both are required.
#[derive(Debug, Deserialize, JsonSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawText {
    #[schemars(with = "Option<String>")]
    pub es: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub en: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTriggers {
    /// Show this flow in the main menu at this position (1 = first).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub menu: Option<Spanned<u32>>,
    /// Words or phrases that start this flow when a customer writes them.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub keywords: Vec<Spanned<String>>,
    /// Deep-link payloads (`/start PAYLOAD`, widget links) that start this flow.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub start: Vec<Spanned<String>>,
}

/// One step. Each step does exactly one thing: `say`, `ask`, `set`, `goto`, `flow`,
/// `call`, `action` or `end`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// A name for this step, so `goto` can jump to it.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub id: Option<Spanned<String>>,
    /// Run this step only when the condition holds, e.g. `financing == "yes"`.
    #[serde(default, rename = "if")]
    #[schemars(with = "Option<String>")]
    pub condition: Option<Spanned<String>>,

    /// Send a message.
    #[serde(default)]
    pub say: Option<RawText>,

    /// Ask a question and wait for the answer (saved under `save`).
    #[serde(default)]
    pub ask: Option<RawText>,
    /// The kind of typed answer expected: text, name, phone, email, cedula, nit, plate,
    /// vin, number, date, time.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    #[schemars(extend("enum" = [
        "text", "name", "phone", "email", "cedula", "nit", "plate", "vin", "number", "date",
        "time", null
    ]))]
    pub input: Option<Spanned<String>>,
    /// Fixed answer buttons.
    #[serde(default)]
    pub buttons: Option<Vec<RawButton>>,
    /// Answer buttons from a list the bot knows: `models`, `branches`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub options: Option<Spanned<String>>,
    /// Name under which the answer is kept, e.g. `phone`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub save: Option<Spanned<String>>,
    /// Said before repeating the question when the answer was not valid (optional; the
    /// bot explains what was wrong either way).
    #[serde(default)]
    pub retry: Option<RawText>,

    /// Set values: `set: { interest: purchase }`. Text values may use `{{ … }}`.
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub set: Option<Spanned<BTreeMap<String, serde_json::Value>>>,

    /// Continue at the step with this `id` in the same flow.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub goto: Option<Spanned<String>>,
    /// Leave this flow and continue in another one.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub flow: Option<Spanned<String>>,
    /// Run another flow, then come back here with the values it collected.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub call: Option<Spanned<String>>,
    /// Run an action of the bot (booking, handoff, opt-out…).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub action: Option<Spanned<String>>,
    /// Values passed to `call` or `action`; text values may use `{{ … }}`.
    #[serde(default, rename = "with")]
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub with_values: Option<Spanned<BTreeMap<String, serde_json::Value>>>,

    /// Finish the flow (`end: true`). The customer gets the main menu again, or the
    /// calling flow continues.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub end: Option<Spanned<bool>>,
}

/// An answer button.
#[derive(Debug, Deserialize, JsonSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawButton {
    /// What is saved when the button is chosen, e.g. `yes`.
    #[schemars(with = "String")]
    pub value: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub es: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub en: Option<Spanned<String>>,
    /// Other words customers may type for this button ("sip", "claro").
    #[serde(default)]
    pub synonyms: Vec<String>,
}
