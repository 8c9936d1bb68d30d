//! The command line: exit codes, `check`, `docs`, error rendering, `--arg`, scripts run by name.

mod common;
use common::*;

use assert_cmd::Command;

fn wx() -> Command {
    let mut c = Command::cargo_bin("wxscript").expect("binary");
    c.current_dir(repo_root()).env("NO_COLOR", "1").env_remove("WECHAT_ACCESS_TOKEN").env_remove("WECHAT_APPID");
    c
}

#[test]
fn missing_script_is_a_usage_error() {
    let o = wx().args(["run", "no/such/script.rhai"]).output().expect("runs");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no/such/script.rhai"));
}

#[test]
fn unknown_option_is_a_usage_error() {
    let o = wx().args(["run", "--frobnicate", "x.rhai"]).output().expect("runs");
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn check_reports_syntax_errors_with_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.rhai");
    let bad = dir.path().join("bad.rhai");
    std::fs::write(&good, "#!/usr/bin/env wxscript\nlet x = 1;\n").expect("write");
    std::fs::write(&bad, "let x = 1;\nlet y = (2 + ;\n").expect("write");
    let o = wx().arg("check").arg(&good).output().expect("runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = wx().arg("check").arg(&good).arg(&bad).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("bad.rhai:2:"), "{err}");
    assert!(err.contains("let y = (2 + ;"), "source line shown: {err}");
    assert!(err.contains('^'), "{err}");
}

#[test]
fn check_compiles_imported_modules_without_running_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).expect("write");
    // A module with side effects at its top level: an API call (no credentials here) and output.
    w(
        "lib.rhai",
        "print(\"imported\");\nstore::list(0, 1);\nimport \"inner\" as inner;\nfn shout(s) { s.to_upper() }\n",
    );
    w("inner.rhai", "fn twice(x) { x * 2 }\n");
    w("main.rhai", "import \"lib\" as lib;\nimport \"stores\" as stores;\nprint(lib::shout(\"x\"));\n");
    let o = wx().arg("check").arg(dir.path().join("main.rhai")).output().expect("runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "nothing of the module ran: {}", stdout(&o));
    // A module's own syntax error and a module's missing import are found, and placed.
    w("inner.rhai", "fn twice(x { x * 2 }\n");
    let o = wx().arg("check").arg(dir.path().join("main.rhai")).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("in module: inner, line 1"), "{}", stderr(&o));
    w("inner.rhai", "import \"nowhere\" as n;\n");
    let o = wx().arg("check").arg(dir.path().join("main.rhai")).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("module not found: nowhere"), "{}", stderr(&o));
    // Modules that import each other: an error naming the cycle, for check and for run alike.
    w("inner.rhai", "import \"lib\" as back;\nfn twice(x) { x * 2 }\n");
    let o = wx().arg("check").arg(dir.path().join("main.rhai")).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("import cycle: lib -> inner -> lib"), "{}", stderr(&o));
    let o = wx().args(["run", "--sandbox"]).arg(dir.path().join("main.rhai")).output().expect("runs");
    assert_eq!(o.status.code(), Some(1), "an error, not a crash: {}", stderr(&o));
    assert!(stderr(&o).contains("import cycle"), "{}", stderr(&o));
}

#[test]
fn check_reports_unknown_functions_and_literal_maps_the_declaration_refuses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("lint.rhai");
    let script = "import \"stores\" as stores;\n\
        let f = |a| a + 1;\n\
        print(f(2));\n\
        fn mine(x) { x }\n\
        mine(1);\n\
        store::ad(#{});\n\
        paralel([1], 1, |x| x);\n\
        stores::import_csvv(\"a\");\n\
        store::add(#{\n\
            map_poi_id: \"1\",\n\
            contact_phone: \"020-1\",\n\
        });\n\
        store::add(#{map_poi_id: f, pic_list: [\"http://a/b.jpg\"], contract_phone: \"1\", credential: \"c\"});\n\
        merchant::apply(#{first_catid: 476, second_catid: 477, headimg_mediaid: \"m\", nickname: \"abc\", intro: \"i\"});\n\
        store::list(0, 5);\n";
    std::fs::write(&file, script).expect("write");
    let o = wx().arg("check").arg(&file).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("function not found: store::ad") && err.contains("did you mean store::add?"), "{err}");
    assert!(err.contains("function not found: paralel") && err.contains("did you mean parallel?"), "{err}");
    assert!(err.contains("did you mean stores::import_csv?"), "{err}");
    assert!(err.contains("lint.rhai:11:") && err.contains("unknown field \"contact_phone\""), "{err}");
    assert!(err.contains("lint.rhai:13:") && err.contains("missing required field \"hour\""), "{err}");
    assert!(err.contains("lint.rhai:14:") && err.contains("field \"nickname\""), "{err}");
    assert_eq!(err.matches("error").count(), 6, "script functions, closures and good calls pass: {err}");
}

