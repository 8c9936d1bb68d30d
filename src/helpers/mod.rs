//! Script functions that are not single endpoints: paging (`store::all`), the raw escape
//! hatch (`wx::request`), event parsing, `sleep`, the sandbox's own controls, and the bulk
//! helpers (`csv::`, `district::`, `journal::`, `parallel`), and shake-around paging and shakes
//! (`shake::all_devices`, `sandbox::shake`, in `shake`). Each has one entry in `DOCS`, which
//! `wxscript docs` and did-you-mean read.

mod bulk;
pub mod csv;
pub mod district;
pub mod event;
pub mod journal;
mod parallel;
pub mod progress;
pub mod shake;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, Engine, FuncRegistration, Module, NativeCallContext};
use serde_json::Value;

use crate::api::check::{Payload, Request};
use crate::api::{self, ErrorKind, Method, WxError};
use crate::runtime::{Ctx, RhaiResult, arg_json, convert, throw};

/// The documentation of a helper function.
pub struct HelperDoc {
    pub name: &'static str,
    pub signatures: &'static [&'static str],
    pub doc: &'static str,
    pub returns: &'static str,
    pub example: &'static str,
}

pub const DOCS: &[HelperDoc] = &[
    HelperDoc {
        name: "store::all",
        signatures: &["store::all()"],
        doc: "Every store, paging through wxa/get_store_list 50 at a time.",
        returns: "array of base_info maps",
        example: "let stores = store::all();\nprint(`${stores.len()} stores`);",
    },
    HelperDoc {
        name: "shake::all_devices",
        signatures: &["shake::all_devices()", "shake::all_devices(apply_id)"],
        doc: "Every device of the account, or of one device id application, paging through shakearound/device/search (type 2 or 3) by the last_seen cursor, 50 at a time.",
        returns: "array of #{device_id, uuid, major, minor, comment, status, poi_id, last_active_time}",
        example: "let devices = shake::all_devices();\nprint(`${devices.len()} devices`);",
    },
    HelperDoc {
        name: "shake::all_pages",
        signatures: &["shake::all_pages()"],
        doc: "Every shake-around page, paging through shakearound/page/search (type 2) 50 at a time.",
        returns: "array of #{page_id, title, description, icon_url, page_url, comment}",
        example: "for p in shake::all_pages() { print(`${p.page_id} ${p.title}`); }",
    },
    HelperDoc {
        name: "shake::all_groups",
        signatures: &["shake::all_groups()"],
        doc: "Every device group, paging through shakearound/device/group/getlist 1000 at a time.",
        returns: "array of #{group_id, group_name}",
        example: "print(shake::all_groups().len());",
    },
    HelperDoc {
        name: "shake::today",
        signatures: &["shake::today()"],
        doc: "Today's midnight in China Standard Time (UTC+8) as Unix seconds, the form the statistics dates take; yesterday is shake::today() - 86400.",
        returns: "int",
        example: "let yesterday = shake::today() - 86400;\nprint(yesterday);",
    },
    HelperDoc {
        name: "shake::date",
        signatures: &["shake::date(secs)"],
        doc: "The day of Unix seconds as \"YYYY-MM-DD\" in China Standard Time (UTC+8), for reports; the statistics calls take either form.",
        returns: "string",
        example: "print(shake::date(shake::today() - 86400));",
    },
    HelperDoc {
        name: "wx::request",
        signatures: &["wx::request(method, path)", "wx::request(method, path, body)"],
        doc: "Any other WeChat endpoint, with the same token, retry and error handling. `path` is relative (\"wxa/get_store_info\", a leading / is accepted); absolute URLs, `..` and access_token in the query are refused. A POST whose outcome is unknown is not re-sent.",
        returns: "the whole parsed answer; a non-zero errcode is thrown",
        example: "let r = wx::request(\"POST\", \"wxa/get_store_list\", #{offset: 0, limit: 5});\nprint(r.total_count);",
    },
    HelperDoc {
        name: "event::parse",
        signatures: &["event::parse(xml)"],
        doc: "One pushed XML event as a map: ToUserName, FromUserName, CreateTime, MsgType, Event and the event's own fields; numbers outside CDATA become ints. A ShakearoundUserShake push also gets chosen_beacon and around_beacons, each #{uuid, major, minor, distance}.",
        returns: "map",
        example: "let e = event::parse(\"<xml><Event><![CDATA[add_store_audit_info]]></Event><audit_id>11111</audit_id><status>1</status><poiid>12344</poiid></xml>\");\nprint(e.poiid);",
    },
    HelperDoc {
        name: "event::find",
        signatures: &["event::find(filter)"],
        doc: "Events in the event log (written by `wxscript listen`, `run --listen` or the sandbox's pushes) whose fields equal every key of `filter`, oldest first. Numbers and numeric strings compare by value (audit_id: 123 matches \"123\"). The log is --log, else WXSCRIPT_EVENT_LOG, else ./wxscript-events.jsonl; with --sandbox, the run's own log.",
        returns: "array of event maps",
        example: "for e in event::find(#{Event: \"add_store_audit_info\", status: 1}) { print(e.poiid); }",
    },
    HelperDoc {
        name: "event::wait",
        signatures: &["event::wait(filter, timeout_secs)"],
        doc: "The first event in the event log matching `filter` (as event::find), waiting until one is logged. Throws #{kind: \"timeout\"} when none comes within timeout_secs (int or float); Ctrl-C interrupts it.",
        returns: "event map",
        example: "let poi = map::search_poi(#{districtid: 440105, keyword: \"店\"})[0];\nlet r = store::add(#{map_poi_id: poi.sosomap_poi_uid, pic_list: [\"http://mmbiz.qpic.cn/a.jpg\"], contract_phone: \"020-1\", hour: \"08:00-22:00\", credential: \"91440105MA5C\"});\nlet e = event::wait(#{Event: \"add_store_audit_info\", audit_id: r.audit_id}, 600);\nprint(e.poiid);",
    },
    HelperDoc {
        name: "sleep",
        signatures: &["sleep(seconds)"],
        doc: "Waits (int or float seconds); Ctrl-C interrupts it. For polling an audit.",
        returns: "()",
        example: "sleep(0.1);",
    },
    HelperDoc {
        name: "usage",
        signatures: &["usage(message)"],
        doc: "Ends the script as a usage error: `wxscript run` prints the message and exits 2, as for a bad flag. For a recipe's own `--arg` checks. A try/catch sees it as an error of kind \"usage\".",
        returns: "never returns",
        example: "if ARGS.limit != () && parse_int(ARGS.limit) > 50 { usage(\"limit is at most 50\"); }",
    },
    HelperDoc {
        name: "csv::read",
        signatures: &["csv::read(path)", "csv::read(path, options)"],
        doc: "Every row of a CSV file as a map keyed by the header row (a column without a name is keyed `column3` and so on by its position; a name used twice is an error); values are strings exactly as in the file. UTF-8 (with or without BOM) or GBK/GB18030, detected or given as `#{encoding: \"gbk\"}`; quoted fields may hold newlines. A row whose field count differs from the header is an error naming file and line, unless `#{skip_bad_rows: true}`, which returns `#{rows, bad_rows}` instead (each bad row `#{line, error, fields}`). Options: encoding, skip_bad_rows, delimiter.",
        returns: "array of maps (or #{rows, bad_rows} with skip_bad_rows)",
        example: "let rows = csv::read(sandbox::sample(\"shops.csv\"));\nprint(`${rows.len()} shops, first: ${rows[0].name}`);",
    },
    HelperDoc {
        name: "csv::each",
        signatures: &["csv::each(path, fn)", "csv::each(path, fn, options)"],
        doc: "Streams the rows of a CSV file to `fn(row)` one at a time, in constant memory whatever the file's size. Options as csv::read; bad rows (with skip_bad_rows) are collected in the answer.",
        returns: "#{rows, bad_rows}: the number of rows given to fn, and the rows skipped",
        example: "let n = 0;\ncsv::each(sandbox::sample(\"shops.csv\"), |row| { n += 1; });\nprint(n);",
    },
    HelperDoc {
        name: "csv::write",
        signatures: &["csv::write(path, rows)", "csv::write(path, rows, options)"],
        doc: "Writes an array of maps as CSV with a header row: the first row's keys, then any other key seen, or `#{columns: [...]}` in that order. `#{bom: true}` writes a UTF-8 BOM for Excel. The file is replaced atomically.",
        returns: "()",
        example: "csv::write(\"example.csv\", [#{id: 1, name: \"海珠店\"}], #{columns: [\"id\", \"name\"]});",
    },
    HelperDoc {
        name: "district::find",
        signatures: &["district::find(text)"],
        doc: "One province, city or district by id (\"440105\"), name (\"海珠区\", \"海珠\", \"广州\"), or province/city/district text with or without suffixes (\"广东省广州市海珠区\", \"广州海珠\"). Ambiguous text throws, listing the candidates. Built from map::districts() once per run and cached on disk per API base.",
        returns: "#{id, province, city, district, fullname, lat, lng, level}",
        example: "let d = district::find(\"广州市海珠区\");\nprint(`${d.id} ${d.province}${d.city}${d.district}`);",
    },
    HelperDoc {
        name: "district::nearest",
        signatures: &["district::nearest(lat, lng)"],
        doc: "The district (or city without districts) whose centre is nearest to a point. A latitude outside -90..90 (often lat and lng swapped) or a point more than 500 km from every district centre (not in China) is an input error.",
        returns: "#{id, province, city, district, fullname, lat, lng, level}",
        example: "print(district::nearest(23.0974903107, 113.323753357).fullname);",
    },
    HelperDoc {
        name: "district::children",
        signatures: &["district::children(id_or_name)"],
        doc: "The cities of a province or the districts of a city.",
        returns: "array of #{id, province, city, district, fullname, lat, lng, level}",
        example: "for d in district::children(\"广州市\") { print(d.fullname); }",
    },
    HelperDoc {
        name: "journal::open",
        signatures: &[
            "journal::open(path)",
            "j.done(key)",
            "j.record(key, value)",
            "j.get(key)",
            "j.len()",
            "j.keys()",
        ],
        doc: "An append-only, fsync'd journal of finished work: `j.record(key, value)` returns only once the record is on disk, `j.done(key)` tells whether it was recorded (in this run or an earlier one), `j.get(key)` returns its value or (). A job killed and run again skips what it recorded and repeats nothing. A journal belongs to the server and account it was first written against: a simulator rehearsal's journal is started afresh by the next rehearsal, any other is refused (an input error) on another server or account. In a dry run records are kept in memory, never written.",
        returns: "a Journal",
        example: "let j = journal::open(\"example.journal\");\nif !j.done(\"row-1\") { j.record(\"row-1\", #{audit_id: 1}); }\nprint(j.get(\"row-1\"));",
    },
    HelperDoc {
        name: "parallel",
        signatures: &["parallel(items, concurrency, fn)"],
        doc: "Calls `fn(item)` for every item with at most `concurrency` calls in flight; one failure does not stop the rest. Shows progress on long runs (hidden by --quiet). Every request still honours the run's --qps.",
        returns: "array, in input order, of #{ok: true, value} or #{ok: false, error}",
        example: "let r = parallel([1, 2, 3], 2, |x| x * 10);\nprint(r.map(|o| o.value));",
    },
    HelperDoc {
        name: "sandbox::stats",
        signatures: &["sandbox::stats()"],
        doc: "Sandbox only: request counts by path, token fetches, and the most requests seen in flight.",
        returns: "#{requests, by_path, token_fetches, in_flight, max_in_flight}",
        example: "print(sandbox::stats().requests);",
    },
    HelperDoc {
        name: "sandbox::is_sandbox",
        signatures: &["sandbox::is_sandbox()"],
        doc: "Whether the run talks to a wxscript simulator (so a recipe can prepare sandbox-only state).",
        returns: "bool",
        example: "if sandbox::is_sandbox() { print(\"rehearsal\"); }",
    },
    HelperDoc {
        name: "sandbox::expire_tokens",
        signatures: &["sandbox::expire_tokens()"],
        doc: "Sandbox only: expires every issued token, as if two hours had passed (the next call refreshes).",
        returns: "()",
        example: "sandbox::expire_tokens();\nstore::list(0, 1);",
    },
    HelperDoc {
        name: "sandbox::shake",
        signatures: &["sandbox::shake(device)", "sandbox::shake(device, openid)"],
        doc: "Sandbox only: a user (openid, else a random one) shakes near a device (a device_id, #{device_id}, #{uuid, major, minor} or a map from shake::all_devices()); the device needs a bound page. Issues a ticket for shake::shake_info (valid 30 minutes), marks the device active and records a ShakearoundUserShake event.",
        returns: "#{ticket, openid, page_id, device_id, uuid, major, minor, distance, url, expires_in}",
        example: "let d = shake::all_devices()[0];\nlet s = sandbox::shake(d, \"oVDmXjp7y8aG2AlBuRpOZsandbox\");\nprint(shake::shake_info(#{ticket: s.ticket}).openid);",
    },
    HelperDoc {
        name: "sandbox::sample",
        signatures: &["sandbox::sample(name)"],
        doc: "The path of a sample file shipped inside wxscript, for rehearsals from any directory: \"logo.png\" (a small PNG for avatars and icons), \"shop.jpg\" (a store photo), \"shops.csv\" (200 sample shops in the store import's columns), \"hours.csv\" (new opening hours for five of them) or \"pages.csv\" (three shake-around pages). Written once to the temp directory.",
        returns: "the file's path",
        example: "let m = media::upload(sandbox::sample(\"logo.png\"), \"image\");\nprint(m.type);",
    },
    HelperDoc {
        name: "sandbox::set_fault",
        signatures: &["sandbox::set_fault(map)"],
        doc: "Sandbox only: changes fault injection: #{latency_ms, fail_rate, fail_code}.",
        returns: "()",
        example: "sandbox::set_fault(#{latency_ms: 0, fail_rate: 0.0});",
    },
];

