//! `wxscript repl` driven through a pseudo-terminal, as a person types: completion, multi-line
//! input, errors, `:help`, history across sessions and Ctrl-C during a slow call.
#![cfg(unix)]

mod common;
use common::*;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use expectrl::session::OsSession;
use expectrl::{ControlCode, Eof, Expect};

const PROMPT: &str = "wx[sandbox]> ";

/// A REPL session on a pseudo-terminal, with a private history file.
struct Repl {
    p: OsSession,
    /// Entries sent so far, numbering the end markers.
    n: usize,
}

impl Repl {
    fn start(history: &Path, extra: &[&str]) -> Repl {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("wxscript"));
        cmd.current_dir(repo_root())
            .arg("repl")
            .arg("--sandbox")
            .args(extra)
            .env("WXSCRIPT_HISTORY", history)
            .env("TERM", "xterm")
            .env("NO_COLOR", "1")
            .env_remove("WECHAT_ACCESS_TOKEN")
            .env_remove("WECHAT_APPID")
            .env_remove("WECHAT_APPSECRET");
        let mut p = OsSession::spawn(cmd).expect("repl spawns on a pty");
        p.set_expect_timeout(Some(Duration::from_secs(30)));
        let mut r = Repl { p, n: 0 };
        r.expect("appid wxsandbox");
        r.expect(PROMPT);
        r
    }

    #[track_caller]
    fn expect(&mut self, what: &str) -> String {
        match self.p.expect(what) {
            Ok(c) => String::from_utf8_lossy(c.before()).into_owned(),
            Err(e) => panic!("expected {what:?}: {e}"),
        }
    }

    fn send(&mut self, keys: &str) {
        self.p.send(keys).expect("send keys");
    }

    /// Types an entry and returns everything shown until it has run. The prompt is redrawn
    /// on every key, so the end is marked by a second entry whose result (`"end-N"`, quoted)
    /// differs from its echo (`"end-" + N`).
    #[track_caller]
    fn eval(&mut self, text: &str) -> String {
        self.n += 1;
        self.send(text);
        self.send(&format!("\n\"end-\" + {}\n", self.n));
        self.expect(&format!("\"end-{}\"", self.n))
    }

    /// Ctrl-U: empties the line being edited (the same prompt goes on).
    fn clear_line(&mut self) {
        self.send("\x15");
    }

    /// Ctrl-C at the prompt. Keys typed before the editor has given up the line would be
    /// dropped with it, so this waits for the editor to leave (it turns bracketed paste off).
    #[track_caller]
    fn ctrl_c_at_prompt(&mut self) {
        self.p.send(ControlCode::EndOfText).expect("send Ctrl-C");
        self.expect("\x1b[?2004l");
    }

    fn quit(mut self) {
        self.send(":quit\n");
        self.p.expect(Eof).expect("repl exits on :quit");
    }
}

fn history_file() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("history");
    (dir, path)
}

#[test]
fn completes_modules_functions_and_request_keys() {
    let (_d, h) = history_file();
    let mut r = Repl::start(&h, &[]);
    // `sto` -> `store::`, then `li` -> `store::list`: the call runs as completed.
    r.send("sto\t");
    r.expect("store::");
    r.send("li\t");
    r.expect("store::list");
    let out = r.eval("(0, 5)");
    assert!(out.contains("#{business_list: [], total_count: 0}"), "{out}");

    // Two candidates: the second Tab lists both.
    r.send("store::a\t\t");
    r.expect("store::add");
    r.expect("store::all");
    r.clear_line();

    // The hint shows the signature of the call being typed.
    r.send("store::get(");
    r.expect("store::get(poi_id) | store::get(map)");
    r.clear_line();

    // The request key of the map being typed: `ma` becomes `map_poi_id`, so the call's
    // complaint is the next required field, not an unknown key `ma`.
    r.send("store::add(#{ma\t");
    r.expect("map_poi_id");
    let out = r.eval(": \"1\"})");
    assert!(out.contains("missing required field \"pic_list\""), "{out}");
    assert!(!out.contains("unknown field"), "{out}");

    // Keys of a value reached through a variable's keys and indexes.
    r.eval("let found = #{devices: [#{device_id: 7, major: 10001}], total_count: 1};");
    r.send("found.devices[0].ma\t");
    r.expect("major");
    let out = r.eval("");
    assert!(out.contains("10001"), "{out}");
    r.quit();
}

