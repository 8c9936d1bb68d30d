//! The simulator over real HTTP: tokens, the common checks, the whole onboarding flow, the
//! documented error codes of the store mini-program, legacy migration, fault injection and the
//! admin routes. Each test starts its own sandbox on an ephemeral port.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wxscript::sandbox::{APPID, Config, SECRET, Sandbox};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
const JPG: &[u8] = b"\xFF\xD8\xFF\xE0\0\x10JFIF\0";

struct Client {
    sb: Sandbox,
    http: reqwest::Client,
    token: String,
}

impl Client {
    async fn start(cfg: Config) -> Client {
        let sb = Sandbox::start(cfg, 0).await.expect("sandbox starts");
        let http = reqwest::Client::new();
        let mut c = Client { sb, http, token: String::new() };
        let t = c.fetch_token(APPID, SECRET, "client_credential").await;
        c.token = t["access_token"].as_str().expect("token issued").to_string();
        c
    }

    async fn new() -> Client {
        Client::start(Config::default()).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}?access_token={}", self.sb.base_url(), self.token)
    }

    async fn fetch_token(&self, appid: &str, secret: &str, grant: &str) -> Value {
        let url = format!("{}/cgi-bin/token?grant_type={grant}&appid={appid}&secret={secret}", self.sb.base_url());
        json_of(self.http.get(url).send().await.expect("token request")).await
    }

    async fn get(&self, path: &str) -> Value {
        json_of(self.http.get(self.url(path)).send().await.expect("GET")).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        json_of(self.http.post(self.url(path)).body(body.to_string()).send().await.expect("POST")).await
    }

    async fn post_raw(&self, url: String, body: &'static str) -> Value {
        json_of(self.http.post(url).body(body).send().await.expect("POST")).await
    }

    async fn admin(&self, method: reqwest::Method, route: &str, body: Value) -> Value {
        let url = format!("{}/_sandbox/{route}", self.sb.base_url());
        json_of(self.http.request(method, url).body(body.to_string()).send().await.expect("admin")).await
    }

    async fn stats(&self) -> Value {
        self.admin(reqwest::Method::GET, "stats", Value::Null).await
    }

    async fn events(&self) -> Vec<Value> {
        let v = self.admin(reqwest::Method::GET, "events", Value::Null).await;
        v["events"].as_array().expect("events array").clone()
    }

    async fn upload(&self, ty: &str, bytes: &[u8]) -> Value {
        let part = reqwest::multipart::Part::bytes(bytes.to_vec()).file_name("f.png");
        let form = reqwest::multipart::Form::new().part("media", part);
        let url = format!("{}&type={ty}", self.url("cgi-bin/media/upload"));
        json_of(self.http.post(url).multipart(form).send().await.expect("upload")).await
    }

    async fn media_id(&self) -> String {
        let m = self.upload("image", PNG).await;
        m["media_id"].as_str().expect("media_id").to_string()
    }

    /// Applies with a non-sensitive category and lets the audit (delay 0) approve it.
    async fn onboard(&self) {
        let head = self.media_id().await;
        let r = self.post("wxa/apply_merchant", apply_body(&head, "示例便利店")).await;
        assert_eq!(r["errcode"], 0, "{r}");
        let a = self.get("wxa/get_merchant_audit_info").await;
        assert_eq!(a["data"]["status"], 1, "{a}");
    }

    async fn first_poi(&self, district: i64, keyword: &str) -> Value {
        let r = self.post("wxa/search_map_poi", json!({ "districtid": district, "keyword": keyword })).await;
        r["data"]["item"][0].clone()
    }

    async fn add_store(&self, map_poi_id: &str, extra: Value) -> Value {
        let mut body = json!({
            "map_poi_id": map_poi_id,
            "pic_list": pics(&["http://mmbiz.qpic.cn/sandbox/shop.jpg"]),
            "contract_phone": "020-12345678",
            "hour": "08:00-22:00",
            "credential": "91440101MA59TEST01",
        });
        if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
            b.extend(e);
        }
        self.post("wxa/add_store", body).await
    }
}

async fn json_of(r: reqwest::Response) -> Value {
    assert_eq!(r.status(), 200);
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert!(ct.starts_with("application/json"), "content-type {ct}");
    r.json().await.expect("JSON answer")
}

fn pics(urls: &[&str]) -> String {
    json!({ "list": urls }).to_string()
}

fn apply_body(head: &str, nickname: &str) -> Value {
    json!({
        "first_catid": 278, "second_catid": 279, "headimg_mediaid": head,
        "nickname": nickname, "intro": "社区便利店", "qualification_list": "", "org_code": "", "other_files": ""
    })
}

fn code(v: &Value) -> i64 {
    v["errcode"].as_i64().unwrap_or_else(|| panic!("no errcode in {v}"))
}

