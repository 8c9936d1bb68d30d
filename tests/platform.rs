//! The third-party platform from the client's side, against the simulator over HTTP: a
//! `wxscript listen --platform-only` process receives the simulator's ticket and authorisation
//! pushes and shares its store (a cache directory) with the runs that call as the authorizers.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{Sim, free_port, ok, stderr, stdout, wait_until};
use serde_json::{Value, json};
use wxscript::sandbox::{self, Config};

/// The simulator's platform as a config file sees it.
fn platform_config(dir: &Path) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            "[platform]\ncomponent_appid = \"{}\"\ncomponent_appsecret = \"{}\"\ntoken = \"{}\"\naes_key = \"{}\"\n",
            sandbox::COMPONENT_APPID,
            sandbox::COMPONENT_SECRET,
            sandbox::PLATFORM_TOKEN,
            sandbox::PLATFORM_AES_KEY
        ),
    )
    .expect("config");
    #[cfg(unix)]
    std::os::unix::fs::PermissionsExt::set_mode(&mut std::fs::metadata(&p).expect("meta").permissions(), 0o600);
    #[cfg(unix)]
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    p
}

/// A simulator whose platform pushes go to a `wxscript listen --platform-only` process.
struct Agency {
    sim: Sim,
    config: PathBuf,
    listener: Child,
    port: u16,
}

impl Drop for Agency {
    fn drop(&mut self) {
        let _ = self.listener.kill();
        let _ = self.listener.wait();
    }
}

