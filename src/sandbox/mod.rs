//! The WeChat simulator ("sandbox"): a stateful HTTP server that answers the store mini-program
//! API the way WeChat does, for scripts, the REPL and tests.
//!
//! This file holds the server itself: startup and shutdown, one fallback handler that routes
//! by path, the accounts, the checks every call goes through (token, daily quota, method, body,
//! and the wire-level field check derived from the `api` declarations), fault injection,
//! request statistics, the admin routes under `/_sandbox/`, and the lazily decided audits with
//! the events they produce. Tokens live in `tokens`, quotas in `quota`. The behaviour of each
//! family lives beside it: `merchant`, `map` (districts and POIs), `store` (stores, cards,
//! legacy POIs), `media` and `shake` (shake-around: beacons, pages, groups, statistics, shakes,
//! lotteries).
//!
//! The simulator hosts several own accounts (`--own-accounts`), each with a [`State`] of its
//! own behind its own lock: a call acts on the account its token belongs to. The clock, the
//! event log and the audit ids are the simulator's, shared by every account. Tokens (classic,
//! stable, superseded, forced) live in `tokens`.
//!
//! The third-party platform (`platform`) and its `--authorizers` merchant accounts: each
//! authorizer is an account like the own ones, with a [`State`] of its own, reachable only with
//! an authorizer token the platform hands out; an endpoint's declaration says which token it
//! takes (`access_token` or `component_access_token`), and the check follows it.
//!
//! Audits need no background task: each pending audit remembers when it was submitted, and
//! every time an account's state is locked, the ones whose `audit_delay` has passed are decided.
//!
//! Time is the simulator's own [`Clock`], kept in the state: real time from a start time
//! (`--start-time`, default now), plus whatever a rehearsal advanced it by
//! (`POST /_sandbox/clock`). Token and ticket expiry, audits, media expiry, the per-month
//! counters, statistics days, the lottery's times and every timestamp in an answer or event read
//! it, so "what happens tomorrow" can be rehearsed without waiting.

