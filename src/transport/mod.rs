//! The HTTP side of a call: one pooled client per run, the accounts calls are made as (each
//! with its own token, token single-flight and rate limit), retries, cancellation and
//! redaction. It sends `api::check::Request`s as one account and returns WeChat's parsed
//! answer, or a `WxError`; it knows nothing of rhai.

mod answer;
mod platform;
mod rate;
mod token;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use reqwest::redirect;

use serde_json::Value;
use tokio::sync::Notify;

use crate::api::check::{Payload, Request, show};
use crate::api::errors::{self, Retry};
use crate::api::{ErrorKind, Method, WxError};
use crate::store::{FileStore, Store};
pub use answer::MAX_ANSWER;
use answer::{BodyError, Target};
pub use platform::{PlatformConfig, authorize_url};
pub use rate::RateLimit;
pub use token::{Credentials, FETCH_COOLDOWN, FORCE_INTERVAL, STABLE_TOKEN_PATH, TokenCache, TokenMode, TokenStatus};

/// The name of the account today's single-account set-up is.
pub const DEFAULT_ACCOUNT: &str = "default";

/// One account calls may be made as.
#[derive(Clone, Debug)]
pub struct AccountConfig {
    /// `default`, a config file's `[accounts.NAME]`, or a simulator account's appid.
    pub name: String,
    pub credentials: Credentials,
    /// This account's own request rate; `None`: the run-wide one.
    pub qps: Option<f64>,
}

/// Where and how to talk to WeChat.
#[derive(Clone, Debug)]
pub struct Config {
    /// API root without trailing slash, e.g. `https://api.weixin.qq.com`.
    pub base: String,
    /// The `default` account's credentials.
    pub credentials: Credentials,
    /// The other accounts (named in the config file, or the simulator's).
    pub accounts: Vec<AccountConfig>,
    /// Total time for one HTTP request.
    pub timeout: Duration,
    /// Directory for the file store's token cache and other run-to-run caches; `None` keeps
    /// tokens in memory only.
    pub cache_dir: Option<std::path::PathBuf>,
    /// Run-wide limit on requests per second, sequential or parallel.
    pub qps: Option<f64>,
    /// The third-party platform the authorizer accounts belong to, if any.
    pub platform: Option<PlatformConfig>,
}

impl Config {
    /// Reads `WECHAT_API_BASE`, `WECHAT_ACCESS_TOKEN`, `WECHAT_APPID`/`WECHAT_APPSECRET`.
    pub fn from_env() -> Config {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let credentials = match (var("WECHAT_ACCESS_TOKEN"), var("WECHAT_APPID"), var("WECHAT_APPSECRET")) {
            (Some(t), _, _) => Credentials::Token(t),
            (None, Some(appid), Some(secret)) => Credentials::AppSecret { appid, secret, mode: TokenMode::Stable },
            _ => Credentials::None,
        };
        Config {
            base: var("WECHAT_API_BASE").unwrap_or_else(|| "https://api.weixin.qq.com".into()),
            credentials,
            accounts: Vec::new(),
            timeout: Duration::from_secs(30),
            cache_dir: default_cache_dir(),
            // `config::transport_config` reads WXSCRIPT_QPS, with the range `--qps` has.
            qps: None,
            platform: None,
        }
    }
}

/// `$WXSCRIPT_CACHE_DIR`, else the user's cache directory + `wxscript`.
pub fn default_cache_dir() -> Option<std::path::PathBuf> {
    match std::env::var_os("WXSCRIPT_CACHE_DIR") {
        Some(d) if !d.is_empty() => Some(d.into()),
        _ => dirs::cache_dir().map(|d| d.join("wxscript")),
    }
}

pub use crate::store::private_dir;

/// A run-wide cancellation signal (Ctrl-C): in-flight requests are abandoned at once.
#[derive(Default)]
pub struct Cancel {
    flag: AtomicBool,
    notify: Notify,
}

