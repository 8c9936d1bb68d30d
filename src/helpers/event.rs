//! `event::parse`: one pushed XML event (audit results, shakes) as a map; `event::find` and
//! `event::wait`: events in the event log that `wxscript listen` (or `run --listen`, or the
//! sandbox's pushes) writes, read through the session's store.

use std::path::Path;
use std::time::{Duration, Instant};

use rhai::{Array, Dynamic, Map};
use serde_json::Value;

use crate::api::{ErrorKind, WxError};
use crate::message::xml;
use crate::runtime::{Ctx, convert};
use crate::store::events;

/// How often `event::wait` looks at the log.
const POLL: Duration = Duration::from_millis(50);

fn filter_json(api: &str, filter: &Map) -> Result<serde_json::Map<String, Value>, WxError> {
    match convert::to_json(&Dynamic::from_map(filter.clone())) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(WxError::input(api, "filter", "the filter must be a map")),
        Err(m) => Err(WxError::input(api, "filter", format!("filter: {m}"))),
    }
}

fn io_error(api: &str, path: &Path, e: &std::io::Error) -> WxError {
    let mut w = WxError::new(ErrorKind::Io, api, format!("cannot read the event log {}: {e}", path.display()));
    w.path = Some(path.display().to_string());
    w
}

fn to_map(ev: &serde_json::Map<String, Value>) -> Dynamic {
    convert::to_dynamic(&Value::Object(ev.clone()))
}

/// The log a context reads.
pub fn log_path(ctx: &Ctx) -> std::path::PathBuf {
    ctx.event_log.clone().unwrap_or_else(events::default_path)
}

/// Every logged event matching `filter`, oldest first.
pub fn find(ctx: &Ctx, filter: &Map) -> Result<Array, WxError> {
    let f = filter_json("event::find", filter)?;
    let path = log_path(ctx);
    let account = ctx.current_account();
    let all =
        ctx.store.event_reader(&path, account.appid()).next_batch().map_err(|e| io_error("event::find", &path, &e))?;
    Ok(all.iter().filter(|ev| events::matches(ev, &f)).map(to_map).collect())
}

/// The first logged event matching `filter`, waiting up to `timeout_secs` for it to arrive.
pub fn wait(ctx: &Ctx, filter: &Map, timeout_secs: f64) -> Result<Dynamic, WxError> {
    const API: &str = "event::wait";
    let f = filter_json(API, filter)?;
    if !timeout_secs.is_finite() || timeout_secs < 0.0 {
        return Err(WxError::input(API, "timeout_secs", "timeout_secs must be a number of seconds >= 0"));
    }
    let path = log_path(ctx);
    let deadline = Instant::now() + Duration::from_secs_f64(timeout_secs.min(31_536_000.0));
    let account = ctx.current_account();
    let mut reader = ctx.store.event_reader(&path, account.appid());
    loop {
        let batch = reader.next_batch().map_err(|e| io_error(API, &path, &e))?;
        if let Some(ev) = batch.iter().find(|ev| events::matches(ev, &f)) {
            return Ok(to_map(ev));
        }
        let now = Instant::now();
        if now >= deadline {
            let shown = serde_json::to_string(&f).unwrap_or_default();
            return Err(WxError::new(
                ErrorKind::Timeout,
                API,
                format!("no event matching {shown} in {} within {timeout_secs} s", path.display()),
            ));
        }
        let nap = POLL.min(deadline - now);
        let cancel = ctx.cancel.clone();
        let cancelled = ctx.block(async move {
            tokio::select! {
                _ = tokio::time::sleep(nap) => false,
                _ = cancel.cancelled() => true,
            }
        });
        if cancelled {
            return Err(WxError::new(ErrorKind::Cancelled, API, "cancelled"));
        }
    }
}

/// `<xml>...</xml>` as a script map, read the way the listener reads it (see `message::xml`).
pub fn parse(xml: &str) -> Result<Map, String> {
    let m = xml::read(xml)?;
    Ok(m.iter().map(|(k, v)| (k.as_str().into(), convert::to_dynamic(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_event() {
        let m = parse("<xml><ToUserName><![CDATA[gh_1]]></ToUserName><CreateTime>1488856741</CreateTime><Event><![CDATA[add_store_audit_info]]></Event><audit_id>11111</audit_id><status>3</status><reason><![CDATA[xxx]]></reason><poiid>12344</poiid></xml>").expect("parses");
        assert_eq!(m["CreateTime"].as_int(), Ok(1488856741));
        assert_eq!(m["poiid"].as_int(), Ok(12344));
        assert_eq!(m["Event"].clone().into_string().ok().as_deref(), Some("add_store_audit_info"));
    }

    #[test]
    fn shake_event() {
        let xml = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[ouser]]></FromUserName><CreateTime>1433332012</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[ShakearoundUserShake]]></Event>\
            <ChosenBeacon><Uuid><![CDATA[FDA50693-A4E2-4FB1-AFCF-C6EB07647825]]></Uuid><Major>10001</Major><Minor>1</Minor><Distance>0.057</Distance></ChosenBeacon>\
            <AroundBeacons><AroundBeacon><Uuid><![CDATA[FDA50693-A4E2-4FB1-AFCF-C6EB07647825]]></Uuid><Major>10001</Major><Minor>2</Minor><Distance>166</Distance></AroundBeacon></AroundBeacons></xml>";
        let m = parse(xml).expect("parses");
        let chosen = m["chosen_beacon"].read_lock::<Map>().expect("map").clone();
        assert_eq!(chosen["major"].as_int(), Ok(10001));
        assert_eq!(chosen["distance"].as_float(), Ok(0.057));
        assert_eq!(chosen["uuid"].clone().into_string().ok().as_deref(), Some("FDA50693-A4E2-4FB1-AFCF-C6EB07647825"));
        let around = m["around_beacons"].clone().into_array().expect("array");
        assert_eq!(around.len(), 1);
        let first = around[0].read_lock::<Map>().expect("map").clone();
        assert_eq!(first["minor"].as_int(), Ok(2));
        assert_eq!(first["distance"].as_float(), Ok(166.0));
    }

    #[test]
    fn malformed_is_an_error() {
        assert!(parse("<xml><a>1</xml>").is_err());
        assert!(parse("").is_err());
    }
}

/// The declarations of the `event::` helpers.
#[allow(clippy::items_after_test_module)]
pub const DOCS: &[crate::runtime::catalog::HelperDoc] = {
    use crate::runtime::catalog::HelperDoc;
    &[
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
            doc: "Events in the event log (written by `wxscript listen`, `run --listen` or the sandbox's pushes) whose fields equal every key of `filter`, oldest first. Numbers and numeric strings compare by value (audit_id: 123 matches \"123\"). The log is --log, else WXSCRIPT_EVENT_LOG, else ./wxscript-events.jsonl; with --sandbox, the run's own log; with --log redis, the Redis stream of the account in force (account::with to read another's).",
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
    ]
};
