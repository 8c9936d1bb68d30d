//! The Redis store, for teams on several hosts: every process pointed at one Redis shares each
//! account's access token, its single-flight refresh and its request rate (and journals kept
//! in Redis). Keys are readable by other programs: `{prefix}:{appid}:token` (JSON
//! `{access_token, expires_at, ...}`), `{prefix}:{appid}:token:lease`, `{prefix}:{appid}:rate`,
//! with `wxscript` as the prefix unless `key_prefix` says otherwise; journals named
//! `redis:NAME` at `{prefix}:journal:NAME`, and the listeners' events in a stream per account,
//! `{prefix}:events:{appid}` (fields `received_at` and `event`, the event as JSON).
//!
//! The rules answer the known failures of shared token caches:
//! - one fetch per expiry across hosts: the refresh lease is `SET NX PX` with a random fence,
//!   renewed while its holder lives and released only by it (a compare in Lua); waiters poll
//!   with jitter until a deadline, then say who holds it: nobody waits long for a dead holder;
//! - a refused token is removed only while it is still the stored one, and a write never
//!   replaces a token obtained later (both one Lua script each);
//! - the rate is one GCRA slot counter per account in Lua, on Redis's clock.
//!
//! Token work goes over a connection manager that re-makes the connection in the background;
//! commands have short timeouts so a Redis that went away costs a failed refresh, never a hung
//! call. What does not need Redis (a fresh token in memory, the local rate) goes on without it.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::events::{self, SharedEvents, Stored};
use super::{
    Authorizer, EventLog, EventReader, FileStore, JournalError, LeaseGuard, OpenJournal, Store, StoreError,
    StoreFuture, Ticket, TokenEntry, TokenKey, TokenLease,
};

/// Journals named `redis:NAME` are kept in Redis.
pub const JOURNAL_SCHEME: &str = "redis:";
/// How long a refresh lease lives unless its holder renews it: a killed holder's lease lapses
/// within this.
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// How long a caller waits for another's refresh before giving up with who holds the lease.
pub const WAIT_DEADLINE: Duration = Duration::from_secs(15);
/// How often a live holder renews its lease.
const RENEW_EVERY: Duration = Duration::from_secs(3);
/// One Redis command's time to answer, and a connection attempt's.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "wxscript";

/// Deletes KEYS[1] only while it holds fence ARGV[1].
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end")
});

/// Extends KEYS[1] to ARGV[2] ms only while it holds fence ARGV[1].
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end",
    )
});

/// Removes the token KEYS[1] only while its access_token is ARGV[1] (the one WeChat refused).
static DISCARD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, t = pcall(cjson.decode, v)
if ok and type(t) == 'table' and t.access_token == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#,
    )
});

/// Stores ARGV[1] (JSON) at KEYS[1] unless the stored JSON's number ARGV[2] (`obtained_at`,
/// `created_at`) is later than ARGV[3]: a write never replaces a newer token or ticket. With
/// ARGV[4] (`MODE:IDENTITY`), only a stored token of that mode and identity counts as newer.
/// A value another program wrote, without those fields, is simply replaced. 1 if written.
static SET_UNLESS_NEWER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local v = redis.call('GET', KEYS[1])
if v then
  local ok, t = pcall(cjson.decode, v)
  if ok and type(t) == 'table'
     and (ARGV[4] == '' or (tostring(t.mode or '') .. ':' .. tostring(t.identity or '')) == ARGV[4])
     and (tonumber(t[ARGV[2]]) or 0) > tonumber(ARGV[3]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"#,
    )
});

/// GCRA without burst: KEYS[1] holds the theoretical arrival time (µs, Redis's clock); the
/// caller takes the slot at max(TAT, now), moves TAT on by ARGV[1] µs, and waits the
/// returned µs.
static RATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local nxt = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX', math.floor((nxt - now) / 1000) + 1000)
return tat - now
"#,
    )
});

/// How long a journal claim lives unless its claimer renews it.
pub const CLAIM_LEASE: Duration = Duration::from_secs(60);
/// Replaces [`CLAIM_LEASE`] (whole seconds), so a rehearsal of a killed host need not wait a minute.
pub const CLAIM_LEASE_ENV: &str = "WXSCRIPT_CLAIM_LEASE";

/// True (1) and claims KEYS[2] with fence ARGV[2] for ARGV[3] ms, unless key ARGV[1] is done
/// (in hash KEYS[1]) or claimed already.
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return 1 end
return 0
"#,
    )
});

/// Appends record ARGV[1] to list KEYS[1]; a record of key ARGV[2] also marks it done (hash
/// KEYS[2]) and ends its claim (KEYS[3]), all at once.
static RECORD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
redis.call('RPUSH', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[2], 1)
  redis.call('DEL', KEYS[3])
end
return 1
"#,
    )
});

/// Appends event ARGV[3] (received at ARGV[2]) to stream KEYS[1] unless its dedup key ARGV[1]
/// is in set KEYS[2] already; 1 if appended.
static EVENT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[1], '*', 'received_at', ARGV[2], 'event', ARGV[3])
return 1
"#,
    )
});

/// A Redis server shared by every process pointed at it.
pub struct RedisStore {
    /// The URL as shown to users: no password.
    url: String,
    prefix: String,
    /// For the blocking side (journals, read from a script's thread).
    client: redis::Client,
    conn: ConnectionManager,
    /// Journals and event logs that are files stay files.
    files: FileStore,
    /// `HOST:PID`, the start of every fence this process takes, so a lease names its holder.
    holder: String,
    /// The event stream's key.
    events: String,
}

