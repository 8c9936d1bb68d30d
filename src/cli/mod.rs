//! Command-line parsing and the commands: `run`, `check`, `docs`, `listen`, `repl`, `sandbox
//! serve`, ... Each command returns a `Result`; [`main`] alone prints a failure and maps its
//! kind to the exit status ([`exit_code`]): 0 success, 1 script or API error, 2 usage error,
//! 130 interrupted.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use rhai::{Dynamic, Map, Scope};

mod listen;
mod platform;
mod scaffold;

pub use listen::ListenArgs;

use crate::config;
use crate::runtime::{self, render};
use crate::sandbox::{self, Sandbox};
use crate::session::{self, Failure, FailureKind, Session, SessionOptions, read_script};

/// The environment and exit codes, for `--help` and the man page.
const AFTER_HELP: &str = "\
Environment:
  WECHAT_API_BASE       API root (default https://api.weixin.qq.com)
  WECHAT_APPID, WECHAT_APPSECRET
                        fetch access tokens (cached owner-only in the cache directory)
  WECHAT_ACCESS_TOKEN   use this access token as it is
  WECHAT_TOKEN, WECHAT_AES_KEY
                        the message URL's Token and EncodingAESKey (listen, --listen)
  WXSCRIPT_ACCOUNT      the account calls are made as (a name or an appid; default: default)
  WXSCRIPT_QPS          run-wide request rate limit (0: unlimited)
  WXSCRIPT_CONFIG       the config file (default <config dir>/wxscript/config.toml)
  WXSCRIPT_CACHE_DIR    tokens and district tables (default <cache dir>/wxscript)
  WXSCRIPT_EVENT_LOG    the event log (default ./wxscript-events.jsonl; redis: the Redis store's stream)
  WXSCRIPT_STORE        where tokens, journals and events live: file (default) or redis://...
  WXSCRIPT_HISTORY      the REPL's history file
  NO_COLOR              no colour in error messages

Exit status: 0 success, 1 script or API error, 2 usage error, 130 interrupted (Ctrl-C).
Per-command pages: wxscript man run, wxscript man repl, ...";

#[derive(Parser)]
#[command(
    name = "wxscript",
    version,
    about = "Automate WeChat store mini-program and shake-around work with rhai scripts",
    after_long_help = AFTER_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct SandboxOpts {
    /// Seconds before the sandbox decides an audit (merchant, map POI, store).
    #[arg(long, default_value_t = 0.0, value_name = "SECONDS")]
    audit_delay: f64,
    /// Lifetime of sandbox access tokens, in seconds.
    #[arg(long, default_value_t = 7200, value_name = "SECONDS")]
    token_ttl: u64,
    /// Delay added to every sandbox answer, in milliseconds: half before the request is carried
    /// out, half after, so a client that times out may find its request done.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    latency_ms: u64,
    /// Share of API calls the sandbox fails with --fail-code (0.0-1.0).
    #[arg(long, default_value_t = 0.0, value_name = "R")]
    fail_rate: f64,
    /// errcode of injected failures.
    #[arg(long, default_value_t = -1, value_name = "C", allow_hyphen_values = true)]
    fail_code: i64,
    /// POST each own account's decided audits to this message URL as WeChat's XML event
    /// ("$APPID$" in it becomes the account's appid; with `run --sandbox` the run's own
    /// listener gets them without it).
    #[arg(long, value_name = "URL")]
    push_url: Option<String>,
    /// The Token pushes are signed with [env: WECHAT_TOKEN]. Never printed.
    #[arg(long, value_name = "TOKEN")]
    push_token: Option<String>,
    /// Encrypt pushes (safe mode) with this 43-character EncodingAESKey. Never printed.
    #[arg(long, value_name = "KEY")]
    push_aes_key: Option<String>,
    /// The simulator's time at start: Unix seconds, "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS"
    /// (UTC+8); default the real time. sandbox::advance(seconds) moves it on.
    #[arg(long, value_name = "TIME", value_parser = parse_start_time)]
    start_time: Option<u64>,
    /// Own accounts the simulator hosts, each with state of its own: wxsandbox /
    /// sandbox-secret, then wxsandbox2 / sandbox-secret2, and so on.
    #[arg(long, default_value_t = 2, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1000))]
    own_accounts: u64,
    /// Seconds an account's classic token (cgi-bin/token) keeps working after a newer one is
    /// issued; then it answers 40001.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    token_overlap: u64,
    /// Calls of one API one account may make per simulated day; past them 45009 until
    /// wx::clear_quota() [default: unlimited].
    #[arg(long, value_name = "N")]
    daily_quota: Option<u64>,
    /// Merchant accounts that may authorise the third-party platform wxsandboxcomponent /
    /// sandbox-component-secret: wxsandboxauth1, wxsandboxauth2, ...
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u64).range(0..=1000))]
    authorizers: u64,
    /// POST the platform's component_verify_ticket (one at start, then every --ticket-interval)
    /// and its authorized / updateauthorized / unauthorized events to this URL, encrypted;
    /// without it they are read from GET /_sandbox/platform.
    #[arg(long, value_name = "URL")]
    platform_push_url: Option<String>,
    /// The platform's message URL: the authorizers' events (audits of their stores, ...) are
    /// POSTed there, encrypted with the platform's key, "$APPID$" in it replaced by the
    /// authorizer's appid [default: --platform-push-url + "/$APPID$"].
    #[arg(long, value_name = "URL")]
    platform_message_url: Option<String>,
    /// Seconds between two component_verify_ticket pushes.
    #[arg(long, default_value_t = 600, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    ticket_interval: u64,
    /// The Token the platform's pushes are signed with.
    #[arg(long, value_name = "TOKEN", default_value = sandbox::PLATFORM_TOKEN)]
    platform_token: String,
    /// The EncodingAESKey the platform's pushes are encrypted with.
    #[arg(long, value_name = "KEY", default_value = sandbox::PLATFORM_AES_KEY)]
    platform_aes_key: String,
}

