//! `wxscript repl`: the API explored by hand.
//!
//! One engine and one scope for the whole session. Each entry is compiled against the scope
//! and run with the functions defined so far (every entry's functions are merged into one
//! AST) and the modules imported so far, so variables, functions and imports all persist.
//! The entry runs on the main thread; Ctrl-C while it runs triggers the session's
//! cancellation (in-flight requests are dropped, `on_progress` ends the script) and the
//! prompt comes back. The pure parts live in the sibling modules: completion and hints
//! (`complete`), "is the input finished?" (`validate`), result printing (`pretty`) and the
//! `:` commands (`commands`).
//!
//! `_` holds the last value an entry gave (not `()`). rhai reads `_` as a symbol of its own (a
//! `switch`'s default case), so while an entry is compiled a token mapper turns every other
//! `_` into the variable of that name.

mod commands;
mod complete;
mod helper;
mod pretty;
mod validate;

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rhai::{AST, Dynamic, Engine, ImmutableString, Module, Scope, Shared};
use rustyline::Editor;
use rustyline::config::{CompletionType, Config};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;

use crate::runtime::{render, stdlib};
use crate::session::{Failure, Session, SessionOptions, read_script};

use commands::Cmd;
use complete::{Names, Shape, Var};
use helper::ReplHelper;

/// The variable holding the last value.
const LAST: &str = "_";

/// The file name errors of typed input are reported under.
const INPUT: &str = "<input>";

/// `$WXSCRIPT_HISTORY`, else `wxscript/history` in the user's state (or data) directory.
pub fn history_path() -> Option<PathBuf> {
    match std::env::var_os("WXSCRIPT_HISTORY") {
        Some(p) if !p.is_empty() => Some(p.into()),
        _ => dirs::state_dir().or_else(dirs::data_dir).map(|d| d.join("wxscript").join("history")),
    }
}

/// Runs the REPL until `:quit` or Ctrl-D.
pub fn run(opts: &SessionOptions) -> Result<(), Failure> {
    let session = Session::start(opts)?;
    if let Err(e) = interrupt_cancels(&session) {
        eprintln!("warning: Ctrl-C cannot stop a running call: {e}");
    }
    let outcome = Repl::new(&session).map_err(Failure::runtime).and_then(|mut repl| repl.run());
    session.close();
    outcome
}

/// SIGINT triggers the session's cancellation. The handler is registered here, before the
/// first prompt, so that rustyline (which swaps in its own handler while reading a line, and
/// puts the previous one back after) always restores this one.
fn interrupt_cancels(session: &Session) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let _guard = session.rt.enter();
        let mut sig = signal(SignalKind::interrupt())?;
        let cancel = session.cancel.clone();
        session.rt.spawn(async move {
            while sig.recv().await.is_some() {
                cancel.trigger();
            }
        });
    }
    #[cfg(not(unix))]
    session.cancel_on_ctrl_c();
    Ok(())
}

struct Repl<'s> {
    session: &'s Session,
    engine: Engine,
    scope: Scope<'static>,
    /// Every function defined so far (statements cleared).
    fns: AST,
    /// Every module imported so far, in import order.
    imports: Vec<(ImmutableString, Shared<Module>)>,
    /// The entries that ran without error, for `:save`.
    lines: Vec<String>,
    /// Where each function was defined (the entry's name and text), so that an error inside
    /// it shows that entry's text, not the calling one's.
    fn_sources: HashMap<String, (String, String)>,
    names: Names,
    editor: Editor<ReplHelper, DefaultHistory>,
    history: Option<PathBuf>,
    history_warned: bool,
    /// Files this session has written with `:save`, which it may write again.
    saved: Vec<PathBuf>,
    color: bool,
    width: usize,
    /// `wx[sandbox]> `, `wx[wx0123… LIVE]> `: which server and account a line goes to.
    prompt: String,
    /// The entry being compiled, for the `_` token mapper; `None` at any other time (modules
    /// compiled while an entry runs keep their `_` as rhai reads it).
    compiling: Arc<Mutex<Option<String>>>,
}

