//! The script engine: one factory for `run`, `check`, `docs` and tests, the registration of
//! every declared endpoint as a rhai function (and of the helpers the caller hands over, through
//! the catalog), and the bridge from native calls to the transport (scripts run on a thread
//! outside the tokio runtime and block on each request).

pub mod catalog;
pub mod convert;
pub mod docs;
pub(crate) mod fallback;
pub mod lint;
pub mod render;
pub mod stdlib;

use std::collections::BTreeMap;
use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult, FuncRegistration, Map, Module, NativeCallContext, Position};
use serde_json::Value;

use crate::api::check::{self, Request};
use crate::api::{self, Endpoint, ErrorKind, WxError};
use crate::transport::{Cancel, Client};

pub type RhaiResult = Result<Dynamic, Box<EvalAltResult>>;

/// Which account a script's calls are made as. The script's own account lives here; a
/// thread that pins one (a `parallel` worker, the body of `account::with`) keeps its own in
/// [`PINNED`], so the account in force is per script thread, never changed under another's feet.
#[derive(Debug)]
pub struct AccountSlot {
    /// Tells this run's pins from those of another engine in the same process.
    id: u64,
    current: std::sync::atomic::AtomicUsize,
}

impl AccountSlot {
    /// A slot starting as the client's account at `index`.
    pub fn new(index: usize) -> AccountSlot {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        AccountSlot {
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            current: std::sync::atomic::AtomicUsize::new(index),
        }
    }
}

impl Default for AccountSlot {
    fn default() -> Self {
        AccountSlot::new(0)
    }
}

