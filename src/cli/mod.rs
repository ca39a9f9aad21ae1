//! The offline commands staff run on their files. Output is for people: what happened,
//! what is wrong, where, and how to fix it.
//!
//! - [`flows`]: `showroom flows check|test|schema`.
//! - [`kb`]: `showroom kb ingest|search|eval`.
//! - [`ask`]: `showroom ask QUESTION` and `showroom ask --eval FILE`.

mod ask;
mod flows;
mod kb;

pub use ask::{AskCommand, ask};
pub use flows::{FlowsCommand, flows};
pub use kb::{KbCommand, kb};

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
