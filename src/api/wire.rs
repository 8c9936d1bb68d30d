//! The wire rule, one for both sides of a call. `encode` turns a script's value into the form
//! WeChat receives (ids as strings or ints, `pic_list` as a JSON string, media ids joined by
//! `|`, dates as Unix seconds), or an input error naming the field; `check` judges a received
//! request by the same declaration and answers WeChat's errcode: the field's own code where the
//! declaration gives one (`Field::answers`), else 40097. The client encodes, the simulator
//! checks, and in debug builds the client asserts that its own encoding passes the check.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::check::{date_secs, did_you_mean, show, type_name};
use super::{Body, Endpoint, Ty, WxError};

/// WeChat's generic "invalid args" code, for a limit the documents give no code of its own.
pub const INVALID_ARGS: i64 = 40097;

/// A request the wire check refuses: the errcode to answer and what is wrong, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub code: i64,
    pub detail: String,
}

/// The declared fields that arrive in the query string (GET calls, and the JSON calls that name
/// some fields in `query`), typed as the body would carry them: numbers for int fields.
pub fn from_query(ep: &Endpoint, q: &HashMap<String, String>) -> Map<String, Value> {
    let mut m = Map::new();
    for f in ep.fields.iter().filter(|f| in_query(ep, f.name)) {
        if let Some(v) = q.get(f.name) {
            let typed = match f.ty {
                Ty::Int { .. } | Ty::IdInt | Ty::Date { .. } => v.parse::<i64>().map(Value::from).ok(),
                _ => None,
            };
            m.insert(f.name.to_string(), typed.unwrap_or_else(|| Value::String(v.clone())));
        }
    }
    m
}

/// Whether a field travels in the query string rather than the body.
pub fn in_query(ep: &Endpoint, field: &str) -> bool {
    match ep.body {
        Body::None => true,
        Body::Json => ep.query.contains(&field),
        // Every part but the file itself.
        Body::Multipart { .. } => ep.field(field).is_some_and(|f| f.ty != Ty::File),
    }
}

/// The declaration's fields as WeChat receives them: required ones present, each in its wire
/// type and within its declared limits. The file of an upload is judged by its handler.
pub fn check(ep: &Endpoint, body: &Map<String, Value>) -> Result<(), Reject> {
    for f in ep.fields.iter().filter(|f| f.ty != Ty::File) {
        let given = match body.get(f.name) {
            None | Some(Value::Null) => None,
            // The documents send "" for "not given" in id and list fields.
            Some(Value::String(s)) if s.is_empty() && !matches!(f.ty, Ty::Str { .. }) => None,
            Some(v) => Some(v),
        };
        match given {
            None if f.required => {
                return Err(Reject { code: INVALID_ARGS, detail: format!("missing required field \"{}\"", f.name) });
            }
            None => {}
            Some(v) => wire_value(f.name, f.ty, v, f.errcode())?,
        }
    }
    Ok(())
}

