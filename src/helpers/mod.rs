//! Script functions that are not single endpoints: paging (`store::all`), the raw escape
//! hatch (`wx::request`), the run's mode (`wx::mode`), a recipe's arguments (`args`, in `args`),
//! event parsing, `sleep`, the sandbox's own controls, and the bulk
//! helpers (`csv::`, `district::`, `journal::`, `parallel`), shake-around paging and shakes
//! (`shake::all_devices`, `sandbox::shake`, in `shake`), and the account calls are made as
//! (`account::`, in `accounts`), and the third-party platform's authorisations (`platform::`).
//! Each is declared beside its code (a
//! `HelperDoc`); [`SET`] gathers the declarations and the registration, which the session hands
//! to the engine and the catalog.

mod accounts;
pub mod args;
mod bulk;
pub mod csv;
pub mod district;
pub mod event;
pub mod journal;
mod parallel;
mod platform;
pub mod progress;
pub mod shake;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, Engine, FuncRegistration, Module, NativeCallContext};
use serde_json::Value;

use crate::api::check::{Payload, Request};
use crate::api::{self, ErrorKind, Method, WxError};
use crate::runtime::catalog::{HelperDoc, HelperSet};
use crate::runtime::{Ctx, RhaiResult, arg_json, convert, throw};

/// Every helper: the declarations in the reference's order, and their registration.
pub const SET: HelperSet = HelperSet {
    declarations: &[
        STORE,
        shake::DOCS,
        WX,
        accounts::DOCS,
        platform::DOCS,
        event::DOCS,
        GLOBALS,
        args::DOCS,
        csv::DOCS,
        district::DOCS,
        journal::DOCS,
        parallel::DOCS,
        SANDBOX,
        shake::SANDBOX,
        SANDBOX_FILES,
    ],
    register,
};

/// `store::all` and `poi::all`.
const STORE: &[HelperDoc] = &[
    HelperDoc {
        name: "store::all",
        signatures: &["store::all()"],
        doc: "Every store, paging through store::list with the largest page it takes.",
        returns: "array of base_info maps",
        example: "let stores = store::all();\nprint(`${stores.len()} stores`);",
    },
    HelperDoc {
        name: "poi::all",
        signatures: &["poi::all()"],
        doc: "Every legacy store (POI) of the account, paging through poi::list with the largest page it takes.",
        returns: "array of base_info maps",
        example: "for p in poi::all() { print(`${p.business_name}: ${p.upgrade_status}`); }",
    },
];

/// `wx::request`, the raw escape hatch, and the run's mode.
const WX: &[HelperDoc] = &[
    HelperDoc {
        name: "wx::request",
        signatures: &["wx::request(method, path)", "wx::request(method, path, body)"],
        doc: "Any other WeChat endpoint, with the same token, retry and error handling. `path` is relative (\"wxa/get_store_info\", a leading / is accepted); absolute URLs, `..` and access_token in the query are refused. A POST whose outcome is unknown is not re-sent.",
        returns: "the whole parsed answer; a non-zero errcode is thrown",
        example: "let r = wx::request(\"POST\", \"wxa/get_store_list\", #{offset: 0, limit: 5});\nprint(r.total_count);",
    },
    HelperDoc {
        name: "wx::mode",
        signatures: &["wx::mode()"],
        doc: "What the run's writes do: \"dry-run\" (--dry-run: shown, not sent, and no file written, so a write's answer is a placeholder: stop where the next step needs the real one), \"sandbox\" (sent to a wxscript simulator) or \"live\" (sent to a real account).",
        returns: "\"live\", \"dry-run\" or \"sandbox\"",
        example: "if wx::mode() == \"dry-run\" { print(\"dry run: nothing is changed\"); }",
    },
    HelperDoc {
        name: "wx::is_dry_run",
        signatures: &["wx::is_dry_run()"],
        doc: "Whether the run is a dry run (wx::mode() == \"dry-run\"): writes are shown, not sent.",
        returns: "bool",
        example: "if wx::is_dry_run() { print(\"dry run: the rest depends on the audit of the application above\"); }",
    },
];

/// The global functions.
const GLOBALS: &[HelperDoc] = &[
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
];