/// `--start-time`: the date forms scripts use for shake-around dates.
fn parse_start_time(s: &str) -> Result<u64, String> {
    let v = s.parse::<u64>().map_or_else(|_| serde_json::Value::from(s), serde_json::Value::from);
    crate::api::check::date_secs(&v, true)
        .and_then(|t| u64::try_from(t).ok())
        .ok_or_else(|| format!("expected Unix seconds, \"YYYY-MM-DD\" or \"YYYY-MM-DD HH:MM:SS\" (UTC+8), got {s:?}"))
}

impl SandboxOpts {
    fn config(&self) -> sandbox::Config {
        sandbox::Config {
            audit_delay: Duration::from_secs_f64(self.audit_delay.max(0.0)),
            token_ttl: self.token_ttl,
            latency_ms: self.latency_ms,
            fail_rate: self.fail_rate.clamp(0.0, 1.0),
            fail_code: self.fail_code,
            push_url: self.push_url.clone(),
            push_token: self
                .push_token
                .clone()
                .or_else(|| std::env::var("WECHAT_TOKEN").ok().filter(|t| !t.is_empty()))
                .unwrap_or_default()
                .into(),
            push_aes_key: self.push_aes_key.clone().map(Into::into),
            start_time: self.start_time,
            own_accounts: usize::try_from(self.own_accounts).unwrap_or(1),
            token_overlap: self.token_overlap,
            daily_quota: self.daily_quota,
            authorizers: usize::try_from(self.authorizers).unwrap_or(0),
            platform_push_url: self.platform_push_url.clone(),
            platform_message_url: self.platform_message_url.clone(),
            ticket_interval: self.ticket_interval,
            platform_token: self.platform_token.clone().into(),
            platform_aes_key: self.platform_aes_key.clone().into(),
        }
    }
}

/// What a session talks to and how, for `run` and `repl` alike.
#[derive(clap::Args, Clone)]
struct SessionArgs {
    /// Talk to a fresh built-in simulator on a loopback port.
    #[arg(long)]
    sandbox: bool,
    /// Make calls as this account: `default`, a config file's [accounts.NAME], or an appid
    /// [env: WXSCRIPT_ACCOUNT].
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
    #[command(flatten)]
    calls: CallOpts,
    /// No progress bars or progress lines.
    #[arg(long, short)]
    quiet: bool,
    /// Serve the event listener on this port during the session (event::wait sees its events).
    #[arg(long, value_name = "PORT")]
    listen: Option<u16>,
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten, next_help_heading = "Sandbox (with --sandbox)")]
    sandbox_opts: SandboxOpts,
    #[command(flatten, next_help_heading = "Events (event::find, event::wait, --listen)")]
    events: ListenArgs,
}