/// A Redis URL without its password (`redis://user:***@host:port/db`).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or_default();
            let user = if rest[..at].contains(':') { format!("{user}:***") } else { "***".to_string() };
            format!("{scheme}://{user}@{}", &rest[at + 1..])
        }
        None => url.to_string(),
    }
}

/// This host's name and process id.
fn holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!("{host}:{}", std::process::id())
}

/// A stored token as Redis keeps it: the entry (its fields first, for other programs), then
/// the token family and the hash of API base and secret it belongs to.
#[derive(Serialize, Deserialize)]
struct RedisToken {
    #[serde(flatten)]
    entry: TokenEntry,
    mode: String,
    identity: String,
}

fn mode(key: &TokenKey) -> &'static str {
    key.family.as_str()
}

impl RedisStore {
    /// Connects to `url` (`redis://` or `rediss://`); an error names the URL without its
    /// password. `prefix` replaces `wxscript` in every key.
    pub async fn connect(url: &str, prefix: Option<&str>, cache_dir: Option<PathBuf>) -> Result<RedisStore, String> {
        let shown = redact_url(url);
        let client = redis::Client::open(url).map_err(|e| format!("store {shown}: {}", scrub(url, &e)))?;
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_with_config(client.clone(), cfg)
            .await
            .map_err(|e| format!("cannot reach the store {shown}: {}", scrub(url, &e)))?;
        let prefix = prefix.map(str::trim).filter(|p| !p.is_empty()).unwrap_or(DEFAULT_PREFIX).to_string();
        tokio::spawn(heartbeat(conn.clone()));
        let events = format!("{prefix}:events:{}", crate::transport::DEFAULT_ACCOUNT);
        Ok(RedisStore { url: shown, prefix, client, conn, files: FileStore::new(cache_dir), holder: holder(), events })
    }

    /// The same store, its event stream that of account `appid`.
    pub fn events_of(mut self, appid: &str) -> RedisStore {
        self.events = self.account_key_of("events", appid);
        self
    }

    fn account_key_of(&self, what: &str, appid: &str) -> String {
        format!("{}:{what}:{appid}", self.prefix)
    }

    /// The key of a token (`what` is `token` or `token:lease`): the account's, or for the
    /// platform's component token `wxscript:platform:{component_appid}:token`.
    fn token_key(&self, key: &TokenKey, what: &str) -> String {
        match key.family {
            super::TokenFamily::Component => self.platform_key(&key.appid, what),
            _ => self.account_key(&key.appid, what),
        }
    }

    /// The key of `what` of platform `component_appid` (`wxscript:platform:wxc:ticket`).
    pub fn platform_key(&self, component_appid: &str, what: &str) -> String {
        format!("{}:platform:{component_appid}:{what}", self.prefix)
    }

    fn io_error(&self, e: &redis::RedisError) -> io::Error {
        io::Error::other(self.unavailable(e).to_string())
    }

    /// The key of `what` for account `appid` (`wxscript:wx123:token`).
    pub fn account_key(&self, appid: &str, what: &str) -> String {
        format!("{}:{appid}:{what}", self.prefix)
    }

