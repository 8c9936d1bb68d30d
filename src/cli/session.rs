//! One run's wiring, shared by `run` and the REPL: the async runtime, the simulator when
//! asked for, the client, and the engine with every function registered.

use std::sync::Arc;
use std::time::Duration;

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
}

/// A live session. Dropping it stops the simulator.
pub struct Session {
    pub ctx: Arc<Ctx>,
    pub cancel: Arc<Cancel>,
    pub sim: Option<Sandbox>,
    // Dropped last: the simulator and in-flight requests run on it.
    pub rt: tokio::runtime::Runtime,
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
        let sim = match &opts.sandbox {
            Some(sc) => {
                let sim =
                    rt.block_on(Sandbox::start(sc.clone(), 0)).map_err(|e| format!("cannot start the sandbox: {e}"))?;
                cfg.base = sim.base_url();
                cfg.credentials =
                    Credentials::AppSecret { appid: sandbox::APPID.into(), secret: sandbox::SECRET.into() };
                // A fresh simulator each run: caching its tokens on disk would only leave litter.
                cfg.cache_dir = None;
                Some(sim)
            }
            None => None,
        };
        let client = Arc::new(Client::new(cfg, cancel.clone()).map_err(|e| e.to_string())?);
        let ctx = Arc::new(Ctx {
            client,
            handle: rt.handle().clone(),
            cancel: cancel.clone(),
            quiet: opts.quiet,
            dry_run: opts.dry_run,
        });
        Ok(Session { ctx, cancel, sim, rt })
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