#[test]
fn every_repo_script_passes_check() {
    let mut files = Vec::new();
    for dir in ["scripts", "stdlib"] {
        if let Ok(rd) = std::fs::read_dir(repo_root().join(dir)) {
            for e in rd.flatten() {
                if e.path().extension().is_some_and(|x| x == "rhai") {
                    files.push(e.path());
                }
            }
        }
    }
    assert!(!files.is_empty());
    let o = wx().arg("check").args(&files).output().expect("runs");
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn docs_json_lists_every_contract_function() {
    let o = wx().args(["docs", "--format", "json"]).output().expect("runs");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let names: Vec<&str> = v.as_array().expect("array").iter().filter_map(|f| f["name"].as_str()).collect();
    for f in [
        "merchant::categories",
        "merchant::apply",
        "merchant::audit_info",
        "merchant::modify",
        "map::districts",
        "map::search_poi",
        "map::create_poi",
        "store::add",
        "store::update",
        "store::get",
        "store::list",
        "store::all",
        "store::delete",
        "store::get_card",
        "store::set_card",
        "poi::list",
        "poi::delete",
        "media::upload",
        "media::upload_image",
        "event::parse",
        "wx::request",
    ] {
        assert!(names.contains(&f), "{f} missing from docs");
    }
    let add = v.as_array().expect("array").iter().find(|f| f["name"] == "store::add").expect("store::add");
    assert_eq!(add["endpoint"], "POST wxa/add_store");
    let hour = add["fields"].as_array().expect("fields").iter().find(|f| f["name"] == "hour").expect("hour");
    assert_eq!(hour["required"], true);
    assert!(hour["type"].as_str().unwrap_or("").contains("HH:MM"), "{hour}");
    let limit = &v.as_array().expect("array").iter().find(|f| f["name"] == "store::list").expect("list")["fields"][1];
    assert_eq!(limit["limits"], "0..=50");
}

#[test]
fn docs_markdown_has_fields_and_examples() {
    let o = wx().args(["docs"]).output().expect("runs");
    let md = stdout(&o);
    assert!(md.contains("### `store::add`"));
    assert!(md.contains("| `contract_phone` |"));
    assert!(md.contains("```rhai"));
    assert!(md.contains("85038"));
}

#[test]
fn uncaught_api_error_shows_place_source_api_and_hint() {
    let sim = Sim::start();
    let path = sim.write("boom.rhai", "let x = 1;\nstore::get(\"123\");\n");
    let o = sim.cmd().arg("run").arg(&path).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("boom.rhai:2:"), "{err}");
    assert!(err.contains("store::get(\"123\");"), "{err}");
    assert!(err.contains("wxa/get_store_info"), "{err}");
    assert!(err.contains("65115"), "{err}");
    assert!(err.contains("门店不存在"), "hint in Chinese: {err}");
    assert!(err.contains("store does not exist"), "hint in English: {err}");
    assert!(!err.contains("\x1b["), "no colour when NO_COLOR is set");
}

#[test]
fn misspelt_function_and_module_get_suggestions() {
    let sim = Sim::start();
    let o = sim.run("store::ad(#{});");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("did you mean store::add?"), "{}", stderr(&o));
    let o = sim.run("stor::all();");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("store::"), "{}", stderr(&o));
}

