//! The Redis store across processes: several "hosts" (processes with their own cache
//! directories, sharing only a Redis the test starts) against the simulator over HTTP. They
//! fetch one token per expiry, hand a refused token on without a storm, take over a killed
//! holder's lease, give up clearly on a silent token endpoint, and share an account's rate.

mod common;

use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::{RedisServer, Sim, free_port, listen_port, ok, stderr, stdout, wait_until};
use serde_json::Value;
use wxscript::sandbox::{self, Config};

/// A process of "host" `host`: its own cache directory, the store `url`.
fn host_cmd(sim: &Sim, url: &str, host: usize) -> std::process::Command {
    let mut c = sim.std_cmd();
    c.env("WXSCRIPT_CACHE_DIR", sim.dir.path().join(format!("host{host}"))).env("WXSCRIPT_STORE", url);
    c
}

fn run_on(sim: &Sim, url: &str, host: usize, script: &str, extra: &[&str]) -> Output {
    let path = sim.write(&format!("h{host}.rhai"), script);
    host_cmd(sim, url, host).arg("run").args(extra).arg(&path).output().expect("wxscript runs")
}

fn spawn_on(sim: &Sim, url: &str, host: usize, script: &str) -> Child {
    let path = sim.write(&format!("h{host}.rhai"), script);
    host_cmd(sim, url, host)
        .args(["run", "--quiet"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wxscript starts")
}

/// Calls `store::list` with `inflight` calls in flight until `secs` have passed; prints
/// `N calls, M failed` and the first failure.
fn busy_script(inflight: usize, secs: f64) -> String {
    format!(
        r#"
        let items = [];
        for i in 0..{inflight} {{ items.push(i); }}
        let t = timestamp();
        let n = 0;
        let failed = [];
        while t.elapsed < {secs} {{
            let r = parallel(items, {inflight}, |i| store::list(0, 1));
            n += r.len();
            failed += r.filter(|x| !x.ok);
        }}
        print(`${{n}} calls, ${{failed.len()}} failed`);
        for x in failed {{ print(x.error.errmsg); break; }}
        "#
    )
}

#[test]
fn redis_down_at_start_is_an_error_naming_the_url_without_its_password() {
    let sim = Sim::start();
    let port = free_port();
    let url = format!("redis://ops:hunter22@127.0.0.1:{port}/0");
    let o = run_on(&sim, &url, 0, "store::list(0, 1);", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(&format!("redis://ops:***@127.0.0.1:{port}/0")), "{err}");
    assert!(!err.contains("hunter22"), "{err}");
    assert_eq!(sim.requests(), 0, "no call is made with files instead");
    // The Redis event stream with the file store: said so.
    let path = sim.write("find.rhai", "event::find(#{});");
    let o = sim.cmd().args(["run", "--log", "redis"]).arg(&path).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--store redis://"), "{}", stderr(&o));
    // A store that is neither files nor Redis is refused too.
    let o = run_on(&sim, "memcache://x", 0, "1;", &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("redis://"), "{}", stderr(&o));
}

#[test]
fn the_store_comes_from_the_flag_the_environment_or_the_config_file() {
    let sim = Sim::start();
    let redis = RedisServer::start();
    let url = redis.url();
    // The flag, and the persistence warning (this server saves nothing), once per process.
    let path = sim.write("a.rhai", "store::list(0, 1); store::list(0, 1);");
    let o = sim.cmd().args(["run", "--store", &url]).arg(&path).output().expect("runs");
    ok(&o);
    assert_eq!(stderr(&o).matches("keeps nothing on disk").count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("platform export"), "{}", stderr(&o));
    let stored: Value =
        serde_json::from_str(&redis.get(&format!("wxscript:{}:token", sandbox::APPID)).expect("token key"))
            .expect("JSON");
    assert!(stored["access_token"].as_str().is_some_and(|t| !t.is_empty()) && stored["expires_at"].is_u64());
    // A server that keeps an append-only file: no warning.
    let client = redis::Client::open(url.as_str()).expect("url");
    let mut c = client.get_connection().expect("connect");
    let _: () = redis::cmd("CONFIG").arg("SET").arg("appendonly").arg("yes").query(&mut c).expect("CONFIG SET");
    let o = sim.cmd().args(["run", "--store", &url]).arg(&path).output().expect("runs");
    ok(&o);
    assert!(!stderr(&o).contains("keeps nothing on disk"), "{}", stderr(&o));
    // The config file, with a key prefix: another host reuses the token, no second fetch.
    let cfg = sim.write("cfg.toml", &format!("store = \"{url}\"\nkey_prefix = \"team-a\"\n"));
    let fetches = sim.token_fetches();
    let run_cfg = |host: usize| {
        let mut c = sim.std_cmd();
        c.env("WXSCRIPT_CONFIG", &cfg).env("WXSCRIPT_CACHE_DIR", sim.dir.path().join(format!("h{host}")));
        c.arg("run").arg(&path).output().expect("runs")
    };
    ok(&run_cfg(1));
    ok(&run_cfg(2));
    assert_eq!(sim.token_fetches(), fetches + 1, "two hosts, one fetch");
    assert!(redis.get(&format!("team-a:{}:token", sandbox::APPID)).is_some());
    // The accounts command says which store is in use, and never a token.
    let o = sim.cmd().env("WXSCRIPT_STORE", &url).args(["accounts"]).output().expect("runs");
    let table = ok(&o);
    assert!(table.contains(&format!("store: {url}")), "{table}");
    assert!(table.contains("stable ("), "the stored token's time left: {table}");
    assert!(!table.contains(stored["access_token"].as_str().unwrap_or("?")), "{table}");
    let o = sim.cmd().args(["accounts", "--format", "json"]).output().expect("runs");
    let rows: Value = serde_json::from_str(&ok(&o)).expect("JSON");
    assert!(rows[0]["store"].as_str().is_some_and(|s| s.starts_with("file (")), "{rows}");
}

#[test]
fn four_hosts_fetch_one_token_per_expiry_and_a_refused_token_is_replaced_once() {
    let sim = Sim::with(Config { token_ttl: 3, latency_ms: 150, ..Config::default() });
    let redis = RedisServer::start();
    let url = redis.url();
    let secs = 10.0;
    let start = Instant::now();
    let children: Vec<Child> = (0..4).map(|h| spawn_on(&sim, &url, h, &busy_script(32, secs))).collect();
    // Half-way, WeChat refuses the current token of every host at once.
    std::thread::sleep(Duration::from_secs(5));
    let revoke = format!("{}/_sandbox/revoke_tokens", sim.base);
    sim.rt.block_on(async {
        reqwest::Client::new()
            .post(&revoke)
            .json(&serde_json::json!({"appid": sandbox::APPID}))
            .send()
            .await
            .expect("revoke")
    });
    let outs: Vec<Output> = children.into_iter().map(|c| c.wait_with_output().expect("waits")).collect();
    let elapsed = start.elapsed().as_secs_f64();
    for o in &outs {
        let out = ok(o);
        assert!(out.contains(", 0 failed"), "{out}");
    }
    // A token lives 3 s and is refreshed when its last second starts, so each lasts at least 2 s:
    // at most one fetch per 2 s of the run, plus the first and the refused one's replacement.
    // Four hosts each fetching for themselves would need four times as many.
    let fetches = sim.token_fetches();
    let bound = (elapsed / 2.0).ceil() as i64 + 2;
    assert!((3..=bound).contains(&fetches), "{fetches} token fetches in {elapsed:.1} s (at most {bound})");
}

#[test]
fn a_killed_lease_holder_is_taken_over_within_the_lease_time() {
    let sim = Sim::with(Config { latency_ms: 6000, ..Config::default() });
    let redis = RedisServer::start();
    let url = redis.url();
    // The first host takes the lease and waits on a slow token endpoint; it is killed there.
    let mut first = spawn_on(&sim, &url, 0, "store::list(0, 1);");
    let lease = format!("wxscript:{}:token:lease", sandbox::APPID);
    wait_until("the first host to take the lease", Duration::from_secs(10), || redis.get(&lease).is_some());
    let holder = redis.get(&lease).unwrap_or_default();
    assert!(holder.contains(&format!(":{}:", first.id())), "the lease names its holder: {holder}");
    // While it is held, `wxscript accounts` says by whom: `HOST:PID`, the lease without its
    // random part.
    let (who, _) = holder.rsplit_once(':').unwrap_or_default();
    assert!(who.ends_with(&format!(":{}", first.id())), "the lease is HOST:PID:RANDOM: {holder}");
    let o = host_cmd(&sim, &url, 9).arg("accounts").output().expect("runs");
    assert!(stdout(&o).contains(&format!(":{}", first.id())), "{}", stdout(&o));
    assert!(stdout(&o).contains(&format!("refreshing: {who}")), "{}", stdout(&o));
    first.kill().expect("kill -9");
    let _ = first.wait();
    sim.fault(serde_json::json!({"latency_ms": 0}));
    let t = Instant::now();
    ok(&run_on(&sim, &url, 1, "store::list(0, 1); print(\"ok\");", &[]));
    assert!(t.elapsed() < Duration::from_secs(12), "taken over in {:?}", t.elapsed());
}

#[test]
fn with_the_token_endpoint_silent_every_host_gives_up_within_the_deadline() {
    let sim = Sim::with(Config { latency_ms: 60_000, ..Config::default() });
    let redis = RedisServer::start();
    let url = redis.url();
    let start = Instant::now();
    let children: Vec<Child> = (0..3).map(|h| spawn_on(&sim, &url, h, "store::list(0, 1);")).collect();
    let outs: Vec<Output> = children.into_iter().map(|c| c.wait_with_output().expect("waits")).collect();
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(20), "gave up after {elapsed:?}");
    for o in &outs {
        assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
        let err = stderr(o);
        // The holder's own timeout, or (for those that waited for it) its failure or who held it.
        assert!(err.contains("within 15 s") || err.contains("has been refreshing this token"), "{err}");
    }
    // One fetch, not a loop.
    assert_eq!(sim.token_fetches(), 1);
}

#[test]
fn an_accounts_rate_holds_for_three_hosts_together() {
    let sim = Sim::start();
    let redis = RedisServer::start();
    let url = redis.url();
    let script = r#"
        let items = [];
        for i in 0..150 { items.push(i); }
        let r = parallel(items, 16, |i| store::list(0, 1));
        print(`${r.filter(|x| x.ok).len()} ok`);
    "#;
    let path = sim.write("rate.rhai", script);
    let children: Vec<Child> = (0..3)
        .map(|h| {
            host_cmd(&sim, &url, h)
                .args(["run", "--quiet", "--qps", "50"])
                .arg(&path)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("starts")
        })
        .collect();
    // 450 calls at 50/s take 9 s; the rate is measured in the middle, all three hosts busy.
    std::thread::sleep(Duration::from_secs(2));
    let (r1, t1) = (sim.requests(), Instant::now());
    std::thread::sleep(Duration::from_secs(4));
    let (r2, t2) = (sim.requests(), Instant::now());
    let rate = (r2 - r1) as f64 / (t2 - t1).as_secs_f64();
    for c in children {
        let o = c.wait_with_output().expect("waits");
        assert!(ok(&o).contains("150 ok"), "{}", stdout(&o));
    }
    assert!((45.0..=55.0).contains(&rate), "{rate:.1} requests/s for qps = 50");
}

#[test]
fn a_redis_restart_mid_run_fails_only_what_needed_redis_and_the_run_goes_on() {
    let sim = Sim::with(Config { token_ttl: 4, latency_ms: 50, ..Config::default() });
    let mut redis = RedisServer::start();
    let (url, port) = (redis.url(), redis.port);
    let script = r#"
        let items = [];
        for i in 0..8 { items.push(i); }
        let t = timestamp();
        let n = 0;
        let failed = [];
        let last = [];
        let j = journal::open("redis:restart");
        let claimed = false;
        while t.elapsed < 10.0 {
            last = parallel(items, 8, |i| store::list(0, 1));
            n += last.len();
            failed += last.filter(|x| !x.ok);
            // A claim needs Redis: it fails while Redis is away, and works once it is back.
            try { claimed = j.claim(`k${n}`); } catch (e) { failed.push(#{ok: false, error: e}); claimed = false; }
        }
        print(`${n} calls, ${failed.len()} failed, last batch ${last.filter(|x| x.ok).len()} ok, last claim ${claimed}`);
        for x in failed { print(`${x.error.kind}: ${x.error.errmsg}`); }
    "#;
    let child = spawn_on(&sim, &url, 0, script);
    // Down from 2 s to 6 s: the token fetched at start expires in between.
    std::thread::sleep(Duration::from_secs(2));
    redis.kill();
    // A process started meanwhile is refused at once, naming the store.
    let o = run_on(&sim, &url, 1, "1;", &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(&url), "{}", stderr(&o));
    std::thread::sleep(Duration::from_secs(4));
    let _restarted = RedisServer::start_on(port).expect("redis-server restarts on its port");
    let o = child.wait_with_output().expect("waits");
    let out = ok(&o);
    let head = out.lines().next().unwrap_or_default();
    assert!(head.ends_with("last batch 8 ok, last claim true"), "the run recovers: {out}");
    let failures: Vec<&str> = out.lines().skip(1).collect();
    assert!(failures.iter().any(|f| f.contains("cannot refresh the token")), "a refresh while Redis was down: {out}");
    assert!(failures.iter().any(|f| f.contains("cannot claim")), "a claim while Redis was down: {out}");
    for f in &failures {
        assert!(f.starts_with("network: ") && f.contains(&format!("Redis at {url}")), "{f}");
    }
    assert_eq!(stderr(&o).matches("keeps nothing on disk").count(), 1, "{}", stderr(&o));
}

#[test]
fn three_hosts_split_an_import_through_one_redis_journal_and_take_a_killed_hosts_rows_over() {
    let sim = Sim::with(Config { latency_ms: 20, ..Config::default() });
    let redis = RedisServer::start();
    let url = redis.url();
    // Each pass claims rows one by one as its workers get to them; a row claimed by a host that
    // died is free again once its claim lapses (3 s here), and the next pass takes it, first
    // looking whether the dead host's last call went through after all.
    let script = r#"
        // Workers get the journal curried, a function's argument.
        fn row(j, icon, existing, i) {
            let key = `r${i}`;
            if !j.claim(key) { return 0; }
            if !existing.contains(key) {
                shake::add_page(#{title: key, description: "d", page_url: "https://example.com/p", icon_url: icon});
            }
            j.record(key, true);
            1
        }
        let icon = shake::upload_material("scripts/data/logo.png", "icon");
        let j = journal::open("redis:import");
        let rows = [];
        for i in 0..2000 { rows.push(i); }
        let pass = 0;
        let idle = 0;
        while idle < 2 {
            let existing = if pass == 0 { [] } else { shake::all_pages().map(|p| p.title) };
            let r = parallel(rows, 8, Fn("row").curry(j).curry(icon).curry(existing));
            let did = r.filter(|x| x.ok).reduce(|s, x| s + x.value, 0);
            let failed = r.filter(|x| !x.ok);
            if failed.len() > 0 { throw failed[0].error; }
            if did == 0 { idle += 1; sleep(4); } else { idle = 0; }
            pass += 1;
        }
        print("done");
    "#;
    // Shake-around is approved for the account first (the simulator's review moved past).
    ok(&sim.run(
        r#"shake::register(#{name: "张三", phone_number: "13512345678", email: "a@example.com", industry_id: "0118",
                             qualification_cert_urls: [], apply_reason: "测试"});
           sandbox::advance(3600);
           if shake::audit_status().audit_status != 2 { throw "not approved"; }"#,
    ));
    let path = sim.write("import.rhai", script);
    let mut children: Vec<Child> = (0..3)
        .map(|h| {
            host_cmd(&sim, &url, h)
                .env("WXSCRIPT_CLAIM_LEASE", "3")
                .args(["run", "--quiet"])
                .arg(&path)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("starts")
        })
        .collect();
    wait_until("the import to start", Duration::from_secs(60), || sim.count("shakearound/page/add") >= 600);
    let mut killed = children.remove(0);
    killed.kill().expect("kill -9");
    let _ = killed.wait();
    for c in children {
        let o = c.wait_with_output().expect("waits");
        assert!(ok(&o).contains("done"), "{}", stdout(&o));
    }
    let o =
        sim.cmd().arg("run").arg(sim.write("list.rhai", "for p in shake::all_pages() { print(p.title); }")).output();
    let titles = ok(&o.expect("runs"));
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    for t in titles.lines() {
        *seen.entry(t).or_default() += 1;
    }
    assert_eq!(seen.len(), 2000, "every row added");
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "added more than once: {twice:?}");
}

/// `wxscript listen` on a free port of "host" `host`, appending to the store `url` (and its
/// own log file); returns it with its port once it says where it listens.
fn spawn_listener(sim: &Sim, url: &str, host: usize, token: &str) -> (Child, u16) {
    use std::io::{BufRead, BufReader};
    let log = sim.dir.path().join(format!("events{host}.jsonl"));
    let mut child = host_cmd(sim, url, host)
        .args(["listen", "--port", "0", "--token", token, "--log"])
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("listener starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let port = listen_port(&first);
    // Drained so the listener never blocks on a full pipe.
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
    (child, port)
}

#[test]
fn two_listeners_feed_one_stream_through_a_kill_and_a_third_host_sees_every_event() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use wxscript::sandbox::{AuditEvent, push};
    const N: u64 = 1000;
    const TOKEN: &str = "shared-listener-token";
    let sim = Sim::start();
    let redis = RedisServer::start();
    let url = redis.url();
    let (mut first, p1) = spawn_listener(&sim, &url, 1, TOKEN);
    let (mut second, p2) = spawn_listener(&sim, &url, 2, TOKEN);
    let targets: Vec<push::Target> = [p1, p2]
        .iter()
        .map(|p| push::Target::new(&format!("http://127.0.0.1:{p}/wechat"), TOKEN, None).expect("target"))
        .collect();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let events: Arc<Vec<AuditEvent>> = Arc::new(
        (1..=N)
            .map(|i| AuditEvent {
                appid: sandbox::APPID.into(),
                to: sandbox::TO_USER_NAME.into(),
                event: "add_store_audit_info",
                create_time: now,
                fields: vec![("audit_id", serde_json::json!(700_000 + i)), ("status", serde_json::json!(1))],
            })
            .collect(),
    );
    let (next, answered) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let client = reqwest::Client::new();
    // Eight senders; a load balancer sends event i to listener i % 2 until the first fails
    // to answer, then everything to the second (which also gets the failed one again).
    let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (targets, client, next, answered, events, down) =
                (targets.clone(), client.clone(), next.clone(), answered.clone(), events.clone(), down.clone());
            sim.rt.spawn(async move {
                let mut acked = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(ev) = events.get(i) else { break };
                    let xml = ev.to_xml();
                    let mut delivered = false;
                    if i % 2 == 0 && !down.load(Ordering::SeqCst) {
                        delivered = push::deliver(&client, &targets[0], &xml).await.is_ok();
                        if !delivered {
                            down.store(true, Ordering::SeqCst);
                        }
                    }
                    if !delivered {
                        delivered = push::deliver(&client, &targets[1], &xml).await.is_ok();
                    }
                    if delivered {
                        answered.fetch_add(1, Ordering::SeqCst);
                        acked.push(700_001 + i as u64);
                    }
                }
                acked
            })
        })
        .collect();
    let t = Instant::now();
    while answered.load(Ordering::SeqCst) < 300 && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(2));
    }
    first.kill().expect("kill -9");
    let _ = first.wait();
    let acked: Vec<u64> = workers.into_iter().flat_map(|w| sim.rt.block_on(w).expect("sender")).collect::<Vec<_>>();
    assert!(down.load(Ordering::SeqCst), "the burst ended before the kill; make it longer");
    assert_eq!(acked.len(), N as usize, "the second listener answered for the first");
    // The stream: every acknowledged event once.
    let client = redis::Client::open(url.as_str()).expect("url");
    let mut c = client.get_connection().expect("connect");
    let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(format!("wxscript:events:{}", sandbox::APPID))
        .arg("-")
        .arg("+")
        .query(&mut c)
        .expect("XRANGE");
    let ids: Vec<u64> = entries
        .iter()
        .filter_map(|(_, f)| f.chunks(2).find(|kv| kv[0] == "event").map(|kv| kv[1].clone()))
        .filter_map(|e| serde_json::from_str::<Value>(&e).ok()?["audit_id"].as_u64())
        .collect();
    let unique: std::collections::BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "an event is in the stream twice");
    for id in &acked {
        assert!(unique.contains(id), "event {id} was acknowledged but is not in the stream");
    }
    // A third host reads the stream.
    let last = acked.iter().max().copied().unwrap_or_default();
    let script = format!(
        "let e = event::wait(#{{audit_id: {last}}}, 10); print(e.audit_id); print(event::find(#{{Event: \"add_store_audit_info\"}}).len());"
    );
    let out = ok(&run_on(&sim, &url, 3, &script, &["--log", "redis"]));
    assert_eq!(out, format!("{last}\n{}\n", ids.len()));
    let _ = second.kill();
    let _ = second.wait();
}

