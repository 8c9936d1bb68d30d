//! `wxscript listen`: the official account's message URL. It answers WeChat's URL handshake,
//! checks the signature (and in safe mode decrypts) every pushed message, and appends each
//! accepted one to the durable event log before answering `success`.
//!
//! Anything that fails a check (signature, a timestamp more than 5 minutes off, a body over
//! 64 KB, XML that does not parse or nests too deep, an encrypted message for another appid, a
//! plaintext signature replayed with another body) is refused with a 4xx, reported on stderr as
//! refused, and never reaches the log. The same server runs inside
//! `wxscript run --listen PORT` and, wired to the simulator's pusher, inside `run --sandbox`.
//!
//! It can be the message URL of several own accounts: a path naming one (`/wx/shop-b`, by its
//! name or appid) is checked with that account's Token and EncodingAESKey (the listener's when
//! it has none of its own); at any other path, a safe-mode message may carry the appid of an
//! own account that shares the listener's.
//!
//! With the third-party platform configured it is also the platform's authorization event URL
//! (path `/platform`, or every path with `--platform-only`): a `component_verify_ticket` is
//! stored, an `authorized`/`updateauthorized` code is exchanged at once (the refresh token is
//! stored before `success` is answered), an `unauthorized` account is marked revoked; each of
//! these pushes goes to the event log too (a ticket without its value). It is the platform's
//! message URL too (`/platform/$APPID$`, or any path with the appid as a segment with
//! `--platform-only`): an authorizer's events, encrypted with the platform's key, go to the
//! event log with `AuthorizerAppid` added from the path.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use tokio::sync::oneshot;

use crate::message::{MsgCrypt, crypto, events as pushes, xml};
use crate::store::{EventLog, FileStore, Store, Stored};
use crate::transport::Client;
use crate::util::Secret;

/// The platform side of a listener: the push settings, and the client that exchanges codes
/// (which may be built after the listener starts: pushes wait for it).
#[derive(Clone)]
pub struct PlatformOptions {
    pub component_appid: String,
    pub token: Secret,
    pub aes_key: Secret,
    pub client: tokio::sync::watch::Receiver<Option<Arc<Client>>>,
    /// Serve only the platform's pushes, on every path.
    pub only: bool,
}

impl std::fmt::Debug for PlatformOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PlatformOptions {{ component_appid: {:?}, token: ***, aes_key: ***, only: {} }}",
            self.component_appid, self.only
        )
    }
}

/// How long a platform push waits for the run's client before it is refused (and re-sent).
const CLIENT_WAIT: Duration = Duration::from_secs(10);

struct PlatformApp {
    appid: String,
    token: Secret,
    crypt: MsgCrypt,
    client: tokio::sync::watch::Receiver<Option<Arc<Client>>>,
    only: bool,
}

/// An own account a path may name, and the settings its messages are checked with.
struct AccountApp {
    name: String,
    appid: String,
    token: Secret,
    crypt: Option<MsgCrypt>,
}

