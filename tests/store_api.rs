//! Every store mini-program and media function against the simulator over HTTP: the seed's
//! example requests succeed with the seed's answer shapes, and the documented error codes
//! reach scripts as catchable `e.errcode`.

mod common;
use common::*;

use std::time::Duration;
use wxscript::sandbox::Config;

#[test]
fn every_function_returns_the_documented_shape() {
    let sim = Sim::start();
    let script = format!(
        "{}{}",
        Sim::merchant_prelude(),
        r#"
        fn keys(m) { let k = m.keys(); k.sort(); k }
        print(`upload ${keys(head)}`);
        print(`upload_image ${type_of(pic)} ${pic.starts_with("http")}`);
        print(`categories ${cats.len() > 10} ${cats[0].name} ${cats[0].level}`);
        print(`audit ${keys(audit)}`);
        let d = map::districts();
        print(`districts ${d.len()} ${d[0].len() > 30} ${d[2].len() > 2000}`);
        let gz = d[1].filter(|c| c.id == "440100")[0];
        print(`city ${gz.fullname} ${type_of(gz.location.lat)} ${gz.cidx.len()}`);
        print(`search ${keys(poi)}`);
        let created = map::create_poi(#{
            name: "hardenzhang", longitude: 113.323753357, latitude: 23.0974903107,
            province: "广东省", city: "广州市", district: "海珠区", address: "TIT",
            category: "类目1:类目2", telephone: "12345678901", photo: pic, license: pic,
            introduct: "test", districtid: "440105"
        });
        print(`create_poi ${keys(created)} ${type_of(created.base_id)}`);
        let added = store::add(#{
            poi_id: "", map_poi_id: poi.sosomap_poi_uid, pic_list: [pic],
            contract_phone: "1111222222", hour: "10:00-21:00", credential: "22883878-0",
            qualification_list: head.media_id
        });
        print(`add ${keys(added)}`);
        let page = store::list(0, 10);
        print(`list ${keys(page)} ${page.total_count} ${page.business_list.len()}`);
        let s = page.business_list[0];
        let got = store::get(s.poi_id);
        print(`get ${got.poi_id == s.poi_id} ${got.status} ${type_of(got.longitude)} ${got.open_time}`);
        print(`get_map ${store::get(#{poi_id: s.poi_id}).business_name == got.business_name}`);
        let up = store::update(#{poi_id: s.poi_id, hour: "10:00-22:00", contract_phone: "123456", pic_list: [pic]});
        print(`update ${keys(up)} ${up.has_audit_id}`);
        let pic2 = media::upload_image("scripts/data/logo.png");
        let up2 = store::update(#{map_poi_id: poi.sosomap_poi_uid, poi_id: s.poi_id, hour: "10:00-21:00", contract_phone: "123456", pic_list: `{"list":["${pic2}"]}`});
        print(`update_pics ${up2.has_audit_id} ${up2.audit_id > 0}`);
        print(`get_card ${store::get_card(parse_int(s.poi_id)) == ()}`);
        store::set_card(s.poi_id, "pabcedfg1234567hijklmn");
        print(`card ${store::get_card(s.poi_id)}`);
        print(`all ${store::all().len()}`);
        let legacy = poi::list(0, 10);
        print(`poi_list ${keys(legacy)} ${legacy.total_count} ${keys(legacy.business_list[0]).contains("upgrade_status")}`);
        poi::delete(legacy.business_list[legacy.business_list.len() - 1].poi_id);
        print(`poi_delete ${poi::list(0, 10).total_count}`);
        merchant::modify(#{headimg_mediaid: "", intro: "新的介绍"});
        print("modify ok");
        store::delete(s.poi_id);
        print(`delete ${store::all().len()}`);
        let raw = wx::request("POST", "/wxa/get_store_list", #{offset: 0, limit: 1});
        print(`raw ${raw.errcode} ${raw.total_count}`);
        "#
    );
    let out = ok(&sim.run(&script));
    for expected in [
        "upload [\"created_at\", \"media_id\", \"type\"]",
        "upload_image string true",
        "categories true root 0",
        "audit [\"audit_id\", \"reason\", \"status\"]",
        "districts 3 true true",
        "city 广州市 f64 2",
        "create_poi [\"base_id\", \"rich_id\"] i64",
        "add [\"audit_id\"]",
        "list [\"business_list\", \"total_count\"] 1 1",
        "get true 1 f64 10:00-21:00",
        "get_map true",
        "update [\"audit_id\", \"has_audit_id\"] 0",
        "update_pics 1 true",
        "get_card true",
        "card pabcedfg1234567hijklmn",
        "all 1",
        "poi_list [\"business_list\", \"total_count\"] 5 true",
        "poi_delete 4",
        "modify ok",
        "delete 0",
        "raw 0 0",
    ] {
        assert!(out.lines().any(|l| l.trim() == expected), "missing line {expected:?} in:\n{out}");
    }
    assert!(out.contains("search [\"address\", \"branch_name\", \"card_id_list\", \"category\", \"data_supply\", \"latitude\", \"longitude\", \"pic_urls\", \"sosomap_poi_uid\", \"telephone\"]"), "{out}");
}

#[test]
fn wire_encoding_follows_the_documents() {
    // The simulator refuses what is not in WeChat's wire form (pic_list as a {"list":..}
    // string, ids as strings, media ids joined by |), so success proves the encoding.
    let sim = Sim::start();
    let script = format!(
        "{}{}",
        Sim::merchant_prelude(),
        r#"
        let m2 = media::upload("scripts/data/shop.jpg", "image");
        let r = store::add(#{map_poi_id: parse_int(poi.sosomap_poi_uid), pic_list: [pic, pic],
            contract_phone: "1", hour: "00:00-24:00", credential: "c", qualification_list: [head.media_id, m2.media_id]});
        let s = store::all()[0];
        print(`${s.photo_list.len()} ${s.open_time}`);
        "#
    );
    let out = ok(&sim.run(&script));
    assert_eq!(out.trim(), "2 00:00-24:00");
}

fn codes_script(body: &str) -> String {
    format!(
        "fn code(f) {{ try {{ f.call(); return \"ok\"; }} catch (e) {{ if e.kind != \"api\" {{ return `${{e.kind}}: ${{e.errmsg}}`; }} return `${{e.errcode}}`; }} }}\n{body}"
    )
}

#[test]
fn documented_error_codes_are_catchable() {
    let sim = Sim::with(Config { audit_delay: Duration::from_millis(1500), ..Config::default() });
    let script = codes_script(
        r#"
        let head = media::upload("scripts/data/logo.png", "image");
        let pic = media::upload_image("scripts/data/shop.jpg");
        let cats = merchant::categories();
        let cat = cats.filter(|c| c.level == 2 && c.sensitive_type == 0)[0];
        let sens = cats.filter(|c| c.level == 2 && c.sensitive_type == 1)[0];
        let poi = map::search_poi(#{districtid: 440105, keyword: "店"})[0];
        let req = #{map_poi_id: poi.sosomap_poi_uid, pic_list: [pic], contract_phone: "1", hour: "10:00-21:00", credential: "c1"};
        let app = #{first_catid: cat.father, second_catid: cat.id, headimg_mediaid: head.media_id, nickname: "测试便利店", intro: "测试"};
        print(`85053 ${code(|| store::add(req))}`);
        print(`85053m ${code(|| merchant::modify(#{headimg_mediaid: "", intro: "x"}))}`);
        print(`85053d ${code(|| store::delete("1"))}`);
        print(`85030 ${code(|| merchant::apply(app + #{nickname: "好店!!"}))}`);
        print(`85033 ${code(|| merchant::apply(app + #{nickname: "微信小店"}))}`);
        print(`85029 ${code(|| merchant::apply(app + #{nickname: "星巴克"}))}`);
        print(`85056 ${code(|| merchant::apply(app + #{headimg_mediaid: "no-such-media"}))}`);
        print(`sensitive ${code(|| merchant::apply(app + #{first_catid: sens.father, second_catid: sens.id}))}`);
        print(`apply ${code(|| merchant::apply(app))}`);
        print(`85050 ${code(|| merchant::apply(app))}`);
        while merchant::audit_info().status == 2 { sleep(0.2); }
        print(`approved ${merchant::audit_info().status}`);
        print(`85055 ${code(|| store::add(req + #{map_poi_id: "1234567890123456789"}))}`);
        print(`85056s ${code(|| store::add(req + #{qualification_list: ["no-such-media"]}))}`);
        print(`add ${code(|| store::add(req))}`);
        print(`85038 ${code(|| store::add(req))}`);
        let s = store::all()[0];
        print(`65118 ${code(|| store::update(#{poi_id: s.poi_id, hour: "09:00-21:00", contract_phone: "1", pic_list: [pic]}))}`);
        print(`65115 ${code(|| store::get("999999999"))}`);
        print(`65115u ${code(|| store::update(#{poi_id: "999999999", hour: "09:00-21:00", contract_phone: "1", pic_list: [pic]}))}`);
        print(`-1 ${code(|| store::delete("999999999"))}`);
        // del_store's -1 means "delete failed": said so, and not retried as "system busy".
        let before = sandbox::stats().by_path["wxa/del_store"];
        try { store::delete("999999999"); } catch (e) { print(`del hint ${e.hint.contains("delete failed")}`); }
        print(`del sends ${sandbox::stats().by_path["wxa/del_store"] - before}`);
        let legacy = poi::list(0, 10).business_list;
        let migrated = legacy.filter(|p| p.upgrade_status == 3)[0];
        let forbidden = legacy.filter(|p| p.upgrade_status == 4)[0];
        let pending = legacy.filter(|p| p.upgrade_status == 0)[0];
        print(`85040 ${code(|| store::add(req + #{poi_id: migrated.poi_id, map_poi_id: migrated.mapid}))}`);
        print(`85039 ${code(|| store::add(req + #{poi_id: forbidden.poi_id, map_poi_id: forbidden.mapid}))}`);
        print(`85054 ${code(|| store::add(req + #{map_poi_id: pending.mapid}))}`);
        print(`migrate ${code(|| store::add(req + #{poi_id: pending.poi_id, map_poi_id: pending.mapid}))}`);
        "#,
    );
    let out = ok(&sim.run(&script));
    for expected in [
        "85053 85053",
        "85053m 85053",
        "85053d 85053",
        "85030 85030",
        "85033 85033",
        "85029 85029",
        "85056 85056",
        "sensitive 40097",
        "apply ok",
        "85050 85050",
        "approved 1",
        "85055 85055",
        "85056s 85056",
        "add ok",
        "85038 85038",
        "65118 65118",
        "del hint true",
        "del sends 1",
        "65115 65115",
        "65115u 65115",
        "-1 -1",
        "85040 85040",
        "85039 85039",
        "85054 85054",
        "migrate ok",
    ] {
        assert!(out.lines().any(|l| l.trim() == expected), "missing {expected:?} in:\n{out}");
    }
}

#[test]
fn rejected_audits_can_be_rehearsed() {
    let sim = Sim::start();
    let out = ok(&sim.run(
        r#"
        let head = media::upload("scripts/data/logo.png", "image");
        let cat = merchant::categories().filter(|c| c.level == 2 && c.sensitive_type == 0)[0];
        merchant::apply(#{first_catid: cat.father, second_catid: cat.id, headimg_mediaid: head.media_id, nickname: "REJECT shop", intro: "x"});
        let a = merchant::audit_info();
        print(`${a.status} ${a.reason != ""}`);
        "#,
    ));
    assert_eq!(out.trim(), "3 true");
}

#[test]
fn create_poi_errors_are_thrown_from_the_error_field() {
    let sim = Sim::start();
    let out = ok(&sim.run(
        r#"
        try {
            map::create_poi(#{name: "n", longitude: 113.3, latitude: 23.1, province: "广东省", city: "广州市",
                district: "海珠区", address: "a", category: "购物:便利店", telephone: "1", photo: "http://p", license: "http://l",
                introduct: "i", districtid: 440105});
        } catch (e) { print(`${e.kind} ${e.errcode} ${e.api} ${e.errmsg != ""}`); }
        "#,
    ));
    assert_eq!(out.trim(), "api 85053 wxa/create_map_poi true");
}

#[test]
fn the_demo_recipe_onboards_a_store() {
    let sim = Sim::start();
    let o = sim.cmd().args(["run", "--sandbox", "scripts/onboard_store.rhai"]).output().expect("runs");
    let out = ok(&o);
    assert!(out.contains("merchant approved"), "{out}");
    assert!(out.contains("store submitted for audit"), "{out}");
    assert!(out.contains("1 store(s):"), "{out}");
    assert!(out.contains("approved"), "{out}");
    // And against a separately started simulator, with an audit that takes a moment.
    let slow = Sim::with(Config { audit_delay: Duration::from_secs(1), ..Config::default() });
    let out = ok(&slow.cmd().args(["run", "scripts/onboard_store.rhai"]).output().expect("runs"));
    assert!(out.contains("merchant approved"), "{out}");
    let again = ok(&slow.cmd().args(["run", "scripts/onboard_store.rhai"]).output().expect("runs"));
    assert!(again.contains("merchant already approved"), "{again}");
    assert!(again.contains("this place already has a store"), "{again}");
}

/// The merchant refusals WeChat decides by judging a name or an intro, asked for by the
/// rehearsal words, and the monthly limit and media lifetime on the simulator's clock.
#[test]
fn rehearsal_words_monthly_limit_and_media_expiry() {
    let sim = Sim::start();
    let script = codes_script(
        r#"
        let head = media::upload("scripts/data/logo.png", "image");
        let licence = media::upload("scripts/data/shop.jpg", "image");
        let cat = merchant::categories().filter(|c| c.level == 2 && c.sensitive_type == 0)[0];
        let app = #{first_catid: cat.father, second_catid: cat.id, headimg_mediaid: head.media_id, nickname: "DOCS便利店", intro: "社区便利店"};
        print(`85053u ${code(|| store::update(#{poi_id: "472671858", hour: "09:00-21:00", contract_phone: "1", pic_list: ["http://p/1.jpg"]}))}`);
        print(`85031 ${code(|| merchant::apply(app + #{nickname: "BANNED便利店"}))}`);
        print(`85036 ${code(|| merchant::apply(app + #{nickname: "示例便利店", intro: "FAKE 官方旗舰"}))}`);
        print(`85024 ${code(|| merchant::apply(app))}`);
        print(`85024o ${code(|| merchant::apply(app + #{org_code: licence.media_id}))}`);
        print(`docs ${code(|| merchant::apply(app + #{org_code: licence.media_id, other_files: [licence.media_id]}))}`);
        print(`status ${merchant::audit_info().status}`);
        print(`85036m ${code(|| merchant::modify(#{headimg_mediaid: "", intro: "FAKE"}))}`);
        for i in 0..5 { merchant::modify(#{headimg_mediaid: "", intro: `介绍 ${i}`}); }
        print(`85049 ${code(|| merchant::modify(#{headimg_mediaid: "", intro: "again"}))}`);
        sandbox::advance(31 * 86400);
        print(`next month ${code(|| merchant::modify(#{headimg_mediaid: "", intro: "again"}))}`);
        let fresh = media::upload("scripts/data/logo.png", "image");
        sandbox::advance(3 * 86400 - 60);
        print(`media alive ${code(|| merchant::modify(#{headimg_mediaid: fresh.media_id, intro: ""}))}`);
        sandbox::advance(61);
        print(`85056 ${code(|| merchant::modify(#{headimg_mediaid: fresh.media_id, intro: ""}))}`);
        "#,
    );
    let out = ok(&sim.run(&script));
    for expected in [
        "85053u 85053",
        "85031 85031",
        "85036 85036",
        "85024 85024",
        "85024o 85024",
        "docs ok",
        "status 1",
        "85036m 85036",
        "85049 85049",
        "next month ok",
        "media alive ok",
        "85056 85056",
    ] {
        assert!(out.lines().any(|l| l.trim() == expected), "missing {expected:?} in:\n{out}");
    }
}

#[test]
fn refused_merchant_application_has_status_4() {
    let sim = Sim::start();
    let out = ok(&sim.run(
        r#"
        let head = media::upload("scripts/data/logo.png", "image");
        let cat = merchant::categories().filter(|c| c.level == 2 && c.sensitive_type == 0)[0];
        merchant::apply(#{first_catid: cat.father, second_catid: cat.id, headimg_mediaid: head.media_id, nickname: "REFUSE shop", intro: "x"});
        let a = merchant::audit_info();
        print(`${a.status} ${a.reason != ""}`);
        "#,
    ));
    assert_eq!(out.trim(), "4 true");
}

/// A credential belongs to one store; a legacy store waiting for migration refuses a new store
/// at its place, whichever map POI names it; update_store's own codes.
#[test]
fn store_codes_under_their_conditions() {
    let sim = Sim::start();
    let script = codes_script(&format!(
        "{}{}",
        Sim::merchant_prelude(),
        r#"
        let pois = map::search_poi(#{districtid: 440105, keyword: "店"});
        let req = #{map_poi_id: pois[0].sosomap_poi_uid, pic_list: [pic], contract_phone: "1", hour: "10:00-21:00", credential: "91440105MA5C0001"};
        print(`add ${code(|| store::add(req))}`);
        print(`85041 ${code(|| store::add(req + #{map_poi_id: pois[1].sosomap_poi_uid}))}`);
        print(`other credential ${code(|| store::add(req + #{map_poi_id: pois[1].sosomap_poi_uid, credential: "91440105MA5C0002"}))}`);
        let waiting = poi::all().filter(|p| p.upgrade_status == 0)[0];
        print(`85054 own POI ${code(|| store::add(req + #{map_poi_id: waiting.mapid, credential: "c3"}))}`);
        // The same shop drawn on the map again is still the legacy store's place.
        let area = district::find(`${waiting.province}${waiting.city}${waiting.district}`);
        let r = map::create_poi(#{name: "重画的老店", longitude: waiting.longitude, latitude: waiting.latitude,
            province: waiting.province, city: waiting.city, district: waiting.district, address: waiting.address,
            category: "购物:便利店", telephone: "020-12345678", photo: pic, license: pic, introduct: "x", districtid: area.id});
        let again = map::search_poi(#{districtid: parse_int(area.id), keyword: "重画的老店"})[0];
        print(`85054 same place ${code(|| store::add(req + #{map_poi_id: again.sosomap_poi_uid, credential: "c4"}))}`);
        let s = store::all()[0];
        let bad = #{poi_id: s.poi_id, hour: "9-21", contract_phone: "1", pic_list: `{"list":["${pic}"]}`};
        print(`40097 ${code(|| wx::request("POST", "wxa/update_store", bad))}`);
        "#,
    ));
    let out = ok(&sim.run(&script));
    for expected in
        ["add ok", "85041 85041", "other credential ok", "85054 own POI 85054", "85054 same place 85054", "40097 40097"]
    {
        assert!(out.lines().any(|l| l.trim() == expected), "missing {expected:?} in:\n{out}");
    }
}

/// The 5,001st store: 5,000 added straight over HTTP, the last through the client.
#[test]
fn the_five_thousand_and_first_store_is_refused() {
    let sim = Sim::start();
    let added = sim.rt.block_on(async {
        let http = reqwest::Client::new();
        let base = sim.base.clone();
        let get = |url: String| {
            let http = http.clone();
            async move { http.get(url).send().await.expect("GET").json::<serde_json::Value>().await.expect("JSON") }
        };
        let t = get(format!(
            "{base}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            wxscript::sandbox::APPID,
            wxscript::sandbox::SECRET
        ))
        .await;
        let token = t["access_token"].as_str().expect("token").to_string();
        let post = |path: &str, body: serde_json::Value| {
            let (http, url) = (http.clone(), format!("{base}/{path}?access_token={token}"));
            async move { http.post(url).json(&body).send().await.expect("POST").json::<serde_json::Value>().await.expect("JSON") }
        };
        let part = reqwest::multipart::Part::bytes(std::fs::read(repo_root().join("scripts/data/logo.png")).expect("logo"))
            .file_name("logo.png");
        let head = http
            .post(format!("{base}/cgi-bin/media/upload?access_token={token}&type=image"))
            .multipart(reqwest::multipart::Form::new().part("media", part))
            .send()
            .await
            .expect("upload")
            .json::<serde_json::Value>()
            .await
            .expect("JSON");
        let apply = serde_json::json!({"first_catid": 278, "second_catid": 279, "headimg_mediaid": head["media_id"],
            "nickname": "五千家店", "intro": "连锁"});
        assert_eq!(post("wxa/apply_merchant", apply).await["errcode"], 0);
        let districts = get(format!("{base}/wxa/get_district?access_token={token}")).await;
        let ids: Vec<i64> = districts["result"][2]
            .as_array()
            .expect("districts")
            .iter()
            .filter_map(|d| d["id"].as_str()?.parse().ok())
            .collect();
        let mut added = 0;
        for d in ids {
            let found = post("wxa/search_map_poi", serde_json::json!({"districtid": d, "keyword": "店"})).await;
            for item in found["data"]["item"].as_array().into_iter().flatten() {
                if added == 5000 {
                    // A free place for the client's attempt.
                    return (added, item["sosomap_poi_uid"].as_str().expect("uid").to_string());
                }
                let body = serde_json::json!({"map_poi_id": item["sosomap_poi_uid"], "pic_list": "{\"list\":[\"http://p/1.jpg\"]}",
                    "contract_phone": "1", "hour": "10:00-21:00", "credential": format!("C{added:05}")});
                if post("wxa/add_store", body).await["errcode"] == 0 {
                    added += 1;
                }
            }
        }
        (added, String::new())
    });
    assert_eq!(added.0, 5000);
    let out = ok(&sim.run(&codes_script(&format!(
        r#"
        print(`stores ${{store::list(0, 1).total_count}}`);
        print(`85042 ${{code(|| store::add(#{{map_poi_id: "{}", pic_list: ["http://p/2.jpg"], contract_phone: "1", hour: "10:00-21:00", credential: "C-LAST"}}))}}`);
        "#,
        added.1
    ))));
    assert!(out.contains("stores 5000"), "{out}");
    assert!(out.contains("85042 85042"), "{out}");
}
