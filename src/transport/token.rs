//! Access tokens of one account: fetched from `cgi-bin/stable_token` (stable mode) or
//! `cgi-bin/token` (classic mode), or read from the Redis key another system keeps them in
//! (`token_source = "redis-key:KEY"`, never fetched), shared by every call in flight (one refresh at a time), and
//! cached across runs in the store (`crate::store`) per API base, appid, secret and mode, under
//! the store's lease while refreshing so that processes sharing the cache never fetch twice. A fetch that failed is the
//! answer for every call of the next [`FETCH_COOLDOWN`], so a broken token endpoint costs one
//! failed fetch, not one per call in flight.
//!
//! Stable mode never invalidates the token another system holds for the same account: a refused
//! token is fetched again without forcing, and a new one is forced only when WeChat hands the
//! same token back, at most once per [`FORCE_INTERVAL`] (recorded in the stored entry, so
//! processes sharing it keep the rule together).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;

use super::answer::{self, Target};
pub use crate::api::STABLE_TOKEN_PATH;
use crate::api::errors;
use crate::api::{ErrorKind, TOKEN_PATH, WxError};
use crate::store::{Authorizer, Store, StoreError, TokenEntry as Cached, TokenFamily, TokenKey};

/// How long a failed token fetch stands as the answer of every call before one is tried again.
pub const FETCH_COOLDOWN: Duration = Duration::from_secs(5);

/// The least time between two forced stable-token refreshes (WeChat refuses closer ones).
pub const FORCE_INTERVAL: Duration = Duration::from_secs(30);

/// How often a token kept in a Redis key (`token_source`) is read again while it works.
pub const KEY_REREAD: Duration = Duration::from_secs(30);
/// How long a refused token kept in a Redis key is waited on to change.
pub const KEY_WAIT: Duration = Duration::from_secs(10);

/// Which of WeChat's token families an own account uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenMode {
    /// `cgi-bin/stable_token`: every caller gets the account's current token.
    Stable,
    /// `cgi-bin/token`: each fetch issues a new token and retires the previous one.
    Classic,
}

impl TokenMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenMode::Stable => "stable",
            TokenMode::Classic => "classic",
        }
    }

    /// The endpoint tokens of this mode come from.
    pub fn path(self) -> &'static str {
        match self {
            TokenMode::Stable => STABLE_TOKEN_PATH,
            TokenMode::Classic => TOKEN_PATH,
        }
    }
}

/// Where an account's tokens come from.
#[derive(Clone)]
pub enum Credentials {
    /// `WECHAT_ACCESS_TOKEN`: used as is, never fetched.
    Token(String),
    /// An own account's appid and secret: tokens fetched and cached.
    AppSecret {
        appid: String,
        secret: String,
        mode: TokenMode,
    },
    /// The third-party platform's own credentials: its component token, fetched with the
    /// newest `component_verify_ticket` in the store.
    Component {
        appid: String,
        secret: String,
    },
    /// An account authorised to the platform: its tokens come from the refresh token in the
    /// store, through the platform's component token.
    Authorizer {
        appid: String,
    },
    /// `token_source = "redis-key:KEY"`: the token another system keeps in a Redis key, read
    /// from there and never fetched.
    RedisKey {
        appid: Option<String>,
        key: String,
    },
    None,
}

impl Credentials {
    /// The account kind as `account::list()` and `wxscript accounts` name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Credentials::Token(_) => "static",
            // A token another system keeps for an own account: its source says so.
            Credentials::AppSecret { .. } | Credentials::RedisKey { .. } => "own",
            Credentials::Component { .. } => "component",
            Credentials::Authorizer { .. } => "authorizer",
            Credentials::None => "none",
        }
    }

    /// The appid tokens are for, if known.
    pub fn appid(&self) -> Option<&str> {
        match self {
            Credentials::AppSecret { appid, .. }
            | Credentials::Component { appid, .. }
            | Credentials::Authorizer { appid } => Some(appid),
            Credentials::RedisKey { appid, .. } => appid.as_deref(),
            Credentials::Token(_) | Credentials::None => None,
        }
    }

    /// Where tokens come from, as `account::list()` names it (never the token itself).
    pub fn source(&self) -> &'static str {
        match self {
            Credentials::Token(_) => "static",
            Credentials::AppSecret { mode, .. } => mode.as_str(),
            Credentials::Component { .. } => "component",
            Credentials::Authorizer { .. } => "refresh_token",
            Credentials::RedisKey { .. } => "redis-key",
            Credentials::None => "none",
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Token(_) => f.write_str("Token(***)"),
            Credentials::AppSecret { appid, mode, .. } => {
                write!(f, "AppSecret {{ appid: {appid:?}, secret: ***, mode: {} }}", mode.as_str())
            }
            Credentials::Component { appid, .. } => write!(f, "Component {{ appid: {appid:?}, secret: *** }}"),
            Credentials::Authorizer { appid } => write!(f, "Authorizer {{ appid: {appid:?} }}"),
            Credentials::RedisKey { appid, key } => write!(f, "RedisKey {{ appid: {appid:?}, key: {key:?} }}"),
            Credentials::None => f.write_str("None"),
        }
    }
}