#[test]
fn the_last_value_habits_module_counts_and_whole_ids() {
    let (_d, h) = history_file();
    let mut r = Repl::start(&h, &[]);
    // Entries whose result is the last one (`eval` ends with a marker entry of its own).
    r.send("6 * 7\n");
    r.expect("42");
    let out = r.eval("_ + 1");
    assert!(out.contains("43"), "{out}");
    // A `switch`'s default case is still rhai's own `_`.
    r.send("switch 5 { 1 => \"one\", _ => \"oth\" + \"er\" }\n");
    r.expect("\"other\"");
    let out = r.eval("_.len()");
    assert!(out.contains('5') && !out.contains("error"), "{out}");
    // Bare `help` and `exit` say what to type; the session goes on.
    let out = r.eval("help");
    assert!(out.contains("type :help") && !out.contains("Variable not found"), "{out}");
    let out = r.eval("exit");
    assert!(out.contains("type :quit") && !out.contains("Variable not found"), "{out}");
    // An import counts each function once, however many overloads it has.
    r.eval("import \"stores\" as st;");
    let out = r.eval(":vars");
    assert!(out.contains("st  module  4 functions"), "{out}");
    // Ids are whole and first, headers whole, at this terminal's width; a huge result is cut
    // after 100 rows, the whole of it in `_`.
    r.send(
        "let rows = []; for i in 0..150 { rows.push(#{address: \"广东省广州市海珠区府前路127号\", qualification_list: \"a|b\", \
         qualification_name: \"食品经营许可证\", qualification_num: \"JY14401050123456\", business_name: `shop ${i}`, \
         poi_id: 8932347112 + i}); } rows\n",
    );
    let out = r.expect("… 50 more (100 of 150 shown; the whole value is in _)");
    let header = out.lines().find(|l| l.contains("poi_id") && !l.contains("rows")).unwrap_or_default();
    assert!(header.trim_start().starts_with("poi_id      business_name"), "{out}");
    assert!(!header.contains('…'), "{out}");
    assert!(out.contains("8932347211") && !out.contains("8932347…"), "{out}");
    let out = r.eval("_.len()");
    assert!(out.contains("150"), "{out}");
    r.quit();
}

#[test]
fn the_prompt_names_a_live_account() {
    let sim = Sim::start();
    let (_d, h) = history_file();
    let mut cmd = sim.std_cmd();
    cmd.arg("repl").env("WXSCRIPT_HISTORY", &h).env("TERM", "xterm");
    let mut p = OsSession::spawn(cmd).expect("repl spawns on a pty");
    p.set_expect_timeout(Some(Duration::from_secs(30)));
    p.expect("wx[wxsand… LIVE]> ").expect("the prompt names the account and that it is live");
    p.send(":quit\n").expect("send");
    p.expect(Eof).expect("repl exits on :quit");
}

#[test]
fn multi_line_map_literal_continues_until_closed() {
    let (_d, h) = history_file();
    let mut r = Repl::start(&h, &[]);
    r.send("let m = #{\n");
    r.send("  name: \"测试便利店\",\n");
    r.send("  hours: [\"08:00-22:00\",\n");
    r.send("    \"09:00-21:00\"],\n");
    let out = r.eval("};");
    assert!(!out.contains("error"), "{out}");
    let out = r.eval("m");
    assert!(out.contains("#{hours: [\"08:00-22:00\", \"09:00-21:00\"], name: \"测试便利店\"}"), "{out}");
    // Functions persist across entries too.
    r.eval("fn twice(x) {\n  x * 2\n}");
    let out = r.eval("twice(m.hours.len() + 19)");
    assert!(out.contains("42"), "{out}");
    r.quit();
}

#[test]
fn an_api_error_is_shown_and_the_session_goes_on() {
    let (_d, h) = history_file();
    let mut r = Repl::start(&h, &[]);
    r.eval("let answer = 42;");
    let out = r.eval("store::get(1)");
    assert!(out.contains("error[api]"), "{out}");
    assert!(out.contains("<input>:1:"), "position in the entered line: {out}");
    assert!(out.contains("errcode: 65115"), "{out}");
    let out = r.eval("try { store::get(1); } catch (e) { print(`caught ${e.errcode}`); }");
    assert!(out.contains("caught 65115"), "{out}");
    let out = r.eval("answer + 0");
    assert!(out.contains("42"), "{out}");
    let out = r.eval(":vars");
    assert!(out.contains("answer"), "{out}");
    r.quit();
}

#[test]
fn help_shows_the_declaration() {
    let (_d, h) = history_file();
    let mut r = Repl::start(&h, &[]);
    let out = r.eval(":help store::add");
    for want in [
        "store::add(map)",
        "POST wxa/add_store",
        "map_poi_id",
        "required",
        "optional",
        "85038",
        "Example (on the sandbox",
    ] {
        assert!(out.contains(want), "{want} missing in {out}");
    }
    let out = r.eval(":help");
    assert!(out.contains(":save FILE") && out.contains("Ctrl-R"), "{out}");
    let out = r.eval(":sandbox");
    assert!(out.contains("built-in simulator"), "{out}");
    // Ctrl-D at an empty prompt leaves (once the prompt is back: a Ctrl-D typed ahead while
    // the terminal is not in raw mode is the terminal's end-of-file, not a key).
    r.expect(PROMPT);
    r.p.send(ControlCode::EndOfTransmission).expect("send Ctrl-D");
    r.p.expect(Eof).expect("repl exits on Ctrl-D");
}

