//! `event::parse`: one pushed XML event (audit results, shakes) as a map; `event::find` and
//! `event::wait`: events in the event log that `wxscript listen` (or `run --listen`, or the
//! sandbox's pushes) writes.

use std::path::Path;
use std::time::{Duration, Instant};

use quick_xml::Reader;
use quick_xml::events::Event;
use rhai::{Array, Dynamic, Map};
use serde_json::Value;

use crate::api::{ErrorKind, WxError};
use crate::listen::log;
use crate::runtime::{Ctx, convert};

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
    ctx.event_log.clone().unwrap_or_else(log::default_path)
}

/// Every logged event matching `filter`, oldest first.
pub fn find(ctx: &Ctx, filter: &Map) -> Result<Array, WxError> {
    let f = filter_json("event::find", filter)?;
    let path = log_path(ctx);
    let all = log::read_all(&path).map_err(|e| io_error("event::find", &path, &e))?;
    Ok(all.iter().filter(|ev| log::matches(ev, &f)).map(to_map).collect())
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
    let mut reader = log::Reader::new(&path);
    loop {
        let batch = reader.next_batch().map_err(|e| io_error(API, &path, &e))?;
        if let Some(ev) = batch.iter().find(|ev| log::matches(ev, &f)) {
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

#[derive(Default)]
struct Node {
    name: String,
    text: String,
    cdata: bool,
    children: Vec<Node>,
}

/// Parses `<xml>...</xml>`: CDATA stays text (except in the documented number fields), bare
/// numbers become ints (or floats), nested
/// elements become maps, and a plural element whose children share one name becomes an array.
pub fn parse(xml: &str) -> Result<Map, String> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        match reader.read_event().map_err(|e| format!("malformed XML at byte {}: {e}", reader.buffer_position()))? {
            Event::Start(s) => stack.push(Node { name: s.name().into_inner().to_string(), ..Node::default() }),
            Event::Empty(s) => {
                let n = Node { name: s.name().into_inner().to_string(), ..Node::default() };
                if let Some(top) = stack.last_mut() {
                    top.children.push(n);
                }
            }
            Event::End(_) => {
                let n = stack.pop().ok_or("unbalanced XML")?;
                stack.last_mut().ok_or("unbalanced XML")?.children.push(n);
            }
            Event::Text(t) => {
                let s = t.xml10_content();
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                let name: &str = &r;
                let ch = match name {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => {
                        // Character references; any other entity would need a DOCTYPE to mean
                        // something, and WeChat sends none.
                        let code = match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                            Some(hex) => u32::from_str_radix(hex, 16).ok(),
                            None => name.strip_prefix('#').and_then(|d| d.parse::<u32>().ok()),
                        };
                        code.and_then(char::from_u32).ok_or_else(|| format!("unknown XML entity &{name};"))?
                    }
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push(ch);
                }
            }
            Event::DocType(_) => return Err("a DOCTYPE is not part of a WeChat message".into()),
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&c);
                    top.cdata = true;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 {
        return Err("unexpected end of XML: an element is not closed".into());
    }
    let root = stack.pop().and_then(|r| r.children.into_iter().next()).ok_or("no XML element found")?;
    match value(root) {
        v if v.is_map() => {
            let mut m = v.cast::<Map>();
            beacons(&mut m);
            Ok(m)
        }
        _ => Err("the event has no fields".into()),
    }
}

/// `ShakearoundUserShake`: `ChosenBeacon` and `AroundBeacons/AroundBeacon` also as
/// `chosen_beacon` and `around_beacons`, each `#{uuid, major, minor, distance}` with a float
/// distance, as the script API names them.
fn beacons(m: &mut Map) {
    fn beacon(d: &Dynamic) -> Option<Dynamic> {
        let b = d.read_lock::<Map>()?;
        let mut out = Map::new();
        for (from, to) in [("Uuid", "uuid"), ("Major", "major"), ("Minor", "minor"), ("Distance", "distance")] {
            let v = b.get(from).cloned().unwrap_or(Dynamic::UNIT);
            let v = match (to, v.as_int()) {
                ("distance", Ok(i)) => Dynamic::from_float(i as rhai::FLOAT),
                _ => v,
            };
            out.insert(to.into(), v);
        }
        Some(Dynamic::from_map(out))
    }
    if let Some(c) = m.get("ChosenBeacon").and_then(beacon) {
        m.insert("chosen_beacon".into(), c);
    }
    let is_shake = m.get("Event").is_some_and(|e| e.to_string() == "ShakearoundUserShake");
    let list: Option<Array> = match m.get("AroundBeacons") {
        // An empty <AroundBeacons/> reads as text; one element is still a list.
        Some(a) => Some(match a.clone().into_array() {
            Ok(items) => items.iter().filter_map(beacon).collect(),
            Err(_) => a.read_lock::<Map>().and_then(|o| o.get("AroundBeacon").and_then(beacon)).into_iter().collect(),
        }),
        // A shake with no beacon around the chosen one: an empty list, so scripts can loop.
        None if is_shake || m.contains_key("ChosenBeacon") => Some(Array::new()),
        None => None,
    };
    if let Some(list) = list {
        m.insert("around_beacons".into(), Dynamic::from_array(list));
    }
}

/// Fields the documents define as numbers, read as ints even when a sender wraps them in CDATA.
const NUMERIC: &[&str] = &["CreateTime", "audit_id", "status", "is_upgrade", "poiid"];

fn value(n: Node) -> Dynamic {
    if n.children.is_empty() {
        let t = n.text.trim();
        if n.cdata
            && NUMERIC.contains(&n.name.as_str())
            && let Ok(i) = t.parse::<i64>()
        {
            return Dynamic::from_int(i);
        }
        if !n.cdata {
            if let Ok(i) = t.parse::<i64>() {
                return Dynamic::from_int(i);
            }
            if t.contains('.')
                && let Ok(f) = t.parse::<f64>()
            {
                return Dynamic::from_float(f);
            }
        }
        return Dynamic::from(n.text);
    }
    let plural = n.children.iter().all(|c| format!("{}s", c.name) == n.name);
    if plural {
        return Dynamic::from_array(n.children.into_iter().map(value).collect::<Array>());
    }
    let mut m = Map::new();
    for c in n.children {
        let name = c.name.clone();
        let v = value(c);
        m.insert(name.into(), v);
    }
    Dynamic::from_map(m)
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
    fn beacons_become_arrays() {
        let m = parse("<xml><AroundBeacons><AroundBeacon><Major>1</Major><Distance>1.5</Distance></AroundBeacon><AroundBeacon><Major>2</Major></AroundBeacon></AroundBeacons></xml>").expect("parses");
        assert_eq!(m["AroundBeacons"].clone().into_array().map(|a| a.len()).ok(), Some(2));
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
        let none = parse("<xml><Event><![CDATA[ShakearoundUserShake]]></Event><AroundBeacons></AroundBeacons></xml>")
            .expect("parses");
        assert_eq!(none["around_beacons"].clone().into_array().map(|a| a.len()).ok(), Some(0));
        let absent = parse(
            "<xml><Event><![CDATA[ShakearoundUserShake]]></Event><ChosenBeacon><Major>1</Major></ChosenBeacon></xml>",
        )
        .expect("parses");
        assert_eq!(absent["around_beacons"].clone().into_array().map(|a| a.len()).ok(), Some(0));
        let other = parse("<xml><Event><![CDATA[add_store_audit_info]]></Event></xml>").expect("parses");
        assert!(!other.contains_key("around_beacons"));
    }

    #[test]
    fn documented_numbers_are_ints_even_in_cdata() {
        let m = parse("<xml><CreateTime><![CDATA[1488856741]]></CreateTime><audit_id><![CDATA[11111]]></audit_id><poiid><![CDATA[12344]]></poiid><reason><![CDATA[123]]></reason></xml>").expect("parses");
        assert_eq!(m["audit_id"].as_int(), Ok(11111));
        assert_eq!(m["poiid"].as_int(), Ok(12344));
        assert_eq!(m["CreateTime"].as_int(), Ok(1_488_856_741));
        assert_eq!(m["reason"].clone().into_string().ok().as_deref(), Some("123"), "text stays text");
    }

    #[test]
    fn entities_and_doctypes() {
        let m = parse("<xml><reason>a &lt;b&gt; &amp; &#20013;&#x6587;</reason></xml>").expect("parses");
        assert_eq!(m["reason"].clone().into_string().ok().as_deref(), Some("a <b> & 中文"));
        assert!(parse("<!DOCTYPE xml [<!ENTITY x \"y\">]><xml><a>&x;</a></xml>").is_err());
        assert!(parse("<xml><a>&nosuch;</a></xml>").is_err());
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
    ]
};
