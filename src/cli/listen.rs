//! `wxscript listen` and the listener options `run` shares with it.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use rhai::{CallFnOptions, Dynamic, Map, Scope};

use super::{Session, SessionOptions, config, read_script};
use crate::listen;
use crate::message::MsgCrypt;
use crate::runtime::{convert, render};
use crate::store::Store;
use crate::store::events as log;

/// Listener options (`wxscript listen`, `wxscript run --listen PORT`).
#[derive(clap::Args, Clone)]
pub struct ListenArgs {
    /// The Token entered in the WeChat admin console [env: WECHAT_TOKEN; config: listen.token].
    /// Never printed.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Safe mode: the 43-character EncodingAESKey [env: WECHAT_AES_KEY; config: listen.aes_key].
    /// Never printed.
    #[arg(long, value_name = "KEY")]
    pub aes_key: Option<String>,
    /// The official account's appid, which safe-mode messages must carry [env: WECHAT_APPID;
    /// config: appid].
    #[arg(long, value_name = "APPID")]
    pub appid: Option<String>,
    /// The event log [env: WXSCRIPT_EVENT_LOG; config: listen.log; default ./wxscript-events.jsonl];
    /// `redis`: the Redis store's event stream alone (with --store redis://...).
    #[arg(long, value_name = "PATH")]
    pub log: Option<PathBuf>,
    /// Address to listen on (127.0.0.1: behind a reverse proxy; 0.0.0.0: every interface)
    /// [config: listen.bind; default 127.0.0.1].
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<IpAddr>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl ListenArgs {
    /// The event log path: `--log`, else the environment, else the config file, else the
    /// default file.
    pub fn log_path(&self) -> PathBuf {
        self.log
            .clone()
            .or_else(|| env(log::ENV).map(PathBuf::from))
            .or_else(|| config::load().ok().and_then(|c| c.listen.log))
            .unwrap_or_else(log::default_path)
    }

    /// The listener options, each from its flag, else the environment, else the config file;
    /// `token_required` is false where a private token will do.
    pub fn options(&self, port: u16, token_required: bool) -> Result<listen::Options, String> {
        let file = config::load()?;
        let accounts = config::listen_accounts(&file)?;
        let token = match self.token.clone().or_else(|| env("WECHAT_TOKEN")).or(file.listen.token) {
            Some(t) => t,
            None if !token_required => (0..32).map(|_| fastrand::alphanumeric()).collect(),
            None => {
                return Err(
                    "the listener needs the Token from the admin console: --token, WECHAT_TOKEN or listen.token in the config file"
                        .into(),
                );
            }
        };
        let aes_key = self.aes_key.clone().or_else(|| env("WECHAT_AES_KEY")).or(file.listen.aes_key);
        let appid = self.appid.clone().or_else(|| env("WECHAT_APPID")).or(file.appid).unwrap_or_default();
        if let Some(k) = &aes_key {
            if appid.is_empty() && token_required {
                return Err(
                    "safe mode needs the appid messages must carry: --appid, WECHAT_APPID or appid in the config file"
                        .into(),
                );
            }
            MsgCrypt::new(k, &appid)?;
        }
        let mut o = listen::Options::new(token, self.log_path());
        o.bind = self.bind.or(file.listen.bind).unwrap_or(IpAddr::from([127, 0, 0, 1]));
        o.port = port;
        o.aes_key = aes_key.map(Into::into);
        o.appid = appid;
        o.accounts = accounts;
        Ok(o)
    }
}

/// `wxscript listen`: serves until Ctrl-C; with `script`, runs its `on_event(e)` per new event.
pub fn listen(
    port: u16,
    args: &ListenArgs,
    store: Option<String>,
    script: Option<&Path>,
    timeout: u64,
    platform_only: bool,
) -> Result<(), super::Failure> {
    let mut lo = args.options(port, !platform_only).map_err(super::Failure::usage)?;
    lo.verbose = true;
    let platform = config::load().and_then(|f| config::platform_listen(&f)).map_err(super::Failure::usage)?;
    if platform_only && platform.is_none() {
        return Err(super::Failure::usage(
            "--platform-only needs [platform] in the config file (component_appid, component_appsecret, token, aes_key)",
        ));
    }
    let handler = match script {
        Some(f) => Some((f.display().to_string(), read_script(f)?)),
        None => None,
    };
    let sopts = SessionOptions {
        timeout: Some(std::time::Duration::from_secs(timeout.max(1))),
        event_log: Some(lo.log.clone()),
        store,
        ..SessionOptions::default()
    };
    let session = Session::start(&sopts)?;
    // The script's engine and its thread come first, so no event arrives before it can run.
    let (tx, rx) = mpsc::channel::<serde_json::Map<String, serde_json::Value>>();
    // The script thread waits for this, so what it prints comes after the line saying where the
    // listener is; events that arrive meanwhile queue up in order behind the backlog.
    let (go, go_rx) = mpsc::channel::<()>();
    let worker = match handler {
        Some((name, src)) => {
            // Events logged while the script was not running are handed to it first, in order.
            let cursor = Cursor::for_script(&lo.log, Path::new(&name));
            let backlog = cursor
                .backlog(session.ctx.store.as_ref(), &lo.log, Some(lo.appid.as_str()).filter(|a| !a.is_empty()))
                .map_err(|e| super::Failure::runtime(format!("cannot read the event log {}: {e}", lo.log.display())))?;
            let replay = (!backlog.events.is_empty()).then(|| {
                format!(
                    "replaying {} events logged while on_event was not running (progress in {})",
                    backlog.events.len(),
                    cursor.path.display()
                )
            });
            let done = backlog.done;
            for ev in backlog.events {
                let _ = tx.send(ev);
            }
            Some((start_handler(&session, name, src, rx, go_rx, cursor, done)?, replay))
        }
        None => None,
    };
    if let Some(p) = platform {
        lo.platform = Some(listen::PlatformOptions {
            component_appid: p.component_appid,
            token: p.token,
            aes_key: p.aes_key,
            client: tokio::sync::watch::channel(Some(session.ctx.client.clone())).1,
            only: platform_only,
        });
    }
    let mut mode =
        if lo.aes_key.is_some() { format!("safe mode, appid {}", lo.appid) } else { "plaintext mode".into() };
    if let Some(p) = &lo.platform {
        mode = if p.only {
            format!("platform {} only", p.component_appid)
        } else {
            format!("{mode}; platform {} at /platform", p.component_appid)
        };
    }
    let log_path = lo.log.clone();
    // Which other own accounts it serves, and where: what an operator checks the consoles against.
    let served: Vec<String> = lo
        .accounts
        .iter()
        .map(|a| {
            let own = if a.token.is_some() || a.aes_key.is_some() { ", its own Token/key" } else { "" };
            format!("{} ({}, at .../{}{own})", a.name, a.appid, a.name)
        })
        .collect();
    let listener = session
        .rt
        .block_on(listen::Listener::start_in(lo, session.ctx.store.as_ref(), worker.is_some().then_some(tx)))
        .map_err(super::Failure::runtime)?;
    println!(
        "wxscript listening on http://{} ({mode}); event log {} ({} events already)",
        listener.addr(),
        log_path.display(),
        listener.recovered()
    );
    if !served.is_empty() {
        println!("also the message URL of {}", served.join(", "));
    }
    if let Some((_, Some(replay))) = &worker {
        println!("{replay}");
    }
    let _ = go.send(());
    session.rt.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    // Whatever the script is doing is abandoned; every event it had not seen is in the log.
    session.cancel.trigger();
    drop(listener);
    drop(worker);
    session.close();
    Ok(())
}

/// How far a listener script has got through the event log: the number of events, counted from
/// the top of the log, that its `on_event` has been called with. Kept next to the log, one file
/// per script, so a restarted listener neither skips nor repeats what the script saw; an event
/// whose `on_event` was cut short by a crash is handed over again (at least once).
struct Cursor {
    path: PathBuf,
}

/// What a script has not seen yet.
struct Backlog {
    /// Events the script had seen before this start.
    done: usize,
    events: Vec<serde_json::Map<String, serde_json::Value>>,
}

impl Cursor {
    fn for_script(log: &Path, script: &Path) -> Cursor {
        let stem = script.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "script".into());
        let mut name = log.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(format!(".{stem}.cursor"));
        Cursor { path: log.with_file_name(name) }
    }