mod map;
mod media;
mod merchant;
mod platform;
pub mod push;
mod quota;
mod routes;
mod shake;
mod store;
mod tokens;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Query, Request, State as AxState};
use axum::http::{HeaderValue, Method as HttpMethod, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio::sync::{broadcast, oneshot};

use crate::api::{self, Body, Method, TokenKind, wire};

use crate::message::{Push, PushEvent};
use crate::util::Secret;
use media::read_part;
pub use platform::{COMPONENT_APPID, COMPONENT_SECRET, PLATFORM_AES_KEY, PLATFORM_TOKEN, authorizer_appid};

/// The sandbox's fixed appid (its first own account).
pub const APPID: &str = "wxsandbox";
/// The sandbox's fixed app secret.
pub const SECRET: &str = "sandbox-secret";

/// The appid of own account `n` (from 1): `wxsandbox`, then `wxsandbox2`, `wxsandbox3`, ...
pub fn own_appid(n: usize) -> String {
    if n <= 1 { APPID.to_string() } else { format!("{APPID}{n}") }
}

/// The app secret of own account `n` (from 1): `sandbox-secret`, then `sandbox-secret2`, ...
pub fn own_secret(n: usize) -> String {
    if n <= 1 { SECRET.to_string() } else { format!("{SECRET}{n}") }
}

/// The original id (`gh_...`) of the first own account, `wxsandbox`, as in the documents' XML
/// pushes: its events are addressed to it.
pub const TO_USER_NAME: &str = "gh_5a4e8b1c0d2f";

/// The original id of the simulator's account `appid`, which its pushed events carry as
/// `ToUserName`: [`TO_USER_NAME`] for `wxsandbox`, `gh_sandbox000002` for `wxsandbox2`,
/// `gh_sandboxauth0001` for `wxsandboxauth1` (as `api_get_authorizer_info` says).
pub fn user_name(appid: &str) -> String {
    if appid == APPID {
        return TO_USER_NAME.to_string();
    }
    if let Some(n) = appid.strip_prefix(platform::AUTHORIZER_PREFIX) {
        return format!("gh_sandboxauth{n:0>4}");
    }
    match appid.strip_prefix(APPID) {
        Some(n) => format!("gh_sandbox{n:0>6}"),
        None => format!("gh_{appid}"),
    }
}
/// The sender of the events (the platform's system user).
pub const FROM_USER_NAME: &str = "od1P50M-fNQI5Gcq-sandbox0001";

/// The words that make the simulator answer as WeChat would judge a text, so a recipe's unhappy
/// paths can be rehearsed: the word, and where it acts. The README and `sandbox serve --help`
/// show this list.
pub const REHEARSAL_WORDS: &[(&str, &str)] = &[
    (
        "REJECT",
        "the audit fails: in a merchant nickname or intro, a map POI name, a store credential, a new store picture URL, a shake-around registration's name or reason, a device id application's reason",
    ),
    ("REFUSE", "in a merchant nickname or intro: the administrator refuses the application (audit status 4)"),
    ("DOCS", "in a merchant nickname: 85024 until the same application carries org_code and other_files"),
    ("BANNED", "in a merchant nickname: 85031, the name cannot be used"),
    ("FAKE", "in a merchant intro: 85036, misleading content (merchant::apply and merchant::modify)"),
];

/// [`REHEARSAL_WORDS`] as help text, one word a line.
pub fn rehearsal_help() -> String {
    let mut s = String::from("Rehearsal words (any text containing one):\n");
    for (word, effect) in REHEARSAL_WORDS {
        s += &format!("  {word:<7} {effect}\n");
    }
    s
}

/// Large enough that an over-limit upload (10 MB image + 1 byte) still reaches the media
/// check and gets WeChat's 40006 instead of a transport-level refusal.
const MAX_BODY: usize = 24 << 20;

/// Start-up settings of a sandbox.
#[derive(Clone, Debug)]
pub struct Config {
    /// Audits are decided this long after submission (default 0: on the next request).
    pub audit_delay: Duration,
    /// Seconds a token lives, reported as `expires_in` (default 7200).
    pub token_ttl: u64,
    /// Injected delay before every answer (default 0).
    pub latency_ms: u64,
    /// 0.0..=1.0 chance that an API call (not token, not admin) answers `fail_code`.
    pub fail_rate: f64,
    /// The errcode of injected failures (default -1, errmsg "system error").
    pub fail_code: i64,
    /// Push each decided audit to this message URL, as WeChat does (default none).
    pub push_url: Option<String>,
    /// The Token pushes are signed with.
    pub push_token: Secret,
    /// The EncodingAESKey pushes are encrypted with (default none: plaintext mode).
    pub push_aes_key: Option<Secret>,
    /// The simulator's time at start, in Unix seconds (default none: the real time).
    pub start_time: Option<u64>,
    /// Own accounts hosted, each with state of its own (default 2, at least 1): see
    /// [`own_appid`] and [`own_secret`].
    pub own_accounts: usize,
    /// Seconds a classic token keeps working after `cgi-bin/token` issued the account a newer
    /// one (default 300, as WeChat); past it the old one answers 40001.
    pub token_overlap: u64,
    /// Calls of one API one account may make per simulated day before 45009, until
    /// `cgi-bin/clear_quota` (default none: unlimited).
    pub daily_quota: Option<u64>,
    /// Merchant accounts that may authorise the platform (default 3): see [`authorizer_appid`].
    pub authorizers: usize,
    /// Push the platform's tickets and authorisation events to this URL (default none: they
    /// are read from `GET /_sandbox/platform`).
    pub platform_push_url: Option<String>,
    /// The platform's message URL, where the authorizers' events go, encrypted with the
    /// platform's key; `$APPID$` in it becomes the authorizer's appid, as in WeChat's console
    /// (default: `{platform_push_url}/$APPID$`, none without a platform push URL).
    pub platform_message_url: Option<String>,
    /// Seconds between two `component_verify_ticket`s (default 600, as WeChat; one at start).
    pub ticket_interval: u64,
    /// The Token the platform's pushes are signed with (default [`PLATFORM_TOKEN`]).
    pub platform_token: Secret,
    /// The EncodingAESKey the platform's pushes are encrypted with (default
    /// [`PLATFORM_AES_KEY`]): they are always encrypted, as WeChat's are.
    pub platform_aes_key: Secret,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            audit_delay: Duration::ZERO,
            token_ttl: 7200,
            latency_ms: 0,
            fail_rate: 0.0,
            fail_code: -1,
            push_url: None,
            push_token: Secret::default(),
            push_aes_key: None,
            start_time: None,
            own_accounts: 2,
            token_overlap: 300,
            daily_quota: None,
            authorizers: 3,
            platform_push_url: None,
            platform_message_url: None,
            ticket_interval: 600,
            platform_token: PLATFORM_TOKEN.into(),
            platform_aes_key: PLATFORM_AES_KEY.into(),
        }
    }
}

/// A running simulator. Dropping it stops the server (graceful shutdown).
pub struct Sandbox {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    shared: Arc<Shared>,
    pusher: Option<tokio::task::JoinHandle<()>>,
    pushes: Arc<push::Counts>,
    platform_pusher: Option<tokio::task::JoinHandle<()>>,
    platform_pushes: Arc<push::Counts>,
}