#[test]
fn history_is_kept_across_sessions() {
    let (_d, h) = history_file();
    let mut r = Repl::start(&h, &[]);
    r.eval("let remembered = 6 * 7;");
    r.quit();
    let saved = std::fs::read_to_string(&h).expect("history written");
    assert!(saved.contains("let remembered = 6 * 7;") && saved.contains(":quit"), "{saved}");

    let mut r = Repl::start(&h, &[]);
    // Up brings back the previous session's last entry.
    r.send("\x1b[A");
    r.expect(":quit");
    r.clear_line();
    // Ctrl-R finds an older one by a fragment; Enter runs it.
    r.send("\x12rememb");
    r.expect("let remembered");
    let out = r.eval("");
    assert!(!out.contains("error"), "{out}");
    let out = r.eval("remembered");
    assert!(out.contains("42"), "{out}");
    r.quit();
}

#[test]
fn ctrl_c_stops_a_slow_call_and_clears_a_line() {
    let (_d, h) = history_file();
    // Every answer, the token's included, takes 5 s: the call would need 10 s.
    let mut r = Repl::start(&h, &["--latency-ms", "5000"]);
    // The entry announces that it runs (its echo does not spell the announcement), so Ctrl-C
    // comes while it runs, not while the line is still being read.
    r.send("print(\"call \" + \"started\"); store::list(0, 1)\n");
    r.expect("call started");
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    r.p.send(ControlCode::EndOfText).expect("send Ctrl-C");
    r.expect("interrupted");
    r.expect(PROMPT);
    assert!(t.elapsed() < Duration::from_secs(4), "took {:?}", t.elapsed());
    // Ctrl-C at the prompt drops the half-typed line.
    r.send("this is not rhai");
    r.expect("rhai");
    r.ctrl_c_at_prompt();
    let out = r.eval("6 * 7");
    assert!(out.contains("42") && !out.contains("error"), "{out}");
    r.quit();
}

#[test]
fn ctrl_c_on_a_create_says_its_outcome_is_unknown() {
    let (_d, h) = history_file();
    let mut r = Repl::start(&h, &[]);
    // A token first, then slow answers: the signal lands while the create itself is in flight.
    let out = r.eval("store::list(0, 1).total_count");
    assert!(out.contains('0'), "{out}");
    r.eval("sandbox::set_fault(#{latency_ms: 5000});");
    r.send("print(\"call \" + \"started\"); merchant::apply(#{first_catid: 1, second_catid: 2, headimg_mediaid: \"m\", nickname: \"abcd\", intro: \"i\"})\n");
    r.expect("call started");
    // Half the latency passes before the simulator takes the request in.
    std::thread::sleep(Duration::from_millis(300));
    r.p.send(ControlCode::EndOfText).expect("send Ctrl-C");
    r.expect("whether it took effect is unknown");
    r.expect(PROMPT);
    r.quit();
}

#[test]
fn imports_load_and_save_persist_in_the_session() {
    // Piped input needs no terminal: the same session, line by line.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("m.rhai"), "export const GREETING = \"你好\";\nfn shout(s) { s.to_upper() }\n")
        .expect("write module");
    std::fs::write(
        dir.path().join("lib.rhai"),
        "#!/usr/bin/env wxscript\nfn hello(n) { `hello ${n}` }\nlet loaded = 7;\n",
    )
    .expect("write lib");
    let input = "import \"stores\" as bulk;\nimport \"m\" as m;\nm::shout(\"abc\")\nm::GREETING\n:load lib.rhai\nhello(loaded)\nlet x = undefined_var;\n\
                 fn twice(x) {\n  x.nosuch()\n}\ntwice(1)\n:save out.rhai\n";
    let out = assert_cmd::Command::new(assert_cmd::cargo::cargo_bin("wxscript"))
        .current_dir(dir.path())
        .args(["repl", "--sandbox"])
        .env("WXSCRIPT_HISTORY", dir.path().join("history"))
        .env("NO_COLOR", "1")
        .write_stdin(input)
        .output()
        .expect("repl runs");
    let (o, e) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{o}\n{e}");
    assert!(o.contains("\"ABC\"\n\"你好\"\n\"hello 7\"\n"), "{o}\n{e}");
    assert!(!e.contains("module not found"), "the embedded stdlib imports as under run: {e}");
    assert!(e.contains("<input>:1:9") && e.contains("undefined_var"), "{e}");
    // An error inside a function of an earlier entry shows that entry's line.
    assert!(e.contains("2 |   x.nosuch()") && e.contains("in twice(), defined by an earlier entry"), "{e}");
    let saved = std::fs::read_to_string(dir.path().join("out.rhai")).expect("saved");
    assert!(saved.contains("m::shout(\"abc\");\n") && saved.contains("let loaded = 7;"), "{saved}");
    assert!(!saved.contains("undefined_var") && !saved.contains("twice(1)"), "failed entries are not saved: {saved}");
    // The saved session runs as a script.
    let run = assert_cmd::Command::new(assert_cmd::cargo::cargo_bin("wxscript"))
        .current_dir(dir.path())
        .args(["run", "out.rhai"])
        .output()
        .expect("run");
    assert!(run.status.success(), "{}", stderr(&run));
}

