//! Many-account figures for docs/performance.md: `store::add` of 2,000 rows over 8 own accounts
//! (250 each, `qps = 50` each, so 400 calls/s is the most the limits allow) against the
//! simulator with 20 ms latency, each item made as its account inside `parallel`. Prints the
//! calls/s achieved, its share of 400/s and each account's rate, medians of 3 runs (a fresh
//! simulator each run); asserts nothing.
//!
//! Run: `cargo bench --bench accounts` (release build; about two minutes once built). `-- N`
//! sets `parallel`'s width (default 16) for the median and runs only that; without it, single
//! runs at widths 8 and 32, and one with the rows grouped by account, follow for comparison.

use std::path::Path;

use wxscript::sandbox::{Config, Sandbox, own_appid, own_secret};

mod common;
use common::{BIN, merchant_setup};

const ACCOUNTS: usize = 8;
const ROWS: usize = 250;
const QPS: f64 = 50.0;
const LIMIT: f64 = ACCOUNTS as f64 * QPS;

/// The config file: `shop-1`..`shop-8` are the simulator's own accounts 1..8, each `qps = 50`.
/// The `default` account has no credentials, so every call is made as one of these.
fn write_config(path: &Path) {
    let mut text = String::new();
    for i in 1..=ACCOUNTS {
        text.push_str(&format!(
            "[accounts.shop-{i}]\nappid = \"{}\"\nappsecret = \"{}\"\nqps = {QPS}\n\n",
            own_appid(i),
            own_secret(i)
        ));
    }
    std::fs::write(path, text).expect("write config");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
}