impl Agency {
    fn start(authorizers: usize) -> Agency {
        let port = free_port();
        let sim = Sim::with(Config {
            authorizers,
            platform_push_url: Some(format!("http://127.0.0.1:{port}/")),
            ..Config::default()
        });
        let config = platform_config(sim.dir.path());
        let listener = sim
            .std_cmd()
            .env("WXSCRIPT_CONFIG", &config)
            .args(["listen", "--platform-only", "--port", &port.to_string(), "--log"])
            .arg(sim.dir.path().join("events.jsonl"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("listener starts");
        let a = Agency { sim, config, listener, port };
        a.wait_for("the first ticket push", || a.platform_dir().join("ticket.json").exists());
        a
    }

    fn platform_dir(&self) -> PathBuf {
        self.sim.cache_dir().join("platform").join(sandbox::COMPONENT_APPID)
    }

    fn record(&self, appid: &str) -> Option<Value> {
        let text =
            std::fs::read_to_string(self.platform_dir().join("authorizers").join(format!("{appid}.json"))).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn refresh_token(&self, appid: &str) -> String {
        self.record(appid).and_then(|r| r["refresh_token"].as_str().map(str::to_string)).unwrap_or_default()
    }

    fn wait_for(&self, what: &str, done: impl FnMut() -> bool) {
        wait_until(what, Duration::from_secs(10), done);
    }

    fn cmd(&self) -> assert_cmd::Command {
        let mut c = self.sim.cmd();
        c.env("WXSCRIPT_CONFIG", &self.config);
        c
    }

    fn run(&self, script: &str) -> std::process::Output {
        let path = self.sim.write("t.rhai", script);
        self.cmd().arg("run").arg(&path).timeout(Duration::from_secs(60)).output().expect("runs")
    }

    fn admin(&self, route: &str, body: Value) -> Value {
        let url = format!("{}/_sandbox/{route}", self.sim.base);
        self.sim.rt.block_on(async {
            let text =
                reqwest::Client::new().post(&url).json(&body).send().await.expect("admin").text().await.expect("body");
            serde_json::from_str(&text).unwrap_or(Value::Null)
        })
    }

    /// A pre-auth code from a run, authorised on the simulator's admin page as `appid`.
    fn authorize(&self, appid: &str, func_info: Option<Value>) -> Value {
        let out = ok(&self.run(
            r#"let a = platform::authorize_url(#{redirect_uri: "https://agency.example/cb"});
               if !a.url.contains("componentloginpage?component_appid=wxsandboxcomponent") { throw a.url; }
               print(a.pre_auth_code);"#,
        ));
        let code = out.trim().lines().last().unwrap_or_default().to_string();
        let mut body = json!({ "pre_auth_code": code, "authorizer_appid": appid });
        if let Some(f) = func_info {
            body["func_info"] = f;
        }
        self.admin("authorize", body)
    }
}

#[test]
fn ticket_push_to_authorizer_calls_then_refresh_and_revocation() {
    let a = Agency::start(2);
    // Before authorising, the account is unknown to the store.
    let o = a.run("account::use(\"wxsandboxauth1\");");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no account \"wxsandboxauth1\""), "{}", stderr(&o));

    let answer = a.authorize("wxsandboxauth1", None);
    assert_eq!(answer["info_type"], "authorized", "{answer}");
    // The listener exchanges the pushed code and stores the refresh token.
    a.wait_for("the authorizer's record", || a.record("wxsandboxauth1").is_some());
    let first = a.refresh_token("wxsandboxauth1");
    assert!(first.starts_with("refreshtoken@@@"), "{first}");

    // Its calls reach its own state: a merchant of its own, none for `default`.
    let out = ok(&a.run(&format!(
        r#"account::use("wxsandboxauth1");
           {}
           print(`auth1 merchant ${{merchant::audit_info().status}}`);
           account::use("default");
           let s = 0;
           try {{ s = merchant::audit_info().status; }} catch (e) {{ s = e.errcode; }}
           print(`default merchant ${{s}}`);"#,
        Sim::merchant_prelude()
    )));
    assert!(out.contains("auth1 merchant 1"), "{out}");
    assert!(!out.contains("default merchant 1"), "the default account has no merchant: {out}");
    // Its audit came to the platform's message URL (`/$APPID$` here), addressed to it.
    let log = a.sim.dir.path().join("events.jsonl");
    let pushed = || std::fs::read_to_string(&log).unwrap_or_default();
    a.wait_for("the authorizer's audit event", || pushed().contains("apply_merchant_audit_info"));
    let event: Value = pushed()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["event"]["Event"] == "apply_merchant_audit_info")
        .map(|e| e["event"].clone())
        .unwrap_or_default();
    assert_eq!(event["AuthorizerAppid"], "wxsandboxauth1", "{event}");
    assert_eq!(event["ToUserName"], "gh_sandboxauth0001", "{event}");
    // A message whose URL names no authorizer, or signed with another Token, is refused.
    let xml = "<xml><ToUserName><![CDATA[gh_sandboxauth0001]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[x]]></Event></xml>";
    for (path, token, status, says) in [
        ("/callback", sandbox::PLATFORM_TOKEN, 400, "$APPID$"),
        ("/wxsandboxauth1", "another-token", 403, "msg_signature"),
    ] {
        let target = sandbox::push::Target::platform(
            &format!("http://127.0.0.1:{}{path}", a.port),
            token,
            sandbox::PLATFORM_AES_KEY,
        )
        .expect("target");
        let (url, body) = target.sign_to(xml, "gh_sandboxauth0001", "");
        let (code, text) = a.sim.rt.block_on(async {
            let r = reqwest::Client::new().post(&url).body(body).send().await.expect("posts");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        });
        assert_eq!((code, text.contains(says)), (status, true), "{path}: {text}");
    }
    // The platform's URL checks requests as the account's does: a handshake without echostr,
    // and a body over 64 KB announced by its length, are refused before anything is read.
    let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs().to_string();
    let signature = wxscript::message::crypto::signature(&[sandbox::PLATFORM_TOKEN, &ts, "7"]);
    let query = format!("signature={signature}&timestamp={ts}&nonce=7");
    let (handshake, oversize) = a.sim.rt.block_on(async {
        let c = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
        let url = format!("http://127.0.0.1:{}/?{query}", a.port);
        let get = c.get(format!("{url}&echostr=")).send().await.expect("get").status().as_u16();
        let post = c.post(format!("{url}&encrypt_type=aes&msg_signature=x")).body(vec![b' '; 70_000]).send().await;
        (get, post.map(|r| r.status().as_u16()).unwrap_or(413))
    });
    assert_eq!((handshake, oversize), (400, 413));
    // That run used the token the exchange brought: the refresh token is the first still.
    let second = a.refresh_token("wxsandboxauth1");
    assert_eq!(second, first);