/// One value against its type. A value of the wrong type is 40097; `code` is answered when the
/// value breaks the type's limits (length, range, allowed values), the nested fields of a map
/// answering their own.
fn wire_value(name: &str, ty: Ty, v: &Value, code: i64) -> Result<(), Reject> {
    let reject =
        |code: i64, what: &str| Reject { code, detail: format!("field \"{name}\" must be {what}, got {}", show(v)) };
    let bad = |what: &str| reject(INVALID_ARGS, what);
    let over = |what: &str| reject(code, what);
    match ty {
        Ty::Str { .. } => {
            let s = v.as_str().ok_or_else(|| bad("a string"))?;
            if let Some((len, false)) = ty.measure(s) {
                return Err(over(&format!("a string of {} (this one counts {len})", ty.limits())));
            }
        }
        Ty::Int { min, max } => {
            let n = v.as_i64().ok_or_else(|| bad("an integer"))?;
            if n < min || n > max {
                return Err(over(&format!("an integer {}", ty.limits())));
            }
        }
        Ty::IdStr => {
            let s = v.as_str().ok_or_else(|| bad("a string of digits"))?;
            if !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("a string of digits"));
            }
        }
        Ty::IdInt => {
            v.as_u64().ok_or_else(|| bad("a non-negative integer"))?;
        }
        Ty::Decimal => {
            let f = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            if !f.is_some_and(f64::is_finite) {
                return Err(bad("a number"));
            }
        }
        Ty::Hour => {
            if !v.as_str().is_some_and(valid_hour) {
                return Err(bad("opening hours HH:MM-HH:MM"));
            }
        }
        Ty::PicList => {
            if v.as_str().and_then(pic_urls).is_none() {
                return Err(bad("a JSON string {\"list\":[...]} of at least one http(s) URL"));
            }
        }
        Ty::MediaIds { max } => {
            let s = v.as_str().ok_or_else(|| bad("media ids joined by |"))?;
            let ids: Vec<&str> = s.split('|').collect();
            if ids.len() > max || ids.iter().any(|i| i.is_empty()) {
                return Err(over(&format!("at most {max} non-empty media ids joined by |")));
            }
        }
        Ty::OneOf(options) => {
            let s = v.as_str().ok_or_else(|| bad(&ty.limits()))?;
            if !options.contains(&s) {
                return Err(over(&ty.limits()));
            }
        }
        Ty::File => {}
        Ty::Url => {
            if !v.as_str().is_some_and(is_url) {
                return Err(bad("an http(s) URL"));
            }
        }
        Ty::Date { .. } => {
            v.as_u64().ok_or_else(|| bad("Unix seconds (a non-negative integer)"))?;
        }
        Ty::Device => {
            let o = v.as_object().ok_or_else(|| bad("a device_identifier object"))?;
            let by_id = o.get("device_id").is_some_and(Value::is_u64);
            let by_uuid = o.get("uuid").is_some_and(Value::is_string)
                && o.get("major").is_some_and(Value::is_u64)
                && o.get("minor").is_some_and(Value::is_u64);
            if !by_id && !by_uuid {
                return Err(bad("{\"device_id\": int} or {\"uuid\": string, \"major\": int, \"minor\": int}"));
            }
        }
        Ty::List { item, min, max } => {
            let a = v.as_array().ok_or_else(|| bad("an array"))?;
            if a.len() < min || (max > 0 && a.len() > max) {
                return Err(over(&format!("an array of {} (given {})", ty.limits(), a.len())));
            }
            for (i, x) in a.iter().enumerate() {
                wire_value(&format!("{name}[{i}]"), *item, x, INVALID_ARGS)?;
            }
        }
        Ty::Object(fields) => {
            let o = v.as_object().ok_or_else(|| bad("an object"))?;
            for f in fields {
                match o.get(f.name) {
                    None | Some(Value::Null) if f.required => {
                        return Err(Reject { code, detail: format!("field \"{name}\" lacks \"{}\"", f.name) });
                    }
                    None | Some(Value::Null) => {}
                    Some(x) => wire_value(&format!("{name}.{}", f.name), f.ty, x, f.errcode())?,
                }
            }
        }
    }
    Ok(())
}

/// The URLs of a `{"list":[...]}` string: at least one, each http(s).
pub fn pic_urls(s: &str) -> Option<Vec<String>> {
    let v: Value = serde_json::from_str(s).ok()?;
    let list = v.as_object()?.get("list")?.as_array()?;
    let urls: Vec<String> =
        list.iter().map(|u| u.as_str().filter(|s| is_url(s)).map(str::to_string)).collect::<Option<_>>()?;
    (!urls.is_empty()).then_some(urls)
}

