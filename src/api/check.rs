//! Request checks, wire encoding and answer unwrapping, all driven by a declaration.
//!
//! `prepare` turns a script's argument map into the exact request WeChat expects, or an input
//! error naming the field, what was expected and what was given; nothing is sent on error.
//! `unwrap` takes the payload out of an answer by the declaration's rule.

use serde_json::{Map, Value, json};

use super::{Body, Endpoint, ErrorKind, Field, Method, Policy, Ty, Unwrap, WxError, wire};

/// A request ready for the transport: path, method, query and payload, with no token.
#[derive(Debug, Clone)]
pub struct Request {
    /// API path without leading slash, e.g. `wxa/add_store`.
    pub api: String,
    pub method: Method,
    pub query: Vec<(String, String)>,
    pub payload: Payload,
    /// What the call does to the account (dry runs, unknown outcomes).
    pub policy: Policy,
    /// Codes with the endpoint's own meaning: that hint, and no retry.
    pub own_codes: &'static [(i64, &'static str)],
    /// The answer's shape, which also says where a failed answer keeps its message.
    pub answer: Unwrap,
    /// Which token the call carries, and in which query parameter.
    pub token: super::TokenKind,
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

/// The error for a key the declaration does not have, with the likely typo.
pub fn unknown_field(ep: &Endpoint, key: &str) -> WxError {
    let names: Vec<&str> = ep.fields.iter().map(|f| f.name).collect();
    let mut msg = format!("{}: unknown field \"{key}\"", ep.qualified());
    match did_you_mean(key, names.iter().copied()) {
        Some(s) => msg.push_str(&format!(", did you mean \"{s}\"?")),
        None if names.is_empty() => msg.push_str(" (this function takes no fields)"),
        None => msg.push_str(&format!(" (fields: {})", names.join(", "))),
    }
    WxError::input(ep.path, key, msg)
}

/// The error for a required field that is not given.
pub fn missing_field(ep: &Endpoint, f: &Field) -> WxError {
    WxError::input(
        ep.path,
        f.name,
        format!("{}: missing required field \"{}\" ({})", ep.qualified(), f.name, f.ty.name()),
    )
}

/// One given field's value checked and encoded for the wire.
pub fn field_value(ep: &Endpoint, f: &Field, v: &Value) -> Result<Value, WxError> {
    // "" is how the documents leave an optional id unset; a required one needs a value.
    if let Value::String(s) = v
        && f.required
        && s.is_empty()
        && matches!(f.ty, Ty::IdStr | Ty::IdInt)
    {
        return Err(WxError::input(
            ep.path,
            f.name,
            format!("{}: field \"{}\" expects {}, got an empty string", ep.qualified(), f.name, f.ty.name()),
        ));
    }
    wire::encode(ep, f.name, f.ty, v)
}

/// Checks `args` against the declaration and encodes them for the wire; `now` tells the
/// server's time (Unix seconds) to the checks that depend on the date.
pub fn prepare(ep: &Endpoint, args: Map<String, Value>, now: &dyn Fn() -> i64) -> Result<Request, WxError> {
    let api = ep.path;
    if let Some(key) = args.keys().find(|k| ep.field(k).is_none()) {
        return Err(unknown_field(ep, key));
    }
    let mut body = Map::new();
    #[cfg(debug_assertions)]
    let mut sent = Map::new();
    let mut file = None;
    let mut query = Vec::new();
    for f in ep.fields {
        let v = match args.get(f.name) {
            None | Some(Value::Null) => {
                if f.required {
                    return Err(missing_field(ep, f));
                }
                continue;
            }
            Some(v) => v,
        };
        let encoded = field_value(ep, f, v)?;
        #[cfg(debug_assertions)]
        sent.insert(f.name.to_string(), encoded.clone());
        match (ep.body, f.ty) {
            (Body::Multipart { part }, Ty::File) => file = Some((part, encoded)),
            _ if wire::in_query(ep, f.name) => query.push((f.name.to_string(), wire::query_text(&encoded))),
            _ => {
                body.insert(f.name.to_string(), encoded);
            }
        }
    }
    // The simulator judges requests with `wire::check`: what the client sends must pass it.
    #[cfg(debug_assertions)]
    if let Err(e) = wire::check(ep, &sent) {
        panic!("{}: the encoding breaks the wire rule ({e:?})", ep.qualified());
    }
    if let Some(check) = ep.extra_check {
        check(ep, &args, now)?;
    }
    let payload = match ep.body {
        Body::None => Payload::None,
        Body::Json => Payload::Json(Value::Object(body)),
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
        policy: ep.policy,
        own_codes: ep.own_codes,
        answer: ep.unwrap,
        token: ep.token,
    })
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
    fn typo_suggestion() {
        assert_eq!(did_you_mean("contact_phone", ["contract_phone", "hour"]), Some("contract_phone"));
        assert_eq!(did_you_mean("zzz", ["contract_phone"]), None);
    }
}
