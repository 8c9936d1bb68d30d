//! Shake-around helpers that are not single endpoints: paging through every device, page and
//! group, today's date as the statistics calls take it, and `sandbox::shake`, which asks the
//! simulator to have a user shake near a device.

use std::collections::BTreeMap;
use std::sync::Arc;

use rhai::{Array, Dynamic, Module, NativeCallContext, Position};
use serde_json::{Map, Value};

use super::{all_rows, helper};
use crate::api::shake::today_utc8;
use crate::api::{self, Method, WxError};
use crate::runtime::catalog::HelperDoc;
use crate::runtime::{Ctx, RhaiResult, arg_json, convert, invoke_named, throw};

/// Page size of the device search: the most its declaration allows.
fn device_page() -> i64 {
    match api::by_name("shake::search_devices").and_then(|ep| ep.field("count")).map(|f| f.ty) {
        Some(api::Ty::Int { max, .. }) => max,
        _ => 50,
    }
}

/// Registers the helpers into `shake::` and `sandbox::`.
pub fn register(modules: &mut BTreeMap<&'static str, Module>, ctx: &Arc<Ctx>) {
    let m = modules.entry("shake").or_default();
    let c = ctx.clone();
    helper("shake::all_devices")
        .set_into_module(m, move |nc: NativeCallContext| -> RhaiResult { all_devices(&c, None, nc.call_position()) });
    let c = ctx.clone();
    helper("shake::all_devices").set_into_module(m, move |nc: NativeCallContext, apply_id: Dynamic| -> RhaiResult {
        let pos = nc.call_position();
        let id = arg_json("shake::all_devices", "apply_id", &apply_id, pos)?;
        all_devices(&c, Some(id), pos)
    });
    let c = ctx.clone();
    helper("shake::all_pages")
        .set_into_module(m, move |nc: NativeCallContext| -> RhaiResult { all_pages(&c, nc.call_position()) });
    let c = ctx.clone();
    helper("shake::all_groups")
        .set_into_module(m, move |nc: NativeCallContext| -> RhaiResult { all_groups(&c, nc.call_position()) });
    let c = ctx.clone();
    helper("shake::today").set_into_module(m, move || -> rhai::INT { today_utc8(c.now()) });
    helper("shake::date").set_into_module(m, |secs: rhai::INT| -> String { api::check::date_utc8(secs) });

    let sb = modules.entry("sandbox").or_default();
    let c = ctx.clone();
    helper("sandbox::shake").set_into_module(sb, move |nc: NativeCallContext, device: Dynamic| -> RhaiResult {
        shake(&c, &device, None, nc.call_position())
    });
    let c = ctx.clone();
    helper("sandbox::shake").set_into_module(
        sb,
        move |nc: NativeCallContext, device: Dynamic, openid: Dynamic| -> RhaiResult {
            shake(&c, &device, Some(&openid), nc.call_position())
        },
    );
}

/// Every device (type 2) or every device of one application (type 3), following the
/// `last_seen` cursor 50 at a time.
fn all_devices(ctx: &Ctx, apply_id: Option<Value>, pos: Position) -> RhaiResult {
    let mut all = Array::new();
    let mut last_seen = 0;
    let size = device_page();
    loop {
        let mut args = Map::new();
        match &apply_id {
            Some(id) => {
                args.insert("type".into(), Value::from(3));
                args.insert("apply_id".into(), id.clone());
            }
            None => {
                args.insert("type".into(), Value::from(2));
            }
        }
        args.insert("last_seen".into(), Value::from(last_seen));
        args.insert("count".into(), Value::from(size));
        let page = invoke_named(ctx, "shake::search_devices", args, pos)?.try_cast::<rhai::Map>().unwrap_or_default();
        let devices = page.get("devices").cloned().and_then(|v| v.into_array().ok()).unwrap_or_default();
        let n = devices.len() as i64;
        let last = devices.last().and_then(|d| d.read_lock::<rhai::Map>()?.get("device_id")?.as_int().ok());
        all.extend(devices);
        match last {
            // A cursor that does not move would loop forever: stop instead.
            Some(id) if n == size && id > last_seen => last_seen = id,
            _ => return Ok(Dynamic::from_array(all)),
        }
    }
}

fn all_pages(ctx: &Ctx, pos: Position) -> RhaiResult {
    all_rows(ctx, "shake::search_pages", &[("type", Value::from(2))], ("begin", "count"), "pages", pos)
}

fn all_groups(ctx: &Ctx, pos: Position) -> RhaiResult {
    all_rows(ctx, "shake::list_groups", &[], ("begin", "count"), "groups", pos)
}

