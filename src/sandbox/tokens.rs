//! Access tokens of the simulated accounts, in WeChat's two families, each token belonging to
//! one own account:
//!
//! - classic, `cgi-bin/token`: every fetch issues a new token, and the account's previous
//!   classic token keeps working for `--token-overlap` seconds (WeChat: 5 minutes), then answers
//!   40001. Two programs fetching tokens for one account thus invalidate each other, as on
//!   WeChat.
//! - stable, `cgi-bin/stable_token`: every caller gets the account's current stable token, which
//!   classic fetches do not disturb. A new one is issued when none is alive, or early when less
//!   than [`STABLE_EARLY_SECS`] are left (the old one lives on to its expiry). `force_refresh:
//!   true` issues a new one and kills the previous one at once, at most [`FORCE_PER_DAY`] times a
//!   simulated day (then 45009) and only [`FORCE_SPACING_MS`] after the last forced one: sooner,
//!   WeChat does not refresh, so the call is answered as an unforced one.
//!
//! Authorizer tokens (the platform hands them out, `platform`) are classic-like tokens of the
//! authorizer's account that nothing supersedes. All expire after `--token-ttl`; `/_sandbox/expire_tokens` expires every token at once.
//! `/_sandbox/revoke_tokens` makes an account's tokens answer 40001 while `stable_token` keeps
//! handing out the revoked one until a forced refresh: the case a client answers by forcing.

use std::collections::HashMap;

use axum::extract::Request;
use axum::http::Method as HttpMethod;
use serde_json::{Value, json};

use super::{Shared, fail, invalid, lock, random_id};

/// A stable token with less than this left (WeChat: 5 minutes; at most a quarter of the
/// lifetime, for short `--token-ttl`s) is renewed by the next unforced call.
pub(crate) const STABLE_EARLY_SECS: u64 = 300;
/// Forced refreshes one account may make per simulated day (China's).
pub(crate) const FORCE_PER_DAY: u32 = 20;
/// The least time between two forced refreshes that both take effect.
pub(crate) const FORCE_SPACING_MS: u64 = 30_000;

/// Every token issued, and each account's current ones.
pub(super) struct Tokens {
    issued: HashMap<String, Issued>,
    /// By account index.
    accounts: Vec<Current>,
}

struct Issued {
    account: usize,
    /// Simulated Unix milliseconds.
    expires_ms: u64,
    /// When it stops working before its expiry: a classic token superseded (after the overlap),
    /// a stable one forced out (at once).
    dies_ms: Option<u64>,
    stable: bool,
    /// Answers 40001 although it is still the account's current token.
    revoked: bool,
}

/// Which of an account's tokens `/_sandbox/revoke_tokens` revokes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    Classic,
    Stable,
    All,
}

#[derive(Default)]
struct Current {
    classic: Option<String>,
    stable: Option<String>,
    /// The China day of `forced_today`.
    forced_day: u64,
    forced_today: u32,
    last_forced_ms: Option<u64>,
}

impl Tokens {
    pub(super) fn new(accounts: usize) -> Self {
        Tokens { issued: HashMap::new(), accounts: (0..accounts).map(|_| Current::default()).collect() }
    }

    /// Every token expires now (`/_sandbox/expire_tokens`).
    pub(super) fn expire_all(&mut self, now: u64) {
        for t in self.issued.values_mut() {
            t.expires_ms = t.expires_ms.min(now);
        }
    }

    /// Revokes every token of `account` in `family`; returns how many.
    pub(super) fn revoke(&mut self, account: usize, family: Family) -> usize {
        let mut n = 0;
        for t in self.issued.values_mut().filter(|t| t.account == account && !t.revoked) {
            if family == Family::All || (family == Family::Stable) == t.stable {
                t.revoked = true;
                n += 1;
            }
        }
        n
    }

    pub(super) fn issue(&mut self, account: usize, now: u64, ttl: u64, stable: bool) -> String {
        if self.issued.len() > 10_000 {
            // Forget long-dead tokens so a client fetching in a loop cannot grow the map forever.
            self.issued.retain(|_, t| now.saturating_sub(t.expires_ms) < 3_600_000);
        }
        let tok = random_id(96);
        let expires_ms = now.saturating_add(ttl.saturating_mul(1000));
        self.issued.insert(tok.clone(), Issued { account, expires_ms, dies_ms: None, stable, revoked: false });
        tok
    }

    /// A token still working at `now`, with its milliseconds left.
    fn alive(&self, tok: &str, now: u64) -> Option<u64> {
        let t = self.issued.get(tok)?;
        let end = t.dies_ms.map_or(t.expires_ms, |d| d.min(t.expires_ms));
        (end > now).then(|| end - now)
    }
}

