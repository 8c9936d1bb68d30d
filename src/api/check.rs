//! Request checks, wire encoding and answer unwrapping, all driven by a declaration.
//!
//! `prepare` turns a script's argument map into the exact request WeChat expects, or an input
//! error naming the field, what was expected and what was given; nothing is sent on error.
//! `unwrap` takes the payload out of an answer by the declaration's rule.

use serde_json::{Map, Value, json};

use super::{Body, Endpoint, ErrorKind, Method, Ty, Unwrap, WxError};

/// A request ready for the transport: path, method, query and payload, with no token.
#[derive(Debug, Clone)]
pub struct Request {
    /// API path without leading slash, e.g. `wxa/add_store`.
    pub api: String,
    pub method: Method,
    pub query: Vec<(String, String)>,
    pub payload: Payload,
    /// Re-sending after an unknown outcome could create a duplicate.
    pub creates: bool,
    pub mutates: bool,
    /// How to find out whether a create whose answer never came took effect.
    pub verify: &'static str,
    /// Codes with the endpoint's own meaning: that hint, and no retry.
    pub own_codes: &'static [(i64, &'static str)],
}

/// What travels in the request body.
#[derive(Debug, Clone)]
pub enum Payload {
    None,
    Json(Value),
    File { part: String, file_name: String, bytes: Vec<u8> },
}

/// Width of a string as WeChat counts names: CJK and other wide characters count 2.
pub fn cjk_width(s: &str) -> usize {
    s.chars().map(|c| if (c as u32) >= 0x2E80 { 2 } else { 1 }).sum()
}

/// A short rendering of a given value for error messages.
pub fn show(v: &Value) -> String {
    let s = match v {
        Value::Null => "()".to_string(),
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    if s.chars().count() > 60 { format!("{}...", s.chars().take(57).collect::<String>()) } else { s }
}

/// The script-facing type name of a JSON value.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "()",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "map",
    }
}

/// The nearest candidate to a misspelt name, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (given.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(given, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Checks `args` against the declaration and encodes them for the wire.
pub fn prepare(ep: &Endpoint, args: Map<String, Value>) -> Result<Request, WxError> {
    let api = ep.path;
    for key in args.keys() {
        if ep.field(key).is_none() {
            let names: Vec<&str> = ep.fields.iter().map(|f| f.name).collect();
            let mut msg = format!("{}: unknown field \"{key}\"", ep.qualified());
            match did_you_mean(key, names.iter().copied()) {
                Some(s) => msg.push_str(&format!(", did you mean \"{s}\"?")),
                None if names.is_empty() => msg.push_str(" (this function takes no fields)"),
                None => msg.push_str(&format!(" (fields: {})", names.join(", "))),
            }
            return Err(WxError::input(api, key.clone(), msg));
        }
    }
    let mut wire = Map::new();
    let mut file = None;
    let mut query = Vec::new();
    for f in ep.fields {
        let v = match args.get(f.name) {
            None | Some(Value::Null) => {
                if f.required {
                    return Err(WxError::input(
                        api,
                        f.name,
                        format!("{}: missing required field \"{}\" ({})", ep.qualified(), f.name, f.ty.name()),
                    ));
                }
                continue;
            }
            // "" is how the documents leave an optional id unset; a required one needs a value.
            Some(Value::String(s)) if f.required && s.is_empty() && matches!(f.ty, Ty::IdStr | Ty::IdInt) => {
                return Err(WxError::input(
                    api,
                    f.name,
                    format!("{}: field \"{}\" expects {}, got an empty string", ep.qualified(), f.name, f.ty.name()),
                ));
            }
            Some(v) => v,
        };
        let encoded = encode(ep, f.name, f.ty, v)?;
        match (ep.body, f.ty) {
            (Body::Multipart { part }, Ty::File) => file = Some((part, encoded)),
            (Body::Multipart { .. }, _) | (Body::None, _) => query.push((f.name.to_string(), query_text(&encoded))),
            (Body::Json, _) if ep.query.contains(&f.name) => query.push((f.name.to_string(), query_text(&encoded))),
            (Body::Json, _) => {
                wire.insert(f.name.to_string(), encoded);
            }
        }
    }
    if let Some(check) = ep.extra_check {
        check(ep, &args)?;
    }
    let payload = match ep.body {
        Body::None => Payload::None,
        Body::Json => Payload::Json(Value::Object(wire)),
        Body::Multipart { part } => {
            let (_, path) = file.ok_or_else(|| WxError::input(api, part, "missing file"))?;
            let path = path.as_str().unwrap_or_default().to_string();
            let bytes =
                std::fs::read(&path).map_err(|e| WxError::io(api, &path, format!("cannot read {path}: {e}")))?;
            let file_name = std::path::Path::new(&path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "upload".into());
            Payload::File { part: part.to_string(), file_name, bytes }
        }
    };
    Ok(Request {
        api: api.to_string(),
        method: ep.method,
        query,
        payload,
        creates: ep.creates,
        mutates: ep.mutates,
        verify: ep.verify,
        own_codes: ep.own_codes,
    })
}