impl Cancel {
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
    /// Re-arms the signal (the REPL cancels one call, then goes on).
    pub fn reset(&self) {
        self.flag.store(false, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
    pub async fn cancelled(&self) {
        loop {
            let n = self.notify.notified();
            if self.is_cancelled() {
                return;
            }
            n.await;
        }
    }
}

/// Retries for errcode -1, 45009 and transient network failures.
const MAX_RETRIES: u32 = 3;

/// The message of a cancellation that came before the request was sent.
pub const CANCELLED_UNSENT: &str = "cancelled before the request was sent";

/// Backoff before retry `n` (0-based): 0.5 s doubling to at most 8 s, with jitter in [50%, 100%].
pub fn backoff(n: u32) -> Duration {
    let base = (500u64 << n.min(4)).min(8000);
    Duration::from_millis(base / 2 + fastrand::u64(0..=base / 2))
}

/// The index of the account named `name`, or else whose appid is `name`, among `(name, appid)`
/// pairs.
pub fn find_account(name: &str, accounts: &[(String, Option<String>)]) -> Option<usize> {
    accounts
        .iter()
        .position(|(n, _)| n == name)
        .or_else(|| accounts.iter().position(|(_, a)| a.as_deref() == Some(name)))
}

/// `no account "shop-x"; did you mean "shop-a"? (accounts: default, shop-a)`.
pub fn unknown_account(name: &str, accounts: &[(String, Option<String>)]) -> String {
    let names = accounts.iter().flat_map(|(n, a)| std::iter::once(n.as_str()).chain(a.as_deref()));
    let nearest =
        crate::api::check::did_you_mean(name, names).map(|n| format!("; did you mean {n:?}?")).unwrap_or_default();
    let all: Vec<&str> = accounts.iter().map(|(n, _)| n.as_str()).collect();
    format!("no account {name:?}{nearest} (accounts: {})", all.join(", "))
}

/// One account's transport state.
pub struct Account {
    pub name: String,
    tokens: TokenCache,
    rate: RateLimit,
    /// The account's own `qps`, else the run-wide one (for `account::list()`).
    qps: Option<f64>,
}

impl Account {
    pub fn appid(&self) -> Option<&str> {
        self.tokens.appid()
    }

    pub fn kind(&self) -> &'static str {
        self.tokens.credentials().kind()
    }

    pub fn qps(&self) -> Option<f64> {
        self.qps
    }

    /// Where its token comes from, its time left and the last fetch error; never fetches.
    pub async fn status(&self) -> TokenStatus {
        self.tokens.status().await
    }

    /// `name (wx1111…)`, as errors name the account.
    pub fn label(&self) -> String {
        label(&self.name, self.appid())
    }
}

/// An account as errors and reports name it: `shop-a (wx1111…)`, or the bare name when it is
/// the appid.
fn label(name: &str, appid: Option<&str>) -> String {
    match appid {
        Some(a) if a != name => {
            let short: String = a.chars().take(6).collect();
            let more = if a.chars().count() > 6 { "…" } else { "" };
            format!("{name} ({short}{more})")
        }
        _ => name.to_string(),
    }
}

/// One client per run, shared by every call in flight.
pub struct Client {
    http: reqwest::Client,
    base: String,
    /// `default` first, then the others in their configured order, then the platform's
    /// authorizers found in the store (appended as they become known: an index never changes).
    accounts: RwLock<Vec<Arc<Account>>>,
    /// What new accounts are built with.
    store: Arc<dyn Store>,
    run_qps: Option<f64>,
    /// Whether the run knows more than one account (then rate reports name theirs).
    several: bool,
    /// The third-party platform: its component token.
    platform: Option<platform::Platform>,
    cache_dir: Option<std::path::PathBuf>,
    target: Target,
    /// Whether the base is on this machine's loopback, where a simulator may serve.
    loopback: bool,
    pub cancel: Arc<Cancel>,
}

fn net_err(api: &str, msg: impl Into<String>) -> WxError {
    WxError::new(ErrorKind::Network, api, msg)
}

impl Client {
    /// A client whose tokens are kept in the file store under `cfg.cache_dir`.
    pub fn new(cfg: Config, cancel: Arc<Cancel>) -> Result<Client, WxError> {
        let store = Arc::new(FileStore::new(cfg.cache_dir.clone()));
        Client::with_store(cfg, store, cancel)
    }

