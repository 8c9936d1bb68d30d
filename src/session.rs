//! The composition root: one run's wiring, shared by `run`, `repl`, `listen`, `check`, `docs`
//! and tests. It puts together the async runtime, the config, the store (tokens, journals,
//! events) handed to everything that keeps state, the simulator when asked for,
//! the event listener, the client, the catalog of functions (the endpoints, the helpers it
//! hands over, the stdlib) and the engine with every function registered; and it says how a
//! command fails ([`Failure`]), which the CLI maps to an exit status.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::config;
use crate::helpers;
use crate::listen::{self, Listener};
use crate::runtime::catalog::Catalog;
use crate::runtime::{self, Ctx};
use crate::sandbox::{self, Sandbox};
use crate::store::{FileStore, Store};
use crate::transport::{self, AccountConfig, Cancel, Client, Credentials, TokenMode};

/// What kind of failure ended a command; each has its own exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The command was asked for wrongly: a bad flag or argument, a file that cannot be read,
    /// a script's own `usage(message)`.
    Usage,
    /// The work failed: a script or API error, a session that could not start, output that
    /// could not be written.
    Runtime,
    /// Ctrl-C stopped the work before it was done.
    Interrupted,
}

/// How a command failed: its kind, and what the user is told (on stderr, as it is; empty when
/// it has been shown already).
#[derive(Debug)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn usage(msg: impl fmt::Display) -> Failure {
        Failure { kind: FailureKind::Usage, message: format!("error: {msg}") }
    }

    pub fn runtime(msg: impl fmt::Display) -> Failure {
        Failure { kind: FailureKind::Runtime, message: format!("error: {msg}") }
    }

    /// A client's refusal to start: a usage error (a bad API base) exits as one, the rest as
    /// runtime failures.
    pub fn of(e: crate::api::WxError) -> Failure {
        match e.kind {
            crate::api::ErrorKind::Usage => Failure::usage(e.errmsg),
            _ => Failure::runtime(e),
        }
    }

    pub fn interrupted() -> Failure {
        Failure { kind: FailureKind::Interrupted, message: "interrupted".into() }
    }

    /// An error rendered already (a script's, with its source line and notes).
    pub fn rendered(kind: FailureKind, text: &str) -> Failure {
        Failure { kind, message: text.strip_suffix('\n').unwrap_or(text).to_string() }
    }

    /// A failure whose message has been shown already.
    pub fn shown(kind: FailureKind) -> Failure {
        Failure { kind, message: String::new() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The catalog of every function: the endpoints, the helpers and the stdlib, built once.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::new(helpers::SET))
}

/// Reads a script, keeping line numbers but neutralising a `#!` line. Windows editors save
/// UTF-8 with a byte-order mark (dropped), or in the ANSI code page (GBK on Chinese Windows),
/// which is refused with how to fix it rather than a decoder's message.
pub fn read_script(file: &Path) -> Result<String, Failure> {
    let bytes = std::fs::read(file).map_err(|e| Failure::usage(format!("cannot read {}: {e}", file.display())))?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut src = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(e) => {
            let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
            return Err(Failure::usage(format!(
                "{} is not UTF-8 (line {line}); it looks saved in a legacy encoding such as GBK: save it as UTF-8 (in Notepad: Save As, Encoding UTF-8)",
                file.display()
            )));
        }
    };
    if src.starts_with("#!") {
        // Blanked rather than removed, so that lines and columns stay where the user sees them.
        let end = src.find('\n').unwrap_or(src.len());
        src.replace_range(0..end, &" ".repeat(end));
    }
    Ok(src)
}

/// The async runtime requests and servers run on.
pub fn async_runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime(format!("cannot start the async runtime: {e}")))
}