    /// `cmd` on the shared connection; once more at once when the connection had been lost
    /// (the manager has just started re-making it, and a restarted server answers the retry).
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
        retry_once(|| {
            let mut conn = self.conn.clone();
            async move { cmd.query_async(&mut conn).await }
        })
        .await
    }

    /// A Lua script on the shared connection, retried as [`Self::query`].
    async fn invoke<T: redis::FromRedisValue>(&self, call: &redis::ScriptInvocation<'_>) -> redis::RedisResult<T> {
        invoke(&self.conn, call).await
    }

    /// A blocking connection of its own, with the same timeouts as the shared one.
    fn blocking(&self) -> Blocking {
        Blocking { client: self.client.clone(), conn: None, url: self.url.clone() }
    }

    /// The journal `redis:NAME`: its records (a list at `{prefix}:journal:NAME`), and a writer.
    fn open_redis_journal(&self, name: &str, write: bool) -> Result<Option<OpenJournal>, JournalError> {
        let short = &name[JOURNAL_SCHEME.len()..];
        let list = format!("{}:journal:{short}", self.prefix);
        let mut conn = self.blocking();
        let raw: Vec<String> =
            conn.run(|c| redis::cmd("LRANGE").arg(&list).arg(0).arg(-1).query(c)).map_err(JournalError::Io)?;
        // An emptied journal still exists: `{list}:created` outlives its records.
        let created = format!("{list}:created");
        if write {
            conn.run(|c| redis::cmd("SET").arg(&created).arg(crate::util::unix_now()).arg("NX").query::<()>(c))
                .map_err(JournalError::Io)?;
        } else if raw.is_empty() {
            let exists: bool = conn.run(|c| redis::cmd("EXISTS").arg(&created).query(c)).map_err(JournalError::Io)?;
            if !exists {
                return Ok(None);
            }
        }
        let mut records = Vec::with_capacity(raw.len());
        for (i, r) in raw.iter().enumerate() {
            let v = serde_json::from_str(r).map_err(|error| JournalError::BadLine { line: i + 1, error })?;
            records.push(v);
        }
        let writer = if write {
            let lease = std::env::var(CLAIM_LEASE_ENV)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|s| *s > 0)
                .map_or(CLAIM_LEASE, Duration::from_secs);
            let held = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
            let stop = std::sync::Arc::new(AtomicBool::new(false));
            let renewer = self.blocking();
            let (h, st) = (held.clone(), stop.clone());
            std::thread::Builder::new()
                .name("journal-claims".into())
                .spawn(move || renew_claims(renewer, h, st, lease))
                .map_err(JournalError::Io)?;
            Some(Box::new(RedisJournal {
                conn,
                list: list.clone(),
                done: format!("{list}:done"),
                claims: format!("{list}:claim:"),
                fence: format!("{}:{:016x}", self.holder, fastrand::u64(..)),
                lease,
                held,
                stop,
            }) as Box<dyn super::JournalWriter>)
        } else {
            None
        };
        Ok(Some(OpenJournal { records, writer }))
    }

    fn unavailable(&self, e: &redis::RedisError) -> StoreError {
        StoreError::Unavailable(unavailable(&self.url, e))
    }

    /// Warns once per process when the server saves nothing to disk: the authorizers' refresh
    /// tokens kept there are durable data, lost for good on a restart. A server that does not
    /// let us read its settings (`CONFIG` renamed away) is not warned about.
    pub async fn warn_without_persistence(&self) {
        static WARNED: AtomicBool = AtomicBool::new(false);
        let get = |name: &'static str| {
            let mut conn = self.conn.clone();
            async move {
                let pair: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(name).query_async(&mut conn).await.ok()?;
                pair.get(1).cloned()
            }
        };
        let (Some(save), Some(aof)) = (get("save").await, get("appendonly").await) else { return };
        if save.trim().is_empty() && aof.trim() == "no" && !WARNED.swap(true, Ordering::Relaxed) {
            eprintln!(
                "warning: the store (Redis at {}) keeps nothing on disk (no `save` rules, appendonly no): the \
                 authorizers' refresh tokens kept there would be lost on a restart and the merchants would have \
                 to authorise again. Turn on `appendonly yes` (or RDB saving), and keep a backup with \
                 `wxscript platform export FILE`",
                self.url
            );
        }
    }
}

/// What a failure that needed Redis says.
fn unavailable(url: &str, e: &redis::RedisError) -> String {
    format!("the store (Redis at {url}) is unavailable: {e}")
}

/// `op`, once more at once when the connection had been lost (the manager has just started
/// re-making it, and a restarted server answers the retry).
async fn retry_once<T, Fut: std::future::Future<Output = redis::RedisResult<T>>>(
    mut op: impl FnMut() -> Fut,
) -> redis::RedisResult<T> {
    match op().await {
        Err(e) if e.is_io_error() || e.is_connection_dropped() => op().await,
        other => other,
    }
}

/// `call` on `conn`, retried once as [`retry_once`] says.
async fn invoke<T: redis::FromRedisValue>(
    conn: &ConnectionManager,
    call: &redis::ScriptInvocation<'_>,
) -> redis::RedisResult<T> {
    retry_once(|| {
        let mut conn = conn.clone();
        async move { call.invoke_async(&mut conn).await }
    })
    .await
}

/// A Redis error's text with the URL's password (if the error quotes it) blotted out.
fn scrub(url: &str, e: &redis::RedisError) -> String {
    let text = e.to_string();
    match redis::IntoConnectionInfo::into_connection_info(url)
        .ok()
        .and_then(|i| i.redis_settings().password().map(str::to_string))
    {
        Some(p) if !p.is_empty() => text.replace(&p, "***"),
        _ => text,
    }
}

/// A held lease: the lease key and this holder's fence, renewed by a task until released.
struct Held {
    conn: ConnectionManager,
    key: String,
    fence: String,
    renew: tokio::task::AbortHandle,
    released: bool,
}

impl Held {
    fn release_later(&self) -> StoreFuture<'static, ()> {
        self.renew.abort();
        let (mut conn, key, fence) = (self.conn.clone(), self.key.clone(), self.fence.clone());
        Box::pin(async move {
            // A release that fails (Redis gone) leaves the lease to lapse within its TTL.
            let _: redis::RedisResult<i64> = RELEASE.key(&key).arg(&fence).invoke_async(&mut conn).await;
        })
    }
}

impl LeaseGuard for Held {
    fn release(mut self: Box<Self>) -> StoreFuture<'static, ()> {
        self.released = true;
        self.release_later()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if !self.released {
            let release = self.release_later();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(release);
            }
        }
    }
}

impl Store for RedisStore {
    fn describe(&self) -> String {
        self.url.clone()
    }

    fn ticket<'a>(&'a self, component_appid: &'a str) -> StoreFuture<'a, Option<Ticket>> {
        Box::pin(async move {
            let text: Option<String> =
                self.query(redis::cmd("GET").arg(self.platform_key(component_appid, "ticket"))).await.ok()?;
            serde_json::from_str(&text?).ok()
        })
    }