/// The script: each account's merchant set up beforehand (as that account, untimed), the POIs
/// found once, then the 2,000 adds in one `parallel`, rows either interleaved across the accounts
/// (a sheet of many merchants' stores in no order) or `grouped` by account (a sheet sorted by
/// it). Prints `elapsed failed` and each account's rate: its 250 calls over the time from its
/// first call's start to its last call's return.
fn script(width: usize, grouped: bool) -> String {
    let setup = merchant_setup("基准连锁店");
    let (outer, inner) = if grouped { ("a", "r") } else { ("r", "a") };
    format!(
        r#"
        let names = [];
        for i in 1..={ACCOUNTS} {{ names.push(`shop-${{i}}`); }}
        for a in names {{ account::with(a, || {{ {setup} merchant::audit_info(); }}); }}
        account::use(names[0]);
        let ds = map::districts()[2];
        let pois = [];
        let d = 0;
        while pois.len() < {ROWS} {{
            for p in map::search_poi(#{{districtid: parse_int(ds[d * 7].id), keyword: "店"}}) {{ pois.push(p.sosomap_poi_uid); }}
            d += 1;
        }}
        let items = [];
        let counts = #{{r: {ROWS}, a: names.len()}};
        for {outer} in 0..counts.{outer} {{
            for {inner} in 0..counts.{inner} {{ items.push(#{{a: a, uid: pois[r], credential: `91440105MA${{a}}x${{r}}`}}); }}
        }}
        let t = timestamp();
        let done = parallel(items, {width}, |it| account::with(names[it.a], || {{
            let start = t.elapsed;
            store::add(#{{map_poi_id: it.uid, pic_list: ["http://mmbiz.qpic.cn/x.jpg"], contract_phone: "1", hour: "10:00-21:00", credential: it.credential}});
            #{{a: it.a, start: start, end: t.elapsed}}
        }}));
        let elapsed = t.elapsed;
        let failed = done.filter(|x| !x.ok);
        let first = [];
        let last = [];
        for a in names {{ first.push(elapsed); last.push(0.0); }}
        for x in done {{
            if x.ok {{
                let v = x.value;
                if v.start < first[v.a] {{ first[v.a] = v.start; }}
                if v.end > last[v.a] {{ last[v.a] = v.end; }}
            }}
        }}
        let line = `${{elapsed}} ${{failed.len()}}`;
        for a in 0..names.len() {{ line += ` ${{{ROWS}.0 / (last[a] - first[a])}}`; }}
        print(line);
        if failed.len() > 0 {{ print(failed[0].error); }}
        "#
    )
}

/// The stores each of the simulator's own accounts holds, in order: what shows each call reached
/// its own account.
fn stores_held(rt: &tokio::runtime::Runtime, sim: &Sandbox) -> Vec<u64> {
    let url = format!("{}/_sandbox/accounts", sim.base_url());
    let v: serde_json::Value =
        rt.block_on(async { reqwest::get(&url).await.expect("accounts").json().await.expect("JSON") });
    v["accounts"].as_array().into_iter().flatten().map(|a| a["stores"].as_u64().unwrap_or(0)).collect()
}

/// One run on a fresh simulator: (calls/s, failed, each account's calls/s), or what went wrong.
fn run_once(width: usize, grouped: bool) -> Result<(f64, usize, Vec<f64>), String> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    let sim = rt
        .block_on(Sandbox::start(Config { latency_ms: 20, own_accounts: ACCOUNTS, ..Config::default() }, 0))
        .expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("accounts.toml");
    write_config(&cfg);
    let path = dir.path().join("accounts.rhai");
    std::fs::write(&path, script(width, grouped)).expect("write script");
    let out = std::process::Command::new(BIN)
        .env("WECHAT_API_BASE", sim.base_url())
        .env("WXSCRIPT_CACHE_DIR", dir.path().join("cache"))
        .env("WXSCRIPT_CONFIG", &cfg)
        .env_remove("WECHAT_APPID")
        .env_remove("WECHAT_APPSECRET")
        .env_remove("WECHAT_ACCESS_TOKEN")
        .env_remove("WXSCRIPT_QPS")
        .env_remove("WXSCRIPT_ACCOUNT")
        .args(["run", "--quiet"])
        .arg(&path)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<f64> =
        text.lines().next().unwrap_or("").split_whitespace().filter_map(|f| f.parse().ok()).collect();
    if fields.len() != 2 + ACCOUNTS {
        return Err(format!("{text} {}", String::from_utf8_lossy(&out.stderr)));
    }
    let calls = (ACCOUNTS * ROWS) as f64;
    if fields[1] > 0.0 {
        println!("first failure: {}", text.lines().nth(1).unwrap_or(""));
    }
    let held = stores_held(&rt, &sim);
    if held.len() != ACCOUNTS || held.iter().any(|n| *n != ROWS as u64) {
        println!("stores held by the simulator's accounts: {held:?}, not {ROWS} each");
    }
    Ok((calls / fields[0], fields[1] as usize, fields[2..].to_vec()))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn report(width: usize, grouped: bool, rounds: usize) {
    let runs: Vec<_> =
        (0..rounds).filter_map(|_| run_once(width, grouped).map_err(|e| println!("run failed: {e}")).ok()).collect();
    if runs.is_empty() {
        return;
    }
    let mut rates: Vec<f64> = runs.iter().map(|r| r.0).collect();
    let shown: Vec<String> = rates.iter().map(|r| format!("{r:.1}")).collect();
    let rate = median(&mut rates);
    let failed: usize = runs.iter().map(|r| r.1).sum();
    let per: Vec<String> = (0..ACCOUNTS)
        .map(|a| {
            let mut v: Vec<f64> = runs.iter().map(|r| r.2[a]).collect();
            format!("{:.1}", median(&mut v))
        })
        .collect();
    println!(
        "store::add, {ACCOUNTS} accounts x {ROWS} rows, qps = {QPS} each, 20 ms latency, parallel(.., {width}, ..), rows {}: \
         {rate:.1} calls/s = {:.1}% of {LIMIT} (median of {}: {}; {failed} failed)",
        if grouped { "grouped by account" } else { "interleaved" },
        rate / LIMIT * 100.0,
        runs.len(),
        shown.join(", ")
    );
    println!("  per account (calls/s, limit {QPS}): {}", per.join(", "));
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("cd");
    let width = std::env::args().skip(1).find_map(|a| a.parse::<usize>().ok());
    report(width.unwrap_or(16), false, 3);
    if width.is_none() {
        report(8, false, 1);
        report(32, false, 1);
        report(16, true, 1);
    }
}
