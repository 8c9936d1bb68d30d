//! Several accounts in one run, against the simulator over HTTP: each call reaches its own
//! account's state, `account::with` restores the account however its function ends, `parallel`
//! items keep their accounts, stable tokens are shared by processes and forced at most once per
//! 30 s, `wx::clear_quota` clears the account in force, and `wxscript accounts` lists the
//! accounts without a token or secret.

mod common;

use std::path::PathBuf;

use serde_json::Value;
use wxscript::sandbox::{Config, own_appid, own_secret};

use common::*;

/// A config file (owner-only) naming the simulator's accounts 2..=n `shop-2`, `shop-3`, ...,
/// with `extra` appended.
fn config(sim: &Sim, n: usize, extra: &str) -> PathBuf {
    let mut text = String::new();
    for i in 2..=n {
        text.push_str(&format!(
            "[accounts.shop-{i}]\nappid = \"{}\"\nappsecret = \"{}\"\n\n",
            own_appid(i),
            own_secret(i)
        ));
    }
    text.push_str(extra);
    let p = sim.write("accounts.toml", &text);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    p
}

/// Runs `script` with the config file `cfg` and any further arguments before the script.
fn run_with(sim: &Sim, cfg: &PathBuf, args: &[&str], script: &str) -> std::process::Output {
    let path = sim.write("t.rhai", script);
    sim.cmd().env("WXSCRIPT_CONFIG", cfg).arg("run").args(args).arg(&path).output().expect("runs")
}

/// What the simulator says each account holds, by appid.
fn held(sim: &Sim) -> Value {
    let url = format!("{}/_sandbox/accounts", sim.base);
    let v: Value = sim.rt.block_on(async { reqwest::get(&url).await.expect("accounts").json().await.expect("JSON") });
    let list = v.get("accounts").cloned().unwrap_or(v);
    let mut by = serde_json::Map::new();
    for a in list.as_array().cloned().unwrap_or_default() {
        if let Some(id) = a["appid"].as_str() {
            by.insert(id.to_string(), a.clone());
        }
    }
    Value::Object(by)
}