    fn put_ticket<'a>(&'a self, component_appid: &'a str, ticket: &'a Ticket) -> StoreFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let json = serde_json::to_string(ticket).map_err(io::Error::other)?;
            let _: i64 = self
                .invoke(
                    SET_UNLESS_NEWER
                        .key(self.platform_key(component_appid, "ticket"))
                        .arg(json)
                        .arg("created_at")
                        .arg(ticket.created_at)
                        .arg(""),
                )
                .await
                .map_err(|e| self.io_error(&e))?;
            Ok(())
        })
    }

    fn authorizers<'a>(&'a self, component_appid: &'a str) -> StoreFuture<'a, io::Result<Vec<Authorizer>>> {
        Box::pin(async move {
            let appids: Vec<String> = self
                .query(redis::cmd("SMEMBERS").arg(self.platform_key(component_appid, "authorizers")))
                .await
                .map_err(|e| self.io_error(&e))?;
            if appids.is_empty() {
                return Ok(Vec::new());
            }
            // Every record in one round trip, however many merchants the agency has.
            let keys: Vec<String> =
                appids.iter().map(|a| self.platform_key(component_appid, &format!("authorizer:{a}"))).collect();
            let texts: Vec<Option<String>> =
                self.query(redis::cmd("MGET").arg(&keys)).await.map_err(|e| self.io_error(&e))?;
            let mut list: Vec<Authorizer> =
                texts.into_iter().flatten().filter_map(|t| serde_json::from_str(&t).ok()).collect();
            list.sort_by(|a, b| a.appid.cmp(&b.appid));
            Ok(list)
        })
    }

    fn authorizer<'a>(
        &'a self,
        component_appid: &'a str,
        appid: &'a str,
    ) -> StoreFuture<'a, io::Result<Option<Authorizer>>> {
        Box::pin(async move {
            let key = self.platform_key(component_appid, &format!("authorizer:{appid}"));
            let text: Option<String> = self.query(redis::cmd("GET").arg(key)).await.map_err(|e| self.io_error(&e))?;
            Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
        })
    }

    /// The record and its place in the platform's set, in one transaction. It is as durable
    /// as the server's persistence makes it (see the warning at start).
    fn put_authorizer<'a>(
        &'a self,
        component_appid: &'a str,
        record: &'a Authorizer,
    ) -> StoreFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let json = serde_json::to_string(record).map_err(io::Error::other)?;
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("SET")
                .arg(self.platform_key(component_appid, &format!("authorizer:{}", record.appid)))
                .arg(json)
                .ignore()
                .cmd("SADD")
                .arg(self.platform_key(component_appid, "authorizers"))
                .arg(&record.appid)
                .ignore();
            // The refresh token is the one write that must not be lost to a reconnect.
            let _: () = retry_once(|| {
                let mut conn = self.conn.clone();
                let pipe = &pipe;
                async move { pipe.query_async(&mut conn).await }
            })
            .await
            .map_err(|e| self.io_error(&e))?;
            Ok(())
        })
    }

    fn token<'a>(&'a self, key: &'a TokenKey) -> StoreFuture<'a, Option<TokenEntry>> {
        Box::pin(async move {
            let text: Option<String> = self.query(redis::cmd("GET").arg(self.token_key(key, "token"))).await.ok()?;
            let stored: RedisToken = serde_json::from_str(&text?).ok()?;
            (stored.mode == mode(key) && stored.identity == key.identity).then_some(stored.entry)
        })
    }

    fn put_token<'a>(&'a self, key: &'a TokenKey, entry: &'a TokenEntry) -> StoreFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let stored =
                RedisToken { entry: entry.clone(), mode: mode(key).to_string(), identity: key.identity.clone() };
            let json = serde_json::to_string(&stored).map_err(io::Error::other)?;
            let _: i64 = self
                .invoke(
                    SET_UNLESS_NEWER
                        .key(self.token_key(key, "token"))
                        .arg(json)
                        .arg("obtained_at")
                        .arg(entry.obtained_at)
                        .arg(format!("{}:{}", mode(key), key.identity)),
                )
                .await
                .map_err(|e| self.io_error(&e))?;
            Ok(())
        })
    }

    fn lease_token<'a>(&'a self, key: &'a TokenKey) -> StoreFuture<'a, Result<Option<TokenLease>, StoreError>> {
        Box::pin(async move {
            let lease_key = self.token_key(key, "token:lease");
            let fence = format!("{}:{:016x}", self.holder, fastrand::u64(..));
            let start = Instant::now();
            loop {
                let set: Option<String> = self
                    .query(
                        redis::cmd("SET")
                            .arg(&lease_key)
                            .arg(&fence)
                            .arg("NX")
                            .arg("PX")
                            .arg(LEASE_TTL.as_millis() as u64),
                    )
                    .await
                    .map_err(|e| self.unavailable(&e))?;
                if set.is_some() {
                    let conn = self.conn.clone();
                    let renew = tokio::spawn(renew(conn.clone(), lease_key.clone(), fence.clone())).abort_handle();
                    let held = Held { conn, key: lease_key, fence, renew, released: false };
                    return Ok(Some(TokenLease::new(Box::new(held))));
                }
                let waited = start.elapsed();
                if waited >= WAIT_DEADLINE {
                    let holder = self.lease_holder(key).await.unwrap_or_else(|| "unknown".into());
                    return Err(StoreError::LeaseBusy { holder, waited });
                }
                // Jitter keeps the waiters of many hosts from polling in step.
                let pause = Duration::from_millis(fastrand::u64(50..=150)).min(WAIT_DEADLINE - waited);
                tokio::time::sleep(pause).await;
            }
        })
    }

    fn discard_token<'a>(&'a self, key: &'a TokenKey, bad: &'a str) -> StoreFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let _: i64 = self
                .invoke(DISCARD.key(self.token_key(key, "token")).arg(bad))
                .await
                .map_err(|e| self.unavailable(&e))?;
            Ok(())
        })
    }

    fn refresh_deadline(&self) -> Option<Duration> {
        Some(WAIT_DEADLINE)
    }

    fn lease_holder<'a>(&'a self, key: &'a TokenKey) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            let fence: Option<String> =
                self.query(redis::cmd("GET").arg(self.token_key(key, "token:lease"))).await.ok()?;
            // `HOST:PID:RANDOM`: the random part says nothing to a reader.
            fence.map(|f| f.rsplit_once(':').map_or(f.clone(), |(who, _)| who.to_string()))
        })
    }

    fn read_key<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Result<Option<String>, StoreError>> {
        Box::pin(async move { self.query(redis::cmd("GET").arg(key)).await.map_err(|e| self.unavailable(&e)) })
    }

    fn rate_slot<'a>(
        &'a self,
        appid: &'a str,
        interval: Duration,
    ) -> StoreFuture<'a, Result<Option<Duration>, StoreError>> {
        Box::pin(async move {
            let wait: i64 = self
                .invoke(RATE.key(self.account_key(appid, "rate")).arg(interval.as_micros().max(1) as u64))
                .await
                .map_err(|e| self.unavailable(&e))?;
            Ok(Some(Duration::from_micros(wait.max(0) as u64)))
        })
    }

    fn open_journal(&self, name: &str, write: bool) -> Result<Option<OpenJournal>, JournalError> {
        if name.starts_with(JOURNAL_SCHEME) {
            return self.open_redis_journal(name, write);
        }
        self.files.open_journal(name, write)
    }

    /// The file log as on one host, each event also appended to the account's stream; `--log
    /// redis`, the stream alone.
    fn open_event_log(
        &self,
        log: &Path,
        new_events: Option<mpsc::Sender<Map<String, Value>>>,
    ) -> io::Result<(EventLog, usize)> {
        let stream = std::sync::Arc::new(RedisEvents {
            conn: self.conn.clone(),
            stream: self.events.clone(),
            streams: self.account_key_of("events", ""),
            url: self.url.clone(),
        });
        if events::is_shared(log) {
            let events = &self.events;
            let count: usize = self.blocking().run(|c| redis::cmd("XLEN").arg(events).query(c))?;
            return Ok((EventLog::shared_only(stream, new_events), count));
        }
        let (log, count) = self.files.open_event_log(log, new_events)?;
        Ok((log.with_shared(stream), count))
    }

    /// `--log redis` reads the account's stream; any other log is a file, as on one host.
    fn event_reader(&self, log: &Path, account: Option<&str>) -> Box<dyn EventReader> {
        if events::is_shared(log) {
            let stream = match account.filter(|a| !a.is_empty()) {
                Some(a) => self.account_key_of("events", a),
                None => self.events.clone(),
            };
            return Box::new(StreamReader { conn: self.blocking(), stream, after: None });
        }
        self.files.event_reader(log, account)
    }
}

