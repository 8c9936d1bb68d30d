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
            Some(v) => v,
        };
        let encoded = encode(ep, f.name, f.ty, v)?;
        match (ep.body, f.ty) {
            (Body::Multipart { part }, Ty::File) => file = Some((part, encoded)),
            (Body::Multipart { .. }, _) | (Body::None, _) => {
                let s = match &encoded {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                query.push((f.name.to_string(), s));
            }
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
    Ok(Request { api: api.to_string(), method: ep.method, query, payload, creates: ep.creates, mutates: ep.mutates })
}

fn bad(ep: &Endpoint, field: &str, expected: impl std::fmt::Display, v: &Value) -> WxError {
    let mut msg = format!("{}: field \"{field}\" expects {expected}, got {} {}", ep.qualified(), type_name(v), show(v));
    if matches!(v, Value::String(_)) && expected.to_string().contains("int") {
        msg.push_str(" (values read from CSV are strings: convert with parse_int)");
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
        Ty::Str { min, max, cjk2 } => {
            let s = v.as_str().ok_or_else(|| bad(ep, name, "a string", v))?;
            let len = if cjk2 { cjk_width(s) } else { s.chars().count() };
            if len < min || (max > 0 && len > max) {
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
        Ty::Decimal => {
            let f = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            }
            .filter(|f| f.is_finite())
            .ok_or_else(|| bad(ep, name, "a number", v))?;
            Ok(match v {
                Value::String(s) => Value::String(s.trim().to_string()),
                _ => Value::String(f.to_string()),
            })
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
    fn typo_suggestion() {
        assert_eq!(did_you_mean("contact_phone", ["contract_phone", "hour"]), Some("contract_phone"));
        assert_eq!(did_you_mean("zzz", ["contract_phone"]), None);
    }
}