/// An engine for commands that send no requests (`check`): every function registered, bound
/// to a client of a closed port.
pub fn offline_engine(rt: &tokio::runtime::Runtime) -> Result<rhai::Engine, Failure> {
    let cancel = Arc::new(Cancel::default());
    let cfg = transport::Config {
        base: "http://127.0.0.1:9".into(),
        credentials: Credentials::None,
        accounts: Vec::new(),
        timeout: Duration::from_secs(1),
        cache_dir: None,
        qps: None,
        platform: None,
    };
    let store: Arc<dyn Store> = Arc::new(FileStore::new(None));
    let client = Client::with_store(cfg, store.clone(), cancel.clone()).map_err(Failure::of)?;
    let ctx = Ctx {
        client: Arc::new(client),
        store,
        account: Default::default(),
        handle: rt.handle().clone(),
        cancel,
        quiet: true,
        dry_run: false,
        event_log: None,
        sandbox: Default::default(),
        clock_offset: Default::default(),
    };
    Ok(runtime::engine(Arc::new(ctx), catalog()))
}

/// What a session is asked to be.
#[derive(Clone, Debug, Default)]
pub struct SessionOptions {
    /// Start an in-process simulator and talk to it instead of `WECHAT_API_BASE`.
    pub sandbox: Option<sandbox::Config>,
    /// Total timeout of one HTTP request.
    pub timeout: Option<Duration>,
    /// Run-wide request rate limit (requests per second, 0 for unlimited); else
    /// `WXSCRIPT_QPS`, else the config file.
    pub qps: Option<f64>,
    /// Hide progress output.
    pub quiet: bool,
    /// Show mutating requests instead of sending them.
    pub dry_run: bool,
    /// Serve an event listener inside the run (`run --listen PORT`). With `sandbox` and no
    /// push URL of its own, a listener is started anyway (on a free loopback port, logging to a
    /// file of its own) and the simulator pushes its audits to it.
    pub listen: Option<listen::Options>,
    /// The event log scripts read when no listener runs in the session (`--log`).
    pub event_log: Option<PathBuf>,
    /// The account to start as (`--account`, a name or an appid); else `WXSCRIPT_ACCOUNT`,
    /// else `default`.
    pub account: Option<String>,
    /// The store (`--store`: `file` or a Redis URL); else `WXSCRIPT_STORE`, else the config file.
    pub store: Option<String>,
}

/// The simulator's own accounts besides `default` (= `wxsandbox`): `wxsandbox2` /
/// `sandbox-secret2` and so on, named by their appids, in stable mode as named accounts are.
fn sandbox_accounts(own: usize) -> Vec<AccountConfig> {
    (2..=own)
        .map(|i| AccountConfig {
            name: sandbox::own_appid(i),
            credentials: Credentials::AppSecret {
                appid: sandbox::own_appid(i),
                secret: sandbox::own_secret(i),
                mode: TokenMode::Stable,
            },
            qps: None,
        })
        .collect()
}

/// The accounts a session started with these options would know, as `(name, appid)`, without
/// starting it: what `check` validates `--account` against.
pub fn account_names(opts: &SessionOptions) -> Result<Vec<(String, Option<String>)>, Failure> {
    let cfg = config::transport_config().map_err(Failure::runtime)?;
    let (default, others) = match &opts.sandbox {
        Some(sc) => (Some(sandbox::APPID.to_string()), sandbox_accounts(sc.own_accounts)),
        None => (cfg.credentials.appid().map(str::to_string), cfg.accounts),
    };
    // As the session's accounts name themselves (`Account::appid`), so `check` accepts what `run` does.
    Ok(std::iter::once((transport::DEFAULT_ACCOUNT.to_string(), default))
        .chain(others.iter().map(|a| (a.name.clone(), a.credentials.appid().map(str::to_string))))
        .collect())
}

/// How long a `--sandbox` run waits for the simulator's first ticket push to reach its listener.
const TICKET_WAIT: Duration = Duration::from_secs(5);