/// The accounts' event streams, as the listener appends to them. Each stream has the set of its
/// stored events' dedup keys beside it (`{stream}:keys`): a re-sent event is stored once,
/// whichever listener it reaches.
struct RedisEvents {
    conn: ConnectionManager,
    /// The stream of the store's own account.
    stream: String,
    /// Every account's stream but the appid (`wxscript:events:`).
    streams: String,
    url: String,
}

impl RedisEvents {
    /// The stream of `event`: its authorizer's, else `account`'s, else the store's own.
    fn stream_of(&self, event: &Map<String, Value>, account: Option<&str>) -> String {
        let authorizer = event.get(crate::message::events::AUTHORIZER_APPID).and_then(Value::as_str);
        match authorizer.or(account).filter(|a| !a.is_empty()) {
            Some(a) => format!("{}{a}", self.streams),
            None => self.stream.clone(),
        }
    }
}

impl SharedEvents for RedisEvents {
    fn append<'a>(
        &'a self,
        event: &'a Map<String, Value>,
        account: Option<&'a str>,
    ) -> StoreFuture<'a, io::Result<Stored>> {
        Box::pin(async move {
            let json = serde_json::to_string(event).map_err(io::Error::other)?;
            let stream = self.stream_of(event, account);
            let new: i64 = invoke(
                &self.conn,
                EVENT
                    .key(&stream)
                    .key(format!("{stream}:keys"))
                    .arg(events::dedup_key(event))
                    .arg(crate::util::unix_now())
                    .arg(json),
            )
            .await
            .map_err(|e| io::Error::other(unavailable(&self.url, &e)))?;
            Ok(if new == 1 { Stored::New } else { Stored::Duplicate })
        })
    }
}

/// Reads the account's event stream from its start, then what was added since each read.
struct StreamReader {
    conn: Blocking,
    stream: String,
    /// The id of the last entry read.
    after: Option<String>,
}

