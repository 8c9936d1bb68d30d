//! Bulk work: CSV ingestion, district lookup, parallel calls, the run-wide rate, dry runs and
//! resumable imports, all through the built binary against the simulator.

mod common;
use common::*;

use std::time::{Duration, Instant};

use serde_json::json;
use wxscript::sandbox::Config;

fn lines(out: &str) -> Vec<&str> {
    out.lines().map(str::trim).collect()
}

#[test]
fn csv_reads_every_kind_of_sheet() {
    let sim = Sim::start();
    let d = sim.dir.path();
    std::fs::write(d.join("bom.csv"), "\u{feff}name,phone\n海珠店,020-1\n").expect("write");
    let (gbk, _, _) = encoding_rs::GBK.encode("name,city\n天河店,广州市\n越秀店,广州市\n");
    std::fs::write(d.join("gbk.csv"), &gbk).expect("write");
    std::fs::write(d.join("quoted.csv"), "name,address\n\"A店\",\"中山路1号\n二楼\"\n\"B, 店\",\"说\"\"好\"\"\"\n")
        .expect("write");
    std::fs::write(d.join("ragged.csv"), "name,phone\na,1\nb,2,extra\nc,3\n").expect("write");
    std::fs::write(d.join("empty.csv"), "").expect("write");
    std::fs::write(d.join("header.csv"), "name,phone\n").expect("write");
    // An English header and thousands of ASCII rows before the first Chinese one (GBK).
    let mut late = String::from("name,city\n");
    for i in 0..20_000 {
        late.push_str(&format!("shop{i},x\n"));
    }
    late.push_str("天河店,广州市\n");
    std::fs::write(d.join("late.csv"), encoding_rs::GBK.encode(&late).0).expect("write");
    std::fs::write(d.join("twice.csv"), "name,name\na,b\n").expect("write");
    std::fs::write(d.join("nameless.csv"), "name,,\na,b,c\n").expect("write");
    // UTF-8 rows, then rows pasted from a GBK sheet.
    let mut mixed = String::from("name,city\n");
    for i in 0..30 {
        mixed.push_str(&format!("天河店{i},广州市\n"));
    }
    let mut mixed = mixed.into_bytes();
    mixed.extend_from_slice(&encoding_rs::GBK.encode("越秀店,广州市\n").0);
    std::fs::write(d.join("mixed.csv"), mixed).expect("write");
    std::fs::write(d.join("short.csv"), "name,phone,hours\na,1\n").expect("write");
    let script = format!(
        r#"
        let dir = "{dir}";
        let b = csv::read(`${{dir}}/bom.csv`);
        print(`bom ${{b[0].keys()}} ${{b[0].name}}`);
        let g = csv::read(`${{dir}}/gbk.csv`);
        print(`gbk ${{g.len()}} ${{g[0].name}} ${{g[1].city}}`);
        let g2 = csv::read(`${{dir}}/gbk.csv`, #{{encoding: "gbk"}});
        print(`gbk2 ${{g2[1].name}}`);
        let q = csv::read(`${{dir}}/quoted.csv`);
        print(`quoted ${{q[0].address.contains("\n")}} ${{q[1].name}} ${{q[1].address}}`);
        try {{ csv::read(`${{dir}}/ragged.csv`); }} catch (e) {{ print(`ragged ${{e.kind}} ${{e.errmsg}}`); }}
        let r = csv::read(`${{dir}}/ragged.csv`, #{{skip_bad_rows: true}});
        print(`skipped ${{r.rows.len()}} ${{r.bad_rows[0].line}} ${{r.bad_rows[0].fields}}`);
        print(`empty ${{csv::read(`${{dir}}/empty.csv`).len()}}`);
        print(`header ${{csv::read(`${{dir}}/header.csv`).len()}}`);
        let late = csv::read(`${{dir}}/late.csv`);
        print(`late ${{late.len()}} ${{late[20000].name}}`);
        let m = 0;
        csv::each(`${{dir}}/late.csv`, |row| {{ if row.city == "广州市" {{ m += 1; }} }});
        print(`late each ${{m}}`);
        try {{ csv::read(`${{dir}}/twice.csv`); }} catch (e) {{ print(`twice ${{e.errmsg}}`); }}
        try {{ csv::read(`${{dir}}/mixed.csv`); }} catch (e) {{ print(`mixed ${{e.errmsg}}`); }}
        let nl = csv::read(`${{dir}}/nameless.csv`)[0];
        print(`nameless ${{nl.name}} ${{nl.column2}} ${{nl.column3}}`);
        try {{ csv::read(`${{dir}}/short.csv`); }} catch (e) {{ print(`short ${{e.errmsg}}`); }}
        try {{ csv::read(`${{dir}}/missing.csv`); }} catch (e) {{ print(`missing ${{e.kind}} ${{e.path.ends_with("missing.csv")}}`); }}
        try {{ csv::read(`${{dir}}/bom.csv`, #{{skip_bad_row: true}}); }} catch (e) {{ print(`option ${{e.kind}} ${{e.errmsg}}`); }}
        let n = 0;
        let each = csv::each(`${{dir}}/quoted.csv`, |row| {{ n += 1; }});
        print(`each ${{n}} ${{each.rows}}`);
        csv::write(`${{dir}}/out.csv`, [#{{name: "海珠店", n: 1, note: ()}}, #{{name: "x,y", n: 2.5}}], #{{columns: ["name", "n", "note"]}});
        let back = csv::read(`${{dir}}/out.csv`);
        print(`write ${{back[0].name}} ${{back[0].n}} [${{back[0].note}}] ${{back[1].name}} ${{back[1].n}}`);
        "#,
        dir = d.display()
    );
    let out = ok(&sim.run(&script));
    let l = lines(&out);
    assert!(l.contains(&r#"bom ["name", "phone"] 海珠店"#), "{out}");
    assert!(l.contains(&"gbk 2 天河店 广州市"), "{out}");
    assert!(l.contains(&"gbk2 越秀店"), "{out}");
    assert!(l.contains(&r#"quoted true B, 店 说"好""#), "{out}");
    assert!(out.contains("ragged io") && out.contains("ragged.csv:3: row has 3 fields but the header has 2"), "{out}");
    assert!(l.contains(&r#"skipped 2 3 ["b", "2", "extra"]"#), "{out}");
    assert!(l.contains(&"late 20001 天河店"), "{out}");
    assert!(l.contains(&"late each 1"), "{out}");
    assert!(out.contains("twice.csv:1: the header has \"name\" twice (columns 1 and 2)"), "{out}");
    assert!(l.contains(&"nameless a b c"), "{out}");
    assert!(out.contains("mixed.csv:32: the file is UTF-8 up to this line"), "{out}");
    assert!(out.contains("short.csv:2: row has 2 fields but the header has 3: column 3 (hours)"), "{out}");
    assert!(l.contains(&"empty 0"), "{out}");
    assert!(l.contains(&"header 0"), "{out}");
    assert!(l.contains(&"missing io true"), "{out}");
    assert!(out.contains("option input") && out.contains("did you mean \"skip_bad_rows\""), "{out}");
    assert!(l.contains(&"each 2 2"), "{out}");
    assert!(l.contains(&"write 海珠店 1 [] x,y 2.5"), "{out}");
}

#[test]
fn district_lookup_by_id_name_text_and_point() {
    let sim = Sim::start();
    let out = ok(&sim.run(
        r#"
        print(district::find("440105").fullname);
        print(district::find("海珠区").id);
        let d = district::find("广东省广州市海珠区");
        print(`${d.id} ${d.province} ${d.city} ${d.district} ${type_of(d.lat)}`);
        print(district::find("广州海珠").id);
        print(district::find("广州").id + " " + district::find("广州市").id);
        try { district::find("鼓楼区"); } catch (e) { print(`ambiguous ${e.kind} ${e.errmsg}`); }
        try { district::find("火星市"); } catch (e) { print(`unknown ${e.kind} ${e.errmsg}`); }
        print(district::nearest(23.0974903107, 113.323753357).id);
        print(district::children("广州市").len());
        for i in 0..200 { district::find("天河区"); }
        print(sandbox::stats().by_path["wxa/get_district"]);
        try { district::nearest(113.32, 23.09); } catch (e) { print(`swapped ${e.kind} ${e.field}`); }
        try { district::nearest(48.85, 2.35); } catch (e) { print(`abroad ${e.kind} ${e.errmsg}`); }
        "#,
    ));
    let l = lines(&out);
    assert_eq!(l[0], "海珠区");
    assert_eq!(l[1], "440105");
    assert_eq!(l[2], "440105 广东省 广州市 海珠区 f64");
    assert_eq!(l[3], "440105");
    assert_eq!(l[4], "440100 440100");
    assert!(l[5].starts_with("ambiguous input") && l[5].contains("南京市") && l[5].contains("福州市"), "{out}");
    assert!(l[6].starts_with("unknown input") && l[6].contains("火星市"), "{out}");
    assert_eq!(l[7], "440105");
    assert_eq!(l[8], "11");
    assert_eq!(l[9], "1", "one table fetch for every lookup of the run");
    assert_eq!(l[10], "swapped input lat");
    assert!(l[11].starts_with("abroad input") && l[11].contains("covers China"), "{out}");
    // A second run reads the table from the disk cache of this API base.
    sim.reset_stats();
    ok(&sim.run("print(district::find(\"海珠区\").id);"));
    assert_eq!(sim.count("wxa/get_district"), 0, "{}", sim.stats());
}

#[test]
fn parallel_keeps_order_isolates_errors_and_bounds_concurrency() {
    let sim = Sim::with(Config { latency_ms: 60, ..Config::default() });
    let out = ok(&sim.run(
        r#"
        let items = [];
        for i in 0..24 { items.push(i); }
        let r = parallel(items, 4, |i| {
            if i == 5 { store::get("999999"); }
            store::list(0, 1).total_count + i
        });
        print(r.len());
        print(r.filter(|x| x.ok).map(|x| x.value));
        print(`${r[5].ok} ${r[5].error.errcode} ${r[5].error.kind}`);
        print(sandbox::stats().max_in_flight);
        "#,
    ));
    let l = lines(&out);
    assert_eq!(l[0], "24");
    assert_eq!(l[1], "[0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]");
    assert_eq!(l[2], "false 65115 api");
    let max: i64 = l[3].parse().expect("int");
    assert!((2..=4).contains(&max), "at most 4 in flight, and really parallel: {max}");
}

#[test]
fn workers_use_captured_variables_without_a_data_race_and_a_lost_change_is_an_error() {
    let sim = Sim::start();
    let path = sim.dir.path().join("captured.jsonl");
    let out = ok(&sim.run(&format!(
        r#"
        let j = journal::open("{}");
        let by_key = #{{}};
        for i in 0..100 {{ by_key[`${{i}}`] = i; }}
        let items = [];
        for i in 0..3000 {{ items.push(i); }}
        let r = parallel(items, 16, |i| {{
            let k = `${{i}}`;
            if !j.done(k) {{ j.record(k, by_key[`${{i % 100}}`]); }}
            by_key.len()
        }});
        let failed = r.filter(|x| !x.ok);
        print(`${{failed.len()}} failed, ${{r.filter(|x| x.value == 100).len()}} saw the map`);
        for x in failed {{ print(x.error.errmsg); break; }}
        let n = 0;
        try {{ parallel([1, 2, 3], 2, |x| {{ n += x; }}); }} catch (e) {{ print(`${{e.kind}}: ${{e.errmsg}}`); }}
        "#,
        path.display()
    )));
    assert!(out.starts_with("0 failed, 3000 saw the map"), "{out}");
    assert!(out.contains("script: parallel: the function changed a variable it captured"), "{out}");
    let text = std::fs::read_to_string(&path).expect("journal");
    // Its header, then one record per item.
    assert_eq!(text.lines().count(), 3001);
}

#[test]
fn qps_is_honoured_sequential_and_parallel() {
    let sim = Sim::start();
    let path = sim.write(
        "q.rhai",
        "store::list(0, 1);\nlet t = timestamp();\nfor i in 0..10 { store::list(0, 1); }\nparallel([1,2,3,4,5,6,7,8,9,10], 5, |x| store::list(0, 1));\nprint(t.elapsed);",
    );
    let start = Instant::now();
    let out = ok(&sim.cmd().arg("run").arg(&path).args(["--qps", "20"]).output().expect("runs"));
    let elapsed: f64 = out.trim().parse().expect("float");
    // 20 calls after the first at 20/s take at least 0.95 s.
    assert!(elapsed >= 0.9, "{elapsed}");
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn dry_run_sends_reads_but_not_writes() {
    let sim = Sim::start();
    let path = sim.write(
        "d.rhai",
        r#"
        let head = media::upload("scripts/data/logo.png", "image");
        print(`media ${head.media_id}`);
        merchant::apply(#{first_catid: 1, second_catid: 2, headimg_mediaid: head.media_id, nickname: "试运行店", intro: "x"});
        print(`stores ${store::list(0, 1).total_count}`);
        let r = store::add(#{map_poi_id: "123", pic_list: ["http://p/1.jpg"], contract_phone: "1", hour: "10:00-21:00", credential: "c"});
        print(`audit ${r.audit_id}`);
        let u = store::update(#{poi_id: "1", hour: "10:00-21:00", contract_phone: "1", pic_list: ["http://p/1.jpg"]});
        print(`update ${u.has_audit_id}`);
        wx::request("POST", "wxa/del_store", #{poi_id: "1"});
        print(`raw read ${wx::request("POST", "wxa/get_store_list", #{offset: 0, limit: 1}).total_count}`);
        "#,
    );
    let out = ok(&sim.cmd().arg("run").arg(&path).arg("--dry-run").output().expect("runs"));
    assert!(out.contains("dry-run: POST cgi-bin/media/upload?type=image (multipart media: logo.png"), "{out}");
    assert!(out.contains(r#"dry-run: POST wxa/apply_merchant {"first_catid":1"#), "{out}");
    assert!(out.contains(r#"dry-run: POST wxa/add_store {"contract_phone":"1","credential":"c","hour":"10:00-21:00","map_poi_id":"123","pic_list":"{\"list\":[\"http://p/1.jpg\"]}"}"#), "{out}");
    assert!(out.contains("media DRY-RUN-MEDIA-ID") && out.contains("audit 0") && out.contains("update 0"), "{out}");
    assert!(out.contains("stores 0"), "reads are sent: {out}");
    assert!(out.contains(r#"dry-run: POST wxa/del_store {"poi_id":"1"}"#), "{out}");
    assert!(out.contains("raw read 0"), "{out}");
    assert!(!out.contains("access_token"), "{out}");
    for p in ["cgi-bin/media/upload", "wxa/apply_merchant", "wxa/add_store", "wxa/update_store", "wxa/del_store"] {
        assert_eq!(sim.count(p), 0, "{p} must not be sent");
    }
    assert_eq!(sim.count("wxa/get_store_list"), 2);
}

#[test]
fn an_import_killed_mid_way_and_resumed_adds_every_store_exactly_once() {
    let sim = Sim::with(Config { latency_ms: 25, ..Config::default() });
    let journal = sim.dir.path().join("shops.journal");
    let result = sim.dir.path().join("shops.result.csv");
    let args = |c: &mut std::process::Command| {
        c.args(["run", "scripts/import_stores.rhai", "--quiet", "--arg", "concurrency=4"])
            .arg("--arg")
            .arg(format!("journal={}", journal.display()))
            .arg("--arg")
            .arg(format!("out={}", result.display()));
    };
    // The first run is killed (SIGKILL) while stores are being added.
    let mut c = sim.std_cmd();
    args(&mut c);
    let mut child = c.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.count("wxa/add_store") < 40 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    let added_before = sim.count("wxa/add_store");
    assert!((40..200).contains(&added_before), "killed mid-way: {added_before}");
    assert!(!result.exists(), "no result CSV from the killed run");
    // The second run finishes the job, except for a map POI whose creation the kill may have
    // cut short: that row is reported, not created blindly a second time.
    let mut c = sim.std_cmd();
    args(&mut c);
    let out = ok(&c.output().expect("resume"));
    assert!(out.contains("imported"), "{out}");
    let text = std::fs::read_to_string(&result).expect("result csv");
    let unknown = text.lines().filter(|r| r.contains(",poi_unknown,")).count();
    assert!(unknown <= 4, "at most the calls in flight: {text}");
    if unknown > 0 {
        // Checked (the simulator's map search is the witness): not there, so create them.
        let mut c = sim.std_cmd();
        args(&mut c);
        ok(&c.args(["--arg", "retry_unknown=true"]).output().expect("retry"));
    }
    // The simulator's store list is the witness: 200 stores, each shop once.
    let listed = ok(&sim.run("let s = store::all(); print(s.len()); let names = #{}; for x in s { names[x.business_name] = 1; } print(names.len());"));
    assert_eq!(lines(&listed), vec!["200", "200"], "{listed}");
    let text = std::fs::read_to_string(&result).expect("result csv");
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 200);
    assert!(
        rows.iter().all(|r| r.contains(",added,") || r.contains(",existed,") || r.contains(",done earlier,")),
        "{text}"
    );
    assert!(
        sim.count("wxa/add_store") <= 200 + 4,
        "at most the in-flight calls repeat: {}",
        sim.count("wxa/add_store")
    );
    // A third run repeats nothing at all.
    sim.reset_stats();
    let mut c = sim.std_cmd();
    args(&mut c);
    ok(&c.output().expect("third run"));
    assert_eq!(sim.count("wxa/add_store"), 0);
    assert_eq!(sim.count("wxa/create_map_poi"), 0);
    let _ = json!(null);
}

#[test]
fn a_map_poi_whose_creation_was_cut_short_is_reported_not_created_twice() {
    let sim = Sim::start();
    let sheet_text: String = std::fs::read_to_string(repo_root().join("scripts/data/shops.csv"))
        .expect("sample sheet")
        .lines()
        .take(3)
        .map(|l| format!("{l}\n"))
        .collect();
    let sheet = sim.write("two.csv", &sheet_text);
    let journal = sim.dir.path().join("two.journal");
    // What a run stopped while creating the first row's POI leaves: the note that it was sent.
    let note = format!(
        "let j = journal::open(\"{}\"); j.record(\"poi-sent:一碗面馆(温江解放店)|解放路287号\", true);",
        journal.display()
    );
    ok(&sim.run(&note));
    let run = |extra: &[&str]| {
        let mut c = sim.cmd();
        c.args(["run", "scripts/import_stores.rhai", "--quiet", "--arg"])
            .arg(format!("sheet={}", sheet.display()))
            .arg("--arg")
            .arg(format!("journal={}", journal.display()))
            .args(extra);
        ok(&c.output().expect("runs"))
    };
    let out = run(&[]);
    assert!(out.contains("\"poi_unknown\": 1") && out.contains("\"added\": 1"), "{out}");
    assert_eq!(sim.count("wxa/create_map_poi"), 1, "only the other row's POI");
    let result = std::fs::read_to_string(sheet.with_extension("csv.result.csv")).expect("result csv");
    assert!(result.contains("poi_unknown") && result.contains("retry_unknown"), "{result}");
    // Checked and not there: retry_unknown creates it, and the store is added.
    let out = run(&["--arg", "retry_unknown=true"]);
    assert!(out.contains("\"added\": 1") && out.contains("\"done earlier\": 1"), "{out}");
    assert_eq!(sim.count("wxa/create_map_poi"), 2);
}

#[test]
fn rehearsals_and_dry_runs_leave_no_journal_a_real_run_would_trust() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sheet_text: String = std::fs::read_to_string(repo_root().join("scripts/data/shops.csv"))
        .expect("sample sheet")
        .lines()
        .take(4)
        .map(|l| format!("{l}\n"))
        .collect();
    let sheet = dir.path().join("three.csv");
    std::fs::write(&sheet, sheet_text).expect("sheet");
    let import = |extra: &[&str]| {
        let o = assert_cmd::Command::cargo_bin("wxscript")
            .expect("bin")
            .current_dir(repo_root())
            .args(["run", "--sandbox", "--quiet"])
            .args(extra)
            .args(["scripts/import_stores.rhai", "--arg"])
            .arg(format!("sheet={}", sheet.display()))
            .output()
            .expect("runs");
        (ok(&o), stderr(&o))
    };
    let journal = sheet.with_extension("csv.journal");
    // A dry run writes no journal.
    let (out, _) = import(&["--dry-run"]);
    assert!(out.contains("imported"), "{out}");
    assert!(!journal.exists(), "a dry run's outcomes are not journalled");
    // Two rehearsals, each on a fresh simulator: the second does the work again.
    let (out, _) = import(&[]);
    assert!(out.contains("\"added\": 3"), "{out}");
    let (out, err) = import(&[]);
    assert!(out.contains("\"added\": 3"), "{out}");
    assert!(err.contains("starting it afresh"), "{err}");
}

#[test]
fn a_dry_run_writes_no_result_file_and_leaves_a_real_one_as_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sheet_text: String = std::fs::read_to_string(repo_root().join("scripts/data/shops.csv"))
        .expect("sample sheet")
        .lines()
        .take(4)
        .map(|l| format!("{l}\n"))
        .collect();
    let sheet = dir.path().join("three.csv");
    std::fs::write(&sheet, sheet_text).expect("sheet");
    let result = dir.path().join("three.result.csv");
    let import = |extra: &[&str]| {
        assert_cmd::Command::cargo_bin("wxscript")
            .expect("bin")
            .current_dir(repo_root())
            .args(["run", "--sandbox", "--quiet"])
            .args(extra)
            .args(["scripts/import_stores.rhai", "--arg"])
            .arg(format!("sheet={}", sheet.display()))
            .arg("--arg")
            .arg(format!("out={}", result.display()))
            .output()
            .expect("runs")
    };
    // On a fresh sheet: no result file that looks real, only the line saying what it would write.
    let out = ok(&import(&["--dry-run"]));
    assert!(out.contains(&format!("dry-run: write {} (3 rows)", result.display())), "{out}");
    assert!(!result.exists(), "a dry run writes no result CSV");
    // After a real run, a dry run leaves its result as it was.
    ok(&import(&[]));
    let real = std::fs::read_to_string(&result).expect("real result");
    assert!(real.contains(",added,"), "{real}");
    let out = ok(&import(&["--dry-run"]));
    assert!(out.contains("dry-run: write"), "{out}");
    assert_eq!(std::fs::read_to_string(&result).expect("result"), real, "the real result is untouched");
}

/// A dry run writes no local file: not even the district cache a real run keeps.
#[test]
fn a_dry_run_leaves_no_district_cache() {
    let sim = Sim::start();
    let script = sim.write("d.rhai", "print(district::find(\"广州市海珠区\").id);");
    let o = sim.cmd().args(["run", "--dry-run", "--quiet"]).arg(&script).output().expect("runs");
    assert!(ok(&o).contains("440105"));
    let cached = |dir: &std::path::Path| {
        std::fs::read_dir(dir)
            .map(|d| d.filter_map(Result::ok).any(|e| e.file_name().to_string_lossy().contains("district")))
            .unwrap_or(false)
    };
    assert!(!cached(&sim.cache_dir()), "a dry run wrote the district cache");
    let o = sim.cmd().args(["run", "--quiet"]).arg(&script).output().expect("runs");
    assert!(ok(&o).contains("440105"));
    assert!(cached(&sim.cache_dir()), "a real run keeps the cache (else this test proves nothing)");
}
