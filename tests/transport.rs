//! Tokens, retries and secrecy, observed from the simulator's side.

mod common;
use common::*;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use wxscript::api::Method;
use wxscript::api::check::{Payload, Request};
use wxscript::transport::{Cancel, Client, Config, Credentials, TokenMode};

#[test]
fn token_expiry_mid_script_refreshes_exactly_once() {
    let sim = Sim::start();
    let out = ok(&sim.run(
        r#"
        store::list(0, 1);
        sandbox::expire_tokens();
        let page = store::list(0, 1);
        print(`done ${page.total_count}`);
        "#,
    ));
    assert!(out.contains("done 0"), "{out}");
    assert_eq!(sim.token_fetches(), 2, "{}", sim.stats());
    assert_eq!(sim.count("wxa/get_store_list"), 3, "first call, refused call, retried call");
}

#[test]
fn cached_token_is_reused_across_runs_and_owner_only() {
    let sim = Sim::start();
    ok(&sim.run("store::list(0, 1);"));
    ok(&sim.run("store::list(0, 1);"));
    assert_eq!(sim.token_fetches(), 1, "the second run reuses the cached token");
    let dir = sim.cache_dir().join("tokens");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .expect("token dir")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(files[0].path()).expect("cache");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert!(v["access_token"].as_str().is_some_and(|t| t.len() > 20));
    assert!(v["expires_at"].as_u64().is_some());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(files[0].path()).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn corrupt_cache_is_ignored_and_rewritten() {
    let sim = Sim::start();
    ok(&sim.run("store::list(0, 1);"));
    let dir = sim.cache_dir().join("tokens");
    for e in std::fs::read_dir(&dir).expect("dir").flatten() {
        if e.path().extension().is_some_and(|x| x == "json") {
            std::fs::write(e.path(), "{not json").expect("corrupt");
        }
    }
    ok(&sim.run("store::list(0, 1);"));
    assert_eq!(sim.token_fetches(), 2);
    ok(&sim.run("store::list(0, 1);"));
    assert_eq!(sim.token_fetches(), 2, "rewritten cache is used again");
}

#[test]
fn two_processes_sharing_the_cache_fetch_once() {
    let sim = Sim::start();
    // Slow answers make both processes want a token at the same time.
    sim.fault(json!({"latency_ms": 300}));
    let path = sim.write("p.rhai", "store::list(0, 1); store::list(0, 1); print(\"ok\");");
    let spawn = || {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("wxscript"));
        c.current_dir(repo_root())
            .env("WECHAT_API_BASE", &sim.base)
            .env("WECHAT_APPID", "wxsandbox")
            .env("WECHAT_APPSECRET", "sandbox-secret")
            .env("WXSCRIPT_CACHE_DIR", sim.cache_dir())
            .arg("run")
            .arg(&path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c.spawn().expect("spawn")
    };
    let a = spawn();
    let b = spawn();
    let (oa, ob) = (a.wait_with_output().expect("a"), b.wait_with_output().expect("b"));
    assert!(oa.status.success() && ob.status.success(), "{} {}", stderr(&oa), stderr(&ob));
    assert_eq!(sim.token_fetches(), 1, "{}", sim.stats());
    assert_eq!(sim.count("wxa/get_store_list"), 4, "no call was refused for a stale token");
}

#[test]
fn sixteen_concurrent_calls_on_an_expired_token_cause_one_fetch() {
    let sim = Sim::start();
    let cancel = Arc::new(Cancel::default());
    let cfg = Config {
        base: sim.base.clone(),
        credentials: Credentials::AppSecret {
            appid: "wxsandbox".into(),
            secret: "sandbox-secret".into(),
            mode: TokenMode::Classic,
        },
        accounts: Vec::new(),
        timeout: Duration::from_secs(10),
        cache_dir: Some(sim.cache_dir()),
        qps: None,
        platform: None,
    };
    let client = Arc::new(Client::new(cfg, cancel).expect("client"));
    let list = Request {
        api: "wxa/get_store_list".into(),
        method: Method::Post,
        query: vec![],
        payload: Payload::Json(json!({"offset": 0, "limit": 1})),
        policy: wxscript::api::Policy::Read,
        own_codes: &[],
        answer: wxscript::api::Unwrap::Fields,
        token: wxscript::api::TokenKind::Access,
    };
    sim.rt.block_on(client.send(0, &list)).expect("first call");
    assert_eq!(sim.token_fetches(), 1);
    sim.expire_tokens();
    sim.fault(json!({"latency_ms": 50}));
    let results = sim.rt.block_on(async {
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let c = client.clone();
                let r = list.clone();
                tokio::spawn(async move { c.send(0, &r).await })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("join"));
        }
        out
    });
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(sim.token_fetches(), 2, "one refresh shared by 16 callers: {}", sim.stats());
    assert!(sim.stats()["max_in_flight"].as_i64().unwrap_or(0) >= 8, "calls really overlapped: {}", sim.stats());
}

