//! Every example in the function reference runs against the simulator, so the reference can
//! never show code that does not work. Each runs in its own sandbox run, after a prelude that
//! sets up an approved merchant and one store, and an approved shake-around account with three
//! devices, a page bound to the first and a group holding it, from a scratch directory that
//! sees the repository's `scripts/data`.

mod common;
use common::*;

/// Examples that set up the merchant themselves, so they run without the prelude.
const STANDALONE: &[&str] = &["merchant::apply", "shake::register"];

const PRELUDE: &str = r#"
let __head = media::upload("scripts/data/logo.png", "image");
let __cat = merchant::categories().filter(|c| c.level == 2 && c.sensitive_type == 0)[0];
merchant::apply(#{first_catid: __cat.father, second_catid: __cat.id, headimg_mediaid: __head.media_id, nickname: "示例商家", intro: "示例"});
let __poi = map::search_poi(#{districtid: 440106, keyword: "店"})[0];
store::add(#{map_poi_id: __poi.sosomap_poi_uid, pic_list: ["http://mmbiz.qpic.cn/sandbox/p.jpg"], contract_phone: "020-1", hour: "10:00-21:00", credential: "c"});
shake::register(#{name: "示例", phone_number: "13500000000", email: "ops@example.com", industry_id: "0118", qualification_cert_urls: [], apply_reason: "示例"});
shake::apply_ids(#{quantity: 3, apply_reason: "示例"});
let __icon = shake::upload_material("scripts/data/logo.png", "icon");
let __page = shake::add_page(#{title: "示例", description: "示例页面", page_url: "https://example.com/", icon_url: __icon});
let __dev = #{device_id: shake::all_devices()[0].device_id};
shake::bind_pages(#{device_identifier: __dev, page_ids: [__page.page_id]});
let __group = shake::add_group(#{group_name: "示例分组"});
shake::add_group_devices(#{group_id: __group.group_id, device_identifiers: [__dev]});
"#;

#[test]
fn every_reference_example_runs_on_the_sandbox() {
    let o = assert_cmd::Command::cargo_bin("wxscript")
        .expect("bin")
        .args(["docs", "--format", "json"])
        .output()
        .expect("docs");
    let docs: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let dir = tempfile::tempdir().expect("tempdir");
    #[cfg(unix)]
    std::os::unix::fs::symlink(repo_root().join("scripts"), dir.path().join("scripts")).expect("link");
    let mut failures = Vec::new();
    let mut ran = 0;
    for f in docs.as_array().expect("array") {
        let name = f["name"].as_str().unwrap_or_default();
        let example = f["example"].as_str().unwrap_or_default();
        assert!(!example.trim().is_empty(), "{name} has no example");
        let script = if STANDALONE.contains(&name) { example.to_string() } else { format!("{PRELUDE}\n{example}") };
        let file = dir.path().join(format!("{}.rhai", name.replace("::", "_")));
        std::fs::write(&file, &script).expect("write");
        let o = assert_cmd::Command::cargo_bin("wxscript")
            .expect("bin")
            .current_dir(dir.path())
            .env("WXSCRIPT_CACHE_DIR", dir.path().join("cache"))
            .env("WXSCRIPT_CONFIG", dir.path().join("none.toml"))
            .env("NO_COLOR", "1")
            .args(["run", "--sandbox", "--quiet"])
            .arg(&file)
            .output()
            .expect("runs");
        ran += 1;
        if !o.status.success() {
            failures.push(format!("{name}:\n{}", stderr(&o)));
        }
    }
    assert!(ran > 20);
    assert!(failures.is_empty(), "{} example(s) failed:\n{}", failures.len(), failures.join("\n"));
}
