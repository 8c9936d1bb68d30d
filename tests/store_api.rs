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
