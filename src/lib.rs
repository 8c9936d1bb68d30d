//! wxscript: WeChat store mini-program and shake-around automation in rhai scripts.
//!
//! The rooms: `api` declares every endpoint once; `transport` sends requests with tokens,
//! retries and redaction; `runtime` turns declarations into rhai functions and renders errors;
//! `helpers` holds the script helpers that are not endpoints; `sandbox` is the stateful WeChat
//! simulator; `cli` wires them into the `wxscript` command.

pub mod api;
pub mod cli;
pub mod helpers;
pub mod runtime;
pub mod sandbox;
pub mod transport;