impl SessionArgs {
    /// The session's options, and where its events come from.
    fn options(&self) -> Result<(SessionOptions, EventOpts), String> {
        let events = EventOpts::of(self.listen, self.sandbox, &self.events)?;
        let opts = SessionOptions {
            quiet: self.quiet,
            account: self.account.clone(),
            store: self.store.store.clone(),
            ..self.calls.session(self.sandbox.then(|| self.sandbox_opts.config()))
        };
        Ok((opts, events))
    }
}

/// Where tokens, journals and events live.
#[derive(clap::Args, Clone)]
struct StoreArg {
    /// `file` (this host's cache directory) or a Redis shared by several hosts:
    /// redis://[user:pass@]host:port/db or rediss://... [env: WXSCRIPT_STORE; config: store]
    #[arg(long, value_name = "URL")]
    store: Option<String>,
}

/// How calls are made, for `run` and `repl` alike.
#[derive(clap::Args, Clone)]
struct CallOpts {
    /// Total timeout of one HTTP request, in seconds [default: 30, or `timeout` in the config file].
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    /// At most N requests per second for the whole session (also WXSCRIPT_QPS); 0 means
    /// unlimited, overriding WXSCRIPT_QPS and the config file; otherwise 0.001 to 100000.
    #[arg(long, value_name = "N", value_parser = parse_qps)]
    qps: Option<f64>,
    /// Send reads but not writes: print each mutating request and return a placeholder.
    #[arg(long)]
    dry_run: bool,
}