/// A wire value as it appears in a query string: strings bare, everything else as JSON.
pub(crate) fn query_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn bad(ep: &Endpoint, field: &str, expected: impl std::fmt::Display, v: &Value) -> WxError {
    let mut msg = format!("{}: field \"{field}\" expects {expected}, got {} {}", ep.qualified(), type_name(v), show(v));
    let expected = expected.to_string();
    if matches!(v, Value::String(_)) && expected.contains("int") {
        msg.push_str(" (values read from CSV are strings: convert with parse_int)");
    } else if matches!(v, Value::String(_)) && expected.contains("number") {
        msg.push_str(" (values read from CSV are strings: convert with parse_float)");
    }
    WxError::input(ep.path, field, msg)
}

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// Checks one value and returns its wire form.
pub(crate) fn encode(ep: &Endpoint, name: &str, ty: Ty, v: &Value) -> Result<Value, WxError> {
    match ty {
        Ty::Str { .. } => {
            let s = v.as_str().ok_or_else(|| bad(ep, name, "a string", v))?;
            let (len, fits) = ty.measure(s).unwrap_or((0, true));
            if !fits {
                return Err(bad(ep, name, format!("a string of {} (this one counts {len})", ty.limits()), v));
            }
            Ok(v.clone())
        }
        Ty::Int { min, max } => {
            let n = as_int(v).ok_or_else(|| bad(ep, name, "an int", v))?;
            if n < min || n > max {
                return Err(bad(ep, name, format!("an int {}", ty.limits()), v));
            }
            Ok(v.clone())
        }
        Ty::IdStr | Ty::IdInt => {
            let digits = match v {
                Value::Number(_) => as_int(v).filter(|n| *n >= 0).map(|n| n.to_string()),
                Value::String(s) if s.is_empty() => return Ok(v.clone()),
                Value::String(s) if s.bytes().all(|b| b.is_ascii_digit()) => Some(s.clone()),
                _ => None,
            }
            .ok_or_else(|| bad(ep, name, "an id (a non-negative int or a string of digits)", v))?;
            Ok(if ty == Ty::IdStr {
                Value::String(digits)
            } else {
                digits.parse::<i64>().map(Value::from).map_err(|_| bad(ep, name, "an id that fits in 64 bits", v))?
            })
        }
        // Numbers only, as the contract says: a coordinate read from a sheet and not converted
        // is the script's mistake to hear about, not a string to pass on.
        Ty::Decimal => {
            let f = match v {
                Value::Number(n) => n.as_f64(),
                _ => None,
            }
            .filter(|f| f.is_finite())
            .ok_or_else(|| bad(ep, name, "a number", v))?;
            Ok(Value::String(f.to_string()))
        }
        Ty::Hour => {
            let s = v.as_str().ok_or_else(|| bad(ep, name, "a string HH:MM-HH:MM", v))?;
            if !valid_hour(s) {
                return Err(bad(ep, name, "opening hours as HH:MM-HH:MM (e.g. \"10:00-21:00\")", v));
            }
            Ok(v.clone())
        }
        Ty::PicList => {
            let urls: Vec<Value> = match v {
                Value::Array(a) => a.clone(),
                Value::String(s) => match serde_json::from_str::<Value>(s) {
                    Ok(Value::Object(o)) => match o.get("list") {
                        Some(Value::Array(a)) if o.len() == 1 => a.clone(),
                        _ => return Err(bad(ep, name, "an array of picture URLs or a {\"list\":[...]} string", v)),
                    },
                    _ => return Err(bad(ep, name, "an array of picture URLs or a {\"list\":[...]} string", v)),
                },
                _ => return Err(bad(ep, name, "an array of picture URLs", v)),
            };
            if urls.is_empty() {
                return Err(bad(ep, name, "at least one picture URL", v));
            }
            for (i, u) in urls.iter().enumerate() {
                let ok = u.as_str().is_some_and(|s| s.starts_with("http://") || s.starts_with("https://"));
                if !ok {
                    return Err(bad(ep, &format!("{name}[{i}]"), "an http(s) URL", u).with_field(name));
                }
            }
            match v {
                Value::String(_) => Ok(v.clone()),
                _ => Ok(Value::String(json!({ "list": urls }).to_string())),
            }
        }
        Ty::MediaIds { max } => {
            let ids: Vec<String> = match v {
                Value::String(s) if s.is_empty() => Vec::new(),
                Value::String(s) => s.split('|').map(str::to_string).collect(),
                Value::Array(a) => a
                    .iter()
                    .map(|x| x.as_str().map(str::to_string).ok_or_else(|| bad(ep, name, "media ids as strings", x)))
                    .collect::<Result<_, _>>()?,
                _ => return Err(bad(ep, name, format!("an array of at most {max} media ids"), v)),
            };
            if ids.len() > max {
                return Err(bad(ep, name, format!("at most {max} media ids (given {})", ids.len()), v));
            }
            if ids.iter().any(|s| s.is_empty() || s.contains('|')) {
                return Err(bad(ep, name, "non-empty media ids", v));
            }
            Ok(Value::String(ids.join("|")))
        }
        Ty::OneOf(options) => {
            let s = v.as_str().ok_or_else(|| bad(ep, name, ty.limits(), v))?;
            if !options.contains(&s) {
                return Err(bad(ep, name, ty.limits(), v));
            }
            Ok(v.clone())
        }
        Ty::Url => {
            let s = v.as_str().ok_or_else(|| bad(ep, name, "an http(s) URL", v))?;
            if !is_url(s) {
                return Err(bad(ep, name, "an http(s) URL", v));
            }
            Ok(v.clone())
        }
        Ty::Date { time } => {
            let expected = if time {
                "a date: Unix seconds, \"YYYY-MM-DD\" or \"YYYY-MM-DD HH:MM:SS\" (UTC+8)"
            } else {
                "a date: Unix seconds or \"YYYY-MM-DD\" (midnight UTC+8)"
            };
            date_secs(v, time).map(Value::from).ok_or_else(|| bad(ep, name, expected, v))
        }
        Ty::Device => device(ep, name, v),
        Ty::List { item, min, max } => {
            let a = v.as_array().ok_or_else(|| bad(ep, name, format!("an array ({})", ty.limits()), v))?;
            if a.len() < min || (max > 0 && a.len() > max) {
                let n = a.len();
                return Err(bad(ep, name, format!("an array of {} (given {n})", ty.limits()), v));
            }
            a.iter().enumerate().map(|(i, x)| encode(ep, &format!("{name}[{i}]"), *item, x)).collect()
        }
        Ty::Object(fields) => object(ep, name, fields, v),
        Ty::File => {
            let s = v.as_str().ok_or_else(|| bad(ep, name, "a file path", v))?;
            let meta = std::fs::metadata(s).map_err(|e| WxError::io(ep.path, s, format!("cannot read {s}: {e}")))?;
            if !meta.is_file() {
                return Err(WxError::io(ep.path, s, format!("{s} is not a file")));
            }
            Ok(v.clone())
        }
    }
}

