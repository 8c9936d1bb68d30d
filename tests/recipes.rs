//! Every recipe in `scripts/` runs on the sandbox with its documented arguments, from a scratch
//! directory (journals and outputs land there, never in the repository).

mod common;
use common::*;

use std::path::Path;

fn run_recipe(dir: &Path, recipe: &str, args: &[&str]) -> String {
    let o = assert_cmd::Command::cargo_bin("wxscript")
        .expect("bin")
        .current_dir(dir)
        .env("WXSCRIPT_CACHE_DIR", dir.join("cache"))
        .env("WXSCRIPT_CONFIG", "/dev/null")
        .env("NO_COLOR", "1")
        .args(["run", "--sandbox", "--quiet"])
        .arg(format!("scripts/{recipe}.rhai"))
        .args(args)
        .output()
        .expect("runs");
    ok(&o)
}

fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    #[cfg(unix)]
    std::os::unix::fs::symlink(repo_root().join("scripts"), dir.path().join("scripts")).expect("link");
    dir
}

#[test]
fn every_recipe_is_tested_here() {
    let this = std::fs::read_to_string(repo_root().join("tests/recipes.rs")).expect("self");
    for e in std::fs::read_dir(repo_root().join("scripts")).expect("scripts").flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "rhai") {
            let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            assert!(this.contains(&format!("\"{stem}\"")), "scripts/{stem}.rhai has no test in tests/recipes.rs");
            let text = std::fs::read_to_string(&p).expect("recipe");
            assert!(text.lines().take(3).any(|l| l.starts_with("//")), "{stem}: header comment");
            assert!(text.contains("Run:") || text.contains("cargo run -- run"), "{stem}: says how to run it");
        }
    }
}

#[test]
fn store_recipes() {
    let d = scratch();
    let p = d.path();
    let out = run_recipe(p, "onboard_store", &[]);
    assert!(out.contains("1 store(s):"), "{out}");
    let out = run_recipe(p, "export_stores", &["--arg", "out=stores.csv"]);
    assert!(out.contains("5 stores written to stores.csv"), "{out}");
    assert_eq!(std::fs::read_to_string(p.join("stores.csv")).expect("csv").lines().count(), 6);
    let out = run_recipe(p, "update_hours", &["--arg", "journal=hours.journal"]);
    assert!(out.contains("5 of 5 rows done"), "{out}");
    let out = run_recipe(p, "migrate_legacy", &["--arg", "delete_forbidden=true"]);
    assert!(out.contains("legacy stores: 2 to migrate, 1 failed"), "{out}");
    assert_eq!(out.matches("  migrating ").count(), 3, "{out}");
    assert!(out.contains("deleted 肯德基"), "{out}");
    let out = run_recipe(p, "add_store_and_card", &[]);
    assert!(out.to_lowercase().contains("card"), "{out}");
    let out = run_recipe(
        p,
        "import_stores",
        &["--arg", "journal=shops.journal", "--arg", "out=shops.result.csv", "--arg", "concurrency=4"],
    );
    assert!(out.contains("\"added\": 200"), "{out}");
}

#[test]
fn shake_recipes() {
    let d = scratch();
    let p = d.path();
    let out = run_recipe(p, "beacons", &["--arg", "count=5"]);
    assert!(out.contains("page bound to 5 devices"), "{out}");
    let out = run_recipe(p, "apply_beacon_ids", &["--arg", "count=20", "--arg", "out=devices.csv"]);
    assert!(out.contains("20 devices approved"), "{out}");
    assert_eq!(std::fs::read_to_string(p.join("devices.csv")).expect("csv").lines().count(), 21);
    let out = run_recipe(p, "pages_from_sheet", &["--arg", "journal=pages.journal"]);
    assert_eq!(out.matches(" on 4 devices").count(), 3, "{out}");
    let out = run_recipe(p, "shake_stats_report", &["--arg", "out=report"]);
    assert!(out.contains("written report-devices.csv and report-pages.csv"), "{out}");
    assert!(std::fs::read_to_string(p.join("report-devices.csv")).expect("csv").starts_with("device_id,"));
}