impl CallOpts {
    fn session(&self, sandbox: Option<sandbox::Config>) -> SessionOptions {
        SessionOptions {
            sandbox,
            timeout: self.timeout.map(|t| Duration::from_secs(t.max(1))),
            qps: self.qps,
            dry_run: self.dry_run,
            ..SessionOptions::default()
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run a script. Credentials come from WECHAT_APPID/WECHAT_APPSECRET or
    /// WECHAT_ACCESS_TOKEN, the API root from WECHAT_API_BASE; --sandbox needs none.
    #[command(disable_help_flag = true)]
    Run {
        /// The .rhai script.
        #[arg(required_unless_present = "help")]
        file: Option<PathBuf>,
        /// Print help; after FILE, the script's own: its header comment and the --arg's it declares.
        #[arg(long, short)]
        help: bool,
        /// KEY=VALUE, available to the script as ARGS.KEY (repeatable).
        #[arg(long = "arg", value_name = "KEY=VALUE", value_parser = parse_kv)]
        args: Vec<(String, String)>,
        #[command(flatten)]
        session: SessionArgs,
    },
    /// Be the official account's message URL: answer WeChat's handshake, check (and in safe
    /// mode decrypt) each pushed event and append it to the event log before answering.
    Listen {
        /// Port to listen on [config: listen.port; default 8080].
        #[arg(long)]
        port: Option<u16>,
        /// A script whose on_event(e) runs for each new event, in order; after a restart it is
        /// first given the events logged while it was not running (progress kept in LOG.NAME.cursor).
        #[arg(long, value_name = "FILE")]
        script: Option<PathBuf>,
        /// Total timeout of one HTTP request made by the script, in seconds.
        #[arg(long, default_value_t = 30, value_name = "SECS")]
        timeout: u64,
        /// Serve only the third-party platform's authorization event URL (on every path), as
        /// [platform] in the config sets it up; without this flag it is served at /platform
        /// beside the message URL whenever [platform] is configured.
        #[arg(long)]
        platform_only: bool,
        #[command(flatten)]
        opts: ListenArgs,
        #[command(flatten)]
        store: StoreArg,
    },
    /// The third-party platform's authorizers: back up their refresh tokens, or restore them.
    /// A lost refresh token means the merchant must authorise again.
    Platform {
        #[command(subcommand)]
        action: PlatformAction,
    },
    /// Explore the API interactively: completion, hints, history, `:help NAME`.
    Repl {
        #[command(flatten)]
        session: SessionArgs,
    },
    /// Parse scripts without running them; report syntax errors with file:line:col.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The account the scripts are meant to run as: it must exist [env: WXSCRIPT_ACCOUNT].
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
    },
    /// List the accounts calls can be made as: name, appid, kind, token source and time left,
    /// last error. Never prints a token or secret.
    Accounts {
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        /// Obtain every account's token (from the store, else fetching one), proving its
        /// credentials, or its refresh token and the platform's ticket; exits 1 when one fails.
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Print the reference of every registered function, or of one function, module or pushed
    /// event (`wxscript docs store::add`).
    Docs {
        /// A function (store::add), a module (store) or a pushed event (add_store_audit_info).
        name: Option<String>,
        #[arg(long, value_enum, default_value_t = DocFormat::Markdown)]
        format: DocFormat,
    },
    /// Write a recipe skeleton NAME.rhai that runs as written.
    New {
        /// The recipe's name or path (".rhai" is added when missing).
        name: PathBuf,
    },
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff): wxscript's, or a command's (`wxscript man run > wxscript-run.1`).
    Man {
        /// The command (run, repl, listen, sandbox serve, ...); none: the top-level page.
        command: Vec<String>,
    },
    /// The WeChat simulator.
    Sandbox {
        #[command(subcommand)]
        command: SandboxCommand,
    },
    /// `wxscript FILE [RUN OPTIONS]` is `wxscript run FILE [RUN OPTIONS]`, so a script can start
    /// with `#!/usr/bin/env wxscript`.
    #[command(external_subcommand)]
    Script(Vec<OsString>),
}

#[derive(Subcommand)]
enum SandboxCommand {
    /// Serve the simulator on loopback. Its credentials are fixed: appid `wxsandbox`, secret
    /// `sandbox-secret` (and `wxsandbox2` / `sandbox-secret2`, ... with --own-accounts), e.g. WECHAT_API_BASE=http://127.0.0.1:PORT WECHAT_APPID=wxsandbox
    /// WECHAT_APPSECRET=sandbox-secret wxscript run FILE. Words in a request's text ask for
    /// WeChat's unhappy answers (listed below); `POST /_sandbox/clock {"advance": SECONDS}` or
    /// sandbox::advance moves its time.
    #[command(after_help = sandbox::rehearsal_help())]
    Serve {
        /// Port on 127.0.0.1 (0 picks a free one and prints it).
        #[arg(long, default_value_t = 0)]
        port: u16,
        #[command(flatten)]
        opts: SandboxOpts,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum DocFormat {
    Markdown,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ListFormat {
    Table,
    Json,
}

/// `--qps`: a number checked by the config's rule (0 is unlimited, kept as 0 so that it
/// overrides the environment and the config file).
fn parse_qps(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("expected a number of requests per second, got {s:?}"))?;
    config::qps(v).map(|q| q.unwrap_or(0.0))
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

/// Runs the command line; the one place a failure is printed and becomes an exit status.
pub fn main() -> ExitCode {
    match execute() {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("{failure}");
            }
            ExitCode::from(exit_code(failure.kind))
        }
    }
}

/// The exit status of each kind of failure, as `--help` and the README state them.
fn exit_code(kind: FailureKind) -> u8 {
    match kind {
        FailureKind::Runtime => 1,
        FailureKind::Usage => 2,
        FailureKind::Interrupted => 130,
    }
}

/// The command line parsed; `None` when clap printed help or the version instead.
fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Option<Command>, Failure> {
    match Cli::try_parse_from(args) {
        Ok(c) => Ok(Some(c.command)),
        Err(e) => {
            // clap prints its own message; help and version are no failure.
            let _ = e.print();
            if e.use_stderr() { Err(Failure::shown(FailureKind::Usage)) } else { Ok(None) }
        }
    }
}

fn execute() -> Result<(), Failure> {
    // `wxscript help FILE`: a script's help, as `wxscript run FILE --help` (clap's own `help`
    // takes only command names).
    let argv: Vec<OsString> = std::env::args_os().collect();
    if let [_, help, file] = argv.as_slice()
        && help == "help"
        && Path::new(file).is_file()
    {
        return script_help(Path::new(file));
    }
    let command = match parse(argv)? {
        Some(Command::Script(argv)) => script_command(argv)?,
        other => other,
    };
    let Some(command) = command else { return Ok(()) };
    match command {
        Command::Run { file: Some(file), help: true, .. } => script_help(&file),
        Command::Run { file: None, .. } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            cmd.build();
            let run = cmd.find_subcommand_mut("run").map(|c| c.render_long_help().to_string()).unwrap_or_default();
            write_out(|out| out.write_all(run.as_bytes()))
        }
        Command::Run { file: Some(file), args, session, .. } => {
            let (opts, events) = session.options().map_err(Failure::usage)?;
            run(&file, opts, args, events)
        }
        Command::Repl { session } => {
            let (mut opts, events) = session.options().map_err(Failure::usage)?;
            events.apply(&mut opts);
            crate::repl::run(&opts)
        }
        Command::Listen { port, script, timeout, platform_only, opts, store } => {
            let port = match port {
                Some(p) => p,
                None => config::load().map_err(Failure::usage)?.listen.port.unwrap_or(8080),
            };
            listen::listen(port, &opts, store.store, script.as_deref(), timeout, platform_only)
        }
        Command::Platform { action } => platform::run(action),
        Command::Check { files, account } => {
            if account.is_some() || std::env::var_os("WXSCRIPT_ACCOUNT").is_some_and(|v| !v.is_empty()) {
                let names = session::account_names(&SessionOptions::default())?;
                config::choose_account(account.as_deref(), &names).map_err(Failure::usage)?;
            }
            check(&files)
        }
        Command::Accounts { format, check, store } => accounts(format, check, store.store),
        Command::Docs { name, format } => {
            let catalog = session::catalog();
            let item = name.map(|n| runtime::docs::find(catalog, &n)).transpose().map_err(Failure::usage)?;
            let text = match (format, item) {
                (DocFormat::Json, None) => {
                    serde_json::to_string_pretty(&runtime::docs::json(catalog)).unwrap_or_default() + "\n"
                }
                (DocFormat::Json, Some(i)) => serde_json::to_string_pretty(&i.json()).unwrap_or_default() + "\n",
                (DocFormat::Markdown, None) => runtime::docs::markdown(catalog),
                (DocFormat::Markdown, Some(i)) => i.markdown(),
            };
            write_out(|out| out.write_all(text.as_bytes()))
        }
        Command::Sandbox { command: SandboxCommand::Serve { port, opts } } => serve(port, &opts),
        // `script_command` parses as `run`, which never gives this back.
        Command::Script(_) => Err(Failure::usage("a script's options cannot name another script")),
        Command::New { name } => new_recipe(&name),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "wxscript", &mut buf);
            write_out(|out| out.write_all(&buf))
        }
        Command::Man { command } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            cmd.build();
            let mut name = String::from("wxscript");
            for part in &command {
                let Some(sub) = cmd.find_subcommand(part).cloned() else {
                    let subs: Vec<String> = cmd.get_subcommands().map(|c| c.get_name().to_string()).collect();
                    return Err(Failure::usage(format!(
                        "no command `{} {part}`; commands: {}",
                        name.replace('-', " "),
                        subs.join(", ")
                    )));
                };
                name = format!("{name}-{part}");
                // clap names are 'static; this command prints one page and exits.
                cmd = sub.name(&*Box::leak(name.clone().into_boxed_str())).version(env!("CARGO_PKG_VERSION"));
            }
            write_out(|out| clap_mangen::Man::new(cmd).render(out))
        }
    }
}

