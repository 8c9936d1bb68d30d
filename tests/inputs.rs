//! Bad inputs: each gives a catchable `kind == "input"` (or "io") error naming the field, and
//! the simulator sees no request at all, not even a token fetch.

mod common;
use common::*;

const CASES: &[(&str, &str, &str)] = &[
    // (call, expected kind, expected field)
    (
        r#"store::add(#{pic_list: ["http://a/b.jpg"], contract_phone: "1", hour: "10:00-21:00", credential: "c"})"#,
        "input",
        "map_poi_id",
    ),
    (
        r#"store::add(#{map_poi_id: "1", pic_list: ["http://a/b.jpg"], contact_phone: "1", hour: "10:00-21:00", credential: "c"})"#,
        "input",
        "contact_phone",
    ),
    (
        r#"store::add(#{map_poi_id: "1", pic_list: ["http://a/b.jpg"], contract_phone: "1", hour: "9:00-21:00", credential: "c"})"#,
        "input",
        "hour",
    ),
    (
        r#"store::add(#{map_poi_id: "1", pic_list: ["http://a/b.jpg"], contract_phone: "1", hour: "10:00~21:00", credential: "c"})"#,
        "input",
        "hour",
    ),
    (
        r#"store::add(#{map_poi_id: "1", pic_list: 42, contract_phone: "1", hour: "10:00-21:00", credential: "c"})"#,
        "input",
        "pic_list",
    ),
    (
        r#"store::add(#{map_poi_id: "1", pic_list: "not json", contract_phone: "1", hour: "10:00-21:00", credential: "c"})"#,
        "input",
        "pic_list",
    ),
    (
        r#"store::add(#{map_poi_id: "1", pic_list: [], contract_phone: "1", hour: "10:00-21:00", credential: "c"})"#,
        "input",
        "pic_list",
    ),
    (
        r#"store::add(#{map_poi_id: "1", pic_list: ["ftp://a/b.jpg"], contract_phone: "1", hour: "10:00-21:00", credential: "c"})"#,
        "input",
        "pic_list",
    ),
    (
        r#"store::add(#{map_poi_id: "1", pic_list: ["http://a/b.jpg"], contract_phone: "1", hour: "10:00-21:00", credential: "c", qualification_list: ["a","b","c","d","e","f"]})"#,
        "input",
        "qualification_list",
    ),
    (
        r#"store::add(#{map_poi_id: "abc", pic_list: ["http://a/b.jpg"], contract_phone: "1", hour: "10:00-21:00", credential: "c"})"#,
        "input",
        "map_poi_id",
    ),
    (
        r#"store::add(#{map_poi_id: "1", pic_list: ["http://a/b.jpg"], contract_phone: 123, hour: "10:00-21:00", credential: "c"})"#,
        "input",
        "contract_phone",
    ),
    (r#"store::add(42)"#, "input", "map"),
    (r#"store::list(0, 51)"#, "input", "limit"),
    (r#"store::list(-1, 10)"#, "input", "offset"),
    (r#"store::list("0", 10)"#, "input", "offset"),
    (r#"store::list(0, 2.5)"#, "input", "limit"),
    (
        r#"merchant::apply(#{first_catid: 476, second_catid: 477, headimg_mediaid: "m", nickname: "abc", intro: "i"})"#,
        "input",
        "nickname",
    ),
    (
        r#"merchant::apply(#{first_catid: 476, second_catid: 477, headimg_mediaid: "m", nickname: "门店门店门店门店门店门店门店门店", intro: "i"})"#,
        "input",
        "nickname",
    ),
    (
        r#"merchant::apply(#{first_catid: "476", second_catid: 477, headimg_mediaid: "m", nickname: "abcd", intro: "i"})"#,
        "input",
        "first_catid",
    ),
    (
        r#"merchant::apply(#{first_catid: 476, second_catid: 477, nickname: "abcd", intro: "i"})"#,
        "input",
        "headimg_mediaid",
    ),
    (
        r#"merchant::apply(#{first_catid: 476, second_catid: 477, headimg_mediaid: "m", nickname: "abcd", intro: "i", other_files: "a|b|c|d|e|f"})"#,
        "input",
        "other_files",
    ),
    (r#"merchant::modify(#{headimg_mediaid: "", intro: "", extra: 1})"#, "input", "extra"),
    (r#"map::search_poi(#{districtid: 440105})"#, "input", "keyword"),
    (r#"map::search_poi(#{districtid: "44x", keyword: "k"})"#, "input", "districtid"),
    (
        r#"map::create_poi(#{name: "n", longitude: "east", latitude: 23.1, province: "p", city: "c", district: "d", address: "a", category: "c", telephone: "t", photo: "p", license: "l", introduct: "i", districtid: "440105"})"#,
        "input",
        "longitude",
    ),
    // A number read from a sheet and not converted: refused, not sent as text.
    (
        r#"map::create_poi(#{name: "n", longitude: "113.3", latitude: 23.1, province: "p", city: "c", district: "d", address: "a", category: "c", telephone: "t", photo: "p", license: "l", introduct: "i", districtid: "440105"})"#,
        "input",
        "longitude",
    ),
    // Arguments of the wrong types or number: a typed error naming the call forms.
    (r#"csv::write("out.csv", #{a: 1})"#, "input", "arguments"),
    (r#"parallel(5, 2, |x| x)"#, "input", "arguments"),
    (r#"event::parse(5)"#, "input", "arguments"),
    (r#"merchant::categories(1)"#, "input", "arguments"),
    (r#"store::get(1, 2)"#, "input", "arguments"),
    (r#"sleep("soon")"#, "input", "arguments"),
    (r#"store::list(0, 1, 2, 3)"#, "input", "arguments"),
    // A bundled module's functions too.
    (r#"audit::poll(1)"#, "input", "arguments"),
    (r#"store::get(#{poi_id: true})"#, "input", "poi_id"),
    (r#"store::get("")"#, "input", "poi_id"),
    (
        r#"store::add(#{map_poi_id: "", pic_list: ["http://a/b.jpg"], contract_phone: "1", credential: "c", qualification_list: "q"})"#,
        "input",
        "map_poi_id",
    ),
    (r#"store::get(#{poiid: "1"})"#, "input", "poiid"),
    (
        r#"store::update(#{poi_id: "1", hour: "25:00-26:00", contract_phone: "1", pic_list: ["http://a/b.jpg"]})"#,
        "input",
        "hour",
    ),
    (r#"store::set_card(1, "")"#, "input", "card_id"),
    (r#"poi::list(0, 0)"#, "input", "limit"),
    (r#"media::upload("no/such/file.png", "image")"#, "io", "path"),
    (r#"media::upload("scripts/data/shop.jpg", "voice")"#, "input", "path"),
    (r#"media::upload("scripts/data/logo.png", "sticker")"#, "input", "type"),
    (r#"media::upload_image("scripts/onboard_store.rhai")"#, "input", "path"),
    (r#"wx::request("GET", "https://evil.example/wxa/x")"#, "input", "path"),
    (r#"wx::request("GET", "wxa/get_store_list?access_token=abc")"#, "input", "path"),
    (r#"wx::request("PUT", "wxa/get_store_list")"#, "input", "method"),
];

#[test]
fn bad_inputs_name_the_field_and_send_nothing() {
    let sim = Sim::start();
    let mut script = String::from("import \"audit\" as audit;\nlet cases = [\n");
    for (call, _, _) in CASES {
        script.push_str(&format!("    || {call},\n"));
    }
    script.push_str(
        "];\nfor c in cases {\n    try { c.call(); print(\"NOERROR\"); }\n    catch (e) { print(`${e.kind}|${e.field ?? e.path ?? \"\"}|${e.errmsg}`); }\n}\n",
    );
    let out = ok(&sim.run(&script));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), CASES.len(), "one line per case:\n{out}");
    for ((call, kind, field), line) in CASES.iter().zip(&lines) {
        let mut parts = line.splitn(3, '|');
        let (k, f, msg) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        assert_eq!(k, *kind, "{call}: {line}");
        if *kind == "io" {
            assert!(f.contains("no/such/file.png"), "{call}: {line}");
        } else {
            assert_eq!(f, *field, "{call}: {line}");
        }
        assert!(!msg.is_empty(), "{call}: an explanation");
    }
    assert_eq!(sim.requests(), 0, "no request may reach the server: {}", sim.stats());
}

#[test]
fn messages_say_what_was_expected_and_given() {
    let sim = Sim::start();
    let out = ok(&sim.run(
        r#"
        try { store::add(#{map_poi_id: "1", pic_list: ["http://a/b.jpg"], contact_phone: "1", hour: "10:00-21:00", credential: "c"}); }
        catch (e) { print(e.errmsg); }
        try { store::list(0, 51); } catch (e) { print(e.errmsg); }
        try { store::list("0", 10); } catch (e) { print(e.errmsg); }
        try { merchant::apply(#{first_catid: 1, second_catid: 2, headimg_mediaid: "m", nickname: "门店门店门店门店门店门店门店门店", intro: "i"}); }
        catch (e) { print(e.errmsg); }
        "#,
    ));
    assert!(out.contains(r#"unknown field "contact_phone", did you mean "contract_phone"?"#), "{out}");
    assert!(out.contains("0..=50") && out.contains("51"), "{out}");
    assert!(out.contains("parse_int"), "CSV hint: {out}");
    assert!(out.contains("4-30") && out.contains("counts 32"), "{out}");
}