thread_local! {
    /// The accounts pinned on this thread, by slot id.
    static PINNED: std::cell::RefCell<Vec<(u64, usize)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// What native functions need during a run.
pub struct Ctx {
    pub client: Arc<Client>,
    /// The account calls are made as.
    pub account: AccountSlot,
    pub handle: tokio::runtime::Handle,
    pub cancel: Arc<Cancel>,
    /// No progress output (`--quiet`).
    pub quiet: bool,
    /// Mutating calls are shown, not sent (`--dry-run`).
    pub dry_run: bool,
    /// The event log `event::find` / `event::wait` read; `None`: `store::events::default_path()`.
    pub event_log: Option<std::path::PathBuf>,
    /// Where tokens, journals and events are kept: the session's store, which the client's
    /// tokens use too.
    pub store: Arc<dyn crate::store::Store>,
    /// Whether the server is a wxscript simulator, and which instance, asked once per run (see
    /// [`Ctx::is_sandbox`]).
    pub sandbox: std::sync::OnceLock<Option<String>>,
    /// Seconds a simulator's clock is ahead of this machine's (`--start-time`,
    /// `sandbox::advance`), learned with [`Ctx::is_sandbox`]'s question and from each advance.
    pub clock_offset: std::sync::atomic::AtomicI64,
}

impl Ctx {
    /// Runs a future to completion from a script thread.
    pub fn block<F: std::future::Future>(&self, f: F) -> F::Output {
        self.handle.block_on(f)
    }

    /// Whether the server answers the simulator's admin route. Asked once per run (recipes ask
    /// often), and only of a server on loopback, the only place a simulator serves (the one a
    /// session starts, or `wxscript sandbox serve`): a real API is never asked.
    pub fn is_sandbox(&self) -> bool {
        self.sandbox_instance().is_some()
    }

    /// The simulator's instance id, `None` when the server is not a simulator.
    fn sandbox_instance(&self) -> Option<&str> {
        self.sandbox
            .get_or_init(|| {
                if !self.client.on_loopback() {
                    return None;
                }
                let v = self.block(self.client.plain(api::Method::Get, "_sandbox/stats", None)).ok()?;
                v.get("token_fetches")?;
                if let Some(now) = v.get("now").and_then(Value::as_i64) {
                    self.set_server_now(now);
                }
                Some(v.get("instance").and_then(Value::as_str).unwrap_or_default().to_string())
            })
            .as_deref()
    }

    /// The server's time in Unix seconds: this machine's clock, moved as a simulator's was.
    /// Only a server on loopback is asked whether it is a simulator (see [`Ctx::is_sandbox`]).
    pub fn now(&self) -> i64 {
        let machine = crate::util::unix_now() as i64;
        if self.is_sandbox() { machine + self.clock_offset.load(std::sync::atomic::Ordering::Relaxed) } else { machine }
    }

    /// Records the simulator's time `now` (Unix seconds), as its answers tell it.
    pub fn set_server_now(&self, now: i64) {
        let offset = now - crate::util::unix_now() as i64;
        self.clock_offset.store(offset, std::sync::atomic::Ordering::Relaxed);
    }

    /// The index of the account calls are made as now, on this thread.
    pub fn account(&self) -> usize {
        let id = self.account.id;
        PINNED
            .with(|p| p.borrow().iter().find(|(s, _)| *s == id).map(|(_, i)| *i))
            .unwrap_or_else(|| self.account.current.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// From now on this thread's calls are made as the account at `index`: the pinned account
    /// when this thread has one, else the script's own.
    pub fn use_account(&self, index: usize) {
        let id = self.account.id;
        let pinned = PINNED.with(|p| {
            let mut p = p.borrow_mut();
            p.iter_mut().find(|(s, _)| *s == id).map(|slot| slot.1 = index).is_some()
        });
        if !pinned {
            self.account.current.store(index, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Runs `f` with the account at `index` pinned on this thread; the account in force before
    /// is back afterwards, however `f` ends (a panic included).
    pub fn with_account<T>(&self, index: usize, f: impl FnOnce() -> T) -> T {
        struct Restore(u64, Option<usize>);
        impl Drop for Restore {
            fn drop(&mut self) {
                PINNED.with(|p| {
                    let mut p = p.borrow_mut();
                    p.retain(|(s, _)| *s != self.0);
                    if let Some(i) = self.1 {
                        p.push((self.0, i));
                    }
                });
            }
        }
        let id = self.account.id;
        let before = PINNED.with(|p| {
            let mut p = p.borrow_mut();
            let before = p.iter().find(|(s, _)| *s == id).map(|(_, i)| *i);
            p.retain(|(s, _)| *s != id);
            p.push((id, index));
            before
        });
        let _restore = Restore(id, before);
        f()
    }

    /// The account in force now.
    pub fn current_account(&self) -> std::sync::Arc<crate::transport::Account> {
        self.client.account(self.account())
    }

    /// The appid calls are made as now, if any.
    pub fn appid(&self) -> Option<String> {
        self.current_account().appid().map(str::to_string)
    }

    /// Which server and account this run works on, as journals record it. A simulator is
    /// named by its instance too: one restarted on the same port starts from nothing.
    pub fn server(&self) -> String {
        let who = self.appid().unwrap_or_else(|| "the access token's account".into());
        match self.sandbox_instance() {
            Some(id) => format!("{who} at {} (simulator {id})", self.client.base()),
            None => format!("{who} at {}", self.client.base()),
        }
    }

    /// Sends a checked request and returns WeChat's answer, as a script error on failure. A
    /// create interrupted in flight may have been carried out: its cancellation says so, as a
    /// timeout does.
    ///
    /// With more than one account configured, the error names the account (`account`).
    pub fn send(&self, req: &Request, pos: Position) -> Result<Value, Box<EvalAltResult>> {
        let account = self.account();
        self.block(self.client.send(account, req)).map_err(|e| match req.policy.unknown_outcome() {
            Some(unknown) if e.kind == ErrorKind::Cancelled && e.errmsg != crate::transport::CANCELLED_UNSENT => {
                let msg = format!("interrupted during {}: the request may have been sent, so {unknown}", req.api);
                EvalAltResult::ErrorTerminated(msg.into(), pos).into()
            }
            _ => self.name_account(throw(e, pos)),
        })
    }

    /// Adds `account: "shop-a (wx1111…)"` to a thrown error map when the run knows more than
    /// one account, so a failure says whose it was.
    pub fn name_account(&self, mut err: Box<EvalAltResult>) -> Box<EvalAltResult> {
        if self.client.accounts().len() > 1
            && let EvalAltResult::ErrorRuntime(v, _) = err.as_mut()
            && let Some(mut m) = v.write_lock::<Map>()
        {
            m.insert("account".into(), self.current_account().label().into());
        }
        err
    }
}

/// A `WxError` as the catchable map scripts see, with the call's place in `line` and
/// `position` (so a rethrown error still says where it arose); a cancellation is not catchable.
pub fn throw(e: WxError, pos: Position) -> Box<EvalAltResult> {
    if e.kind == ErrorKind::Cancelled {
        return EvalAltResult::ErrorTerminated("cancelled".into(), pos).into();
    }
    let mut m = error_map(&e);
    set_place(&mut m, pos);
    EvalAltResult::ErrorRuntime(m.into(), pos).into()
}

/// Records `pos` in an error map as `line` and `position` (rhai's own names for them).
fn set_place(m: &mut Map, pos: Position) {
    if let Some(line) = pos.line() {
        m.insert("line".into(), (line as rhai::INT).into());
        m.insert("position".into(), (pos.position().unwrap_or(0) as rhai::INT).into());
    }
}

/// The place an error map records (see [`throw`]).
pub fn place_of(m: &Map) -> Option<Position> {
    let line = usize::try_from(m.get("line")?.as_int().ok()?).ok().filter(|l| *l > 0)?;
    let col = m.get("position").and_then(|p| p.as_int().ok()).and_then(|p| usize::try_from(p).ok()).unwrap_or(0);
    Some(Position::new(u16::try_from(line).ok()?, u16::try_from(col).unwrap_or(0)))
}

/// An error of the script itself (a misspelt function, a type mismatch, a string thrown) in
/// the same shape as every other error: `#{kind: "script", api: "", errcode: (), errmsg, hint:
/// "", line, position}`, plus `function` for a call of an unknown function. A thrown map is
/// kept as it is.
pub fn script_error(e: &EvalAltResult) -> Dynamic {
    let inner = e.unwrap_inner();
    if let EvalAltResult::ErrorRuntime(v, _) = inner
        && v.is_map()
    {
        return v.clone();
    }
    let mut m = Map::new();
    m.insert("kind".into(), "script".into());
    m.insert("api".into(), "".into());
    m.insert("errcode".into(), Dynamic::UNIT);
    let msg = match inner {
        EvalAltResult::ErrorRuntime(v, _) => v.to_string(),
        other => render::strip_position(&other.to_string()),
    };
    m.insert("errmsg".into(), msg.into());
    m.insert("hint".into(), "".into());
    if let EvalAltResult::ErrorFunctionNotFound(sig, _) = inner {
        m.insert("function".into(), render::strip_position(sig).into());
    }
    set_place(&mut m, inner.position());
    // The place is in another file when the error arose in a module's function: say which, as
    // rhai does for the errors it hands to `catch`.
    let mut cur = e;
    let mut source = None;
    while let EvalAltResult::ErrorInFunctionCall(_, src, next, _) | EvalAltResult::ErrorInModule(src, next, _) = cur {
        if !src.is_empty() {
            source = Some(src.clone());
        }
        cur = next;
    }
    if let Some(src) = source {
        m.insert("source".into(), src.into());
    }
    Dynamic::from_map(m)
}

/// `#{kind, api, errcode, errmsg, hint}` plus `field` / `path` where they apply.
pub fn error_map(e: &WxError) -> Map {
    let mut m = Map::new();
    m.insert("kind".into(), e.kind.as_str().into());
    m.insert("api".into(), e.api.clone().into());
    m.insert("errcode".into(), e.errcode.map(Dynamic::from_int).unwrap_or(Dynamic::UNIT));
    m.insert("errmsg".into(), e.errmsg.clone().into());
    m.insert("hint".into(), e.hint.clone().into());
    if let Some(f) = &e.field {
        m.insert("field".into(), f.clone().into());
    }
    if let Some(p) = &e.path {
        m.insert("path".into(), p.clone().into());
    }
    m
}

/// Reads a `WxError` back from a thrown map (for rendering).
pub fn error_from_map(m: &Map) -> Option<WxError> {
    let s = |k: &str| m.get(k).and_then(|v| v.clone().into_string().ok());
    let kind = match s("kind")?.as_str() {
        "api" => ErrorKind::Api,
        "input" => ErrorKind::Input,
        "network" => ErrorKind::Network,
        "auth" => ErrorKind::Auth,
        "io" => ErrorKind::Io,
        "timeout" => ErrorKind::Timeout,
        "usage" => ErrorKind::Usage,
        _ => return None,
    };
    Some(WxError {
        kind,
        api: s("api").unwrap_or_default(),
        errcode: m.get("errcode").and_then(|v| v.as_int().ok()),
        errmsg: s("errmsg").unwrap_or_default(),
        hint: s("hint").unwrap_or_default(),
        field: s("field"),
        path: s("path"),
    })
}

/// What to say when Ctrl-C ended a call or a run: "interrupted", or what an interrupted create
/// leaves unknown (see [`Ctx::send`]).
pub fn interrupted(e: Option<&EvalAltResult>) -> String {
    match e.map(EvalAltResult::unwrap_inner) {
        Some(EvalAltResult::ErrorTerminated(token, _)) if token.is_string() && token.to_string() != "cancelled" => {
            token.to_string()
        }
        _ => "interrupted".to_string(),
    }
}

/// Whether a script ended by `usage(message)` (so `run` exits 2, as for any usage error).
pub fn is_usage(e: &EvalAltResult) -> bool {
    match e {
        EvalAltResult::ErrorRuntime(v, _) => {
            v.read_lock::<Map>().and_then(|m| error_from_map(&m)).is_some_and(|w| w.kind == ErrorKind::Usage)
        }
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) | EvalAltResult::ErrorInModule(_, inner, _) => {
            is_usage(inner)
        }
        _ => false,
    }
}

/// Calls the declared function `name` (`store::list`) from Rust, as a script would.
pub fn invoke_named(ctx: &Ctx, name: &str, args: serde_json::Map<String, Value>, pos: Position) -> RhaiResult {
    let ep = api::by_name(name)
        .ok_or_else(|| throw(WxError::new(ErrorKind::Input, name, format!("{name} is not declared")), pos))?;
    invoke(ctx, ep, args, pos)
}

/// Calls a declared endpoint with a JSON argument map: check, encode, send, unwrap.
pub fn invoke(ctx: &Ctx, ep: &Endpoint, args: serde_json::Map<String, Value>, pos: Position) -> RhaiResult {
    invoke_json(ctx, ep, args, pos).map(|v| convert::to_dynamic(&v))
}

/// The same, leaving the payload as JSON (for helpers that build their own structures).
pub fn invoke_json(
    ctx: &Ctx,
    ep: &Endpoint,
    args: serde_json::Map<String, Value>,
    pos: Position,
) -> Result<Value, Box<EvalAltResult>> {
    let req = check::prepare(ep, args, &|| ctx.now()).map_err(|e| throw(e, pos))?;
    if ctx.dry_run && req.policy.mutates() {
        dry_run_print(&req);
        let sample = serde_json::from_str(ep.sample).unwrap_or(Value::Null);
        return Ok(check::unwrap(ep, sample).unwrap_or(Value::Null));
    }
    let answer = ctx.send(&req, pos)?;
    check::unwrap(ep, answer).map_err(|e| ctx.name_account(throw(ctx_scrub(ctx, e), pos)))
}

/// What a dry run shows instead of sending: method, path, query and body (never a token).
pub fn dry_run_print(req: &Request) {
    use std::io::Write;
    let mut line = format!("dry-run: {} {}", req.method.as_str(), req.api);
    if !req.query.is_empty() {
        let q: Vec<String> = req.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        line.push('?');
        line.push_str(&q.join("&"));
    }
    match &req.payload {
        check::Payload::None => {}
        check::Payload::Json(v) => {
            line.push(' ');
            line.push_str(&v.to_string());
        }
        check::Payload::File { part, file_name, bytes } => {
            line.push_str(&format!(" (multipart {part}: {file_name}, {} bytes)", bytes.len()));
        }
    }
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn ctx_scrub(ctx: &Ctx, mut e: WxError) -> WxError {
    e.errmsg = ctx.client.redact(&e.errmsg);
    e
}

/// A script value as a JSON value, or an input error naming the argument.
pub fn arg_json(ep_api: &str, field: &str, d: &Dynamic, pos: Position) -> Result<Value, Box<EvalAltResult>> {
    convert::to_json(d).map_err(|m| throw(WxError::input(ep_api, field, format!("argument \"{field}\": {m}")), pos))
}

/// The argument map of a one-argument call: a map, or the bare id of a single-parameter function.
fn one_arg(ep: &Endpoint, d: &Dynamic, pos: Position) -> Result<serde_json::Map<String, Value>, Box<EvalAltResult>> {
    if d.is_map() {
        return match arg_json(ep.path, "map", d, pos)? {
            Value::Object(o) => Ok(o),
            _ => unreachable!("a rhai map converts to a JSON object"),
        };
    }
    match ep.params {
        [single] => {
            let mut o = serde_json::Map::new();
            o.insert((*single).into(), arg_json(ep.path, single, d, pos)?);
            Ok(o)
        }
        _ => Err(throw(
            WxError::input(
                ep.path,
                "map",
                format!("{} expects a map of fields, got {} (see `wxscript docs`)", ep.qualified(), d.type_name()),
            ),
            pos,
        )),
    }
}

fn positional(
    ep: &Endpoint,
    vals: &[Dynamic],
    pos: Position,
) -> Result<serde_json::Map<String, Value>, Box<EvalAltResult>> {
    let mut o = serde_json::Map::new();
    for (name, v) in ep.params.iter().zip(vals) {
        o.insert((*name).into(), arg_json(ep.path, name, v, pos)?);
    }
    Ok(o)
}

fn doc_lines(ep: &Endpoint) -> Vec<String> {
    vec![format!("/// {}", ep.doc), format!("/// {} {}", ep.method.as_str(), ep.path)]
}

/// Registers one declaration into its module, in every call form it supports.
fn register_endpoint(module: &mut Module, ep: &'static Endpoint, ctx: &Arc<Ctx>) {
    let reg = |params: Vec<String>| {
        FuncRegistration::new(ep.name).with_volatility(true).with_params_info(params).with_comments(doc_lines(ep))
    };
    if ep.fields.is_empty() {
        let c = ctx.clone();
        reg(vec!["Dynamic".into()]).set_into_module(module, move |nc: NativeCallContext| -> RhaiResult {
            invoke(&c, ep, serde_json::Map::new(), nc.call_position())
        });
        return;
    }
    let c = ctx.clone();
    let one_name = if ep.params.len() == 1 { ep.params[0].to_string() } else { "map".to_string() };
    reg(vec![format!("{one_name}: Dynamic"), "Dynamic".into()]).set_into_module(
        module,
        move |nc: NativeCallContext, a: Dynamic| -> RhaiResult {
            let pos = nc.call_position();
            invoke(&c, ep, one_arg(ep, &a, pos)?, pos)
        },
    );
    if ep.params.len() == 2 {
        let c = ctx.clone();
        let p: Vec<String> = ep.params.iter().map(|p| format!("{p}: Dynamic")).chain(["Dynamic".into()]).collect();
        reg(p).set_into_module(module, move |nc: NativeCallContext, a: Dynamic, b: Dynamic| -> RhaiResult {
            let pos = nc.call_position();
            invoke(&c, ep, positional(ep, &[a, b], pos)?, pos)
        });
    }
}

/// Builds the modules of every declared endpoint, keyed by module name.
pub fn endpoint_modules(ctx: &Arc<Ctx>) -> BTreeMap<&'static str, Module> {
    let mut modules: BTreeMap<&'static str, Module> = BTreeMap::new();
    for ep in api::endpoints() {
        register_endpoint(modules.entry(ep.module).or_default(), ep, ctx);
    }
    modules
}

/// Whether a map is rhai's own description of a caught script error (`message`, `error`, no
/// `kind`), as `catch (e)` receives it.
fn is_rhai_error_map(m: &Map) -> bool {
    (2..=8).contains(&m.len()) && !m.contains_key("kind") && m.contains_key("error") && m.contains_key("message")
}

/// rhai's own map of a caught script error in the common shape (see [`script_error`]); its
/// other keys (`error`, `function`, ...) stay.
fn normalize_rhai_error_map(m: &mut Map) {
    // rhai appends "in call to function ..." lines and the place: the place is in `line` and
    // `position` already.
    let msg = m.remove("message").map(|v| v.to_string()).unwrap_or_default();
    let msg = render::strip_position(msg.lines().next().unwrap_or_default());
    m.insert("kind".into(), "script".into());
    m.insert("api".into(), "".into());
    m.insert("errcode".into(), Dynamic::UNIT);
    m.insert("errmsg".into(), msg.into());
    m.insert("hint".into(), "".into());
}

/// `catch (e)` gets rhai's own map for an error of the script itself; rhai offers no hook
/// there, so the catch variable is put in the common shape the first time it is read. Reading
/// a variable asks this first: it looks only at the variable's own slot and, for the few maps
/// that look like an error, at two keys.
fn normalize_caught_errors(engine: &mut Engine) {
    #[allow(deprecated)]
    engine.on_var(|name, index, mut ctx| {
        if index == 0 {
            return Ok(None);
        }
        let Some((_, _, v)) = ctx.scope().iter_raw().nth(index - 1) else { return Ok(None) };
        if !v.is_map() || !v.read_lock::<Map>().is_some_and(|m| is_rhai_error_map(&m)) {
            return Ok(None);
        }
        if let Some(v) = ctx.scope_mut().get_mut(name)
            && let Some(mut m) = v.write_lock::<Map>()
        {
            normalize_rhai_error_map(&mut m);
        }
        Ok(None)
    });
}

/// The most a single `pad` may make: elements of an array, characters of a string.
pub const MAX_PAD: i64 = 16 << 20;

/// `pad` with a size check: asked for billions of elements, rhai's own would exhaust memory and
/// abort the process; over [`MAX_PAD`] this throws a catchable error instead. rhai's engine-wide
/// size limits are not used: they re-measure a whole array or map after every call that
/// changes it (20,000 `push`es of small maps took 3.6 s instead of 16 ms), and their error
/// cannot be caught.
fn guard_sizes(engine: &mut Engine) {
    fn check(nc: &NativeCallContext, len: rhai::INT, what: &str) -> Result<usize, Box<EvalAltResult>> {
        if len > MAX_PAD {
            let msg = format!("pad to {len} {what}: more than the {MAX_PAD} a single pad may add");
            return Err(throw(WxError::new(ErrorKind::Input, "pad", msg), nc.call_position()));
        }
        Ok(usize::try_from(len).unwrap_or(0))
    }
    engine.register_fn(
        "pad",
        |nc: NativeCallContext, a: &mut rhai::Array, len: rhai::INT, item: Dynamic| -> Result<(), Box<EvalAltResult>> {
            let len = check(&nc, len, "elements")?;
            if len > a.len() {
                a.resize(len, item);
            }
            Ok(())
        },
    );
    fn pad_str(s: &mut rhai::ImmutableString, len: usize, padding: &str) {
        let mut count = s.chars().count();
        let step = padding.chars().count();
        if len <= count || step == 0 {
            return;
        }
        let p = s.make_mut();
        while count < len {
            if count + step <= len {
                p.push_str(padding);
                count += step;
            } else {
                p.extend(padding.chars().take(len - count));
                count = len;
            }
        }
    }
    engine.register_fn(
        "pad",
        |nc: NativeCallContext,
         s: &mut rhai::ImmutableString,
         len: rhai::INT,
         c: char|
         -> Result<(), Box<EvalAltResult>> {
            pad_str(s, check(&nc, len, "characters")?, c.encode_utf8(&mut [0; 4]));
            Ok(())
        },
    );
    engine.register_fn(
        "pad",
        |nc: NativeCallContext,
         s: &mut rhai::ImmutableString,
         len: rhai::INT,
         p: &str|
         -> Result<(), Box<EvalAltResult>> {
            pad_str(s, check(&nc, len, "characters")?, p);
            Ok(())
        },
    );
}

/// rhai reserves `use` and `with` for syntax it does not have, which would make the contract's
/// `account::use` and `account::with` unparsable: they are read as the plain names they are. An engine that maps tokens
/// of its own (the REPL) passes the others through this.
pub fn map_token(token: rhai::Token) -> rhai::Token {
    match token {
        rhai::Token::Reserved(s) if matches!(s.as_str(), "use" | "with") => rhai::Token::Identifier(s),
        other => other,
    }
}

/// An engine that only parses, as a run parses: `account::use` and `account::with` are names,
/// no depth limit, no constant folding (a literal map keeps its keys' places). For judging and
/// reading source without running it: the REPL's "is this entry finished", the bundled
/// modules' docs, the places of a failed call.
pub fn parser_engine() -> Engine {
    let mut engine = Engine::new_raw();
    engine.set_max_expr_depths(0, 0);
    #[allow(deprecated)]
    engine.on_parse_token(|token, _, _| map_token(token));
    engine.set_optimization_level(rhai::OptimizationLevel::None);
    engine
}

/// The engine every command uses, with every function of `catalog` registered.
pub fn engine(ctx: Arc<Ctx>, catalog: &catalog::Catalog) -> Engine {
    let mut engine = Engine::new();
    #[allow(deprecated)]
    engine.on_parse_token(|token, _, _| map_token(token));
    engine.set_max_call_levels(64);
    engine.set_max_expr_depths(128, 64);
    guard_sizes(&mut engine);
    let cancel = ctx.cancel.clone();
    engine.on_progress(move |_| if cancel.is_cancelled() { Some("cancelled".into()) } else { None });
    // A closed pipe (`| head`) must not panic the run: output is best effort.
    engine.on_print(|s| {
        use std::io::Write;
        let _ = writeln!(std::io::stdout().lock(), "{s}");
    });
    normalize_caught_errors(&mut engine);
    engine.on_debug(|s, src, pos| match src {
        Some(src) => eprintln!("[{src}:{pos}] {s}"),
        None => eprintln!("[{pos}] {s}"),
    });
    let mut modules = endpoint_modules(&ctx);
    catalog.register_helpers(&mut engine, &mut modules, &ctx);
    fallback::add(&mut engine, &mut modules, catalog);
    for (name, m) in modules {
        engine.register_static_module(name, m.into());
    }
    engine.set_module_resolver(stdlib::Resolver::new("."));
    engine
}