/// `wxscript FILE ARGS...` as `wxscript run FILE ARGS...` (`None`: clap printed help). A first
/// word that is no file is a mistyped command, and said so.
fn script_command(argv: Vec<OsString>) -> Result<Option<Command>, Failure> {
    let first = argv.first().cloned().unwrap_or_default();
    if !Path::new(&first).is_file() {
        let word = first.to_string_lossy();
        let cmd = <Cli as clap::CommandFactory>::command();
        let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
        let hint = match crate::api::check::did_you_mean(&word, names.iter().copied()) {
            Some(s) => format!(", did you mean `{s}`?"),
            None => format!(" (commands: {}; or a script file to run)", names.join(", ")),
        };
        return Err(Failure::usage(format!("no command or script file `{word}`{hint}")));
    }
    parse(["wxscript".into(), "run".into()].into_iter().chain(argv))
}

/// Writes a command's output to stdout. A reader that stops early (`wxscript docs | head`) is
/// not an error; any other write failure is.
fn write_out(f: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> Result<(), Failure> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match f(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::runtime(format!("cannot write the output: {e}"))),
    }
}

fn new_recipe(name: &Path) -> Result<(), Failure> {
    let path =
        if name.extension().is_some_and(|e| e == "rhai") { name.to_path_buf() } else { name.with_extension("rhai") };
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "recipe".into());
    let created = std::fs::OpenOptions::new().write(true).create_new(true).open(&path);
    let written = created.and_then(|mut f| std::io::Write::write_all(&mut f, scaffold::recipe(&stem).as_bytes()));
    match written {
        Ok(()) => {
            println!(
                "wrote {}; try: wxscript run --sandbox {}",
                path.display(),
                scaffold::shell_word(&path.display().to_string())
            );
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(Failure::usage(format!("{} already exists; choose another name", path.display())))
        }
        Err(e) => Err(Failure::usage(format!("cannot write {}: {e}", path.display()))),
    }
}