#[test]
fn system_busy_is_retried_three_times_then_reported() {
    let sim = Sim::start();
    let out = ok(&sim.run(
        r#"
        store::list(0, 1);
        sandbox::set_fault(#{fail_rate: 1.0, fail_code: -1});
        try { store::list(0, 1); print("no error"); }
        catch (e) { print(`${e.kind} ${e.errcode} ${e.errmsg}`); }
        "#,
    ));
    assert!(out.contains("api -1"), "{out}");
    assert!(out.contains("after 3 retries"), "{out}");
    assert_eq!(sim.count("wxa/get_store_list"), 1 + 4);
}

#[test]
fn a_create_with_unknown_outcome_is_not_resent() {
    let sim = Sim::start();
    let path = sim.write(
        "c.rhai",
        &format!(
            "{}\nsandbox::set_fault(#{{latency_ms: 1400}});\ntry {{ store::add(#{{map_poi_id: poi.sosomap_poi_uid, pic_list: [pic], contract_phone: \"1\", hour: \"10:00-21:00\", credential: \"c1\"}}); print(\"no error\"); }}\ncatch (e) {{ print(`${{e.kind}}|${{e.errmsg}}`); }}\n",
            Sim::merchant_prelude()
        ),
    );
    let o = sim.cmd().arg("run").arg(&path).args(["--timeout", "1"]).output().expect("runs");
    let out = ok(&o);
    assert!(out.starts_with("network|"), "{out}");
    assert!(out.contains("unknown") && out.contains("store::all()"), "{out}");
    assert_eq!(sim.count("wxa/add_store"), 1, "sent once, never re-sent");
    // As with WeChat, the request was carried out though its answer never arrived: the read
    // the message points to finds the store.
    sim.fault(serde_json::json!({"latency_ms": 0}));
    assert_eq!(ok(&sim.run("print(store::all().len());")).trim(), "1");
}

#[test]
fn a_fixed_token_that_is_refused_is_an_auth_error() {
    let sim = Sim::start();
    let path =
        sim.write("f.rhai", "try { store::list(0, 1); } catch (e) { print(`${e.kind} ${e.errcode} ${e.errmsg}`); }");
    let o =
        sim.cmd().env("WECHAT_ACCESS_TOKEN", "fixed-token-that-is-wrong").arg("run").arg(&path).output().expect("runs");
    let out = ok(&o);
    assert!(out.starts_with("auth 40001"), "{out}");
    assert_eq!(sim.token_fetches(), 0, "a fixed token is never replaced");
    assert!(!out.contains("fixed-token-that-is-wrong") && !stderr(&o).contains("fixed-token-that-is-wrong"));
}

#[test]
fn secrets_and_tokens_never_appear_in_output() {
    let sim = Sim::start();
    let script = r#"
        store::list(0, 1);
        try { store::get("1"); } catch (e) { print(e); }
        try { wx::request("GET", "wxa/no_such_api"); } catch (e) { print(e); }
        try { wx::request("GET", "cgi-bin/token?grant_type=client_credential"); } catch (e) { print(e); }
        print(sandbox::stats());
        sandbox::set_fault(#{latency_ms: 0, fail_rate: 1.0, fail_code: 40164});
        store::list(0, 1);
    "#;
    let o = sim.run(script);
    let all = format!("{}{}", stdout(&o), stderr(&o));
    let dir = sim.cache_dir().join("tokens");
    let mut tokens = Vec::new();
    for e in std::fs::read_dir(&dir).expect("dir").flatten() {
        if let Ok(t) = std::fs::read_to_string(e.path())
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&t)
        {
            tokens.extend(v["access_token"].as_str().map(str::to_string));
        }
    }
    assert!(!tokens.is_empty());
    for t in tokens {
        assert!(!all.contains(&t), "token leaked:\n{all}");
    }
    assert!(!all.contains("sandbox-secret"), "secret leaked:\n{all}");
    // A wrong secret: the error is clear and still free of it.
    let path = sim.write("w.rhai", "store::list(0, 1);");
    let fresh_cache = sim.dir.path().join("other-cache");
    let o = sim
        .cmd()
        .env("WECHAT_APPSECRET", "wrong-secret-value")
        .env("WXSCRIPT_CACHE_DIR", &fresh_cache)
        .arg("run")
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("error[auth]") && err.contains("40125"), "{err}");
    assert!(!err.contains("wrong-secret-value") && !stdout(&o).contains("wrong-secret-value"), "{err}");
}

