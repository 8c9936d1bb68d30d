//! The simulator's own accounts over real HTTP: each account's calls reach its own state,
//! stable tokens shared by their callers and forced by WeChat's rules, classic tokens superseded
//! after the overlap, and daily quotas restored by `clear_quota`. Each test starts its own
//! sandbox on an ephemeral port.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::{Value, json};
use wxscript::sandbox::{Config, own_appid, own_secret};

use common::{Http, PNG, Sim, ok};

impl Http {
    async fn classic(&self, n: usize) -> Value {
        let url = self.url(&format!(
            "cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            own_appid(n),
            own_secret(n)
        ));
        self.http.get(url).send().await.expect("token").json().await.expect("JSON")
    }

    async fn classic_token(&self, n: usize) -> String {
        let t = self.classic(n).await;
        t["access_token"].as_str().unwrap_or_else(|| panic!("no token: {t}")).to_string()
    }

    async fn stable(&self, body: Value) -> Value {
        self.http
            .post(self.url("cgi-bin/stable_token"))
            .body(body.to_string())
            .send()
            .await
            .expect("stable")
            .json()
            .await
            .expect("JSON")
    }

    async fn stable_of(&self, n: usize, force: bool) -> Value {
        self.stable(json!({
            "grant_type": "client_credential", "appid": own_appid(n), "secret": own_secret(n), "force_refresh": force,
        }))
        .await
    }

    async fn stable_token(&self, n: usize, force: bool) -> String {
        let t = self.stable_of(n, force).await;
        t["access_token"].as_str().unwrap_or_else(|| panic!("no stable token: {t}")).to_string()
    }

    async fn post(&self, token: &str, path: &str, body: Value) -> Value {
        let url = format!("{}?access_token={token}", self.url(path));
        self.http.post(url).body(body.to_string()).send().await.expect("POST").json().await.expect("JSON")
    }

    async fn get(&self, token: &str, path: &str) -> Value {
        let url = format!("{}?access_token={token}", self.url(path));
        self.http.get(url).send().await.expect("GET").json().await.expect("JSON")
    }

    /// A read every account can make at once (the legacy stores).
    async fn read(&self, token: &str) -> Value {
        self.post(token, "cgi-bin/poi/getpoilist", json!({ "begin": 0, "limit": 5 })).await
    }

    async fn upload(&self, token: &str) -> Value {
        let part = reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("f.png");
        let form = reqwest::multipart::Form::new().part("media", part);
        let url = format!("{}?access_token={token}&type=image", self.url("cgi-bin/media/upload"));
        self.http.post(url).multipart(form).send().await.expect("upload").json().await.expect("JSON")
    }

    async fn admin(&self, method: reqwest::Method, route: &str, body: Value) -> Value {
        let req = self.http.request(method, self.url(&format!("_sandbox/{route}"))).body(body.to_string());
        req.send().await.expect("admin").json().await.expect("JSON")
    }

    async fn stats(&self) -> Value {
        self.admin(reqwest::Method::GET, "stats", Value::Null).await
    }

    async fn accounts(&self) -> Vec<Value> {
        let v = self.admin(reqwest::Method::GET, "accounts", Value::Null).await;
        v["accounts"].as_array().unwrap_or_else(|| panic!("accounts: {v}")).clone()
    }

    async fn advance(&self, secs: u64) {
        let r = self.admin(reqwest::Method::POST, "clock", json!({ "advance": secs })).await;
        assert_eq!(r["errcode"], 0, "{r}");
    }
}

