//! Menu flows that dealership staff write as YAML files in `flows/`.
//!
//! - `raw`: the file format as serde structs with positions (also the JSON Schema).
//! - `validate`: folder → `FlowSet`, or every problem as `file:line:col` diagnostics.
//! - `model`: the validated set the runner executes; templates compiled once.
//! - `runner`: the `Router` that runs flows, with escape words and re-asks.
//! - `assistant`: free text no flow claims goes to the assistant, which answers or
//!   starts a flow pre-filled.
//! - `input`: typed answers (phone, cédula, plate, dates in everyday Spanish…).
//! - `matching`: tolerant matching of typed text to buttons, and escape words.
//! - `actions`, `sources`: what flows can call into (actions, option lists).
//! - `reload`: the live set and hot reload.
//! - `testing`: conversation tests in `flows/tests/`.

pub mod actions;
mod assistant;
pub mod diagnostic;
pub mod input;
pub mod matching;
pub mod model;
pub mod raw;
pub mod reload;
pub mod runner;
pub mod sources;
pub mod testing;
pub mod validate;

pub use assistant::flow_tools;
pub use diagnostic::{Diagnostic, Diagnostics, SourcePos};
pub use model::FlowSet;
pub use reload::{FlowRegistry, FlowStatus};
pub use runner::{Clock, FlowRouter, FlowState, RunnerSettings};
pub use validate::{Vocabulary, load_dir};

/// The JSON Schema of a flow file, for editor autocompletion.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(raw::RawFlow)).unwrap_or_default()
}