#[test]
fn banner_names_the_server_and_appid_but_never_the_secret() {
    let sim = Sim::start();
    let out = sim
        .cmd()
        .arg("repl")
        .env("WXSCRIPT_HISTORY", sim.dir.path().join("history"))
        .write_stdin(":sandbox\nstore::list(0, 1)\n")
        .output()
        .expect("repl runs");
    let (o, e) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{o}\n{e}");
    let banner = o.lines().next().unwrap_or_default();
    assert!(banner.contains(&sim.base) && banner.contains("appid wxsandbox"), "{banner}");
    assert!(o.contains("not a sandbox") && o.contains("total_count: 0"), "{o}\n{e}");
    assert!(!o.contains(wxscript::sandbox::SECRET) && !e.contains(wxscript::sandbox::SECRET), "{o}\n{e}");
}

/// `wxscript repl --sandbox EXTRA` with `input` piped in (no terminal), from the repository.
fn piped_sandbox_repl(dir: &Path, extra: &[&std::ffi::OsStr], input: &str) -> std::process::Output {
    assert_cmd::Command::cargo_bin("wxscript")
        .expect("bin")
        .current_dir(repo_root())
        .args(["repl", "--sandbox"])
        .args(extra)
        .env("WXSCRIPT_HISTORY", dir.join("history"))
        .env("NO_COLOR", "1")
        .write_stdin(input)
        .output()
        .expect("repl runs")
}

#[test]
fn a_session_can_listen_for_events_and_wait_for_an_audit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("events.jsonl");
    let input = r#"let cat = merchant::categories().filter(|c| c.level == 2 && c.sensitive_type == 0)[0];
let head = media::upload("scripts/data/logo.png", "image");
merchant::apply(#{first_catid: cat.father, second_catid: cat.id, headimg_mediaid: head.media_id, nickname: "海珠社区便利店", intro: "社区里的便利店"});
let a = merchant::audit_info();
let e = event::wait(#{Event: "apply_merchant_audit_info", audit_id: a.audit_id}, 10);
print(`event status ${e.status}`);
"#;
    let extra = ["--quiet".as_ref(), "--audit-delay".as_ref(), "0.2".as_ref(), "--log".as_ref(), log.as_os_str()];
    let out = piped_sandbox_repl(dir.path(), &extra, input);
    let (o, e) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{o}\n{e}");
    assert!(o.lines().nth(1).is_some_and(|l| l.starts_with("listening for events on http://127.0.0.1:")), "{o}");
    assert!(o.contains("event status 1"), "{o}\n{e}");
    let logged = std::fs::read_to_string(&log).expect("the session's log");
    assert!(logged.contains("apply_merchant_audit_info"), "{logged}");
}

#[test]
fn help_knows_the_bundled_modules_and_their_import_aliases() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out =
        piped_sandbox_repl(dir.path(), &[], "import \"stores\" as st;\n:help st::export_csv\n:fns audit\n:help\n");
    let o = stdout(&out);
    assert!(o.contains("stores::export_csv(path)") && o.contains("Every store to a CSV file"), "{o}");
    assert!(o.contains("audit::merchant(max_secs)"), "{o}");
    assert!(o.contains("Bundled modules") && o.contains("rehearsal"), "{o}");
}

#[test]
fn account_names_complete_and_the_prompt_follows_the_account_in_force() {
    let (_d, h) = history_file();
    let mut r = Repl::start(&h, &[]);
    // The account's name completes from the session's accounts.
    r.send("account::use(\"wxsandboxauth\t\t");
    r.expect("wxsandboxauth2");
    r.expect("wxsandboxauth3");
    r.send("1\")\n");
    r.expect("wx[sandbox wxsandboxauth1]> ");
    let out = r.eval("account::current().kind");
    assert!(out.contains("authorizer"), "{out}");
    r.send("account::use(\"default\")\n");
    r.expect("\n");
    r.expect(PROMPT);
    r.quit();
}
