//! Shake-around: the built binary against the simulator. Every function's happy path, every
//! documented limit refused locally (nothing sent), the account and device id reviews, the id
//! quota, cursor paging, dates in UTC+8 whatever the zone, shakes and their events, the
//! simulator's refusals, and the `beacons.rhai` recipe.

mod common;
use common::*;

use std::time::Duration;

use wxscript::sandbox::Config;

/// Script helpers: `ok(cond, what)` throws what failed; `approve()` registers the account (moving
/// the simulator's clock past a review delay).
const PRELUDE: &str = r#"
fn ok(c, what) { if !c { throw `check failed: ${what}`; } }
fn approve() {
    shake::register(#{name: "张三", phone_number: "13512345678", email: "a@example.com", industry_id: "0118",
                      qualification_cert_urls: [], apply_reason: "测试"});
    let s = shake::audit_status();
    if s.audit_status == 1 { sandbox::advance(3600); s = shake::audit_status(); }
    if s.audit_status != 2 { throw `account not approved: ${s}`; }
}
fn caught(f) {
    try { f.call(); return #{kind: "none"}; } catch (e) { return e; }
}
"#;

fn script(body: &str) -> String {
    format!("{PRELUDE}\n{body}")
}

#[test]
fn every_function_happy_path() {
    let sim = Sim::start();
    let out = ok(&sim.run(&script(
        r#"
        // Account
        let e = caught(|| shake::audit_status());
        ok(e.kind == "api" && e.errcode == 9001020, `no application yet: ${e}`);
        shake::register(#{name: "zhang_san", phone_number: "13512345678", email: "weixin123@qq.com",
            industry_id: "0118", qualification_cert_urls: ["http://shp.qpic.cn/wx_shake_bus/0/1428565236d03d864b7f43db9ce34df5f720509d0e/0"],
            apply_reason: "test"});
        let s = shake::audit_status();
        ok(s.audit_status == 2 && s.audit_time > 0 && s.apply_time > 0, `approved: ${s}`);

        // Device ids
        let a = shake::apply_ids(#{quantity: 3, apply_reason: "Test", comment: "Only for test", poi_id: 285633617});
        ok(a.apply_id > 0 && a.audit_status == 1 && type_of(a.audit_comment) == "string", `apply: ${a}`);
        let st = shake::apply_status(a.apply_id);
        ok(st.audit_status == 2 && st.audit_time > 0, `quick review: ${st}`);
        ok(shake::apply_status(#{apply_id: a.apply_id}).audit_status == 2, "map form");
        let b = shake::apply_ids(#{quantity: 2, apply_reason: "more"});

        let all = shake::all_devices();
        ok(all.len() == 5, `all devices: ${all.len()}`);
        let mine = shake::all_devices(a.apply_id);
        ok(mine.len() == 3, `devices of the first application: ${mine.len()}`);
        let d = mine[0];
        for k in ["device_id", "uuid", "major", "minor", "comment", "status", "poi_id", "last_active_time"] {
            ok(d.contains(k), `device field ${k}`);
        }
        ok(d.poi_id == 285633617 && d.status == 0, `device: ${d}`);
        let p1 = shake::search_devices(#{type: 1, device_identifiers: [#{device_id: d.device_id}, #{uuid: d.uuid, major: mine[1].major, minor: mine[1].minor}]});
        ok(p1.devices.len() == 2 && p1.total_count == 5, `type 1: ${p1}`);
        let p2 = shake::search_devices(#{type: 2, last_seen: 0, count: 2});
        ok(p2.devices.len() == 2 && p2.total_count == 5, `type 2: ${p2}`);
        let p3 = shake::search_devices(#{type: 3, apply_id: b.apply_id, last_seen: 0, count: 50});
        ok(p3.devices.len() == 2 && p3.total_count == 2, `type 3: ${p3}`);

        shake::update_device(#{device_identifier: #{device_id: d.device_id}, comment: "收银台旁"});
        shake::bind_location(#{device_identifier: #{uuid: d.uuid, major: d.major, minor: d.minor}, poi_id: 285633920});
        shake::bind_location(#{device_identifier: #{device_id: mine[1].device_id}, poi_id: 0});
        shake::bind_location(#{device_identifier: #{device_id: mine[2].device_id}, poi_id: 123, type: 2, poi_appid: "wxother"});
        let d2 = shake::search_devices(#{type: 1, device_identifiers: [#{device_id: d.device_id}]}).devices[0];
        ok(d2.comment == "收银台旁" && d2.poi_id == 285633920, `updated: ${d2}`);

        // Material and pages
        let icon = shake::upload_material("scripts/data/logo.png", "icon");
        ok(icon.starts_with("http"), `icon url ${icon}`);
        let lic = shake::upload_material("scripts/data/shop.jpg", "license");
        ok(lic.starts_with("http"), `license url ${lic}`);
        let pg = shake::add_page(#{title: "主标题", description: "副标题", page_url: "https://zb.weixin.qq.com", icon_url: icon, comment: "数据示例"});
        ok(pg.page_id > 0, `page ${pg}`);
        let pg2 = shake::add_page(#{title: "second", description: "two", page_url: "https://example.com/2", icon_url: icon});
        let up = shake::update_page(#{page_id: pg.page_id, title: "新标题", description: "副标题", page_url: "https://zb.weixin.qq.com/x", icon_url: icon});
        ok(up.page_id == pg.page_id, `update page: ${up}`);
        let s1 = shake::search_pages(#{type: 1, page_ids: [pg.page_id]});
        ok(s1.pages.len() == 1 && s1.pages[0].title == "新标题" && s1.pages[0].comment == "", `search 1: ${s1}`);
        for k in ["page_id", "title", "description", "icon_url", "page_url", "comment"] { ok(s1.pages[0].contains(k), `page field ${k}`); }
        let s2 = shake::search_pages(#{type: 2, begin: 0, count: 1});
        ok(s2.pages.len() == 1 && s2.total_count == 2, `search 2: ${s2}`);
        ok(shake::all_pages().len() == 2, "all pages");

        // Relations both ways
        shake::bind_pages(#{device_identifier: #{device_id: d.device_id}, page_ids: [pg.page_id, pg2.page_id]});
        shake::bind_pages(#{device_identifier: #{device_id: mine[1].device_id}, page_ids: [pg.page_id]});
        let r1 = shake::search_relations(#{type: 1, device_identifier: #{device_id: d.device_id}});
        ok(r1.total_count == 2 && r1.relations[0].device_id == d.device_id, `relations of a device: ${r1}`);
        for k in ["device_id", "uuid", "major", "minor", "page_id"] { ok(r1.relations[0].contains(k), `relation field ${k}`); }
        let r2 = shake::search_relations(#{type: 2, page_id: pg.page_id, begin: 0, count: 10});
        ok(r2.total_count == 2 && r2.relations.len() == 2, `relations of a page: ${r2}`);
        shake::bind_pages(#{device_identifier: #{device_id: d.device_id}, page_ids: [pg.page_id]});
        shake::delete_page(pg2.page_id);
        ok(shake::all_pages().len() == 1, "page deleted");

        // Shake info
        let sh = sandbox::shake(d, "oVDmXjp7y8aG2AlBuRpOZvsandbox");
        let info = shake::shake_info(#{ticket: sh.ticket, need_poi: 1});
        ok(info.page_id == pg.page_id && info.openid == "oVDmXjp7y8aG2AlBuRpOZvsandbox", `info: ${info}`);
        ok(info.beacon_info.major == d.major && info.beacon_info.minor == d.minor && info.beacon_info.uuid == d.uuid, `beacon: ${info}`);
        ok(type_of(info.beacon_info.distance) == "f64" && info.poi_id == 285633920, `distance and poi: ${info}`);
        ok(!shake::shake_info(#{ticket: sh.ticket}).contains("poi_id"), "poi_id only with need_poi");
        ok(shake::search_devices(#{type: 1, device_identifiers: [#{device_id: d.device_id}]}).devices[0].status == 2, "shaken device is active");

        // Statistics
        let day = shake::today() - 86400;
        let rows = shake::device_stats(#{device_identifier: #{device_id: d.device_id}, begin_date: day - 6 * 86400, end_date: day});
        ok(rows.len() == 7 && rows[0].ftime == day - 6 * 86400 && rows[6].ftime == day, `device stats: ${rows}`);
        for k in ["ftime", "shake_pv", "shake_uv", "click_pv", "click_uv"] { ok(rows[0].contains(k), `stats field ${k}`); }
        let again = shake::device_stats(#{device_identifier: #{device_id: d.device_id}, begin_date: day - 6 * 86400, end_date: day});
        ok(again == rows, "statistics are deterministic");
        let list = shake::device_stats_list(#{date: day, page_index: 1});
        ok(list.date == day && list.page_index == 1 && list.total_count == list.devices.len(), `device list: ${list}`);
        for r in list.devices { ok(r.shake_pv + r.click_pv > 0, `zero rows omitted: ${r}`); }
        let prow = shake::page_stats(#{page_id: pg.page_id, begin_date: day, end_date: day});
        ok(prow.len() == 1 && prow[0].ftime == day, `page stats: ${prow}`);
        let plist = shake::page_stats_list(#{date: day, page_index: 1});
        ok(plist.date == day && plist.contains("pages") && plist.total_count == plist.pages.len(), `page list: ${plist}`);

        // Groups
        let g = shake::add_group(#{group_name: "test"});
        ok(g.group_id > 0 && g.group_name == "test", `group ${g}`);
        shake::update_group(#{group_id: g.group_id, group_name: "一楼"});
        shake::update_group(g.group_id, "一楼东");
        let g2 = shake::add_group(#{group_name: "二楼"});
        let gl = shake::list_groups(#{begin: 0, count: 10});
        ok(gl.total_count == 2 && gl.groups[0].group_name == "一楼东", `groups: ${gl}`);
        ok(shake::list_groups(1, 10).groups.len() == 1 && shake::all_groups().len() == 2, "list forms");
        shake::add_group_devices(#{group_id: g.group_id, device_identifiers: all.map(|x| #{device_id: x.device_id})});
        let gd = shake::group_detail(#{group_id: g.group_id, begin: 0, count: 3});
        ok(gd.group_id == g.group_id && gd.group_name == "一楼东" && gd.total_count == 5 && gd.devices.len() == 3, `detail: ${gd}`);
        shake::remove_group_devices(#{group_id: g.group_id, device_identifiers: [#{device_id: d.device_id}]});
        ok(shake::group_detail(#{group_id: g.group_id, begin: 0, count: 10}).total_count == 4, "removed one");
        shake::delete_group(g2.group_id);
        ok(shake::all_groups().len() == 1, "group deleted");

        // Lottery
        let now = shake::today();
        let l = shake::add_lottery(#{use_template: 1, logo_url: "https://example.com/logo.png", title: "摇红包", desc: "抢红包",
            onoff: 0, begin_time: "2026-01-01 10:00:00", expire_time: now + 86400 * 30, sponsor_appid: "wxsponsor",
            total: 3, jump_url: "https://example.com/done", key: "0123456789abcdef0123456789abcdef"});
        ok(type_of(l.lottery_id) == "string" && l.page_id > 0, `lottery ${l}`);
        let pb = shake::set_prize_bucket(#{lottery_id: l.lottery_id, mchid: 10000098, sponsor_appid: "wxsponsor",
            prize_info_list: [#{ticket: "t1"}, #{ticket: "t2"}]});
        ok(pb.success_num == 2 && pb.repeat_ticket_list.len() == 0, `bucket: ${pb}`);
        let pb2 = shake::set_prize_bucket(#{lottery_id: l.lottery_id, mchid: "10000098", sponsor_appid: "wxsponsor",
            prize_info_list: [#{ticket: "t2"}, #{ticket: "t3"}]});
        ok(pb2.success_num == 1 && pb2.repeat_ticket_list.len() == 1 && pb2.repeat_ticket_list[0].ticket == "t2", `duplicates reported: ${pb2}`);
        shake::set_lottery_switch(l.lottery_id, 1);
        let q = shake::query_lottery(l.lottery_id);
        ok(q.onoff == 1 && q.total == 3 && q.lottery_id == l.lottery_id && !q.contains("errcode"), `query: ${q}`);
        ok(q.begin_time == 1767232800, `begin_time in UTC+8: ${q.begin_time}`);
        shake::set_lottery_switch(#{lottery_id: l.lottery_id, onoff: 0});
        ok(shake::query_lottery(#{lottery_id: l.lottery_id}).onoff == 0, "switched off");
        print("all good");
        "#,
    )));
    assert!(out.contains("all good"), "{out}");
    let stats = sim.stats();
    assert_eq!(stats["by_path"]["shakearound/lottery/addlotteryinfo"], 1, "{stats}");
}

/// (call, field): each must throw kind "input" naming the field, before any request.
const BAD: &[(&str, &str)] = &[
    // register
    (
        r#"shake::register(#{name: "abcdefghijabcdefghijabcdefghijabcdefghijX", phone_number: "1", email: "e", industry_id: "0118", qualification_cert_urls: [], apply_reason: "r"})"#,
        "name",
    ),
    (
        r#"shake::register(#{name: "张三张三张三张三张三张三张三张三张三张三张", phone_number: "1", email: "e", industry_id: "0118", qualification_cert_urls: [], apply_reason: "r"})"#,
        "name",
    ),
    (
        r#"shake::register(#{name: "n", phone_number: "1", email: "e", industry_id: "0118", qualification_cert_urls: [], apply_reason: "理".pad(251, "由")})"#,
        "apply_reason",
    ),
    (
        r#"shake::register(#{name: "n", phone_number: "1", email: "e", industry_id: 118, qualification_cert_urls: [], apply_reason: "r"})"#,
        "industry_id",
    ),
    (
        r#"shake::register(#{name: "n", phone_number: "1", email: "e", industry_id: "0118", qualification_cert_urls: ["ftp://x/y"], apply_reason: "r"})"#,
        "qualification_cert_urls[0]",
    ),
    (
        r#"shake::register(#{name: "n", phone_number: "1", email: "e", industry_id: "0118", apply_reason: "r"})"#,
        "qualification_cert_urls",
    ),
    // apply_ids, apply_status
    (r#"shake::apply_ids(#{quantity: 0, apply_reason: "r"})"#, "quantity"),
    (r#"shake::apply_ids(#{quantity: "3", apply_reason: "r"})"#, "quantity"),
    (r#"shake::apply_ids(#{quantity: 3, apply_reason: "理".pad(101, "由")})"#, "apply_reason"),
    (r#"shake::apply_ids(#{quantity: 3, apply_reason: "r", comment: "备注备注备注备注备注备注备注备注"})"#, "comment"),
    (r#"shake::apply_ids(#{quantity: 3, apply_reason: "r", poi_id: "abc"})"#, "poi_id"),
    (r#"shake::apply_ids(#{quantity: 3, apply_reason: "r", quantiy: 3})"#, "quantiy"),
    (r#"shake::apply_status("x1")"#, "apply_id"),
    // search_devices: count, list size, type variants
    (r#"shake::search_devices(#{type: 2, last_seen: 0, count: 51})"#, "count"),
    (
        r#"shake::search_devices(#{type: 1, device_identifiers: seq(0, 51).map(|i| #{device_id: i})})"#,
        "device_identifiers",
    ),
    (r#"shake::search_devices(#{type: 1, device_identifiers: []})"#, "device_identifiers"),
    (r#"shake::search_devices(#{type: 2, last_seen: 0})"#, "count"),
    (
        r#"shake::search_devices(#{type: 2, last_seen: 0, count: 5, device_identifiers: [#{device_id: 1}]})"#,
        "device_identifiers",
    ),
    (r#"shake::search_devices(#{type: 3, last_seen: 0, count: 5})"#, "apply_id"),
    (r#"shake::search_devices(#{type: 1, device_identifiers: [#{device_id: 1}], last_seen: 0})"#, "last_seen"),
    (r#"shake::search_devices(#{type: 4, last_seen: 0, count: 5})"#, "type"),
    // device_identifier forms
    (
        r#"shake::update_device(#{device_identifier: #{device_id: 1, uuid: "FDA50693-A4E2-4FB1-AFCF-C6EB07647825", major: 1, minor: 1}, comment: ""})"#,
        "device_identifier",
    ),
    (
        r#"shake::update_device(#{device_identifier: #{uuid: "FDA50693-A4E2-4FB1-AFCF-C6EB07647825", major: 1}, comment: ""})"#,
        "device_identifier.minor",
    ),
    (
        r#"shake::update_device(#{device_identifier: #{uuid: "FDA50693-A4E2-4FB1-AFCF-C6EB07647825", major: 70000, minor: 1}, comment: ""})"#,
        "device_identifier.major",
    ),
    (
        r#"shake::update_device(#{device_identifier: #{device_id: 1, comment: "x"}, comment: ""})"#,
        "device_identifier.comment",
    ),
    (r#"shake::update_device(#{device_identifier: 10100, comment: ""})"#, "device_identifier"),
    (
        r#"shake::add_group_devices(#{group_id: 1, device_identifiers: [#{device_id: 1}, #{device_id: 2}, #{device_id: 3}, #{uuid: "not-a-uuid", major: 1, minor: 1}]})"#,
        "device_identifiers[3].uuid",
    ),
    // devices
    (
        r#"shake::update_device(#{device_identifier: #{device_id: 1}, comment: "备注备注备注备注备注备注备注备注"})"#,
        "comment",
    ),
    (r#"shake::bind_location(#{device_identifier: #{device_id: 1}, poi_id: 1, type: 2})"#, "poi_appid"),
    (r#"shake::bind_location(#{device_identifier: #{device_id: 1}, poi_id: 1, poi_appid: "wx1"})"#, "poi_appid"),
    (r#"shake::bind_location(#{device_identifier: #{device_id: 1}, poi_id: -1})"#, "poi_id"),
    (r#"shake::bind_pages(#{device_identifier: #{device_id: 1}, page_ids: seq(1, 32)})"#, "page_ids"),
    (r#"shake::bind_pages(#{device_identifier: #{device_id: 1}, page_ids: [1, "two"]})"#, "page_ids[1]"),
    (r#"shake::search_relations(#{type: 2, page_id: 1, begin: 0, count: 51})"#, "count"),
    (r#"shake::search_relations(#{type: 1})"#, "device_identifier"),
    (r#"shake::search_relations(#{type: 1, device_identifier: #{device_id: 1}, page_id: 1})"#, "page_id"),
    // pages and material
    (
        r#"shake::add_page(#{title: "主标题主标题主", description: "d", page_url: "https://a/b", icon_url: "https://a/i"})"#,
        "title",
    ),
    (
        r#"shake::add_page(#{title: "abcdefghijklm", description: "d", page_url: "https://a/b", icon_url: "https://a/i"})"#,
        "title",
    ),
    (
        r#"shake::add_page(#{title: "t", description: "副标题副标题副标", page_url: "https://a/b", icon_url: "https://a/i"})"#,
        "description",
    ),
    (
        r#"shake::add_page(#{title: "t", description: "d", page_url: "https://a/b", icon_url: "https://a/i", comment: "备注备注备注备注备注备注备注备注"})"#,
        "comment",
    ),
    (r#"shake::add_page(#{title: "t", description: "d", page_url: "https://a/b", icon_url: "logo.png"})"#, "icon_url"),
    (
        r#"shake::add_page(#{title: "t", description: "d", page_url: "zb.weixin.qq.com", icon_url: "https://a/i"})"#,
        "page_url",
    ),
    (
        r#"shake::update_page(#{title: "t", description: "d", page_url: "https://a/b", icon_url: "https://a/i"})"#,
        "page_id",
    ),
    (r#"shake::search_pages(#{type: 2, begin: 0, count: 51})"#, "count"),
    (r#"shake::search_pages(#{type: 1, page_ids: seq(0, 51)})"#, "page_ids"),
    (r#"shake::search_pages(#{type: 2, begin: 0})"#, "count"),
    (r#"shake::search_pages(#{type: 1, page_ids: [1], begin: 0})"#, "begin"),
    (r#"shake::delete_page("p1")"#, "page_id"),
    (r#"shake::upload_material("scripts/data/shop.jpg", "icon")"#, "path"),
    (r#"shake::upload_material(DIR + "/big.png", "icon")"#, "path"),
    (r#"shake::upload_material(DIR + "/icon.bmp", "icon")"#, "path"),
    (r#"shake::upload_material(DIR + "/license.png", "license")"#, "path"),
    (r#"shake::upload_material("scripts/data/logo.png", "banner")"#, "type"),
    // shake info and statistics
    (r#"shake::shake_info(#{ticket: "t", need_poi: 2})"#, "need_poi"),
    (r#"shake::shake_info(#{ticket: ""})"#, "ticket"),
    (
        r#"shake::device_stats(#{device_identifier: #{device_id: 1}, begin_date: shake::today() - 40 * 86400, end_date: shake::today() - 9 * 86400})"#,
        "end_date",
    ),
    (
        r#"shake::device_stats(#{device_identifier: #{device_id: 1}, begin_date: shake::today() - 91 * 86400, end_date: shake::today() - 90 * 86400})"#,
        "begin_date",
    ),
    (
        r#"shake::device_stats(#{device_identifier: #{device_id: 1}, begin_date: shake::today() - 2 * 86400, end_date: shake::today() - 3 * 86400})"#,
        "end_date",
    ),
    (
        r#"shake::device_stats(#{device_identifier: #{device_id: 1}, begin_date: "2026-13-01", end_date: 0})"#,
        "begin_date",
    ),
    (r#"shake::device_stats(#{device_identifier: #{device_id: 1}, begin_date: 0, end_date: "yesterday"})"#, "end_date"),
    (
        r#"shake::page_stats(#{page_id: 1, begin_date: shake::today() - 31 * 86400, end_date: shake::today()})"#,
        "end_date",
    ),
    (
        r#"shake::page_stats(#{page_id: 1, begin_date: shake::today() - 100 * 86400, end_date: shake::today() - 99 * 86400})"#,
        "begin_date",
    ),
    (r#"shake::device_stats_list(#{date: shake::today(), page_index: 0})"#, "page_index"),
    (r#"shake::device_stats_list(#{date: "2026/11/01", page_index: 1})"#, "date"),
    (r#"shake::page_stats_list(#{date: 1.5, page_index: 1})"#, "date"),
    // groups
    (r#"shake::add_group(#{group_name: "组".pad(101, "名")})"#, "group_name"),
    (r#"shake::add_group(#{group_name: ""})"#, "group_name"),
    (r#"shake::update_group(1, "组".pad(101, "名"))"#, "group_name"),
    (r#"shake::delete_group("g")"#, "group_id"),
    (r#"shake::list_groups(#{begin: 0, count: 1001})"#, "count"),
    (r#"shake::list_groups(-1, 10)"#, "begin"),
    (r#"shake::group_detail(#{group_id: 1, begin: 0, count: 1001})"#, "count"),
    (
        r#"shake::add_group_devices(#{group_id: 1, device_identifiers: seq(0, 1001).map(|i| #{device_id: i})})"#,
        "device_identifiers",
    ),
    (
        r#"shake::remove_group_devices(#{group_id: 1, device_identifiers: seq(0, 1001).map(|i| #{device_id: i})})"#,
        "device_identifiers",
    ),
    // lottery
    (
        r#"shake::add_lottery(#{use_template: 1, title: "t", desc: "d", onoff: 1, begin_time: 0, expire_time: 1, sponsor_appid: "wx", total: 1, jump_url: "https://a/b", key: "k"})"#,
        "logo_url",
    ),
    (
        r#"shake::add_lottery(#{use_template: 1, logo_url: "https://a/l", title: "t", desc: "d", onoff: 1, begin_time: "2026-11-01 25:00:00", expire_time: 1, sponsor_appid: "wx", total: 1, jump_url: "https://a/b", key: "k"})"#,
        "begin_time",
    ),
    (
        r#"shake::add_lottery(#{use_template: 3, logo_url: "https://a/l", title: "t", desc: "d", onoff: 1, begin_time: 0, expire_time: 1, sponsor_appid: "wx", total: 1, jump_url: "https://a/b", key: "k"})"#,
        "use_template",
    ),
    (
        r#"shake::set_prize_bucket(#{lottery_id: "l", mchid: "1", sponsor_appid: "wx", prize_info_list: [#{tickt: "t"}]})"#,
        "prize_info_list[0].tickt",
    ),
    (
        r#"shake::set_prize_bucket(#{lottery_id: "l", mchid: "1", sponsor_appid: "wx", prize_info_list: [#{}]})"#,
        "prize_info_list[0].ticket",
    ),
    (r#"shake::set_lottery_switch("l", 2)"#, "onoff"),
    (r#"shake::query_lottery("")"#, "lottery_id"),
];

/// `seq(a, b)`: the array a..b (rhai ranges have no `map`).
const SEQ: &str = "fn seq(a, b) { let r = []; for i in a..b { r.push(i); } r }";

/// A file starting like a PNG of `w`x`h` pixels (the checks read only the header).
fn png_header(w: u32, h: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    b.extend(w.to_be_bytes());
    b.extend(h.to_be_bytes());
    b.extend(b"\x08\x06\0\0\0");
    b
}

#[test]
fn every_limit_is_checked_before_sending() {
    let sim = Sim::start();
    let dir = sim.dir.path();
    std::fs::write(dir.join("big.png"), png_header(300, 300)).expect("write");
    std::fs::write(dir.join("icon.bmp"), b"BM\0\0\0\0\0\0").expect("write");
    let mut license = png_header(100, 100);
    license.resize((2 << 20) + 1, 0);
    std::fs::write(dir.join("license.png"), license).expect("write");

    let mut s = format!("const DIR = {:?};\n{SEQ}\nlet cases = [\n", dir.display().to_string());
    for (call, _) in BAD {
        s.push_str(&format!("    || {call},\n"));
    }
    s.push_str(
        "];\nfor c in cases {\n    try { c.call(); print(\"NOERROR\"); }\n    catch (e) { print(`${e.kind}|${e.field ?? \"\"}|${e.errmsg}`); }\n}\n",
    );
    let out = ok(&sim.run(&s));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), BAD.len(), "one line per case:\n{out}");
    for ((call, field), line) in BAD.iter().zip(&lines) {
        let mut parts = line.splitn(3, '|');
        let (k, f, msg) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        assert_eq!((k, f), ("input", *field), "{call}\n  -> {line}");
        assert!(msg.len() > 10, "{call}: an explanation: {line}");
    }
    assert_eq!(sim.requests(), 0, "no request may reach the server: {}", sim.stats());
}

#[test]
fn messages_say_expected_and_given() {
    let sim = Sim::start();
    let out = ok(&sim.run(
        r#"
        try { shake::search_devices(#{type: 2, last_seen: 0, count: 51}); } catch (e) { print(e.errmsg); }
        try { shake::search_devices(#{type: 2, last_seen: 0, count: 5, apply_id: 3}); } catch (e) { print(e.errmsg); }
        try { shake::add_page(#{title: "主标题主标题主", description: "d", page_url: "https://a/b", icon_url: "https://a/i"}); } catch (e) { print(e.errmsg); }
        try { shake::update_device(#{device_identifier: #{device_id: 1, status: 2}, comment: ""}); } catch (e) { print(e.errmsg); }
        try { shake::update_device(#{device_identifier: #{devce_id: 1}, comment: ""}); } catch (e) { print(e.errmsg); }
        "#,
    ));
    assert!(out.contains("1..=50") && out.contains("51"), "{out}");
    assert!(out.contains("\"apply_id\" belongs to type 3") && out.contains("type 2 takes last_seen, count"), "{out}");
    assert!(out.contains("counts 14") && out.contains("CJK counts 2"), "{out}");
    assert!(out.contains("#{device_id: d.device_id}"), "{out}");
    assert!(out.contains("did you mean \"device_id\""), "{out}");
}

#[test]
fn account_review_device_review_and_gating() {
    let sim = Sim::with(Config { audit_delay: Duration::from_millis(1500), ..Config::default() });
    let out = ok(&sim.run(&script(
        r#"
        let e = caught(|| shake::apply_ids(#{quantity: 1, apply_reason: "r"}));
        ok(e.kind == "api" && e.errcode == 9001020, `device calls need an approved account: ${e}`);
        let reg = #{name: "n", phone_number: "1", email: "e", industry_id: "0118", qualification_cert_urls: [], apply_reason: "r"};
        shake::register(reg);
        let s = shake::audit_status();
        ok(s.audit_status == 1 && s.audit_time == 0, `in review: ${s}`);
        let e = caught(|| shake::register(reg));
        ok(e.kind == "api" && e.errmsg.contains("review"), `second register refused: ${e}`);
        let e = caught(|| shake::add_group(#{group_name: "g"}));
        ok(e.kind == "api" && e.errcode == 9001020, `still gated while in review: ${e}`);
        while shake::audit_status().audit_status == 1 { sleep(0.2); }
        ok(shake::audit_status().audit_status == 2, "approved after the delay");

        let big = shake::apply_ids(#{quantity: 501, apply_reason: "many"});
        ok(big.audit_status == 1 && big.audit_comment.contains("人工"), `501 in manual review: ${big}`);
        let small = shake::apply_ids(#{quantity: 500, apply_reason: "few"});
        ok(small.audit_status == 1, `500 in the quick review: ${small}`);
        for a in [small, big] {
            let st = shake::apply_status(a.apply_id);
            ok(st.audit_status == 1 && st.audit_time == 0, `still in review before the delay: ${st}`);
            ok(st.audit_comment == a.audit_comment, `the review's remark, not the applicant's: ${st}`);
            ok(shake::all_devices(a.apply_id).len() == 0, "no devices before approval");
        }
        sleep(1.6);
        ok(shake::apply_status(small.apply_id).audit_status == 2, "500 approved after the delay");
        ok(shake::apply_status(big.apply_id).audit_status == 2, "501 approved after the delay");
        ok(shake::all_devices(big.apply_id).len() == 501, "and its devices exist");
        ok(shake::all_devices().len() == 1001, "all of them");
        print("reviews ok");
        "#,
    )));
    assert!(out.contains("reviews ok"), "{out}");
}

#[test]
fn rejected_account_may_register_again() {
    let sim = Sim::start();
    let out = ok(&sim.run(&script(
        r#"
        let reg = #{name: "REJECT me", phone_number: "1", email: "e", industry_id: "0118", qualification_cert_urls: [], apply_reason: "r"};
        shake::register(reg);
        let s = shake::audit_status();
        ok(s.audit_status == 0 && s.audit_comment != "", `rejected: ${s}`);
        reg.name = "fine";
        shake::register(reg);
        ok(shake::audit_status().audit_status == 2, "approved the second time");
        let e = caught(|| shake::register(reg));
        ok(e.kind == "api", "no register once approved");
        print("ok");
        "#,
    )));
    assert_eq!(out.trim(), "ok");
}

#[test]
fn quota_of_ten_thousand_ids() {
    // The applications are all made within the review delay: approved devices nobody activated
    // would stop new applications on their own (9001021).
    let sim = Sim::with(Config { audit_delay: Duration::from_secs(60), ..Config::default() });
    let out = ok(&sim.run(&script(
        r#"
        approve();
        for i in 0..20 { shake::apply_ids(#{quantity: 500, apply_reason: `batch ${i}`}); }
        let e = caught(|| shake::apply_ids(#{quantity: 1, apply_reason: "one more"}));
        ok(e.kind == "api" && e.errmsg.contains("10000"), `the next is refused: ${e}`);
        print(e.errcode);
        sandbox::advance(60);
        print(shake::search_devices(#{type: 2, last_seen: 0, count: 1}).total_count);
        "#,
    )));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, ["9001042", "10000"], "{out}");
}

#[test]
fn cursor_paging_returns_every_device_once() {
    // Applied within the review delay, as in quota_of_ten_thousand_ids.
    let sim = Sim::with(Config { audit_delay: Duration::from_secs(60), ..Config::default() });
    let out = ok(&sim.run(&script(
        r#"
        approve();
        for n in [500, 500, 234] { shake::apply_ids(#{quantity: n, apply_reason: "r"}); }
        sandbox::advance(60);
        let all = shake::all_devices();
        let seen = #{};
        for d in all { seen[`${d.device_id}`] = true; }
        print(`${all.len()} ${seen.len()}`);
        let sorted = true;
        for i in 1..all.len() { if all[i].device_id <= all[i - 1].device_id { sorted = false; } }
        print(sorted);
        "#,
    )));
    assert_eq!(out.trim(), "1234 1234\ntrue", "{out}");
    assert_eq!(sim.count("shakearound/device/search"), 25, "1234 devices in pages of 50");
}

#[test]
fn date_strings_are_utc8_whatever_the_zone() {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    // Yesterday in China, and the Unix seconds of its midnight there.
    let day = (now + 8 * 3600).div_euclid(86_400) - 1;
    let expected = day * 86_400 - 8 * 3600;
    let text = wxscript::api::check::date_utc8(expected);
    let body = format!(
        r#"
        approve();
        shake::apply_ids(#{{quantity: 1, apply_reason: "r"}});
        let dev = shake::all_devices()[0];
        print(shake::device_stats_list(#{{date: "{text}", page_index: 1}}).date);
        let rows = shake::device_stats(#{{device_identifier: #{{device_id: dev.device_id}}, begin_date: "{text}", end_date: "{text}"}});
        print(rows[0].ftime);
        print(shake::today());
        "#
    );
    for tz in ["America/New_York", "Asia/Tokyo", "UTC"] {
        let sim = Sim::start();
        let path = sim.write("tz.rhai", &script(&body));
        let out = ok(&sim.cmd().env("TZ", tz).arg("run").arg(&path).output().expect("runs"));
        let lines: Vec<&str> = out.lines().collect();
        let e = expected.to_string();
        let today = (expected + 86_400).to_string();
        assert_eq!(lines, [e.as_str(), e.as_str(), today.as_str()], "TZ={tz}");
    }
}

#[test]
fn shakes_issue_tickets_and_events() {
    let sim = Sim::start();
    let out = ok(&sim.run(&script(
        r#"
        approve();
        shake::apply_ids(#{quantity: 3, apply_reason: "r"});
        let ds = shake::all_devices();
        let e = caught(|| sandbox::shake(ds[0]));
        ok(e.kind == "api", `a device without a page cannot be shaken: ${e}`);
        let icon = shake::upload_material("scripts/data/logo.png", "icon");
        let p = shake::add_page(#{title: "t", description: "d", page_url: "https://example.com/p?x=1", icon_url: icon});
        shake::bind_pages(#{device_identifier: #{device_id: ds[0].device_id}, page_ids: [p.page_id]});
        let s = sandbox::shake(#{uuid: ds[0].uuid, major: ds[0].major, minor: ds[0].minor}, "oUSER");
        ok(s.url == `https://example.com/p?x=1&ticket=${s.ticket}` && s.expires_in == 1800, `shake: ${s}`);
        ok(sandbox::shake(ds[0].device_id).openid != "oUSER", "a random openid by default");
        let e = caught(|| shake::shake_info(#{ticket: "nope"}));
        ok(e.kind == "api" && e.errcode == 9001003, `unknown ticket: ${e}`);
        print(`${ds[0].major} ${ds[0].minor}`);
        "#,
    )));
    let events = sim.sandbox.as_ref().expect("sandbox").events();
    let shakes: Vec<_> = events.iter().filter(|e| e.event == "ShakearoundUserShake").collect();
    assert_eq!(shakes.len(), 2, "{events:?}");
    let first = shakes[0].to_json();
    assert_eq!(first["FromUserName"], "oUSER");
    assert!(first["ChosenBeacon"]["Distance"].is_f64(), "{first}");
    assert_eq!(first["AroundBeacons"].as_array().map(Vec::len), Some(2), "{first}");
    // The XML push reads back through event::parse.
    let xml = shakes[0].to_xml();
    assert!(xml.contains("<AroundBeacons><AroundBeacon><Uuid><![CDATA["), "{xml}");
    let path = sim.write("parse.rhai", &format!("let e = event::parse({xml:?});\nprint(`${{e.chosen_beacon.major}} ${{e.chosen_beacon.minor}} ${{e.around_beacons.len()}} ${{e.FromUserName}} ${{e.Event}}`);"));
    let parsed = ok(&sim.cmd().arg("run").arg(&path).output().expect("runs"));
    let major_minor = out.trim();
    assert_eq!(parsed.trim(), format!("{major_minor} 2 oUSER ShakearoundUserShake"));
    let listed = sim.rt.block_on(async {
        let url = format!("{}/_sandbox/events", sim.base);
        reqwest::get(url).await.expect("events").json::<serde_json::Value>().await.expect("json")
    });
    assert!(
        listed["events"].as_array().is_some_and(|a| a.iter().any(|e| e["Event"] == "ShakearoundUserShake")),
        "{listed}"
    );
}

#[test]
fn simulator_refusals() {
    let sim = Sim::start();
    let out = ok(&sim.run(&script(
        r#"
        approve();
        shake::apply_ids(#{quantity: 2, apply_reason: "r"});
        let ds = shake::all_devices();
        let id = #{device_id: ds[0].device_id};
        let icon = shake::upload_material("scripts/data/logo.png", "icon");
        let p = shake::add_page(#{title: "t", description: "d", page_url: "https://a.example/p", icon_url: icon});
        fn code(f) { let e = caught(f); if e.kind != "api" { throw `expected an api error: ${e}`; } e.errcode }
        print(code(|| shake::add_page(#{title: "t", description: "d", page_url: "https://a.example/p", icon_url: "https://elsewhere.example/i.png"})));
        print(code(|| shake::bind_location(#{device_identifier: id, poi_id: 99999})));
        print(code(|| shake::bind_pages(#{device_identifier: id, page_ids: [p.page_id + 1000]})));
        print(code(|| shake::update_device(#{device_identifier: #{device_id: 1}, comment: ""})));
        shake::bind_pages(#{device_identifier: id, page_ids: [p.page_id]});
        print(code(|| shake::delete_page(p.page_id)));
        let g = shake::add_group(#{group_name: "g"});
        shake::add_group_devices(#{group_id: g.group_id, device_identifiers: [id]});
        print(code(|| shake::delete_group(g.group_id)));
        print(code(|| shake::group_detail(#{group_id: g.group_id + 1, begin: 0, count: 1})));
        print(code(|| shake::apply_status(424242)));
        print(code(|| shake::query_lottery("nope")));
        print(code(|| shake::device_stats_list(#{date: shake::today() - 100 * 86400, page_index: 1})));
        print(code(|| shake::search_pages(#{type: 2, begin: 5, count: 1})));
        let far = shake::device_stats_list(#{date: shake::today() - 86400, page_index: 9223372036854775807});
        ok(far.devices.len() == 0 && far.total_count > 0, `a page far beyond the end is empty: ${far}`);
        print(code(|| shake::add_lottery(#{use_template: 2, logo_url: "https://a/l", title: "t", desc: "d", onoff: 0,
            begin_time: shake::today(), expire_time: shake::today() - 1, sponsor_appid: "wx", total: 1, jump_url: "https://a/b", key: "k"})));
        "#,
    )));
    let codes: Vec<&str> = out.lines().collect();
    assert_eq!(
        codes,
        [
            "9001027", "9001033", "9001026", "9001025", "9001029", "9001044", "9001043", "9001035", "9001046",
            "9001031", "9001036", "9001047"
        ],
        "{out}"
    );
}

/// Limits WeChat answers with codes of their own, sent raw past the client's checks: the
/// simulator's wire check answers the declaration's code, not the generic 40097.
#[test]
fn limits_with_their_own_codes_reach_the_simulator() {
    let sim = Sim::start();
    let out = ok(&sim.run(&script(
        r#"
        approve();
        shake::apply_ids(#{quantity: 1, apply_reason: "r"});
        let d = shake::all_devices()[0];
        fn code(f) { let e = caught(f); if e.kind != "api" { throw `expected an api error: ${e}`; } e.errcode }
        let ids = [];
        let pages = [];
        let long = "";
        for i in 0..51 { ids.push(#{device_id: d.device_id}); pages.push(i + 1); long += "理理"; }
        print(code(|| wx::request("POST", "shakearound/device/search", #{type: 1, device_identifiers: ids})));
        print(code(|| wx::request("POST", "shakearound/page/search", #{type: 1, page_ids: pages})));
        print(code(|| wx::request("POST", "shakearound/device/bindpage",
            #{device_identifier: #{device_id: d.device_id}, page_ids: pages.extract(0, 31)})));
        print(code(|| wx::request("POST", "shakearound/device/applyid", #{quantity: 0, apply_reason: "r"})));
        print(code(|| wx::request("POST", "shakearound/device/applyid", #{quantity: 1, apply_reason: long})));
        print(code(|| wx::request("POST", "shakearound/device/search", #{type: 1, device_identifiers: [#{major: 1}]})));
        "#,
    )));
    let codes: Vec<&str> = out.lines().collect();
    assert_eq!(codes, ["9001024", "9001030", "9001032", "9001022", "9001035", "40097"], "{out}");
}

#[test]
fn lottery_refusals_and_bucket_limit() {
    let sim = Sim::start();
    let o = sim.run(&script(
        r#"
        approve();
        let l = shake::add_lottery(#{use_template: 2, logo_url: "https://a/l", title: "t", desc: "d", onoff: 0,
            begin_time: shake::today(), expire_time: shake::today() + 60, sponsor_appid: "wx", total: 1, jump_url: "https://a/b", key: "k"});
        let e = caught(|| shake::set_prize_bucket(#{lottery_id: l.lottery_id, mchid: "1", sponsor_appid: "wxother", prize_info_list: [#{ticket: "a"}]}));
        ok(e.kind == "api" && e.errmsg.contains("sponsor_appid"), `${e}`);
        let e = caught(|| shake::set_prize_bucket(#{lottery_id: l.lottery_id, mchid: "1", sponsor_appid: "wx", prize_info_list: [#{ticket: "a"}, #{ticket: "b"}]}));
        ok(e.kind == "api" && e.errmsg.contains("full"), `${e}`);
        print("ok");
        "#,
    ));
    assert_eq!(ok(&o).trim(), "ok");
}

#[test]
fn recipe_runs_end_to_end() {
    let sim = Sim::start();
    let o = sim
        .cmd()
        .args(["run", "scripts/beacons.rhai", "--arg", "count=12", "--arg", "poll=0.1"])
        .output()
        .expect("runs");
    let out = ok(&o);
    for want in ["account approved", "12 devices", "page bound to 12 devices", "holds 12 devices", "yesterday:"] {
        assert!(out.contains(want), "{want:?} missing:\n{out}");
    }
    assert_eq!(sim.count("shakearound/device/bindpage"), 12);
    // As the README shows it: the built-in simulator, no credentials.
    let o = assert_cmd::Command::cargo_bin("wxscript")
        .expect("binary")
        .current_dir(repo_root())
        .env_remove("WECHAT_APPID")
        .env_remove("WECHAT_ACCESS_TOKEN")
        .env("NO_COLOR", "1")
        .args(["run", "--sandbox", "--audit-delay", "0.3", "scripts/beacons.rhai", "--arg", "poll=0.1"])
        .output()
        .expect("runs");
    let out = ok(&o);
    assert!(out.contains("account in review") && out.contains("page bound to 10 devices"), "{out}");
}

#[test]
fn docs_list_every_shake_function() {
    let o = assert_cmd::Command::cargo_bin("wxscript").expect("binary").args(["docs", "--format", "json"]).output();
    let o = o.expect("runs");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let names: Vec<&str> = v.as_array().expect("array").iter().filter_map(|f| f["name"].as_str()).collect();
    for f in [
        "register",
        "audit_status",
        "apply_ids",
        "apply_status",
        "search_devices",
        "all_devices",
        "update_device",
        "bind_location",
        "bind_pages",
        "search_relations",
        "add_page",
        "update_page",
        "search_pages",
        "delete_page",
        "upload_material",
        "shake_info",
        "device_stats",
        "device_stats_list",
        "page_stats",
        "page_stats_list",
        "add_group",
        "update_group",
        "delete_group",
        "list_groups",
        "group_detail",
        "add_group_devices",
        "remove_group_devices",
        "add_lottery",
        "set_prize_bucket",
        "set_lottery_switch",
        "query_lottery",
        "all_pages",
        "all_groups",
    ] {
        let q = format!("shake::{f}");
        assert!(names.contains(&q.as_str()), "{q} missing from docs");
    }
    assert!(names.contains(&"sandbox::shake"));
    let md = assert_cmd::Command::cargo_bin("wxscript").expect("binary").arg("docs").output().expect("runs");
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(md.contains("9001029") && md.contains("页面已应用在设备中"), "error hints in the reference");
}

/// Every shake example in the reference runs on the simulator, in reference order, after the
/// account is registered (by `shake::register`'s own example) and a first page exists.
#[test]
fn every_documented_example_runs() {
    let o = assert_cmd::Command::cargo_bin("wxscript").expect("binary").args(["docs", "--format", "json"]).output();
    let v: serde_json::Value = serde_json::from_slice(&o.expect("runs").stdout).expect("json");
    let mut examples: Vec<(String, String)> = v
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|f| Some((f["name"].as_str()?.to_string(), f["example"].as_str()?.to_string())))
        .filter(|(name, _)| name.starts_with("shake::") || name == "sandbox::shake")
        .collect();
    let first = examples.iter().position(|(n, _)| n == "shake::register").expect("register documented");
    let register = examples.remove(first);
    let mut s = format!("// {}\n{{\n{}\n}}\n", register.0, register.1);
    s.push_str(
        r#"
        shake::apply_ids(#{quantity: 3, apply_reason: "setup"});
        let icon = shake::upload_material("scripts/data/logo.png", "icon");
        shake::add_page(#{title: "首页", description: "欢迎", page_url: "https://example.com/", icon_url: icon});
        "#,
    );
    for (name, example) in &examples {
        assert!(!example.trim().is_empty(), "{name} has no example");
        s.push_str(&format!("print(\"== {name}\");\n{{\n{example}\n}}\n"));
    }
    let sim = Sim::start();
    let o = sim.run(&s);
    assert!(o.status.success(), "an example failed:\n{}\n{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o).matches("== ").count(), examples.len());
}

/// The simulator refuses what WeChat would even from a client that skips the local checks.
#[test]
fn simulator_checks_raw_requests() {
    use serde_json::{Value, json};
    let sim = Sim::start();
    let base = sim.base.clone();
    let code = |v: &Value| v["errcode"].as_i64().unwrap_or(0);
    sim.rt.block_on(async move {
        let http = reqwest::Client::new();
        let t: Value = http
            .get(format!(
                "{base}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
                wxscript::sandbox::APPID,
                wxscript::sandbox::SECRET
            ))
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("json");
        let token = t["access_token"].as_str().expect("token").to_string();
        let url = |p: &str| format!("{base}/shakearound/{p}?access_token={token}");
        let post = |p: &str, body: Value| {
            let r = http.post(url(p)).body(body.to_string());
            async move { r.send().await.expect("post").json::<Value>().await.expect("json") }
        };
        let r = post(
            "account/register",
            json!({"name": "n", "phone_number": "1", "email": "e", "industry_id": "0118",
                   "qualification_cert_urls": [], "apply_reason": "理".repeat(251)}),
        )
        .await;
        assert_eq!(code(&r), 9001001, "reason too long: {r}");
        let r = post(
            "account/register",
            json!({"name": "n", "phone_number": "1", "email": "e", "industry_id": "0118",
                   "qualification_cert_urls": [], "apply_reason": "r"}),
        )
        .await;
        assert_eq!((code(&r), r["errmsg"].as_str()), (0, Some("success.")), "{r}");
        let r = post("device/search", json!({"type": 2, "last_seen": 0, "count": 51})).await;
        assert_eq!(code(&r), 40097, "count over 50: {r}");
        let r = post("device/search", json!({"type": 1, "device_identifiers": [{"major": 1}]})).await;
        assert_eq!(code(&r), 40097, "bad identifier: {r}");
        let r = post("device/update", json!({"device_identifier": {"device_id": 1}, "comment": "备".repeat(16)})).await;
        assert_eq!(code(&r), 9001034, "comment too long: {r}");
        let r = post("statistics/devicelist", json!({"date": "2026-11-01", "page_index": 1})).await;
        assert_eq!(code(&r), 40097, "dates travel as ints: {r}");
        let r: Value = http
            .get(url("lottery/setlotteryswitch") + "&lottery_id=x&onoff=5")
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        assert_eq!(code(&r), 40097, "onoff 0 or 1: {r}");
        let shop = std::fs::read(repo_root().join("scripts/data/shop.jpg")).expect("shop.jpg");
        let form =
            reqwest::multipart::Form::new().part("media", reqwest::multipart::Part::bytes(shop).file_name("s.jpg"));
        let r: Value = http
            .post(url("material/add") + "&type=icon")
            .multipart(form)
            .send()
            .await
            .expect("upload")
            .json()
            .await
            .expect("json");
        assert_eq!(code(&r), 9001009, "an icon must be square and small: {r}");
        let r: Value = http
            .post(format!("{base}/_sandbox/shake"))
            .body("{\"device_id\": 1}")
            .send()
            .await
            .expect("shake")
            .json()
            .await
            .expect("json");
        assert_eq!(code(&r), 9001025, "no such device: {r}");
    });
}

/// `--dry-run` shows shake writes as they would travel (query fields, dates as ints) and
/// returns placeholders in the documented shapes.
#[test]
fn dry_run_shows_the_wire_form() {
    let sim = Sim::start();
    let path = sim.write(
        "dry.rhai",
        r#"
        let p = shake::add_page(#{title: "t", description: "d", page_url: "https://a.example/", icon_url: "https://p.qpic.cn/x"});
        print(`page ${p.page_id}`);
        let l = shake::add_lottery(#{use_template: 1, logo_url: "https://a.example/l", title: "t", desc: "d", onoff: 0,
            begin_time: "2026-11-01", expire_time: "2026-11-02 08:00:00", sponsor_appid: "wx", total: 1,
            jump_url: "https://a.example/b", key: "k"});
        print(`lottery ${l.lottery_id}`);
        "#,
    );
    let out = ok(&sim.cmd().args(["run", "--dry-run"]).arg(&path).output().expect("runs"));
    assert!(out.contains("dry-run: POST shakearound/lottery/addlotteryinfo?use_template=1&logo_url="), "{out}");
    assert!(out.contains("\"begin_time\":1793462400") && out.contains("\"expire_time\":1793577600"), "{out}");
    assert!(!out.contains("\"use_template\""), "query fields stay out of the body: {out}");
    assert!(out.contains("page 0") && out.contains("lottery DRY-RUN-LOTTERY"), "{out}");
    assert_eq!(sim.count("shakearound/page/add") + sim.count("shakearound/lottery/addlotteryinfo"), 0);
}

/// 9001021: an account holding at least 100 device ids, fewer than half ever activated, gets no
/// new ones until shakes activate them.
#[test]
fn low_activation_stops_new_device_ids() {
    let sim = Sim::start();
    let out = ok(&sim.run(&script(
        r#"
        approve();
        shake::apply_ids(#{quantity: 100, apply_reason: "r"});
        let ds = shake::all_devices();
        let e = caught(|| shake::apply_ids(#{quantity: 1, apply_reason: "more"}));
        print(`${e.kind} ${e.errcode}`);
        let icon = shake::upload_material("scripts/data/logo.png", "icon");
        let p = shake::add_page(#{title: "t", description: "d", page_url: "https://example.com/p", icon_url: icon});
        for d in ds.extract(0, 49) {
            shake::bind_pages(#{device_identifier: #{device_id: d.device_id}, page_ids: [p.page_id]});
            sandbox::shake(d.device_id);
        }
        let e = caught(|| shake::apply_ids(#{quantity: 1, apply_reason: "more"}));
        print(`49 of 100: ${e.errcode}`);
        shake::bind_pages(#{device_identifier: #{device_id: ds[49].device_id}, page_ids: [p.page_id]});
        sandbox::shake(ds[49].device_id);
        print(`half: ${shake::apply_ids(#{quantity: 1, apply_reason: "more"}).audit_status}`);
        "#,
    )));
    assert_eq!(out.lines().collect::<Vec<_>>(), ["api 9001021", "49 of 100: 9001021", "half: 1"], "{out}");
}

/// Shake tickets, statistics days and lottery times follow the simulator's clock.
#[test]
fn tickets_statistics_and_lotteries_follow_the_clock() {
    let sim = Sim::start();
    let out = ok(&sim.run(&script(
        r#"
        approve();
        shake::apply_ids(#{quantity: 1, apply_reason: "r"});
        let d = shake::all_devices()[0];
        let icon = shake::upload_material("scripts/data/logo.png", "icon");
        let p = shake::add_page(#{title: "t", description: "d", page_url: "https://example.com/p", icon_url: icon});
        shake::bind_pages(#{device_identifier: #{device_id: d.device_id}, page_ids: [p.page_id]});
        let t = sandbox::shake(d.device_id).ticket;
        let today = shake::today();
        let span = #{device_identifier: #{device_id: d.device_id}, begin_date: today, end_date: today};
        print(`today ${shake::device_stats(span).len()}`);
        sandbox::advance(1799);
        print(`ticket ${shake::shake_info(#{ticket: t}).page_id == p.page_id}`);
        let l = shake::add_lottery(#{use_template: 2, logo_url: "", title: "t", desc: "d", onoff: 0,
            begin_time: today, expire_time: shake::today() + 86400, sponsor_appid: "wx", total: 1, jump_url: "https://a/b", key: "k"});
        shake::set_lottery_switch(l.lottery_id, 1);
        sandbox::advance(86400);
        print(`expired ticket ${caught(|| shake::shake_info(#{ticket: t})).errcode}`);
        print(`a day later ${shake::device_stats(span).len()}`);
        print(`expired lottery ${caught(|| shake::set_lottery_switch(l.lottery_id, 1)).errcode}`);
        shake::set_lottery_switch(l.lottery_id, 0);
        print("off ok");
        "#,
    )));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["today 0", "ticket true", "expired ticket 9001003", "a day later 1", "expired lottery 9001047", "off ok"],
        "{out}"
    );
}

/// WeChat needs a lottery's logo only with its template page: "" is fine with use_template 2,
/// refused with 1 by the client and, sent raw, by the simulator.
#[test]
fn lottery_logo_only_with_the_template() {
    let sim = Sim::start();
    let out = ok(&sim.run(&script(
        r#"
        approve();
        let l = #{use_template: 2, logo_url: "", title: "t", desc: "d", onoff: 0, begin_time: shake::today(),
            expire_time: shake::today() + 86400, sponsor_appid: "wx", total: 1, jump_url: "https://a/b", key: "k"};
        print(`own page ${type_of(shake::add_lottery(l).lottery_id)}`);
        let e = caught(|| shake::add_lottery(l + #{use_template: 1}));
        print(`template ${e.kind} ${e.field}`);
        let e = caught(|| shake::add_lottery(l + #{logo_url: "logo.png"}));
        print(`not a URL ${e.kind} ${e.field}`);
        let raw = "shakearound/lottery/addlotteryinfo?use_template=1&logo_url=";
        let body = l;
        body.remove("use_template");
        body.remove("logo_url");
        print(`raw ${caught(|| wx::request("POST", raw, body)).errcode}`);
        "#,
    )));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["own page string", "template input logo_url", "not a URL input logo_url", "raw 9001047"],
        "{out}"
    );
}