#[test]
fn args_reach_the_script() {
    let sim = Sim::start();
    let path = sim.write("args.rhai", "print(ARGS.name + \"|\" + ARGS.empty + \"|\" + ARGS.eq);");
    let o = sim
        .cmd()
        .arg("run")
        .arg(&path)
        .args(["--arg", "name=海珠", "--arg", "empty=", "--arg", "eq=a=b"])
        .output()
        .expect("runs");
    assert_eq!(ok(&o).trim(), "海珠||a=b");
}

#[test]
fn script_error_exits_one() {
    let sim = Sim::start();
    let o = sim.run("let x = 1;\nthrow \"custom failure\";\n");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("custom failure"));
    assert!(stderr(&o).contains(":2:"));
}

#[test]
fn no_credentials_is_an_auth_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("s.rhai");
    std::fs::write(&p, "try { store::list(0, 1); } catch (e) { print(e.kind); }").expect("write");
    let o = wx()
        .env_remove("WECHAT_APPSECRET")
        .env("WECHAT_API_BASE", "http://127.0.0.1:9")
        .arg("run")
        .arg(&p)
        .output()
        .expect("runs");
    assert_eq!(ok(&o).trim(), "auth");
}

#[test]
fn config_file_supplies_credentials_and_env_overrides_it() {
    let sim = Sim::start();
    let cfg = sim.dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!("api_base = \"{}\"\nappid = \"wxsandbox\"\nappsecret = \"sandbox-secret\"\nqps = 50\n", sim.base),
    )
    .expect("write");
    let script = sim.write("c.rhai", "print(store::list(0, 1).total_count);");
    let o = sim
        .cmd()
        .env_remove("WECHAT_API_BASE")
        .env_remove("WECHAT_APPID")
        .env_remove("WECHAT_APPSECRET")
        .env("WXSCRIPT_CONFIG", &cfg)
        .arg("run")
        .arg(&script)
        .output()
        .expect("runs");
    assert_eq!(ok(&o).trim(), "0");
    assert_eq!(sim.token_fetches(), 1);
    // The environment wins over the file: a wrong secret from the environment is refused.
    let o = sim
        .cmd()
        .env_remove("WECHAT_API_BASE")
        .env("WECHAT_APPSECRET", "from-env-and-wrong")
        .env("WXSCRIPT_CACHE_DIR", sim.dir.path().join("fresh"))
        .env("WXSCRIPT_CONFIG", &cfg)
        .arg("run")
        .arg(&script)
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("40125"), "{}", stderr(&o));
    // A malformed file is named, with its line, and its content is not echoed.
    std::fs::write(&cfg, "appid = \"wx1\"\nappsecret = top-secret-value\n").expect("write");
    let o = sim.cmd().env("WXSCRIPT_CONFIG", &cfg).arg("run").arg(&script).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("config.toml:2"), "{err}");
    assert!(!err.contains("top-secret-value"), "{err}");
}

#[test]
fn a_named_config_must_exist_and_secrets_in_it_must_be_owner_only() {
    let sim = Sim::start();
    let script = sim.write("c.rhai", "print(store::list(0, 1).total_count);");
    let missing = sim.dir.path().join("nonexistent.toml");
    let o = sim.cmd().env("WXSCRIPT_CONFIG", &missing).arg("run").arg(&script).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nonexistent.toml") && stderr(&o).contains("does not exist"), "{}", stderr(&o));

    let cfg = sim.dir.path().join("config.toml");
    std::fs::write(&cfg, "appid = \"wxsandbox\"\nappsecret = \"sandbox-secret\"\n").expect("write");
    let run = || sim.cmd().env("WXSCRIPT_CONFIG", &cfg).arg("run").arg(&script).output().expect("runs");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let o = run();
        assert_eq!(ok(&o).trim(), "0");
        let err = stderr(&o);
        assert!(err.contains("warning") && err.contains("appsecret") && err.contains("chmod 600"), "{err}");
        assert!(!err.contains("sandbox-secret"), "{err}");
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let o = run();
        assert_eq!(ok(&o).trim(), "0");
        assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
    }

    // A value of the wrong type (a numeric secret) is named by its key, never shown.
    std::fs::write(&cfg, "appid = \"wx1\"\n[listen]\ntoken = 987654321\n").expect("write");
    let o = run();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("config.toml:3") && err.contains("listen.token"), "{err}");
    assert!(!err.contains("987654321"), "{err}");
    std::fs::write(&cfg, "appsecret = 31415926535\n").expect("write");
    let o = run();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("`appsecret`") && !err.contains("31415926535"), "{err}");
}