/// `wxscript run FILE --help`: the script's help, from its header comment and its `args(#{...})`
/// declaration, read without running anything.
fn script_help(file: &Path) -> Result<(), Failure> {
    let src = read_script(file)?;
    let name = file.display().to_string();
    let rt = session::async_runtime()?;
    let mut engine = session::offline_engine(&rt)?;
    // As written: the optimiser would fold the declaration into a map sorted by name.
    engine.set_optimization_level(rhai::OptimizationLevel::None);
    let ast = engine.compile(&src).map_err(|e| {
        Failure::rendered(FailureKind::Runtime, &render::render_parse(&e, &name, &src, render::stderr_color()))
    })?;
    let text = crate::helpers::args::help(&name, &src, &ast).map_err(Failure::runtime)?;
    write_out(|out| out.write_all(text.as_bytes()))
}

fn check(files: &[PathBuf]) -> Result<(), Failure> {
    let rt = session::async_runtime()?;
    let mut engine = session::offline_engine(&rt)?;
    // Nothing runs: literal maps stay maps, with their keys' places, for the lint.
    engine.set_optimization_level(rhai::OptimizationLevel::None);
    let color = render::stderr_color();
    let mut failed = false;
    for f in files {
        let dir = f.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        engine.set_module_resolver(runtime::stdlib::Resolver::new(dir).check_only());
        let src = read_script(f)?;
        let name = f.display().to_string();
        match engine.compile(&src) {
            Err(e) => {
                eprint!("{}", render::render_parse(&e, &name, &src, color));
                failed = true;
            }
            Ok(ast) => {
                let catalog = session::catalog();
                for e in runtime::lint::lint(&engine, &ast, catalog) {
                    eprint!("{}", render::render_eval(&e, &name, &src, color, catalog));
                    failed = true;
                }
                if let Err(e) = engine.compile_into_self_contained(&Scope::new(), &src) {
                    // Every literal import is resolved (stdlib or file), so a missing module fails here.
                    eprint!("{}", render::render_eval(&e, &name, &src, color, catalog));
                    failed = true;
                }
            }
        }
    }
    if failed { Err(Failure::shown(FailureKind::Runtime)) } else { Ok(()) }
}

/// Where a run's events come from.
enum EventOpts {
    /// A listener inside the run.
    Listen(Box<crate::listen::Options>),
    /// Only read a log (`--log`, else the default) another process writes.
    Read(Option<PathBuf>),
}

impl EventOpts {
    /// A listener when `--listen` asks for one (with `--sandbox`, `--log` alone does too, logging
    /// there); otherwise the log to read.
    fn of(listen: Option<u16>, sandbox: bool, events: &ListenArgs) -> Result<EventOpts, String> {
        match listen.or((sandbox && events.log.is_some()).then_some(0)) {
            Some(port) => events.options(port, !sandbox).map(|o| EventOpts::Listen(Box::new(o))),
            // The log another process writes: wherever the flags, environment or config put it.
            None => Ok(EventOpts::Read(Some(events.log_path()))),
        }
    }

    fn apply(self, opts: &mut SessionOptions) {
        match self {
            EventOpts::Listen(o) => opts.listen = Some(*o),
            EventOpts::Read(p) => opts.event_log = p,
        }
    }
}

fn run(file: &Path, mut opts: SessionOptions, args: Vec<(String, String)>, events: EventOpts) -> Result<(), Failure> {
    let src = read_script(file)?;
    let announce = matches!(events, EventOpts::Listen(_));
    events.apply(&mut opts);
    let session = Session::start(&opts)?;
    session.cancel_on_ctrl_c();
    if announce && let Some(l) = &session.listener {
        eprintln!("listening for events on {} (event log {})", l.url(), l.log_path().display());
    }
    let cancel = session.cancel.clone();
    let mut engine = session.engine();
    let dir = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    engine.set_module_resolver(runtime::stdlib::Resolver::new(dir));
    let name = file.display().to_string();
    let color = render::stderr_color();
    let outcome = match engine.compile(&src) {
        Err(e) => Err(Failure::rendered(FailureKind::Runtime, &render::render_parse(&e, &name, &src, color))),
        Ok(ast) => {
            let mut scope = Scope::new();
            let mut argmap = Map::new();
            for (k, v) in args {
                argmap.insert(k.into(), Dynamic::from(v));
            }
            scope.push_constant("ARGS", argmap.clone());
            // What `args(#{...})` checks against the script's declaration.
            engine.set_default_tag(argmap);
            let rendered = |kind, e: &rhai::EvalAltResult| {
                Failure::rendered(kind, &render::render_eval(e, &name, &src, color, session.catalog))
            };
            match engine.run_ast_with_scope(&mut scope, &ast) {
                // Interrupted while finishing anyway: the script did not do all it meant to.
                Ok(()) if cancel.is_cancelled() => Err(Failure::interrupted()),
                Ok(()) => Ok(()),
                Err(e) if runtime::is_usage(&e) => Err(rendered(FailureKind::Usage, &e)),
                Err(e) if cancel.is_cancelled() => {
                    Err(Failure { kind: FailureKind::Interrupted, message: runtime::interrupted(Some(&e)) })
                }
                Err(e) => Err(rendered(FailureKind::Runtime, &e)),
            }
        }
    };
    drop(engine);
    session.close();
    outcome
}

