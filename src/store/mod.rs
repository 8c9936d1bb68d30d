//! Where what must outlive a call is kept: access tokens with the lease that lets one caller
//! refresh at a time, journals, and the event log. Callers reach it only through [`Store`], a
//! value the session builds and hands down; [`FileStore`] keeps it in files on one host, and a
//! store shared by several hosts plugs in behind the same trait. `events` holds the event log's
//! line format, its writer and its reader.

#[cfg(test)]
pub(crate) mod conformance;
pub mod events;
mod file;

use std::io;
use std::path::Path;
use std::sync::mpsc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use events::{EventLog, Stored};
pub use file::{FileStore, private_dir};

/// Which token an entry is: the account's appid, the token family (stable or classic: the two
/// never hand each other a token), and a short hash of the API base and the secret, so tokens
/// of two servers never mix and a changed secret does not reuse another secret's token. The
/// secret itself is never kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenKey {
    pub appid: String,
    pub stable: bool,
    identity: String,
}

impl TokenKey {
    pub fn new(appid: &str, stable: bool, base: &str, secret: &str) -> TokenKey {
        TokenKey { appid: appid.to_string(), stable, identity: identity(base, secret) }
    }
}

/// SHA-1 cut to 64 bits: the key must not help anyone guess the secret.
fn identity(base: &str, secret: &str) -> String {
    use sha1::Digest;
    let mut h = sha1::Sha1::new();
    h.update(base.as_bytes());
    h.update([0u8]);
    h.update(secret.as_bytes());
    h.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// One stored token, as the cache keeps it (the file store's JSON).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TokenEntry {
    pub access_token: String,
    /// Unix seconds.
    pub expires_at: u64,
    /// Unix seconds when fetched; decides the refresh margin.
    #[serde(default)]
    pub obtained_at: u64,
    /// Unix seconds of the last forced stable-token refresh (0: none known).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub forced_at: u64,
    /// Why the last fetch failed, for `wxscript accounts` (never a token or secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Held by the one caller refreshing a token; dropping it lets the next one in.
pub struct TokenLease {
    /// What the store releases on drop (the file store: the locked lock file).
    _held: Box<dyn Send>,
}

/// Why a journal could not be read.
#[derive(Debug)]
pub enum JournalError {
    Io(io::Error),
    /// A complete line (1-based, blank lines counted) that is not JSON.
    BadLine {
        line: usize,
        error: serde_json::Error,
    },
}

/// A journal as opened: its complete records in order, and the writer (none when opened to
/// read only).
pub struct OpenJournal {
    pub records: Vec<Value>,
    pub writer: Option<Box<dyn JournalWriter>>,
}

/// Appends to one journal.
pub trait JournalWriter: Send {
    /// Drops what follows the last complete record (a line torn by a crash), or with
    /// `start_over` every record; the next append goes after what is kept.
    fn settle(&mut self, start_over: bool) -> io::Result<()>;
    /// Appends one record and returns once it is durable.
    fn append(&mut self, record: &Value) -> io::Result<()>;
}

/// Reads an event log incrementally.
pub trait EventReader: Send {
    /// Events appended since the last call (all of them the first time); none for a missing log.
    fn next_batch(&mut self) -> io::Result<Vec<Map<String, Value>>>;
}

/// Tokens, journals and events, wherever they are kept.
pub trait Store: Send + Sync {
    /// The stored token entry, if any.
    fn token(&self, key: &TokenKey) -> Option<TokenEntry>;
    /// Replaces the stored entry; readers never see half of one.
    fn put_token(&self, key: &TokenKey, entry: &TokenEntry) -> io::Result<()>;
    /// Waits for the refresh lease of `key` (blocking); `None` when there is no lease to take
    /// (the store keeps no tokens, or cannot lock), and callers then just race.
    fn lease_token(&self, key: &TokenKey) -> Option<TokenLease>;
    /// Opens journal `name`, creating it when `write`; `None` when read only and it does not exist.
    fn open_journal(&self, name: &str, write: bool) -> Result<Option<OpenJournal>, JournalError>;
    /// Opens the event log `log` for appending (see [`EventLog::open`]); returns it with the
    /// number of events it holds.
    fn open_event_log(
        &self,
        log: &Path,
        new_events: Option<mpsc::Sender<Map<String, Value>>>,
    ) -> io::Result<(EventLog, usize)>;
    /// A reader of the event log `log`, from its first event.
    fn event_reader(&self, log: &Path) -> Box<dyn EventReader>;
}