#[test]
fn recipes_run_from_any_directory_with_their_sample_data() {
    // No `scripts` here: the sample pictures and sheets come from inside the binary. Journals
    // are named, so parallel tests never share the default one.
    let d = tempfile::tempdir().expect("tempdir");
    for (recipe, args, expect) in [
        ("onboard_store", &[][..], "1 store(s):"),
        ("export_stores", &["--arg", "out=stores.csv"][..], "5 stores written"),
        ("beacons", &["--arg", "count=2"][..], "page bound to 2 devices"),
        ("shake_stats_report", &["--arg", "out=report"][..], "with activity"),
        ("update_hours", &["--arg", "journal=hours.journal"][..], "5 of 5 rows done"),
        ("pages_from_sheet", &["--arg", "journal=pages.journal"][..], "on 4 devices"),
        (
            "import_stores",
            &["--arg", "journal=shops.journal", "--arg", "out=shops.result.csv", "--arg", "concurrency=8"][..],
            "\"added\": 200",
        ),
    ] {
        let o = assert_cmd::Command::cargo_bin("wxscript")
            .expect("bin")
            .current_dir(d.path())
            .env("NO_COLOR", "1")
            .args(["run", "--sandbox", "--quiet"])
            .arg(repo_root().join(format!("scripts/{recipe}.rhai")))
            .args(args)
            .output()
            .expect("runs");
        let out = ok(&o);
        assert!(out.contains(expect), "{recipe}: {out}");
        if recipe == "shake_stats_report" {
            // The day is shown as a date, not as Unix seconds.
            let day = out.split(':').next().unwrap_or_default();
            assert!(day.len() == 10 && day.as_bytes()[4] == b'-' && day.as_bytes()[7] == b'-', "{out}");
        }
    }
}

#[test]
fn every_rhai_file_checks_with_its_imports() {
    let mut files = Vec::new();
    for dir in ["scripts", "stdlib"] {
        for e in std::fs::read_dir(repo_root().join(dir)).expect("dir").flatten() {
            if e.path().extension().is_some_and(|x| x == "rhai") {
                files.push(e.path());
            }
        }
    }
    let o = assert_cmd::Command::cargo_bin("wxscript").expect("bin").arg("check").args(&files).output().expect("runs");
    assert!(o.status.success(), "{}", stderr(&o));
    let d = tempfile::tempdir().expect("tempdir");
    let bad = d.path().join("bad.rhai");
    std::fs::write(&bad, "import \"no_such_module\" as m;\nprint(1);\n").expect("write");
    let o = assert_cmd::Command::cargo_bin("wxscript").expect("bin").arg("check").arg(&bad).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no_such_module"));
}

/// `wxscript` from the repository, with a scratch cache and no config file.
fn wx(dir: &Path) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("wxscript").expect("bin");
    c.current_dir(repo_root())
        .env("WXSCRIPT_CACHE_DIR", dir.join("cache"))
        .env("WXSCRIPT_CONFIG", "/dev/null")
        .env("NO_COLOR", "1");
    c
}

#[test]
fn a_misspelt_or_missing_arg_is_a_usage_error_that_says_what_to_pass() {
    let d = scratch();
    let o = wx(d.path())
        .args(["run", "--sandbox", "scripts/import_stores.rhai", "--arg", "shet=x.csv"])
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--arg shet") && stderr(&o).contains("did you mean \"sheet\""), "{}", stderr(&o));
    assert!(!stdout(&o).contains("imported"), "nothing ran");
    // A value of the wrong type is a usage error too.
    let o =
        wx(d.path()).args(["run", "--sandbox", "scripts/beacons.rhai", "--arg", "count=ten"]).output().expect("runs");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("count must be a number"), "{}", stderr(&o));
    // A required argument missing names what to pass.
    let script = d.path().join("needs.rhai");
    std::fs::write(&script, "let a = args(#{card: #{help: \"the card to show\", required: true}});\nprint(a.card);\n")
        .expect("script");
    let o = wx(d.path()).args(["run", "--sandbox"]).arg(&script).output().expect("runs");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("missing --arg card=TEXT (the card to show)"), "{}", stderr(&o));
}