impl Sandbox {
    /// Binds 127.0.0.1:port (0 = ephemeral) and serves on the current tokio runtime.
    pub async fn start(cfg: Config, port: u16) -> std::io::Result<Sandbox> {
        let aes_key = cfg.push_aes_key.as_ref().map(|k| k.expose().as_str());
        let invalid = |what: &str, e: String| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("the {what} settings: {e}"))
        };
        let target = match &cfg.push_url {
            Some(url) => {
                Some(push::Target::new(url, cfg.push_token.expose(), aes_key).map_err(|e| invalid("push", e))?)
            }
            None => None,
        };
        // The platform's pushes and its authorizers' messages: its Token and key, two URLs.
        let platform_target = |url: &str, what: &str| {
            push::Target::platform(url, cfg.platform_token.expose(), cfg.platform_aes_key.expose())
                .map_err(|e| invalid(what, e))
        };
        let message_url = cfg.platform_message_url.clone().or_else(|| {
            cfg.platform_push_url.as_ref().map(|u| format!("{}/{}", u.trim_end_matches('/'), push::APPID_PLACEHOLDER))
        });
        let message_target = message_url.as_deref().map(|u| platform_target(u, "platform message")).transpose()?;
        let platform_target =
            cfg.platform_push_url.as_deref().map(|u| platform_target(u, "platform push")).transpose()?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
        let addr = listener.local_addr()?;
        let (tx, _) = broadcast::channel(1024);
        let clock = Arc::new(Clock::new(cfg.start_time));
        let log = Arc::new(EventLog { events: Mutex::new(Vec::new()), tx, next_audit_id: AtomicU64::new(414_569_501) });
        let own = cfg.own_accounts.max(1);
        let account = |appid: String, secret: String, authorizer: bool| Account {
            state: Mutex::new(State::new(appid.clone(), clock.clone(), log.clone())),
            appid,
            secret,
            authorizer,
        };
        let accounts: Vec<Account> = (1..=own)
            .map(|n| account(own_appid(n), own_secret(n), false))
            .chain((1..=cfg.authorizers).map(|n| account(authorizer_appid(n), String::new(), true)))
            .collect();
        let platform = platform::Platform::new(cfg.ticket_interval, own..accounts.len());
        let shared = Arc::new(Shared {
            instance: format!("{:016x}", fastrand::u64(..)),
            audit_delay: cfg.audit_delay,
            token_ttl: cfg.token_ttl,
            token_overlap: cfg.token_overlap,
            daily_quota: cfg.daily_quota,
            faults: Mutex::new(Faults {
                latency_ms: cfg.latency_ms,
                fail_rate: cfg.fail_rate.clamp(0.0, 1.0),
                fail_code: cfg.fail_code,
            }),
            tokens: Mutex::new(tokens::Tokens::new(accounts.len())),
            platform: Mutex::new(platform),
            clock,
            log,
            accounts,
            stats: Mutex::new(Stats::default()),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone()).layer(DefaultBodyLimit::max(MAX_BODY));
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await;
        });
        let pushes = Arc::new(push::Counts::default());
        let pusher = (target.is_some() || message_target.is_some())
            .then(|| tokio::spawn(push::run(shared.clone(), target, message_target, pushes.clone())));
        let platform_pushes = Arc::new(push::Counts::default());
        let platform_pusher =
            platform_target.map(|t| tokio::spawn(push::run_platform(shared.clone(), t, platform_pushes.clone())));
        Ok(Sandbox { addr, shutdown: Some(stop_tx), shared, pusher, pushes, platform_pusher, platform_pushes })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every audit decided so far, oldest first (deciding any that are due first).
    pub fn events(&self) -> Vec<AuditEvent> {
        self.shared.settle_all();
        lock(&self.shared.log.events).clone()
    }

    /// The hook point for pushing events: every audit decided from now on is sent here the
    /// moment it is decided. Decisions are lazy, so they happen while some request (or
    /// [`Sandbox::events`]) reads the state.
    pub fn subscribe(&self) -> broadcast::Receiver<AuditEvent> {
        self.shared.log.tx.subscribe()
    }

    /// The appids of the own accounts, in order (`wxsandbox` first).
    pub fn own_appids(&self) -> Vec<String> {
        self.shared.accounts.iter().filter(|a| !a.authorizer).map(|a| a.appid.clone()).collect()
    }

    /// Plays every authorizer's admin authorising the platform (every permission set), with
    /// the pushes that go with it; returns each one's appid, authorization code, refresh token
    /// and permission sets, in order.
    pub fn authorize_all(&self) -> Vec<(String, String, String, Vec<i64>)> {
        platform::authorize_all(&self.shared).into_iter().map(|(a, g)| (a, g.code, g.refresh, g.sets)).collect()
    }

    /// The appids of the platform's authorizers, in order (`wxsandboxauth1` first).
    pub fn authorizer_appids(&self) -> Vec<String> {
        self.shared.accounts.iter().filter(|a| a.authorizer).map(|a| a.appid.clone()).collect()
    }

    /// The platform's current `component_verify_ticket` (issuing the one that is due first).
    pub fn component_verify_ticket(&self) -> String {
        platform::platform(&self.shared).current_ticket()
    }

    /// Platform pushes answered `success` so far, and those given up after every retry.
    pub fn platform_push_counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.platform_pushes.delivered.load(Relaxed), self.platform_pushes.failed.load(Relaxed))
    }

    /// Pushes answered `success` so far, and pushes given up after every retry.
    pub fn push_counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.pushes.delivered.load(Relaxed), self.pushes.failed.load(Relaxed))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(p) = self.pusher.take() {
            p.abort();
        }
        if let Some(p) = self.platform_pusher.take() {
            p.abort();
        }
    }
}

/// One decided audit (or a simulated shake), as its declared event push carries it.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    /// The appid of the account whose audit it is.
    pub appid: String,
    /// That account's original id, the push's `ToUserName` (see [`user_name`]).
    pub to: String,
    /// The declared event's name (one of `message::EVENTS`).
    pub event: &'static str,
    /// Unix seconds of the decision.
    pub create_time: u64,
    /// The event's own fields in document order (`audit_id`, `status`, ...).
    pub fields: Vec<(&'static str, Value)>,
}

impl AuditEvent {
    /// The event `decl` declares, with its fields' values in the declaration's order; it is
    /// stamped with the simulator's time when [`State::record`] keeps it.
    fn new(decl: &PushEvent, values: Vec<Value>) -> Self {
        AuditEvent {
            appid: String::new(),
            to: String::new(),
            event: decl.name,
            create_time: 0,
            fields: decl.with(values),
        }
    }

