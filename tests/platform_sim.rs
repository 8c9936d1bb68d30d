//! The simulator's third-party platform over real HTTP: the ticket, the component token, the
//! pre-auth code, the admin's authorisation and its push, the code exchange, authorizer tokens
//! with their rotating refresh tokens, each authorizer's own state, revocation (61023), missing
//! permission sets (48001), and the ticket pushes to `--platform-push-url`, encrypted. Each test
//! starts its own sandbox on an ephemeral port.

mod common;

use std::sync::{Arc, Mutex};

use common::{Http, PNG};
use serde_json::{Value, json};
use wxscript::message::MsgCrypt;
use wxscript::sandbox::{COMPONENT_APPID, COMPONENT_SECRET, Config, PLATFORM_AES_KEY, authorizer_appid};

impl Http {
    async fn post_q(&self, query: &str, path: &str, body: Value) -> Value {
        let url = format!("{}?{query}", self.url(path));
        self.http.post(url).body(body.to_string()).send().await.expect("POST").json().await.expect("JSON")
    }

    /// A component call with the component token.
    async fn component(&self, ctoken: &str, call: &str, mut body: Value) -> Value {
        body["component_appid"] = json!(COMPONENT_APPID);
        self.post_q(&format!("component_access_token={ctoken}"), &format!("cgi-bin/component/{call}"), body).await
    }

    async fn admin(&self, method: reqwest::Method, route: &str, body: Value) -> Value {
        let req = self.http.request(method, self.url(&format!("_sandbox/{route}"))).body(body.to_string());
        req.send().await.expect("admin").json().await.expect("JSON")
    }

    async fn platform(&self) -> Value {
        self.admin(reqwest::Method::GET, "platform", Value::Null).await
    }

    async fn ticket(&self) -> String {
        let p = self.platform().await;
        p["component_verify_ticket"].as_str().unwrap_or_else(|| panic!("no ticket: {p}")).to_string()
    }

    async fn component_token_with(&self, ticket: &str) -> Value {
        self.post_q(
            "",
            "cgi-bin/component/api_component_token",
            json!({
                "component_appid": COMPONENT_APPID,
                "component_appsecret": COMPONENT_SECRET,
                "component_verify_ticket": ticket,
            }),
        )
        .await
    }

    async fn component_token(&self) -> String {
        let t = self.component_token_with(&self.ticket().await).await;
        t["component_access_token"].as_str().unwrap_or_else(|| panic!("no component token: {t}")).to_string()
    }

    /// Authorises `appid` through the admin route with `func_info` (`None`: every set); returns
    /// the admin route's answer.
    async fn authorize(&self, ctoken: &str, appid: &str, func_info: Option<Value>) -> Value {
        let pre = self.component(ctoken, "api_create_preauthcode", json!({})).await;
        let code = pre["pre_auth_code"].as_str().unwrap_or_else(|| panic!("no pre-auth code: {pre}"));
        assert_eq!(pre["expires_in"], 1800, "{pre}");
        let mut body = json!({ "pre_auth_code": code, "authorizer_appid": appid });
        if let Some(f) = func_info {
            body["func_info"] = f;
        }
        self.admin(reqwest::Method::POST, "authorize", body).await
    }

    /// Authorises `appid` and exchanges the code: `(access token, refresh token)`.
    async fn onboard(&self, ctoken: &str, appid: &str, func_info: Option<Value>) -> (String, String) {
        let a = self.authorize(ctoken, appid, func_info).await;
        let code = a["auth_code"].as_str().unwrap_or_else(|| panic!("no auth_code: {a}"));
        let q = self.component(ctoken, "api_query_auth", json!({ "authorization_code": code })).await;
        let info = &q["authorization_info"];
        assert_eq!(info["authorizer_appid"], appid, "{q}");
        let s = |k: &str| info[k].as_str().unwrap_or_else(|| panic!("no {k}: {q}")).to_string();
        (s("authorizer_access_token"), s("authorizer_refresh_token"))
    }

    /// The legacy store list of the account `token` belongs to.
    async fn read(&self, token: &str) -> Value {
        self.post_q(&format!("access_token={token}"), "cgi-bin/poi/getpoilist", json!({ "begin": 0, "limit": 5 })).await
    }

    async fn accounts(&self) -> Vec<Value> {
        let v = self.admin(reqwest::Method::GET, "accounts", Value::Null).await;
        let list = |k: &str| v[k].as_array().unwrap_or_else(|| panic!("{k}: {v}")).clone();
        [list("accounts"), list("authorizers")].concat()
    }
}