fn helper(name: &str) -> FuncRegistration {
    let doc = DOCS.iter().find(|d| d.name.ends_with(name) || d.name == name);
    let comments: Vec<String> = doc.map(|d| vec![format!("/// {}", d.doc)]).unwrap_or_default();
    let short = name.rsplit("::").next().unwrap_or(name).to_string();
    FuncRegistration::new(short).with_volatility(true).with_comments(comments)
}

/// Registers the helpers into the endpoint modules (new modules are created as needed) and
/// the global namespace.
pub fn register(engine: &mut Engine, modules: &mut BTreeMap<&'static str, Module>, ctx: &Arc<Ctx>) {
    bulk::register(engine, modules, ctx);
    let c = ctx.clone();
    helper("store::all").set_into_module(
        modules.entry("store").or_default(),
        move |nc: NativeCallContext| -> RhaiResult {
            all_rows(&c, "store::list", &[], ("offset", "limit"), "business_list", nc.call_position())
        },
    );

    let wx = modules.entry("wx").or_default();
    let c = ctx.clone();
    helper("wx::request").set_into_module(wx, move |nc: NativeCallContext, m: Dynamic, p: Dynamic| -> RhaiResult {
        raw_request(&c, &m, &p, &Dynamic::UNIT, nc.call_position())
    });
    let c = ctx.clone();
    helper("wx::request").set_into_module(
        wx,
        move |nc: NativeCallContext, m: Dynamic, p: Dynamic, b: Dynamic| -> RhaiResult {
            raw_request(&c, &m, &p, &b, nc.call_position())
        },
    );

    helper("event::parse").set_into_module(
        modules.entry("event").or_default(),
        |nc: NativeCallContext, xml: &str| -> RhaiResult {
            event::parse(xml)
                .map(Dynamic::from_map)
                .map_err(|m| throw(WxError::input("event::parse", "xml", m), nc.call_position()))
        },
    );

    shake::register(modules, ctx);

    let c = ctx.clone();
    helper("event::find").set_into_module(
        modules.entry("event").or_default(),
        move |nc: NativeCallContext, filter: rhai::Map| -> RhaiResult {
            event::find(&c, &filter).map(Dynamic::from_array).map_err(|e| throw(e, nc.call_position()))
        },
    );
    let c = ctx.clone();
    helper("event::wait").set_into_module(
        modules.entry("event").or_default(),
        move |nc: NativeCallContext, filter: rhai::Map, secs: Dynamic| -> RhaiResult {
            let pos = nc.call_position();
            let secs = secs.as_int().map(|i| i as f64).or_else(|_| secs.as_float()).map_err(|t| {
                throw(
                    WxError::input("event::wait", "timeout_secs", format!("timeout_secs must be a number, got {t}")),
                    pos,
                )
            })?;
            event::wait(&c, &filter, secs).map_err(|e| throw(e, pos))
        },
    );

    engine.register_fn("usage", |nc: NativeCallContext, message: &str| -> RhaiResult {
        Err(throw(WxError::new(ErrorKind::Usage, "", message), nc.call_position()))
    });
    let c = ctx.clone();
    engine.register_fn("sleep", move |nc: NativeCallContext, secs: rhai::FLOAT| sleep(&c, secs, nc.call_position()));
    let c = ctx.clone();
    engine
        .register_fn("sleep", move |nc: NativeCallContext, secs: rhai::INT| sleep(&c, secs as f64, nc.call_position()));

    let sb = modules.entry("sandbox").or_default();
    let c = ctx.clone();
    helper("sandbox::stats").set_into_module(sb, move |nc: NativeCallContext| -> RhaiResult {
        admin(&c, Method::Get, "_sandbox/stats", None, nc.call_position())
    });
    let c = ctx.clone();
    helper("sandbox::is_sandbox")
        .set_into_module(sb, move |_: NativeCallContext| -> RhaiResult { Ok(Dynamic::from_bool(c.is_sandbox())) });
    let c = ctx.clone();
    helper("sandbox::expire_tokens").set_into_module(sb, move |nc: NativeCallContext| -> RhaiResult {
        admin(&c, Method::Post, "_sandbox/expire_tokens", None, nc.call_position()).map(|_| Dynamic::UNIT)
    });
    helper("sandbox::sample").set_into_module(sb, |nc: NativeCallContext, name: &str| -> RhaiResult {
        sample(name).map(Dynamic::from).map_err(|e| throw(e, nc.call_position()))
    });
    let c = ctx.clone();
    helper("sandbox::set_fault").set_into_module(sb, move |nc: NativeCallContext, m: rhai::Map| -> RhaiResult {
        let pos = nc.call_position();
        let body = arg_json("sandbox::set_fault", "map", &Dynamic::from_map(m), pos)?;
        admin(&c, Method::Post, "_sandbox/fault", Some(body), pos).map(|_| Dynamic::UNIT)
    });
}

