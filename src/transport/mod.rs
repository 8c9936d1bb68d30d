//! The HTTP side of a call: one pooled client per run, tokens, retries, cancellation and
//! redaction. It sends `api::check::Request`s and returns WeChat's parsed answer, or a
//! `WxError`; it knows nothing of rhai.

mod token;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;

use crate::api::Policy;
use crate::api::check::{Payload, Request, show};
use crate::api::errors::{self, Retry};
use crate::api::{ErrorKind, Method, WxError};
pub use token::{Credentials, TokenCache};

/// Where and how to talk to WeChat.
#[derive(Clone, Debug)]
pub struct Config {
    /// API root without trailing slash, e.g. `https://api.weixin.qq.com`.
    pub base: String,
    pub credentials: Credentials,
    /// Total time for one HTTP request.
    pub timeout: Duration,
    /// Directory for the token cache; `None` keeps tokens in memory only.
    pub cache_dir: Option<std::path::PathBuf>,
    /// Run-wide limit on requests per second, sequential or parallel.
    pub qps: Option<f64>,
}

impl Config {
    /// Reads `WECHAT_API_BASE`, `WECHAT_ACCESS_TOKEN`, `WECHAT_APPID`/`WECHAT_APPSECRET`.
    pub fn from_env() -> Config {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let credentials = match (var("WECHAT_ACCESS_TOKEN"), var("WECHAT_APPID"), var("WECHAT_APPSECRET")) {
            (Some(t), _, _) => Credentials::Token(t),
            (None, Some(appid), Some(secret)) => Credentials::AppSecret { appid, secret },
            _ => Credentials::None,
        };
        Config {
            base: var("WECHAT_API_BASE").unwrap_or_else(|| "https://api.weixin.qq.com".into()),
            credentials,
            timeout: Duration::from_secs(30),
            cache_dir: default_cache_dir(),
            qps: var("WXSCRIPT_QPS").and_then(|q| q.parse::<f64>().ok()).filter(|q| *q > 0.0),
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

/// Backoff before retry `n` (0-based): 0.5 s doubling to at most 8 s, with jitter in [50%, 100%].
pub fn backoff(n: u32) -> Duration {
    let base = (500u64 << n.min(4)).min(8000);
    Duration::from_millis(base / 2 + fastrand::u64(0..=base / 2))
}

/// Spaces requests evenly: each caller takes the next free slot and waits for it.
pub struct RateLimit {
    /// Time between two requests; `None` means unlimited.
    state: tokio::sync::Mutex<(Option<Duration>, tokio::time::Instant)>,
    /// Whether any limit applies: the common unlimited case takes no lock.
    limited: AtomicBool,
}

impl RateLimit {
    pub fn new(qps: Option<f64>) -> RateLimit {
        let interval = qps.filter(|q| *q > 0.0 && q.is_finite()).map(|q| Duration::from_secs_f64(1.0 / q));
        let limited = AtomicBool::new(interval.is_some());
        RateLimit { state: tokio::sync::Mutex::new((interval, tokio::time::Instant::now())), limited }
    }

    pub async fn acquire(&self) {
        if !self.limited.load(Ordering::Relaxed) {
            return;
        }
        let slot = {
            let mut st = self.state.lock().await;
            let Some(interval) = st.0 else { return };
            let now = tokio::time::Instant::now();
            let slot = st.1.max(now);
            st.1 = slot + interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// WeChat said 45009 (frequency limit): halve the rate, or start limiting at 20/s.
    pub async fn slow_down(&self) {
        let mut st = self.state.lock().await;
        self.limited.store(true, Ordering::Relaxed);
        st.0 = Some(match st.0 {
            Some(i) => (i * 2).min(Duration::from_secs(1)),
            None => Duration::from_millis(50),
        });
    }
}

/// One client per run, shared by every call in flight.
pub struct Client {
    http: reqwest::Client,
    base: String,
    tokens: TokenCache,
    rate: RateLimit,
    cache_dir: Option<std::path::PathBuf>,
    pub cancel: Arc<Cancel>,
}

fn net_err(api: &str, msg: impl Into<String>) -> WxError {
    WxError::new(ErrorKind::Network, api, msg)
}

impl Client {
    pub fn new(cfg: Config, cancel: Arc<Cancel>) -> Result<Client, WxError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(cfg.timeout)
            .pool_max_idle_per_host(64)
            .user_agent(concat!("wxscript/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| net_err("client", format!("cannot build the HTTP client: {e}")))?;
        let base = cfg.base.trim_end_matches('/').to_string();
        let tokens = TokenCache::new(cfg.credentials, &base, cfg.cache_dir.clone());
        Ok(Client { http, base, tokens, rate: RateLimit::new(cfg.qps), cache_dir: cfg.cache_dir, cancel })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Where run-to-run caches live, if anywhere (`None` for a throw-away sandbox).
    pub fn cache_dir(&self) -> Option<&std::path::Path> {
        self.cache_dir.as_deref()
    }

    /// The appid in use, if any (never the secret).
    pub fn appid(&self) -> Option<&str> {
        self.tokens.appid()
    }

    /// Replaces every secret this client knows in `s`.
    pub fn redact(&self, s: &str) -> String {
        self.tokens.redact(s)
    }

    /// Sends a request with a token, retrying what is safe to retry. Returns the parsed answer
    /// with `errcode` 0 (or none); a non-zero errcode is an `Api` error.
    pub async fn send(&self, req: &Request) -> Result<Value, WxError> {
        tokio::select! {
            r = self.send_inner(req) => r.map_err(|e| self.scrub(e)),
            _ = self.cancel.cancelled() => Err(WxError::new(ErrorKind::Cancelled, &req.api, "cancelled")),
        }
    }

    fn scrub(&self, mut e: WxError) -> WxError {
        e.errmsg = self.redact(&e.errmsg);
        e
    }

    async fn send_inner(&self, req: &Request) -> Result<Value, WxError> {
        let mut retries = 0;
        let mut refreshed = false;
        loop {
            let token = self.tokens.get(&self.http).await?;
            self.rate.acquire().await;
            let outcome = self.attempt(req, &token).await;
            let retry = match outcome {
                Ok(answer) => {
                    let code = answer.get("errcode").and_then(Value::as_i64).unwrap_or(0);
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
                            if refreshed || !self.tokens.can_refresh() {
                                return Err(WxError::api(&req.api, code, msg).with_kind(ErrorKind::Auth));
                            }
                            refreshed = true;
                            self.tokens.refresh_after(&self.http, &token).await?;
                            continue;
                        }
                        Retry::Backoff => {
                            // The quota code asks for a lower rate, not only a pause.
                            if code == 45009 {
                                self.rate.slow_down().await;
                            }
                            WxError::api(&req.api, code, msg)
                        }
                    }
                }
                Err(Failure::NotSent(e)) => e,
                Err(Failure::Unknown(mut e)) => {
                    if let Policy::Create { verify } = req.policy {
                        e.errmsg = format!(
                            "{} (the request was sent, so whether it took effect is unknown; it was not re-sent to avoid a duplicate: check with {})",
                            e.errmsg,
                            if verify.is_empty() { "a read of the same data" } else { verify }
                        );
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
        let pairs = (!token.is_empty()).then_some(("access_token", token)).into_iter();
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
        let resp = rb.send().await.map_err(|e| classify(&req.api, e))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| {
            Failure::Unknown(net_err(&req.api, format!("reading the answer failed: {}", e.without_url())))
        })?;
        match serde_json::from_slice::<Value>(&body) {
            Ok(v @ Value::Object(_)) => Ok(v),
            _ => {
                let text = String::from_utf8_lossy(&body);
                let snippet: String = text.chars().take(200).collect();
                let e = net_err(&req.api, format!("HTTP {status}: the answer is not WeChat JSON: {snippet}"));
                Err(if status.is_server_error() { Failure::Unknown(e) } else { Failure::Final(e) })
            }
        }
    }

    /// A request to a path of the same server without a token, retries or rate limit, answered
    /// with any JSON (the simulator's own routes are such paths).
    pub async fn plain(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, WxError> {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let rb = match method {
            Method::Get => self.http.get(&url),
            Method::Post => self.http.post(&url).json(&body.unwrap_or(Value::Null)),
        };
        let resp = rb.send().await.map_err(|e| net_err(path, e.without_url().to_string()))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| net_err(path, e.without_url().to_string()))?;
        serde_json::from_str(&text).map_err(|_| {
            net_err(
                path,
                format!("HTTP {status}: the answer from {} is not JSON: {}", self.base, show(&Value::String(text))),
            )
        })
    }
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

fn classify(api: &str, e: reqwest::Error) -> Failure {
    let connect = e.is_connect();
    let timeout = e.is_timeout();
    let msg = {
        let e = e.without_url();
        let mut s = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(inner) = src {
            s.push_str(": ");
            s.push_str(&inner.to_string());
            src = inner.source();
        }
        s
    };
    if connect {
        Failure::NotSent(net_err(api, format!("cannot connect: {msg}")))
    } else if timeout {
        Failure::Unknown(net_err(api, format!("timed out: {msg}")))
    } else {
        Failure::Unknown(net_err(api, msg))
    }
}

impl WxError {
    fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }
}