/// `sandbox::shake(device [, openid])`: `device` is a device_id, a device_identifier or a
/// device map from `search_devices` (its `device_id` is used).
fn shake(ctx: &Ctx, device: &Dynamic, openid: Option<&Dynamic>, pos: Position) -> RhaiResult {
    const API: &str = "sandbox::shake";
    let bad = |field: &str, msg: String| throw(WxError::input(API, field, format!("{API}: {msg}")), pos);
    let mut body = Map::new();
    match arg_json(API, "device", device, pos)? {
        Value::Number(n) if n.is_u64() => {
            body.insert("device_id".into(), Value::Number(n));
        }
        Value::Object(o) => match o.get("device_id") {
            Some(id) => {
                body.insert("device_id".into(), id.clone());
            }
            None => {
                for k in ["uuid", "major", "minor"] {
                    let v = o.get(k).ok_or_else(|| bad("device", format!("the device map lacks \"{k}\"")))?;
                    body.insert(k.into(), v.clone());
                }
            }
        },
        other => {
            return Err(bad(
                "device",
                format!(
                    "expects a device_id, #{{device_id}} or #{{uuid, major, minor}}, got {}",
                    api::check::show(&other)
                ),
            ));
        }
    }
    if let Some(o) = openid {
        let s = o.clone().into_string().map_err(|t| bad("openid", format!("openid must be a string, got {t}")))?;
        body.insert("openid".into(), Value::String(s));
    }
    let answer = super::sandbox_route(ctx, Method::Post, "_sandbox/shake", Some(Value::Object(body)), pos)?;
    let code = answer.get("errcode").and_then(Value::as_i64).unwrap_or(0);
    if code != 0 {
        let msg = answer.get("errmsg").and_then(Value::as_str).unwrap_or("").to_string();
        return Err(throw(WxError::api("_sandbox/shake", code, msg), pos));
    }
    let mut out = match answer {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    out.remove("errcode");
    out.remove("errmsg");
    Ok(convert::to_dynamic(&Value::Object(out)))
}

/// The declarations of the `shake::` helpers.
pub const DOCS: &[HelperDoc] = &[
    HelperDoc {
        name: "shake::all_devices",
        signatures: &["shake::all_devices()", "shake::all_devices(apply_id)"],
        doc: "Every device of the account, or of one device id application, paging through shake::search_devices (type 2 or 3) by the last_seen cursor, as many a call as it takes.",
        returns: "array of #{device_id, uuid, major, minor, comment, status, poi_id, last_active_time}",
        example: "let devices = shake::all_devices();\nprint(`${devices.len()} devices`);",
    },
    HelperDoc {
        name: "shake::all_pages",
        signatures: &["shake::all_pages()"],
        doc: "Every shake-around page, paging through shake::search_pages (type 2), as many a call as it takes.",
        returns: "array of #{page_id, title, description, icon_url, page_url, comment}",
        example: "for p in shake::all_pages() { print(`${p.page_id} ${p.title}`); }",
    },
    HelperDoc {
        name: "shake::all_groups",
        signatures: &["shake::all_groups()"],
        doc: "Every device group, paging through shake::list_groups, as many a call as it takes.",
        returns: "array of #{group_id, group_name}",
        example: "print(shake::all_groups().len());",
    },
    HelperDoc {
        name: "shake::today",
        signatures: &["shake::today()"],
        doc: "Today's midnight in China Standard Time (UTC+8) as Unix seconds, the form the statistics dates take; yesterday is shake::today() - 86400. On the simulator, its day (--start-time, sandbox::advance).",
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
];

/// The declaration of `sandbox::shake`.
pub const SANDBOX: &[HelperDoc] = &[HelperDoc {
    name: "sandbox::shake",
    signatures: &["sandbox::shake(device)", "sandbox::shake(device, openid)"],
    doc: "Sandbox only: a user (openid, else a random one) shakes near a device (a device_id, #{device_id}, #{uuid, major, minor} or a map from shake::all_devices()); the device needs a bound page. Issues a ticket for shake::shake_info (valid 30 minutes), marks the device active and records a ShakearoundUserShake event.",
    returns: "#{ticket, openid, page_id, device_id, uuid, major, minor, distance, url, expires_in}",
    example: "let d = shake::all_devices()[0];\nlet s = sandbox::shake(d, \"oVDmXjp7y8aG2AlBuRpOZsandbox\");\nprint(shake::shake_info(#{ticket: s.ticket}).openid);",
}];