    /// One field of the event.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// The push: to its account, from the platform's system user unless a user's.
    fn push(&self) -> Push<'_> {
        Push {
            to: &self.to,
            from: FROM_USER_NAME,
            create_time: self.create_time,
            event: self.event,
            fields: &self.fields,
        }
    }

    /// The event as a JSON object with the XML's element names.
    pub fn to_json(&self) -> Value {
        Value::Object(self.push().to_json())
    }

    /// The event as WeChat pushes it.
    pub fn to_xml(&self) -> String {
        self.push().to_xml()
    }
}

// ---------------------------------------------------------------------------------------------
// Shared state

/// Fault injection settings, changeable at run time through `/_sandbox/fault`.
#[derive(Clone, Copy, Debug)]
struct Faults {
    latency_ms: u64,
    fail_rate: f64,
    fail_code: i64,
}

#[derive(Default)]
struct Stats {
    requests: u64,
    by_path: BTreeMap<String, u64>,
    token_fetches: u64,
    /// Classic tokens issued, per appid.
    token_fetches_by_appid: BTreeMap<String, u64>,
    /// Stable tokens issued (not handed out again), per appid.
    stable_token_issues: BTreeMap<String, u64>,
    /// Of those, the ones a `force_refresh` issued, per appid.
    stable_token_forced: BTreeMap<String, u64>,
    /// API calls made with a valid token, per appid of the token's account.
    requests_by_appid: BTreeMap<String, u64>,
}

/// One account, own or an authorizer of the platform: its credentials and everything it holds.
struct Account {
    appid: String,
    /// Empty for an authorizer, which has no secret of ours: only the platform gets its tokens.
    secret: String,
    /// An authorizer of the platform (`wxsandboxauthN`), not an own account.
    authorizer: bool,
    state: Mutex<State>,
}

/// The simulator's event log: decided audits of every account, in order, and their
/// subscribers. Audit ids are the simulator's, so an id names one audit whatever the account.
pub(crate) struct EventLog {
    events: Mutex<Vec<AuditEvent>>,
    tx: broadcast::Sender<AuditEvent>,
    next_audit_id: AtomicU64,
}

struct Shared {
    /// Tells this simulator from an earlier one on the same port: its state died with it.
    instance: String,
    audit_delay: Duration,
    token_ttl: u64,
    token_overlap: u64,
    daily_quota: Option<u64>,
    faults: Mutex<Faults>,
    tokens: Mutex<tokens::Tokens>,
    /// Taken before `tokens` when both are needed.
    platform: Mutex<platform::Platform>,
    clock: Arc<Clock>,
    log: Arc<EventLog>,
    /// The own accounts, then the authorizers; a token names one by its index.
    accounts: Vec<Account>,
    stats: Mutex<Stats>,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

/// A poisoned lock only means another request panicked; the data is still the best we have.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// The state of account `idx` (0: `wxsandbox`), with every audit that is due decided first.
    fn state(&self, idx: usize) -> MutexGuard<'_, State> {
        let mut st = lock(&self.accounts[idx.min(self.accounts.len() - 1)].state);
        st.settle(self.audit_delay);
        st
    }

    /// Decides every account's due audits (before the event log is read).
    fn settle_all(&self) {
        for idx in 0..self.accounts.len() {
            drop(self.state(idx));
        }
    }

    /// The index of the account with this appid.
    fn account(&self, appid: &str) -> Option<usize> {
        self.accounts.iter().position(|a| a.appid == appid)
    }

    /// The account an admin request names with `appid` (a JSON body or the query), by default
    /// `wxsandbox`; an unknown appid is 40013.
    fn account_of(&self, appid: Option<&str>) -> Result<usize, Value> {
        match appid.filter(|a| !a.is_empty()) {
            None => Ok(0),
            Some(a) => self.account(a).ok_or_else(|| fail(40013, format!("no account \"{a}\" in this simulator"))),
        }
    }

    fn faults(&self) -> Faults {
        *lock(&self.faults)
    }
}

/// What a pending audit is about; the family module decides it.
#[derive(Clone, Debug)]
pub(crate) enum AuditKind {
    Merchant,
    /// Index into the created map POIs.
    MapPoi(usize),
    /// poi_id of the store.
    AddStore(String),
    /// poi_id of the store whose pictures changed.
    ModifyStore(String),
    /// The shake-around account application.
    ShakeAccount,
    /// A device id application.
    ShakeApply {
        apply_id: i64,
    },
}

struct Audit {
    id: u64,
    /// The simulator's time of submission, in milliseconds.
    submitted: u64,
    kind: AuditKind,
}

/// The simulator's time: real time since start, from a start time, plus what rehearsals
/// advanced it by. Milliseconds, so sub-second audit delays keep working. One clock for every
/// account: each state holds it shared.
pub(crate) struct Clock {
    started: Instant,
    start_ms: u64,
    advanced_ms: AtomicU64,
}

impl Clock {
    /// Starting at `start` (Unix seconds), or at the real time.
    fn new(start: Option<u64>) -> Self {
        let start_ms = start.unwrap_or_else(crate::util::unix_now).saturating_mul(1000);
        Clock { started: Instant::now(), start_ms, advanced_ms: AtomicU64::new(0) }
    }

    /// Unix milliseconds, simulated.
    pub(crate) fn now_ms(&self) -> u64 {
        let real = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.start_ms.saturating_add(real).saturating_add(self.advanced_ms.load(Ordering::SeqCst))
    }

    /// Unix seconds, simulated.
    pub(crate) fn unix(&self) -> u64 {
        self.now_ms() / 1000
    }