impl Cached {
    /// Usable until 5 minutes before expiry, or a tenth of its life for short-lived tokens.
    fn fresh(&self, now: u64) -> bool {
        let life = self.expires_at.saturating_sub(self.obtained_at);
        let margin = (life / 10).min(300);
        now + margin < self.expires_at
    }
}

fn now() -> u64 {
    crate::util::unix_now()
}

/// The run's token state: one per client.
pub struct TokenCache {
    creds: Credentials,
    base: String,
    store: Arc<dyn Store>,
    /// Where the store keeps this account's token (own accounts only).
    key: Option<TokenKey>,
    current: Mutex<Option<Cached>>,
    /// Every token seen in this run, for redaction (tokens may rotate mid-run).
    seen: std::sync::Mutex<Vec<String>>,
    /// The last failed fetch and when it ended.
    failed: std::sync::Mutex<Option<(Instant, WxError)>>,
    /// Unix seconds of this run's last forced refresh.
    forced_at: std::sync::atomic::AtomicU64,
    /// An authorizer's platform: the component token its tokens are fetched with.
    platform: Option<Arc<TokenCache>>,
    /// An authorizer's refresh token that WeChat handed out but the store did not take: it is
    /// the only working one, so it is kept here and stored before its access token is used.
    unsaved: std::sync::Mutex<Option<Authorizer>>,
    target: Target,
}

/// What `account::list()` and `wxscript accounts` say of an account's token: where it comes
/// from, its seconds left (when one is known) and the last fetch error.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenStatus {
    pub source: &'static str,
    pub expires_in: Option<i64>,
    pub last_error: Option<String>,
    /// Who holds the refresh lease now, when a shared store can tell (`HOST:PID`).
    pub lease_holder: Option<String>,
}

/// The forms a secret may take when a server echoes it back: as is, percent-encoded (either
/// case of hex digits), and JSON-escaped (`\/`).
fn encodings(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_string()];
    let pct = |upper: bool| -> String {
        let mut out = String::new();
        for b in secret.bytes() {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                out.push(b as char);
            } else if upper {
                out.push_str(&format!("%{b:02X}"));
            } else {
                out.push_str(&format!("%{b:02x}"));
            }
        }
        out
    };
    forms.push(pct(true));
    forms.push(pct(false));
    forms.push(secret.replace('/', "\\/"));
    // A query decoder may have turned `+` into a space.
    forms.push(secret.replace('+', " "));
    forms.dedup();
    forms.retain(|f| f.len() >= 4);
    forms
}

impl TokenCache {
    /// The token state of `creds`; an authorizer's needs its `platform` (the component token
    /// cache), without which it cannot fetch.
    pub fn new(
        creds: Credentials,
        base: &str,
        store: Arc<dyn Store>,
        target: Target,
        platform: Option<Arc<TokenCache>>,
    ) -> TokenCache {
        let key = match &creds {
            Credentials::AppSecret { appid, secret, mode } => {
                Some(TokenKey::new(appid, *mode == TokenMode::Stable, base, secret))
            }
            Credentials::Component { appid, secret } => Some(TokenKey::of(appid, TokenFamily::Component, base, secret)),
            Credentials::Authorizer { appid } => {
                Some(TokenKey::authorizer(appid, base, platform.as_ref().and_then(|p| p.appid()).unwrap_or_default()))
            }
            _ => None,
        };
        let seen = match &creds {
            Credentials::Token(t) => vec![t.clone()],
            Credentials::AppSecret { secret, .. } | Credentials::Component { secret, .. } => vec![secret.clone()],
            Credentials::Authorizer { .. } | Credentials::RedisKey { .. } | Credentials::None => Vec::new(),
        };
        TokenCache {
            creds,
            base: base.to_string(),
            store,
            key,
            current: Mutex::new(None),
            seen: std::sync::Mutex::new(seen),
            failed: std::sync::Mutex::new(None),
            forced_at: std::sync::atomic::AtomicU64::new(0),
            platform,
            unsaved: std::sync::Mutex::new(None),
            target,
        }
    }

