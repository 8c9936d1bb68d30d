//! The simulated third-party platform (开放平台): the component `wxsandboxcomponent`, the
//! merchant accounts that may authorise it (`--authorizers`, `wxsandboxauth1..N`, each an
//! account of the simulator with a state of its own), its `component_verify_ticket`s, component
//! tokens, pre-auth codes, authorization codes and the authorizers' refresh tokens.
//!
//! Tickets need no background task: whenever the platform is read, a new ticket is issued if
//! the newest is `--ticket-interval` old on the simulator's clock (and one at start), so an
//! advanced clock brings new tickets as WeChat's pushes would. Every ticket and every
//! authorisation change is a push, kept in order; the push task sends them to
//! `--platform-push-url`, and `GET /_sandbox/platform` shows them either way.
//!
//! An authorizer's refresh token rotates: `api_authorizer_token` hands out a new one and the
//! one it was given stops working (61023), as does every refresh token of an account that
//! revoked the authorisation. An authorizer's business calls need one of the permission sets of
//! the family called (`api::platform::needed_sets`), else 48001.
//!
//! 61004 (the caller's IP is not whitelisted) cannot happen here: the simulator listens on
//! loopback only, and a whitelist of 127.0.0.1 is the only one that could apply.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Query, Request};
use serde_json::{Map, Value, json};

use super::routes::Handler;
use super::{Shared, admin_body, fail, invalid, lock, random_id, str_field, usize_field};
use crate::message::events::{self, PlatformPush, PushEvent};

/// The platform's component appid.
pub const COMPONENT_APPID: &str = "wxsandboxcomponent";
/// The platform's component appsecret.
pub const COMPONENT_SECRET: &str = "sandbox-component-secret";
/// The Token the platform's pushes are signed with, unless `--platform-token` says otherwise.
pub const PLATFORM_TOKEN: &str = "sandbox-platform-token";
/// The EncodingAESKey the platform's pushes are encrypted with, unless `--platform-aes-key`.
pub const PLATFORM_AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

/// What the authorizers' appids start with, their number following.
pub const AUTHORIZER_PREFIX: &str = "wxsandboxauth";

/// The appid of authorizer `n` (from 1).
pub fn authorizer_appid(n: usize) -> String {
    format!("{AUTHORIZER_PREFIX}{n}")
}

/// How long a ticket is accepted (WeChat: 12 hours).
const TICKET_LIFE_MS: u64 = 12 * 3600 * 1000;
/// How long a pre-auth code lives (WeChat: 1,800 s).
const PREAUTH_SECS: u64 = 1800;
/// How long an authorization code lives.
const CODE_SECS: u64 = 3600;
/// Permission sets granted when the admin route names none: every set an official account can
/// grant the platform (1-15), the store and shake-around ones among them.
const ALL_SETS: &[i64] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
/// Where the admin's browser is sent after authorising, when the admin route names no
/// `redirect_uri`.
const DEFAULT_REDIRECT: &str = "https://sandbox.invalid/authorized";

/// One push of the platform, in the order they happened.
#[derive(Clone, Debug)]
pub(super) struct Pushed {
    pub(super) info_type: &'static str,
    pub(super) create_time: u64,
    pub(super) fields: Vec<(&'static str, Value)>,
}

impl Pushed {
    fn new(decl: &PushEvent, create_time: u64, values: Vec<Value>) -> Self {
        Pushed { info_type: decl.name, create_time, fields: decl.with(values) }
    }

    fn push(&self) -> PlatformPush<'_> {
        PlatformPush {
            appid: COMPONENT_APPID,
            create_time: self.create_time,
            info_type: self.info_type,
            fields: &self.fields,
        }
    }

    pub(super) fn to_xml(&self) -> String {
        self.push().to_xml()
    }

    fn to_json(&self) -> Value {
        Value::Object(self.push().to_json())
    }
}

/// One authorizer's standing with the platform.
#[derive(Default)]
struct Auth {
    authorized: bool,
    /// The one refresh token that works now.
    refresh: Option<String>,
    func_info: Vec<i64>,
    /// Unix seconds of the latest authorisation.
    auth_time: u64,
}