/// `wxscript platform`'s actions.
#[derive(clap::Subcommand)]
enum PlatformAction {
    /// Write every authorizer in the store, refresh tokens included, to FILE (JSON, mode 0600).
    Export { file: PathBuf },
    /// Restore authorizers from an export; a refresh token newer than the file's is kept.
    Import { file: PathBuf },
}

/// `wxscript accounts`: every account with its token's source and time left (read from this
/// process and the token cache, never fetched) and the last fetch error; never a token or secret.
fn accounts(format: ListFormat, check: bool, store: Option<String>) -> Result<(), Failure> {
    let session = Session::start(&SessionOptions { quiet: true, store, ..SessionOptions::default() })?;
    let store = session.ctx.store.describe();
    let client = &session.ctx.client;
    let list = client.accounts();
    // The platform's first: the authorizers' checks then use the component token it brings.
    let platform_check: Option<Option<String>> = (check && client.platform_appid().is_some())
        .then(|| session.rt.block_on(client.check_platform()).err().map(|e| e.errmsg));
    // Each account's check: `Some(None)` passed, `Some(Some(error))` failed, `None` not made.
    let to_check: Vec<usize> = (0..list.len()).filter(|i| check && list[*i].kind() != "none").collect();
    let mut checks: Vec<Option<Option<String>>> = vec![None; list.len()];
    for &i in &to_check {
        // Until its outcome says otherwise (a check that stopped has none).
        checks[i] = Some(Some("the check stopped before it had an answer".into()));
    }
    for (i, outcome) in session.rt.block_on(check_accounts(client.clone(), to_check)) {
        checks[i] = Some(outcome);
    }
    let check_json = |failed: &Option<String>| match failed {
        None => serde_json::json!({"ok": true}),
        Some(e) => serde_json::json!({"ok": false, "error": e}),
    };
    let mut rows: Vec<serde_json::Value> = list
        .iter()
        .zip(&checks)
        .map(|(a, checked)| {
            let st = session.rt.block_on(a.status());
            let mut row = serde_json::json!({
                "name": a.name,
                "appid": a.appid(),
                "kind": a.kind(),
                "qps": a.qps(),
                "token": if a.kind() == "none" {
                    serde_json::Value::Null
                } else {
                    serde_json::json!({"source": st.source, "expires_in": st.expires_in, "lease_holder": st.lease_holder})
                },
                "last_error": st.last_error,
                "store": store,
            });
            if let Some(failed) = checked {
                row["check"] = check_json(failed);
            }
            row
        })
        .collect();
    // The platform: its component token, and how old the newest ticket is (no ticket, no token).
    if let Some((appid, ticket_age, st)) = session.rt.block_on(client.platform_status()) {
        let no_ticket = "no component_verify_ticket in the store: run the platform listener (wxscript listen)";
        let mut row = serde_json::json!({
            "name": "(platform)",
            "appid": appid,
            "kind": "component",
            "qps": null,
            "token": {"source": st.source, "expires_in": st.expires_in, "lease_holder": st.lease_holder},
            "ticket_age": ticket_age,
            "last_error": st.last_error.or_else(|| ticket_age.is_none().then(|| no_ticket.to_string())),
            "store": store,
        });
        if let Some(failed) = &platform_check {
            row["check"] = check_json(failed);
        }
        rows.push(row);
    }
    session.close();
    let failed = checks.iter().chain([&platform_check]).filter(|c| matches!(c, Some(Some(_)))).count();
    let checked = checks.iter().chain([&platform_check]).filter(|c| c.is_some()).count();
    let text = match format {
        ListFormat::Json => serde_json::to_string_pretty(&rows).unwrap_or_default() + "\n",
        ListFormat::Table => {
            let cell = |v: &serde_json::Value| v.as_str().map_or_else(|| "-".to_string(), str::to_string);
            let table: Vec<[String; 5]> = rows
                .iter()
                .map(|r| {
                    let token = match (&r["token"]["source"], r["token"]["expires_in"].as_i64()) {
                        (serde_json::Value::Null, _) => "-".to_string(),
                        (s, Some(left)) => format!("{} ({}m{:02}s left)", cell(s), left / 60, left % 60),
                        (s, None) if cell(s) == "static" => "static".to_string(),
                        (s, None) => format!("{} (none held)", cell(s)),
                    };
                    let token = match r["token"]["lease_holder"].as_str() {
                        Some(holder) => format!("{token}, refreshing: {holder}"),
                        None => token,
                    };
                    let last = match (&r["check"]["ok"], r["check"]["error"].as_str()) {
                        (serde_json::Value::Bool(true), _) => "ok".to_string(),
                        (_, Some(e)) => format!("failed: {e}"),
                        _ => match (r["last_error"].as_str(), r["ticket_age"].as_u64()) {
                            (None, Some(age)) => {
                                format!("ticket received {} ago", crate::util::human_duration(age))
                            }
                            _ => cell(&r["last_error"]),
                        },
                    };
                    [cell(&r["name"]), cell(&r["appid"]), cell(&r["kind"]), token, last]
                })
                .collect();
            let head = ["NAME", "APPID", "KIND", "TOKEN", if check { "CHECK" } else { "LAST ERROR" }];
            let width = |i: usize| table.iter().map(|r| r[i].chars().count()).chain([head[i].len()]).max().unwrap_or(0);
            let widths: Vec<usize> = (0..4).map(width).collect();
            let line = |cols: [&str; 5]| {
                let mut l = String::new();
                for (i, c) in cols.iter().enumerate() {
                    if i < 4 {
                        l.push_str(&format!("{c:<w$}  ", w = widths[i]));
                    } else {
                        l.push_str(c);
                    }
                }
                l.trim_end().to_string() + "\n"
            };
            let mut out = line(head);
            for r in &table {
                out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
            }
            out.push_str(&format!("\nstore: {store}\n"));
            out
        }
    };
    write_out(|out| out.write_all(text.as_bytes()))?;
    if failed > 0 {
        return Err(Failure::runtime(format!("{failed} of {checked} checked failed")));
    }
    Ok(())
}