impl EventReader for StreamReader {
    fn next_batch(&mut self) -> io::Result<Vec<Map<String, Value>>> {
        let mut out = Vec::new();
        loop {
            let start = self.after.as_ref().map_or_else(|| "-".to_string(), |id| format!("({id}"));
            let stream = &self.stream;
            let entries: Vec<(String, Vec<String>)> = self
                .conn
                .run(|c| redis::cmd("XRANGE").arg(stream).arg(&start).arg("+").arg("COUNT").arg(1000).query(c))?;
            let Some((last, _)) = entries.last() else { return Ok(out) };
            self.after = Some(last.clone());
            for (_, fields) in &entries {
                let event = fields.chunks(2).find(|kv| kv[0] == "event").and_then(|kv| kv.get(1));
                if let Some(Ok(Value::Object(ev))) = event.map(|e| serde_json::from_str::<Value>(e)) {
                    out.push(ev);
                }
            }
            if entries.len() < 1000 {
                return Ok(out);
            }
        }
    }
}

/// A blocking connection for journals and event reads (a script's thread), made when first
/// needed and made again after a failure, so a restarted server is used again.
struct Blocking {
    client: redis::Client,
    conn: Option<redis::Connection>,
    url: String,
}

impl Blocking {
    fn run<T>(&mut self, f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>) -> io::Result<T> {
        let url = self.url.clone();
        let fail = move |e: redis::RedisError| io::Error::other(unavailable(&url, &e));
        let conn = match &mut self.conn {
            Some(c) => c,
            None => {
                let c = self.client.get_connection_with_timeout(COMMAND_TIMEOUT).map_err(&fail)?;
                c.set_read_timeout(Some(COMMAND_TIMEOUT)).map_err(&fail)?;
                c.set_write_timeout(Some(COMMAND_TIMEOUT)).map_err(&fail)?;
                self.conn.insert(c)
            }
        };
        f(conn).map_err(|e| {
            self.conn = None;
            fail(e)
        })
    }
}

/// A journal kept in Redis: records in a list, the keys recorded in a hash beside it, and one
/// claim key per claimed record key, renewed by a thread while this writer lives.
struct RedisJournal {
    conn: Blocking,
    list: String,
    done: String,
    /// The claim keys' common start; the record key follows.
    claims: String,
    fence: String,
    lease: Duration,
    /// The claims this writer holds (claim key → fence), renewed until recorded.
    held: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
    stop: std::sync::Arc<AtomicBool>,
}

impl Drop for RedisJournal {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl super::JournalWriter for RedisJournal {
    /// Records are whole list items: nothing is ever torn. Starting over empties the journal.
    fn settle(&mut self, start_over: bool) -> io::Result<()> {
        if start_over {
            let (list, done) = (self.list.clone(), self.done.clone());
            self.conn.run(|c| redis::cmd("DEL").arg(list).arg(done).query::<()>(c))?;
        }
        Ok(())
    }

    fn append(&mut self, record: &Value) -> io::Result<()> {
        let key = record.get("key").and_then(Value::as_str).filter(|_| record.get("scope").is_none()).unwrap_or("");
        let claim = format!("{}{key}", self.claims);
        let mut call = RECORD.key(&self.list);
        call.key(&self.done).key(&claim).arg(record.to_string()).arg(key);
        self.conn.run(|c| call.invoke::<i64>(c))?;
        if let Ok(mut held) = self.held.lock() {
            held.remove(&claim);
        }
        Ok(())
    }

    fn claim(&mut self, key: &str) -> io::Result<Option<bool>> {
        let claim = format!("{}{key}", self.claims);
        let mut call = CLAIM.key(&self.done);
        call.key(&claim).arg(key).arg(&self.fence).arg(self.lease.as_millis() as u64);
        let won: i64 = self.conn.run(|c| call.invoke(c))?;
        if won == 1
            && let Ok(mut held) = self.held.lock()
        {
            held.insert(claim, self.fence.clone());
        }
        Ok(Some(won == 1))
    }
}

/// Renews a journal's held claims every third of their lease until the writer is dropped; a
/// killed process renews nothing, so its claims lapse and other hosts take its records over.
fn renew_claims(
    mut conn: Blocking,
    held: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
    stop: std::sync::Arc<AtomicBool>,
    lease: Duration,
) {
    let step = Duration::from_millis(100);
    let every = lease / 3;
    let mut since = Duration::ZERO;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step);
        since += step;
        if since < every {
            continue;
        }
        since = Duration::ZERO;
        let claims: Vec<(String, String)> =
            held.lock().map(|h| h.iter().map(|(k, f)| (k.clone(), f.clone())).collect()).unwrap_or_default();
        for (key, fence) in claims {
            // A renewal Redis misses is made again at the next turn, on a new connection.
            let _ = conn.run(|c| RENEW.key(&key).arg(&fence).arg(lease.as_millis() as u64).invoke::<i64>(c));
        }
    }
}

/// Keeps the connection alive: a lost one is re-made within a second of the server coming back,
/// not on the next refresh that needs it.
async fn heartbeat(mut conn: ConnectionManager) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let _: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut conn).await;
    }
}

