//! Where what must outlive a call is kept: access tokens with the lease that lets one caller
//! refresh at a time, the third-party platform's ticket and its authorizers' refresh tokens,
//! journals, and the event log. Callers reach it only through [`Store`], a
//! value the session builds and hands down ([`open`] picks it from the run's settings);
//! [`FileStore`] keeps it in files on one host, [`RedisStore`] in a Redis server that processes
//! on several hosts share. `events` holds the event log's line format, its writer and its reader.

#[cfg(test)]
pub(crate) mod conformance;
pub mod events;
mod file;
pub mod redis;
#[cfg(test)]
pub(crate) mod redis_server;

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use events::{EventLog, Stored};
pub use file::{FileStore, private_dir};
pub use redis::RedisStore;

/// What a store's token methods return: they may wait on the network (Redis) or on a lock.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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

    /// An authorizer's token key: its identity is the platform's, so another platform's token
    /// for the same merchant is never taken for it.
    pub fn authorizer(appid: &str, base: &str, component_appid: &str) -> TokenKey {
        TokenKey::of(appid, TokenFamily::Authorizer, base, component_appid)
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
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
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
    /// Unix seconds of that failure (0: none known): with a shared store, processes that waited
    /// for the failed fetch take its failure instead of each fetching again.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed_at: u64,
}

impl TokenEntry {
    /// A token just obtained at `obtained_at`, good for `expires_in` seconds.
    pub fn new(access_token: impl Into<String>, obtained_at: u64, expires_in: u64) -> TokenEntry {
        TokenEntry {
            access_token: access_token.into(),
            expires_at: obtained_at.saturating_add(expires_in),
            obtained_at,
            ..TokenEntry::default()
        }
    }
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

/// Held by the one caller refreshing a token; [`TokenLease::release`] (or dropping it) lets
/// the next one in.
pub struct TokenLease {
    held: Box<dyn LeaseGuard>,
}

impl TokenLease {
    pub fn new(held: Box<dyn LeaseGuard>) -> TokenLease {
        TokenLease { held }
    }

    /// Lets the next caller in now (a shared store is told before this returns).
    pub async fn release(self) {
        self.held.release().await
    }
}

/// What a store holds while a token lease is held (the file store: the locked lock file; Redis:
/// the lease key with its fence). Dropped without [`LeaseGuard::release`], it is released as
/// soon as it can be.
pub trait LeaseGuard: Send {
    fn release(self: Box<Self>) -> StoreFuture<'static, ()>;
}

/// Why a store could not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// Another caller held the token's refresh lease for the whole of the wait.
    LeaseBusy { holder: String, waited: Duration },
    /// The store cannot be reached: what was tried, and why it failed (never a password).
    Unavailable(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::LeaseBusy { holder, waited } => write!(
                f,
                "another process ({holder}) has been refreshing this token for {} s and has not finished",
                waited.as_secs()
            ),
            StoreError::Unavailable(why) => f.write_str(why),
        }
    }
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
    /// Claims record key `key` for this caller among every process sharing the journal: true
    /// for exactly one until the key is recorded or the claim lapses. `None`: the journal is
    /// this host's alone, and the caller keeps claims itself.
    fn claim(&mut self, _key: &str) -> io::Result<Option<bool>> {
        Ok(None)
    }
}

/// Reads an event log incrementally.
pub trait EventReader: Send {
    /// Events appended since the last call (all of them the first time); none for a missing log.
    fn next_batch(&mut self) -> io::Result<Vec<Map<String, Value>>>;
}