/// The account a token belongs to, or 41001 / 40014 / 40001 / 42001 for a missing, malformed,
/// unknown or superseded, or expired token.
pub(super) fn check(sh: &Shared, token: &str) -> Result<usize, Value> {
    if token.is_empty() {
        return Err(fail(41001, ""));
    }
    // Tokens are drawn from the media-id alphabet: anything else cannot be one at all.
    if !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(fail(40014, ""));
    }
    let now = sh.clock.now_ms();
    let tokens = lock(&sh.tokens);
    match tokens.issued.get(token) {
        None => Err(fail(40001, "")),
        Some(t) if now >= t.expires_ms => Err(fail(42001, "")),
        Some(t) if t.dies_ms.is_some_and(|d| now >= d) => {
            Err(fail(40001, format!("a newer token of {} replaced this one", sh.accounts[t.account].appid)))
        }
        Some(t) if t.revoked => Err(fail(40001, format!("this token of {} was revoked", sh.accounts[t.account].appid))),
        Some(t) => Ok(t.account),
    }
}

/// The own account `appid` with `secret`, or 40013 / 40125. An authorizer is not one: only the
/// platform gets its tokens.
fn account(sh: &Shared, appid: &str, secret: &str) -> Result<usize, Value> {
    let idx = sh.account(appid).filter(|i| !sh.accounts[*i].authorizer).ok_or_else(|| fail(40013, ""))?;
    if sh.accounts[idx].secret != secret {
        return Err(fail(40125, ""));
    }
    Ok(idx)
}

/// The own account a token request names with `grant_type=client_credential`, its `appid`
/// and its `secret` (read with `get`, from the query or the JSON body).
fn credentials<'a>(sh: &Shared, get: impl Fn(&str) -> &'a str) -> Result<usize, Value> {
    if get("grant_type") != "client_credential" {
        return Err(fail(40002, ""));
    }
    account(sh, get("appid"), get("secret"))
}

fn answer(tok: &str, left_ms: u64) -> Value {
    json!({ "access_token": tok, "expires_in": left_ms.div_ceil(1000) })
}

/// `GET cgi-bin/token`: a new token of the account; its previous classic token dies after the
/// overlap.
pub(super) fn classic(sh: &Shared, method: &HttpMethod, q: &HashMap<String, String>) -> Value {
    if method != HttpMethod::GET {
        return fail(43001, "");
    }
    let idx = match credentials(sh, |k| q.get(k).map(String::as_str).unwrap_or("")) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let now = sh.clock.now_ms();
    let tok = {
        let mut tokens = lock(&sh.tokens);
        let tok = tokens.issue(idx, now, sh.token_ttl, false);
        if let Some(prev) = tokens.accounts[idx].classic.replace(tok.clone())
            && let Some(p) = tokens.issued.get_mut(&prev)
        {
            p.dies_ms.get_or_insert(now.saturating_add(sh.token_overlap.saturating_mul(1000)));
        }
        tok
    };
    *lock(&sh.stats).token_fetches_by_appid.entry(sh.accounts[idx].appid.clone()).or_default() += 1;
    answer(&tok, sh.token_ttl.saturating_mul(1000))
}

/// `POST cgi-bin/stable_token {grant_type, appid, secret, force_refresh}`.
pub(super) async fn stable(sh: &Shared, req: Request) -> Value {
    if req.method() != HttpMethod::POST {
        return fail(43002, "");
    }
    let body = match super::json_body(req, 1 << 16).await {
        Ok(b) => b,
        Err(e) => return e,
    };
    let idx = match credentials(sh, |k| body.get(k).and_then(Value::as_str).unwrap_or("")) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let force = match body.get("force_refresh") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return invalid("force_refresh must be true or false"),
    };
    let now = sh.clock.now_ms();
    let day = sh.clock.china_day();
    let ttl = sh.token_ttl;
    let (reply, forced, issued) = {
        let mut tokens = lock(&sh.tokens);
        let current = tokens.accounts[idx].stable.clone().and_then(|t| tokens.alive(&t, now).map(|left| (t, left)));
        let acc = &mut tokens.accounts[idx];
        if acc.forced_day != day {
            acc.forced_day = day;
            acc.forced_today = 0;
        }
        // Within the spacing WeChat does not refresh: the call is an unforced one.
        let force = force && acc.last_forced_ms.is_none_or(|last| now.saturating_sub(last) >= FORCE_SPACING_MS);
        if force && acc.forced_today >= FORCE_PER_DAY {
            return fail(
                45009,
                format!(
                    "force_refresh is allowed {FORCE_PER_DAY} times a day and {} has used them all",
                    sh.accounts[idx].appid
                ),
            );
        }
        let early_ms = STABLE_EARLY_SECS.min(ttl / 4).saturating_mul(1000);
        match current {
            Some((tok, left)) if !force && left > early_ms => (answer(&tok, left), false, false),
            _ => {
                if force {
                    acc.forced_today += 1;
                    acc.last_forced_ms = Some(now);
                }
                let tok = tokens.issue(idx, now, ttl, true);
                if let Some(prev) = tokens.accounts[idx].stable.replace(tok.clone())
                    && force
                    && let Some(p) = tokens.issued.get_mut(&prev)
                {
                    p.dies_ms = Some(now);
                }
                (answer(&tok, ttl.saturating_mul(1000)), force, true)
            }
        }
    };
    if issued {
        let mut stats = lock(&sh.stats);
        let appid = &sh.accounts[idx].appid;
        *stats.stable_token_issues.entry(appid.clone()).or_default() += 1;
        if forced {
            *stats.stable_token_forced.entry(appid.clone()).or_default() += 1;
        }
    }
    reply
}