    // The token expires: the next run refreshes it from the stored refresh token.
    a.sim.expire_tokens();
    let out = ok(&a.run("account::use(\"wxsandboxauth1\"); print(`status ${merchant::audit_info().status}`);"));
    assert!(out.contains("status 1"), "{out}");
    let third = a.refresh_token("wxsandboxauth1");
    assert!(third != second, "refreshed again, and stored");

    // `wxscript accounts` lists it, with its token's time left, and no secret.
    let listed = a.cmd().args(["accounts", "--format", "json"]).output().expect("accounts");
    let text = ok(&listed);
    let rows: Value = serde_json::from_str(&text).expect("json");
    let row = rows.as_array().and_then(|r| r.iter().find(|r| r["appid"] == "wxsandboxauth1")).cloned();
    let row = row.unwrap_or_else(|| panic!("listed: {text}"));
    assert_eq!(row["kind"], "authorizer");
    assert!(row["token"]["expires_in"].as_i64().is_some_and(|s| s > 0), "{row}");
    for secret in [third.as_str(), sandbox::COMPONENT_SECRET, sandbox::SECRET, "refreshtoken@@@"] {
        assert!(!text.contains(secret), "accounts printed a secret: {text}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let rec = a.platform_dir().join("authorizers").join("wxsandboxauth1.json");
        assert_eq!(std::fs::metadata(rec).expect("meta").permissions().mode() & 0o777, 0o600);
    }

    // Revoked: the listener marks it; its calls fail as `auth` naming it, the others go on.
    a.admin("unauthorize", json!({ "authorizer_appid": "wxsandboxauth1" }));
    a.wait_for("the revocation", || a.record("wxsandboxauth1").is_some_and(|r| r["revoked_at"].as_u64().is_some()));
    let out = ok(&a.run(
        r#"let e = #{};
           try { account::with("wxsandboxauth1", || merchant::audit_info()); } catch (err) { e = err; }
           print(`kind ${e.kind}`);
           print(`says ${e.errmsg}`);
           print(`default goes on: ${type_of(store::list(0, 1).total_count)}`);"#,
    ));
    assert!(out.contains("kind auth"), "{out}");
    assert!(out.contains("says account wxsandboxauth1 revoked"), "{out}");
    assert!(out.contains("default goes on: i64"), "{out}");
    let listed = ok(&a.cmd().args(["accounts", "--format", "json"]).output().expect("accounts"));
    assert!(listed.contains("the account revoked its authorisation"), "{listed}");
    // The health check: the revoked account fails it (exit 1), the default account passes.
    let o = a.cmd().args(["accounts", "--check"]).output().expect("accounts --check");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let table = stdout(&o);
    let row = |name: &str| table.lines().find(|l| l.starts_with(name)).unwrap_or_default().to_string();
    assert!(row("default").ends_with("  ok"), "{table}");
    assert!(row("(platform)").contains("component (") && row("(platform)").ends_with("  ok"), "{table}");
    assert!(row("wxsandboxauth1").contains("failed: account wxsandboxauth1 revoked"), "{table}");
    assert!(stderr(&o).contains("1 of "), "{}", stderr(&o));
    let o = a.cmd().args(["accounts", "--check", "--format", "json"]).output().expect("accounts --check");
    let rows: Value = serde_json::from_str(&stdout(&o)).expect("json");
    let check = |appid: &str| {
        rows.as_array().and_then(|r| r.iter().find(|r| r["appid"] == appid)).map(|r| r["check"]["ok"].clone())
    };
    assert_eq!(check(sandbox::APPID), Some(json!(true)), "{rows}");
    assert_eq!(check(sandbox::COMPONENT_APPID), Some(json!(true)), "{rows}");
    // Without --check, the platform's row says how old the newest ticket is.
    let table = ok(&a.cmd().args(["accounts"]).output().expect("accounts"));
    let platform = table.lines().find(|l| l.starts_with("(platform)")).unwrap_or_default();
    assert!(platform.contains(sandbox::COMPONENT_APPID) && platform.contains("ticket received"), "{table}");
    assert_eq!(check("wxsandboxauth1"), Some(json!(false)), "{rows}");
}

#[test]
fn a_missing_permission_set_is_48001_and_a_revoked_refresh_token_61023() {
    let a = Agency::start(2);
    // Only shake-around (set 12): store-family calls are refused, shake-around ones work.
    a.authorize("wxsandboxauth2", Some(json!([12])));
    a.wait_for("the authorizer's record", || a.record("wxsandboxauth2").is_some());
    let out = ok(&a.run(
        r#"account::use("wxsandboxauth2");
           let e = 0;
           try { merchant::categories(); } catch (err) { e = err.errcode; }
           print(`store family ${e}`);
           let c = 0;
           try { shake::list_groups(0, 10); } catch (err) { c = err.errcode; }
           print(`shake family ${c}.`);"#,
    ));
    assert!(out.contains("store family 48001"), "{out}");
    // Not registered for shake-around yet (9001020), but not refused the permission.
    assert!(out.contains("shake family 9001020."), "{out}");

    // Revoked while no listener hears it: the refresh token answers 61023, as an auth error
    // naming the account.
    let _ = a.admin("unauthorize", json!({ "authorizer_appid": "wxsandboxauth2" }));
    // Kept from the listener: the store still thinks the account is authorised.
    a.wait_for("the revocation", || a.record("wxsandboxauth2").is_some_and(|r| r["revoked_at"].as_u64().is_some()));
    let rec = a.record("wxsandboxauth2").expect("record");
    let mut unrevoked = rec.clone();
    unrevoked.as_object_mut().expect("object").remove("revoked_at");
    let path = a.platform_dir().join("authorizers").join("wxsandboxauth2.json");
    std::fs::write(&path, unrevoked.to_string()).expect("rewrite");
    a.sim.expire_tokens();
    let out = ok(&a.run(
        r#"let e = #{};
           try { account::with("wxsandboxauth2", || shake::list_groups(0, 10)); } catch (err) { e = err; }
           print(`${e.kind} ${e.errcode} ${e.errmsg} / ${e.hint}`);"#,
    ));
    assert!(out.contains("auth 61023 account wxsandboxauth2"), "{out}");
    assert!(out.contains("authorise again"), "{out}");
}

#[test]
fn a_run_killed_after_a_refresh_token_rotates_loses_nothing() {
    let a = Agency::start(1);
    a.authorize("wxsandboxauth1", None);
    a.wait_for("the authorizer's record", || a.record("wxsandboxauth1").is_some());
    let before = a.refresh_token("wxsandboxauth1");
    // Tokens expired and every request slow: the run's refresh rotates the refresh token, then
    // its first call with the new access token takes a while; the run is killed during it.
    a.sim.expire_tokens();
    a.sim.fault(json!({ "latency_ms": 1500 }));
    let script = a.sim.write("slow.rhai", "account::use(\"wxsandboxauth1\"); print(merchant::categories().len());");
    let mut run = a
        .sim
        .std_cmd()
        .env("WXSCRIPT_CONFIG", &a.config)
        .arg("run")
        .arg(&script)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run starts");
    a.wait_for("the rotated refresh token", || {
        let now = a.refresh_token("wxsandboxauth1");
        !now.is_empty() && now != before
    });
    run.kill().expect("kill -9");
    let status = run.wait().expect("wait");
    assert!(!status.success(), "killed before it finished");
    a.sim.fault(json!({ "latency_ms": 0 }));
    // The next run needs no new authorisation: the stored refresh token is the live one.
    a.sim.expire_tokens();
    let out = ok(&a.run("account::use(\"wxsandboxauth1\"); print(`categories ${merchant::categories().len()}`);"));
    assert!(out.contains("categories "), "{out}");
}

#[test]
fn export_and_import_keep_refresh_tokens_and_never_go_back_to_an_older_one() {
    let a = Agency::start(1);
    a.authorize("wxsandboxauth1", None);
    a.wait_for("the authorizer's record", || a.record("wxsandboxauth1").is_some());
    let backup = a.sim.dir.path().join("backup.json");
    let o = a.cmd().args(["platform", "export"]).arg(&backup).output().expect("export");
    assert!(ok(&o).contains("exported 1 authorizers"), "{}", stdout(&o));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&backup).expect("meta").permissions().mode() & 0o777, 0o600);
    }
    assert!(std::fs::read_to_string(&backup).expect("read").contains(&a.refresh_token("wxsandboxauth1")));

    // The store loses the record; the import brings the account back.
    std::fs::remove_file(a.platform_dir().join("authorizers").join("wxsandboxauth1.json")).expect("lose it");
    let o = a.run("account::use(\"wxsandboxauth1\");");
    assert_eq!(o.status.code(), Some(1), "gone with its record");
    let o = a.cmd().args(["platform", "import"]).arg(&backup).output().expect("import");
    assert!(ok(&o).contains("imported 1 authorizers"), "{}", stdout(&o));
    a.sim.expire_tokens();
    ok(&a.run("account::use(\"wxsandboxauth1\"); merchant::categories();"));

    // That run rotated the refresh token: the backup's is older now, and is not imported.
    let current = a.refresh_token("wxsandboxauth1");
    let o = a.cmd().args(["platform", "import"]).arg(&backup).output().expect("import");
    assert!(ok(&o).contains("kept the store's newer refresh token of wxsandboxauth1"), "{}", stdout(&o));
    assert_eq!(a.refresh_token("wxsandboxauth1"), current);
}