fn assert_err(v: &Value, expected: i64) {
    assert_eq!(code(v), expected, "{v}");
    let msg = v["errmsg"].as_str().or_else(|| v["error"].as_str()).unwrap_or_default();
    assert!(msg.contains(" rid: "), "errmsg ends with a rid: {v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn token_issue_and_refusals() {
    let c = Client::new().await;
    assert!(c.token.len() >= 40);
    let t = c.fetch_token(APPID, SECRET, "client_credential").await;
    assert_eq!(t["expires_in"], 7200);
    assert_ne!(t["access_token"], c.token.as_str());
    assert_err(&c.fetch_token(APPID, "wrong", "client_credential").await, 40125);
    assert_err(&c.fetch_token("wxother", SECRET, "client_credential").await, 40013);
    assert_err(&c.fetch_token(APPID, SECRET, "password").await, 40002);
    // A new token does not invalidate the older one.
    assert_eq!(code(&c.get("wxa/get_merchant_audit_info").await), 0);
    assert_eq!(c.stats().await["token_fetches"], 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn token_errors() {
    let mut c = Client::new().await;
    let base = c.sb.base_url();
    let r = json_of(c.http.get(format!("{base}/wxa/get_merchant_audit_info")).send().await.expect("GET")).await;
    assert_err(&r, 41001);
    let good = std::mem::replace(&mut c.token, "not-a-token".into());
    assert_err(&c.get("wxa/get_merchant_audit_info").await, 40001);
    c.token = good;
    assert_eq!(code(&c.get("wxa/get_merchant_audit_info").await), 0);
    // A token that cannot be one at all (not of the token alphabet) is malformed, not unknown.
    let url = format!("{base}/wxa/get_merchant_audit_info?access_token=%21%21");
    assert_err(&json_of(c.http.get(url).send().await.expect("GET")).await, 40014);
    c.admin(reqwest::Method::POST, "expire_tokens", Value::Null).await;
    assert_err(&c.get("wxa/get_merchant_audit_info").await, 42001);
    let t = c.fetch_token(APPID, SECRET, "client_credential").await;
    c.token = t["access_token"].as_str().expect("token").to_string();
    assert_eq!(code(&c.get("wxa/get_merchant_audit_info").await), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn common_checks() {
    let c = Client::new().await;
    assert_err(&c.get("wxa/no_such_api").await, 40066);
    assert_err(&c.get("wxa/add_store").await, 43002);
    assert_err(&c.post("wxa/get_merchant_audit_info", json!({})).await, 43001);
    assert_err(&c.post_raw(c.url("wxa/add_store"), "{not json").await, 47001);
    assert_err(&c.post_raw(c.url("wxa/add_store"), "").await, 44002);
    let r = c.post("wxa/get_store_list", json!({ "offset": 0 })).await;
    assert_err(&r, 40097);
    assert!(r["errmsg"].as_str().is_some_and(|m| m.contains("limit")), "{r}");
    let r = c.post("wxa/get_store_list", json!({ "offset": 0, "limit": 51 })).await;
    assert_err(&r, 40097);
    let r = c.post("wxa/get_store_info", json!({ "poi_id": 472671857 })).await;
    assert!(r["errmsg"].as_str().is_some_and(|m| m.contains("poi_id")), "ids travel as strings: {r}");
    let r = c.post("card/storewxa/get", json!({ "poi_id": "472671857" })).await;
    assert_err(&r, 40097);
    let r = c.post("wxa/search_map_poi", json!({ "districtid": 440105, "keyword": 5 })).await;
    assert_err(&r, 40097);
    let d = c.get("wxa/get_district").await;
    assert_eq!(d["status"], 0);
    assert_eq!(d["result"].as_array().map(Vec::len), Some(3));
    assert_err(&c.post("wxa/search_map_poi", json!({ "districtid": 999999, "keyword": "x" })).await, 40097);
}

#[tokio::test(flavor = "multi_thread")]
async fn onboarding_flow() {
    let c = Client::new().await;
    let head = c.media_id().await;
    assert_eq!(head.len(), 64);
    let img = {
        let part = reqwest::multipart::Part::bytes(JPG.to_vec()).file_name("shop.jpg");
        let form = reqwest::multipart::Form::new().part("media", part);
        let r = c.http.post(c.url("cgi-bin/media/uploadimg")).multipart(form).send().await.expect("uploadimg");
        json_of(r).await["url"].as_str().expect("url").to_string()
    };
    assert!(img.starts_with("http://mmbiz.qpic.cn/"));

    let cats = c.get("wxa/get_merchant_category").await;
    let all = cats["data"]["all_category_info"]["categories"].as_array().expect("categories").clone();
    assert_eq!(all[0]["level"], 0);
    let second = all.iter().find(|c| c["level"] == 2 && c["sensitive_type"] == 0).expect("a plain category");
    let a = c.get("wxa/get_merchant_audit_info").await;
    assert_eq!((a["data"]["audit_id"].clone(), a["data"]["status"].clone()), (json!(0), json!(0)));

    let mut body = apply_body(&head, "示例便利店");
    body["first_catid"] = second["father"].clone();
    body["second_catid"] = second["id"].clone();
    assert_eq!(code(&c.post("wxa/apply_merchant", body).await), 0);
    let a = c.get("wxa/get_merchant_audit_info").await;
    assert_eq!(a["data"]["status"], 1, "{a}");
    assert!(a["data"]["audit_id"].as_u64().is_some_and(|id| id > 0));

    let poi = c.first_poi(440105, "便利店").await;
    assert!(poi["address"].as_str().is_some_and(|a| a.starts_with("广东省广州市海珠区")), "{poi}");
    let uid = poi["sosomap_poi_uid"].as_str().expect("uid").to_string();
    assert_eq!(uid.len(), 19);
    let r = c.add_store(&uid, json!({ "pic_list": pics(&[&img]) })).await;
    assert_eq!(code(&r), 0, "{r}");
    let audit = r["data"]["audit_id"].as_u64().expect("audit_id");

    let list = c.post("wxa/get_store_list", json!({ "offset": 0, "limit": 0 })).await;
    assert_eq!(list["total_count"], 1);
    let info = &list["business_list"][0]["base_info"];
    assert_eq!(info["status"], 1, "decided on this request: {info}");
    assert_eq!(info["business_name"], poi["branch_name"]);
    assert_eq!(info["district"], "海珠区");
    assert_eq!(info["qualification_name"], "示例便利店");
    let poi_id = info["poi_id"].as_str().expect("poi_id string").to_string();
    assert_eq!(poi_id.len(), 9);

    let got = c.post("wxa/get_store_info", json!({ "poi_id": poi_id })).await;
    assert_eq!(got["business"]["base_info"]["open_time"], "08:00-22:00");

    let new_pic = "http://mmbiz.qpic.cn/sandbox/new.jpg";
    let r = c
        .post(
            "wxa/update_store",
            json!({ "poi_id": poi_id, "hour": "09:00-21:00", "contract_phone": "020-1", "pic_list": pics(&[&img, new_pic]), "card_id": "" }),
        )
        .await;
    assert_eq!(r["data"]["has_audit_id"], 1, "{r}");
    let got = c.post("wxa/get_store_info", json!({ "poi_id": poi_id })).await;
    let base = &got["business"]["base_info"];
    assert_eq!(base["open_time"], "09:00-21:00");
    assert_eq!(base["photo_list"].as_array().map(Vec::len), Some(2), "pictures swapped once approved: {base}");
    let r = c
        .post(
            "wxa/update_store",
            json!({ "poi_id": poi_id, "hour": "09:00-21:00", "contract_phone": "020-1", "pic_list": pics(&[new_pic]) }),
        )
        .await;
    assert_eq!(r["data"], json!({ "has_audit_id": 0, "audit_id": 0 }));

    let n: i64 = poi_id.parse().expect("numeric poi_id");
    let r = c.post("card/storewxa/get", json!({ "poi_id": n })).await;
    assert_eq!(code(&r), 0);
    assert!(r.get("card_id").is_none());
    assert_eq!(
        code(&c.post("card/storewxa/set", json!({ "poi_id": n, "card_id": "pabcedfg1234567hijklmn" })).await),
        0
    );
    let r = c.post("card/storewxa/get", json!({ "poi_id": n })).await;
    assert_eq!(r["card_id"], "pabcedfg1234567hijklmn");

    let events = c.events().await;
    let names: Vec<&str> = events.iter().filter_map(|e| e["Event"].as_str()).collect();
    assert_eq!(names, ["apply_merchant_audit_info", "add_store_audit_info", "modify_store_audit_info"]);
    assert_eq!(events[1]["audit_id"], audit);
    assert_eq!(events[1]["is_upgrade"], 0);
    assert_eq!(events[1]["poiid"], n);
    assert_eq!(c.sb.events().len(), 3);

    assert_eq!(code(&c.post("wxa/del_store", json!({ "poi_id": poi_id })).await), 0);
    assert_eq!(c.post("wxa/get_store_list", json!({ "offset": 0, "limit": 10 })).await["total_count"], 0);
    assert_err(&c.post("wxa/del_store", json!({ "poi_id": poi_id })).await, -1);
    assert_eq!(code(&c.add_store(&uid, json!({})).await), 0, "a deleted store's POI is free again");
}

#[tokio::test(flavor = "multi_thread")]
async fn merchant_errors() {
    let c = Client::start(Config { audit_delay: Duration::from_millis(600), ..Config::default() }).await;
    let head = c.media_id().await;
    let poi = c.first_poi(440105, "海珠区").await;
    let uid = poi["sosomap_poi_uid"].as_str().expect("uid").to_string();
    assert_err(&c.add_store(&uid, json!({})).await, 85053);
    assert_err(&c.post("wxa/modify_merchant", json!({ "headimg_mediaid": "", "intro": "x" })).await, 85053);

    assert_err(&c.post("wxa/apply_merchant", apply_body(&head, "abc")).await, 85030);
    assert_err(&c.post("wxa/apply_merchant", apply_body(&head, "便利店!!")).await, 85030);
    assert_err(&c.post("wxa/apply_merchant", apply_body(&head, "微信便利店")).await, 85033);
    assert_err(&c.post("wxa/apply_merchant", apply_body(&head, "My WeChat Shop")).await, 85033);
    assert_err(&c.post("wxa/apply_merchant", apply_body(&head, "星巴克")).await, 85029);
    assert_err(&c.post("wxa/apply_merchant", apply_body("no-such-media", "示例便利店")).await, 85056);
    let mut body = apply_body(&head, "示例便利店");
    body["second_catid"] = json!(477);
    assert_err(&c.post("wxa/apply_merchant", body).await, 40097);
    let mut body = apply_body(&head, "示例便利店");
    body["second_catid"] = json!(280);
    let r = c.post("wxa/apply_merchant", body.clone()).await;
    assert_err(&r, 40097);
    assert!(r["errmsg"].as_str().is_some_and(|m| m.contains("qualification_list")));
    body["qualification_list"] = json!(format!("{head}|{head}"));
    assert_eq!(code(&c.post("wxa/apply_merchant", body).await), 0);

    assert_err(&c.post("wxa/apply_merchant", apply_body(&head, "示例便利店")).await, 85050);
    assert_eq!(c.get("wxa/get_merchant_audit_info").await["data"]["status"], 2);
    tokio::time::sleep(Duration::from_millis(650)).await;
    assert_eq!(c.get("wxa/get_merchant_audit_info").await["data"]["status"], 1);
    assert_err(&c.post("wxa/apply_merchant", apply_body(&head, "示例便利店")).await, 40097);

    assert_err(&c.post("wxa/modify_merchant", json!({ "headimg_mediaid": "bogus", "intro": "" })).await, 85056);
    for _ in 0..5 {
        assert_eq!(
            code(&c.post("wxa/modify_merchant", json!({ "headimg_mediaid": head, "intro": "新介绍" })).await),
            0
        );
    }
    assert_err(&c.post("wxa/modify_merchant", json!({ "headimg_mediaid": "", "intro": "again" })).await, 85049);
}

#[tokio::test(flavor = "multi_thread")]
async fn merchant_rejection() {
    let c = Client::new().await;
    let head = c.media_id().await;
    assert_eq!(code(&c.post("wxa/apply_merchant", apply_body(&head, "REJECT shop")).await), 0);
    let a = c.get("wxa/get_merchant_audit_info").await;
    assert_eq!(a["data"]["status"], 3);
    assert!(a["data"]["reason"].as_str().is_some_and(|r| !r.is_empty()));
    // A failed application may be submitted again.
    assert_eq!(code(&c.post("wxa/apply_merchant", apply_body(&head, "示例便利店")).await), 0);
    assert_eq!(c.get("wxa/get_merchant_audit_info").await["data"]["status"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn store_errors() {
    let c = Client::start(Config { audit_delay: Duration::from_millis(500), ..Config::default() }).await;
    let head = c.media_id().await;
    assert_eq!(code(&c.post("wxa/apply_merchant", apply_body(&head, "示例便利店")).await), 0);
    tokio::time::sleep(Duration::from_millis(550)).await;
    assert_eq!(c.get("wxa/get_merchant_audit_info").await["data"]["status"], 1);

    let poi = c.first_poi(440105, "海珠区").await;
    let uid = poi["sosomap_poi_uid"].as_str().expect("uid").to_string();
    assert_err(&c.add_store("1234567890123456789", json!({})).await, 85055);
    let mut forged = uid.clone().into_bytes();
    forged[18] = if forged[18] == b'0' { b'1' } else { b'0' };
    assert_err(&c.add_store(&String::from_utf8(forged).expect("digits"), json!({})).await, 85055);
    assert_err(&c.add_store(&uid, json!({ "qualification_list": "unknown-media" })).await, 85056);
    assert_err(&c.add_store(&uid, json!({ "pic_list": "{\"list\":[\"ftp://x\"]}" })).await, 40097);
    assert_err(&c.add_store(&uid, json!({ "pic_list": "not json" })).await, 40097);
    assert_err(&c.add_store(&uid, json!({ "hour": "8:00-22:00" })).await, 40097);

    let r = c.add_store(&uid, json!({ "qualification_list": head })).await;
    assert_eq!(code(&r), 0, "{r}");
    assert_err(&c.add_store(&uid, json!({})).await, 85038);
    let list = c.post("wxa/get_store_list", json!({ "offset": 0, "limit": 10 })).await;
    let info = list["business_list"][0]["base_info"].clone();
    assert_eq!(info["status"], 2, "still in audit");
    let poi_id = info["poi_id"].as_str().expect("poi_id").to_string();
    let update = json!({ "poi_id": poi_id, "hour": "09:00-21:00", "contract_phone": "1", "pic_list": pics(&["http://a/b.jpg"]) });
    assert_err(&c.post("wxa/update_store", update.clone()).await, 65118);

    assert_err(&c.post("wxa/get_store_info", json!({ "poi_id": "999999999" })).await, 65115);
    let mut unknown = update.clone();
    unknown["poi_id"] = json!("999999999");
    assert_err(&c.post("wxa/update_store", unknown).await, 65115);
    assert_err(&c.post("card/storewxa/get", json!({ "poi_id": 999999999 })).await, 65115);
    assert_err(&c.post("card/storewxa/set", json!({ "poi_id": 999999999, "card_id": "p1" })).await, 65115);

    // A rejected store frees its POI.
    let second = c.post("wxa/search_map_poi", json!({ "districtid": 440106, "keyword": "天河区" })).await;
    let uid2 = second["data"]["item"][0]["sosomap_poi_uid"].as_str().expect("uid").to_string();
    assert_eq!(code(&c.add_store(&uid2, json!({ "credential": "REJECT-1" })).await), 0);
    tokio::time::sleep(Duration::from_millis(550)).await;
    let got = c.post("wxa/get_store_info", json!({ "poi_id": poi_id })).await;
    assert_eq!(got["business"]["base_info"]["status"], 1);
    let list = c.post("wxa/get_store_list", json!({ "offset": 1, "limit": 1 })).await;
    assert_eq!(list["business_list"][0]["base_info"]["status"], 3);
    assert_eq!(list["total_count"], 2);
    // (A credential of its own: the first store keeps the default one, 85041.)
    assert_eq!(code(&c.add_store(&uid2, json!({ "credential": "91440106MA59TEST02" })).await), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_migration() {
    let c = Client::new().await;
    c.onboard().await;
    let l = c.post("cgi-bin/poi/getpoilist", json!({ "begin": 0, "limit": 50 })).await;
    assert_eq!(l["total_count"], 5);
    let legacy: Vec<Value> =
        l["business_list"].as_array().expect("list").iter().map(|b| b["base_info"].clone()).collect();
    let statuses: Vec<i64> = legacy.iter().filter_map(|b| b["upgrade_status"].as_i64()).collect();
    assert_eq!(statuses, [0, 0, 1, 3, 4]);
    let by_status = |s: i64| legacy.iter().find(|b| b["upgrade_status"] == s).expect("status present").clone();
    let (todo, failed, done, banned) = (by_status(0), by_status(1), by_status(3), by_status(4));
    assert!(failed["upgrade_comment"].as_str().is_some_and(|c| !c.is_empty()));
    let mapid = |b: &Value| b["mapid"].as_str().expect("mapid").to_string();

    assert_err(&c.add_store(&mapid(&todo), json!({})).await, 85054);
    assert_err(&c.add_store(&mapid(&done), json!({ "poi_id": done["poi_id"] })).await, 85040);
    assert_err(&c.add_store(&mapid(&banned), json!({ "poi_id": banned["poi_id"] })).await, 85039);
    assert_err(&c.add_store(&mapid(&todo), json!({ "poi_id": "100000001" })).await, 65115);

    let r = c.add_store(&mapid(&todo), json!({ "poi_id": todo["poi_id"] })).await;
    assert_eq!(code(&r), 0, "{r}");
    let got = c.post("wxa/get_store_info", json!({ "poi_id": todo["poi_id"] })).await;
    assert_eq!(got["business"]["base_info"]["status"], 1);
    assert_eq!(got["business"]["base_info"]["poi_id"], todo["poi_id"]);
    let r = c.add_store(&mapid(&failed), json!({ "poi_id": failed["poi_id"], "credential": "REJECT" })).await;
    assert_eq!(code(&r), 0, "{r}");

    let l = c.post("cgi-bin/poi/getpoilist", json!({ "begin": 0, "limit": 50 })).await;
    let statuses: Vec<i64> = l["business_list"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|b| b["base_info"]["upgrade_status"].as_i64())
        .collect();
    assert_eq!(statuses, [3, 0, 1, 3, 4]);
    let events = c.events().await;
    let upgrades: Vec<&Value> = events.iter().filter(|e| e["Event"] == "add_store_audit_info").collect();
    assert_eq!(upgrades.len(), 2);
    assert_eq!(upgrades[0]["is_upgrade"], 1);
    assert_eq!(upgrades[1]["status"], 3);

    assert_eq!(code(&c.post("cgi-bin/poi/delpoi", json!({ "poi_id": banned["poi_id"] })).await), 0);
    assert_err(&c.post("cgi-bin/poi/delpoi", json!({ "poi_id": banned["poi_id"] })).await, 65115);
    let l = c.post("cgi-bin/poi/getpoilist", json!({ "begin": 1, "limit": 2 })).await;
    assert_eq!(l["total_count"], 4);
    assert_eq!(l["business_list"].as_array().map(Vec::len), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn map_poi_creation() {
    let c = Client::new().await;
    let poi = json!({
        "name": "沙盒测试便利店", "longitude": "113.323753357", "latitude": "23.0974903107",
        "province": "广东省", "city": "广州市", "district": "海珠区", "address": "新港中路397号",
        "category": "购物:便利店", "telephone": "020-12345678", "photo": "http://a/p.jpg",
        "license": "http://a/l.jpg", "introduct": "test", "districtid": "440105"
    });
    let r = c.post("wxa/create_map_poi", poi.clone()).await;
    assert_err(&r, 85053);
    assert_eq!(r["data"], Value::Null);
    c.onboard().await;
    let mut bad = poi.clone();
    bad["latitude"] = json!("123.5");
    assert_err(&c.post("wxa/create_map_poi", bad).await, 40097);
    let r = c.post("wxa/create_map_poi", poi).await;
    assert_eq!(r["error"], Value::Null, "{r}");
    let base_id = r["data"]["base_id"].as_u64().expect("base_id");
    assert!(r["data"]["rich_id"].as_u64().is_some());
    let found = c.first_poi(440105, "沙盒测试").await;
    assert_eq!(found["branch_name"], "沙盒测试便利店");
    let ev = c.events().await.into_iter().find(|e| e["Event"] == "create_map_poi_audit_info").expect("event");
    assert_eq!(ev["audit_id"], base_id);
    assert_eq!(ev["status"], 0);
    assert_eq!(ev["map_poi_id"], found["sosomap_poi_uid"]);
    let uid = found["sosomap_poi_uid"].as_str().expect("uid").to_string();
    assert_eq!(code(&c.add_store(&uid, json!({})).await), 0, "an approved created POI takes stores");
    let none = c.post("wxa/search_map_poi", json!({ "districtid": 440105, "keyword": "不存在的关键词" })).await;
    assert_eq!(none["data"]["item"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn media_errors() {
    let c = Client::new().await;
    assert_err(&c.upload("sticker", PNG).await, 40004);
    assert_err(&c.upload("image", b"plain text").await, 40005);
    assert_err(&c.upload("thumb", &[JPG, &vec![0u8; 64 << 10]].concat()).await, 40006);
    let r = c.upload("thumb", JPG).await;
    assert_eq!(r["type"], "thumb");
    let form = reqwest::multipart::Form::new().text("other", "x");
    let url = format!("{}&type=image", c.url("cgi-bin/media/upload"));
    let r = json_of(c.http.post(url).multipart(form).send().await.expect("upload")).await;
    assert_err(&r, 41005);
}

#[tokio::test(flavor = "multi_thread")]
async fn latency_and_in_flight() {
    let c = Client::new().await;
    let r = c.admin(reqwest::Method::POST, "fault", json!({ "latency_ms": 200 })).await;
    assert_eq!(r["latency_ms"], 200);
    c.admin(reqwest::Method::POST, "reset_stats", Value::Null).await;
    let started = Instant::now();
    let path = "wxa/get_merchant_audit_info";
    let (a, b, d, e, f) = tokio::join!(c.get(path), c.get(path), c.get(path), c.get(path), c.get(path));
    let answers = [a, b, d, e, f];
    let elapsed = started.elapsed();
    assert!(answers.iter().all(|a| code(a) == 0));
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    // One after another they would take a second; the in-flight count below is the exact check.
    assert!(elapsed < Duration::from_millis(1000), "served concurrently: {elapsed:?}");
    let s = c.stats().await;
    assert_eq!(s["requests"], 5);
    assert_eq!(s["by_path"]["wxa/get_merchant_audit_info"], 5);
    assert_eq!(s["max_in_flight"], 5);
    assert_eq!(s["in_flight"], 0);
    assert_eq!(s["token_fetches"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn fail_rate_injection() {
    let c = Client::start(Config { fail_rate: 1.0, ..Config::default() }).await;
    let r = c.get("wxa/get_merchant_audit_info").await;
    assert_err(&r, -1);
    assert!(r["errmsg"].as_str().is_some_and(|m| m.starts_with("system error")));
    assert!(c.fetch_token(APPID, SECRET, "client_credential").await["access_token"].is_string());
    c.admin(reqwest::Method::POST, "fault", json!({ "fail_code": 45009 })).await;
    let r = c.get("wxa/get_merchant_audit_info").await;
    assert_err(&r, 45009);
    assert!(r["errmsg"].as_str().is_some_and(|m| m.starts_with("api freq out of limit")));
    assert_err(&c.admin(reqwest::Method::POST, "fault", json!({ "fail_rate": 2.0 })).await, 40097);
    c.admin(reqwest::Method::POST, "fault", json!({ "fail_rate": 0.0 })).await;
    assert_eq!(code(&c.get("wxa/get_merchant_audit_info").await), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn device_id_quantity_has_its_documented_code() {
    let c = Client::new().await;
    let reg = json!({
        "name": "n", "phone_number": "13800000000", "email": "e@example.com", "industry_id": "0118",
        "qualification_cert_urls": [], "apply_reason": "r"
    });
    assert_eq!(code(&c.post("shakearound/account/register", reg).await), 0);
    // Decided at the next request (no audit delay).
    assert_eq!(c.get("shakearound/account/auditstatus").await["data"]["audit_status"], 2);
    for quantity in [0, -3] {
        let r = c.post("shakearound/device/applyid", json!({ "quantity": quantity, "apply_reason": "r" })).await;
        assert_err(&r, 9001022);
    }
    // The type is still the wire check's.
    let r = c.post("shakearound/device/applyid", json!({ "quantity": "3", "apply_reason": "r" })).await;
    assert_err(&r, 40097);
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_map_poi_and_picture_audits_push_their_events() {
    let c = Client::new().await;
    c.onboard().await;
    let poi = json!({
        "name": "REJECT测试店", "longitude": "113.323753357", "latitude": "23.0974903107",
        "province": "广东省", "city": "广州市", "district": "海珠区", "address": "新港中路397号",
        "category": "购物:便利店", "telephone": "020-12345678", "photo": "http://a/p.jpg",
        "license": "http://a/l.jpg", "introduct": "test", "districtid": "440105"
    });
    let r = c.post("wxa/create_map_poi", poi).await;
    let base_id = r["data"]["base_id"].as_u64().expect("base_id");
    let ev = c.events().await.into_iter().find(|e| e["Event"] == "create_map_poi_audit_info").expect("event");
    assert_eq!(ev["audit_id"], base_id);
    assert_eq!(ev["status"], 1, "1 is failed for map POIs: {ev}");
    assert!(ev["sh_remark"].as_str().is_some_and(|r| !r.is_empty()), "{ev}");
    assert_eq!(c.first_poi(440105, "REJECT测试店").await, Value::Null, "a failed POI is not on the map");

    let found = c.first_poi(440105, "海珠区").await;
    let uid = found["sosomap_poi_uid"].as_str().expect("uid").to_string();
    assert_eq!(code(&c.add_store(&uid, json!({})).await), 0);
    let list = c.post("wxa/get_store_list", json!({ "offset": 0, "limit": 1 })).await;
    let store = list["business_list"][0]["base_info"].clone();
    let poi_id = store["poi_id"].as_str().expect("poi_id").to_string();
    let update = json!({ "poi_id": poi_id, "hour": "09:00-21:00", "contract_phone": "1",
        "pic_list": pics(&["http://mmbiz.qpic.cn/sandbox/REJECT.jpg"]) });
    let r = c.post("wxa/update_store", update).await;
    assert_eq!(r["data"]["has_audit_id"], 1, "{r}");
    let got = c.post("wxa/get_store_info", json!({ "poi_id": poi_id })).await;
    assert_eq!(got["business"]["base_info"]["photo_list"], store["photo_list"], "failed pictures are not applied");
    let ev = c.events().await.into_iter().find(|e| e["Event"] == "modify_store_audit_info").expect("event");
    assert_eq!(ev["audit_id"], r["data"]["audit_id"]);
    assert_eq!(ev["status"], 3);
    assert!(ev["reason"].as_str().is_some_and(|r| !r.is_empty()), "{ev}");
}

/// The simulator's clock: advanced, tokens expire and audits fall due without waiting; it
/// starts where it is told; it never goes back.
#[tokio::test(flavor = "multi_thread")]
async fn the_clock_moves_tokens_audits_and_timestamps() {
    let start = 1_767_225_600; // 2026-01-01 08:00 +08:00
    let c = Client::start(Config {
        audit_delay: Duration::from_secs(3 * 86_400),
        start_time: Some(start),
        ..Config::default()
    })
    .await;
    let now = c.admin(reqwest::Method::GET, "clock", Value::Null).await["now"].as_u64().expect("now");
    assert!((start..start + 5).contains(&now), "starts at --start-time: {now}");
    let m = c.upload("image", PNG).await;
    assert!(m["created_at"].as_u64().is_some_and(|t| (start..start + 5).contains(&t)), "{m}");

    let head = m["media_id"].as_str().expect("media_id").to_string();
    assert_eq!(code(&c.post("wxa/apply_merchant", apply_body(&head, "示例便利店")).await), 0);
    assert_eq!(c.get("wxa/get_merchant_audit_info").await["data"]["status"], 2);
    let r = c.admin(reqwest::Method::POST, "clock", json!({ "advance": 3 * 86_400 })).await;
    assert!(r["now"].as_u64().is_some_and(|t| t >= start + 3 * 86_400), "{r}");
    let ev = c.events().await.into_iter().find(|e| e["Event"] == "apply_merchant_audit_info").expect("decided at once");
    assert!(
        ev["CreateTime"].as_u64().is_some_and(|t| t >= start + 3 * 86_400),
        "stamped with the simulator's time: {ev}"
    );
    // Three days on, the token (7200 s) has long expired.
    assert_err(&c.get("wxa/get_merchant_audit_info").await, 42001);

    for bad in [json!({ "advance": -1 }), json!({ "advance": "1" }), json!({ "forward": 1 })] {
        assert_err(&c.admin(reqwest::Method::POST, "clock", bad).await, 40097);
    }
}

fn wxscript() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wxscript"));
    cmd.env("WXSCRIPT_CONFIG", "/dev/null").env("NO_COLOR", "1");
    cmd
}

#[test]
fn serve_help_lists_the_rehearsal_words_and_the_clock() {
    let out = wxscript().args(["sandbox", "serve", "--help"]).output().expect("runs");
    let help = String::from_utf8_lossy(&out.stdout);
    for (word, _) in wxscript::sandbox::REHEARSAL_WORDS {
        assert!(help.contains(word), "{word} missing from:\n{help}");
    }
    assert!(help.contains("--start-time") && help.contains("advance"), "{help}");
}

#[test]
fn start_time_sets_the_rehearsal_clock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("t.rhai");
    // Today and the statistics window follow the simulator's clock, not this machine's: a week
    // before 2026-01-02 is within the last 90 days, 100 days before is not.
    let stats = |begin: &str, end: &str| {
        format!(
            "try {{ shake::page_stats(#{{page_id: 1, begin_date: \"{begin}\", end_date: \"{end}\"}}); }} catch (e) {{ print(`${{e.kind}} ${{e.field ?? \"\"}}`); }}\n"
        )
    };
    let text = format!(
        "print(shake::date(sandbox::advance(0)));\nprint(shake::date(sandbox::advance(86400)));\nprint(shake::date(shake::today()));\n{}{}",
        stats("2025-12-26", "2026-01-01"),
        stats("2025-09-20", "2025-09-21"),
    );
    std::fs::write(&script, text).expect("write");
    let out = wxscript()
        .args(["run", "--sandbox", "--start-time", "2026-01-01 09:00:00"])
        .arg(&script)
        .env("WXSCRIPT_CACHE_DIR", dir.path())
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "2026-01-01\n2026-01-02\n2026-01-02\napi \ninput begin_date"
    );
    let bad = wxscript().args(["sandbox", "serve", "--start-time", "yesterday"]).output().expect("runs");
    assert_eq!(bad.status.code(), Some(2), "a usage error");
}

/// Uploads and shake-around refusals the client would refuse or never send, sent raw.
#[tokio::test(flavor = "multi_thread")]
async fn raw_upload_and_shake_refusals() {
    let c = Client::new().await;
    let big = [JPG, &vec![0u8; 1 << 20]].concat();
    let part = reqwest::multipart::Part::bytes(big).file_name("big.jpg");
    let form = reqwest::multipart::Form::new().part("media", part);
    let r = json_of(c.http.post(c.url("cgi-bin/media/uploadimg")).multipart(form).send().await.expect("upload")).await;
    assert_err(&r, 40009);

    let reg = json!({
        "name": "n", "phone_number": "13800000000", "email": "e@example.com", "industry_id": "0118",
        "qualification_cert_urls": [], "apply_reason": "r"
    });
    let slow = Client::start(Config { audit_delay: Duration::from_secs(60), ..Config::default() }).await;
    assert_eq!(code(&slow.post("shakearound/account/register", reg.clone()).await), 0);
    assert_err(&slow.post("shakearound/account/register", reg.clone()).await, 9001040);
    slow.admin(reqwest::Method::POST, "clock", json!({ "advance": 60 })).await;
    assert_eq!(slow.get("shakearound/account/auditstatus").await["data"]["audit_status"], 2);
    assert_err(&slow.post("shakearound/account/register", reg).await, 9001041);

    let material = |c: &Client, bytes: Option<&[u8]>| {
        let form = match bytes {
            Some(b) => reqwest::multipart::Form::new()
                .part("media", reqwest::multipart::Part::bytes(b.to_vec()).file_name("m")),
            None => reqwest::multipart::Form::new().text("other", "x"),
        };
        let url = format!("{}&type=icon", c.url("shakearound/material/add"));
        let req = c.http.post(url).multipart(form);
        async move { json_of(req.send().await.expect("upload")).await }
    };
    assert_err(&material(&slow, None).await, 9001007);
    assert_err(&material(&slow, Some(b"plain text")).await, 9001008);

    for i in 0..1000 {
        let r = slow.post("shakearound/device/group/add", json!({ "group_name": format!("g{i}") })).await;
        assert_eq!(code(&r), 0, "{r}");
    }
    assert_err(&slow.post("shakearound/device/group/add", json!({ "group_name": "one more" })).await, 9001045);
}