#[test]
fn qps_zero_is_unlimited_and_a_rate_out_of_range_is_a_usage_error() {
    let sim = Sim::start();
    let script =
        sim.write("q.rhai", "let t = timestamp();\nfor i in 0..6 { store::list(0, 1); }\nprint(t.elapsed < 1.0);");
    // 0 overrides a slow rate from the environment.
    let o = sim.cmd().env("WXSCRIPT_QPS", "2").args(["run", "--qps", "0"]).arg(&script).output().expect("runs");
    assert_eq!(ok(&o).trim(), "true");
    for bad in ["1e-300", "1e300", "NaN", "inf", "-5", "fast"] {
        let o = sim.cmd().arg("run").arg(format!("--qps={bad}")).arg(&script).output().expect("runs");
        assert_eq!(o.status.code(), Some(2), "--qps {bad}: {}", stderr(&o));
        assert!(stderr(&o).contains("--qps"), "{}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
    let o = sim.cmd().env("WXSCRIPT_QPS", "1e-300").arg("run").arg(&script).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("WXSCRIPT_QPS") && !stderr(&o).contains("panicked"), "{}", stderr(&o));
    let help = stdout(&sim.cmd().args(["run", "--help"]).output().expect("runs"));
    assert!(help.contains("0 means") && help.contains("unlimited"), "{help}");
}

#[test]
fn new_writes_a_recipe_that_runs_as_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = wx().current_dir(dir.path()).args(["new", "nightly_report"]).output().expect("runs");
    assert!(o.status.success(), "{}", stderr(&o));
    let path = dir.path().join("nightly_report.rhai");
    let text = std::fs::read_to_string(&path).expect("written");
    assert!(text.starts_with("// nightly_report:"));
    assert!(text.contains("--dry-run") && text.contains("USAGE") && text.contains("catch (e)"));
    // It runs as written, on the sandbox, and its usage check works.
    let o = wx().args(["run", "--sandbox"]).arg(&path).args(["--arg", "limit=3"]).output().expect("runs");
    assert!(ok(&o).contains("0 store(s)"));
    // A wrong --arg is a usage error, exit 2 like a bad flag.
    let o = wx().args(["run", "--sandbox"]).arg(&path).args(["--arg", "limt=3"]).output().expect("runs");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("usage: wxscript run nightly_report.rhai"), "{}", stderr(&o));
    let o = wx().args(["run", "--sandbox"]).arg(&path).args(["--arg", "limit=many"]).output().expect("runs");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("limit must be a number"), "{}", stderr(&o));
    // It never overwrites.
    let o = wx().current_dir(dir.path()).args(["new", "nightly_report.rhai"]).output().expect("runs");
    assert_eq!(o.status.code(), Some(2));
    let o = wx().arg("check").arg(&path).output().expect("runs");
    assert!(o.status.success());
}

#[test]
fn completions_and_man_page_generate() {
    for (shell, marker) in [("bash", "_wxscript()"), ("zsh", "#compdef wxscript"), ("fish", "complete -c wxscript")] {
        let o = wx().args(["completions", shell]).output().expect("runs");
        assert!(o.status.success());
        let out = stdout(&o);
        assert!(out.contains(marker), "{shell}: {out}");
        assert!(out.contains("sandbox"), "{shell} completes subcommands");
    }
    let o = wx().arg("man").output().expect("runs");
    assert!(stdout(&o).contains(".TH wxscript 1"));
    assert!(stdout(&o).contains("WECHAT_API_BASE") && stdout(&o).contains("130"), "environment and exit codes");
    // A page per command, with its options.
    let o = wx().args(["man", "run"]).output().expect("runs");
    assert!(stdout(&o).contains(".TH wxscript-run 1") && stdout(&o).contains("dry\\-run"), "{}", stdout(&o));
    let o = wx().args(["man", "sandbox", "serve"]).output().expect("runs");
    assert!(stdout(&o).contains("audit\\-delay"));
    let o = wx().args(["man", "nosuch"]).output().expect("runs");
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    use std::io::Read;
    for args in [&["docs"][..], &["docs", "--format", "json"], &["man"]] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("wxscript"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        // Read a little, then close the pipe, as `| head -1` does.
        let mut first = [0u8; 16];
        child.stdout.take().expect("stdout").read_exact(&mut first).expect("some output");
        let out = child.wait_with_output().expect("wait");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{args:?}: {}", stderr(&out));
    }
}