/// An `http://` or `https://` URL with something after the scheme.
pub fn is_url(s: &str) -> bool {
    ["http://", "https://"].iter().any(|p| s.strip_prefix(p).is_some_and(|rest| !rest.is_empty()))
}

/// A UUID as beacons carry it: 8-4-4-4-12 hexadecimal digits.
pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A map whose keys are checked against `fields`; nested errors name `name.key`.
fn object(ep: &Endpoint, name: &str, fields: &[super::Field], v: &Value) -> Result<Value, WxError> {
    let keys: Vec<&str> = fields.iter().map(|f| f.name).collect();
    let o = v.as_object().ok_or_else(|| bad(ep, name, format!("a map #{{{}}}", keys.join(", ")), v))?;
    for k in o.keys() {
        if !keys.contains(&k.as_str()) {
            let mut msg = format!("{}: unknown key \"{k}\" in \"{name}\"", ep.qualified());
            match did_you_mean(k, keys.iter().copied()) {
                Some(s) => msg.push_str(&format!(", did you mean \"{s}\"?")),
                None => msg.push_str(&format!(" (keys: {})", keys.join(", "))),
            }
            return Err(WxError::input(ep.path, format!("{name}.{k}"), msg));
        }
    }
    let mut out = Map::new();
    for f in fields {
        match o.get(f.name) {
            None | Some(Value::Null) if f.required => {
                return Err(WxError::input(
                    ep.path,
                    format!("{name}.{}", f.name),
                    format!("{}: \"{name}\" lacks the key \"{}\" ({})", ep.qualified(), f.name, f.ty.name()),
                ));
            }
            None | Some(Value::Null) => {}
            Some(x) => {
                out.insert(f.name.to_string(), encode(ep, &format!("{name}.{}", f.name), f.ty, x)?);
            }
        }
    }
    Ok(Value::Object(out))
}