/// The sample files shipped in the binary, so rehearsals need no checkout of the repository.
const SAMPLES: &[(&str, &[u8])] = &[
    ("logo.png", include_bytes!("../../scripts/data/logo.png")),
    ("shop.jpg", include_bytes!("../../scripts/data/shop.jpg")),
    ("shops.csv", include_bytes!("../../scripts/data/shops.csv")),
    ("hours.csv", include_bytes!("../../scripts/data/hours.csv")),
    ("pages.csv", include_bytes!("../../scripts/data/pages.csv")),
];

/// Writes a sample once (whole, then renamed into place) and returns its path.
fn sample(name: &str) -> Result<String, WxError> {
    let Some((_, bytes)) = SAMPLES.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = SAMPLES.iter().map(|(n, _)| *n).collect();
        return Err(WxError::input(
            "sandbox::sample",
            "name",
            format!("no sample {name:?}; samples: {}", names.join(", ")),
        ));
    };
    let dir = std::env::temp_dir().join("wxscript-samples");
    let path = dir.join(name);
    let io = |e: std::io::Error| WxError::io("sandbox::sample", path.display().to_string(), e.to_string());
    if std::fs::read(&path).ok().as_deref() != Some(*bytes) {
        std::fs::create_dir_all(&dir).map_err(io)?;
        crate::util::write_atomic(&path, None, |f| std::io::Write::write_all(f, bytes)).map_err(io)?;
    }
    Ok(path.display().to_string())
}