#[test]
fn sandbox_runs_have_the_platform_wired_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("t.rhai");
    std::fs::write(
        &script,
        r#"
        print(account::list().map(|a| `${a.name}:${a.kind}`));
        // Two own accounts and two authorizers; only two of them get a merchant.
        let accounts = ["default", "wxsandbox2", "wxsandboxauth1", "wxsandboxauth2"];
        for name in ["wxsandbox2", "wxsandboxauth1"] {
            account::with(name, || {
                let head = media::upload("scripts/data/logo.png", "image");
                let cat = merchant::categories().filter(|c| c.level == 2 && c.sensitive_type == 0)[0];
                merchant::apply(#{first_catid: cat.father, second_catid: cat.id, headimg_mediaid: head.media_id, nickname: "测试便利店", intro: "测试"});
            });
        }
        fn status() {
            let s = -1;
            try { s = merchant::audit_info().status; } catch {}
            s
        }
        let expected = #{};
        for name in accounts { expected[name] = account::with(name, status); }
        print(`expected ${expected}`);
        // with() restores after an error.
        try { account::with("wxsandboxauth1", || throw "boom"); } catch {}
        print(`after error: ${account::current().name}`);
        // 64 items over 4 accounts in parallel: each reaches its own account's merchant.
        let items = [];
        for i in 0..64 { items.push(accounts[i % 4]); }
        let seen = parallel(items, 8, |name| `${name}=${account::with(name, status)}`);
        let wrong = seen.filter(|r| { let p = r.value.split("="); `${expected[p[0]]}` != p[1] });
        print(`wrong: ${wrong.len()} of ${seen.len()}`);
        print(`authorizers: ${platform::authorizers().len()}`);
        // Each merchant audit is pushed to its own account: an authorizer's through the
        // platform's message URL, named by the appid in it.
        for name in ["wxsandbox2", "wxsandboxauth1"] {
            let id = account::with(name, || merchant::audit_info().audit_id);
            let e = event::wait(#{audit_id: id}, 10);
            print(`pushed ${name}: ${e.ToUserName} ${e.AuthorizerAppid ?? "none"}`);
        }
        "#,
    )
    .expect("script");
    let o = assert_cmd::Command::cargo_bin("wxscript")
        .expect("binary")
        .current_dir(common::repo_root())
        .env("WXSCRIPT_CONFIG", "/dev/null")
        .env("NO_COLOR", "1")
        .args(["run", "--sandbox"])
        .arg(&script)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("runs");
    let out = ok(&o);
    assert!(
        out.contains(r#"["default:own", "wxsandbox2:own", "wxsandboxauth1:authorizer", "wxsandboxauth2:authorizer", "wxsandboxauth3:authorizer"]"#),
        "{out}"
    );
    assert!(out.contains(r#""wxsandbox2": 1"#) && out.contains(r#""wxsandboxauth1": 1"#), "{out}");
    assert!(!out.contains(r#""default": 1"#) && !out.contains(r#""wxsandboxauth2": 1"#), "{out}");
    assert!(out.contains("after error: default"), "{out}");
    assert!(out.contains("wrong: 0 of 64"), "{out}");
    assert!(out.contains("authorizers: 3"), "{out}");
    assert!(out.contains("pushed wxsandbox2: gh_sandbox000002 none"), "{out}");
    assert!(out.contains("pushed wxsandboxauth1: gh_sandboxauth0001 wxsandboxauth1"), "{out}");
}

#[test]
fn hosts_sharing_redis_share_the_ticket_and_each_refresh_token() {
    let redis = common::RedisServer::start();
    let url = redis.url();
    let port = free_port();
    let sim = Sim::with(Config {
        authorizers: 1,
        platform_push_url: Some(format!("http://127.0.0.1:{port}/")),
        ..Config::default()
    });
    let config = platform_config(sim.dir.path());
    // Each "host" has a cache directory of its own: only Redis is shared.
    let host = |n: usize| {
        let mut c = sim.std_cmd();
        c.env("WXSCRIPT_CONFIG", &config)
            .env("WXSCRIPT_STORE", &url)
            .env("WXSCRIPT_CACHE_DIR", sim.dir.path().join(format!("host{n}")));
        c
    };
    let mut listener = host(0)
        .args(["listen", "--platform-only", "--port", &port.to_string(), "--log"])
        .arg(sim.dir.path().join("events.jsonl"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("listener starts");
    let ticket_key = format!("wxscript:platform:{}:ticket", sandbox::COMPONENT_APPID);
    wait_until("the ticket in Redis", Duration::from_secs(10), || redis.get(&ticket_key).is_some());

    // Host 1 asks for the authorisation page; the listener (host 0) stores the authorizer.
    let script = sim
        .write("auth.rhai", "print(platform::authorize_url(#{redirect_uri: \"https://a.example/cb\"}).pre_auth_code);");
    let out = ok(&host(1).arg("run").arg(&script).output().expect("runs"));
    let code = out.trim().lines().last().unwrap_or_default().to_string();
    let answer: Value = sim.rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/_sandbox/authorize", sim.base))
            .json(&json!({ "pre_auth_code": code, "authorizer_appid": "wxsandboxauth1" }))
            .send()
            .await
            .expect("authorize")
            .json()
            .await
            .expect("json")
    });
    assert_eq!(answer["info_type"], "authorized", "{answer}");
    let record_key = format!("wxscript:platform:{}:authorizer:wxsandboxauth1", sandbox::COMPONENT_APPID);
    wait_until("the authorizer in Redis", Duration::from_secs(10), || redis.get(&record_key).is_some());
    let refresh = || -> String {
        let rec: Value = serde_json::from_str(&redis.get(&record_key).unwrap_or_default()).unwrap_or_default();
        rec["refresh_token"].as_str().unwrap_or_default().to_string()
    };
    let first = refresh();

    // Its token expires; two hosts call as it at once: one refresh between them (each refresh
    // retires the refresh token it used, so a second one with the old token would get 61023).
    sim.expire_tokens();
    // The component token (expired too) is renewed first, so that what follows counts only
    // the authorizer's refreshes.
    ok(&host(1).arg("run").arg(&script).output().expect("runs"));
    let before = sim.count("cgi-bin/component/api_authorizer_token");
    let calls = sim.write(
        "calls.rhai",
        "account::use(\"wxsandboxauth1\"); for i in 0..5 { merchant::categories(); } print(\"done\");",
    );
    let a = host(2).arg("run").arg(&calls).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("host 2");
    let b = host(3).arg("run").arg(&calls).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("host 3");
    for (n, child) in [(2, a), (3, b)] {
        let o = child.wait_with_output().expect("wait");
        assert!(o.status.success() && stdout(&o).contains("done"), "host {n}: {}", stderr(&o));
    }
    let second = refresh();
    assert!(!second.is_empty() && second != first, "the rotated refresh token is in Redis");
    let refreshes = sim.count("cgi-bin/component/api_authorizer_token") - before;
    assert_eq!(refreshes, 1, "one refresh for both hosts: {}", sim.stats());

    // The authorizer's audit comes to the listener's message URL and into its own stream,
    // where another host waiting as that account sees it; the default account's has none.
    let apply = sim.write(
        "apply.rhai",
        r#"account::use("wxsandboxauth1");
           let head = media::upload("scripts/data/logo.png", "image");
           let cat = merchant::categories().filter(|c| c.level == 2 && c.sensitive_type == 0)[0];
           merchant::apply(#{first_catid: cat.father, second_catid: cat.id, headimg_mediaid: head.media_id, nickname: "测试便利店", intro: "测试"});
           let id = merchant::audit_info().audit_id;
           print(`as it: ${event::wait(#{audit_id: id}, 10).AuthorizerAppid}`);
           account::use("default");
           print(`as default: ${event::find(#{audit_id: id}).len()}`);"#,
    );
    let o =
        host(4).args(["run", "--log", "redis"]).arg(&apply).current_dir(common::repo_root()).output().expect("runs");
    let out = ok(&o);
    assert!(out.contains("as it: wxsandboxauth1") && out.contains("as default: 0"), "{out}");
    let _ = listener.kill();
    let _ = listener.wait();
}

#[test]
fn without_a_ticket_the_platform_row_says_so_and_fails_the_check() {
    // A platform configured, no listener ever received its ticket.
    let sim = Sim::start();
    let config = platform_config(sim.dir.path());
    let table = ok(&sim.cmd().env("WXSCRIPT_CONFIG", &config).arg("accounts").output().expect("accounts"));
    let platform = table.lines().find(|l| l.starts_with("(platform)")).unwrap_or_default();
    assert!(platform.contains("no component_verify_ticket in the store"), "{table}");
    let o = sim.cmd().env("WXSCRIPT_CONFIG", &config).args(["accounts", "--check"]).output().expect("accounts");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let table = stdout(&o);
    let platform = table.lines().find(|l| l.starts_with("(platform)")).unwrap_or_default();
    assert!(platform.contains("failed: no component_verify_ticket"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("default") && l.ends_with("  ok")), "{table}");
}
