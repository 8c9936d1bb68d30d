//! Bulk figures for docs/performance.md: `store::add` of 2,000 rows against the simulator with
//! 20 ms latency, sequential beside `parallel(.., 16, ..)`; `csv::each` and `csv::read` over
//! 1,000,000-row files of 8 and of 12 columns (`scripts/data/shops.csv`'s shape), median time
//! and peak memory of 3 runs; `district::find` lookups per second. Prints figures; asserts
//! nothing.
//!
//! Run: `cargo bench --bench bulk` (release build; a few minutes), or `cargo bench --bench bulk
//! -- csv` for the sheet figures alone.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use wxscript::sandbox::{Config, Sandbox};

mod common;
use common::{BIN, merchant_setup, wx};

/// Runs the binary and samples its peak resident set (VmHWM) while it runs.
fn run_measured(args: &[&str], envs: &[(&str, String)]) -> (String, Duration, u64) {
    let mut c = Command::new(BIN);
    c.args(args).stdout(std::process::Stdio::piped());
    for (k, v) in envs {
        c.env(k, v);
    }
    let t = Instant::now();
    let mut child = c.spawn().expect("spawn");
    let pid = child.id();
    let mut peak_kb = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(l) = s.lines().find(|l| l.starts_with("VmHWM:"))
        {
            peak_kb = peak_kb.max(l.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0));
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = t.elapsed();
    let out = child.wait_with_output().expect("output");
    (String::from_utf8_lossy(&out.stdout).into_owned(), elapsed, peak_kb)
}

fn bulk_add() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    let sim = rt.block_on(Sandbox::start(Config { latency_ms: 20, ..Config::default() }, 0)).expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("bulk.rhai");
    std::fs::write(
        &script,
        merchant_setup("基准连锁店")
            + r#"
        let ds = map::districts()[2];
        let ids = [];
        for i in 0..130 { ids.push(parse_int(ds[i * 7].id)); }
        let found = parallel(ids, 16, |d| map::search_poi(#{districtid: d, keyword: "店"}));
        let pois = [];
        for f in found { if f.ok { for p in f.value { pois.push(p.sosomap_poi_uid); } } }
        let row = |uid| #{map_poi_id: uid, pic_list: ["http://mmbiz.qpic.cn/x.jpg"], contract_phone: "1", hour: "10:00-21:00", credential: "c"};
        let seq = pois.extract(0, 200);
        let t = timestamp();
        for uid in seq { store::add(row.call(uid)); }
        let seq_rate = seq.len().to_float() / t.elapsed;
        let par = pois.extract(200, 2000);
        let t = timestamp();
        let r = parallel(par, 16, |uid| store::add(row.call(uid)));
        let par_rate = par.len().to_float() / t.elapsed;
        let failed = r.filter(|x| !x.ok).len();
        print(`${seq.len()} ${seq_rate} ${par.len()} ${par_rate} ${failed}`);
        "#,
    )
    .expect("write");
    let out = wx(&sim.base_url(), dir.path()).args(["run", "--quiet"]).arg(&script).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    if f.len() != 5 {
        println!("bulk store::add: failed: {text} {}", String::from_utf8_lossy(&out.stderr));
        return;
    }
    let seq: f64 = f[1].parse().unwrap_or(0.0);
    let par: f64 = f[3].parse().unwrap_or(0.0);
    println!(
        "bulk store::add, 20 ms latency: sequential {seq:.1} calls/s ({} rows); parallel(.., 16, ..) {par:.1} calls/s ({} rows, {} failed) = {:.0}% of the 800 calls/s limit",
        f[0],
        f[2],
        f[4],
        par / 800.0 * 100.0
    );
}

/// The sheets measured: the 8-column shape of earlier figures, and `scripts/data/shops.csv`'s
/// 12 columns (two picture URLs in one cell, a licence URL, an intro).
#[derive(Clone, Copy)]
enum Shape {
    Eight,
    Twelve,
}

fn write_sheet(path: &std::path::Path, shape: Shape, rows: usize) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    match shape {
        Shape::Eight => {
            writeln!(w, "name,province,city,district,address,phone,hours,credential").expect("write");
            for i in 0..rows {
                writeln!(
                    w,
                    "门店{i},广东省,广州市,海珠区,\"新港中路{i}号, 二楼\",020-{:08},08:00-22:00,91440105MA{i:08}",
                    i % 100_000_000
                )
                .expect("write");
            }
        }
        Shape::Twelve => {
            writeln!(w, "name,province,city,district,address,phone,hours,category,pictures,license,credential,intro")
                .expect("write");
            for i in 0..rows {
                writeln!(
                    w,
                    "一碗面馆(温江解放{i}店),四川省,成都市,温江区,解放路{i}号,028-{:08},07:00-23:00,美食:面馆,\
                     http://mmbiz.qpic.cn/mmbiz_jpg/shops{i}/0/0?wx_fmt=jpeg|http://mmbiz.qpic.cn/mmbiz_jpg/shops{i}/1/0?wx_fmt=jpeg,\
                     http://mmbiz.qpic.cn/mmbiz_jpg/licence{i}/0?wx_fmt=jpeg,91510115MA{i:08},手工拉面",
                    i % 100_000_000
                )
                .expect("write");
            }
        }
    }
}

