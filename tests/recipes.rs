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
        ("agency_onboard", &["--arg", "journal=agency.journal", "--arg", "out=agency.csv"][..], "\"added\": 20"),
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
    // `wxscript help FILE` says the same; `help COMMAND` is still the command's.
    let o = wx(d.path()).args(["help", "scripts/import_stores.rhai"]).output().expect("runs");
    assert_eq!(ok(&o), help);
    let o = wx(d.path()).args(["help", "run"]).output().expect("runs");
    assert!(ok(&o).contains("--arg <KEY=VALUE>"), "{}", stdout(&o));
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
        ("agency_onboard", &["--arg sheet=PATH"]),
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

/// The first `n` shops of the sample sheet, each given the account of `accounts` in turn.
fn agency_sheet(accounts: &[&str]) -> String {
    let sample = std::fs::read_to_string(repo_root().join("scripts/data/shops.csv")).expect("sample sheet");
    let mut lines = sample.lines();
    let mut text = format!("account,{}\n", lines.next().expect("header"));
    for (account, shop) in accounts.iter().zip(lines) {
        text.push_str(&format!("{account},{shop}\n"));
    }
    text
}

#[test]
fn agency_onboard_adds_each_accounts_shops_to_that_account() {
    let d = scratch();
    let p = d.path();
    let out = run_recipe(p, "agency_onboard", &["--arg", "journal=agency.journal", "--arg", "out=agency.csv"]);
    assert!(out.contains("\"added\": 20"), "{out}");
    // Read back in the same run (the simulator dies with it), each account as itself.
    for account in ["default", "wxsandbox2", "wxsandboxauth1", "wxsandboxauth2", "wxsandboxauth3"] {
        assert!(out.contains(&format!("  {account}: #{{\"added\": 4}}, 4 store(s) on the account")), "{out}");
    }
    let result = std::fs::read_to_string(p.join("agency.csv")).expect("result CSV");
    let mut lines = result.lines();
    assert_eq!(lines.next(), Some("row,account,appid,name,status,audit_id,map_poi_id,error"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 20, "{result}");
    assert!(rows.iter().all(|l| l.split(',').nth(4) == Some("added")), "{result}");
    // A row naming the account by its appid is reported under the account's name.
    assert_eq!(rows.iter().filter(|l| l.contains(",default,wxsandbox,")).count(), 4, "{result}");
    assert_eq!(rows.iter().filter(|l| l.contains(",wxsandboxauth2,wxsandboxauth2,")).count(), 4, "{result}");

    // Through the module, twice over one journal in one simulator: the second pass adds nothing,
    // and each account holds exactly the shops its rows name.
    let script = p.join("verify.rhai");
    std::fs::write(
        &script,
        r#"
        import "stores" as stores;
        import "rehearsal" as rehearsal;
        let sheet = sandbox::sample("agency_shops.csv");
        let opts = #{journal: "again.journal", out: "again.csv", application: rehearsal::application()};
        let first = stores::import_for_accounts(sheet, opts);
        let second = stores::import_for_accounts(sheet, opts);
        print(`first ${first.added}, second ${second.added ?? 0} added, ${second["done earlier"]} done earlier`);
        let want = #{};
        for row in csv::read(sheet) {
            let name = account::with(row.account, || account::current().name);
            want[name] = (want[name] ?? []) + [row.name];
        }
        for name in want.keys() {
            let have = account::with(name, || store::all().map(|s| s.business_name));
            have.sort();
            let w = want[name];
            w.sort();
            print(`${name}: ${have == w}`);
        }
        "#,
    )
    .expect("script");
    let out = ok(&wx(p).current_dir(p).args(["run", "--sandbox", "--quiet"]).arg(&script).output().expect("runs"));
    assert!(out.contains("first 20, second 0 added, 20 done earlier"), "{out}");
    assert_eq!(out.matches(": true").count(), 5, "{out}");
    assert!(!out.contains(": false"), "{out}");

    // A dry run shows the merchant applications and writes neither the result nor the journal.
    let o = wx(p)
        .current_dir(p)
        .args(["run", "--sandbox", "--dry-run", "--quiet", "scripts/agency_onboard.rhai"])
        .args(["--arg", "journal=dry.journal", "--arg", "out=dry.csv"])
        .output()
        .expect("runs");
    let out = ok(&o);
    assert_eq!(out.matches("dry-run: POST wxa/apply_merchant").count(), 5, "{out}");
    assert!(out.contains("\"merchant_applied\": 20") && out.contains("dry run: nothing was added"), "{out}");
    assert!(!p.join("dry.csv").exists() && !p.join("dry.journal").exists());
}

#[test]
fn agency_onboard_resumes_from_its_journal_and_reports_unknown_accounts() {
    use wxscript::sandbox::{Config, own_appid, own_secret};
    let sim = Sim::with(Config { own_accounts: 3, ..Config::default() });
    let mut cfg = String::new();
    for i in 2..=3 {
        cfg.push_str(&format!(
            "[accounts.shop-{i}]\nappid = \"{}\"\nappsecret = \"{}\"\n",
            own_appid(i),
            own_secret(i)
        ));
    }
    let cfg = sim.write("accounts.toml", &cfg);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    // shop-2 named once by name and once by appid; shop-3's application fails its audit; shop_2
    // is no account.
    let sheet = sim.write("agency.csv", &agency_sheet(&["default", "shop-2", "wxsandbox2", "shop-3", "shop_2"]));
    let merchants = sim.write(
        "merchants.csv",
        "account,nickname,intro,category,avatar\n\
         default,一号连锁门店,社区便利店,279,scripts/data/logo.png\n\
         wxsandbox2,二号连锁门店,社区便利店,279,scripts/data/logo.png\n\
         shop-3,REJECT连锁门店,社区便利店,279,scripts/data/logo.png\n",
    );
    let journal = sim.dir.path().join("agency.journal");
    let result = sim.dir.path().join("agency.result.csv");
    let run = |account: &str| {
        let o = sim
            .cmd()
            .env("WXSCRIPT_CONFIG", &cfg)
            .args(["run", "--quiet", "--account", account, "scripts/agency_onboard.rhai", "--arg"])
            .arg(format!("sheet={}", sheet.display()))
            .arg("--arg")
            .arg(format!("merchants={}", merchants.display()))
            .arg("--arg")
            .arg(format!("journal={}", journal.display()))
            .arg("--arg")
            .arg(format!("out={}", result.display()))
            .output()
            .expect("runs");
        (ok(&o), std::fs::read_to_string(&result).expect("result CSV"))
    };
    let stores = |appid: &str| {
        let url = format!("{}/_sandbox/accounts", sim.base);
        let v: serde_json::Value =
            sim.rt.block_on(async { reqwest::get(&url).await.expect("accounts").json().await.expect("JSON") });
        let list = v.get("accounts").cloned().unwrap_or(v);
        let all = list.as_array().cloned().unwrap_or_default();
        all.iter().find(|a| a["appid"] == appid).map(|a| a["stores"].as_i64().unwrap_or(-1)).unwrap_or(-1)
    };

    let (out, csv) = run("default");
    assert!(out.contains("\"added\": 3"), "{out}");
    assert!(out.contains("\"unknown_account\": 1") && out.contains("\"no_merchant\": 1"), "{out}");
    assert!(out.contains("  shop-2: #{\"added\": 2}, 2 store(s) on the account"), "{out}");
    let line = |n: usize| csv.lines().nth(n).unwrap_or_default().to_string();
    assert!(line(3).starts_with("4,shop-2,wxsandbox2,"), "an appid is reported as its account: {csv}");
    assert!(line(4).contains(",shop-3,wxsandbox3,") && line(4).contains("failed: status 3"), "{csv}");
    assert!(line(5).starts_with("6,shop_2,,") && line(5).contains("unknown_account"), "{csv}");
    assert!(line(5).contains(r#"did you mean ""shop-2""?"#), "{csv}");
    assert_eq!((stores("wxsandbox"), stores("wxsandbox2"), stores("wxsandbox3")), (1, 2, 0));
    let (adds, applies) = (sim.count("wxa/add_store"), sim.count("wxa/apply_merchant"));
    assert_eq!(applies, 3);

    // Again over the same journal, started as another account: nothing is added or applied
    // for twice.
    let (out, csv) = run("shop-3");
    assert!(out.contains("\"done earlier\": 3") && !out.contains("\"added\""), "{out}");
    let shop3 = csv.lines().nth(4).unwrap_or_default();
    assert!(shop3.contains("failed: status 3") && shop3.contains("correct its row"), "{csv}");
    assert_eq!((stores("wxsandbox"), stores("wxsandbox2"), stores("wxsandbox3")), (1, 2, 0));
    assert_eq!((sim.count("wxa/add_store"), sim.count("wxa/apply_merchant")), (adds, applies));
}