/// Renews a held lease until it is no longer ours (or the task is aborted on release).
async fn renew(mut conn: ConnectionManager, key: String, fence: String) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let renewed: redis::RedisResult<i64> =
            RENEW.key(&key).arg(&fence).arg(LEASE_TTL.as_millis() as u64).invoke_async(&mut conn).await;
        if matches!(renewed, Ok(0)) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;
    use crate::store::redis_server::RedisServer;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
    }

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(redact_url("redis://u:p%40ss@h:6379/0"), "redis://u:***@h:6379/0");
        assert_eq!(redact_url("rediss://:secret@h:6380"), "rediss://:***@h:6380");
        assert_eq!(redact_url("redis://h:6379/2"), "redis://h:6379/2");
    }

    #[test]
    fn a_redis_that_is_not_there_is_named_without_its_password() {
        let rt = rt();
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let url = format!("redis://me:hunter22@127.0.0.1:{port}/0");
        let err = rt.block_on(RedisStore::connect(&url, None, None)).err().expect("refused");
        assert!(err.contains(&format!("redis://me:***@127.0.0.1:{port}/0")), "{err}");
        assert!(!err.contains("hunter22"), "{err}");
    }

    #[test]
    fn the_redis_store_passes_the_store_tests() {
        let server = RedisServer::start();
        let rt = rt();
        let store = rt.block_on(RedisStore::connect(&server.url(), None, None)).expect("connect");
        rt.block_on(conformance::tokens_round_trip(&store));
        rt.block_on(conformance::platform_records(&store));
        conformance::journal_append_and_read(&store, "redis:j1");
        conformance::events_append_and_read(&store, Path::new(events::SHARED_LOG));
        // Other programs read the token where the contract says, as JSON.
        let key = TokenKey::new("wx1", true, "http://127.0.0.1:1", "secret-a");
        let raw: String = rt.block_on(async {
            let mut c = store.conn.clone();
            redis::cmd("GET").arg("wxscript:wx1:token").query_async(&mut c).await.expect("get")
        });
        let v: Value = serde_json::from_str(&raw).expect("json");
        assert_eq!(v["access_token"], "tok-2");
        assert!(v["expires_at"].is_u64(), "{v}");
        assert!(!raw.contains("secret-a"));
        let _ = key;
    }

    #[test]
    fn a_refused_token_is_removed_only_while_it_is_the_stored_one_and_a_later_token_is_never_replaced() {
        let server = RedisServer::start();
        let rt = rt();
        let store = rt.block_on(RedisStore::connect(&server.url(), Some("team"), None)).expect("connect");
        let key = TokenKey::new("wx1", false, "http://127.0.0.1:1", "s");
        let at = |token: &str, obtained_at: u64| TokenEntry { obtained_at, ..conformance::entry(token) };
        rt.block_on(async {
            store.put_token(&key, &at("new", 20)).await.expect("put");
            store.discard_token(&key, "old").await.expect("discard");
            assert_eq!(
                store.token(&key).await.map(|e| e.access_token).as_deref(),
                Some("new"),
                "another's token stays"
            );
            store.put_token(&key, &at("older", 10)).await.expect("put");
            assert_eq!(store.token(&key).await.map(|e| e.access_token).as_deref(), Some("new"), "a later token wins");
            store.discard_token(&key, "new").await.expect("discard");
            assert_eq!(store.token(&key).await, None, "the refused token is gone");
            let mut c = store.conn.clone();
            store.put_token(&key, &at("k", 30)).await.expect("put");
            let exists: bool = redis::cmd("EXISTS").arg("team:wx1:token").query_async(&mut c).await.expect("exists");
            assert!(exists, "key_prefix replaces wxscript");
            // A value another program wrote there (no mode or identity) is replaced, not an error.
            let _: () = redis::cmd("SET")
                .arg("team:wx1:token")
                .arg(r#"{"access_token":"theirs"}"#)
                .query_async(&mut c)
                .await
                .expect("set");
            store.put_token(&key, &at("ours", 40)).await.expect("put over a foreign value");
            assert_eq!(store.token(&key).await.map(|e| e.access_token).as_deref(), Some("ours"));
        });
    }

    #[test]
    fn a_lease_is_single_flight_names_its_holder_and_lapses_when_its_holder_dies() {
        let server = RedisServer::start();
        let rt = rt();
        let store = rt.block_on(RedisStore::connect(&server.url(), None, None)).expect("connect");
        let key = TokenKey::new("wx1", true, "http://127.0.0.1:1", "s");
        rt.block_on(async {
            let lease = store.lease_token(&key).await.expect("lease").expect("held");
            let holder = store.lease_holder(&key).await.expect("a holder");
            assert!(holder.ends_with(&format!(":{}", std::process::id())), "{holder}");
            // A second taker waits until the first lets go.
            let t = Instant::now();
            let (second, ()) = tokio::join!(store.lease_token(&key), async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                lease.release().await;
            });
            assert!(second.expect("lease").is_some() && t.elapsed() >= Duration::from_millis(300));
            // A holder that vanishes without releasing (its renewal stops with it).
            let mut c = store.conn.clone();
            let _: () = redis::cmd("SET")
                .arg("wxscript:wx1:token:lease")
                .arg("elsewhere:42:abc")
                .arg("PX")
                .arg(600)
                .query_async(&mut c)
                .await
                .expect("set");
            let t = Instant::now();
            let taken = store.lease_token(&key).await.expect("lease");
            assert!(taken.is_some() && t.elapsed() < LEASE_TTL);
        });
    }

    #[test]
    fn the_shared_rate_spaces_callers_of_all_processes() {
        let server = RedisServer::start();
        let rt = rt();
        let a = rt.block_on(RedisStore::connect(&server.url(), None, None)).expect("connect");
        let b = rt.block_on(RedisStore::connect(&server.url(), None, None)).expect("connect");
        rt.block_on(async {
            let interval = Duration::from_millis(20);
            let mut waits = Vec::new();
            for s in [&a, &b, &a, &b] {
                waits.push(s.rate_slot("wx1", interval).await.expect("slot").expect("shared"));
            }
            assert!(waits[0] < Duration::from_millis(5), "{waits:?}");
            assert!(waits[3] >= Duration::from_millis(50) && waits[3] <= Duration::from_millis(61), "{waits:?}");
            let other = a.rate_slot("wx2", interval).await.expect("slot").expect("shared");
            assert!(other < Duration::from_millis(5), "each account has its own rate");
        });
    }
}

