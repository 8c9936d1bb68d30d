//! Errors point at the fault: the key or value of a literal map, the original call of a
//! rethrown error, one error shape everywhere, and a `parallel` whose every item fails for the
//! script's own mistake.

mod common;
use common::*;

/// The `-->` line and the caret line of a rendered error.
fn place(err: &str) -> (String, String) {
    let lines: Vec<&str> = err.lines().collect();
    let at = lines.iter().position(|l| l.trim_start().starts_with("-->")).expect("a --> line");
    let file_line = lines[at].trim_start().trim_start_matches("-->").trim().to_string();
    (file_line, lines.get(at + 2).map(|l| l.to_string()).unwrap_or_default())
}

#[test]
fn a_misspelt_key_in_a_literal_map_is_shown_on_its_own_line() {
    let sim = Sim::start();
    let o = sim.run_file(
        "typo.rhai",
        "let r = store::add(#{\n    map_poi_id: \"1\",\n    pic_list: [\"http://a/b.jpg\"],\n    contact_phone: \"020-1\",\n    hour: \"08:00-22:00\", credential: \"c\",\n});\n",
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    let (at, line) = place(&err);
    assert!(at.ends_with("typo.rhai:4:5"), "{err}");
    assert!(line.contains("contact_phone: \"020-1\""), "{err}");
}

#[test]
fn a_bad_value_is_pointed_at_and_a_map_from_a_variable_points_at_the_call() {
    let sim = Sim::start();
    let err = stderr(&sim.run_file(
        "value.rhai",
        "let r = store::add(#{\n    map_poi_id: \"1\", pic_list: [\"http://a/b.jpg\"],\n    contract_phone: \"1\", hour: \"8:00-22:00\", credential: \"c\",\n});\n",
        &[],
    ));
    assert!(place(&err).0.ends_with("value.rhai:3:32"), "{err}");

    let err = stderr(&sim.run_file("list.rhai", "let x = 1;\nstore::list(0, 51);\n", &[]));
    assert!(place(&err).0.ends_with("list.rhai:2:16"), "the positional value: {err}");

    let err = stderr(&sim.run_file(
        "var.rhai",
        "let req = #{map_poi_id: \"1\", pic_list: [\"http://a/b.jpg\"], contact_phone: \"1\", hour: \"08:00-22:00\", credential: \"c\"};\nstore::add(req);\n",
        &[],
    ));
    assert!(place(&err).0.ends_with("var.rhai:2:8"), "the call: {err}");
}

#[test]
fn a_nested_key_is_pointed_at() {
    let sim = Sim::start();
    let err = stderr(&sim.run_file(
        "nested.rhai",
        "shake::update_device(#{\n  device_identifier: #{device_id: 1, uuid_x: \"u\"},\n  comment: \"c\"\n});\n",
        &[],
    ));
    let (at, line) = place(&err);
    assert!(line.contains("uuid_x"), "{err}");
    assert!(at.ends_with("nested.rhai:2:38"), "{err}");
}

#[test]
fn a_rethrown_error_keeps_the_place_of_its_call() {
    let sim = Sim::start();
    let o = sim.run_file(
        "rethrow.rhai",
        "try {\n    store::get(\"123\");\n} catch (e) {\n    print(`${e.line}:${e.position}`);\n    throw e;\n}\n",
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o).trim(), "2:12");
    let err = stderr(&o);
    let (at, line) = place(&err);
    assert!(at.ends_with("rethrow.rhai:2:12"), "{err}");
    assert!(line.contains("store::get(\"123\")"), "{err}");
    assert!(err.contains("rethrown at: ") && err.contains("rethrow.rhai:5:5"), "{err}");
}

#[test]
fn errors_inside_parallel_have_the_common_shape() {
    let sim = Sim::start();
    let out = ok(&sim.run(
        r#"
        let r = parallel([1, 2], 2, |x| if x == 1 { throw "boom" } else { let y = x + "a"; y.foo() });
        for o in r { print(`${o.error.kind}|${o.error.api}|${o.error.errcode}|${o.error.errmsg}|${o.error.line > 0}`); }
        "#,
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("script|||boom|true"), "{out}");
    assert!(lines[1].starts_with("script|||") && lines[1].ends_with("|true"), "{out}");
}

#[test]
fn parallel_whose_every_item_fails_for_the_same_script_error_fails_the_run() {
    let sim = Sim::start();
    let o = sim.run("let r = parallel([1, 2, 3], 2, |x| store::ad(#{}));\nprint(\"done\");\n");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!stdout(&o).contains("done"));
    let err = stderr(&o);
    assert!(err.contains("all 3 items failed with the same script error"), "{err}");
    assert!(err.contains("did you mean store::add?"), "{err}");
    // Items failing for their data (here, an API error) are results, not a failed run.
    let out =
        ok(&sim.run("let r = parallel([\"1\", \"2\"], 2, |x| store::get(x));\nprint(r.filter(|o| !o.ok).len());"));
    assert_eq!(out.trim(), "2");
}

#[test]
fn a_script_error_caught_with_try_has_the_common_shape() {
    let sim = Sim::start();
    let out = ok(&sim.run(
        "try { store::ad(#{}); } catch (err) { print(`${err.kind}|${err.api}|${err.errcode}|${err.function}|${err.line}`); }\n\
         fn f(a) { a.no_such_method() }\n\
         try {\n  f(1);\n} catch (e) { print(`${e.kind}|${e.errmsg}`); }\n\
         try { store::list(0, 99); } catch (e) { print(`${e.kind}|${e.field}|${e.line}:${e.position}`); }\n",
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0], "script|||store::ad (map)|1");
    assert!(lines[1].starts_with("script|") && lines[1].contains("no_such_method"), "{out}");
    assert_eq!(lines[2], "input|limit|6:14");
}