#[test]
fn every_recipe_declares_its_arguments_and_prints_its_help() {
    let d = scratch();
    for entry in std::fs::read_dir(repo_root().join("scripts")).expect("scripts") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "rhai") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let name = path.display().to_string();
        assert!(text.contains("args(#{"), "{name} declares its arguments with args(#{{...}})");
        assert!(!text.contains("ARGS"), "{name} reads its arguments only through the declaration");
        let o = wx(d.path()).args(["run"]).arg(&path).arg("--help").output().expect("runs");
        let help = ok(&o);
        assert!(help.contains("usage: wxscript run") && help.contains("arguments:\n  --arg "), "{name}: {help}");
    }
    let o = wx(d.path()).args(["run", "scripts/import_stores.rhai", "--help"]).output().expect("runs");
    let help = ok(&o);
    assert!(help.starts_with("Import shops from a spreadsheet"), "the header comment: {help}");
    assert!(help.contains("--arg sheet=PATH") && help.contains("sample shops.csv"), "{help}");
    assert!(help.contains("--arg concurrency=N") && help.contains("(default 8)"), "{help}");
    // Without a file, --help is the command's own.
    let o = wx(d.path()).args(["run", "--help"]).output().expect("runs");
    assert!(ok(&o).contains("--arg <KEY=VALUE>"), "{}", stdout(&o));
}

/// A server that answers 404 to everything and records each request's path.
fn recording_server() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut first = String::new();
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            let path = first.split_whitespace().nth(1).unwrap_or_default().to_string();
            log.lock().expect("log").push(path);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (base, seen)
}

#[test]
fn sample_defaults_are_refused_on_a_real_account_before_anything_is_sent() {
    let d = scratch();
    let (base, seen) = recording_server();
    for (recipe, named) in [
        ("import_stores", &["--arg sheet=PATH"][..]),
        (
            "onboard_store",
            &["--arg phone=TEL", "--arg credential=NUMBER", "--arg hours=HH:MM-HH:MM", "--arg category=ID"],
        ),
        ("beacons", &["--arg name=NAME", "--arg phone=TEL"]),
    ] {
        let o = wx(d.path())
            .env("WECHAT_API_BASE", &base)
            .env("WECHAT_APPID", "wx0123456789abcdef")
            .env("WECHAT_APPSECRET", "not-a-real-secret")
            .args(["run", "--dry-run"])
            .arg(format!("scripts/{recipe}.rhai"))
            .output()
            .expect("runs");
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{recipe}: {err}");
        assert!(err.contains("real account") && err.contains("sample data"), "{recipe} says why: {err}");
        for arg in named {
            assert!(err.contains(arg), "{recipe} names {arg}: {err}");
        }
        assert!(!stdout(&o).contains("dry-run:"), "{recipe}: nothing shown as sent");
    }
    // The only question asked was whether the server is a simulator: no token, no API call.
    let paths = seen.lock().expect("log").clone();
    assert!(paths.iter().all(|p| p == "/_sandbox/stats"), "{paths:?}");
    // With every value given, the run goes on to the server (here a dead one: the row fails
    // with a network error; no usage error).
    let sheet = d.path().join("one.csv");
    let sample = std::fs::read_to_string(repo_root().join("scripts/data/shops.csv")).expect("sample sheet");
    std::fs::write(&sheet, sample.lines().take(2).map(|l| format!("{l}\n")).collect::<String>()).expect("sheet");
    let o = wx(d.path())
        .env("WECHAT_API_BASE", "http://127.0.0.1:9")
        .env("WECHAT_APPID", "wx0123456789abcdef")
        .env("WECHAT_APPSECRET", "not-a-real-secret")
        .args(["run", "--quiet", "--timeout", "2", "scripts/import_stores.rhai", "--arg"])
        .arg(format!("sheet={}", sheet.display()))
        .output()
        .expect("runs");
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!stderr(&o).contains("sample data"), "{}", stderr(&o));
    assert!(stdout(&o).contains("\"failed\": 1"), "the row reached the (dead) server: {}", stdout(&o));
}