#[cfg(test)]
mod journal_tests {
    use serde_json::json;

    use super::*;
    use crate::store::redis_server::RedisServer;

    #[test]
    fn a_claim_is_one_callers_until_recorded_on_any_host() {
        let server = RedisServer::start();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
        let a = rt.block_on(RedisStore::connect(&server.url(), None, None)).expect("connect");
        let b = rt.block_on(RedisStore::connect(&server.url(), None, None)).expect("connect");
        let mut ja = a.open_journal("redis:import", true).expect("open").expect("writer").writer.expect("w");
        let mut jb = b.open_journal("redis:import", true).expect("open").expect("writer").writer.expect("w");
        assert_eq!(ja.claim("row-1").expect("claim"), Some(true));
        assert_eq!(jb.claim("row-1").expect("claim"), Some(false), "another host's claim holds");
        assert_eq!(ja.claim("row-1").expect("claim"), Some(false), "exactly one caller, even of one host");
        ja.append(&json!({"key": "row-1", "value": 1, "at": 0})).expect("record");
        assert_eq!(jb.claim("row-1").expect("claim"), Some(false), "recorded: nobody's to do");
        assert_eq!(jb.claim("row-2").expect("claim"), Some(true));
        let read = a.open_journal("redis:import", false).expect("read").expect("exists");
        assert_eq!(read.records, vec![json!({"key": "row-1", "value": 1, "at": 0})]);
        // The file store says where such a journal lives.
        let files = FileStore::new(None);
        let err = files.open_journal("redis:import", true).err().expect("refused");
        assert!(matches!(&err, JournalError::Io(e) if e.to_string().contains("--store redis://")), "{err:?}");
    }
}

#[cfg(test)]
mod event_tests {
    use serde_json::json;

    use super::*;
    use crate::store::redis_server::RedisServer;

    #[test]
    fn an_event_redis_cannot_take_is_refused_and_stored_once_when_sent_again() {
        let mut server = RedisServer::start();
        let port = server.port;
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
        let store = rt.block_on(RedisStore::connect(&server.url(), None, None)).expect("connect").events_of("wx1");
        let dir = tempfile::tempdir().expect("tempdir");
        let (log, _) = store.open_event_log(&dir.path().join("e.jsonl"), None).expect("open");
        let ev = json!({"FromUserName": "u", "CreateTime": 1, "MsgType": "event", "Event": "x", "audit_id": 9});
        let ev = ev.as_object().cloned().unwrap_or_default();
        server.kill();
        let err = rt.block_on(log.append(ev.clone())).expect_err("no Redis, no success");
        assert!(err.to_string().contains(&format!("Redis at {}", server.url())), "{err}");
        let _back = RedisServer::start_on(port).expect("restart");
        // WeChat sends it again: the file has it already, the stream gets it now, once.
        assert_eq!(rt.block_on(log.append(ev.clone())).expect("append"), Stored::New);
        assert_eq!(rt.block_on(log.append(ev)).expect("append"), Stored::Duplicate);
        let mut reader = store.event_reader(Path::new(events::SHARED_LOG), None);
        assert_eq!(reader.next_batch().expect("read").len(), 1);
    }

    #[test]
    fn each_account_has_its_stream() {
        let server = RedisServer::start();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
        let store = rt.block_on(RedisStore::connect(&server.url(), None, None)).expect("connect").events_of("wx1");
        let (log, _) = store.open_event_log(Path::new(events::SHARED_LOG), None).expect("open");
        let ev = |id: i64, extra: Value| {
            let mut m = json!({"FromUserName": "u", "CreateTime": 1, "MsgType": "event", "Event": "x", "audit_id": id});
            if let (Some(m), Value::Object(x)) = (m.as_object_mut(), extra) {
                m.extend(x);
            }
            m.as_object().cloned().unwrap_or_default()
        };
        rt.block_on(log.append(ev(1, json!({})))).expect("the store's own account");
        rt.block_on(log.append_for(ev(2, json!({})), Some("wx2"))).expect("another own account");
        // An authorizer's message goes to its stream whatever account it came in as.
        rt.block_on(log.append_for(ev(3, json!({"AuthorizerAppid": "wxauth"})), Some("wxcomponent")))
            .expect("an authorizer's");
        // The same event in two accounts is two events.
        assert_eq!(rt.block_on(log.append_for(ev(1, json!({})), Some("wx2"))).expect("again"), Stored::New);
        let ids = |account: Option<&str>| -> Vec<i64> {
            let mut r = store.event_reader(Path::new(events::SHARED_LOG), account);
            r.next_batch().expect("read").iter().filter_map(|e| e["audit_id"].as_i64()).collect()
        };
        assert_eq!(ids(None), [1]);
        assert_eq!(ids(Some("wx1")), [1]);
        assert_eq!(ids(Some("wx2")), [2, 1]);
        assert_eq!(ids(Some("wxauth")), [3]);
        assert!(ids(Some("wxcomponent")).is_empty());
    }
}
