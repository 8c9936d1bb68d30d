//! One run's wiring, shared by `run` and the REPL: the async runtime, the simulator when
//! asked for, the event listener, the client, and the engine with every function registered.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::listen::{self, Listener};
use crate::runtime::{self, Ctx};
use crate::sandbox::{self, Sandbox};
use crate::transport::{Cancel, Client, Credentials};

/// What a session is asked to be.
#[derive(Clone, Debug, Default)]
pub struct SessionOptions {
    /// Start an in-process simulator and talk to it instead of `WECHAT_API_BASE`.
    pub sandbox: Option<sandbox::Config>,
    /// Total timeout of one HTTP request.
    pub timeout: Option<Duration>,
    /// Run-wide request rate limit (requests per second); else `WXSCRIPT_QPS`.
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
}

/// A live session. Dropping it stops the simulator and the listener.
pub struct Session {
    pub ctx: Arc<Ctx>,
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
    pub fn start(opts: &SessionOptions) -> Result<Session, String> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        let cancel = Arc::new(Cancel::default());
        let mut cfg = super::config::transport_config()?;
        if let Some(t) = opts.timeout {
            cfg.timeout = t;
        }
        if opts.qps.is_some() {
            cfg.qps = opts.qps;
        }
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
        let listener = match listen_opts {
            Some(mut lo) => {
                if opts.sandbox.as_ref().is_some_and(|sc| sc.push_url.is_none()) {
                    // Fed by the simulator, whose encrypted pushes carry its own appid.
                    lo.appid = sandbox::APPID.into();
                }
                let push = (lo.token.clone(), lo.aes_key.clone());
                let l = rt
                    .block_on(Listener::start(lo, None))
                    .map_err(|e| format!("cannot start the event listener: {e}"))?;
                Some((l, push))
            }
            None => None,
        };
        let sim = match &opts.sandbox {
            Some(sc) => {
                let mut sc = sc.clone();
                if sc.push_url.is_none()
                    && let Some((l, (token, key))) = &listener
                {
                    sc.push_url = Some(l.url());
                    sc.push_token = token.clone();
                    sc.push_aes_key = key.clone();
                }
                let sim = rt.block_on(Sandbox::start(sc, 0)).map_err(|e| format!("cannot start the sandbox: {e}"))?;
                cfg.base = sim.base_url();
                cfg.credentials =
                    Credentials::AppSecret { appid: sandbox::APPID.into(), secret: sandbox::SECRET.into() };
                // A fresh simulator each run: caching its tokens on disk would only leave litter.
                cfg.cache_dir = None;
                Some(sim)
            }
            None => None,
        };
        let listener = listener.map(|(l, _)| l);
        let event_log = listener.as_ref().map(|l| l.log_path().to_path_buf()).or_else(|| opts.event_log.clone());
        let client = Arc::new(Client::new(cfg, cancel.clone()).map_err(|e| e.to_string())?);
        let ctx = Arc::new(Ctx {
            client,
            handle: rt.handle().clone(),
            cancel: cancel.clone(),
            quiet: opts.quiet,
            dry_run: opts.dry_run,
            event_log,
            sandbox: Default::default(),
        });
        Ok(Session { ctx, cancel, sim, listener, temp_log, rt })
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
        runtime::engine(self.ctx.clone())
    }
}