/// The platform's state.
pub(super) struct Platform {
    interval_ms: u64,
    /// Every ticket issued, oldest first, with its simulated issue time in milliseconds.
    tickets: Vec<(String, u64)>,
    /// Component access tokens and when they expire (simulated milliseconds).
    tokens: HashMap<String, u64>,
    /// Pre-auth codes and when they expire.
    preauth: HashMap<String, u64>,
    /// Authorization codes: the account index and when the code expires.
    codes: HashMap<String, (usize, u64)>,
    /// By account index: the authorizer accounts.
    auths: BTreeMap<usize, Auth>,
    /// Every push so far, oldest first.
    pub(super) pushes: Vec<Pushed>,
}

impl Platform {
    /// The platform with its authorizers (account indices), none authorised yet.
    pub(super) fn new(interval_secs: u64, authorizers: impl IntoIterator<Item = usize>) -> Self {
        Platform {
            interval_ms: interval_secs.max(1).saturating_mul(1000),
            tickets: Vec::new(),
            tokens: HashMap::new(),
            preauth: HashMap::new(),
            codes: HashMap::new(),
            auths: authorizers.into_iter().map(|i| (i, Auth::default())).collect(),
            pushes: Vec::new(),
        }
    }

    /// Issues the ticket that is due, if one is: the first, or one `--ticket-interval` after the
    /// newest.
    pub(super) fn settle(&mut self, now_ms: u64) {
        let due = self.tickets.last().is_none_or(|(_, at)| now_ms.saturating_sub(*at) >= self.interval_ms);
        if !due {
            return;
        }
        let ticket = format!("ticket@@@{}", random_id(86));
        // Tickets past their life can never be accepted again: forget them (they still answer
        // 61006, an unknown ticket, rather than 61005 once forgotten a day later).
        self.tickets.retain(|(_, at)| now_ms.saturating_sub(*at) < 2 * TICKET_LIFE_MS);
        self.tickets.push((ticket.clone(), now_ms));
        self.pushes.push(Pushed::new(&events::COMPONENT_VERIFY_TICKET, now_ms / 1000, vec![ticket.into()]));
    }

    /// The newest ticket.
    pub(super) fn current_ticket(&self) -> String {
        self.tickets.last().map(|(t, _)| t.clone()).unwrap_or_default()
    }

    /// The permission sets account `idx` granted; `None` when it is no authorizer.
    pub(super) fn func_info(&self, idx: usize) -> Option<&[i64]> {
        self.auths.get(&idx).map(|a| a.func_info.as_slice())
    }

    /// Every component token expires now (`/_sandbox/expire_tokens`).
    pub(super) fn expire_tokens(&mut self, now_ms: u64) {
        for exp in self.tokens.values_mut() {
            *exp = (*exp).min(now_ms);
        }
    }

    /// 42001 / 40001 unless `token` is a live component token.
    pub(super) fn check_token(&self, token: &str, now_ms: u64) -> Result<(), Value> {
        if token.is_empty() {
            return Err(fail(41001, "component_access_token is missing"));
        }
        match self.tokens.get(token) {
            None => Err(fail(40001, "not a component_access_token of this platform")),
            Some(exp) if *exp <= now_ms => Err(fail(42001, "the component_access_token has expired")),
            Some(_) => Ok(()),
        }
    }
}

/// The platform, with the ticket that is due issued first.
pub(super) fn platform(sh: &Shared) -> std::sync::MutexGuard<'_, Platform> {
    let mut p = lock(&sh.platform);
    p.settle(sh.clock.now_ms());
    p
}

pub(super) fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("platform::component_token", Handler::Component(|sh, b| component_token(sh, b).into())),
        ("platform::create_preauthcode", Handler::Component(|sh, _| create_preauthcode(sh).into())),
        ("platform::query_auth", Handler::Component(|sh, b| query_auth(sh, b).into())),
        ("platform::authorizer_token", Handler::Component(|sh, b| authorizer_token(sh, b).into())),
        ("platform::get_authorizer_list", Handler::Component(|sh, b| authorizer_list(sh, b).into())),
        ("platform::get_authorizer_info", Handler::Component(|sh, b| authorizer_info(sh, b).into())),
    ]
}

/// 40013 unless the call names this platform (every component call does, first thing).
pub(super) fn this_platform(b: &Map<String, Value>) -> Result<(), Value> {
    match str_field(b, "component_appid") {
        COMPONENT_APPID => Ok(()),
        other => Err(fail(40013, format!("\"{other}\" is not this simulator's platform ({COMPONENT_APPID})"))),
    }
}