    /// A client whose tokens are kept in `store`, the one the session hands down.
    pub fn with_store(cfg: Config, store: Arc<dyn Store>, cancel: Arc<Cancel>) -> Result<Client, WxError> {
        let base = cfg.base.trim_end_matches('/').to_string();
        let url = check_base(&base)?;
        let http = reqwest::Client::builder()
            .connect_timeout(answer::CONNECT_TIMEOUT)
            .timeout(cfg.timeout)
            // WeChat never redirects; following one would carry the token, or the appid and
            // secret, to another host.
            .redirect(redirect::Policy::none())
            .pool_max_idle_per_host(64)
            .user_agent(concat!("wxscript/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| net_err("client", format!("cannot build the HTTP client: {e}")))?;
        let target = Target::new(&url, cfg.timeout);
        let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
        let loopback =
            host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let default = AccountConfig { name: DEFAULT_ACCOUNT.into(), credentials: cfg.credentials, qps: None };
        let platform = cfg.platform.map(|p| platform::Platform::new(p, &base, store.clone(), target.clone()));
        let mut client = Client {
            http,
            base,
            accounts: RwLock::new(Vec::new()),
            store,
            run_qps: cfg.qps,
            several: !cfg.accounts.is_empty() || platform.is_some(),
            platform,
            cache_dir: cfg.cache_dir,
            target,
            loopback,
            cancel,
        };
        let accounts =
            std::iter::once(default).chain(cfg.accounts).map(|a| Arc::new(client.build_account(a))).collect();
        client.accounts = RwLock::new(accounts);
        Ok(client)
    }

    /// An account's transport state: its tokens (an authorizer's through the platform) and its
    /// rate limit, which names the account in its reports when there are several (WeChat's
    /// limits are per account).
    fn build_account(&self, a: AccountConfig) -> Account {
        let qps = a.qps.or(self.run_qps);
        let component = self.platform.as_ref().map(|p| p.tokens.clone());
        let tokens = TokenCache::new(a.credentials, &self.base, self.store.clone(), self.target.clone(), component);
        let mut rate = RateLimit::new(qps, true);
        if let Some(appid) = tokens.appid() {
            // With a shared store, the account's rate holds for every host together.
            rate = rate.shared(self.store.clone(), appid);
        }
        if self.several {
            rate = rate.of_account(label(&a.name, tokens.appid()));
        }
        Account { tokens, rate, qps, name: a.name }
    }

    /// Adds the platform's authorizers that the store knows and no account names yet (a
    /// listener or another run may have stored them since), each named by its appid.
    pub async fn adopt_authorizers(&self) {
        let Some(p) = &self.platform else { return };
        // A store out of reach adds none now; the next look does.
        let stored = self.store.authorizers(&p.appid).await.unwrap_or_default();
        let mut accounts = self.accounts.write().unwrap_or_else(|e| e.into_inner());
        for a in stored {
            if !accounts.iter().any(|acc| acc.appid() == Some(a.appid.as_str())) {
                let cfg = AccountConfig {
                    name: a.appid.clone(),
                    credentials: Credentials::Authorizer { appid: a.appid },
                    qps: None,
                };
                accounts.push(Arc::new(self.build_account(cfg)));
            }
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Whether the API base is on loopback: a simulator serves only there, so a base elsewhere
    /// is never asked whether it is one (on WeChat that would be a wasted, odd request).
    pub fn on_loopback(&self) -> bool {
        self.loopback
    }

    /// Where run-to-run caches live, if anywhere (`None` for a throw-away sandbox).
    pub fn cache_dir(&self) -> Option<&std::path::Path> {
        self.cache_dir.as_deref()
    }

    /// The accounts, `default` first.
    pub fn accounts(&self) -> Vec<Arc<Account>> {
        self.accounts.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The account at `index`, else `default`.
    pub fn account(&self, index: usize) -> Arc<Account> {
        let accounts = self.accounts.read().unwrap_or_else(|e| e.into_inner());
        accounts.get(index).unwrap_or(&accounts[0]).clone()
    }

    /// Each account's name and appid, `default` first.
    pub fn account_names(&self) -> Vec<(String, Option<String>)> {
        self.accounts().iter().map(|a| (a.name.clone(), a.appid().map(str::to_string))).collect()
    }

    /// The `default` account's appid, if any (never the secret).
    pub fn appid(&self) -> Option<String> {
        self.account(0).appid().map(str::to_string)
    }

    /// Replaces every secret this client knows, of every account and the platform, in `s`.
    pub fn redact(&self, s: &str) -> String {
        let out = self.accounts().iter().fold(s.to_string(), |out, a| a.tokens.redact(&out));
        match &self.platform {
            Some(p) => p.tokens.redact(&out),
            None => out,
        }
    }

    /// Obtains account `index`'s token, from the store or by fetching one: proof that its
    /// credentials (own), its refresh token and the platform's ticket (authorizer) work. A
    /// fixed token is taken as given.
    pub async fn check_account(&self, index: usize) -> Result<(), WxError> {
        let account = self.account(index);
        tokio::select! {
            r = account.tokens.get(&self.http) => r.map(|_| ()).map_err(|e| self.scrub(e)),
            _ = self.cancel.cancelled() => Err(WxError::new(ErrorKind::Cancelled, "token", "cancelled")),
        }
    }

    /// Sends a request as the account at `account` with its token, retrying what is safe to
    /// retry. Returns the parsed answer with `errcode` 0 (or none); a non-zero errcode is an
    /// `Api` error.
    pub async fn send(&self, account: usize, req: &Request) -> Result<Value, WxError> {
        let account = self.account(account);
        self.send_as(&account.tokens, &account.rate, req).await
    }

    /// Sends with these tokens and this rate limit, until done or cancelled. A cancellation
    /// before the request went out (while its token was fetched, or its rate slot awaited) says
    /// so with [`CANCELLED_UNSENT`]: nothing can have taken effect.
    async fn send_as(&self, tokens: &TokenCache, rate: &RateLimit, req: &Request) -> Result<Value, WxError> {
        let sent = std::sync::atomic::AtomicBool::new(false);
        tokio::select! {
            r = self.send_inner(tokens, rate, req, &sent) => r.map_err(|e| self.scrub(e)),
            _ = self.cancel.cancelled() => {
                let msg = if sent.load(std::sync::atomic::Ordering::Relaxed) { "cancelled" } else { CANCELLED_UNSENT };
                Err(WxError::new(ErrorKind::Cancelled, &req.api, msg))
            }
        }
    }

    fn scrub(&self, mut e: WxError) -> WxError {
        e.errmsg = self.redact(&e.errmsg);
        e
    }

    async fn send_inner(
        &self,
        tokens: &TokenCache,
        rate: &RateLimit,
        req: &Request,
        sent: &std::sync::atomic::AtomicBool,
    ) -> Result<Value, WxError> {
        let mut retries = 0;
        let mut refreshed = false;
        loop {
            let token = match req.token {
                crate::api::TokenKind::None => String::new(),
                _ => tokens.get(&self.http).await?,
            };
            rate.acquire().await;
            sent.store(true, std::sync::atomic::Ordering::Relaxed);
            let outcome = self.attempt(req, &token).await;
            let retry = match outcome {
                Ok(answer) => {
                    let code = answer.get("errcode").and_then(Value::as_i64).unwrap_or(0);
                    if code != 45009 {
                        rate.succeeded();
                    }
                    if code == 0 {
                        return Ok(answer);
                    }
                    let msg = req.answer.errmsg(&answer).to_string();
                    if let Some((_, hint)) = req.own_codes.iter().find(|(c, _)| *c == code) {
                        return Err(WxError::api(&req.api, code, msg).with_hint(*hint));
                    }
                    match errors::retry(code) {
                        Retry::Never => return Err(WxError::api(&req.api, code, msg)),
                        Retry::Refresh => {
                            if refreshed || !tokens.can_refresh() {
                                return Err(WxError::api(&req.api, code, msg).with_kind(ErrorKind::Auth));
                            }
                            refreshed = true;
                            tokens.refresh_after(&self.http, &token).await?;
                            continue;
                        }
                        Retry::Backoff => {
                            // The quota code asks for a lower rate, not only a pause.
                            if code == 45009 {
                                rate.slow_down();
                            }
                            WxError::api(&req.api, code, msg)
                        }
                    }
                }
                Err(Failure::NotSent(e)) => e,
                Err(Failure::Unknown(mut e)) => {
                    if let Some(unknown) = req.policy.unknown_outcome() {
                        e.errmsg = format!("{} (the request was sent, so {unknown})", e.errmsg);
                        return Err(e);
                    }
                    e
                }
                Err(Failure::Final(e)) => return Err(e),
            };
            if retries >= MAX_RETRIES {
                let mut e = retry;
                e.errmsg = format!("{} (after {} retries)", e.errmsg, retries);
                return Err(e);
            }
            tokio::time::sleep(backoff(retries)).await;
            retries += 1;
        }
    }

    async fn attempt(&self, req: &Request, token: &str) -> Result<Value, Failure> {
        // One URL string: the query builder would re-parse and re-serialise it per pair.
        let mut url = format!("{}/{}", self.base, req.api);
        let mut sep = '?';
        let pairs = (!token.is_empty()).then_some((req.token.param(), token)).into_iter();
        for (k, v) in pairs.chain(req.query.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
            url.push(sep);
            url.push_str(&form_encode(k));
            url.push('=');
            url.push_str(&form_encode(v));
            sep = '&';
        }
        let mut rb = match req.method {
            Method::Get => self.http.get(&url),
            Method::Post => self.http.post(&url),
        };
        rb = match &req.payload {
            Payload::None => rb,
            Payload::Json(v) => {
                rb.header("content-type", "application/json").body(serde_json::to_vec(v).unwrap_or_default())
            }
            Payload::File { part, file_name, bytes } => {
                let p = reqwest::multipart::Part::bytes(bytes.clone()).file_name(file_name.clone());
                rb.multipart(reqwest::multipart::Form::new().part(part.clone(), p))
            }
        };
        let mut resp = rb.send().await.map_err(|e| self.classify(&req.api, e))?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(Failure::Final(net_err(&req.api, answer::redirect_refused(status))));
        }
        let body = answer::read_body(&mut resp).await.map_err(|e| {
            let unknown = matches!(e, BodyError::Read(_));
            let e = net_err(&req.api, e.describe(&self.target));
            if unknown { Failure::Unknown(e) } else { Failure::Final(e) }
        })?;
        match serde_json::from_slice::<Value>(&body) {
            Ok(v @ Value::Object(_)) => Ok(v),
            _ => {
                let snippet = answer::snippet(&body);
                let e = net_err(&req.api, format!("HTTP {status}: the answer is not WeChat JSON: {snippet}"));
                Err(if status.is_server_error() { Failure::Unknown(e) } else { Failure::Final(e) })
            }
        }
    }

    /// A failed request named by its root cause, and whether it may have reached the server.
    fn classify(&self, api: &str, e: reqwest::Error) -> Failure {
        let msg = net_err(api, self.target.describe(&e));
        if e.is_connect() { Failure::NotSent(msg) } else { Failure::Unknown(msg) }
    }

    /// A request to a path of the same server without a token, retries or rate limit, answered
    /// with any JSON (the simulator's own routes are such paths).
    pub async fn plain(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, WxError> {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let rb = match method {
            Method::Get => self.http.get(&url),
            Method::Post => self.http.post(&url).json(&body.unwrap_or(Value::Null)),
        };
        let mut resp = rb.send().await.map_err(|e| net_err(path, self.target.describe(&e)))?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(net_err(path, answer::redirect_refused(status)));
        }
        let body = answer::read_body(&mut resp).await.map_err(|e| net_err(path, e.describe(&self.target)))?;
        serde_json::from_slice(&body).map_err(|_| {
            let text = String::from_utf8_lossy(&body).into_owned();
            net_err(
                path,
                format!("HTTP {status}: the answer from {} is not JSON: {}", self.base, show(&Value::String(text))),
            )
        })
    }
}

/// The API base as a URL, refused at start unless it is `http(s)://host[...]`: a base without
/// a scheme would otherwise fail every request with a message that does not say why.
fn check_base(base: &str) -> Result<reqwest::Url, WxError> {
    reqwest::Url::parse(base)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()))
        .filter(|u| u.query().is_none() && u.fragment().is_none())
        .ok_or_else(|| {
            WxError::new(
                ErrorKind::Usage,
                "config",
                format!(
                    "the API base {base:?} (WECHAT_API_BASE, or api_base in the config file) must be an http:// or https:// URL without query, e.g. https://api.weixin.qq.com or http://127.0.0.1:8700"
                ),
            )
        })
}

/// Percent-encodes a query component (unreserved characters stay as they are).
fn form_encode(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b)) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    std::borrow::Cow::Owned(out)
}

/// How an attempt failed, which decides whether it may be repeated.
enum Failure {
    /// The request never reached the server: safe to retry.
    NotSent(WxError),
    /// It may have been processed: retry only what is not a create.
    Unknown(WxError),
    /// Retrying cannot help.
    Final(WxError),
}

impl WxError {
    fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }
}
