//! wxscript: WeChat store mini-program and shake-around automation in rhai scripts.
//!
//! The rooms: `api` declares every endpoint once; `message` knows WeChat's push format (XML,
//! signatures and crypto, the declared events); `store` keeps the event log; `transport` sends
//! requests with tokens, retries and redaction; `runtime` turns the catalog of functions into
//! rhai functions and renders errors; `helpers` holds the script helpers that are not
//! endpoints, each declared beside its code; `sandbox` is the stateful WeChat simulator;
//! `listen` receives WeChat's pushed events into the event log; `config` reads the config file;
//! `session` is the composition root that wires them together (and hands the helpers to the
//! engine); `cli` and `repl` stand on it.

// Errors are the cold path and carry the whole script-facing error map; boxing them would only
// add noise to every signature.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod cli;
pub mod config;
pub mod helpers;
pub mod listen;
pub mod message;
pub mod repl;
pub mod runtime;
pub mod sandbox;
pub mod session;
pub mod store;
pub mod transport;
pub mod util;
