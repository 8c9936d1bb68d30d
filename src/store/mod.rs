//! Where what must outlive a call is kept: access tokens with the lease that lets one caller
//! refresh at a time, the third-party platform's ticket and its authorizers' refresh tokens,
//! journals, and the event log. Callers reach it only through [`Store`], a
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

/// Whether `s` is safe as one path segment or key part (appids are).
fn safe_name(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect()
}

/// The kinds of token a store keeps apart: an own account's two families (they never hand
/// each other a token), the platform's component token, and an authorizer's token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenFamily {
    Classic,
    Stable,
    Component,
    Authorizer,
}

impl TokenFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenFamily::Classic => "classic",
            TokenFamily::Stable => "stable",
            TokenFamily::Component => "component",
            TokenFamily::Authorizer => "authorizer",
        }
    }
}

/// Which token an entry is: the appid, the token family, and a short hash of the API base and
/// the secret (for an authorizer, of the platform that holds it), so tokens of two servers
/// never mix and a changed secret does not reuse another secret's token. The secret itself is
/// never kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenKey {
    pub appid: String,
    pub family: TokenFamily,
    identity: String,
}

impl TokenKey {
    /// An own account's token key, stable or classic.
    pub fn new(appid: &str, stable: bool, base: &str, secret: &str) -> TokenKey {
        let family = if stable { TokenFamily::Stable } else { TokenFamily::Classic };
        TokenKey::of(appid, family, base, secret)
    }

    pub fn of(appid: &str, family: TokenFamily, base: &str, secret: &str) -> TokenKey {
        TokenKey { appid: appid.to_string(), family, identity: identity(base, secret) }
    }

    pub fn stable(&self) -> bool {
        self.family == TokenFamily::Stable
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

/// The platform's newest `component_verify_ticket`, as the listener stored it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub ticket: String,
    /// The push's `CreateTime` (Unix seconds, WeChat's clock): the newest push wins.
    pub created_at: u64,
    /// When it was stored (Unix seconds, this host's clock).
    pub received_at: u64,
}

/// One account authorised to the platform, with the refresh token that is its only way to
/// tokens: lost, the merchant must authorise again, so every store writes it durably.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
pub struct Authorizer {
    pub appid: String,
    /// The latest refresh token (each use hands out a new one and retires the old).
    pub refresh_token: String,
    /// The permission sets granted (`func_info` ids).
    #[serde(default)]
    pub func_info: Vec<i64>,
    /// Unix seconds of the authorisation.
    #[serde(default)]
    pub authorized_at: u64,
    /// Unix seconds when `refresh_token` was obtained: of two copies, the later one is current.
    #[serde(default)]
    pub refreshed_at: u64,
    /// Unix seconds when the account revoked the authorisation (0: it has not).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub revoked_at: u64,
    /// The authorization code it was obtained with, so that the `authorized` push of a code
    /// already exchanged is not exchanged again.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth_code: String,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("appid", &self.appid)
            .field("refresh_token", &"***")
            .field("func_info", &self.func_info)
            .field("authorized_at", &self.authorized_at)
            .field("refreshed_at", &self.refreshed_at)
            .field("revoked_at", &self.revoked_at)
            .finish()
    }
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
    /// The platform's newest ticket.
    fn ticket(&self, component_appid: &str) -> Option<Ticket>;
    /// Stores a ticket unless the stored one was pushed later.
    fn put_ticket(&self, component_appid: &str, ticket: &Ticket) -> io::Result<()>;
    /// Every authorizer of the platform, by appid.
    fn authorizers(&self, component_appid: &str) -> Vec<Authorizer>;
    /// One authorizer of the platform.
    fn authorizer(&self, component_appid: &str, appid: &str) -> Option<Authorizer>;
    /// Replaces an authorizer's record and returns once it is durable.
    fn put_authorizer(&self, component_appid: &str, record: &Authorizer) -> io::Result<()>;
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
