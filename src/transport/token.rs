//! Access tokens: fetched from `cgi-bin/token`, shared by every call in flight (one refresh
//! at a time), and cached across runs in an owner-only file per API base, appid and secret,
//! locked while refreshing so that processes sharing the cache never fetch twice. A fetch that
//! failed is the answer for every call of the next [`FETCH_COOLDOWN`], so a broken token
//! endpoint costs one failed fetch, not one per call in flight.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;

use super::answer::{self, Target};
use crate::api::{ErrorKind, TOKEN_PATH, WxError};

/// How long a failed token fetch stands as the answer of every call before one is tried again.
pub const FETCH_COOLDOWN: Duration = Duration::from_secs(5);

/// Where tokens come from.
#[derive(Clone)]
pub enum Credentials {
    /// `WECHAT_ACCESS_TOKEN`: used as is, never fetched.
    Token(String),
    /// `WECHAT_APPID` and `WECHAT_APPSECRET`: tokens fetched and cached.
    AppSecret {
        appid: String,
        secret: String,
    },
    None,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Token(_) => f.write_str("Token(***)"),
            Credentials::AppSecret { appid, .. } => write!(f, "AppSecret {{ appid: {appid:?}, secret: *** }}"),
            Credentials::None => f.write_str("None"),
        }
    }
}

/// The cache file's content.
#[derive(Serialize, Deserialize, Clone, Debug)]
struct Cached {
    access_token: String,
    /// Unix seconds.
    expires_at: u64,
    /// Unix seconds when fetched; decides the refresh margin.
    #[serde(default)]
    obtained_at: u64,
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
    file: Option<PathBuf>,
    current: Mutex<Option<Cached>>,
    /// Every token seen in this run, for redaction (tokens may rotate mid-run).
    seen: std::sync::Mutex<Vec<String>>,
    /// The last failed fetch and when it ended.
    failed: std::sync::Mutex<Option<(Instant, WxError)>>,
    target: Target,
}

/// A short hash of the API base and the secret for the cache file's name: tokens of two
/// servers never mix, and a changed (or wrong) secret is not hidden by a token fetched with
/// the old one. SHA-1 cut to 64 bits: the name must not help anyone guess the secret.
fn identity(base: &str, secret: &str) -> String {
    use sha1::Digest;
    let mut h = sha1::Sha1::new();
    h.update(base.as_bytes());
    h.update([0u8]);
    h.update(secret.as_bytes());
    h.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect()
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
    pub fn new(creds: Credentials, base: &str, cache_dir: Option<PathBuf>, target: Target) -> TokenCache {
        let file = match (&creds, cache_dir) {
            (Credentials::AppSecret { appid, secret }, Some(dir)) => {
                let safe: String =
                    appid.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
                Some(dir.join("tokens").join(format!("{safe}-{}.json", identity(base, secret))))
            }
            _ => None,
        };
        let seen = match &creds {
            Credentials::Token(t) => vec![t.clone()],
            Credentials::AppSecret { secret, .. } => vec![secret.clone()],
            Credentials::None => Vec::new(),
        };
        TokenCache {
            creds,
            base: base.to_string(),
            file,
            current: Mutex::new(None),
            seen: std::sync::Mutex::new(seen),
            failed: std::sync::Mutex::new(None),
            target,
        }
    }

    pub fn appid(&self) -> Option<&str> {
        match &self.creds {
            Credentials::AppSecret { appid, .. } => Some(appid),
            _ => None,
        }
    }

    pub fn can_refresh(&self) -> bool {
        matches!(self.creds, Credentials::AppSecret { .. })
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
            Credentials::AppSecret { .. } => {}
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

    /// From the cache file if it holds a fresh token other than `bad`, else from WeChat.
    /// The file lock is held across the fetch so that concurrent processes fetch once.
    async fn obtain(&self, http: &reqwest::Client, bad: Option<&str>) -> Result<Cached, WxError> {
        let lock = match &self.file {
            Some(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || lock_file(&path)).await.ok().flatten()
            }
            None => None,
        };
        if let Some(path) = &self.file
            && let Some(c) = read_cache(path)
            && c.fresh(now())
            && Some(c.access_token.as_str()) != bad
        {
            self.remember(&c.access_token);
            return Ok(c);
        }
        let fetched = self.fetch(http).await?;
        if let Some(path) = &self.file {
            // A cache that cannot be written only costs a fetch next run.
            let _ = write_cache(path, &fetched);
        }
        drop(lock);
        Ok(fetched)
    }

    async fn fetch(&self, http: &reqwest::Client) -> Result<Cached, WxError> {
        let Credentials::AppSecret { appid, secret } = &self.creds else {
            return Err(WxError::new(ErrorKind::Auth, TOKEN_PATH, "no appid/secret to fetch a token with"));
        };
        let url = format!("{}/{}", self.base, TOKEN_PATH);
        let mut last = None;
        for attempt in 0..2 {
            if attempt > 0 {
                tokio::time::sleep(super::backoff(0)).await;
            }
            let resp = http
                .get(&url)
                .query(&[("grant_type", "client_credential"), ("appid", appid), ("secret", secret)])
                .send()
                .await;
            let mut resp = match resp {
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
            if let Some(t) = v.get("access_token").and_then(Value::as_str) {
                let expires_in = v.get("expires_in").and_then(Value::as_u64).unwrap_or(7200);
                let obtained_at = now();
                self.remember(t);
                return Ok(Cached { access_token: t.to_string(), expires_at: obtained_at + expires_in, obtained_at });
            }
            let code = v.get("errcode").and_then(Value::as_i64).unwrap_or(-1);
            let msg = v.get("errmsg").and_then(Value::as_str).unwrap_or("").to_string();
            if crate::api::errors::retry(code) == crate::api::errors::Retry::Backoff {
                last = Some(format!("HTTP {status}: errcode {code}: {msg}"));
                continue;
            }
            let mut e = WxError::api(TOKEN_PATH, code, self.redact(&msg));
            e.kind = ErrorKind::Auth;
            if e.hint.is_empty() {
                e.hint = "the appid/secret were refused: check WECHAT_APPID and WECHAT_APPSECRET".into();
            }
            return Err(e);
        }
        Err(WxError::new(
            ErrorKind::Network,
            TOKEN_PATH,
            format!("the token endpoint failed twice: {}", self.redact(&last.unwrap_or_default())),
        ))
    }
}

/// Takes the cache's lock file (owner-only); `None` when locking is impossible (the cache then
/// just races).
fn lock_file(path: &Path) -> Option<File> {
    let dir = path.parent()?;
    super::private_dir(dir).ok()?;
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let mut opts = OpenOptions::new();
    opts.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let f = opts.open(lock_path).ok()?;
    f.lock().ok()?;
    Some(f)
}

fn read_cache(path: &Path) -> Option<Cached> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// Written to a temporary file and renamed, owner-only, so readers never see half a token.
fn write_cache(path: &Path, c: &Cached) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    super::private_dir(dir)?;
    crate::util::write_atomic(path, Some(0o600), |f| f.write_all(&serde_json::to_vec(c).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_scales_with_life() {
        let c = Cached { access_token: "t".into(), expires_at: 7200, obtained_at: 0 };
        assert!(c.fresh(6899));
        assert!(!c.fresh(6900));
        let short = Cached { access_token: "t".into(), expires_at: 10, obtained_at: 0 };
        assert!(short.fresh(8));
        assert!(!short.fresh(9));
    }
}