fn errcode(v: &Value) -> i64 {
    v["errcode"].as_i64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn ticket_to_authorizer_calls_each_on_its_own_state() {
    let h = Http::start(Config::default()).await;
    assert_eq!(h.sb.authorizer_appids(), ["wxsandboxauth1", "wxsandboxauth2", "wxsandboxauth3"]);
    let ctoken = h.component_token().await;
    let p = h.platform().await;
    let pushes = p["pushes"].as_array().expect("pushes");
    assert_eq!(pushes[0]["InfoType"], "component_verify_ticket", "{p}");
    assert_eq!(pushes[0]["AppId"], COMPONENT_APPID, "{p}");

    let a = h.authorize(&ctoken, "wxsandboxauth1", None).await;
    assert_eq!(errcode(&a), 0, "{a}");
    let code = a["auth_code"].as_str().expect("auth_code");
    assert!(a["redirect_url"].as_str().is_some_and(|u| u.contains(&format!("auth_code={code}"))), "{a}");
    let p = h.admin(reqwest::Method::GET, "platform?since=1", Value::Null).await;
    let pushed = &p["pushes"][0];
    assert_eq!(pushed["InfoType"], "authorized", "{p}");
    assert_eq!(pushed["AuthorizerAppid"], "wxsandboxauth1", "{p}");
    assert_eq!(pushed["AuthorizationCode"], code, "{p}");

    let q = h.component(&ctoken, "api_query_auth", json!({ "authorization_code": code })).await;
    let tok1 = q["authorization_info"]["authorizer_access_token"].as_str().expect("token").to_string();
    assert!(q["authorization_info"]["func_info"].as_array().is_some_and(|f| !f.is_empty()), "{q}");
    // A code is exchanged once.
    let again = h.component(&ctoken, "api_query_auth", json!({ "authorization_code": code })).await;
    assert_eq!(errcode(&again), 61009, "{again}");

    let (tok2, _) = h.onboard(&ctoken, "wxsandboxauth2", None).await;
    // Each authorizer acts on its own state: an image uploaded as the first is not the second's.
    let part = reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("f.png");
    let form = reqwest::multipart::Form::new().part("media", part);
    let url = format!("{}?access_token={tok1}&type=image", h.url("cgi-bin/media/upload"));
    let add: Value = h.http.post(url).multipart(form).send().await.expect("upload").json().await.expect("JSON");
    assert_eq!(errcode(&add), 0, "{add}");
    let accounts = h.accounts().await;
    let of = |appid: &str| accounts.iter().find(|a| a["appid"] == appid).cloned().expect("account listed");
    assert_eq!(of("wxsandboxauth1")["kind"], "authorizer");
    assert_eq!(of("wxsandboxauth1")["media"], 1, "{accounts:?}");
    assert_eq!(of("wxsandboxauth2")["media"], 0, "{accounts:?}");
    assert_eq!(of("wxsandbox")["media"], 0, "{accounts:?}");
    assert_eq!(errcode(&h.read(&tok2).await), 0);

    // The list pages the authorised accounts with their refresh tokens; count is checked.
    let list = h.component(&ctoken, "api_get_authorizer_list", json!({ "offset": 0, "count": 500 })).await;
    assert_eq!(list["total_count"], 2, "{list}");
    let page = h.component(&ctoken, "api_get_authorizer_list", json!({ "offset": 1, "count": 1 })).await;
    assert_eq!(page["list"][0]["authorizer_appid"], "wxsandboxauth2", "{page}");
    let big = h.component(&ctoken, "api_get_authorizer_list", json!({ "offset": 0, "count": 501 })).await;
    assert_eq!(errcode(&big), 40097, "{big}");
    let info = h.component(&ctoken, "api_get_authorizer_info", json!({ "authorizer_appid": "wxsandboxauth1" })).await;
    assert_eq!(info["authorization_info"]["authorizer_appid"], "wxsandboxauth1", "{info}");
    let none = h.component(&ctoken, "api_get_authorizer_info", json!({ "authorizer_appid": "wxsandboxauth3" })).await;
    assert_eq!(errcode(&none), 61003, "{none}");
}

#[tokio::test(flavor = "multi_thread")]
async fn component_calls_take_the_component_token_and_accounts_their_own() {
    let h = Http::start(Config::default()).await;
    let ctoken = h.component_token().await;
    // A component call with an access_token (no component_access_token) is refused.
    let url = format!("{}?access_token={ctoken}", h.url("cgi-bin/component/api_create_preauthcode"));
    let r: Value = h
        .http
        .post(url)
        .body(json!({ "component_appid": COMPONENT_APPID }).to_string())
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("JSON");
    assert_eq!(errcode(&r), 41001, "{r}");
    // The component token is no account's access token.
    assert_eq!(errcode(&h.read(&ctoken).await), 40001);
    // An authorizer gets no token of its own through cgi-bin/token: only the platform has one.
    let url = h.url(&format!("cgi-bin/token?grant_type=client_credential&appid={}&secret=", authorizer_appid(1)));
    let t: Value = h.http.get(url).send().await.expect("token").json().await.expect("JSON");
    assert_eq!(errcode(&t), 40013, "{t}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tickets_are_checked_and_renewed_on_the_interval() {
    let h = Http::start(Config { ticket_interval: 600, ..Config::default() }).await;
    let first = h.ticket().await;
    let bad = h.component_token_with("ticket@@@not-one").await;
    assert_eq!(errcode(&bad), 61006, "{bad}");
    let wrong = h
        .post_q(
            "",
            "cgi-bin/component/api_component_token",
            json!({ "component_appid": COMPONENT_APPID, "component_appsecret": "nope", "component_verify_ticket": first }),
        )
        .await;
    assert_eq!(errcode(&wrong), 40125, "{wrong}");
    h.admin(reqwest::Method::POST, "clock", json!({ "advance": 601 })).await;
    let second = h.ticket().await;
    assert_ne!(first, second, "a new ticket every interval");
    // The older ticket still works within its 12 hours, and not after.
    assert_eq!(errcode(&h.component_token_with(&first).await), 0);
    // An authorization code lives an hour.
    let ctoken = h.component_token().await;
    let a = h.authorize(&ctoken, "wxsandboxauth3", None).await;
    h.admin(reqwest::Method::POST, "clock", json!({ "advance": 3601 })).await;
    let late = h.component(&ctoken, "api_query_auth", json!({ "authorization_code": a["auth_code"] })).await;
    assert_eq!(errcode(&late), 61010, "{late}");
    h.admin(reqwest::Method::POST, "clock", json!({ "advance": 12 * 3600 })).await;
    let old = h.component_token_with(&first).await;
    assert_eq!(errcode(&old), 61005, "{old}");
    let p = h.platform().await;
    assert!(p["total"].as_u64().is_some_and(|n| n >= 3), "{p}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_tokens_rotate_and_revocation_answers_61023() {
    let h = Http::start(Config::default()).await;
    let ctoken = h.component_token().await;
    let (_, refresh) = h.onboard(&ctoken, "wxsandboxauth1", None).await;
    let (other, _) = h.onboard(&ctoken, "wxsandboxauth2", None).await;
    let call = |r: &str| json!({ "authorizer_appid": "wxsandboxauth1", "authorizer_refresh_token": r });
    let t = h.component(&ctoken, "api_authorizer_token", call(&refresh)).await;
    let rotated = t["authorizer_refresh_token"].as_str().expect("new refresh token").to_string();
    let access = t["authorizer_access_token"].as_str().expect("access token").to_string();
    assert_ne!(rotated, refresh);
    assert_eq!(errcode(&h.read(&access).await), 0);
    // The old refresh token is used up.
    assert_eq!(errcode(&h.component(&ctoken, "api_authorizer_token", call(&refresh)).await), 61023);

    let un = h.admin(reqwest::Method::POST, "unauthorize", json!({ "authorizer_appid": "wxsandboxauth1" })).await;
    assert_eq!(errcode(&un), 0, "{un}");
    let p = h.platform().await;
    let last = p["pushes"].as_array().and_then(|v| v.last()).cloned().expect("a push");
    assert_eq!(last["InfoType"], "unauthorized", "{p}");
    assert_eq!(last["AuthorizerAppid"], "wxsandboxauth1", "{p}");
    let after = h.component(&ctoken, "api_authorizer_token", call(&rotated)).await;
    assert_eq!(errcode(&after), 61023, "{after}");
    assert_eq!(errcode(&h.read(&access).await), 40001, "its tokens stop working");
    // The other authorizer goes on.
    assert_eq!(errcode(&h.read(&other).await), 0);
    // Expired tokens, the component's among them, answer 42001.
    h.admin(reqwest::Method::POST, "expire_tokens", Value::Null).await;
    assert_eq!(errcode(&h.read(&other).await), 42001);
    let list = h.component(&ctoken, "api_get_authorizer_list", json!({ "offset": 0, "count": 10 })).await;
    assert_eq!(errcode(&list), 42001, "{list}");
    let ctoken = h.component_token().await;
    let list = h.component(&ctoken, "api_get_authorizer_list", json!({ "offset": 0, "count": 10 })).await;
    assert_eq!(list["total_count"], 1, "{list}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_authorizer_without_the_familys_permission_set_gets_48001() {
    let h = Http::start(Config::default()).await;
    let ctoken = h.component_token().await;
    // Stores (13) but not shake-around (12).
    let (stores_only, _) = h.onboard(&ctoken, "wxsandboxauth1", Some(json!([1, 13]))).await;
    assert_eq!(errcode(&h.read(&stores_only).await), 0);
    let shake = |t: &str| format!("{}?access_token={t}", h.url("shakearound/account/auditstatus"));
    let r: Value = h.http.get(shake(&stores_only)).send().await.expect("GET").json().await.expect("JSON");
    assert_eq!(errcode(&r), 48001, "{r}");
    // Shake-around only, in WeChat's func_info shape: the store family is refused.
    let (shake_only, _) =
        h.onboard(&ctoken, "wxsandboxauth2", Some(json!([{ "funcscope_category": { "id": 12 } }]))).await;
    assert_eq!(errcode(&h.read(&shake_only).await), 48001);
    let r: Value = h.http.get(shake(&shake_only)).send().await.expect("GET").json().await.expect("JSON");
    // Not refused the permission: only not registered for shake-around yet.
    assert_eq!(errcode(&r), 9001020, "{r}");
    // Authorising again with more sets is an update, and the calls work.
    let a = h.authorize(&ctoken, "wxsandboxauth2", Some(json!([8, 12]))).await;
    assert_eq!(a["info_type"], "updateauthorized", "{a}");
    assert_eq!(errcode(&h.read(&shake_only).await), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn tickets_and_authorisations_are_pushed_encrypted_to_the_platform_url() {
    use axum::extract::{Query, State};
    use std::collections::HashMap;
    type Seen = Arc<Mutex<Vec<(HashMap<String, String>, String)>>>;
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .fallback(|State(s): State<Seen>, Query(q): Query<HashMap<String, String>>, body: String| async move {
            s.lock().expect("lock").push((q, body));
            "success"
        })
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let h = Http::start(Config {
        platform_push_url: Some(format!("http://{addr}/platform")),
        ticket_interval: 1,
        ..Config::default()
    })
    .await;
    let ctoken = h.component_token().await;
    h.authorize(&ctoken, "wxsandboxauth1", None).await;
    let crypt = MsgCrypt::new(PLATFORM_AES_KEY, COMPONENT_APPID).expect("key");
    let mut kinds = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let got = seen.lock().expect("lock").clone();
        kinds = got
            .iter()
            .map(|(q, body)| {
                assert_eq!(q.get("encrypt_type").map(String::as_str), Some("aes"), "{q:?}");
                let outer = wxscript::message::xml::read(body).expect("envelope");
                assert_eq!(outer["AppId"], COMPONENT_APPID);
                let (plain, appid) = crypt.decrypt(outer["Encrypt"].as_str().expect("Encrypt")).expect("decrypts");
                assert_eq!(appid, COMPONENT_APPID);
                let inner = wxscript::message::xml::read(&String::from_utf8_lossy(&plain)).expect("push XML");
                inner["InfoType"].as_str().unwrap_or_default().to_string()
            })
            .collect();
        if kinds.iter().filter(|k| *k == "component_verify_ticket").count() >= 2 && kinds.contains(&"authorized".into())
        {
            break;
        }
    }
    assert_eq!(kinds.first().map(String::as_str), Some("component_verify_ticket"), "one at start: {kinds:?}");
    assert!(kinds.iter().filter(|k| *k == "component_verify_ticket").count() >= 2, "{kinds:?}");
    assert!(kinds.contains(&"authorized".to_string()), "{kinds:?}");
    assert_eq!(h.sb.platform_push_counts().1, 0);
}

#[test]
fn sandbox_help_shows_the_platform_options_and_defaults() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wxscript"))
        .args(["sandbox", "serve", "--help"])
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&out.stdout);
    for want in
        ["--authorizers", "--platform-push-url", "--ticket-interval", "sandbox-platform-token", PLATFORM_AES_KEY]
    {
        assert!(help.contains(want), "{want} missing from:\n{help}");
    }
}