#[test]
fn a_token_kept_by_another_program_in_redis_is_followed_and_a_stale_one_said_so() {
    let sim = Sim::start();
    let redis = RedisServer::start();
    let url = redis.url();
    let conn = redis::Client::open(url.as_str()).expect("url");
    let mut c = conn.get_connection().expect("connect");
    // The other program: fetches tokens itself and keeps the current one in a key of its own.
    let rotate = |c: &mut redis::Connection, revoke: bool| {
        sim.rt.block_on(async {
            let http = reqwest::Client::new();
            if revoke {
                let url = format!("{}/_sandbox/revoke_tokens", sim.base);
                http.post(url).json(&serde_json::json!({"appid": sandbox::APPID})).send().await.expect("revoke");
            }
        });
        let fetched: Value = sim.rt.block_on(async {
            let url = format!(
                "{}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
                sim.base,
                sandbox::APPID,
                sandbox::SECRET
            );
            reqwest::get(url).await.expect("token").json().await.expect("JSON")
        });
        let token = fetched["access_token"].as_str().expect("a token").to_string();
        let _: () = redis::cmd("SET")
            .arg("ops:wx-token")
            .arg(serde_json::json!({"access_token": token}).to_string())
            .query(c)
            .expect("SET");
        token
    };
    rotate(&mut c, false);
    let cfg = sim.write(
        "ext.toml",
        &format!(
            "store = \"{url}\"\n[accounts.ext]\nappid = \"{}\"\ntoken_source = \"redis-key:ops:wx-token\"\n",
            sandbox::APPID
        ),
    );
    let script = sim.write("ext.rhai", "store::list(0, 1); sleep(2); store::list(0, 1); print(\"ok\");");
    let fetches = sim.token_fetches();
    let child = sim
        .std_cmd()
        .env("WXSCRIPT_CONFIG", &cfg)
        .args(["run", "--account", "ext"])
        .arg(&script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    // Mid-run (once the run's first call is answered) the other program rotates: the old
    // token is refused from now on.
    wait_until("the run's first call", Duration::from_secs(10), || sim.count("wxa/get_store_list") >= 1);
    rotate(&mut c, true);
    let o = child.wait_with_output().expect("waits");
    assert!(ok(&o).contains("ok"));
    assert_eq!(sim.token_fetches(), fetches + 1, "wxscript never fetched a token itself");
    // The token is refused and the key does not change: said so, within the bounded wait.
    let _ = sim.rt.block_on(async {
        let url = format!("{}/_sandbox/revoke_tokens", sim.base);
        reqwest::Client::new().post(url).json(&serde_json::json!({"appid": sandbox::APPID})).send().await
    });
    let t = Instant::now();
    let o = sim
        .std_cmd()
        .env("WXSCRIPT_CONFIG", &cfg)
        .args(["run", "--account", "ext"])
        .arg(&script)
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("redis-key:ops:wx-token, and the key still holds it"), "{}", stderr(&o));
    assert!(t.elapsed() < Duration::from_secs(15));
    // The accounts command names the source.
    let table = ok(&sim.std_cmd().env("WXSCRIPT_CONFIG", &cfg).arg("accounts").output().expect("runs"));
    let row = table.lines().find(|l| l.starts_with("ext ")).unwrap_or_default();
    assert!(row.contains(" own ") && row.contains("redis-key"), "{table}");
}