    pub fn credentials(&self) -> &Credentials {
        &self.creds
    }

    /// The token's state without fetching one: this run's token, else the stored one.
    pub async fn status(&self) -> TokenStatus {
        let source = self.creds.source();
        if let Credentials::Token(_) = self.creds {
            return TokenStatus { source, expires_in: None, last_error: None, lease_holder: None };
        }
        let left =
            |c: &Cached| Some(c.expires_at as i64 - now() as i64).filter(|s| *s > 0 && !c.access_token.is_empty());
        let failed = self.failed.lock().ok().and_then(|f| f.as_ref().map(|(_, e)| e.errmsg.clone()));
        if let (Credentials::Authorizer { appid }, Some(platform)) = (&self.creds, &self.platform)
            && let Some(component) = platform.appid()
            && self.store.authorizer(component, appid).await.ok().flatten().is_some_and(|a| a.revoked_at != 0)
        {
            // A revoked account's token, even one with time left, no longer works.
            let last_error = Some("the account revoked its authorisation of the platform".to_string());
            return TokenStatus { source, expires_in: None, last_error, lease_holder: None };
        }
        let lease_holder = match &self.key {
            Some(k) => self.store.lease_holder(k).await,
            None => None,
        };
        if let Some(c) = self.current.lock().await.as_ref() {
            return TokenStatus { source, expires_in: left(c), last_error: failed, lease_holder };
        }
        let cached = self.stored().await;
        TokenStatus {
            source,
            expires_in: cached.as_ref().and_then(left),
            last_error: failed.or_else(|| cached.and_then(|c| c.last_error)),
            lease_holder,
        }
    }

    pub fn appid(&self) -> Option<&str> {
        self.creds.appid()
    }

    pub fn can_refresh(&self) -> bool {
        matches!(
            self.creds,
            Credentials::AppSecret { .. }
                | Credentials::Component { .. }
                | Credentials::Authorizer { .. }
                | Credentials::RedisKey { .. }
        )
    }

    pub fn redact(&self, s: &str) -> String {
        let mut out = s.to_string();
        if let Ok(seen) = self.seen.lock() {
            for form in seen.iter().flat_map(|t| encodings(t)) {
                out = out.replace(form.as_str(), "***");
            }
        }
        out
    }

    fn remember(&self, token: &str) {
        if let Ok(mut seen) = self.seen.lock()
            && !seen.iter().any(|t| t == token)
        {
            seen.push(token.to_string());
        }
    }

    /// A usable token, fetching one if needed.
    pub async fn get(&self, http: &reqwest::Client) -> Result<String, WxError> {
        match &self.creds {
            Credentials::Token(t) => return Ok(t.clone()),
            Credentials::None => {
                return Err(WxError::new(
                    ErrorKind::Auth,
                    TOKEN_PATH,
                    "no credentials: set WECHAT_APPID and WECHAT_APPSECRET (or WECHAT_ACCESS_TOKEN), or run with --sandbox",
                ));
            }
            Credentials::AppSecret { .. } | Credentials::Component { .. } | Credentials::Authorizer { .. } => {}
            Credentials::RedisKey { key, .. } => {
                let mut cur = self.current.lock().await;
                if let Some(c) = cur.as_ref().filter(|c| now() < c.obtained_at + KEY_REREAD.as_secs() && c.fresh(now()))
                {
                    return Ok(c.access_token.clone());
                }
                return match self.read_key(key).await {
                    Ok(read) => {
                        let token = read.access_token.clone();
                        *cur = Some(read);
                        Ok(token)
                    }
                    // Redis is away: the token read before still serves until WeChat refuses it.
                    Err(e) if e.kind == ErrorKind::Network => cur.as_ref().map(|c| c.access_token.clone()).ok_or(e),
                    Err(e) => Err(e),
                };
            }
        }
        let mut cur = self.current.lock().await;
        if let Some(c) = cur.as_ref().filter(|c| c.fresh(now())) {
            return Ok(c.access_token.clone());
        }
        let fresh = self.obtain_or_cool_down(http, None).await?;
        let token = fresh.access_token.clone();
        *cur = Some(fresh);
        Ok(token)
    }

    /// WeChat refused `bad`: replace it, unless another caller already did.
    pub async fn refresh_after(&self, http: &reqwest::Client, bad: &str) -> Result<(), WxError> {
        if let Credentials::RedisKey { key, .. } = &self.creds {
            return self.follow_key(key, bad).await;
        }
        let mut cur = self.current.lock().await;
        if let Some(c) = cur.as_ref()
            && c.access_token != bad
            && c.fresh(now())
        {
            return Ok(());
        }
        *cur = Some(self.obtain_or_cool_down(http, Some(bad)).await?);
        Ok(())
    }