pub(crate) const DEVICE_ID: &[super::Field] = &[super::req("device_id", Ty::IdInt, "device id")];
pub(crate) const DEVICE_UUID: &[super::Field] = &[
    super::req("uuid", Ty::Str { min: 1, max: 0, cjk2: false }, "beacon UUID"),
    super::req("major", Ty::Int { min: 0, max: 65_535 }, "beacon major"),
    super::req("minor", Ty::Int { min: 0, max: 65_535 }, "beacon minor"),
];

/// Both forms' keys at once, none required by itself: what completion offers inside a
/// `device_identifier` before the form is clear.
pub(crate) const DEVICE_KEYS: &[super::Field] = &[
    super::opt("device_id", Ty::IdInt, "device id (or uuid, major and minor)"),
    super::opt("uuid", Ty::Str { min: 1, max: 0, cjk2: false }, "beacon UUID (with major and minor)"),
    super::opt("major", Ty::Int { min: 0, max: 65_535 }, "beacon major"),
    super::opt("minor", Ty::Int { min: 0, max: 65_535 }, "beacon minor"),
];

/// A `device_identifier`: exactly `#{device_id}` or `#{uuid, major, minor}`; only the keys given
/// are sent.
fn device(ep: &Endpoint, name: &str, v: &Value) -> Result<Value, WxError> {
    const FORMS: &str = "a device_identifier: #{device_id} or #{uuid, major, minor}";
    let o = v.as_object().ok_or_else(|| bad(ep, name, FORMS, v))?;
    let by_id = o.contains_key("device_id");
    let by_uuid = ["uuid", "major", "minor"].iter().any(|k| o.contains_key(*k));
    if by_id && by_uuid {
        return Err(bad(ep, name, format!("{FORMS}, not both"), v));
    }
    let known = ["device_id", "uuid", "major", "minor"];
    if let Some(k) = o.keys().find(|k| !known.contains(&k.as_str())) {
        let mut msg = format!("{}: unknown key \"{k}\" in \"{name}\" (expects {FORMS}", ep.qualified());
        match did_you_mean(k, known) {
            Some(s) => msg.push_str(&format!("), did you mean \"{s}\"?")),
            // A whole device map from search_devices has comment, status, ...: say what to pass.
            None => msg.push_str("; pass e.g. #{device_id: d.device_id})"),
        }
        return Err(WxError::input(ep.path, format!("{name}.{k}"), msg));
    }
    if !by_id && !by_uuid {
        return Err(bad(ep, name, FORMS, v));
    }
    let out = object(ep, name, if by_id { DEVICE_ID } else { DEVICE_UUID }, v)?;
    if let Some(u) = out.get("uuid").and_then(Value::as_str)
        && !is_uuid(u)
    {
        return Err(bad(
            ep,
            &format!("{name}.uuid"),
            "a UUID of the form FDA50693-A4E2-4FB1-AFCF-C6EB07647825",
            &out["uuid"],
        ));
    }
    Ok(out)
}