/// The account index of authorizer `appid`, or 61003.
fn authorizer(sh: &Shared, appid: &str) -> Result<usize, Value> {
    sh.account(appid)
        .filter(|i| sh.accounts[*i].authorizer)
        .ok_or_else(|| fail(61003, format!("\"{appid}\" is not an account of this simulator's platform")))
}

/// WeChat's `func_info` shape.
fn func_info_json(sets: &[i64]) -> Value {
    sets.iter().map(|id| json!({ "funcscope_category": { "id": id } })).collect()
}

/// A new authorizer access token of account `idx`: `(token, expires_in)`.
fn authorizer_access(sh: &Shared, idx: usize) -> (String, u64) {
    let tok = lock(&sh.tokens).issue(idx, sh.clock.now_ms(), sh.token_ttl, false);
    (tok, sh.token_ttl)
}

/// `api_component_token`: the ticket decides (61006 unknown, 61005 past its 12 hours).
fn component_token(sh: &Shared, b: &Map<String, Value>) -> Value {
    if str_field(b, "component_appsecret") != COMPONENT_SECRET {
        return fail(40125, "");
    }
    let now = sh.clock.now_ms();
    let mut p = platform(sh);
    let ticket = str_field(b, "component_verify_ticket");
    match p.tickets.iter().find(|(t, _)| t == ticket) {
        None => return fail(61006, "not a ticket this platform was pushed"),
        Some((_, at)) if now.saturating_sub(*at) >= TICKET_LIFE_MS => {
            return fail(61005, "the ticket is more than 12 hours old: use the latest one pushed");
        }
        Some(_) => {}
    }
    if p.tokens.len() > 10_000 {
        p.tokens.retain(|_, exp| *exp > now);
    }
    let tok = random_id(96);
    p.tokens.insert(tok.clone(), now.saturating_add(sh.token_ttl.saturating_mul(1000)));
    json!({ "component_access_token": tok, "expires_in": sh.token_ttl })
}

fn create_preauthcode(sh: &Shared) -> Value {
    let now = sh.clock.now_ms();
    let mut p = platform(sh);
    p.preauth.retain(|_, exp| *exp > now);
    let code = format!("preauthcode@@@{}", random_id(48));
    p.preauth.insert(code.clone(), now.saturating_add(PREAUTH_SECS * 1000));
    json!({ "pre_auth_code": code, "expires_in": PREAUTH_SECS })
}

/// `api_query_auth`: the code is used up; the answer carries the current refresh token.
fn query_auth(sh: &Shared, b: &Map<String, Value>) -> Value {
    let now = sh.clock.now_ms();
    let mut p = platform(sh);
    let (idx, refresh, sets) = match p.codes.remove(str_field(b, "authorization_code")) {
        None => return fail(61009, "not an authorization code of this platform (each is exchanged once)"),
        Some((_, exp)) if exp <= now => return fail(61010, ""),
        Some((idx, _)) => match p.auths.get(&idx) {
            Some(Auth { authorized: true, refresh: Some(r), func_info, .. }) => (idx, r.clone(), func_info.clone()),
            _ => return fail(61003, format!("{} revoked the authorisation", sh.accounts[idx].appid)),
        },
    };
    let (tok, expires_in) = authorizer_access(sh, idx);
    json!({
        "authorization_info": {
            "authorizer_appid": sh.accounts[idx].appid,
            "authorizer_access_token": tok,
            "expires_in": expires_in,
            "authorizer_refresh_token": refresh,
            "func_info": func_info_json(&sets),
        }
    })
}

/// `api_authorizer_token`: a new access token and a new refresh token; the old one is done.
fn authorizer_token(sh: &Shared, b: &Map<String, Value>) -> Value {
    let idx = match authorizer(sh, str_field(b, "authorizer_appid")) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let mut p = platform(sh);
    let Some(auth) = p.auths.get_mut(&idx).filter(|a| a.authorized) else {
        return fail(61023, format!("{} revoked the authorisation: it must authorise again", sh.accounts[idx].appid));
    };
    if auth.refresh.as_deref() != Some(str_field(b, "authorizer_refresh_token")) {
        return fail(61023, "not the latest refresh token of this authorizer (each is used once)");
    }
    let refresh = format!("refreshtoken@@@{}", random_id(48));
    auth.refresh = Some(refresh.clone());
    let (tok, expires_in) = authorizer_access(sh, idx);
    json!({ "authorizer_access_token": tok, "expires_in": expires_in, "authorizer_refresh_token": refresh })
}