/// Ctrl-C ends the wait and the script with it, as it would any call.
fn sleep(ctx: &Ctx, secs: f64, pos: rhai::Position) -> Result<(), Box<rhai::EvalAltResult>> {
    if secs.is_finite() && secs > 0.0 {
        let cancel = ctx.cancel.clone();
        ctx.block(async move {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs_f64(secs.min(86_400.0))) => {}
                _ = cancel.cancelled() => {}
            }
        });
    }
    if ctx.cancel.is_cancelled() {
        return Err(rhai::EvalAltResult::ErrorTerminated("cancelled".into(), pos).into());
    }
    Ok(())
}

fn admin(ctx: &Ctx, method: Method, path: &str, body: Option<Value>, pos: rhai::Position) -> RhaiResult {
    sandbox_route(ctx, method, path, body, pos).map(|v| convert::to_dynamic(&v))
}

/// One of the simulator's own routes (`_sandbox/...`); a failure says the server may not be one.
pub(crate) fn sandbox_route(
    ctx: &Ctx,
    method: Method,
    path: &str,
    body: Option<Value>,
    pos: rhai::Position,
) -> Result<Value, Box<rhai::EvalAltResult>> {
    ctx.block(ctx.client.plain(method, path, body)).map_err(|mut e| {
        e.errmsg = format!("{} (is {} a wxscript sandbox?)", e.errmsg, ctx.client.base());
        throw(e, pos)
    })
}