#[test]
fn unreachable_server_is_a_network_error_without_the_token() {
    let port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("n.rhai");
    std::fs::write(&p, "try { store::list(0, 1); } catch (e) { print(`${e.kind}|${e.api}|${e.errmsg}`); }")
        .expect("write");
    let o = assert_cmd::Command::cargo_bin("wxscript")
        .expect("bin")
        .env("WECHAT_API_BASE", format!("http://127.0.0.1:{port}"))
        .env("WECHAT_ACCESS_TOKEN", "tok-secret-123456")
        .arg("run")
        .arg(&p)
        .output()
        .expect("runs");
    let out = ok(&o);
    assert!(out.starts_with("network|wxa/get_store_list|"), "{out}");
    assert!(!out.contains("tok-secret-123456"), "{out}");
}

#[test]
fn ctrl_c_abandons_a_slow_call_and_exits_130() {
    let sim = Sim::with(wxscript::sandbox::Config { latency_ms: 20_000, ..Default::default() });
    let slow_call = sim.write("slow.rhai", "print(\"start\");\nstore::list(0, 1);\nprint(\"not reached\");");
    // A wait that is the script's last statement is interrupted all the same.
    let last_sleep = sim.write("sleepy.rhai", "print(\"start\");\nsleep(100);");
    for path in [slow_call, last_sleep] {
        interrupt_exits_130(&sim, &path);
    }
}

fn interrupt_exits_130(sim: &Sim, path: &std::path::Path) {
    let mut child = sim
        .std_cmd()
        .arg("run")
        .arg(path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Interrupt only once the script runs (and its handler is in place), however slow the machine.
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    std::io::BufRead::read_line(&mut lines, &mut first).expect("first line");
    assert_eq!(first.trim(), "start");
    std::thread::sleep(Duration::from_millis(300));
    let t = std::time::Instant::now();
    let status = std::process::Command::new("kill").arg("-INT").arg(child.id().to_string()).status().expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    assert!(t.elapsed() < Duration::from_secs(5), "stopped promptly: {:?}", t.elapsed());
    assert_eq!(out.status.code(), Some(130), "{}: {}", path.display(), stderr(&out));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut lines, &mut rest).expect("rest of stdout");
    assert!(!rest.contains("not reached"));
    assert!(stderr(&out).contains("interrupted"));
}
