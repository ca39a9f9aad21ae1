//! Channel adapters: each turns its channel's events into engine `Inbound`s and renders
//! the engine's replies with the channel's own widgets.
//!
//! - `web`: the widget, its WebSocket and plain HTTP.
//! - `telegram`, `viber`: the bot APIs, by webhook (and long polling for Telegram).
//! - `cli`: `showroom chat` in a terminal.
//!
//! Replies are committed before any channel sends them; a channel that cannot reach its
//! customer now leaves them undelivered, and the `relay` sends them later.

pub mod callbacks;
pub mod cli;
pub mod delivery;
pub mod edits;
pub mod linking;
pub mod relay;
pub mod telegram;
pub mod viber;
pub mod web;