/// The engine's own global functions (`print`, `parse_int`, `len`, ...), for completion.
fn engine_globals(engine: &Engine) -> Vec<String> {
    engine
        .gen_fn_signatures(true)
        .into_iter()
        .filter_map(|s| {
            let name = s.split('(').next()?.trim();
            let name = name.rsplit(' ').next()?;
            (!name.contains("::")).then(|| name.to_string())
        })
        .collect()
}

/// The names a module gives a script: its functions (each once, however many overloads) and
/// its variables.
fn module_names(m: &Module) -> (BTreeSet<String>, Vec<String>) {
    let fns = m.gen_fn_signatures_with_mapper(std::borrow::Cow::Borrowed).filter_map(|sig| {
        let name = sig.split('(').next()?.trim();
        // Closures compile to anonymous functions: not names anyone types.
        Some(name.rsplit(' ').next()?.to_string()).filter(|n| !n.starts_with("anon$"))
    });
    (fns.collect(), m.iter_var().map(|(v, _)| v.to_string()).collect())
}

/// Whether the `_` at `pos` of `src` opens a `switch`'s default case (`_ => ...`).
fn default_case(src: &str, pos: rhai::Position) -> bool {
    let (Some(line), Some(col)) = (pos.line(), pos.position()) else { return false };
    let start: usize = src.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum();
    let after = src[start..].char_indices().nth(col).map_or(src.len(), |(i, _)| start + i);
    src[after..].trim_start().starts_with("=>")
}

/// The prompt for a session: the simulator, or the account and whether writes are sent. `named`
/// is the account in force when it is not `default` (after `account::use`): it is shown.
fn prompt(sandbox: bool, appid: Option<&str>, named: Option<&str>, dry_run: bool) -> String {
    let mode = if dry_run { " dry run" } else { "" };
    if sandbox {
        let who = named.map(|n| format!(" {n}")).unwrap_or_default();
        return format!("wx[sandbox{who}{mode}]> ");
    }
    let account = match (named, appid) {
        (Some(n), _) => n.to_string(),
        (None, Some(a)) if a.chars().count() > 6 => format!("{}…", a.chars().take(6).collect::<String>()),
        (None, Some(a)) => a.to_string(),
        (None, None) => "token".into(),
    };
    format!("wx[{account} {}]> ", if dry_run { "dry run" } else { "LIVE" })
}

/// What to say for a bare `help`, `exit` or `quit`, which people type out of habit.
fn habit(line: &str) -> Option<&'static str> {
    match line.trim().trim_end_matches(';').trim_end() {
        "help" | "help()" => Some("type :help for the commands and keys (:help NAME for a function)"),
        "exit" | "quit" | "quit()" => Some("type :quit (or press Ctrl-D) to leave"),
        _ => None,
    }
}