/// The simulator's own controls.
const SANDBOX: &[HelperDoc] = &[
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
        name: "sandbox::advance",
        signatures: &["sandbox::advance(seconds)"],
        doc: "Sandbox only: moves the simulator's clock forward (int or float seconds), deciding the audits that fall due; tokens, tickets and media ids expire, and the monthly limits and statistics days follow it.",
        returns: "the simulator's time, Unix seconds",
        example: "let now = sandbox::advance(86400);\nprint(`tomorrow on the simulator: ${shake::date(now)}`);",
    },
    HelperDoc {
        name: "sandbox::authorize",
        signatures: &[
            "sandbox::authorize(pre_auth_code, appid)",
            "sandbox::authorize(pre_auth_code, appid, func_info)",
        ],
        doc: "Sandbox only: plays the admin of the simulator's merchant account `appid` (wxsandboxauth1..N) authorising the platform on the page of platform::authorize_url, with the permission sets `func_info` (ids; default all). The `authorized` push goes to the run's listener, which stores the account; the answer carries the redirect's `auth_code` for platform::query_auth.",
        returns: "#{auth_code, expires_in, redirect_url, info_type}",
        example: "let a = platform::authorize_url(#{redirect_uri: \"https://agency.example/authorized\"});\nlet r = sandbox::authorize(a.pre_auth_code, \"wxsandboxauth2\", [12]);\nprint(r.info_type);",
    },
];