/// Every row of a paged list call: `name` with `extra` fields, `offset` advanced by the rows
/// read and `size` as large as its declaration allows, until `total_count` rows (or an empty
/// page) are in.
pub(crate) fn all_rows(
    ctx: &Ctx,
    name: &str,
    extra: &[(&str, Value)],
    (offset, size): (&str, &str),
    rows_key: &str,
    pos: rhai::Position,
) -> RhaiResult {
    let page_size = api::by_name(name)
        .and_then(|ep| ep.field(size))
        .and_then(|f| match f.ty {
            api::Ty::Int { max, .. } => Some(max),
            _ => None,
        })
        .ok_or_else(|| throw(WxError::new(ErrorKind::Input, name, format!("{name} has no int field {size}")), pos))?;
    let mut all = rhai::Array::new();
    loop {
        let mut args: serde_json::Map<String, Value> = extra.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        args.insert(offset.into(), Value::from(all.len() as i64));
        args.insert(size.into(), Value::from(page_size));
        let page = crate::runtime::invoke_named(ctx, name, args, pos)?.try_cast::<rhai::Map>().unwrap_or_default();
        let total = page.get("total_count").and_then(|v| v.as_int().ok()).unwrap_or(0);
        let rows = page.get(rows_key).cloned().and_then(|v| v.into_array().ok()).unwrap_or_default();
        let empty = rows.is_empty();
        all.extend(rows);
        if empty || all.len() as i64 >= total {
            return Ok(Dynamic::from_array(all));
        }
    }
}