    /// Moves time forward (never back: what happened stays in the past).
    fn advance(&self, ms: u64) {
        let _ = self.advanced_ms.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |a| Some(a.saturating_add(ms)));
    }

    /// Seconds rehearsals moved the clock forward so far.
    fn advanced_secs(&self) -> u64 {
        self.advanced_ms.load(Ordering::SeqCst) / 1000
    }

    /// The simulated day in China (UTC+8), counted from the epoch: when daily quotas start over.
    pub(crate) fn china_day(&self) -> u64 {
        (self.unix() + 8 * 3600) / 86_400
    }
}

/// Everything one simulated account holds.
pub(crate) struct State {
    /// The account's appid.
    pub(crate) appid: String,
    /// The simulator's one clock.
    pub(crate) clock: Arc<Clock>,
    pub(crate) media: media::Media,
    pub(crate) merchant: merchant::Merchant,
    pub(crate) map: map::MapState,
    pub(crate) stores: store::Stores,
    pub(crate) shake: shake::Shake,
    pub(crate) quota: quota::Quota,
    pending: Vec<Audit>,
    log: Arc<EventLog>,
}

impl State {
    fn new(appid: String, clock: Arc<Clock>, log: Arc<EventLog>) -> Self {
        State {
            appid,
            clock,
            media: media::Media::default(),
            merchant: merchant::Merchant::default(),
            map: map::MapState::default(),
            stores: store::Stores::new(),
            shake: shake::Shake::default(),
            quota: quota::Quota::default(),
            pending: Vec::new(),
            log,
        }
    }

    /// Queues an audit and returns its id.
    pub(crate) fn submit(&mut self, kind: AuditKind) -> u64 {
        let id = self.log.next_audit_id.fetch_add(1, Ordering::SeqCst);
        let submitted = self.clock.now_ms();
        self.pending.push(Audit { id, submitted, kind });
        id
    }

    /// Unix seconds, simulated: what every answer and event says the time is.
    pub(crate) fn now(&self) -> u64 {
        self.clock.unix()
    }

    fn settle(&mut self, delay: Duration) {
        if self.pending.is_empty() {
            return;
        }
        let now = self.clock.now_ms();
        let delay = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        let (due, rest): (Vec<Audit>, Vec<Audit>) =
            std::mem::take(&mut self.pending).into_iter().partition(|a| now.saturating_sub(a.submitted) >= delay);
        self.pending = rest;
        for a in due {
            let ev = match a.kind {
                AuditKind::Merchant => merchant::decide(self, a.id),
                AuditKind::MapPoi(idx) => map::decide(self, a.id, idx),
                AuditKind::AddStore(poi) => store::decide_add(self, a.id, &poi),
                AuditKind::ModifyStore(poi) => store::decide_modify(self, a.id, &poi),
                AuditKind::ShakeAccount => shake::decide_account(self),
                AuditKind::ShakeApply { apply_id } => shake::decide_apply(self, apply_id),
            };
            if let Some(ev) = ev {
                self.record(ev);
            }
        }
    }

    /// Where every decided audit is collected, stamped with the simulator's time: the event log
    /// and the subscribers.
    fn record(&mut self, mut ev: AuditEvent) {
        ev.create_time = self.now();
        ev.to = user_name(&self.appid);
        ev.appid = self.appid.clone();
        // The log's lock is taken while holding an account's, never the other way round.
        let mut events = lock(&self.log.events);
        // No subscriber is the normal case; the log keeps the event anyway.
        let _ = self.log.tx.send(ev.clone());
        events.push(ev);
    }
}

// ---------------------------------------------------------------------------------------------
// Answers

/// A handler's answer: JSON built per request, or a large constant answer built once.
pub(crate) enum Reply {
    Json(Value),
    Raw(&'static str),
}

impl From<Value> for Reply {
    fn from(v: Value) -> Self {
        Reply::Json(v)
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let body = match self {
            Reply::Json(v) => v.to_string(),
            Reply::Raw(s) => s.to_string(),
        };
        let mut r = (StatusCode::OK, body).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
        r
    }
}

/// WeChat's request id, appended to every error message.
fn rid() -> String {
    format!("{:08x}-{:08x}-{:08x}", fastrand::u32(..), fastrand::u32(..), fastrand::u32(..))
}

/// A message ending like WeChat's, with ` rid: ...`.
pub(crate) fn with_rid(msg: &str) -> String {
    format!("{msg} rid: {}", rid())
}

/// An error answer: WeChat's errmsg for `code` (from `api::errors`), the detail after a colon,
/// and a request id, as WeChat ends its messages.
pub(crate) fn fail(code: i64, detail: impl AsRef<str>) -> Value {
    json!({ "errcode": code, "errmsg": with_rid(&api::errors::errmsg(code, detail.as_ref())) })
}

/// 40097 naming what is wrong.
pub(crate) fn invalid(detail: impl AsRef<str>) -> Value {
    fail(wire::INVALID_ARGS, detail)
}

pub(crate) fn ok() -> Value {
    json!({ "errcode": 0, "errmsg": "ok" })
}

/// `{"errcode":0,"errmsg":"ok","data":...}`
pub(crate) fn ok_data(data: Value) -> Value {
    json!({ "errcode": 0, "errmsg": "ok", "data": data })
}

/// A random id of `len` characters from WeChat's media-id alphabet.
pub(crate) fn random_id(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..len).map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char).collect()
}

