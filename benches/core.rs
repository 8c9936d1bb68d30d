//! Core figures for docs/performance.md: start-up of an empty script, sequential call
//! throughput of `wxscript` beside a plain reqwest loop (the floor), and the simulator's
//! capacity under a load generator on loopback. Prints figures; asserts nothing.
//!
//! Run: `cargo bench --bench core` (release build; takes about a minute).

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wxscript::sandbox::{APPID, SECRET};

mod common;
use common::{BIN, merchant_setup, serve, wx};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn startup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.rhai");
    std::fs::write(&empty, "").expect("write");
    let mut times = Vec::new();
    for _ in 0..60 {
        let t = Instant::now();
        let s = Command::new(BIN).arg("run").arg(&empty).env("WECHAT_ACCESS_TOKEN", "x").status().expect("run");
        assert!(s.success());
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!("start-up, empty script: median {:.2} ms over {} runs", median(times), 60);
}

async fn token(base: &str) -> String {
    let v: Value =
        reqwest::get(format!("{base}/cgi-bin/token?grant_type=client_credential&appid={APPID}&secret={SECRET}"))
            .await
            .expect("token")
            .json()
            .await
            .expect("json");
    v["access_token"].as_str().expect("token").to_string()
}

fn sequential(rt: &tokio::runtime::Runtime, base: &str) {
    const N: usize = 3000;
    let base = base.to_string();
    // A store to read.
    let dir = tempfile::tempdir().expect("tempdir");
    let setup = dir.path().join("setup.rhai");
    std::fs::write(
        &setup,
        merchant_setup("基准测试店")
            + r#"
        let poi = map::search_poi(#{districtid: 440105, keyword: "店"})[0];
        store::add(#{map_poi_id: poi.sosomap_poi_uid, pic_list: ["http://mmbiz.qpic.cn/x.jpg"], contract_phone: "1", hour: "10:00-21:00", credential: "c"});
        print(store::all()[0].poi_id);
        "#,
    )
    .expect("write");
    let mut c = wx(&base, dir.path());
    let out = c.arg("run").arg(&setup).output().expect("setup");
    let poi_id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!poi_id.is_empty(), "setup failed: {}", String::from_utf8_lossy(&out.stderr));

    let mut wx_rates = Vec::new();
    let mut plain_rates = Vec::new();
    let script = dir.path().join("loop.rhai");
    std::fs::write(
        &script,
        format!(
            "store::get(\"{poi_id}\");\nlet t = timestamp();\nfor i in 0..{N} {{ store::get(\"{poi_id}\"); }}\nprint({N}.to_float() / t.elapsed);"
        ),
    )
    .expect("write");
    for _ in 0..5 {
        let mut c = wx(&base, dir.path());
        let out = c.arg("run").arg(&script).output().expect("loop");
        let rate: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().expect("rate");
        wx_rates.push(rate);

        let rate = rt.block_on(async {
            let client = reqwest::Client::new();
            let tok = token(&base).await;
            let url = format!("{base}/wxa/get_store_info");
            let body = serde_json::to_vec(&json!({"poi_id": poi_id})).expect("json");
            let t = Instant::now();
            for _ in 0..N {
                let v: Value = client
                    .post(&url)
                    .query(&[("access_token", &tok)])
                    .body(body.clone())
                    .send()
                    .await
                    .expect("send")
                    .json()
                    .await
                    .expect("json");
                assert_eq!(v["errcode"], 0);
            }
            N as f64 / t.elapsed().as_secs_f64()
        });
        plain_rates.push(rate);
    }
    let (w, p) = (median(wx_rates), median(plain_rates));
    println!("sequential store::get: wxscript {w:.0} calls/s, plain reqwest loop {p:.0} calls/s, ratio {:.2}x", p / w);
}

fn capacity() {
    let (mut child, base) = serve(&[]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let rate = rt.block_on(async {
        let tok = token(&base).await;
        let client = reqwest::Client::builder().pool_max_idle_per_host(128).build().expect("client");
        let done = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(5);
        let url = format!("{base}/wxa/get_store_list?access_token={tok}");
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let (c, u, d) = (client.clone(), url.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    let r = c.post(&u).body(r#"{"offset":0,"limit":10}"#).send().await;
                    if let Ok(r) = r
                        && r.bytes().await.is_ok()
                    {
                        d.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        let t = Instant::now();
        for t in tasks {
            let _ = t.await;
        }
        done.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64()
    });
    let _ = child.kill();
    let _ = child.wait();
    println!("simulator capacity: {rate:.0} requests/s (64 connections, 5 s, generator on the same 2 cores)");
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("cd");
    startup();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    // The simulator in its own process: both clients measured against it are then equally
    // far from the server.
    let (mut child, base) = serve(&[]);
    sequential(&rt, &base);
    let _ = child.kill();
    let _ = child.wait();
    capacity();
}