/// A line on stdout. A closed or full stdout (a supervisor that dropped it, `| head`) must not
/// fail the push being answered: the line is let go, unlike `println!`, which panics.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// A line on stderr, let go as [`say!`] lets go of stdout's.
macro_rules! warn {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// Bodies larger than this are refused (WeChat's pushes are a few hundred bytes).
pub const MAX_BODY: usize = 64 * 1024;
/// How far a request's timestamp may be from the listener's clock.
pub const MAX_SKEW: Duration = Duration::from_secs(300);

/// How a listener is set up.
#[derive(Clone, Debug)]
pub struct Options {
    /// Address to bind (default 127.0.0.1: put a reverse proxy in front).
    pub bind: IpAddr,
    /// Port (0 picks a free one).
    pub port: u16,
    /// The Token entered in the admin console.
    pub token: Secret,
    /// Safe mode: the 43-character EncodingAESKey. `None`: plaintext mode.
    pub aes_key: Option<Secret>,
    /// The appid encrypted messages must carry (safe mode).
    pub appid: String,
    /// The event log.
    pub log: PathBuf,
    /// Print one line per accepted event on stdout.
    pub verbose: bool,
    /// Also (or only) the third-party platform's authorization event URL.
    pub platform: Option<PlatformOptions>,
    /// The other own accounts whose message URL this listener is too.
    pub accounts: Vec<AccountListen>,
}

/// Another own account whose message URL a listener is too.
#[derive(Clone, Debug)]
pub struct AccountListen {
    /// Its name: a path segment naming it (or its appid) picks its settings.
    pub name: String,
    pub appid: String,
    /// Its message URL's Token and EncodingAESKey, where they differ from the listener's.
    pub token: Option<Secret>,
    pub aes_key: Option<Secret>,
}

impl Options {
    pub fn new(token: impl Into<Secret>, log: PathBuf) -> Options {
        Options {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            token: token.into(),
            aes_key: None,
            appid: String::new(),
            log,
            verbose: false,
            platform: None,
            accounts: Vec::new(),
        }
    }
}

/// Counts since start.
#[derive(Default, Debug)]
pub struct Stats {
    pub accepted: AtomicU64,
    pub duplicates: AtomicU64,
    pub refused: AtomicU64,
}

struct App {
    /// The listener's own account (its appid; empty when not known).
    appid: String,
    token: Secret,
    crypt: Option<MsgCrypt>,
    /// The appids a safe-mode message at an unnamed path may carry besides the listener's: the
    /// own accounts without settings of their own.
    shared: Vec<String>,
    /// The own accounts a path may name, each with its settings.
    accounts: Vec<AccountApp>,
    log: EventLog,
    stats: Arc<Stats>,
    verbose: bool,
    replays: Replays,
    platform: Option<PlatformApp>,
}

/// The (timestamp, nonce) pairs of accepted plaintext pushes, with a hash of the body each came
/// with. In plaintext mode the signature covers only the Token, timestamp and nonce, so a
/// captured push URL could carry any body for as long as its timestamp passes; a pair seen
/// with another body is refused. The same body again is WeChat re-sending, and is let through
/// (the log stores it once). Pairs older than the accepted skew cannot pass the timestamp
/// check anyway and are forgotten.
#[derive(Default)]
struct Replays(std::sync::Mutex<HashMap<(i64, String), [u8; 20]>>);

/// What the replay check says of a push.
enum Seen {
    /// A new pair, now held: release it if the push is not stored after all.
    New,
    /// The same pair with the same body.
    Again,
    /// The same pair with another body.
    Replayed,
}

impl Replays {
    fn check(&self, ts: i64, nonce: &str, body: &str) -> Seen {
        use sha1::Digest;
        let hash: [u8; 20] = sha1::Sha1::digest(body.as_bytes()).into();
        let Ok(mut seen) = self.0.lock() else { return Seen::Replayed };
        let now = unix_now();
        seen.retain(|(t, _), _| (now - *t).unsigned_abs() <= MAX_SKEW.as_secs());
        match seen.get(&(ts, nonce.to_string())) {
            Some(h) if *h == hash => Seen::Again,
            Some(_) => Seen::Replayed,
            None => {
                seen.insert((ts, nonce.to_string()), hash);
                Seen::New
            }
        }
    }

    fn release(&self, ts: i64, nonce: &str) {
        if let Ok(mut seen) = self.0.lock() {
            seen.remove(&(ts, nonce.to_string()));
        }
    }
}

/// A running listener. Dropping it stops the server.
pub struct Listener {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    stats: Arc<Stats>,
    log: EventLog,
    recovered: usize,
}

impl Listener {
    /// [`Listener::start_in`] the file store.
    pub async fn start(
        opts: Options,
        new_events: Option<mpsc::Sender<Map<String, Value>>>,
    ) -> std::io::Result<Listener> {
        Listener::start_in(opts, &FileStore::default(), new_events).await
    }

    /// Opens the log in `store`, binds and serves on the current tokio runtime. Each newly
    /// stored event is sent to `new_events` in log order (for `--script`).
    pub async fn start_in(
        opts: Options,
        store: &dyn Store,
        new_events: Option<mpsc::Sender<Map<String, Value>>>,
    ) -> std::io::Result<Listener> {
        let platform = match &opts.platform {
            Some(p) => Some(PlatformApp {
                appid: p.component_appid.clone(),
                token: p.token.clone(),
                crypt: MsgCrypt::new(p.aes_key.expose(), &p.component_appid).map_err(|e| {
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("the platform's aes_key: {e}"))
                })?,
                client: p.client.clone(),
                only: p.only,
            }),
            None => None,
        };
        let crypt = match &opts.aes_key {
            Some(k) => Some(
                MsgCrypt::new(k.expose(), &opts.appid)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?,
            ),
            None => None,
        };
        let mut accounts = Vec::new();
        for a in &opts.accounts {
            let key = a.aes_key.as_ref().or(opts.aes_key.as_ref());
            let crypt = match key {
                Some(k) => Some(MsgCrypt::new(k.expose(), &a.appid).map_err(|e| {
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("account {}'s aes_key: {e}", a.name))
                })?),
                None => None,
            };
            let token = a.token.clone().unwrap_or_else(|| opts.token.clone());
            accounts.push(AccountApp { name: a.name.clone(), appid: a.appid.clone(), token, crypt });
        }
        let shared = opts
            .accounts
            .iter()
            .filter(|a| a.token.is_none() && a.aes_key.is_none())
            .map(|a| a.appid.clone())
            .collect();
        // Each failure says what failed: the log and the port are different fixes.
        let (log, recovered) = store.open_event_log(&opts.log, new_events).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot open the event log {}: {e}", opts.log.display()))
        })?;
        let listener = tokio::net::TcpListener::bind((opts.bind, opts.port))
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {}:{}: {e}", opts.bind, opts.port)))?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(Stats::default());
        let app = Arc::new(App {
            appid: opts.appid.clone(),
            token: opts.token,
            crypt,
            shared,
            accounts,
            log: log.clone(),
            stats: stats.clone(),
            verbose: opts.verbose,
            replays: Replays::default(),
            platform,
        });
        let router = Router::new().fallback(handle).with_state(app);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await;
        });
        Ok(Listener { addr, shutdown: Some(stop_tx), stats, log, recovered })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/` (loopback when bound to every interface).
    pub fn url(&self) -> String {
        let host = if self.addr.ip().is_unspecified() {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.addr.port())
        } else {
            self.addr
        };
        format!("http://{host}/")
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn log_path(&self) -> &std::path::Path {
        self.log.path()
    }

    /// Events found in the log at start.
    pub fn recovered(&self) -> usize {
        self.recovered
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Why a request was not processed.
struct Refusal {
    status: StatusCode,
    reason: String,
}

fn refuse(status: StatusCode, reason: impl Into<String>) -> Refusal {
    Refusal { status, reason: reason.into() }
}

fn text(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    match serve(&app, req).await {
        Ok(body) => text(StatusCode::OK, body),
        Err(r) => {
            app.stats.refused.fetch_add(1, Ordering::Relaxed);
            warn!("refused {method} {path}: {}", r.reason);
            let too_large = r.status == StatusCode::PAYLOAD_TOO_LARGE;
            let mut resp = text(r.status, r.reason);
            if too_large {
                // The rest of the body was never read, so the connection cannot carry another
                // request: tell the sender not to reuse it.
                resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            resp
        }
    }
}

fn unix_now() -> i64 {
    crate::util::unix_now() as i64
}

/// The platform's URLs: its authorization event URL `/platform` and its message URL
/// `/platform/$APPID$`.
fn is_platform_path(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    path == "/platform" || path.starts_with("/platform/")
}

/// The authorizer a message URL names: its last segment that is an appid (`wx` and letters or
/// digits), as WeChat puts it where the console's URL says `$APPID$`.
fn path_appid(path: &str) -> Option<&str> {
    path.rsplit('/').find(|seg| {
        seg.len() > 2
            && seg.len() <= 32
            && seg.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("wx"))
            && seg.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// A request's query, its `timestamp` and `nonce` present and the timestamp within
/// [`MAX_SKEW`] of the listener's clock.
struct CheckedQuery {
    q: HashMap<String, String>,
    /// `timestamp`, as a number.
    ts: i64,
}

impl CheckedQuery {
    /// Parameter `k`, empty when absent.
    fn get(&self, k: &str) -> &str {
        self.q.get(k).map(String::as_str).unwrap_or("")
    }
}

/// The query of `req`, refused unless every one of `required` (which names `timestamp` and
/// `nonce`) is there and the timestamp is on time.
fn checked_query(req: &Request, required: &[&str]) -> Result<CheckedQuery, Refusal> {
    let q: HashMap<String, String> = Query::try_from_uri(req.uri())
        .map(|q| q.0)
        .map_err(|_| refuse(StatusCode::BAD_REQUEST, "unreadable query string"))?;
    let q = CheckedQuery { q, ts: 0 };
    if required.iter().any(|k| q.get(k).is_empty()) {
        let (last, rest) = required.split_last().unwrap_or((&"", &[]));
        return Err(refuse(StatusCode::BAD_REQUEST, format!("{} and {last} are required", rest.join(", "))));
    }
    let ts: i64 =
        q.get("timestamp").parse().map_err(|_| refuse(StatusCode::BAD_REQUEST, "timestamp is not a number"))?;
    if (unix_now() - ts).unsigned_abs() > MAX_SKEW.as_secs() {
        return Err(refuse(StatusCode::BAD_REQUEST, "timestamp more than 5 minutes off"));
    }
    Ok(CheckedQuery { ts, ..q })
}

/// The query's `signature`: the Token, timestamp and nonce signed.
fn check_signature(token: &Secret, q: &CheckedQuery) -> Result<(), Refusal> {
    if !crypto::same(&crypto::signature(&[token.expose(), q.get("timestamp"), q.get("nonce")]), q.get("signature")) {
        return Err(refuse(StatusCode::FORBIDDEN, "wrong signature"));
    }
    Ok(())
}

/// The URL handshake of a signed GET: echoing echostr proves we know the Token.
fn handshake(q: &CheckedQuery) -> Result<String, Refusal> {
    match q.get("echostr") {
        "" => Err(refuse(StatusCode::BAD_REQUEST, "GET without echostr")),
        echo => Ok(echo.to_string()),
    }
}

/// The body of a push: at most [`MAX_BODY`] (a larger Content-Length is refused unread), UTF-8.
async fn read_body(req: Request) -> Result<String, Refusal> {
    let too_big = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > MAX_BODY);
    if too_big {
        return Err(refuse(StatusCode::PAYLOAD_TOO_LARGE, "body over 64 KB"));
    }
    let body = axum::body::to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|_| refuse(StatusCode::PAYLOAD_TOO_LARGE, "body over 64 KB"))?;
    String::from_utf8(body.into()).map_err(|_| refuse(StatusCode::BAD_REQUEST, "body is not UTF-8"))
}

async fn serve(app: &App, req: Request) -> Result<String, Refusal> {
    if let Some(p) = &app.platform
        && (p.only || is_platform_path(req.uri().path()))
    {
        return serve_platform(app, p, req).await;
    }
    let q = checked_query(&req, &["signature", "timestamp", "nonce"])?;
    let (timestamp, nonce, ts) = (q.get("timestamp"), q.get("nonce"), q.ts);
    // The settings of the account the path names, else the listener's own.
    let named = app
        .accounts
        .iter()
        .find(|a| req.uri().path().split('/').any(|seg| !seg.is_empty() && (seg == a.name || seg == a.appid)));
    let account = match named {
        Some(a) => Settings { token: &a.token, crypt: a.crypt.as_ref(), also: &[] },
        None => Settings { token: &app.token, crypt: app.crypt.as_ref(), also: &app.shared },
    };
    check_signature(account.token, &q)?;
    match *req.method() {
        Method::GET => handshake(&q),
        Method::POST => {
            let encrypted = q.get("encrypt_type").eq_ignore_ascii_case("aes");
            let body = read_body(req).await?;
            let body = body.as_str();
            let (event, sealed_for) = message(&account, body, encrypted, timestamp, nonce, q.get("msg_signature"))?;
            // The account it is for: the one the path names, else the one a safe-mode message
            // was sealed for, else the listener's.
            let for_account = named.map(|a| a.appid.clone()).or(sealed_for).unwrap_or_else(|| app.appid.clone());
            // Safe mode's msg_signature covers the body too: only plaintext pushes can be replayed.
            let held = match account.crypt.is_none().then(|| app.replays.check(ts, nonce, body)) {
                Some(Seen::Replayed) => {
                    return Err(refuse(
                        StatusCode::FORBIDDEN,
                        "replay: this timestamp and nonce came with another message in the last 5 minutes",
                    ));
                }
                Some(Seen::New) => true,
                Some(Seen::Again) | None => false,
            };
            let stored = store_event(app, event, Some(for_account.as_str()).filter(|a| !a.is_empty()), "event").await;
            if held && stored.is_err() {
                // Not stored: WeChat's retry of this very push must not look like a replay.
                app.replays.release(ts, nonce);
            }
            stored
        }
        _ => Err(refuse(StatusCode::METHOD_NOT_ALLOWED, "only GET and POST")),
    }
}

/// A push to the platform's authorization event URL: always encrypted with the platform's key.
async fn serve_platform(app: &App, p: &PlatformApp, req: Request) -> Result<String, Refusal> {
    // `signature` is checked on the handshake only: a push's `msg_signature` covers its body too.
    let q = checked_query(&req, &["timestamp", "nonce"])?;
    let (timestamp, nonce) = (q.get("timestamp"), q.get("nonce"));
    if *req.method() == Method::GET {
        check_signature(&p.token, &q)?;
        return handshake(&q);
    }
    if *req.method() != Method::POST {
        return Err(refuse(StatusCode::METHOD_NOT_ALLOWED, "only GET and POST"));
    }
    let msg_signature = q.get("msg_signature");
    let path = req.uri().path().to_string();
    let body = read_body(req).await?;
    let body = body.as_str();
    let bad = |why: String| refuse(StatusCode::BAD_REQUEST, why);
    let outer = xml::read(body).map_err(bad)?;
    // Sealed for the component appid, and for no other.
    let settings = Settings { token: &p.token, crypt: Some(&p.crypt), also: &[] };
    let (mut push, _) = open_sealed(&settings, &outer, timestamp, nonce, msg_signature)?;
    // The platform's own pushes carry `AppId`; an authorizer's messages, `ToUserName`.
    if !outer.contains_key(pushes::APP_ID) && outer.contains_key(pushes::TO_USER_NAME) {
        return authorizer_message(app, &path, push).await;
    }
    let field = |k: &str| push.get(k).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string));
    let info_type = field(pushes::INFO_TYPE).unwrap_or_default();
    if field(pushes::APP_ID).as_deref() != Some(p.appid.as_str()) || info_type.is_empty() {
        return Err(bad("not a push of this platform: no InfoType, or another AppId".into()));
    }
    let created =
        push.get(pushes::CREATE_TIME).and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok())).unwrap_or(0);
    let unavailable = |why: String| {
        warn!("error: platform push {info_type}: {why}");
        refuse(StatusCode::SERVICE_UNAVAILABLE, why)
    };
    let mut client = p.client.clone();
    let client = match tokio::time::timeout(CLIENT_WAIT, client.wait_for(Option::is_some)).await {
        Ok(Ok(c)) => c.clone().ok_or_else(|| unavailable("no client".into()))?,
        _ => return Err(unavailable("the run's client is not ready".into())),
    };
    let appid = field(pushes::AUTHORIZER_APPID).unwrap_or_default();
    match info_type.as_str() {
        t if t == pushes::COMPONENT_VERIFY_TICKET.name => {
            let ticket = field(pushes::VERIFY_TICKET).unwrap_or_default();
            client.store_ticket(&ticket, created).await.map_err(|e| unavailable(e.errmsg))?;
            // The log is not a secret store: the ticket stays out of it.
            push.insert(pushes::VERIFY_TICKET.into(), Value::from("(stored)"));
        }
        t if t == pushes::AUTHORIZED.name || t == pushes::UPDATEAUTHORIZED.name => {
            let code = field(pushes::AUTHORIZATION_CODE).unwrap_or_default();
            let known = match client.platform_appid() {
                Some(c) => {
                    client.store().authorizer(c, &appid).await.ok().flatten().is_some_and(|a| a.auth_code == code)
                }
                None => false,
            };
            if !known {
                match client.exchange_code(&code).await {
                    Ok(_) => {}
                    // WeChat re-sends what is not answered `success`: worth it only for a failure
                    // that may pass.
                    Err(e) if matches!(e.kind, crate::api::ErrorKind::Network | crate::api::ErrorKind::Io) => {
                        return Err(unavailable(format!("cannot exchange the code of {appid}: {}", e.errmsg)));
                    }
                    Err(e) => {
                        warn!("error: platform push {info_type}: the code of {appid} was refused: {}", e.errmsg)
                    }
                }
            }
            push.insert(pushes::AUTHORIZATION_CODE.into(), Value::from("(exchanged)"));
        }
        t if t == pushes::UNAUTHORIZED.name => {
            client.revoke_authorizer(&appid).await.map_err(|e| unavailable(e.errmsg))?;
        }
        _ => {}
    }
    // A ticket is the platform's own event: it goes to the platform's stream; the others carry
    // the authorizer they are about.
    store_event(app, push, Some(p.appid.as_str()), "platform").await
}

/// An authorizer's message, pushed to the platform's message URL and already decrypted: logged
/// with the appid the URL names as `AuthorizerAppid`.
async fn authorizer_message(app: &App, path: &str, mut push: Map<String, Value>) -> Result<String, Refusal> {
    let Some(appid) = path_appid(path) else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "an authorizer's message without its appid in the path: set the platform's message URL to .../platform/$APPID$",
        ));
    };
    require_message_fields(&push)?;
    push.insert(pushes::AUTHORIZER_APPID.into(), Value::from(appid));
    // Its stream is the authorizer's own, whatever the account.
    store_event(app, push, None, "event").await
}

/// Appends an accepted `event` to the log (`account`'s stream in a shared store) and counts it,
/// new or re-sent; verbose, a line on stdout starts with `label`. `success` once it is stored,
/// never before: what is not answered `success` WeChat sends again.
async fn store_event(
    app: &App,
    event: Map<String, Value>,
    account: Option<&str>,
    label: &str,
) -> Result<String, Refusal> {
    let summary = app.verbose.then(|| summary(&event));
    let again = match app.log.append_for(event, account).await {
        Ok(stored) => stored == Stored::Duplicate,
        Err(e) => {
            warn!("error: cannot write the event log: {e}");
            return Err(refuse(StatusCode::SERVICE_UNAVAILABLE, "event log unavailable"));
        }
    };
    let counter = if again { &app.stats.duplicates } else { &app.stats.accepted };
    counter.fetch_add(1, Ordering::Relaxed);
    if let Some(s) = summary {
        say!("{label} {s}{}", if again { " (re-sent, already logged)" } else { "" });
    }
    Ok("success".into())
}

/// What one account's messages are checked with.
struct Settings<'a> {
    token: &'a Secret,
    crypt: Option<&'a MsgCrypt>,
    /// Other appids a safe-mode message may carry (accounts sharing these settings).
    also: &'a [String],
}

/// The pushed message as a JSON object: decrypted in safe mode, parsed, checked; with the
/// appid a safe-mode message was sealed for.
fn message(
    app: &Settings<'_>,
    body: &str,
    encrypted: bool,
    timestamp: &str,
    nonce: &str,
    msg_signature: &str,
) -> Result<(Map<String, Value>, Option<String>), Refusal> {
    let bad = |why: String| refuse(StatusCode::BAD_REQUEST, why);
    let outer = xml::read(body).map_err(bad)?;
    let (inner, sealed_for) = match (app.crypt, encrypted) {
        (None, false) => (outer, None),
        (Some(_), false) => return Err(bad("safe mode: the message is not encrypted".into())),
        (_, true) => {
            let (inner, appid) = open_sealed(app, &outer, timestamp, nonce, msg_signature)?;
            (inner, Some(appid))
        }
    };
    require_message_fields(&inner)?;
    Ok((inner, sealed_for))
}

/// The message a safe-mode envelope `outer` seals, checked with `msg_signature`, decrypted with
/// `app`'s key and parsed; with the appid it was sealed for (`app`'s, or one it shares with).
fn open_sealed(
    app: &Settings<'_>,
    outer: &Map<String, Value>,
    timestamp: &str,
    nonce: &str,
    msg_signature: &str,
) -> Result<(Map<String, Value>, String), Refusal> {
    let bad = |why: String| refuse(StatusCode::BAD_REQUEST, why);
    let Some(crypt) = app.crypt else {
        return Err(bad("encrypted message but no EncodingAESKey is configured".into()));
    };
    let enc = outer.get(crypto::ENCRYPT).and_then(Value::as_str).ok_or_else(|| bad("no Encrypt element".into()))?;
    if !crypto::same(&crypto::signature(&[app.token.expose(), timestamp, nonce, enc]), msg_signature) {
        return Err(refuse(StatusCode::FORBIDDEN, "wrong msg_signature"));
    }
    let (plain, appid) = crypt.decrypt(enc).map_err(bad)?;
    if appid != crypt.appid() && !app.also.contains(&appid) {
        return Err(bad(format!("appid mismatch: the message is for {appid:?}")));
    }
    let plain = String::from_utf8(plain).map_err(|_| bad("decrypted message is not UTF-8".into()))?;
    Ok((xml::read(&plain).map_err(bad)?, appid))
}

/// Refuses what is not a WeChat message: one without a sender, a time or a type. Empty counts
/// as missing: these make the key that tells a re-sent event from a new one.
fn require_message_fields(ev: &Map<String, Value>) -> Result<(), Refusal> {
    for k in [pushes::FROM_USER_NAME, pushes::CREATE_TIME, pushes::MSG_TYPE] {
        if ev.get(k).is_none_or(|v| v.is_null() || v.as_str() == Some("")) {
            return Err(refuse(StatusCode::BAD_REQUEST, format!("not a WeChat message: no {k}")));
        }
    }
    Ok(())
}

/// One line naming an event: its type and ids (`add_store_audit_info audit_id=7 status=1`).
pub fn summary(ev: &Map<String, Value>) -> String {
    let s = |k: &str| ev.get(k).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).unwrap_or_default();
    let mut out = if ev.contains_key(pushes::INFO_TYPE) {
        s(pushes::INFO_TYPE)
    } else if s(pushes::MSG_TYPE) == "event" {
        s("Event")
    } else {
        s(pushes::MSG_TYPE)
    };
    for k in ["audit_id", "status", "poiid", pushes::AUTHORIZER_APPID] {
        if ev.contains_key(k) {
            out += &format!(" {k}={}", s(k));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_token_and_key() {
        let mut o = Options::new("tok-123", PathBuf::from("events.jsonl"));
        o.aes_key = Some("k".repeat(43).into());
        let shown = format!("{o:?}");
        assert!(!shown.contains("tok-123") && !shown.contains("kkk"), "{shown}");
        assert!(shown.contains("events.jsonl"), "{shown}");
    }
}