/// How many accounts `accounts --check` checks at once: an agency's hundreds of authorizers
/// are checked in seconds, not one round trip after another.
const CHECKS_AT_ONCE: usize = 16;

/// Each account's check (`None`: passed, else why not), by index.
async fn check_accounts(
    client: std::sync::Arc<crate::transport::Client>,
    indices: Vec<usize>,
) -> Vec<(usize, Option<String>)> {
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(CHECKS_AT_ONCE));
    let mut set = tokio::task::JoinSet::new();
    for i in indices {
        let (client, permits) = (client.clone(), permits.clone());
        set.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (i, client.check_account(i).await.err().map(|e| e.errmsg))
        });
    }
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        match done {
            Ok(r) => out.push(r),
            Err(e) => eprintln!("error: an account check stopped: {e}"),
        }
    }
    out
}

fn serve(port: u16, opts: &SandboxOpts) -> Result<(), Failure> {
    let cfg = opts.config();
    if cfg.push_url.is_some() && cfg.push_token.is_empty() {
        return Err(Failure::usage("--push-url needs the Token to sign with: --push-token or WECHAT_TOKEN"));
    }
    let rt = session::async_runtime()?;
    rt.block_on(async {
        let sim = Sandbox::start(cfg, port).await.map_err(Failure::runtime)?;
        let n = sim.own_appids().len();
        let more = match n {
            1 => String::new(),
            2 => format!("; also {} / {}", sandbox::own_appid(2), sandbox::own_secret(2)),
            _ => format!(
                "; also {} / {} .. {} / {}",
                sandbox::own_appid(2),
                sandbox::own_secret(2),
                sandbox::own_appid(n),
                sandbox::own_secret(n)
            ),
        };
        println!(
            "wxscript sandbox listening on {} (appid {}, secret {}{more})",
            sim.base_url(),
            sandbox::APPID,
            sandbox::SECRET
        );
        let _ = tokio::signal::ctrl_c().await;
        drop(sim);
        Ok(())
    })
}