/// `%XX` sequences decoded (invalid ones kept as they are).
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks a `wx::request` path: relative, no `..`, no token of its own.
pub fn check_raw_path(path: &str) -> Result<(String, Vec<(String, String)>), String> {
    let p = path.strip_prefix('/').unwrap_or(path);
    if path.starts_with("//") || p.contains("://") {
        return Err(format!("path must be relative to WECHAT_API_BASE, got {path:?}"));
    }
    let (p, q) = p.split_once('?').unwrap_or((p, ""));
    // Judged as the server will read it: `%2e%2e` is `..` once the URL is normalised.
    let decoded = percent_decoded(p);
    if p.is_empty() || decoded.split(['/', '\\']).any(|seg| seg == ".." || seg == ".") {
        return Err(format!("path must be a plain API path such as \"wxa/get_store_info\", got {path:?}"));
    }
    if p == api::TOKEN_PATH || decoded == api::TOKEN_PATH {
        return Err("cgi-bin/token is managed by the runtime: tokens never reach scripts".into());
    }
    let mut query = Vec::new();
    for pair in q.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if percent_decoded(k).eq_ignore_ascii_case("access_token") {
            return Err("the path must not carry an access_token: the runtime adds it".into());
        }
        query.push((k.to_string(), v.to_string()));
    }
    Ok((p.to_string(), query))
}