    /// The logged events after the cursor. A script attached to a log for the first time starts
    /// after what is already there: it reacts to what comes, not to history.
    fn backlog(&self, store: &dyn Store, log: &Path, account: Option<&str>) -> std::io::Result<Backlog> {
        let all = store.event_reader(log, account).next_batch()?;
        let done = match std::fs::read_to_string(&self.path) {
            Ok(t) => match t.trim().parse::<usize>() {
                Ok(n) if n <= all.len() => n,
                _ => {
                    eprintln!(
                        "warning: {} does not fit the event log; the script starts after its {} events",
                        self.path.display(),
                        all.len()
                    );
                    all.len()
                }
            },
            Err(_) => all.len(),
        };
        let events = all.into_iter().skip(done).collect();
        self.save(done)?;
        Ok(Backlog { done, events })
    }

    /// Written whole and renamed into place, so a crash leaves the old count or the new one.
    fn save(&self, done: usize) -> std::io::Result<()> {
        crate::util::write_atomic(&self.path, None, |f| std::io::Write::write_all(f, format!("{done}\n").as_bytes()))
    }
}

/// Compiles the script, runs its top level once, and starts the thread that calls `on_event`.
fn start_handler(
    session: &Session,
    name: String,
    src: String,
    rx: mpsc::Receiver<serde_json::Map<String, serde_json::Value>>,
    go: mpsc::Receiver<()>,
    cursor: Cursor,
    mut done: usize,
) -> Result<std::thread::JoinHandle<()>, super::Failure> {
    use super::{Failure, FailureKind};
    let engine = session.engine();
    let catalog = session.catalog;
    let color = render::stderr_color();
    let ast = engine
        .compile(&src)
        .map_err(|e| Failure::rendered(FailureKind::Runtime, &render::render_parse(&e, &name, &src, color)))?;
    if !ast.iter_functions().any(|f| f.name == "on_event" && f.params.len() == 1) {
        return Err(Failure::usage(format!("{name} has no function on_event(e)")));
    }
    let mut scope = Scope::new();
    scope.push_constant("ARGS", Map::new());
    if let Err(e) = engine.run_ast_with_scope(&mut scope, &ast) {
        return Err(Failure::rendered(FailureKind::Runtime, &render::render_eval(&e, &name, &src, color, catalog)));
    }
    std::thread::Builder::new()
        .name("on_event".into())
        .spawn(move || {
            if go.recv().is_err() {
                return;
            }
            for ev in rx {
                let which = listen::summary(&ev);
                let arg: Dynamic = convert::to_dynamic(&serde_json::Value::Object(ev));
                let opts = CallFnOptions::new().eval_ast(false).rewind_scope(true);
                if let Err(e) = engine.call_fn_with_options::<Dynamic>(opts, &mut scope, &ast, "on_event", (arg,)) {
                    // The event is in the log already; the next one still runs.
                    eprintln!("on_event failed for event {which} (it stays in the log):");
                    eprint!("{}", render::render_eval(&e, &name, &src, color, catalog));
                }
                done += 1;
                if let Err(e) = cursor.save(done) {
                    eprintln!("warning: cannot record the script's progress in {}: {e}", cursor.path.display());
                }
            }
        })
        .map_err(|e| Failure::runtime(format!("cannot start the script thread: {e}")))
}