#[track_caller]
fn errcode(v: &Value) -> i64 {
    v["errcode"].as_i64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn each_account_has_its_credentials_and_its_own_state() {
    let c = Http::start(Config { own_accounts: 3, ..Config::default() }).await;
    assert_eq!(c.sb.own_appids(), ["wxsandbox", "wxsandbox2", "wxsandbox3"]);
    let one = c.classic_token(1).await;
    let two = c.classic_token(2).await;

    // A media id uploaded as account 2 exists for account 2 only.
    let m = c.upload(&two).await;
    let media = m["media_id"].as_str().unwrap_or_else(|| panic!("{m}")).to_string();
    let apply = |nick: &str| {
        json!({
            "first_catid": 278, "second_catid": 279, "headimg_mediaid": media, "nickname": nick, "intro": "测试",
        })
    };
    let refused = c.post(&one, "wxa/apply_merchant", apply("一号便利店")).await;
    assert_eq!(errcode(&refused), 85056, "account 1 does not know account 2's media: {refused}");
    let applied = c.post(&two, "wxa/apply_merchant", apply("二号便利店")).await;
    assert_eq!(errcode(&applied), 0, "{applied}");
    assert_eq!(c.get(&two, "wxa/get_merchant_audit_info").await["data"]["status"], 1);
    assert_eq!(c.get(&one, "wxa/get_merchant_audit_info").await["data"]["status"], 0);

    let accounts = c.accounts().await;
    assert_eq!(accounts.len(), 3);
    assert_eq!((accounts[0]["appid"].clone(), accounts[0]["media"].clone()), (json!("wxsandbox"), json!(0)));
    assert_eq!((accounts[1]["merchant_status"].clone(), accounts[1]["media"].clone()), (json!(1), json!(1)));
    assert_eq!(accounts[2]["media"], 0);

    let s = c.stats().await;
    assert_eq!(s["requests_by_appid"], json!({ "wxsandbox": 2, "wxsandbox2": 3 }), "{s}");
    assert_eq!(s["token_fetches_by_appid"], json!({ "wxsandbox": 1, "wxsandbox2": 1 }), "{s}");
    assert_eq!(s["token_fetches"], 2, "the existing total stays");

    // One account's secret does not open another; an account not hosted is unknown.
    let url = c.url("cgi-bin/token?grant_type=client_credential&appid=wxsandbox2&secret=sandbox-secret");
    let wrong: Value = c.http.get(url).send().await.expect("token").json().await.expect("JSON");
    assert_eq!(errcode(&wrong), 40125, "{wrong}");
    assert_eq!(errcode(&c.classic(4).await), 40013);

    // The admin shake names its account; an unknown one is refused.
    let r = c.admin(reqwest::Method::POST, "shake", json!({ "device_id": 1, "appid": "wxsandbox9" })).await;
    assert_eq!(errcode(&r), 40013, "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stable_tokens_are_shared_and_leave_classic_tokens_alone() {
    let c = Http::start(Config::default()).await;
    let classic = c.classic_token(1).await;
    let (a, b, d) = tokio::join!(c.stable_token(1, false), c.stable_token(1, false), c.stable_token(1, false));
    assert!(a == b && b == d, "three callers, one stable token");
    assert_ne!(a, classic);
    let other = c.stable_token(2, false).await;
    assert_ne!(other, a, "each account has its own");
    let s = c.stats().await;
    assert_eq!(s["stable_token_issues"], json!({ "wxsandbox": 1, "wxsandbox2": 1 }), "{s}");
    assert_eq!(s["by_path"]["cgi-bin/stable_token"], 4);
    assert_eq!(s["token_fetches"], 1, "stable calls are not classic fetches");

    // Classic fetches do not disturb the stable family, nor the other way round.
    let newer_classic = c.classic_token(1).await;
    c.advance(600).await;
    assert_eq!(errcode(&c.read(&a).await), 0);
    assert_eq!(c.stable_token(1, false).await, a);
    assert_eq!(errcode(&c.read(&newer_classic).await), 0);
    let answer = c.stable_of(1, false).await;
    let left = answer["expires_in"].as_i64().unwrap_or(0);
    assert!((6590..=6600).contains(&left), "the time left, not the lifetime: {answer}");

    // Near its end an unforced call renews it early; the old one lives on to its expiry.
    c.advance(6400).await;
    let renewed = c.stable_token(1, false).await;
    assert_ne!(renewed, a);
    assert_eq!(errcode(&c.read(&a).await), 0);
    assert_eq!(c.stable_of(1, false).await["expires_in"], 7200);
    c.advance(300).await;
    assert_eq!(errcode(&c.read(&a).await), 42001);
    assert_eq!(errcode(&c.read(&renewed).await), 0);

    // After expire_tokens the next call issues a new one.
    c.admin(reqwest::Method::POST, "expire_tokens", Value::Null).await;
    assert_ne!(c.stable_token(1, false).await, renewed);
}

#[tokio::test(flavor = "multi_thread")]
async fn forced_refreshes_follow_wechats_rules() {
    let c = Http::start(Config::default()).await;
    let first = c.stable_token(1, false).await;
    let forced = c.stable_token(1, true).await;
    assert_ne!(forced, first);
    let gone = c.read(&first).await;
    assert_eq!(errcode(&gone), 40001, "a forced refresh ends the previous token at once: {gone}");
    assert_eq!(errcode(&c.read(&forced).await), 0);

    // Within 30 s WeChat does not refresh: every caller gets the current token.
    let again = futures_join(&c).await;
    assert!(again.iter().all(|t| *t == forced), "no refresh within 30 s");
    c.advance(29).await;
    assert_eq!(c.stable_token(1, true).await, forced);
    let s = c.stats().await;
    assert_eq!(s["stable_token_forced"]["wxsandbox"], 1, "{s}");
    assert_eq!(s["stable_token_issues"]["wxsandbox"], 2, "{s}");
    c.advance(1).await;
    let second = c.stable_token(1, true).await;
    assert_ne!(second, forced);

    // 20 a day, then 45009 (the unforced call still answers); the next day counts afresh.
    for _ in 2..20 {
        c.advance(30).await;
        c.stable_token(1, true).await;
    }
    c.advance(30).await;
    let refused = c.stable_of(1, true).await;
    assert_eq!(errcode(&refused), 45009, "{refused}");
    assert!(refused["errmsg"].as_str().unwrap_or("").contains("20 times a day"), "{refused}");
    let current = c.stable_token(1, false).await;
    assert_eq!(errcode(&c.read(&current).await), 0);
    assert_eq!(c.stats().await["stable_token_forced"]["wxsandbox"], 20);
    assert_ne!(c.stable_token(2, true).await, "", "another account has its own allowance");
    c.advance(86_400).await;
    assert_ne!(c.stable_token(1, true).await, current);

    // WeChat's checks on the call itself.
    let body =
        |appid: &str, secret: &str| json!({ "grant_type": "client_credential", "appid": appid, "secret": secret });
    assert_eq!(errcode(&c.stable(body("wxsandbox", "sandbox-secret2")).await), 40125);
    assert_eq!(errcode(&c.stable(body("wxnobody", "x")).await), 40013);
    let grant = json!({ "grant_type": "password", "appid": "wxsandbox", "secret": "sandbox-secret" });
    assert_eq!(errcode(&c.stable(grant).await), 40002);
    let mut bad = body("wxsandbox", "sandbox-secret");
    bad["force_refresh"] = json!("yes");
    assert_eq!(errcode(&c.stable(bad).await), 40097);
    let get: Value = c.http.get(c.url("cgi-bin/stable_token")).send().await.expect("GET").json().await.expect("JSON");
    assert_eq!(errcode(&get), 43002, "POST only: {get}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_stable_token_comes_back_until_a_forced_refresh() {
    let c = Http::start(Config::default()).await;
    let stable = c.stable_token(2, false).await;
    let classic = c.classic_token(2).await;
    let mine = c.stable_token(1, false).await;
    let r = c.admin(reqwest::Method::POST, "revoke_tokens", json!({ "appid": "wxsandbox2", "family": "stable" })).await;
    assert_eq!(r["revoked"], 1, "{r}");
    let refused = c.read(&stable).await;
    assert_eq!(errcode(&refused), 40001, "{refused}");
    assert!(refused["errmsg"].as_str().unwrap_or("").contains("revoked"), "{refused}");
    assert_eq!(errcode(&c.read(&classic).await), 0, "the classic family is left alone");
    assert_eq!(errcode(&c.read(&mine).await), 0, "and so is another account");
    assert_eq!(c.stable_token(2, false).await, stable, "an unforced call hands the revoked token out again");
    let forced = c.stable_token(2, true).await;
    assert_ne!(forced, stable);
    assert_eq!(errcode(&c.read(&forced).await), 0);

    let r = c.admin(reqwest::Method::POST, "revoke_tokens", Value::Null).await;
    assert_eq!(r["revoked"], 1, "by default every token of wxsandbox: {r}");
    assert_eq!(errcode(&c.read(&mine).await), 40001);
    let r = c.admin(reqwest::Method::POST, "revoke_tokens", json!({ "family": "some" })).await;
    assert_eq!(errcode(&r), 40097, "{r}");
}

/// Eight forced calls at once (all within 30 s of the last forced refresh).
async fn futures_join(c: &Http) -> Vec<String> {
    let (a, b, d, e) = tokio::join!(
        c.stable_token(1, true),
        c.stable_token(1, true),
        c.stable_token(1, true),
        c.stable_token(1, true)
    );
    let (f, g, h, i) = tokio::join!(
        c.stable_token(1, true),
        c.stable_token(1, true),
        c.stable_token(1, true),
        c.stable_token(1, true)
    );
    vec![a, b, d, e, f, g, h, i]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_superseded_classic_token_answers_40001_after_the_overlap() {
    let c = Http::start(Config::default()).await;
    let old = c.classic_token(1).await;
    let new = c.classic_token(1).await;
    let other = c.classic_token(2).await;
    let stable = c.stable_token(1, false).await;
    c.advance(299).await;
    assert_eq!(errcode(&c.read(&old).await), 0, "still within the overlap");
    c.advance(1).await;
    let gone = c.read(&old).await;
    assert_eq!(errcode(&gone), 40001, "{gone}");
    assert!(gone["errmsg"].as_str().unwrap_or("").contains("wxsandbox"), "{gone}");
    for t in [&new, &other, &stable] {
        assert_eq!(errcode(&c.read(t).await), 0, "another account's token and the stable one go on");
    }

    // The overlap is a setting: with 0 the previous token stops at once.
    let c = Http::start(Config { token_overlap: 0, ..Config::default() }).await;
    let old = c.classic_token(2).await;
    let new = c.classic_token(2).await;
    assert_eq!(errcode(&c.read(&old).await), 40001);
    assert_eq!(errcode(&c.read(&new).await), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_daily_quota_45009_until_clear_quota() {
    let c = Http::start(Config { daily_quota: Some(3), ..Config::default() }).await;
    let one = c.classic_token(1).await;
    let two = c.classic_token(2).await;
    for _ in 0..3 {
        assert_eq!(errcode(&c.read(&one).await), 0);
    }
    let refused = c.read(&one).await;
    assert_eq!(errcode(&refused), 45009, "{refused}");
    let msg = refused["errmsg"].as_str().unwrap_or("");
    assert!(msg.contains("daily quota") && msg.contains("clear_quota"), "{refused}");
    assert_eq!(errcode(&c.get(&one, "wxa/get_merchant_audit_info").await), 0, "each API has its own count");
    assert_eq!(errcode(&c.read(&two).await), 0, "each account has its own count");
    assert_eq!(c.accounts().await[0]["calls_today"]["cgi-bin/poi/getpoilist"], 4);

    // clear_quota acts on the token's account; an appid in the body must be that account's.
    let mismatch = c.post(&one, "cgi-bin/clear_quota", json!({ "appid": "wxsandbox2" })).await;
    assert_eq!(errcode(&mismatch), 40013, "{mismatch}");
    let cleared = c.post(&one, "cgi-bin/clear_quota", json!({ "appid": "wxsandbox" })).await;
    assert_eq!(errcode(&cleared), 0, "{cleared}");
    assert_eq!(errcode(&c.read(&one).await), 0, "back after clear_quota");
    assert_eq!(errcode(&c.post(&one, "cgi-bin/clear_quota", json!({})).await), 0);

    // A new simulated day starts from zero too.
    for _ in 0..3 {
        c.read(&two).await;
    }
    assert_eq!(errcode(&c.read(&two).await), 45009);
    c.advance(86_400).await;
    let two = c.classic_token(2).await;
    assert_eq!(errcode(&c.read(&two).await), 0);
}

#[test]
fn sandbox_runs_take_the_account_options() {
    // A --sandbox run's quota: two reads of one API fill a quota of 2, the third is refused
    // (after the client's retries), and wx::clear_quota (the declared endpoint, through the
    // client) gives it back.
    let sim = Sim::start();
    let script = sim.write(
        "q.rhai",
        r#"
        poi::list(0, 5);
        poi::list(0, 5);
        let refused = 0;
        try { poi::list(0, 5); } catch (e) { refused = e.errcode; }
        wx::clear_quota();
        print(`${refused} ${poi::list(0, 5).total_count}`);
        "#,
    );
    let out = sim.cmd().args(["run", "--sandbox", "--daily-quota", "2"]).arg(&script).output().expect("runs");
    let shown = ok(&out);
    assert!(shown.starts_with("45009 "), "{shown}");

    // `sandbox serve` hosts the accounts it is asked for and says so.
    let mut child = sim
        .std_cmd()
        .args(["sandbox", "serve", "--own-accounts", "3", "--token-overlap", "5", "--daily-quota", "10"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out).read_line(&mut line).expect("first line");
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("wxsandbox3 / sandbox-secret3"), "{line}");
}