impl<'s> Repl<'s> {
    fn new(session: &'s Session) -> Result<Repl<'s>, String> {
        let mut engine = session.engine();
        engine.set_module_resolver(resolver(Path::new(".")));
        let compiling: Arc<Mutex<Option<String>>> = Arc::default();
        let entry = compiling.clone();
        #[allow(deprecated)]
        engine.on_parse_token(move |token, pos, _| match token {
            rhai::Token::Underscore
                if entry.lock().ok().and_then(|e| e.as_deref().map(|src| !default_case(src, pos))) == Some(true) =>
            {
                rhai::Token::Identifier(Box::new(LAST.into()))
            }
            other => crate::runtime::map_token(other),
        });
        let names = Names::new(session.catalog, engine_globals(&engine));
        let color = render::stderr_color();
        let prompt =
            prompt(session.sandbox_appid().is_some(), session.ctx.appid().as_deref(), None, session.ctx.dry_run);
        let config = Config::builder()
            .max_history_size(1000)
            .and_then(|b| b.history_ignore_dups(true))
            .map_err(|e| e.to_string())?
            .auto_add_history(false)
            .completion_type(CompletionType::List)
            .build();
        let mut editor: Editor<ReplHelper, DefaultHistory> =
            Editor::with_config(config).map_err(|e| format!("cannot start the line editor: {e}"))?;
        editor.set_helper(Some(ReplHelper::new(names.clone(), color, pretty::width(&prompt))));
        let history = history_path();
        if let Some(p) = &history
            && p.exists()
            && let Err(e) = editor.load_history(p)
        {
            eprintln!("warning: cannot read the history {}: {e}", p.display());
        }
        Ok(Repl {
            session,
            engine,
            scope: Scope::new(),
            fns: AST::empty(),
            imports: Vec::new(),
            lines: Vec::new(),
            fn_sources: HashMap::new(),
            names,
            editor,
            history,
            history_warned: false,
            saved: Vec::new(),
            color,
            width: 80,
            prompt,
            compiling,
        })
    }

    /// The prompt as the account in force now says it (`account::use` changes it).
    fn current_prompt(&mut self) -> String {
        let ctx = &self.session.ctx;
        let account = ctx.current_account();
        let p = if account.name == crate::transport::DEFAULT_ACCOUNT {
            self.prompt.clone()
        } else {
            prompt(self.session.sandbox_appid().is_some(), account.appid(), Some(&account.name), ctx.dry_run)
        };
        if let Some(h) = self.editor.helper_mut() {
            h.prompt_width = pretty::width(&p);
        }
        p
    }

    fn run(&mut self) -> Result<(), Failure> {
        println!("{}", self.banner());
        println!("Type :help for commands and keys, Tab to complete, Ctrl-D to leave.");
        loop {
            self.width = self.editor.dimensions().map(|d| usize::from(d.0)).filter(|w| *w >= 20).unwrap_or(80);
            let names = self.session_names();
            if let Some(h) = self.editor.helper_mut() {
                h.width = self.width;
                h.vars = self.scope.iter_raw().map(|(name, _, v)| var(name, v)).collect();
                h.names = names;
            }
            let prompt = self.current_prompt();
            match self.editor.readline(&prompt) {
                Ok(line) => {
                    if line.trim().is_empty() {
                        continue;
                    }
                    self.remember(&line);
                    if line.trim_start().starts_with(':') {
                        if !self.command(&line) {
                            return Ok(());
                        }
                    } else if let Some(tip) = habit(&line).filter(|_| !self.defines(&line)) {
                        eprintln!("{tip}");
                    } else if self.eval(&line, INPUT) {
                        self.lines.push(line);
                    }
                }
                // Ctrl-C at the prompt drops the line; the session goes on.
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => {
                    // Leave the shell's prompt on a line of its own.
                    println!();
                    return Ok(());
                }
                Err(e) => return Err(Failure::runtime(e)),
            }
        }
    }

    /// Whether the word of a bare `help`/`quit` line is the session's own variable or
    /// function, which the line then means.
    fn defines(&self, line: &str) -> bool {
        let word = line.trim().trim_end_matches(';').trim_end().trim_end_matches("()");
        self.scope.contains(word) || self.fns.iter_functions().any(|f| f.name == word)
    }

    /// The declared names plus the functions this session defined and the modules it imported.
    fn session_names(&self) -> Names {
        let fns = self.fns.iter_functions().map(|f| f.name.to_string());
        let imports = self.imports.iter().map(|(alias, m)| {
            let (fns, vars) = module_names(m);
            (alias.to_string(), fns.into_iter().chain(vars).collect())
        });
        // Accounts come and go (platform::sync_authorizers adopts new ones).
        self.names.with_session(fns, imports).with_accounts(self.session.ctx.client.account_names())
    }

    /// A name through an import alias of a bundled module (`st::import_csv` after
    /// `import "stores" as st;`) as the reference names it (`stores::import_csv`).
    fn unalias(&self, name: &str) -> String {
        let (head, rest) = match name.split_once("::") {
            Some((h, r)) => (h, Some(r)),
            None => (name, None),
        };
        let module = self.imports.iter().rev().find(|(a, _)| a.as_str() == head).and_then(|(_, m)| {
            let id = m.id()?;
            let stem = id.strip_prefix("stdlib/")?.strip_suffix(".rhai")?;
            crate::runtime::stdlib::STDLIB.iter().find(|(n, _)| *n == stem).map(|(n, _)| *n)
        });
        match (module, rest) {
            (Some(m), Some(r)) => format!("{m}::{r}"),
            (Some(m), None) => m.to_string(),
            (None, _) => name.to_string(),
        }
    }

    fn banner(&self) -> String {
        let client = &self.session.ctx.client;
        let who = match self.session.ctx.appid() {
            Some(a) => format!("appid {a}"),
            None if std::env::var_os("WECHAT_ACCESS_TOKEN").is_some_and(|t| !t.is_empty()) => {
                "the access token in WECHAT_ACCESS_TOKEN".into()
            }
            None => "no credentials (set WECHAT_APPID and WECHAT_APPSECRET)".into(),
        };
        let server = if self.session.sandbox_appid().is_some() { "sandbox (built-in simulator)" } else { "API" };
        let dry = if self.session.ctx.dry_run { "; dry run: writes are printed, not sent" } else { "" };
        let mut banner = format!("wxscript {} REPL: {server} {}, {who}{dry}", env!("CARGO_PKG_VERSION"), client.base());
        // The simulator's own listener is an internal detail; one the user asked for is not.
        if let Some(l) = &self.session.listener
            && self.session.temp_log.is_none()
        {
            banner.push_str(&format!("\nlistening for events on {} (event log {})", l.url(), l.log_path().display()));
        }
        banner
    }

    /// Adds an entry to the history and appends it to the history file at once, so that a
    /// killed session keeps what was typed.
    fn remember(&mut self, line: &str) {
        let _ = self.editor.add_history_entry(line);
        let Some(path) = &self.history else { return };
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        match self.editor.append_history(path) {
            Ok(()) => restrict(path),
            Err(e) if !self.history_warned => {
                self.history_warned = true;
                eprintln!("warning: cannot write the history {}: {e}", path.display());
            }
            Err(_) => {}
        }
    }

    /// Runs a `:` command; false to leave.
    fn command(&mut self, line: &str) -> bool {
        let out = match commands::parse(line) {
            Err(e) => Err(e),
            Ok(Cmd::Quit) => return false,
            Ok(Cmd::Help(None)) => Ok(commands::help(&self.session_names())),
            Ok(Cmd::Help(Some(name))) => commands::help_for(&self.unalias(&name), &self.names),
            Ok(Cmd::Fns(m)) => commands::fns(m.map(|m| self.unalias(&m)).as_deref(), &self.names),
            Ok(Cmd::Vars) => {
                let mut text = commands::vars(self.scope.iter_raw());
                // Imports are part of the session's state too.
                for (alias, m) in &self.imports {
                    text.push_str(&commands::module_line(alias, &module_names(m).0));
                }
                Ok(text)
            }
            Ok(Cmd::Sandbox) => Ok(self.server()),
            Ok(Cmd::Load(file)) => {
                self.load(Path::new(&file));
                Ok(String::new())
            }
            Ok(Cmd::Save(file)) => {
                // The same file however it is spelt (./x.rhai, an absolute path, ...).
                let path = std::fs::canonicalize(&file).unwrap_or_else(|_| PathBuf::from(&file));
                if path.exists() && !self.saved.contains(&path) {
                    // Someone's script could be lost to a typo: only this session's own saves
                    // are overwritten.
                    Err(format!("{file} exists and was not saved by this session: choose another name or delete it"))
                } else {
                    let written = std::fs::write(&file, commands::script(&self.lines));
                    if let Ok(p) = std::fs::canonicalize(&file) {
                        self.saved.push(p);
                    }
                    written
                        .map(|()| format!("saved {} entries to {file}\n", self.lines.len()))
                        .map_err(|e| format!("cannot write {file}: {e}"))
                }
            }
        };
        match out {
            Ok(text) => {
                print!("{text}");
                let _ = std::io::stdout().flush();
            }
            Err(e) => eprintln!("{e}"),
        }
        true
    }

    fn server(&self) -> String {
        let client = &self.session.ctx.client;
        if self.session.ctx.dry_run {
            return format!("dry run against {}: reads are sent, writes are printed and not sent\n", client.base());
        }
        if let Some(appid) = self.session.sandbox_appid() {
            format!(
                "sandbox: the built-in simulator at {} (appid {appid}); its state lasts as long as this session\n",
                client.base(),
            )
        } else {
            format!(
                "not a sandbox: {} with {}; calls change real data (`wxscript repl --sandbox` to try things safely)\n",
                client.base(),
                self.session.ctx.appid().map(|a| format!("appid {a}")).unwrap_or_else(|| "an access token".into())
            )
        }
    }

    /// Runs a file into the session; its imports resolve next to it, as under `run`.
    fn load(&mut self, file: &Path) {
        match read_script(file) {
            Ok(src) => {
                let dir = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                self.engine.set_module_resolver(resolver(dir));
                let ok = self.eval(&src, &file.display().to_string());
                self.engine.set_module_resolver(resolver(Path::new(".")));
                if ok {
                    self.lines.push(src);
                }
            }
            Err(e) => eprintln!("{e}"),
        }
    }

    /// Compiles and runs one entry in the session; prints its result or its error. True when
    /// it ran without error.
    fn eval(&mut self, src: &str, name: &str) -> bool {
        if let Ok(mut entry) = self.compiling.lock() {
            *entry = Some(src.to_string());
        }
        let compiled = self.engine.compile_with_scope(&self.scope, src);
        if let Ok(mut entry) = self.compiling.lock() {
            *entry = None;
        }
        let ast = match compiled {
            Ok(a) => a,
            Err(e) => {
                eprint!("{}", render::render_parse(&e, name, src, self.color));
                return false;
            }
        };
        for f in ast.iter_functions() {
            self.fn_sources.insert(f.name.to_string(), (name.to_string(), src.to_string()));
        }
        let mut fns = self.fns.merge(&ast);
        fns.clear_statements();
        let cancel = &self.session.cancel;
        cancel.reset();
        let mut global = self.engine.new_global_runtime_state();
        for (alias, module) in &self.imports {
            global.push_import(alias.clone(), module.clone());
        }
        global.lib.push(fns.shared_lib().clone());
        // Statements run against a global state we keep: that is what lets imports outlive the
        // entry (`eval_ast_with_scope` starts a fresh one each time).
        #[allow(deprecated)]
        let result =
            self.engine.eval_statements_raw(&mut global, &mut rhai::Caches::new(), &mut self.scope, ast.statements());
        self.imports = global.scan_imports_raw().map(|(a, m)| (a.clone(), m.clone())).collect();
        self.fns = fns;
        let cancelled = cancel.is_cancelled();
        cancel.reset();
        match result {
            // Also when the entry ended normally: a `sleep` or a `parallel` returns early.
            _ if cancelled => {
                eprintln!("{}", crate::runtime::interrupted(result.as_ref().err().map(|e| &**e)));
                false
            }
            Ok(v) => {
                self.show(&v);
                if !v.is_unit() {
                    // Replaced, never added to: the scope holds one last value. A constant's
                    // value (`m::GREETING`) becomes a variable's.
                    let _ = self.scope.remove::<Dynamic>(LAST);
                    self.scope.push(LAST, v);
                }
                true
            }
            Err(e) => {
                eprint!("{}", self.render(&e, name, src));
                false
            }
        }
    }

    /// An error the way `run` shows it. An error inside a function defined by an earlier entry
    /// is shown in that entry's text (the innermost such function's), with a note naming it.
    fn render(&self, e: &rhai::EvalAltResult, name: &str, src: &str) -> String {
        let mut deepest = None;
        let mut cur = e;
        while let rhai::EvalAltResult::ErrorInFunctionCall(f, fsrc, inner, _) = cur
            && fsrc.is_empty()
        {
            if let Some(def) = self.fn_sources.get(f) {
                deepest = Some((f, def, &**inner));
            }
            cur = inner;
        }
        match deepest {
            Some((f, (def_name, def_src), inner)) if def_src != src => {
                let mut out = render::render_eval(inner, def_name, def_src, self.color, self.session.catalog);
                out.push_str(&format!("   = note: in {f}(), defined by an earlier entry\n"));
                out
            }
            _ => render::render_eval(e, name, src, self.color, self.session.catalog),
        }
    }

    fn show(&self, v: &Dynamic) {
        let text = pretty::pretty(v, self.width);
        if !text.is_empty() {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    }
}

/// Imports as under `run` (the embedded stdlib first, then files against `dir`), except that
/// files are not cached: an edited module reloads on the next import.
fn resolver(dir: &Path) -> stdlib::Resolver {
    stdlib::Resolver::new(dir).without_file_cache()
}

/// A variable for completion: its name, and its keys when it holds a map.
fn var(name: &str, v: &Dynamic) -> Var {
    // Bounded, as this runs at every prompt: a few levels deep, a few thousand keys in all.
    let mut budget = 2000;
    Var { name: name.to_string(), shape: shape(v, 4, &mut budget) }
}

fn shape(v: &Dynamic, depth: usize, budget: &mut usize) -> Shape {
    if depth == 0 || *budget == 0 {
        return Shape::default();
    }
    if let Some(m) = v.read_lock::<rhai::Map>() {
        let mut keys = Vec::new();
        for (k, v) in m.iter() {
            if *budget == 0 {
                break;
            }
            *budget -= 1;
            keys.push((k.to_string(), shape(v, depth - 1, budget)));
        }
        return Shape { keys, item: None };
    }
    if let Some(a) = v.read_lock::<rhai::Array>() {
        return Shape { keys: Vec::new(), item: a.first().map(|x| Box::new(shape(x, depth - 1, budget))) };
    }
    Shape::default()
}

/// History can hold ids and phone numbers: keep the file the user's own.
fn restrict(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn underscore_is_the_last_value_except_as_a_default_case() {
        let src = "let a = _ + 1;\nswitch x {\n  1 => 2,\n  _   =>\n 3 }\n[_]";
        let at = |line, col| default_case(src, rhai::Position::new(line, col));
        assert!(!at(1, 9));
        assert!(at(4, 3));
        assert!(!at(6, 2));
    }

    #[test]
    fn a_module_counts_each_function_once() {
        let engine = Engine::new();
        let src =
            "fn f(a) { a }\nfn f(a, b) { a + b }\nprivate fn hidden() { 1 }\nfn g() { |x| x + 1 }\nexport const K = 1;";
        let ast = engine.compile(src).expect("compiles");
        let m = Module::eval_ast_as_new(Scope::new(), &ast, &engine).expect("module");
        let (fns, vars) = module_names(&m);
        assert_eq!(fns.into_iter().collect::<Vec<_>>(), ["f", "g"]);
        assert_eq!(vars, ["K"]);
    }

    #[test]
    fn the_prompt_names_the_server_and_account() {
        assert_eq!(prompt(true, Some("wxsandbox"), None, false), "wx[sandbox]> ");
        assert_eq!(prompt(false, Some("wx0123456789abcdef"), None, false), "wx[wx0123… LIVE]> ");
        assert_eq!(prompt(false, Some("wx0123456789abcdef"), None, true), "wx[wx0123… dry run]> ");
        assert_eq!(prompt(false, None, None, false), "wx[token LIVE]> ");
        assert_eq!(prompt(false, Some("wx1111111111111111"), Some("shop-a"), false), "wx[shop-a LIVE]> ");
        assert_eq!(prompt(true, Some("wxsandboxauth1"), Some("wxsandboxauth1"), false), "wx[sandbox wxsandboxauth1]> ");
    }

    #[test]
    fn habits_point_to_the_commands() {
        assert!(habit("help").is_some_and(|t| t.contains(":help")));
        assert!(habit(" exit; ").is_some_and(|t| t.contains(":quit")));
        assert!(habit("quit").is_some_and(|t| t.contains(":quit")));
        assert!(habit("exit(1)").is_none() && habit("helper").is_none());
    }
}