// Field access after the wire check (so types are known; absent reads as empty).

pub(crate) fn str_field<'a>(b: &'a Map<String, Value>, k: &str) -> &'a str {
    b.get(k).and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn int_field(b: &Map<String, Value>, k: &str) -> Option<i64> {
    b.get(k).and_then(Value::as_i64)
}

/// A count or offset field (0 when absent; the wire check has held it to its declared range).
pub(crate) fn usize_field(b: &Map<String, Value>, k: &str) -> usize {
    int_field(b, k).and_then(|n| usize::try_from(n).ok()).unwrap_or(0)
}

/// A `|`-joined media id field as a list (empty when not given).
pub(crate) fn media_ids<'a>(b: &'a Map<String, Value>, k: &str) -> Vec<&'a str> {
    str_field(b, k).split('|').filter(|s| !s.is_empty()).collect()
}

// ---------------------------------------------------------------------------------------------
// The handler

/// Keeps `in_flight` right however the handler ends.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(sh: &'a Shared) -> Self {
        let now = sh.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        sh.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(sh)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits until `deadline` with sub-millisecond precision: tokio's timer ticks in whole
/// milliseconds and rounds up, which would turn "20 ms" of latency into 21, and every
/// throughput rehearsal against it 5% slower than the real thing.
async fn wait_until(deadline: Instant) {
    if let Some(coarse) = deadline.checked_sub(Duration::from_millis(2))
        && coarse > Instant::now()
    {
        tokio::time::sleep_until(coarse.into()).await;
    }
    let rest = deadline.saturating_duration_since(Instant::now());
    if !rest.is_zero() {
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(rest)).await;
    }
}

async fn handle(AxState(sh): AxState<Arc<Shared>>, req: Request) -> Response {
    let arrival = Instant::now();
    let path = req.uri().path().trim_start_matches('/').to_string();
    let query: HashMap<String, String> = Query::try_from_uri(req.uri()).map(|q| q.0).unwrap_or_default();
    if let Some(admin) = path.strip_prefix("_sandbox/") {
        return Reply::Json(admin_route(&sh, admin, req).await).into_response();
    }
    let _guard = InFlight::enter(&sh);
    let faults = sh.faults();
    {
        let mut stats = lock(&sh.stats);
        stats.requests += 1;
        *stats.by_path.entry(path.clone()).or_default() += 1;
        if path == api::TOKEN_PATH {
            stats.token_fetches += 1;
        }
    }
    // Half the latency on the way in, half on the way back: a client that gives up waiting
    // may have had its request carried out, as with WeChat, so the "did it go through?" path
    // of a timed-out create can be rehearsed.
    let latency = Duration::from_millis(faults.latency_ms);
    if !latency.is_zero() {
        wait_until(arrival + latency / 2).await;
    }
    let reply = if path == api::TOKEN_PATH {
        tokens::classic(&sh, req.method(), &query).into()
    } else if path == api::STABLE_TOKEN_PATH {
        tokens::stable(&sh, req).await.into()
    } else {
        api_call(&sh, faults, &path, &query, req).await
    };
    if !latency.is_zero() {
        wait_until(arrival + latency).await;
    }
    reply.into_response()
}