fn raw_request(ctx: &Ctx, method: &Dynamic, path: &Dynamic, body: &Dynamic, pos: rhai::Position) -> RhaiResult {
    let bad =
        |field: &str, msg: String| throw(WxError::input("wx::request", field, format!("wx::request: {msg}")), pos);
    let method = match method.clone().into_string().map(|s| s.to_ascii_uppercase()).as_deref() {
        Ok("GET") => Method::Get,
        Ok("POST") => Method::Post,
        _ => return Err(bad("method", format!("method must be \"GET\" or \"POST\", got {method}"))),
    };
    let path = path.clone().into_string().map_err(|t| bad("path", format!("path must be a string, got {t}")))?;
    let (api_path, query) = check_raw_path(&path).map_err(|m| bad("path", m))?;
    let payload = if body.is_unit() {
        if method == Method::Post { Payload::Json(Value::Object(Default::default())) } else { Payload::None }
    } else if body.is_map() {
        Payload::Json(arg_json("wx::request", "body", body, pos)?)
    } else {
        return Err(bad("body", format!("body must be a map or (), got {}", body.type_name())));
    };
    // A declared path keeps its meaning of its codes and its answer shape, and a declared read
    // sent by POST is still a read; any other POST might create something, so its unknown
    // outcome is never re-sent, as the function's doc promises.
    let declared = api::by_path(&api_path);
    let policy = match (method, declared.map(|ep| ep.policy)) {
        (_, Some(api::Policy::Read)) | (Method::Get, None) => api::Policy::Read,
        (_, Some(p @ api::Policy::Create { .. })) => p,
        _ => api::Policy::Create { verify: "" },
    };
    let req = Request {
        api: api_path,
        method,
        query,
        payload,
        policy,
        own_codes: declared.map_or(&[][..], |ep| ep.own_codes),
        answer: declared.map_or(api::Unwrap::Fields, |ep| ep.unwrap),
    };
    if ctx.dry_run && req.policy.mutates() {
        crate::runtime::dry_run_print(&req);
        return Ok(convert::to_dynamic(&serde_json::json!({"errcode": 0, "errmsg": "ok"})));
    }
    let answer = ctx.send(&req, pos)?;
    Ok(convert::to_dynamic(&answer))
}

#[cfg(test)]
mod tests {
    use super::check_raw_path;

    #[test]
    fn raw_paths() {
        assert_eq!(check_raw_path("/wxa/get_store_info").map(|p| p.0), Ok("wxa/get_store_info".to_string()));
        assert!(check_raw_path("https://evil.example/x").is_err());
        assert!(check_raw_path("//evil.example/x").is_err());
        assert!(check_raw_path("wxa/../x").is_err());
        assert!(check_raw_path("wxa/%2e%2e/%2E%2E/x").is_err());
        assert!(check_raw_path("wxa/%2e%2e%2fx").is_err());
        assert!(check_raw_path("cgi-bin/%74oken").is_err());
        assert!(check_raw_path("wxa/x?access%5Ftoken=abc").is_err());
        assert!(check_raw_path("wxa/50%25off").is_ok());
        assert!(check_raw_path("wxa/x?access_token=abc").is_err());
        assert!(check_raw_path("/cgi-bin/token?grant_type=client_credential").is_err());
        assert_eq!(check_raw_path("shakearound/material/add?type=icon").map(|p| p.1.len()), Ok(1));
    }
}
