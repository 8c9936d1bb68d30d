//! WeChat's push format, the one room that knows it: the XML of a pushed message read into
//! JSON and written from it (`xml`), the URL signature and safe mode's AES framing (`crypto`),
//! and the declared event pushes with their fields (`events`). The listener, the simulator's
//! pushes and `event::parse` all stand on it.

pub mod crypto;
pub mod events;
pub mod xml;

pub use crypto::MsgCrypt;
pub use events::{Push, PushEvent};