/// Plays the simulator's merchants authorising the platform, as `--sandbox` promises: the
/// first ticket push is awaited (the in-process listener stores it), and each authorizer's
/// grant goes to the store as an exchanged code would, before the script starts. The grants
/// come from the simulator in-process, so a run with `--latency-ms` does not wait for them;
/// the listener, which receives the `authorized` pushes, finds their codes exchanged already.
async fn authorize_sandbox(client: &Client, sim: &Sandbox) -> Result<(), String> {
    let component = sandbox::COMPONENT_APPID;
    let deadline = tokio::time::Instant::now() + TICKET_WAIT;
    while client.store().ticket(component).await.is_none() {
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "the simulator's component_verify_ticket did not reach this run's listener within {} s",
                TICKET_WAIT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let now = crate::util::unix_now();
    for (appid, code, refresh, sets) in sim.authorize_all() {
        let record = crate::store::Authorizer {
            appid: appid.clone(),
            refresh_token: refresh,
            func_info: sets,
            authorized_at: now,
            refreshed_at: now,
            revoked_at: 0,
            auth_code: code,
        };
        client
            .store()
            .put_authorizer(component, &record)
            .await
            .map_err(|e| format!("sandbox platform: {appid}: {e}"))?;
    }
    client.adopt_authorizers().await;
    Ok(())
}

/// A live session. Dropping it stops the simulator and the listener.
pub struct Session {
    pub ctx: Arc<Ctx>,
    pub catalog: &'static Catalog,
    pub cancel: Arc<Cancel>,
    pub sim: Option<Sandbox>,
    pub listener: Option<Listener>,
    /// The event log made for this session, removed with it.
    pub temp_log: Option<TempLog>,
    // Dropped last: the simulator and in-flight requests run on it.
    pub rt: tokio::runtime::Runtime,
}

/// A file removed when dropped.
pub struct TempLog(pub PathBuf);

impl Drop for TempLog {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The prefix of a session's own event log in the temp directory; the process id follows.
const TEMP_LOG_PREFIX: &str = "wxscript-events-";

/// Removes the temporary event logs of sessions whose process is gone (killed before it could
/// remove its own). Only where the process table can be read (`/proc`); a log whose process id
/// is alive, whoever has it now, is left alone.
fn sweep_stale_temp_logs() {
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TEMP_LOG_PREFIX)) else { continue };
        let Some(pid) = rest.split('-').next().filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if rest.ends_with(".jsonl") && !proc.join(pid).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A random token for a listener only this process talks to.
fn private_token() -> String {
    (0..32).map(|_| fastrand::alphanumeric()).collect()
}

impl Session {
    pub fn start(opts: &SessionOptions) -> Result<Session, Failure> {
        let rt = async_runtime()?;
        let cancel = Arc::new(Cancel::default());
        let mut cfg = config::transport_config().map_err(Failure::runtime)?;
        if let Some(t) = opts.timeout {
            cfg.timeout = t;
        }
        if let Some(q) = opts.qps {
            cfg.qps = (q > 0.0).then_some(q);
        }
        if opts.sandbox.is_some() {
            // A fresh simulator each run: caching its tokens on disk would only leave litter.
            cfg.cache_dir = None;
        }
        // Tokens, journals and events: files on this host, or a Redis shared with others.
        let mut store_cfg = config::store_config(opts.store.as_deref()).map_err(Failure::runtime)?;
        store_cfg.account = match &opts.sandbox {
            Some(_) => Some(sandbox::APPID.to_string()),
            None => cfg.credentials.appid().map(str::to_string),
        };
        let store = rt.block_on(crate::store::open(&store_cfg, cfg.cache_dir.clone())).map_err(Failure::runtime)?;
        let mut listen_opts = opts.listen.clone();
        let mut temp_log = None;
        if let Some(sc) = &opts.sandbox
            && sc.push_url.is_none()
            && listen_opts.is_none()
        {
            // The run's own listener: a fresh simulator's audit ids start over every run, so
            // its events go to a log of their own, not to a shared one.
            sweep_stale_temp_logs();
            let path = std::env::temp_dir().join(format!(
                "{TEMP_LOG_PREFIX}{}-{:08x}.jsonl",
                std::process::id(),
                fastrand::u32(..)
            ));
            temp_log = Some(TempLog(path.clone()));
            listen_opts = Some(listen::Options::new(private_token(), path));
        }
        // The run's client is built last (it needs the simulator's address); a listener that
        // receives the platform's pushes waits for it.
        let (client_tx, client_rx) = tokio::sync::watch::channel::<Option<Arc<Client>>>(None);
        let listener = match listen_opts {
            Some(mut lo) => {
                // Read only when a listener runs: a [platform] without push settings is fine
                // for runs that only call.
                let platform_listen = match &opts.sandbox {
                    Some(sc) => Some(config::PlatformListen {
                        component_appid: sandbox::COMPONENT_APPID.into(),
                        token: sc.platform_token.clone(),
                        aes_key: sc.platform_aes_key.clone(),
                    }),
                    None => config::load().and_then(|f| config::platform_listen(&f)).map_err(Failure::runtime)?,
                };
                if let Some(sc) = opts.sandbox.as_ref().filter(|sc| sc.push_url.is_none()) {
                    // Fed by the simulator, whose encrypted pushes carry the appid of the own
                    // account each is for, all with the listener's Token and key.
                    lo.appid = sandbox::APPID.into();
                    lo.accounts.extend((2..=sc.own_accounts).map(|n| listen::AccountListen {
                        name: sandbox::own_appid(n),
                        appid: sandbox::own_appid(n),
                        token: None,
                        aes_key: None,
                    }));
                }
                if let Some(p) = &platform_listen {
                    lo.platform = Some(listen::PlatformOptions {
                        component_appid: p.component_appid.clone(),
                        token: p.token.clone(),
                        aes_key: p.aes_key.clone(),
                        client: client_rx.clone(),
                        only: false,
                    });
                }
                let push = (lo.token.clone(), lo.aes_key.clone());
                let l = rt
                    .block_on(Listener::start_in(lo, store.as_ref(), None))
                    .map_err(|e| Failure::runtime(format!("cannot start the event listener: {e}")))?;
                Some((l, push))
            }
            None => None,
        };
        let sim = match &opts.sandbox {
            Some(sc) => {
                let mut sc = sc.clone();
                let own = sc.own_accounts;
                if let Some((l, (token, key))) = &listener {
                    if sc.push_url.is_none() {
                        // A path per own account, so the listener knows whose each event is
                        // (its stream in a shared store) in plaintext mode too.
                        sc.push_url = Some(format!("{}{}", l.url(), sandbox::push::APPID_PLACEHOLDER));
                        sc.push_token = token.clone();
                        sc.push_aes_key = key.clone();
                    }
                    if sc.platform_push_url.is_none() {
                        sc.platform_push_url = Some(format!("{}platform", l.url()));
                    }
                }
                let sim = rt
                    .block_on(Sandbox::start(sc, 0))
                    .map_err(|e| Failure::runtime(format!("cannot start the sandbox: {e}")))?;
                cfg.base = sim.base_url();
                cfg.credentials = Credentials::AppSecret {
                    appid: sandbox::APPID.into(),
                    secret: sandbox::SECRET.into(),
                    mode: TokenMode::Stable,
                };
                // The simulator's accounts only: a real account's secret has no business there.
                cfg.accounts = sandbox_accounts(own);
                cfg.platform = Some(transport::PlatformConfig {
                    component_appid: sandbox::COMPONENT_APPID.into(),
                    component_secret: sandbox::COMPONENT_SECRET.into(),
                });
                Some(sim)
            }
            None => None,
        };
        let listener = listener.map(|(l, _)| l);
        let event_log = listener.as_ref().map(|l| l.log_path().to_path_buf()).or_else(|| opts.event_log.clone());
        let client = Arc::new(Client::with_store(cfg, store.clone(), cancel.clone()).map_err(Failure::of)?);
        rt.block_on(client.adopt_authorizers());
        let _ = client_tx.send(Some(client.clone()));
        if let (Some(sim), true) = (&sim, listener.is_some()) {
            rt.block_on(authorize_sandbox(&client, sim)).map_err(Failure::runtime)?;
        }
        let account =
            config::choose_account(opts.account.as_deref(), &client.account_names()).map_err(Failure::usage)?;
        let ctx = Arc::new(Ctx {
            client,
            account: runtime::AccountSlot::new(account),
            handle: rt.handle().clone(),
            cancel: cancel.clone(),
            quiet: opts.quiet,
            dry_run: opts.dry_run,
            event_log,
            store,
            sandbox: Default::default(),
            clock_offset: Default::default(),
        });
        Ok(Session { ctx, catalog: catalog(), cancel, sim, listener, temp_log, rt })
    }

    /// Ctrl-C triggers the session's cancellation instead of killing the process.
    pub fn cancel_on_ctrl_c(&self) {
        let cancel = self.cancel.clone();
        self.rt.spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                cancel.trigger();
            }
        });
    }

    /// A new engine bound to this session.
    pub fn engine(&self) -> rhai::Engine {
        runtime::engine(self.ctx.clone(), self.catalog)
    }

    /// The simulator's appid when the session talks to its own simulator.
    pub fn sandbox_appid(&self) -> Option<&'static str> {
        self.sim.as_ref().map(|_| sandbox::APPID)
    }

    /// Stops the simulator, then the runtime, without waiting long for stragglers.
    pub fn close(self) {
        let Session { sim, rt, .. } = self;
        drop(sim);
        rt.shutdown_timeout(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::runtime::catalog::Kind;

    #[test]
    fn the_catalog_holds_every_function_once() {
        let c = catalog();
        let names: Vec<&str> = c.entries().iter().map(|e| e.name.as_str()).collect();
        let unique: BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "a name is listed twice");
        let count = |name: &str| names.iter().filter(|n| **n == name).count();
        for ep in crate::api::endpoints() {
            assert_eq!(count(&ep.qualified()), 1, "{}", ep.qualified());
        }
        for h in helpers::SET.docs() {
            assert_eq!(count(h.name), 1, "{}", h.name);
            assert!(matches!(c.get(h.name).map(|e| e.kind), Some(Kind::Helper(_))), "{}", h.name);
        }
        for d in runtime::stdlib::docs() {
            assert_eq!(count(&d.name), 1, "{}", d.name);
        }
        let expected = crate::api::endpoints().count()
            + helpers::SET.docs().count()
            + runtime::stdlib::docs().iter().map(|d| &d.name).collect::<BTreeSet<_>>().len();
        assert_eq!(names.len(), expected);
    }

    /// The engine's functions, as `module::name` or a bare name.
    fn engine_functions(engine: &rhai::Engine) -> BTreeSet<String> {
        engine
            .gen_fn_signatures(false)
            .into_iter()
            .filter_map(|s| Some(s.split('(').next()?.trim().rsplit(' ').next()?.to_string()))
            .collect()
    }

    #[test]
    fn the_engine_registers_exactly_the_catalogs_functions() {
        let rt = async_runtime().expect("runtime");
        let engine = offline_engine(&rt).expect("engine");
        let registered: BTreeSet<String> = catalog().registered_names().into_iter().collect();
        let functions = engine_functions(&engine);
        let qualified: BTreeSet<String> = functions.iter().filter(|f| f.contains("::")).cloned().collect();
        let declared: BTreeSet<String> = registered.iter().filter(|f| f.contains("::")).cloned().collect();
        assert_eq!(qualified, declared);
        for global in registered.iter().filter(|f| !f.contains("::")) {
            assert!(functions.contains(global), "{global} is not registered");
        }
    }

    #[test]
    fn a_wrong_call_answers_with_the_catalogs_call_forms() {
        let rt = async_runtime().expect("runtime");
        let engine = offline_engine(&rt).expect("engine");
        let forms = catalog().get("csv::read").map(|e| e.signatures.join(" or ")).unwrap_or_default();
        let caught: rhai::Map = engine
            .eval(r#"let r = #{}; try { csv::read(1, 2, 3); } catch (e) { r = e; } r"#)
            .expect("the error is catchable");
        let errmsg = caught.get("errmsg").map(|m| m.to_string()).unwrap_or_default();
        assert!(errmsg.contains(&format!("call it as {forms}")), "{errmsg}");
    }
}