async fn api_call(sh: &Shared, faults: Faults, path: &str, q: &HashMap<String, String>, req: Request) -> Reply {
    let Some((ep, handler)) = routes::find(path) else {
        return fail(40066, "").into();
    };
    let token = q.get(ep.token.param()).map(String::as_str).unwrap_or("");
    // The account the call acts on; none for the platform's component calls.
    let acc = match ep.token {
        TokenKind::Access => match tokens::check(sh, token) {
            Ok(acc) => Some(acc),
            Err(e) => return e.into(),
        },
        TokenKind::Component => match platform::platform(sh).check_token(token, sh.clock.now_ms()) {
            Ok(()) => None,
            Err(e) => return e.into(),
        },
        TokenKind::None => None,
    };
    let caller = acc.map_or(COMPONENT_APPID, |a| sh.accounts[a].appid.as_str());
    *lock(&sh.stats).requests_by_appid.entry(caller.to_string()).or_default() += 1;
    if let Some(acc) = acc
        && sh.accounts[acc].authorizer
    {
        let needed = api::platform::needed_sets(ep);
        let granted = platform::platform(sh).func_info(acc).map(<[i64]>::to_vec).unwrap_or_default();
        if !needed.is_empty() && !needed.iter().any(|s| granted.contains(s)) {
            return fail(
                48001,
                format!(
                    "{} granted the platform no permission set {} needs (one of {needed:?})",
                    sh.accounts[acc].appid, ep.path
                ),
            )
            .into();
        }
    }
    // clear_quota is how a spent quota comes back, so it is never refused for one.
    if let Some(limit) = sh.daily_quota
        && let Some(acc) = acc
        && ep.path != crate::api::CLEAR_QUOTA_PATH
    {
        let day = sh.clock.china_day();
        if !sh.state(acc).quota.take(ep.path, day, limit) {
            return fail(
                45009,
                format!(
                    "reach max api daily quota limit ({limit} calls of {} a day by {}); {} resets it",
                    ep.path,
                    sh.accounts[acc].appid,
                    crate::api::CLEAR_QUOTA_PATH
                ),
            )
            .into();
        }
    }
    if faults.fail_rate > 0.0 && fastrand::f64() < faults.fail_rate {
        return fail(
            faults.fail_code,
            if api::errors::lookup(faults.fail_code).is_some() { "" } else { "injected failure" },
        )
        .into();
    }
    match (ep.method, req.method()) {
        (Method::Post, m) if m != HttpMethod::POST => return fail(43002, "").into(),
        (Method::Get, m) if m != HttpMethod::GET => return fail(43001, "").into(),
        _ => {}
    }
    let mut fields = wire::from_query(ep, q);
    let file = match ep.body {
        Body::Multipart { part } => Some(read_part(Multipart::from_request(req, &()).await.ok(), part).await),
        Body::None => None,
        Body::Json => {
            let mut body = match json_body(req, MAX_BODY).await {
                Ok(b) => b,
                Err(e) => return e.into(),
            };
            // Query fields were typed from the declaration; the body's own keys win.
            body.extend(std::mem::take(&mut fields));
            fields = body;
            None
        }
    };
    if let Err(r) = wire::check(ep, &fields) {
        return fail(r.code, &r.detail).into();
    }
    if let routes::Handler::Component(f) = handler {
        return match platform::this_platform(&fields) {
            Ok(()) => f(sh, &fields),
            Err(e) => e.into(),
        };
    }
    // Only component calls are made without an account (a unit test of `routes` holds it).
    let Some(acc) = acc else {
        return fail(48001, "this endpoint's handler needs an account's token").into();
    };
    let mut st = sh.state(acc);
    match (handler, file) {
        (routes::Handler::Call(f), None) => f(&mut st, &fields),
        (routes::Handler::Upload(f), Some(file)) => f(&mut st, &fields, file),
        // `routes` pairs every upload endpoint with an upload handler (a unit test holds it).
        _ => fail(48001, "this endpoint's handler does not take its body").into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Admin routes (no token, not counted)

async fn admin_route(sh: &Shared, route: &str, req: Request) -> Value {
    match route {
        "stats" => {
            let s = lock(&sh.stats);
            json!({
                "requests": s.requests,
                "by_path": s.by_path,
                "token_fetches": s.token_fetches,
                "token_fetches_by_appid": s.token_fetches_by_appid,
                "stable_token_issues": s.stable_token_issues,
                "stable_token_forced": s.stable_token_forced,
                "requests_by_appid": s.requests_by_appid,
                "instance": sh.instance,
                "now": sh.clock.unix(),
                "in_flight": sh.in_flight.load(Ordering::SeqCst),
                "max_in_flight": sh.max_in_flight.load(Ordering::SeqCst),
            })
        }
        "reset_stats" => {
            *lock(&sh.stats) = Stats::default();
            sh.max_in_flight.store(sh.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
            ok()
        }
        "expire_tokens" => {
            lock(&sh.platform).expire_tokens(sh.clock.now_ms());
            lock(&sh.tokens).expire_all(sh.clock.now_ms());
            ok()
        }
        "accounts" => accounts(sh),
        "platform" => platform::show(sh, &req),
        "authorize" => platform::authorize(sh, req).await,
        "unauthorize" => platform::unauthorize(sh, req).await,
        "revoke_tokens" => revoke_tokens(sh, req).await,
        "clock" => clock(sh, req).await,
        "events" => {
            let q: HashMap<String, String> = Query::try_from_uri(req.uri()).map(|q| q.0).unwrap_or_default();
            let since = q.get("since").and_then(|s| s.parse::<usize>().ok()).unwrap_or(0);
            sh.settle_all();
            let all = lock(&sh.log.events);
            let events: Vec<Value> = all.iter().skip(since).map(AuditEvent::to_json).collect();
            json!({ "events": events, "total": all.len() })
        }
        "shake" => {
            let bytes = axum::body::to_bytes(req.into_body(), 1 << 16).await.unwrap_or_default();
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(m)) => match sh.account_of(m.get("appid").and_then(Value::as_str)) {
                    Ok(acc) => shake::simulate(&mut sh.state(acc), &m),
                    Err(e) => e,
                },
                _ => invalid("POST a JSON object {device_id} or {uuid, major, minor}, with an optional openid"),
            }
        }
        "fault" => {
            let Some(body) = admin_body(req).await else {
                return fail(47001, "");
            };
            let mut f = sh.faults();
            for (k, v) in &body {
                match k.as_str() {
                    "latency_ms" => match v.as_u64() {
                        Some(n) => f.latency_ms = n,
                        None => return invalid("latency_ms must be a non-negative integer"),
                    },
                    "fail_rate" => match v.as_f64().filter(|r| (0.0..=1.0).contains(r)) {
                        Some(r) => f.fail_rate = r,
                        None => return invalid("fail_rate must be a number in 0.0..=1.0"),
                    },
                    "fail_code" => match v.as_i64() {
                        Some(c) => f.fail_code = c,
                        None => return invalid("fail_code must be an integer"),
                    },
                    other => return invalid(format!("unknown fault setting \"{other}\"")),
                }
            }
            *lock(&sh.faults) = f;
            json!({
                "errcode": 0, "errmsg": "ok",
                "latency_ms": f.latency_ms, "fail_rate": f.fail_rate, "fail_code": f.fail_code,
            })
        }
        _ => fail(40066, ""),
    }
}

/// An admin route's JSON object; an empty body or `null` is an empty object, anything else
/// `None`.
/// A call's JSON object body, as WeChat reads one: empty is 44002, anything but an object (or
/// over `limit` bytes) 47001.
pub(crate) async fn json_body(req: Request, limit: usize) -> Result<Map<String, Value>, Value> {
    let Ok(bytes) = axum::body::to_bytes(req.into_body(), limit).await else {
        return Err(fail(47001, ""));
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(fail(44002, ""));
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(body)) => Ok(body),
        _ => Err(fail(47001, "")),
    }
}