    /// The token in Redis key `key`: a JSON object with `access_token` (and maybe
    /// `expires_at`) or a bare string.
    async fn read_key(&self, key: &str) -> Result<Cached, WxError> {
        let source = format!("redis-key:{key}");
        let raw = self.store.read_key(key).await.map_err(|e| self.store_error(e))?;
        let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
            return Err(WxError::new(
                ErrorKind::Auth,
                TOKEN_PATH,
                format!("the token source {source} holds no token: the key is missing or empty"),
            ));
        };
        let (token, expires_at) = match serde_json::from_str::<Value>(&raw) {
            Ok(Value::Object(o)) => {
                let t = o.get("access_token").and_then(Value::as_str).unwrap_or_default().to_string();
                (t, o.get("expires_at").and_then(Value::as_u64))
            }
            Ok(Value::String(t)) => (t, None),
            _ => (raw.trim().to_string(), None),
        };
        if token.is_empty() {
            return Err(WxError::new(
                ErrorKind::Auth,
                TOKEN_PATH,
                format!("the token source {source} holds JSON without access_token"),
            ));
        }
        self.remember(&token);
        let read_at = now();
        // Unknown expiry: good until refused, re-read every KEY_REREAD all the same.
        Ok(Cached { expires_at: expires_at.unwrap_or(u64::MAX), ..Cached::new(token, read_at, 0) })
    }

    /// WeChat refused `bad`, which came from Redis key `key`: the other system keeping it is
    /// expected to put a new one there; waits for that (polling, at most [`KEY_WAIT`]).
    async fn follow_key(&self, key: &str, bad: &str) -> Result<(), WxError> {
        let mut cur = self.current.lock().await;
        if let Some(c) = cur.as_ref()
            && c.access_token != bad
        {
            return Ok(());
        }
        let start = Instant::now();
        loop {
            match self.read_key(key).await {
                Ok(read) if read.access_token != bad => {
                    *cur = Some(read);
                    return Ok(());
                }
                Ok(_) => {}
                Err(e) if e.kind == ErrorKind::Network => return Err(e),
                Err(_) => {}
            }
            if start.elapsed() >= KEY_WAIT {
                return Err(WxError::new(
                    ErrorKind::Auth,
                    TOKEN_PATH,
                    format!(
                        "WeChat refused the token in redis-key:{key}, and the key still holds it after {} s",
                        KEY_WAIT.as_secs()
                    ),
                )
                .with_hint(
                    "the token is kept by another program (token_source): check that it is still refreshing the key",
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// [`Self::obtain`], unless a fetch failed less than [`FETCH_COOLDOWN`] ago: then that
    /// failure, at once. Callers hold the `current` lock, so calls in flight wait for the one
    /// fetch and then all take its failure.
    async fn obtain_or_cool_down(&self, http: &reqwest::Client, bad: Option<&str>) -> Result<Cached, WxError> {
        if let Ok(failed) = self.failed.lock()
            && let Some((at, e)) = failed.as_ref()
            && at.elapsed() < FETCH_COOLDOWN
        {
            return Err(e.clone());
        }
        let result = self.obtain(http, bad).await;
        if let Ok(mut failed) = self.failed.lock() {
            *failed = result.as_ref().err().map(|e| (Instant::now(), e.clone()));
        }
        result
    }

    async fn stored(&self) -> Option<Cached> {
        match &self.key {
            Some(k) => self.store.token(k).await,
            None => None,
        }
    }

    /// A store error as the call's: a lease held past the deadline is an auth failure naming
    /// its holder; a store out of reach, a network failure naming it.
    fn store_error(&self, e: StoreError) -> WxError {
        let path = self.creds_path();
        match e {
            StoreError::LeaseBusy { .. } => {
                let mut w = WxError::new(ErrorKind::Auth, path, format!("no token: {e}"));
                w.hint = "that process may be stuck on a token endpoint that does not answer; if it was killed, its lease lapses within seconds".into();
                w
            }
            StoreError::Unavailable(why) => {
                WxError::new(ErrorKind::Network, path, format!("cannot refresh the token: {why}"))
            }
        }
    }

    fn creds_path(&self) -> &'static str {
        match &self.creds {
            Credentials::AppSecret { mode, .. } => mode.path(),
            _ => TOKEN_PATH,
        }
    }

    /// From the store if it holds a fresh token other than `bad`, else from WeChat.
    /// The store's lease is held across the fetch so that concurrent processes fetch once; a
    /// shared store bounds the fetch by its waiters' deadline.
    async fn obtain(&self, http: &reqwest::Client, bad: Option<&str>) -> Result<Cached, WxError> {
        let lease = match &self.key {
            Some(key) => self.store.lease_token(key).await.map_err(|e| self.store_error(e))?,
            None => None,
        };
        let cached = self.stored().await;
        if let Some(c) = &cached
            && c.fresh(now())
            && Some(c.access_token.as_str()) != bad
        {
            self.remember(&c.access_token);
            if let Some(l) = lease {
                l.release().await;
            }
            return Ok(c.clone());
        }
        if let Some(c) = &cached
            && let Some(why) = &c.last_error
            && self.store.refresh_deadline().is_some()
            && now().saturating_sub(c.failed_at) < FETCH_COOLDOWN.as_secs()
        {
            // The fetch this caller waited for (another process's) failed just now: its answer
            // stands for everyone, as within one process, instead of each host trying in turn.
            if let Some(l) = lease {
                l.release().await;
            }
            let e = WxError::new(
                ErrorKind::Auth,
                self.creds_path(),
                format!("another process's token fetch failed just now: {why}"),
            );
            return Err(e);
        }
        if let (Some(key), Some(bad)) = (&self.key, bad) {
            // Readers that do not wait for the lease must not pick the refused token up meanwhile.
            let _ = self.store.discard_token(key, bad).await;
        }
        let forced_before = cached.as_ref().map_or(0, |c| c.forced_at).max(self.forced_at.load(Relaxed));
        let result = match self.store.refresh_deadline() {
            Some(deadline) => tokio::time::timeout(deadline, self.fetch_stable_aware(http, bad, forced_before))
                .await
                .unwrap_or_else(|_| {
                    Err(WxError::new(
                        ErrorKind::Network,
                        self.creds_path(),
                        format!("the token endpoint did not answer within {} s", deadline.as_secs()),
                    ))
                }),
            None => self.fetch_stable_aware(http, bad, forced_before).await,
        };
        if let Some(key) = &self.key {
            // A cache that cannot be written only costs a fetch next run.
            let _ = match &result {
                Ok(fetched) => self.store.put_token(key, fetched).await,
                Err(e) => {
                    // The old token stays (it may still serve); the error is for `wxscript accounts`.
                    let mut c = cached.unwrap_or_default();
                    if Some(c.access_token.as_str()) == bad {
                        // Refused: written back, it would undo the discard above.
                        c.access_token.clear();
                        c.expires_at = 0;
                    }
                    c.last_error = Some(format!("{}: {}", e.api, e.errmsg));
                    c.failed_at = now();
                    self.store.put_token(key, &c).await
                }
            };
        }
        if let Some(l) = lease {
            l.release().await;
        }
        result
    }

    /// A fetch; in stable mode, when WeChat hands back the token it just refused (`bad`), one
    /// forced refresh, unless one was made less than [`FORCE_INTERVAL`] ago (`forced_before`,
    /// Unix seconds).
    async fn fetch_stable_aware(
        &self,
        http: &reqwest::Client,
        bad: Option<&str>,
        forced_before: u64,
    ) -> Result<Cached, WxError> {
        let mut fetched = self.fetch(http, false).await?;
        fetched.forced_at = forced_before;
        let stable = matches!(self.creds, Credentials::AppSecret { mode: TokenMode::Stable, .. });
        if !stable || bad != Some(fetched.access_token.as_str()) {
            return Ok(fetched);
        }
        let since = now().saturating_sub(forced_before);
        if forced_before != 0 && since < FORCE_INTERVAL.as_secs() {
            return Err(WxError::new(
                ErrorKind::Auth,
                STABLE_TOKEN_PATH,
                format!(
                    "WeChat refused the stable token and hands the same one back; a forced refresh was made {since} s ago and WeChat allows one per {} s: try again shortly",
                    FORCE_INTERVAL.as_secs()
                ),
            )
            .with_hint("if another system forces refreshes of this account, let one of them own the token"));
        }
        let mut forced = self.fetch(http, true).await?;
        forced.forced_at = now();
        self.forced_at.store(forced.forced_at, Relaxed);
        Ok(forced)
    }

    async fn fetch(&self, http: &reqwest::Client, force: bool) -> Result<Cached, WxError> {
        match &self.creds {
            Credentials::AppSecret { appid, secret, mode } => self.fetch_own(http, appid, secret, *mode, force).await,
            Credentials::Component { appid, secret } => self.fetch_component(http, appid, secret).await,
            Credentials::Authorizer { appid } => self.fetch_authorizer(http, appid).await,
            Credentials::Token(_) | Credentials::RedisKey { .. } | Credentials::None => {
                Err(WxError::new(ErrorKind::Auth, TOKEN_PATH, "no appid/secret to fetch a token with"))
            }
        }
    }

    async fn fetch_own(
        &self,
        http: &reqwest::Client,
        appid: &str,
        secret: &str,
        mode: TokenMode,
        force: bool,
    ) -> Result<Cached, WxError> {
        let path = mode.path();
        let url = format!("{}/{}", self.base, path);
        let answer = self
            .call(path, || match mode {
                TokenMode::Classic => {
                    http.get(&url).query(&[("grant_type", "client_credential"), ("appid", appid), ("secret", secret)])
                }
                TokenMode::Stable => http.post(&url).json(&serde_json::json!({
                    "grant_type": "client_credential",
                    "appid": appid,
                    "secret": secret,
                    "force_refresh": force,
                })),
            })
            .await
            .map_err(|mut e| {
                if e.kind == ErrorKind::Auth && e.hint.is_empty() {
                    e.hint = "the appid/secret were refused: check WECHAT_APPID and WECHAT_APPSECRET".into();
                }
                e
            })?;
        self.token_from(&answer, "access_token", path)
    }

    /// The component token, from the newest ticket the platform listener stored.
    async fn fetch_component(&self, http: &reqwest::Client, appid: &str, secret: &str) -> Result<Cached, WxError> {
        let path = crate::api::platform::COMPONENT_TOKEN_PATH;
        let Some(ticket) = self.store.ticket(appid).await else {
            return Err(WxError::new(
                ErrorKind::Auth,
                path,
                format!(
                    "no component_verify_ticket of platform {appid} in the store: WeChat pushes one every 10 minutes to the platform's authorization event URL"
                ),
            ).with_hint("run the platform listener (wxscript listen, with [platform] in the config) at that URL, sharing this store, and wait for a push"));
        };
        let url = format!("{}/{}", self.base, path);
        let body = serde_json::json!({
            "component_appid": appid,
            "component_appsecret": secret,
            "component_verify_ticket": ticket.ticket,
        });
        let answer = self.call(path, || http.post(&url).json(&body)).await.map_err(|mut e| {
            if matches!(e.errcode, Some(61005 | 61006)) {
                let ago = now().saturating_sub(ticket.received_at);
                e.hint = format!(
                    "the newest ticket in the store came {} ago: is the platform listener still receiving WeChat's pushes?",
                    crate::util::human_duration(ago)
                );
            } else if e.hint.is_empty() {
                e.hint = "the component_appid/component_appsecret were refused: check [platform] in the config".into();
            }
            e
        })?;
        self.token_from(&answer, "component_access_token", path)
    }

    /// An authorizer's token from its refresh token. The caller holds this token's lease, so
    /// the refresh token read here is the latest; the new one WeChat hands out is stored (or,
    /// when the store refuses it, kept for the next attempt) before the new access token is
    /// returned, since the old one stops working at once.
    async fn fetch_authorizer(&self, http: &reqwest::Client, appid: &str) -> Result<Cached, WxError> {
        let path = crate::api::platform::AUTHORIZER_TOKEN_PATH;
        let Some(platform) = &self.platform else {
            return Err(WxError::new(
                ErrorKind::Auth,
                path,
                format!("account {appid} is an authorizer of a third-party platform, but no [platform] is configured"),
            ));
        };
        let component = platform.appid().unwrap_or_default().to_string();
        let unsaved = self.unsaved.lock().ok().and_then(|u| u.clone());
        let stored = self.store.authorizer(&component, appid).await.ok().flatten();
        let record = match (unsaved, stored) {
            (Some(u), Some(s)) if s.refreshed_at > u.refreshed_at => Some(s),
            (Some(u), _) => Some(u),
            (None, s) => s,
        };
        let Some(mut record) = record else {
            return Err(WxError::new(
                ErrorKind::Auth,
                path,
                format!("account {appid} has not authorised platform {component} (no refresh token in the store)"),
            ).with_hint("have its admin authorise (platform::authorize_url), run platform::sync_authorizers(), or import a backup with wxscript platform import"));
        };
        if record.revoked_at != 0 {
            return Err(WxError::new(
                ErrorKind::Auth,
                path,
                format!("account {appid} revoked its authorisation of platform {component}"),
            )
            .with_hint("its admin must authorise the platform again (platform::authorize_url)"));
        }
        let url = format!("{}/{}", self.base, path);
        let body = serde_json::json!({
            "component_appid": component,
            "authorizer_appid": appid,
            "authorizer_refresh_token": record.refresh_token,
        });
        let mut refreshed = false;
        let answer = loop {
            // Boxed: the component token is fetched through this same type.
            let ctoken = Box::pin(platform.get(http)).await?;
            let result = self
                .call(path, || http.post(&url).query(&[("component_access_token", ctoken.as_str())]).json(&body))
                .await;
            match result {
                Err(e) if !refreshed && e.errcode.is_some_and(|c| errors::retry(c) == errors::Retry::Refresh) => {
                    refreshed = true;
                    Box::pin(platform.refresh_after(http, &ctoken)).await?;
                }
                Err(mut e) => {
                    e.errmsg = format!("account {appid}: {}", e.errmsg);
                    if e.errcode == Some(61023) {
                        e.hint = "the refresh token was revoked or replaced: the merchant must authorise again (or restore a newer one with wxscript platform import)".into();
                    }
                    return Err(e);
                }
                Ok(a) => break a,
            }
        };
        let token = self.token_from(&answer, "authorizer_access_token", path)?;
        if let Some(r) = answer.get("authorizer_refresh_token").and_then(Value::as_str).filter(|r| !r.is_empty()) {
            self.remember(r);
            record.refresh_token = r.to_string();
            record.refreshed_at = token.obtained_at;
        }
        if let Err(e) = self.store.put_authorizer(&component, &record).await {
            if let Ok(mut u) = self.unsaved.lock() {
                *u = Some(record);
            }
            return Err(WxError::new(
                ErrorKind::Network,
                path,
                format!(
                    "account {appid}: cannot store its new refresh token ({e}); it is kept in memory and stored before the token is used"
                ),
            ));
        }
        if let Ok(mut u) = self.unsaved.lock() {
            *u = None;
        }
        Ok(token)
    }

    /// A token entry from a token endpoint's answer (`field` holds the token).
    fn token_from(&self, answer: &Value, field: &str, path: &str) -> Result<Cached, WxError> {
        let Some(t) = answer.get(field).and_then(Value::as_str).filter(|t| !t.is_empty()) else {
            return Err(WxError::new(ErrorKind::Network, path, format!("the answer has no {field}")));
        };
        let expires_in = answer.get("expires_in").and_then(Value::as_u64).unwrap_or(7200);
        let obtained_at = now();
        self.remember(t);
        Ok(Cached::new(t, obtained_at, expires_in))
    }

    /// One call of a token endpoint, tried twice on network trouble or a busy answer; the
    /// answer as JSON when its errcode is 0 or absent, else an `auth` error with WeChat's code.
    async fn call(&self, path: &str, request: impl Fn() -> reqwest::RequestBuilder) -> Result<Value, WxError> {
        let mut last = None;
        for attempt in 0..2 {
            if attempt > 0 {
                tokio::time::sleep(super::backoff(0)).await;
            }
            let mut resp = match request().send().await {
                Ok(r) => r,
                Err(e) => {
                    last = Some(self.target.describe(&e));
                    continue;
                }
            };
            let status = resp.status();
            if status.is_redirection() {
                // Never followed: the redirect's target would receive the appid and secret.
                last = Some(answer::redirect_refused(status));
                continue;
            }
            let body = match answer::read_body(&mut resp).await {
                Ok(b) => b,
                Err(e) => {
                    last = Some(e.describe(&self.target));
                    continue;
                }
            };
            let v = match serde_json::from_slice::<Value>(&body) {
                Ok(v @ Value::Object(_)) => v,
                _ => {
                    last = Some(format!("HTTP {status}: the answer is not JSON: {}", answer::snippet(&body)));
                    continue;
                }
            };
            let code = v.get("errcode").and_then(Value::as_i64).unwrap_or(0);
            if code == 0 {
                return Ok(v);
            }
            let msg = v.get("errmsg").and_then(Value::as_str).unwrap_or("").to_string();
            if errors::retry(code) == errors::Retry::Backoff {
                last = Some(format!("HTTP {status}: errcode {code}: {msg}"));
                continue;
            }
            let mut e = WxError::api(path, code, self.redact(&msg));
            e.kind = ErrorKind::Auth;
            return Err(e);
        }
        Err(WxError::new(
            ErrorKind::Network,
            path,
            format!("the token endpoint failed twice: {}", self.redact(&last.unwrap_or_default())),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_scales_with_life() {
        let c = Cached {
            access_token: "t".into(),
            expires_at: 7200,
            obtained_at: 0,
            forced_at: 0,
            last_error: None,
            failed_at: 0,
        };
        assert!(c.fresh(6899));
        assert!(!c.fresh(6900));
        let short = Cached {
            access_token: "t".into(),
            expires_at: 10,
            obtained_at: 0,
            forced_at: 0,
            last_error: None,
            failed_at: 0,
        };
        assert!(short.fresh(8));
        assert!(!short.fresh(9));
    }
}

#[cfg(test)]
mod redis_key_tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::store::{FileStore, StoreFuture};

    /// A store whose Redis key holds `tok-1` until it goes away.
    struct Flaky {
        files: FileStore,
        up: AtomicBool,
    }

    impl Store for Flaky {
        fn describe(&self) -> String {
            "flaky".into()
        }
        fn token<'a>(&'a self, key: &'a TokenKey) -> StoreFuture<'a, Option<Cached>> {
            self.files.token(key)
        }
        fn put_token<'a>(&'a self, key: &'a TokenKey, entry: &'a Cached) -> StoreFuture<'a, std::io::Result<()>> {
            self.files.put_token(key, entry)
        }
        fn lease_token<'a>(
            &'a self,
            key: &'a TokenKey,
        ) -> StoreFuture<'a, Result<Option<crate::store::TokenLease>, StoreError>> {
            self.files.lease_token(key)
        }
        fn read_key<'a>(&'a self, _key: &'a str) -> StoreFuture<'a, Result<Option<String>, StoreError>> {
            let up = self.up.load(Ordering::SeqCst);
            Box::pin(async move {
                if up { Ok(Some("\"tok-1\"".into())) } else { Err(StoreError::Unavailable("Redis is away".into())) }
            })
        }
        fn ticket<'a>(&'a self, c: &'a str) -> StoreFuture<'a, Option<crate::store::Ticket>> {
            self.files.ticket(c)
        }
        fn put_ticket<'a>(&'a self, c: &'a str, t: &'a crate::store::Ticket) -> StoreFuture<'a, std::io::Result<()>> {
            self.files.put_ticket(c, t)
        }
        fn authorizers<'a>(&'a self, c: &'a str) -> StoreFuture<'a, std::io::Result<Vec<Authorizer>>> {
            self.files.authorizers(c)
        }
        fn authorizer<'a>(&'a self, c: &'a str, a: &'a str) -> StoreFuture<'a, std::io::Result<Option<Authorizer>>> {
            self.files.authorizer(c, a)
        }
        fn put_authorizer<'a>(&'a self, c: &'a str, r: &'a Authorizer) -> StoreFuture<'a, std::io::Result<()>> {
            self.files.put_authorizer(c, r)
        }
        fn open_journal(
            &self,
            name: &str,
            write: bool,
        ) -> Result<Option<crate::store::OpenJournal>, crate::store::JournalError> {
            self.files.open_journal(name, write)
        }
        fn open_event_log(
            &self,
            log: &std::path::Path,
            new_events: Option<std::sync::mpsc::Sender<serde_json::Map<String, Value>>>,
        ) -> std::io::Result<(crate::store::EventLog, usize)> {
            self.files.open_event_log(log, new_events)
        }
        fn event_reader(&self, log: &std::path::Path, account: Option<&str>) -> Box<dyn crate::store::EventReader> {
            self.files.event_reader(log, account)
        }
    }

    #[test]
    fn a_token_read_from_a_redis_key_still_serves_while_redis_is_away() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let store = Arc::new(Flaky { files: FileStore::new(None), up: AtomicBool::new(true) });
        let base = reqwest::Url::parse("http://127.0.0.1:9").expect("url");
        let creds = Credentials::RedisKey { appid: None, key: "ops:token".into() };
        let cache = TokenCache::new(
            creds,
            "http://127.0.0.1:9",
            store.clone(),
            Target::new(&base, Duration::from_secs(1)),
            None,
        );
        let http = reqwest::Client::new();
        rt.block_on(async {
            assert_eq!(cache.get(&http).await.expect("read"), "tok-1");
            store.up.store(false, Ordering::SeqCst);
            // Due for a re-read, which fails: the token read before goes on.
            if let Some(c) = cache.current.lock().await.as_mut() {
                c.obtained_at -= KEY_REREAD.as_secs() + 1;
            }
            assert_eq!(cache.get(&http).await.expect("from memory"), "tok-1");
            // Refused with Redis away: a network error, not a wait.
            let e = cache.refresh_after(&http, "tok-1").await.expect_err("fails");
            assert_eq!(e.kind, ErrorKind::Network, "{e:?}");
            assert!(e.errmsg.contains("Redis is away"), "{}", e.errmsg);
        });
    }
}