#[cfg(unix)]
#[test]
fn a_script_with_a_shebang_runs_as_a_command() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("hello.rhai");
    std::fs::write(
        &script,
        "#!/usr/bin/env wxscript\nprint(`hello ${ARGS.name}`);\nprint(store::list(0, 1).total_count);\n",
    )
    .expect("write");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let bin = assert_cmd::cargo::cargo_bin("wxscript");
    let bin_dir = bin.parent().expect("the binary's directory");
    let path = std::env::join_paths(
        std::iter::once(bin_dir.to_path_buf())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("PATH");
    // Executed as a program: the kernel hands it to `wxscript FILE ARGS...`.
    let o = Command::new(&script)
        .current_dir(dir.path())
        .env("PATH", &path)
        .env("WXSCRIPT_CONFIG", "/dev/null")
        .env("WXSCRIPT_CACHE_DIR", dir.path().join("cache"))
        .args(["--sandbox", "--quiet", "--arg", "name=世界"])
        .output()
        .expect("runs");
    assert_eq!(stdout(&o), "hello 世界\n0\n", "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(0));
    // `wxscript FILE` is `wxscript run FILE`, usage errors included.
    let o = wx().arg(&script).arg("--frobnicate").output().expect("runs");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // A first word that is neither a command nor a file is a mistyped command.
    let o = wx().arg("rnu").output().expect("runs");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no command or script file `rnu`, did you mean `run`?"), "{}", stderr(&o));
}

#[test]
fn docs_of_one_function_module_or_event() {
    let o = wx().args(["docs", "store::add"]).output().expect("runs");
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0));
    assert!(text.starts_with("### `store::add`\n") && text.contains("| `contract_phone` |"), "{text}");
    assert!(!text.contains("store::update") && !text.contains("# wxscript function reference"), "{text}");
    let o = wx().args(["docs", "store::add", "--format", "json"]).output().expect("runs");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["name"], "store::add");
    assert_eq!(v["endpoint"], "POST wxa/add_store");
    // A pushed event, its numbers explained.
    let o = wx().args(["docs", "create_map_poi_audit_info"]).output().expect("runs");
    assert!(stdout(&o).contains("| `status` | int | 0 approved, 1 failed |"), "{}", stdout(&o));
    let o = wx().args(["docs", "add_store_audit_info", "--format", "json"]).output().expect("runs");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let status = v["fields"].as_array().and_then(|f| f.iter().find(|f| f["name"] == "status")).cloned();
    assert_eq!(status.map(|s| s["doc"].clone()), Some("1 approved, 3 failed".into()));
    // An unknown name is a usage error naming the nearest one.
    let o = wx().args(["docs", "store::ad"]).output().expect("runs");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean `store::add`?"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
}

#[test]
fn the_reference_documents_the_pushed_events() {
    let md = stdout(&wx().arg("docs").output().expect("runs"));
    assert!(md.contains("## Pushed events"), "{md}");
    let map_audit = md.split("### `create_map_poi_audit_info`").nth(1).unwrap_or_default();
    assert!(map_audit.contains("| `status` | int | 0 approved, 1 failed |"), "{map_audit}");
    let store_audit = md.split("### `add_store_audit_info`").nth(1).unwrap_or_default();
    assert!(store_audit.contains("| `poiid` | int |"), "{store_audit}");
    let o = wx().args(["docs", "--format", "json"]).output().expect("runs");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let wait = v.as_array().and_then(|a| a.iter().find(|f| f["name"] == "event::wait")).cloned().unwrap_or_default();
    let pushes = wait["events"]["pushes"].as_array().cloned().unwrap_or_default();
    let map = pushes.iter().find(|p| p["event"] == "create_map_poi_audit_info").cloned().unwrap_or_default();
    assert!(map["doc"].as_str().is_some_and(|d| d.contains("0 approved, 1 failed")), "{map}");
}