/// Tokens, journals and events, wherever they are kept.
pub trait Store: Send + Sync {
    /// What the store is, for `wxscript accounts` and errors: `file (DIR)`, `redis://HOST:PORT/DB`
    /// (never a password).
    fn describe(&self) -> String;
    /// The stored token entry, if any (none when the store cannot be read).
    fn token<'a>(&'a self, key: &'a TokenKey) -> StoreFuture<'a, Option<TokenEntry>>;
    /// Stores `entry`; readers never see half of one. A shared store keeps a token obtained
    /// later than `entry` instead.
    fn put_token<'a>(&'a self, key: &'a TokenKey, entry: &'a TokenEntry) -> StoreFuture<'a, io::Result<()>>;
    /// Waits for the refresh lease of `key`; `Ok(None)` when there is no lease to take (the
    /// store keeps no tokens, or cannot lock), and callers then just race. A shared store's
    /// wait has a deadline ([`Store::refresh_deadline`]), past which it says who holds it.
    fn lease_token<'a>(&'a self, key: &'a TokenKey) -> StoreFuture<'a, Result<Option<TokenLease>, StoreError>>;
    /// WeChat refused `bad`: the stored token is removed if it is still `bad` (a token another
    /// caller stored since is kept). The file store leaves it to the lease holder's write.
    fn discard_token<'a>(&'a self, _key: &'a TokenKey, _bad: &'a str) -> StoreFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
    /// How long a token fetch may take in all, when the store is shared: its waiters give up
    /// then, so the fetch does too. `None`: as long as the HTTP timeouts allow.
    fn refresh_deadline(&self) -> Option<Duration> {
        None
    }
    /// Who holds the refresh lease of `key` now, if the store can tell (`HOST:PID`).
    fn lease_holder<'a>(&'a self, _key: &'a TokenKey) -> StoreFuture<'a, Option<String>> {
        Box::pin(async { None })
    }
    /// The value of key `key` exactly as named (no prefix): a token another system keeps
    /// (`token_source = "redis-key:KEY"`). Only a Redis store has such keys.
    fn read_key<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            Err(StoreError::Unavailable(format!(
                "the token source redis-key:{key} is a key in Redis, and this run's store is {}: run with --store redis://HOST:PORT (or WXSCRIPT_STORE, or `store` in the config file)",
                self.describe()
            )))
        })
    }
    /// Reserves the next request slot of account `appid` at one request per `interval`, for all
    /// processes sharing the store, and returns how long to wait for it. `Ok(None)`: the store
    /// keeps no shared rate, and the caller's own limit applies.
    fn rate_slot<'a>(
        &'a self,
        _appid: &'a str,
        _interval: Duration,
    ) -> StoreFuture<'a, Result<Option<Duration>, StoreError>> {
        Box::pin(async { Ok(None) })
    }
    /// The platform's newest ticket (none when the store cannot be read).
    fn ticket<'a>(&'a self, component_appid: &'a str) -> StoreFuture<'a, Option<Ticket>>;
    /// Stores a ticket unless the stored one was pushed later.
    fn put_ticket<'a>(&'a self, component_appid: &'a str, ticket: &'a Ticket) -> StoreFuture<'a, io::Result<()>>;
    /// Every authorizer of the platform, by appid.
    fn authorizers<'a>(&'a self, component_appid: &'a str) -> StoreFuture<'a, io::Result<Vec<Authorizer>>>;
    /// One authorizer of the platform.
    fn authorizer<'a>(
        &'a self,
        component_appid: &'a str,
        appid: &'a str,
    ) -> StoreFuture<'a, io::Result<Option<Authorizer>>>;
    /// Replaces an authorizer's record and returns once it is durable.
    fn put_authorizer<'a>(
        &'a self,
        component_appid: &'a str,
        record: &'a Authorizer,
    ) -> StoreFuture<'a, io::Result<()>>;
    /// Opens journal `name`, creating it when `write`; `None` when read only and it does not exist.
    fn open_journal(&self, name: &str, write: bool) -> Result<Option<OpenJournal>, JournalError>;
    /// Opens the event log `log` for appending (see [`EventLog::open`]); returns it with the
    /// number of events it holds.
    fn open_event_log(
        &self,
        log: &Path,
        new_events: Option<mpsc::Sender<Map<String, Value>>>,
    ) -> io::Result<(EventLog, usize)>;
    /// A reader of the event log `log`, from its first event: in a shared store's stream
    /// (`--log redis`), the stream of account `account` (an appid; `None`: the store's own).
    fn event_reader(&self, log: &Path, account: Option<&str>) -> Box<dyn EventReader>;
}

/// Which store a run uses: `--store`, else `WXSCRIPT_STORE`, else the config file's `store`,
/// else files; and the config's `key_prefix` for Redis keys.
#[derive(Clone, Debug, Default)]
pub struct StoreConfig {
    /// `file`, `redis://...` or `rediss://...`; `None` is `file`.
    pub spec: Option<String>,
    pub key_prefix: Option<String>,
    /// The appid whose event stream (`{prefix}:events:{appid}`) the run's listener appends to
    /// and `--log redis` reads: the session's `default` account.
    pub account: Option<String>,
}

impl StoreConfig {
    /// Whether this names a Redis server.
    pub fn is_redis(&self) -> bool {
        self.spec.as_deref().is_some_and(|s| s.starts_with("redis://") || s.starts_with("rediss://"))
    }
}

/// Opens the store `cfg` names, with the file store's cache directory `cache_dir`. A Redis
/// server that cannot be reached is an error naming it, never a quiet fall-back to files: hosts
/// would then each keep tokens of their own and invalidate each other's. Called inside the
/// session's runtime (Redis's connection lives on it).
pub async fn open(cfg: &StoreConfig, cache_dir: Option<PathBuf>) -> Result<Arc<dyn Store>, String> {
    match cfg.spec.as_deref().map(str::trim) {
        None | Some("") | Some("file") => Ok(Arc::new(FileStore::new(cache_dir))),
        Some(_) if cfg.is_redis() => {
            let spec = cfg.spec.as_deref().unwrap_or_default().trim();
            let store = RedisStore::connect(spec, cfg.key_prefix.as_deref(), cache_dir)
                .await?
                .events_of(cfg.account.as_deref().unwrap_or(crate::transport::DEFAULT_ACCOUNT));
            store.warn_without_persistence().await;
            Ok(Arc::new(store))
        }
        Some(other) => Err(format!(
            "store {:?}: expected \"file\", redis://[user:pass@]host:port/db or rediss://...",
            redis::redact_url(other)
        )),
    }
}