impl WxError {
    fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_string());
        self
    }
}

/// `HH:MM-HH:MM` with real clock times (24:00 allowed as an end).
pub fn valid_hour(s: &str) -> bool {
    fn clock(t: &str, end: bool) -> bool {
        let b = t.as_bytes();
        if b.len() != 5 || b[2] != b':' || !b.iter().enumerate().all(|(i, c)| i == 2 || c.is_ascii_digit()) {
            return false;
        }
        let h = (b[0] - b'0') * 10 + (b[1] - b'0');
        let m = (b[3] - b'0') * 10 + (b[4] - b'0');
        (h < 24 && m < 60) || (end && h == 24 && m == 0)
    }
    match s.split_once('-') {
        Some((a, b)) => clock(a, false) && clock(b, true),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_follow_declarations() {
        let add = crate::api::by_name("store::add").expect("declared");
        let good = json!({
            "map_poi_id": "123", "pic_list": "{\"list\":[\"http://a/b.jpg\"]}",
            "contract_phone": "1", "hour": "10:00-21:00", "credential": "x", "poi_id": ""
        });
        assert_eq!(check(add, good.as_object().expect("object")), Ok(()));
        let mut bad = good.clone();
        bad["map_poi_id"] = json!(123);
        assert!(check(add, bad.as_object().expect("object")).is_err_and(|e| e.detail.contains("map_poi_id")));
        let mut bad = good.clone();
        bad["pic_list"] = json!("{\"list\":[]}");
        assert!(check(add, bad.as_object().expect("object")).is_err_and(|e| e.detail.contains("pic_list")));
        let mut bad = good;
        bad["hour"] = json!("9-21");
        let e = check(add, bad.as_object().expect("object")).expect_err("refused");
        assert_eq!(e.code, INVALID_ARGS);
        assert!(e.detail.contains("hour"));
    }

    #[test]
    fn a_field_with_its_own_code_answers_it_and_its_items_do_not() {
        let search = crate::api::by_name("shake::search_devices").expect("declared");
        let ids: Vec<Value> = (0..51).map(|i| json!({"device_id": i})).collect();
        let body = json!({"type": 1, "device_identifiers": ids});
        assert_eq!(check(search, body.as_object().expect("object")).map_err(|e| e.code), Err(9001024));
        let body = json!({"type": 1, "device_identifiers": [{"device_id": "x"}]});
        assert_eq!(check(search, body.as_object().expect("object")).map_err(|e| e.code), Err(INVALID_ARGS));
    }

    /// Whatever the client's encoder produces, the simulator's check accepts: one rule.
    #[test]
    fn every_example_encoding_passes_the_check() {
        let add = crate::api::by_name("store::add").expect("declared");
        let args = json!({
            "map_poi_id": 123, "pic_list": ["http://a/b.jpg"], "contract_phone": "1",
            "hour": "10:00-21:00", "credential": "x", "qualification_list": ["m1", "m2"],
        });
        let req =
            super::super::check::prepare(add, args.as_object().cloned().expect("object"), &|| 0).expect("encodes");
        let super::super::check::Payload::Json(Value::Object(body)) = req.payload else { panic!("a JSON body") };
        assert_eq!(check(add, &body), Ok(()));
    }

    #[test]
    fn hours() {
        assert!(valid_hour("10:00-21:00"));
        assert!(valid_hour("00:00-24:00"));
        assert!(!valid_hour("10:00-25:00"));
        assert!(!valid_hour("9:00-21:00"));
        assert!(!valid_hour("10:00~21:00"));
    }

    #[test]
    fn uuids() {
        assert!(is_uuid("FDA50693-A4E2-4FB1-AFCF-C6EB07647825"));
        assert!(!is_uuid("FDA50693A4E24FB1AFCFC6EB07647825"));
        assert!(!is_uuid("FDA50693-A4E2-4FB1-AFCF-C6EB0764782G"));
    }
}