#[test]
fn two_accounts_in_one_script_reach_their_own_state() {
    let sim = Sim::start();
    let cfg = config(&sim, 2, "");
    let out = ok(&run_with(
        &sim,
        &cfg,
        &[],
        r#"
        media::upload("scripts/data/logo.png", "image");
        media::upload("scripts/data/logo.png", "image");
        account::use("shop-2");
        media::upload("scripts/data/logo.png", "image");
        print(account::current());
        account::use("default");
        for a in account::list() { print(`${a.name}|${a.appid}|${a.kind}|${a.token.source}`); }
        "#,
    ));
    let held = held(&sim);
    assert_eq!(held[sandbox_appid()]["media"], 2, "{held}");
    assert_eq!(held[own_appid(2)]["media"], 1, "{held}");
    assert!(out.contains(r#""name": "shop-2""#) && out.contains(r#""kind": "own""#), "{out}");
    assert!(out.contains("default|wxsandbox|own|stable"), "every own account is stable by default: {out}");
    assert!(out.contains("shop-2|wxsandbox2|own|stable"), "{out}");
    assert!(!out.contains(&own_secret(2)) && !out.contains("sandbox-secret"), "{out}");
}

fn sandbox_appid() -> &'static str {
    wxscript::sandbox::APPID
}

#[test]
fn account_with_restores_after_an_error_and_nests() {
    let sim = Sim::start();
    let cfg = config(&sim, 2, "");
    let out = ok(&run_with(
        &sim,
        &cfg,
        &[],
        r#"
        try {
            account::with("shop-2", || { print(`in: ${account::current().name}`); throw "boom"; });
        } catch (e) { print(`caught ${e}`); }
        print(`after: ${account::current().name}`);
        let v = account::with("shop-2", || {
            let inner = account::with("default", || account::current().name);
            `${inner}/${account::current().name}`
        });
        print(`nested: ${v} then ${account::current().name}`);
        account::with("wxsandbox2", || print(`by appid: ${account::current().name}`));
        try { account::with("shop-2", || store::get("123456789")); } catch (e) { print(`named: ${e.account}`); }
        try { account::use("shop-3"); } catch (e) { print(`unknown: ${e.kind} ${e.errmsg}`); }
        "#,
    ));
    assert!(out.contains("in: shop-2\ncaught boom\nafter: default"), "{out}");
    assert!(out.contains("nested: default/shop-2 then default"), "{out}");
    assert!(out.contains("by appid: shop-2"), "{out}");
    assert!(out.contains("named: shop-2 (wxsand…)"), "{out}");
    assert!(out.contains(r#"unknown: input no account "shop-3"; did you mean "shop-2"?"#), "{out}");

    // Uncaught, the error's notes say whose it was.
    let o = run_with(&sim, &cfg, &["--account", "shop-2"], r#"store::get("123456789");"#);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("= account: shop-2 (wxsand…)"), "{}", stderr(&o));
}

#[test]
fn an_error_names_no_account_when_there_is_only_one() {
    let sim = Sim::start();
    let o = sim.run(r#"try { store::get("123456789"); } catch (e) { print(`account: ${e.account}`); }"#);
    assert!(ok(&o).contains("account: \n") || ok(&o).contains("account: ()"), "{}", ok(&o));
}

#[test]
fn parallel_items_keep_their_accounts() {
    let sim = Sim::with(Config { own_accounts: 4, ..Config::default() });
    let cfg = config(&sim, 4, "");
    let out = ok(&run_with(
        &sim,
        &cfg,
        &["--quiet"],
        r#"
        let names = ["default", "shop-2", "shop-3", "shop-4"];
        let items = [];
        for i in 0..64 { items.push(names[i % 4]); }
        let r = parallel(items, 16, |name| {
            if name == "shop-3" { account::use(name); } else { return account::with(name, || {
                media::upload("scripts/data/logo.png", "image");
                account::current().name
            }); }
            media::upload("scripts/data/logo.png", "image");
            account::current().name
        });
        let wrong = 0;
        for i in 0..64 { if !r[i].ok || r[i].value != items[i] { wrong += 1; print(`${i}: ${r[i]}`); } }
        print(`wrong ${wrong}, then ${account::current().name}`);
        "#,
    ));
    assert!(out.contains("wrong 0, then default"), "{out}");
    let held = held(&sim);
    for i in 1..=4 {
        assert_eq!(held[own_appid(i)]["media"], 16, "{held}");
    }
}

#[test]
fn three_stable_processes_share_one_token_while_a_classic_one_works_beside_them() {
    let sim = Sim::start();
    let cfg = config(
        &sim,
        2,
        &format!(
            "[accounts.shop-2-classic]\nappid = \"{}\"\nappsecret = \"{}\"\ntoken_mode = \"classic\"\n",
            own_appid(2),
            own_secret(2)
        ),
    );
    let script = sim.write("s.rhai", "store::list(0, 1); print(\"ok\");");
    // Three hosts: each its own token cache, so only WeChat's stable family can make them agree.
    let spawn = |account: &str, host: usize| {
        sim.std_cmd()
            .env("WXSCRIPT_CONFIG", &cfg)
            .env("WXSCRIPT_CACHE_DIR", sim.dir.path().join(format!("host{host}")))
            .args(["run", "--account", account])
            .arg(&script)
            .output()
            .expect("runs")
    };
    let outs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3).map(|h| s.spawn(move || spawn("shop-2", h))).collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    for o in &outs {
        assert!(ok(o).contains("ok"));
    }
    let stats = sim.stats();
    assert_eq!(stats["stable_token_issues"][own_appid(2)], 1, "{stats}");
    // A classic process on the same account does not disturb them, nor they it.
    assert!(ok(&spawn("shop-2-classic", 3)).contains("ok"));
    for h in 0..3 {
        assert!(ok(&spawn("shop-2", h)).contains("ok"));
    }
    assert!(ok(&spawn("shop-2-classic", 3)).contains("ok"));
    let stats = sim.stats();
    assert_eq!(stats["stable_token_issues"][own_appid(2)], 1, "{stats}");
    assert_eq!(stats["token_fetches_by_appid"][own_appid(2)], 1, "{stats}");
}

#[test]
fn a_forced_refresh_happens_at_most_once_per_30_s_however_many_calls_fail() {
    let sim = Sim::start();
    let cfg = config(&sim, 2, "");
    ok(&run_with(&sim, &cfg, &["--account", "shop-2"], "store::list(0, 1);"));
    // Every call now says the token is invalid, while stable_token keeps handing out the same.
    sim.fault(serde_json::json!({"fail_rate": 1.0, "fail_code": 40001}));
    let script = r#"
        let items = [];
        for i in 0..64 { items.push(i); }
        let r = parallel(items, 64, |i| store::list(0, 1));
        print(`${r.filter(|x| !x.ok && x.error.kind == "auth").len()} refused`);
    "#;
    let out = ok(&run_with(&sim, &cfg, &["--account", "shop-2", "--quiet"], script));
    assert!(out.contains("64 refused"), "{out}");
    assert_eq!(sim.stats()["stable_token_forced"][own_appid(2)], 1, "{}", sim.stats());
    // Another process sharing the cache keeps the 30 s too.
    let o = run_with(&sim, &cfg, &["--account", "shop-2"], "store::list(0, 1);");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("a forced refresh was made"), "{}", stderr(&o));
    assert_eq!(sim.stats()["stable_token_forced"][own_appid(2)], 1, "{}", sim.stats());
}

/// `POST /_sandbox/revoke_tokens`: the account's tokens answer 40001 while stable_token keeps
/// handing out the revoked one until a forced refresh.
fn revoke(sim: &Sim, appid: &str) {
    let url = format!("{}/_sandbox/revoke_tokens", sim.base);
    let body = serde_json::json!({ "appid": appid });
    sim.rt.block_on(async { reqwest::Client::new().post(&url).json(&body).send().await.expect("revoke") });
}

#[test]
fn a_refused_stable_token_handed_back_is_forced_once_and_the_calls_go_through() {
    let sim = Sim::start();
    let cfg = config(&sim, 2, "");
    let script = r#"
        let items = [];
        for i in 0..64 { items.push(i); }
        let r = parallel(items, 64, |i| store::list(0, 1));
        print(`${r.filter(|x| x.ok).len()} ok`);
        for x in r.filter(|x| !x.ok) { print(x.error.errmsg); break; }
    "#;
    ok(&run_with(&sim, &cfg, &["--account", "shop-2"], "store::list(0, 1);"));
    revoke(&sim, &own_appid(2));
    let out = ok(&run_with(&sim, &cfg, &["--account", "shop-2", "--quiet"], script));
    assert!(out.starts_with("64 ok"), "{out}");
    let stats = sim.stats();
    assert_eq!(stats["stable_token_forced"][own_appid(2)], 1, "{stats}");
    assert_eq!(stats["stable_token_forced"].get(sandbox_appid()), None, "{stats}");
    // Within 30 s no second force, however many calls fail: they fail saying why.
    revoke(&sim, &own_appid(2));
    let out = ok(&run_with(&sim, &cfg, &["--account", "shop-2", "--quiet"], script));
    assert!(out.starts_with("0 ok") && out.contains("a forced refresh was made"), "{out}");
    assert_eq!(sim.stats()["stable_token_forced"][own_appid(2)], 1, "{}", sim.stats());
}

#[test]
fn clear_quota_clears_the_account_in_force_and_says_so() {
    let sim = Sim::with(Config { daily_quota: Some(1), ..Config::default() });
    let cfg = config(&sim, 2, "");
    let o = run_with(
        &sim,
        &cfg,
        &["--quiet"],
        r#"
        store::list(0, 1);
        account::with("shop-2", || store::list(0, 1));
        account::with("shop-2", || wx::clear_quota());
        account::with("shop-2", || store::list(0, 1));
        try { store::list(0, 1); print("default not cleared?"); } catch (e) { print(`default: ${e.errcode}`); }
        "#,
    );
    let out = ok(&o);
    assert!(out.contains("default: 45009"), "{out}");
    assert!(stderr(&o).contains("clearing the API quota of account shop-2 (wxsand…)"), "{}", stderr(&o));
    // Quotas and rates are per account: the slowed rate says whose it is.
    assert!(
        stderr(&o)
            .contains("request rate lowered to 20/s; it rises again as calls succeed (account default (wxsand…))"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn choosing_an_account_by_flag_environment_or_appid() {
    let sim = Sim::start();
    let cfg = config(&sim, 2, "");
    let o = run_with(&sim, &cfg, &["--account", "shop2"], "print(1);");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(r#"--account: no account "shop2"; did you mean "shop-2"?"#), "{}", stderr(&o));
    let path = sim.write("c.rhai", "print(account::current().name);");
    let o = sim.cmd().env("WXSCRIPT_CONFIG", &cfg).env("WXSCRIPT_ACCOUNT", own_appid(2)).arg("run").arg(&path).output();
    assert_eq!(ok(&o.expect("runs")).trim(), "shop-2");
    let o = sim.cmd().env("WXSCRIPT_CONFIG", &cfg).args(["check", "--account", "nope"]).arg(&path).output();
    assert_eq!(o.expect("runs").status.code(), Some(2));
    let o = sim.cmd().env("WXSCRIPT_CONFIG", &cfg).args(["check", "--account", "shop-2"]).arg(&path).output();
    ok(&o.expect("runs"));
    let o = sim.cmd().args(["run", "--sandbox", "--account", "wxsandbox2"]).arg(&path).output();
    assert_eq!(ok(&o.expect("runs")).trim(), "wxsandbox2");
}

#[test]
fn the_accounts_command_shows_tokens_left_and_never_a_secret() {
    let sim = Sim::start();
    let cfg = config(&sim, 2, "");
    ok(&run_with(&sim, &cfg, &[], "store::list(0, 1); account::with(\"shop-2\", || store::list(0, 1));"));
    let table = ok(&sim.cmd().env("WXSCRIPT_CONFIG", &cfg).arg("accounts").output().expect("runs"));
    let json =
        ok(&sim.cmd().env("WXSCRIPT_CONFIG", &cfg).args(["accounts", "--format", "json"]).output().expect("runs"));
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.contains("default") && table.contains("shop-2") && table.contains("stable ("), "{table}");
    let rows: Vec<Value> = serde_json::from_str(&json).expect("JSON");
    assert_eq!(rows.len(), 2, "{json}");
    assert_eq!(rows[1]["name"], "shop-2");
    assert_eq!(rows[1]["token"]["source"], "stable");
    assert!(rows[1]["token"]["expires_in"].as_i64().is_some_and(|s| s > 0), "{json}");
    let tokens = sim.cache_dir().join("tokens");
    let mut secrets = vec![sandbox_secret(), own_secret(2)];
    for f in std::fs::read_dir(&tokens).expect("token cache").flatten() {
        let p = f.path();
        if p.extension().is_some_and(|e| e == "json") {
            let c: Value = serde_json::from_str(&std::fs::read_to_string(&p).expect("read")).expect("JSON");
            if let Some(t) = c["access_token"].as_str().filter(|t| !t.is_empty()) {
                secrets.push(t.to_string());
            }
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
    }
    // The two secrets and one token per account.
    assert_eq!(secrets.len(), 4, "both accounts' tokens are cached: {secrets:?}");
    for s in &secrets {
        assert!(!table.contains(s.as_str()) && !json.contains(s.as_str()), "{s} shown");
    }
}

fn sandbox_secret() -> String {
    wxscript::sandbox::SECRET.to_string()
}

#[test]
fn account_tables_are_checked_and_their_secrets_guarded() {
    let sim = Sim::start();
    let path = sim.write("p.rhai", "print(account::list().len());");
    let run = |text: &str, mode: u32| {
        let p = sim.write("bad.toml", text);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        #[cfg(not(unix))]
        let _ = mode;
        sim.cmd().env("WXSCRIPT_CONFIG", &p).arg("run").arg(&path).output().expect("runs")
    };
    let o = run("[accounts.default]\nappid = \"wx1\"\nappsecret = \"s\"\n", 0o600);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("[accounts.default]"), "{}", stderr(&o));
    let o = run("[accounts.shop]\nappid = \"wx1\"\n", 0o600);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("[accounts.shop] needs both appid and appsecret"), "{}", stderr(&o));
    let o = run("[accounts.shop]\nappid = \"wx1\"\nappsecret = \"s\"\ntoken_mode = \"fast\"\n", 0o600);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("bad.toml:4") && stderr(&o).contains("`stable` or `classic`"), "{}", stderr(&o));
    assert!(stderr(&o).contains("`accounts.shop.token_mode`: unknown variant `fast`"), "{}", stderr(&o));
    // A comment after the table's header does not hide the table.
    let o = run("[accounts.shop]   # the flagship\nappid = \"wx1\"\nappsecret = \"s\"\nqps = \"fast\"\n", 0o600);
    assert!(stderr(&o).contains("`accounts.shop.qps`"), "{}", stderr(&o));
    let o = run("[accounts.shop]\nappid = \"wx1\"\nappsecret = \"shop-secret-1\"\n", 0o644);
    assert_eq!(ok(&o).trim(), "2");
    #[cfg(unix)]
    assert!(stderr(&o).contains("holds accounts.shop.appsecret"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("shop-secret-1"));
}

#[test]
fn an_error_inside_account_with_points_at_its_field() {
    let sim = Sim::start();
    let o = sim.run(
        r#"account::with("default", || {
    store::add(#{business_name: "x", branch_name: "y", address: "a"});
});"#,
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("unknown field \"address\""), "{err}");
    // At the field (column 56), not at the call (column 12): the source is read as the run
    // reads it, `with` included.
    assert!(err.contains("t.rhai:2:56"), "{err}");
}