#[test]
fn scripts_saved_by_windows_tools_run_or_say_how_to_fix_them() {
    let sim = Sim::start();
    let bom = sim.dir.path().join("bom.rhai");
    std::fs::write(&bom, b"\xEF\xBB\xBFprint(\"ok\");\nstore::get(\"1\");\n").expect("write");
    let o = sim.cmd().arg("run").arg(&bom).output().expect("runs");
    assert_eq!(stdout(&o).trim(), "ok", "{}", stderr(&o));
    assert!(stderr(&o).contains("bom.rhai:2:"), "lines are kept: {}", stderr(&o));
    let o = sim.cmd().arg("check").arg(&bom).output().expect("runs");
    assert!(o.status.success(), "{}", stderr(&o));
    // 门店 in GBK.
    let gbk = sim.dir.path().join("gbk.rhai");
    std::fs::write(&gbk, b"let x = 1;\nprint(\"\xC3\xC5\xB5\xEA\");\n").expect("write");
    let o = sim.cmd().arg("run").arg(&gbk).output().expect("runs");
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("save it as UTF-8") && err.contains("line 2"), "{err}");
    assert!(!err.contains("stream did not contain valid UTF-8"), "{err}");
}

#[test]
fn ctrl_c_on_a_create_says_its_outcome_is_unknown() {
    // The token is cached first; then every answer takes 4 s, and the signal comes once the
    // create has reached the simulator: in flight, not still fetching a token.
    let sim = Sim::start();
    ok(&sim.run("store::list(0, 1);"));
    sim.fault(serde_json::json!({"latency_ms": 4000}));
    let in_flight = |path: &str| {
        let t = std::time::Instant::now();
        while sim.count(path) < 1 {
            assert!(t.elapsed() < std::time::Duration::from_secs(10), "{path} never arrived");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    };
    let path = sim.write(
        "create.rhai",
        "print(\"started\");\nmerchant::apply(#{first_catid: 1, second_catid: 2, headimg_mediaid: \"m\", nickname: \"abcd\", intro: \"i\"});\n",
    );
    let child = sim
        .std_cmd()
        .arg("run")
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    in_flight("wxa/apply_merchant");
    let killed = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let o = child.wait_with_output().expect("ends");
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("interrupted during wxa/apply_merchant"), "{err}");
    assert!(err.contains("whether it took effect is unknown") && err.contains("merchant::audit_info()"), "{err}");
    // A read interrupted says only that.
    let path = sim.write("read.rhai", "print(\"started\");\nmerchant::audit_info();\n");
    let child = sim
        .std_cmd()
        .arg("run")
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    in_flight("wxa/get_merchant_audit_info");
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    let o = child.wait_with_output().expect("ends");
    assert_eq!(o.status.code(), Some(130));
    assert_eq!(stderr(&o).trim(), "interrupted");
    // A create interrupted while its token is still being fetched was never sent: only that.
    let slow = Sim::with(wxscript::sandbox::Config { latency_ms: 4000, ..Default::default() });
    let path = slow.write(
        "create.rhai",
        "merchant::apply(#{first_catid: 1, second_catid: 2, headimg_mediaid: \"m\", nickname: \"abcd\", intro: \"i\"});\n",
    );
    let child = slow
        .std_cmd()
        .arg("run")
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let t = std::time::Instant::now();
    while slow.token_fetches() < 1 {
        assert!(t.elapsed() < std::time::Duration::from_secs(10), "no token request arrived");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    let o = child.wait_with_output().expect("ends");
    assert_eq!(o.status.code(), Some(130));
    assert_eq!(stderr(&o).trim(), "interrupted", "nothing was sent, so nothing may have taken effect");
    assert_eq!(slow.count("wxa/apply_merchant"), 0);
}

#[test]
fn a_local_file_with_a_bundled_modules_name_is_never_silently_passed_over() {
    let sim = Sim::start();
    sim.write("stores.rhai", "fn mine() { \"local\" }\n");
    let ambiguous = sim.write("a.rhai", "import \"stores\" as s;\nprint(\"ran\");\n");
    for cmd in ["run", "check"] {
        let o = sim.cmd().arg(cmd).arg(&ambiguous).output().expect("runs");
        assert_eq!(o.status.code(), Some(1), "{cmd}");
        let err = stderr(&o);
        assert!(err.contains("ambiguous") && err.contains("bundled module stores"), "{cmd}: {err}");
        assert!(err.contains("stores.rhai") && err.contains("import \"./stores\""), "{cmd}: {err}");
        assert!(!stdout(&o).contains("ran"));
    }
    let o = sim.run_file("b.rhai", "import \"./stores\" as s;\nprint(s::mine());\n", &[]);
    assert_eq!(ok(&o).trim(), "local");
}

#[test]
fn an_error_from_a_module_rethrown_by_the_script_is_not_placed_in_the_script() {
    let sim = Sim::start();
    sim.write("lib.rhai", "fn boom() {\n  let r = parallel([1], 1, |x| x.nosuch());\n  r\n}\n");
    let o =
        sim.run_file("main.rhai", "import \"lib\" as lib;\ntry {\n  lib::boom();\n} catch (e) {\n  throw e;\n}\n", &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("its only item failed with a script error"), "{err}");
    assert!(place(&err).0.ends_with("main.rhai:5:3"), "{err}");
}