#[test]
fn a_sandbox_run_on_redis_keeps_each_own_accounts_events_in_its_stream() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("own.rhai");
    std::fs::write(
        &script,
        r#"
        for name in ["default", "wxsandbox2"] {
            account::with(name, || {
                let head = media::upload("scripts/data/logo.png", "image");
                let cat = merchant::categories().filter(|c| c.level == 2 && c.sensitive_type == 0)[0];
                merchant::apply(#{first_catid: cat.father, second_catid: cat.id, headimg_mediaid: head.media_id, nickname: "测试便利店", intro: "测试"});
            });
        }
        for name in ["default", "wxsandbox2"] {
            let id = account::with(name, || merchant::audit_info().audit_id);
            let mine = account::with(name, || event::wait(#{audit_id: id}, 10).ToUserName);
            let others = account::with(if name == "default" { "wxsandbox2" } else { "default" }, || event::find(#{audit_id: id}).len());
            print(`${name}: ${mine}, ${others} in the other stream`);
        }
        "#,
    )
    .expect("script");
    let o = assert_cmd::Command::cargo_bin("wxscript")
        .expect("binary")
        .current_dir(common::repo_root())
        .env("WXSCRIPT_CONFIG", "/dev/null")
        .env("WXSCRIPT_CACHE_DIR", dir.path().join("cache"))
        .env("NO_COLOR", "1")
        .args(["run", "--sandbox", "--store", &redis.url(), "--log", "redis"])
        .arg(&script)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("runs");
    let out = ok(&o);
    assert!(out.contains("default: gh_5a4e8b1c0d2f, 0 in the other stream"), "{out}");
    assert!(out.contains("wxsandbox2: gh_sandbox000002, 0 in the other stream"), "{out}");
}