fn authorizer_list(sh: &Shared, b: &Map<String, Value>) -> Value {
    // Both are required and held to their declared ranges by the wire check.
    let (offset, count) = (usize_field(b, "offset"), usize_field(b, "count"));
    let p = platform(sh);
    let authorized: Vec<Value> = p
        .auths
        .iter()
        .filter(|(_, a)| a.authorized)
        .map(|(idx, a)| {
            json!({
                "authorizer_appid": sh.accounts[*idx].appid,
                "refresh_token": a.refresh,
                "auth_time": a.auth_time,
            })
        })
        .collect();
    let total = authorized.len();
    let list: Vec<Value> = authorized.into_iter().skip(offset).take(count).collect();
    json!({ "errcode": 0, "errmsg": "ok", "total_count": total, "list": list })
}

fn authorizer_info(sh: &Shared, b: &Map<String, Value>) -> Value {
    let idx = match authorizer(sh, str_field(b, "authorizer_appid")) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let p = platform(sh);
    let Some(auth) = p.auths.get(&idx).filter(|a| a.authorized) else {
        return fail(61003, format!("{} has not authorised the platform", sh.accounts[idx].appid));
    };
    let appid = &sh.accounts[idx].appid;
    let n = appid.trim_start_matches(AUTHORIZER_PREFIX);
    json!({
        "authorizer_info": {
            "nick_name": format!("Sandbox merchant {n}"),
            "user_name": super::user_name(appid),
            "principal_name": format!("Sandbox Merchant {n} Co., Ltd."),
            "service_type_info": { "id": 2 },
            "verify_type_info": { "id": 0 },
            "business_info": { "open_store": 1, "open_scan": 1, "open_pay": 0, "open_card": 1, "open_shake": 1 },
        },
        "authorization_info": { "authorizer_appid": appid, "func_info": func_info_json(&auth.func_info) },
    })
}

// ---------------------------------------------------------------------------------------------
// Admin routes

/// The permission sets an admin route names: ids, or WeChat's `{funcscope_category: {id}}`.
fn parse_sets(v: &Value) -> Option<Vec<i64>> {
    v.as_array()?
        .iter()
        .map(|x| x.as_i64().or_else(|| x.pointer("/funcscope_category/id").and_then(Value::as_i64)))
        .collect()
}

/// `POST /_sandbox/authorize {pre_auth_code, authorizer_appid, func_info?, redirect_uri?}`: the
/// admin authorises (default: every permission set); answers the redirect with `auth_code` and
/// pushes `authorized` (`updateauthorized` when it already was).
pub(super) async fn authorize(sh: &Shared, req: Request) -> Value {
    let Some(body) = admin_body(req).await else {
        return invalid("POST a JSON object {pre_auth_code, authorizer_appid, func_info}");
    };
    let sets = match body.get("func_info") {
        None | Some(Value::Null) => ALL_SETS.to_vec(),
        Some(v) => match parse_sets(v) {
            Some(s) => s,
            None => return invalid("func_info must be an array of permission set ids (or WeChat's func_info)"),
        },
    };
    let redirect = body.get("redirect_uri").and_then(Value::as_str).unwrap_or(DEFAULT_REDIRECT);
    let pre = str_field(&body, "pre_auth_code");
    let idx = match authorizer(sh, str_field(&body, "authorizer_appid")) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let now = sh.clock.now_ms();
    let mut p = platform(sh);
    match p.preauth.remove(pre) {
        Some(exp) if exp > now => {}
        _ => {
            return invalid(
                "pre_auth_code is unknown, used or expired (1,800 s): ask api_create_preauthcode for a new one",
            );
        }
    }
    let Some(Grant { code, decl, .. }) = grant(sh, &mut p, idx, sets, pre) else {
        return fail(61003, "");
    };
    let sep = if redirect.contains('?') { '&' } else { '?' };
    json!({
        "errcode": 0, "errmsg": "ok",
        "auth_code": code,
        "expires_in": CODE_SECS,
        "redirect_url": format!("{redirect}{sep}auth_code={code}&expires_in={CODE_SECS}"),
        "info_type": decl.name,
    })
}