/// The sample files and fault injection of the simulator.
const SANDBOX_FILES: &[HelperDoc] = &[
    HelperDoc {
        name: "sandbox::sample",
        signatures: &["sandbox::sample(name)"],
        doc: "The path of a sample file shipped inside wxscript, for rehearsals from any directory: \"logo.png\" (a small PNG for avatars and icons), \"shop.jpg\" (a store photo), \"shops.csv\" (200 sample shops in the store import's columns), \"hours.csv\" (new opening hours for five of them), \"pages.csv\" (three shake-around pages) or \"agency_shops.csv\" (20 of the shops with an account column, spread over the simulator's accounts). Written once to the user's cache directory (WXSCRIPT_CACHE_DIR, default the user cache directory + wxscript), under samples/.",
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
    let doc = SET.docs().find(|d| d.name.ends_with(name) || d.name == name);
    let comments: Vec<String> = doc.map(|d| vec![format!("/// {}", d.doc)]).unwrap_or_default();
    let short = name.rsplit("::").next().unwrap_or(name).to_string();
    FuncRegistration::new(short).with_volatility(true).with_comments(comments)
}

/// Registers the helpers into the endpoint modules (new modules are created as needed) and
/// the global namespace.
fn register(engine: &mut Engine, modules: &mut BTreeMap<&'static str, Module>, ctx: &Arc<Ctx>) {
    bulk::register(engine, modules, ctx);
    args::register(engine, modules, ctx);
    accounts::register(engine, modules, ctx);
    platform::register(engine, modules, ctx);
    let c = ctx.clone();
    helper("store::all").set_into_module(
        modules.entry("store").or_default(),
        move |nc: NativeCallContext| -> RhaiResult {
            all_rows(&c, "store::list", &[], ("offset", "limit"), "business_list", nc.call_position())
        },
    );
    let c = ctx.clone();
    helper("poi::all").set_into_module(modules.entry("poi").or_default(), move |nc: NativeCallContext| -> RhaiResult {
        all_rows(&c, "poi::list", &[], ("begin", "limit"), "business_list", nc.call_position())
    });

    let wx = modules.entry("wx").or_default();
    let c = ctx.clone();
    helper("wx::request").set_into_module(wx, move |nc: NativeCallContext, m: Dynamic, p: Dynamic| -> RhaiResult {
        raw_request(&c, &m, &p, &Dynamic::UNIT, nc.call_position())
    });
    let c = ctx.clone();
    helper("wx::mode").set_into_module(wx, move |_: NativeCallContext| -> RhaiResult { Ok(mode(&c).into()) });
    let c = ctx.clone();
    helper("wx::is_dry_run").set_into_module(wx, move |_: NativeCallContext| -> RhaiResult { Ok(c.dry_run.into()) });
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
    let c = ctx.clone();
    helper("sandbox::advance").set_into_module(sb, move |nc: NativeCallContext, secs: Dynamic| -> RhaiResult {
        let pos = nc.call_position();
        let body = serde_json::json!({ "advance": arg_json("sandbox::advance", "seconds", &secs, pos)? });
        let answer = sandbox_route(&c, Method::Post, "_sandbox/clock", Some(body), pos)?;
        if let Some(now) = answer["now"].as_i64() {
            c.set_server_now(now);
        }
        Ok(convert::to_dynamic(&answer["now"]))
    });
    for with_sets in [false, true] {
        let c = ctx.clone();
        let authorize = move |nc: &NativeCallContext, code: &str, appid: &str, sets: Option<Dynamic>| -> RhaiResult {
            let pos = nc.call_position();
            let mut body = serde_json::json!({ "pre_auth_code": code, "authorizer_appid": appid });
            if let Some(sets) = sets {
                body["func_info"] = arg_json("sandbox::authorize", "func_info", &sets, pos)?;
            }
            let answer = sandbox_route(&c, Method::Post, "_sandbox/authorize", Some(body), pos)?;
            if let Some(msg) = answer.get("errmsg").and_then(Value::as_str).filter(|_| answer["errcode"] != 0) {
                return Err(throw(WxError::new(ErrorKind::Input, "sandbox::authorize", msg.to_string()), pos));
            }
            Ok(convert::to_dynamic(&answer))
        };
        if with_sets {
            helper("sandbox::authorize").set_into_module(
                sb,
                move |nc: NativeCallContext, code: &str, appid: &str, sets: rhai::Array| -> RhaiResult {
                    authorize(&nc, code, appid, Some(Dynamic::from_array(sets)))
                },
            );
        } else {
            helper("sandbox::authorize").set_into_module(
                sb,
                move |nc: NativeCallContext, code: &str, appid: &str| -> RhaiResult {
                    authorize(&nc, code, appid, None)
                },
            );
        }
    }
    let c = ctx.clone();
    helper("sandbox::sample").set_into_module(sb, move |nc: NativeCallContext, name: &str| -> RhaiResult {
        sample(&c, name).map(Dynamic::from).map_err(|e| throw(e, nc.call_position()))
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
    ("agency_shops.csv", include_bytes!("../../scripts/data/agency_shops.csv")),
];

/// What the run's writes do, as `wx::mode()` says it. A dry run first: it sends nothing,
/// whichever server it reads from.
fn mode(ctx: &Ctx) -> &'static str {
    if ctx.dry_run {
        "dry-run"
    } else if ctx.is_sandbox() {
        "sandbox"
    } else {
        "live"
    }
}

/// Writes a sample once (whole, then renamed into place) into the user's own cache directory
/// (a directory shared by every user would be another user's to write) and returns its path.
fn sample(ctx: &Ctx, name: &str) -> Result<String, WxError> {
    let Some((_, bytes)) = SAMPLES.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = SAMPLES.iter().map(|(n, _)| *n).collect();
        return Err(WxError::input(
            "sandbox::sample",
            "name",
            format!("no sample {name:?}; samples: {}", names.join(", ")),
        ));
    };
    // A simulator's session keeps no cache of its own; the samples are the user's all the same.
    let cache = ctx.client.cache_dir().map(std::path::Path::to_path_buf).or_else(crate::transport::default_cache_dir);
    let Some(dir) = cache.map(|d| d.join("samples")) else {
        return Err(WxError::io(
            "sandbox::sample",
            name,
            "no cache directory for the samples: set WXSCRIPT_CACHE_DIR (or HOME)",
        ));
    };
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
        token: declared.map_or(api::TokenKind::Access, |ep| ep.token),
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
        assert_eq!(check_raw_path("/some/api").map(|p| p.0), Ok("some/api".to_string()));
        assert!(check_raw_path("https://evil.example/x").is_err());
        assert!(check_raw_path("//evil.example/x").is_err());
        assert!(check_raw_path("some/../x").is_err());
        assert!(check_raw_path("some/%2e%2e/%2E%2E/x").is_err());
        assert!(check_raw_path("some/%2e%2e%2fx").is_err());
        assert!(check_raw_path("cgi-bin/%74oken").is_err());
        assert!(check_raw_path("some/x?access%5Ftoken=abc").is_err());
        assert!(check_raw_path("some/50%25off").is_ok());
        assert!(check_raw_path("some/x?access_token=abc").is_err());
        assert!(check_raw_path("/cgi-bin/token?grant_type=client_credential").is_err());
        assert_eq!(check_raw_path("some/upload?type=icon").map(|p| p.1.len()), Ok(1));
    }
}