/// A wire value as it appears in a query string: strings bare, everything else as JSON.
fn query_text(v: &Value) -> String {
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
fn encode(ep: &Endpoint, name: &str, ty: Ty, v: &Value) -> Result<Value, WxError> {
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

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `"YYYY-MM-DD"` of Unix seconds, in China Standard Time.
pub fn date_utc8(secs: i64) -> String {
    let (y, m, d) = civil_from_days((secs + UTC8).div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// China Standard Time, the zone of every shake-around date.
pub const UTC8: i64 = 8 * 3600;

/// Unix seconds of a date value: an int (>= 0) as it is, `"YYYY-MM-DD"` as midnight UTC+8 and,
/// with `time`, `"YYYY-MM-DD HH:MM:SS"` in UTC+8. Pure arithmetic: the machine's zone is never
/// consulted.
pub fn date_secs(v: &Value, time: bool) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().filter(|n| *n >= 0),
        Value::String(s) => {
            let (date, clock) = match s.split_once(' ') {
                Some((d, c)) if time => (d, Some(c)),
                Some(_) => return None,
                None => (s.as_str(), None),
            };
            let num = |t: &str, len: usize| {
                (t.len() == len && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse::<i64>().ok()).flatten()
            };
            let mut parts = date.split('-');
            let (y, m, d) = (num(parts.next()?, 4)?, num(parts.next()?, 2)?, num(parts.next()?, 2)?);
            if parts.next().is_some() || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) || y < 1970 {
                return None;
            }
            let secs = match clock {
                None => 0,
                Some(c) => {
                    let mut t = c.split(':');
                    let (h, mi, se) = (num(t.next()?, 2)?, num(t.next()?, 2)?, num(t.next()?, 2)?);
                    if t.next().is_some() || h > 23 || mi > 59 || se > 59 {
                        return None;
                    }
                    h * 3600 + mi * 60 + se
                }
            };
            Some(days_from_civil(y, m, d) * 86_400 + secs - UTC8).filter(|n| *n >= 0)
        }
        _ => None,
    }
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
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

/// Takes the payload out of a successful answer (errcode already checked by the transport).
pub fn unwrap(ep: &Endpoint, answer: Value) -> Result<Value, WxError> {
    let shape =
        |what: &str| WxError::new(ErrorKind::Network, ep.path, format!("answer lacks {what}: {}", show(&answer)));
    Ok(match ep.unwrap {
        Unwrap::Nothing => Value::Null,
        Unwrap::Data => answer.get("data").cloned().ok_or_else(|| shape("data"))?,
        Unwrap::DataPath(path) => {
            let mut cur = answer.get("data").ok_or_else(|| shape("data"))?;
            for p in path {
                cur = cur.get(*p).ok_or_else(|| shape(p))?;
            }
            cur.clone()
        }
        Unwrap::Top(key) => answer.get(key).cloned().unwrap_or(Value::Null),
        Unwrap::Fields => match answer {
            Value::Object(mut o) => {
                o.remove("errcode");
                o.remove("errmsg");
                Value::Object(o)
            }
            other => other,
        },
        Unwrap::BaseInfo => answer
            .get("business")
            .and_then(|b| b.get("base_info"))
            .cloned()
            .ok_or_else(|| shape("business.base_info"))?,
        Unwrap::BusinessList => {
            let list = answer
                .get("business_list")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|b| b.get("base_info").cloned().unwrap_or_else(|| b.clone())).collect())
                .unwrap_or_default();
            json!({
                "total_count": answer.get("total_count").cloned().unwrap_or(Value::from(0)),
                "business_list": Value::Array(list),
            })
        }
        Unwrap::TencentResult => {
            let status = answer.get("status").and_then(Value::as_i64).unwrap_or(0);
            if status != 0 {
                let msg = answer.get("message").and_then(Value::as_str).unwrap_or("").to_string();
                return Err(WxError::api(ep.path, status, msg));
            }
            answer.get("result").cloned().ok_or_else(|| shape("result"))?
        }
        Unwrap::MergeData => match answer {
            Value::Object(mut o) => {
                o.remove("errcode");
                o.remove("errmsg");
                if let Some(Value::Object(data)) = o.remove("data") {
                    o.extend(data);
                }
                Value::Object(o)
            }
            other => other,
        },
        Unwrap::ErrorData => match answer.get("error") {
            None | Some(Value::Null) => answer.get("data").cloned().ok_or_else(|| shape("data"))?,
            Some(e) => {
                let code = answer.get("errcode").and_then(Value::as_i64).unwrap_or(-1);
                let msg = e.as_str().map(str::to_string).unwrap_or_else(|| e.to_string());
                return Err(WxError::api(ep.path, code, msg));
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_map_poi_answers_in_error_data_shape() {
        let ep = crate::api::by_name("map::create_poi").expect("declared");
        let ok = serde_json::json!({"error": null, "data": {"base_id": 12345, "rich_id": 0}});
        assert_eq!(unwrap(ep, ok).expect("data")["base_id"], 12345);
        let bad = serde_json::json!({"errcode": 40097, "error": "invalid args", "data": null});
        let e = unwrap(ep, bad).expect_err("an error");
        assert_eq!((e.errcode, e.errmsg.as_str()), (Some(40097), "invalid args"));
    }

    #[test]
    fn cjk_counts_two() {
        assert_eq!(cjk_width("ab"), 2);
        assert_eq!(cjk_width("门店"), 4);
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
    fn days_round_trip_and_dates_print_in_utc8() {
        for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (2026, 11, 23), (2100, 3, 1), (1969, 12, 31)] {
            assert_eq!(civil_from_days(days_from_civil(y, m, d)), (y, m, d));
        }
        // 2026-11-22 16:00 UTC is already the 23rd in China.
        assert_eq!(date_utc8(days_from_civil(2026, 11, 22) * 86_400 + 16 * 3600), "2026-11-23");
        assert_eq!(date_utc8(days_from_civil(2026, 11, 22) * 86_400 + 15 * 3600), "2026-11-22");
    }

    #[test]
    fn dates_are_utc8_midnight() {
        // 2026-11-01 00:00 +08:00 is 2026-10-31 16:00 UTC.
        assert_eq!(date_secs(&json!("2026-11-01"), false), Some(1_793_462_400));
        assert_eq!(date_secs(&json!("1970-01-02"), false), Some(86_400 - UTC8));
        assert_eq!(
            date_secs(&json!("2026-11-01 08:00:00"), true),
            date_secs(&json!("2026-11-01"), false).map(|s| s + 28_800)
        );
        assert_eq!(date_secs(&json!("2026-11-01 08:00:00"), false), None);
        assert_eq!(date_secs(&json!("2026-02-29"), false), None);
        assert_eq!(date_secs(&json!("2024-02-29"), false).map(|s| s % 86_400), Some(86_400 - UTC8));
        assert_eq!(date_secs(&json!("2026-1-01"), false), None);
        assert_eq!(date_secs(&json!(1_700_000_000), false), Some(1_700_000_000));
        assert_eq!(date_secs(&json!(-1), false), None);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn uuids() {
        assert!(is_uuid("FDA50693-A4E2-4FB1-AFCF-C6EB07647825"));
        assert!(!is_uuid("FDA50693A4E24FB1AFCFC6EB07647825"));
        assert!(!is_uuid("FDA50693-A4E2-4FB1-AFCF-C6EB0764782G"));
    }

    #[test]
    fn typo_suggestion() {
        assert_eq!(did_you_mean("contact_phone", ["contract_phone", "hour"]), Some("contract_phone"));
        assert_eq!(did_you_mean("zzz", ["contract_phone"]), None);
    }
}