/// `POST /_sandbox/unauthorize {authorizer_appid}`: the account revokes the platform: its
/// refresh token answers 61023 and its tokens 40001 from now on; pushes `unauthorized`.
pub(super) async fn unauthorize(sh: &Shared, req: Request) -> Value {
    let Some(body) = admin_body(req).await else {
        return invalid("POST a JSON object {authorizer_appid}");
    };
    let idx = match authorizer(sh, str_field(&body, "authorizer_appid")) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let now = sh.clock.unix();
    let mut p = platform(sh);
    let Some(auth) = p.auths.get_mut(&idx).filter(|a| a.authorized) else {
        return invalid(format!("{} has not authorised the platform", sh.accounts[idx].appid));
    };
    auth.authorized = false;
    auth.refresh = None;
    p.codes.retain(|_, (i, _)| *i != idx);
    // The platform's lock is taken before the tokens', never the other way round.
    let revoked = lock(&sh.tokens).revoke(idx, super::tokens::Family::All);
    p.pushes.push(Pushed::new(&events::UNAUTHORIZED, now, vec![sh.accounts[idx].appid.clone().into()]));
    json!({ "errcode": 0, "errmsg": "ok", "revoked_tokens": revoked })
}

/// What an authorisation hands out.
pub(super) struct Grant {
    pub(super) code: String,
    pub(super) refresh: String,
    pub(super) sets: Vec<i64>,
    decl: &'static PushEvent,
}

/// The admin of account `idx` authorises the platform with permission sets `sets`: a new
/// authorization code (an hour), a refresh token unless it holds one, and the `authorized`
/// (or `updateauthorized`) push. `None` for an account that is not an authorizer.
fn grant(sh: &Shared, p: &mut Platform, idx: usize, sets: Vec<i64>, pre_auth_code: &str) -> Option<Grant> {
    let now = sh.clock.now_ms();
    let code = format!("queryauthcode@@@{}", random_id(48));
    let code_expires = now / 1000 + CODE_SECS;
    let auth = p.auths.get_mut(&idx)?;
    let decl = if auth.authorized { &events::UPDATEAUTHORIZED } else { &events::AUTHORIZED };
    if !auth.authorized || auth.refresh.is_none() {
        auth.refresh = Some(format!("refreshtoken@@@{}", random_id(48)));
    }
    auth.authorized = true;
    auth.func_info = sets.clone();
    auth.auth_time = now / 1000;
    let refresh = auth.refresh.clone().unwrap_or_default();
    p.codes.insert(code.clone(), (idx, now.saturating_add(CODE_SECS * 1000)));
    let values =
        vec![sh.accounts[idx].appid.clone().into(), code.clone().into(), code_expires.into(), pre_auth_code.into()];
    p.pushes.push(Pushed::new(decl, now / 1000, values));
    Some(Grant { code, refresh, sets, decl })
}

/// Every authorizer authorises the platform with every permission set, as a `--sandbox` run
/// starts: the pushes go out as from the admin page, and the grants come back in-process (a
/// run with `--latency-ms` must not wait on its own set-up).
pub(super) fn authorize_all(sh: &Shared) -> Vec<(String, Grant)> {
    let mut p = platform(sh);
    let idxs: Vec<usize> = p.auths.keys().copied().collect();
    idxs.into_iter()
        .filter_map(|idx| Some((sh.accounts[idx].appid.clone(), grant(sh, &mut p, idx, ALL_SETS.to_vec(), "")?)))
        .collect()
}

/// `GET /_sandbox/platform[?since=N]`: the current ticket, the authorizers, and the pushes
/// (tickets and authorisation changes) from the `since`-th on, for tests and a run's wiring
/// when no `--platform-push-url` receives them.
pub(super) fn show(sh: &Shared, req: &Request) -> Value {
    let q: HashMap<String, String> = Query::try_from_uri(req.uri()).map(|q| q.0).unwrap_or_default();
    let since = q.get("since").and_then(|s| s.parse::<usize>().ok()).unwrap_or(0);
    let p = platform(sh);
    let (ticket, at) = p.tickets.last().cloned().unwrap_or_default();
    let authorizers: Vec<Value> = p
        .auths
        .iter()
        .map(|(idx, a)| {
            json!({
                "appid": sh.accounts[*idx].appid,
                "authorized": a.authorized,
                "func_info": a.func_info,
                "auth_time": a.auth_time,
            })
        })
        .collect();
    json!({
        "errcode": 0, "errmsg": "ok",
        "component_appid": COMPONENT_APPID,
        "component_verify_ticket": ticket,
        "ticket_time": at / 1000,
        "ticket_interval": p.interval_ms / 1000,
        "authorizers": authorizers,
        "pushes": p.pushes.iter().skip(since).map(Pushed::to_json).collect::<Vec<_>>(),
        "total": p.pushes.len(),
    })
}
