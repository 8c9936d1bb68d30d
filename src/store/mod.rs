//! Where what must outlive a call is kept: tokens, journals and events. Today it holds the
//! event log (`events`), the durable file the listener appends pushed events to and
//! `event::find` / `event::wait` read.

pub mod events;

pub use events::{EventLog, Stored};