#[test]
fn dry_runs_of_the_onboarding_recipes_stop_where_the_rest_needs_a_real_answer() {
    let d = scratch();
    for (recipe, expect) in [
        ("onboard_store", "dry run: the rest depends on the audit of the application above"),
        ("add_store_and_card", "dry run: the rest depends on the audit of the application above"),
        ("beacons", "dry run: the rest depends on the review of the registration above"),
    ] {
        let o = wx(d.path())
            .args(["run", "--sandbox", "--dry-run", "--quiet"])
            .arg(format!("scripts/{recipe}.rhai"))
            .output()
            .expect("runs");
        let out = ok(&o);
        assert!(out.contains(expect), "{recipe}: {out}");
        assert!(!stderr(&o).contains("status 0"), "{recipe}: {}", stderr(&o));
    }
}

#[test]
fn scripts_know_the_mode_of_their_run() {
    let d = scratch();
    let script = d.path().join("mode.rhai");
    std::fs::write(&script, "print(`${wx::mode()} ${wx::is_dry_run()}`);\n").expect("script");
    let o = wx(d.path()).args(["run", "--sandbox"]).arg(&script).output().expect("runs");
    assert_eq!(ok(&o).trim(), "sandbox false");
    let o = wx(d.path()).args(["run", "--sandbox", "--dry-run"]).arg(&script).output().expect("runs");
    assert_eq!(ok(&o).trim(), "dry-run true");
    let o = wx(d.path())
        .env("WECHAT_API_BASE", "http://127.0.0.1:9")
        .env("WECHAT_ACCESS_TOKEN", "not-a-real-token")
        .args(["run", "--timeout", "2"])
        .arg(&script)
        .output()
        .expect("runs");
    assert_eq!(ok(&o).trim(), "live false");
}

#[test]
fn samples_are_written_to_the_users_own_cache_directory() {
    let d = scratch();
    let script = d.path().join("sample.rhai");
    std::fs::write(&script, "print(sandbox::sample(\"logo.png\"));\n").expect("script");
    let o = wx(d.path()).args(["run", "--sandbox"]).arg(&script).output().expect("runs");
    let path = std::path::PathBuf::from(ok(&o).trim());
    assert_eq!(path, d.path().join("cache").join("samples").join("logo.png"));
    assert!(path.is_file());
}

#[test]
fn the_readme_go_live_step_passes_every_argument_a_real_account_needs() {
    let d = scratch();
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README");
    let step = readme.split("**Go live**").nth(1).expect("a Go live step");
    let command = step.split("```sh").nth(1).and_then(|b| b.split("```").next()).expect("its commands");
    let line = command.split("wxscript run --dry-run scripts/onboard_store.rhai").nth(1).expect("the dry run");
    // The shell words of the command: `--arg` and its KEY=VALUE, quotes removed.
    let words: Vec<String> = line
        .replace("\\\n", " ")
        .split(" --arg ")
        .skip(1)
        .map(|w| w.trim().replace('\'', ""))
        .flat_map(|kv| ["--arg".to_string(), kv])
        .collect();
    assert!(words.len() >= 20, "{words:?}");
    let o = wx(d.path())
        .env("WECHAT_API_BASE", "http://127.0.0.1:9")
        .env("WECHAT_APPID", "wx0123456789abcdef")
        .env("WECHAT_APPSECRET", "not-a-real-secret")
        .args(["run", "--dry-run", "--timeout", "2", "scripts/onboard_store.rhai"])
        .args(&words)
        .output()
        .expect("runs");
    // Past the arguments, to the (dead) server: an error of the run, not of its arguments.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!stderr(&o).contains("error[usage]"), "{}", stderr(&o));
}