/// The median of `rounds` runs: (seconds, peak RSS in MB, output).
fn median_of(rounds: usize, args: &[&str], env: &[(&str, String)]) -> (f64, f64, String, f64, f64) {
    let mut runs: Vec<(f64, f64, String)> = (0..rounds)
        .map(|_| {
            let (o, t, m) = run_measured(args, env);
            (t.as_secs_f64(), m as f64 / 1024.0, o.trim().to_string())
        })
        .collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (min, max) = (runs[0].0, runs[runs.len() - 1].0);
    let (t, m, o) = runs.swap_remove(runs.len() / 2);
    (t, m, o, min, max)
}

fn csv_million(shape: Shape, rounds: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("million.csv");
    write_sheet(&path, shape, 1_000_000);
    let cols = match shape {
        Shape::Eight => 8,
        Shape::Twelve => 12,
    };
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let each = dir.path().join("each.rhai");
    std::fs::write(&each, format!("let n = 0;\ncsv::each(\"{}\", |row| {{ n += 1; }});\nprint(n);", path.display()))
        .expect("write");
    let bare = dir.path().join("bare.rhai");
    std::fs::write(&bare, format!("print(csv::each(\"{}\", |row| {{}}).rows);", path.display())).expect("write");
    let read = dir.path().join("read.rhai");
    std::fs::write(&read, format!("print(csv::read(\"{}\").len());", path.display())).expect("write");
    let env = [("WECHAT_ACCESS_TOKEN", "x".to_string())];
    let label = format!("{cols} columns, 1,000,000 rows ({:.0} MB), median of {rounds}", size as f64 / 1e6);
    let (t, m, o, lo, hi) = median_of(rounds, &["run", each.to_str().expect("utf8")], &env);
    println!(
        "csv::each counting rows in the closure, {label}: {t:.2} s ({lo:.2} - {hi:.2}), peak RSS {m:.1} MB (rows seen: {o})"
    );
    let (t, m, o, lo, hi) = median_of(rounds, &["run", bare.to_str().expect("utf8")], &env);
    println!(
        "csv::each with an empty closure (the helper's own cost), {label}: {t:.2} s ({lo:.2} - {hi:.2}), peak RSS {m:.1} MB (rows: {o})"
    );
    let (t, m, o, lo, hi) = median_of(rounds, &["run", read.to_str().expect("utf8")], &env);
    println!("csv::read, {label}: {t:.2} s ({lo:.2} - {hi:.2}), peak RSS {m:.1} MB (rows: {o})");
}

fn district_lookups() {
    let v: serde_json::Value = serde_json::from_str(include_str!("../data/districts.json")).expect("data");
    let t = Instant::now();
    let ix = wxscript::helpers::district::Index::build(&v).expect("index");
    let build = t.elapsed();
    let names = ["海珠区", "广东省广州市天河区", "440106", "杭州西湖", "北京市朝阳区", "成都", "南京市鼓楼区"];
    let n = 2_000_000;
    let t = Instant::now();
    let mut hits = 0usize;
    for i in 0..n {
        if ix.find(names[i % names.len()]).is_ok() {
            hits += 1;
        }
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    println!(
        "district::find (index, after load): {rate:.0} lookups/s over {n} mixed lookups ({hits} hits); index built in {:.1} ms",
        build.as_secs_f64() * 1000.0
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let s = dir.path().join("d.rhai");
    std::fs::write(&s, "district::find(\"海珠区\");\nlet t = timestamp();\nfor i in 0..200000 { district::find(\"广东省广州市天河区\"); }\nprint(200000.0 / t.elapsed);").expect("write");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    let sim = rt.block_on(Sandbox::start(Config::default(), 0)).expect("sandbox");
    let out = wx(&sim.base_url(), dir.path()).arg("run").arg(&s).output().expect("run");
    let rate: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0.0);
    println!(
        "district::find called from a script loop: {rate:.0} lookups/s (includes the interpreter's loop and call)"
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("cd");
    // `-- csv` runs only the sheet figures.
    let only_csv = std::env::args().any(|a| a == "csv");
    if !only_csv {
        district_lookups();
    }
    csv_million(Shape::Eight, 3);
    csv_million(Shape::Twelve, 3);
    if !only_csv {
        bulk_add();
    }
}