async fn admin_body(req: Request) -> Option<Map<String, Value>> {
    let bytes = axum::body::to_bytes(req.into_body(), 1 << 16).await.unwrap_or_default();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Some(Map::new());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Some(m),
        Ok(Value::Null) => Some(Map::new()),
        _ => None,
    }
}

/// `GET /_sandbox/clock`: the simulator's time; `POST {"advance": seconds}` moves it forward
/// first, deciding every audit that falls due.
async fn clock(sh: &Shared, req: Request) -> Value {
    let advance = if req.method() == HttpMethod::POST {
        let bytes = axum::body::to_bytes(req.into_body(), 1 << 16).await.unwrap_or_default();
        let body = match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => m,
            _ => return invalid("POST a JSON object {\"advance\": seconds}"),
        };
        if let Some(k) = body.keys().find(|k| *k != "advance") {
            return invalid(format!("unknown clock setting \"{k}\"; the clock takes advance"));
        }
        match body.get("advance").and_then(Value::as_f64) {
            // Up to about 300 years: beyond, milliseconds would overflow into nonsense.
            Some(s) if (0.0..=1e10).contains(&s) => (s * 1000.0).round() as u64,
            _ => return invalid("advance must be a number of seconds, 0 or more (time never goes back)"),
        }
    } else {
        0
    };
    sh.clock.advance(advance);
    sh.settle_all();
    json!({ "errcode": 0, "errmsg": "ok", "now": sh.clock.unix(), "advanced": sh.clock.advanced_secs() })
}

/// `POST /_sandbox/revoke_tokens {appid?, family?}`: the account's (default `wxsandbox`) tokens
/// of `family` (`classic`, `stable` or `all`, the default) answer 40001 from now on, while
/// `stable_token` keeps handing out the revoked stable token until a forced refresh.
async fn revoke_tokens(sh: &Shared, req: Request) -> Value {
    let Some(body) = admin_body(req).await else {
        return invalid("POST a JSON object {appid, family}");
    };
    let acc = match sh.account_of(body.get("appid").and_then(Value::as_str)) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let family = match body.get("family").and_then(Value::as_str) {
        None | Some("all") => tokens::Family::All,
        Some("classic") => tokens::Family::Classic,
        Some("stable") => tokens::Family::Stable,
        Some(other) => return invalid(format!("unknown token family \"{other}\": classic, stable or all")),
    };
    let revoked = lock(&sh.tokens).revoke(acc, family);
    json!({ "errcode": 0, "errmsg": "ok", "revoked": revoked })
}

/// `GET /_sandbox/accounts`: each own account's (`accounts`) and authorizer's (`authorizers`)
/// appid and what it holds, counted, with its
/// calls today against the daily quota, so tests can see which account a call reached.
fn accounts(sh: &Shared) -> Value {
    let of_kind = |authorizer: bool| -> Vec<Value> {
        (0..sh.accounts.len())
            .filter(|idx| sh.accounts[*idx].authorizer == authorizer)
            .map(|idx| {
                let st = sh.state(idx);
                let calls: BTreeMap<&str, u64> = st.quota.calls.iter().map(|(k, v)| (*k, *v)).collect();
                json!({
                    "appid": st.appid,
                    "kind": if sh.accounts[idx].authorizer { "authorizer" } else { "own" },
                    "merchant_status": st.merchant.status,
                    "stores": st.stores.count(),
                    "map_pois": st.map.count(),
                    "media": st.media.count(),
                    "shake_devices": st.shake.counts().0,
                    "shake_pages": st.shake.counts().1,
                    "calls_today": calls,
                })
            })
            .collect()
    };
    json!({
        "errcode": 0, "errmsg": "ok",
        "accounts": of_kind(false),
        "authorizers": of_kind(true),
        "daily_quota": sh.daily_quota,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_debug_hides_the_push_token_and_key() {
        let cfg =
            Config { push_token: "tok-123".into(), push_aes_key: Some("k".repeat(43).into()), ..Config::default() };
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("tok-123") && !shown.contains("kkk"), "{shown}");
    }

    #[test]
    fn config_debug_hides_the_platform_token_and_key() {
        let shown = format!("{:?}", Config::default());
        assert!(!shown.contains(PLATFORM_TOKEN) && !shown.contains(PLATFORM_AES_KEY), "{shown}");
    }

    #[test]
    fn event_xml_shape() {
        use crate::message::events::ADD_STORE_AUDIT_INFO;
        let ev = AuditEvent::new(
            &ADD_STORE_AUDIT_INFO,
            vec![json!(7), json!(3), json!("a]]>b"), json!(0), json!(472_000_007)],
        );
        let x = ev.to_xml();
        assert!(x.contains("<Event><![CDATA[add_store_audit_info]]></Event>"));
        assert!(x.contains("<audit_id>7</audit_id>"));
        assert!(x.contains("<reason><![CDATA[a]]]]><![CDATA[>b]]></reason>"));
        let back = crate::message::xml::read(&x).expect("reads back");
        assert_eq!(Value::Object(back), ev.to_json());
    }
}
