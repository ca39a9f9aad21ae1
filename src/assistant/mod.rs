//! The assistant: answers customers' free-text questions from the knowledge base, cites
//! it, never invents, and turns intent into bookings.
//!
//! - [`settings`]: `[assistant]` and `[assistant.llm]`.
//! - [`prompts`]: `prompts/*.j2`, validated and hot-reloaded.
//! - [`budget`]: fitting system prompt, context, history and question in the window.
//! - [`llm`]: chat completions over any OpenAI-compatible server: streaming, retries,
//!   timeouts and a circuit breaker.
//! - [`extractive`]: answers without an LLM, from the sentences and spec lines that
//!   answer the question.
//! - [`grounding`]: retrieval confidence, and every figure of an LLM answer checked
//!   against the retrieved text.
//! - [`injection`]: delimiting untrusted text, and blocking answers that leak the
//!   system prompt.
//! - [`intent`]: "quiero probar el Tiguan el sábado" → the test-drive flow, pre-filled.
//! - [`language`]: which language the customer writes in.
//! - [`eval`]: how often answers contain the expected fact.

pub mod budget;
pub mod eval;
pub mod extractive;
pub mod grounding;
pub mod injection;
pub mod intent;
pub mod language;
pub mod llm;
pub mod prompts;
mod settings;

pub use settings::{AssistantConfig, LlmConfig, LlmEnv, RawAssistant, RawLlm};

mod respond;

pub use respond::{
    Answer, AnswerKind, Assistant, FlowTool, Persona, Question, Response, is_question, no_data,
};
