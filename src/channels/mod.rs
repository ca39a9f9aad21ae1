//! Channel adapters: each turns its channel's events into engine `Inbound`s and renders
//! the engine's replies with the channel's own widgets.

pub mod cli;
pub mod edits;
pub mod web;
