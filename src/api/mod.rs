//! Endpoint declarations: every WeChat operation wxscript knows, declared once as data.
//!
//! A declaration names the script function (`module::name`), the HTTP method and path, the
//! request fields with their types and documented limits, how the answer is unwrapped, and the
//! doc text and example. Everything else is derived from it: the rhai functions
//! (`runtime::register`), request checks and wire encoding (`check`), `wxscript docs`, and the
//! simulator's routing (`sandbox`). Families live one per file.

mod account;
pub mod check;
pub mod errors;
mod map;
pub mod media;
mod merchant;
pub mod platform;
mod poi;
pub mod shake;
mod store;
pub mod wire;

pub use account::CLEAR_QUOTA_PATH;
pub use errors::{ErrorKind, WxError};

/// HTTP method of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// How a request travels on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body (GET with only the token in the query).
    None,
    /// The checked fields as one JSON object.
    Json,
    /// A multipart upload: the field of type [`Ty::File`] becomes the part `part`, every other
    /// field goes into the query string.
    Multipart { part: &'static str },
}

/// The type of a request field, with its documented limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ty {
    /// A string whose length lies in `min..=max` (`max` 0: unlimited). With `cjk2`, a CJK
    /// character counts as 2, as WeChat counts names.
    Str { min: usize, max: usize, cjk2: bool },
    /// An integer in `min..=max`.
    Int { min: i64, max: i64 },
    /// An id given as int or digit string, sent as a string.
    IdStr,
    /// An id given as int or digit string, sent as an int.
    IdInt,
    /// A decimal number (coordinates) given as float, int or numeric string, sent as a string.
    Decimal,
    /// Opening hours `HH:MM-HH:MM`.
    Hour,
    /// Picture URLs: an array of strings sent as the JSON string `{"list":[...]}`; an already
    /// encoded string is checked and sent as it is.
    PicList,
    /// Up to `max` media ids: an array sent joined by `|`, or an already joined string.
    MediaIds { max: usize },
    /// One of the listed strings.
    OneOf(&'static [&'static str]),
    /// A local file to upload (path relative to the working directory).
    File,
    /// An http(s) URL.
    Url,
    /// A date: Unix seconds (int), or `"YYYY-MM-DD"` taken as midnight China Standard Time
    /// (UTC+8) whatever the machine's zone; with `time`, also `"YYYY-MM-DD HH:MM:SS"` (UTC+8).
    /// Sent as an int.
    Date { time: bool },
    /// A shake-around `device_identifier`: `#{device_id}` or `#{uuid, major, minor}`.
    Device,
    /// An array of `item`s, `min..=max` long (`max` 0: unlimited).
    List { item: &'static Ty, min: usize, max: usize },
    /// A map with exactly these fields (nested errors name `field.key`).
    Object(&'static [Field]),
}

impl Ty {
    /// The keys of a map of this type (a `device_identifier`'s two forms together), for
    /// completion; `None` when it is not a map.
    pub fn map_fields(&self) -> Option<Vec<&'static Field>> {
        match self {
            Ty::Object(fields) => Some(fields.iter().collect()),
            Ty::Device => Some(wire::DEVICE_KEYS.iter().collect()),
            _ => None,
        }
    }

    /// For a `Str`: its length as WeChat counts it (CJK as 2 where the type says so), and
    /// whether that is within the limits. Client checks and the simulator both ask this.
    pub fn measure(&self, s: &str) -> Option<(usize, bool)> {
        let Ty::Str { min, max, cjk2 } = *self else { return None };
        let len = if cjk2 { check::cjk_width(s) } else { s.chars().count() };
        Some((len, len >= min && (max == 0 || len <= max)))
    }

    /// Short type name for docs and error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Ty::Str { .. } => "string",
            Ty::Int { .. } => "int",
            Ty::IdStr | Ty::IdInt => "id (int or string)",
            Ty::Decimal => "number",
            Ty::Hour => "string HH:MM-HH:MM",
            Ty::PicList => "array of URLs",
            Ty::MediaIds { .. } => "array of media ids",
            Ty::OneOf(_) => "string",
            Ty::File => "file path",
            Ty::Url => "URL",
            Ty::Date { .. } => "date",
            Ty::Device => "device_identifier map",
            Ty::List { item: Ty::Device, .. } => "array of device_identifier maps",
            Ty::List { item: Ty::Url, .. } => "array of URLs",
            Ty::List { item: Ty::Object(_), .. } => "array of maps",
            Ty::List { .. } => "array",
            Ty::Object(_) => "map",
        }
    }

    /// Human-readable limits, empty when there are none.
    pub fn limits(&self) -> String {
        match *self {
            Ty::Str { min, max, cjk2 } => {
                let unit = if cjk2 { " chars (CJK counts 2)" } else { " chars" };
                match (min, max) {
                    (0, 0) => String::new(),
                    (0, m) if cjk2 => format!("at most {} CJK / {m} Latin chars", m / 2),
                    (0, m) => format!("at most {m}{unit}"),
                    (n, 0) => format!("at least {n}{unit}"),
                    (n, m) if cjk2 => format!("{n}-{m}{unit}: at most {} CJK / {m} Latin", m / 2),
                    (n, m) => format!("{n}-{m}{unit}"),
                }
            }
            Ty::Int { min, max } => match (min, max) {
                (i64::MIN, i64::MAX) => String::new(),
                (n, i64::MAX) => format!(">= {n}"),
                (n, m) => format!("{n}..={m}"),
            },
            // The type names the form and each field's doc gives an example.
            Ty::Hour => String::new(),
            Ty::PicList => "sent as the string {\"list\":[...]}".into(),
            Ty::MediaIds { max } => format!("0-{max} ids, sent joined by |"),
            Ty::OneOf(v) => format!("one of {}", v.join(", ")),
            Ty::IdStr => "sent as a string".into(),
            Ty::IdInt => "sent as an int".into(),
            Ty::Decimal => "sent as a string".into(),
            Ty::File => "checked locally before upload".into(),
            Ty::Url => "http:// or https://".into(),
            Ty::Date { time: false } => "Unix seconds, or \"YYYY-MM-DD\" (midnight UTC+8); sent as an int".into(),
            Ty::Date { time: true } => {
                "Unix seconds, \"YYYY-MM-DD\" or \"YYYY-MM-DD HH:MM:SS\" (UTC+8); sent as an int".into()
            }
            Ty::Device => "#{device_id} or #{uuid, major, minor}".into(),
            Ty::List { item, min, max } => {
                let count = match (min, max) {
                    (0, 0) => String::new(),
                    (n, 0) => format!("at least {n} items"),
                    (0, m) => format!("at most {m} items"),
                    (n, m) => format!("{n}-{m} items"),
                };
                let each = item.limits();
                match (count.is_empty(), each.is_empty()) {
                    (true, _) => each,
                    (false, true) => count,
                    (false, false) => format!("{count}; each {each}"),
                }
            }
            Ty::Object(fields) => {
                format!("keys {}", fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", "))
            }
        }
    }
}

/// One request field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
    pub doc: &'static str,
    /// The errcode WeChat answers when this field breaks its type's limits, where the documents
    /// give it one of its own (a device remark over its width: 9001034); 0 means the generic
    /// 40097. The wire check answers it, so client and simulator agree on it.
    pub code: i64,
}

impl Field {
    /// The same field, answered with `code` when it breaks its limits.
    pub const fn answers(self, code: i64) -> Field {
        Field { code, ..self }
    }

    /// The errcode for a value of this field that breaks its limits.
    pub fn errcode(&self) -> i64 {
        if self.code == 0 { wire::INVALID_ARGS } else { self.code }
    }
}

/// Shorthand constructors, so declarations read as tables.
pub const fn req(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field { name, ty, required: true, doc, code: 0 }
}
pub const fn opt(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field { name, ty, required: false, doc, code: 0 }
}
pub const fn text(max: usize) -> Ty {
    Ty::Str { min: 0, max, cjk2: false }
}
pub const STR: Ty = Ty::Str { min: 0, max: 0, cjk2: false };
pub const NONEMPTY: Ty = Ty::Str { min: 1, max: 0, cjk2: false };
pub const INT: Ty = Ty::Int { min: i64::MIN, max: i64::MAX };

/// How the payload is taken out of WeChat's answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unwrap {
    /// Nothing is returned: `()`.
    Nothing,
    /// The answer's `data` object.
    Data,
    /// A path below `data`.
    DataPath(&'static [&'static str]),
    /// One top-level field; `()` when absent.
    Top(&'static str),
    /// Every top-level field except `errcode`/`errmsg`.
    Fields,
    /// `business.base_info`.
    BaseInfo,
    /// `#{total_count, business_list}` with each element's `base_info` lifted.
    BusinessList,
    /// Tencent map style `{status, message, result}`: non-zero `status` is an error; returns `result`.
    TencentResult,
    /// `{error, data}`: a non-null `error` is an error; returns `data`.
    ErrorData,
    /// Every top-level field except `errcode`/`errmsg`, with the fields of the `data` object
    /// merged in (shake-around statistics lists put `date`, `total_count`, `page_index` at the
    /// top and `devices`/`pages` under `data`).
    MergeData,
}

impl Unwrap {
    /// The message of a failed answer (non-zero errcode): `errmsg`, or `error` in the
    /// `{error, data}` shape.
    pub fn errmsg(self, answer: &serde_json::Value) -> &str {
        let key = if self == Unwrap::ErrorData { "error" } else { "errmsg" };
        answer.get(key).and_then(serde_json::Value::as_str).unwrap_or("")
    }
}

/// What a call does to the account, which decides whether a dry run sends it and what the
/// transport may do when its outcome is unknown (sent, but no answer came back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Changes nothing: a dry run sends it, and it may be sent again.
    Read,
    /// Changes state the same way however often it is sent: a dry run shows it instead.
    Write,
    /// Creates something: sent again it would create a second one, so an unknown outcome is
    /// reported, never re-sent; `verify` names the read that tells whether it took effect.
    Create { verify: &'static str },
}

impl Policy {
    /// Changes state on the server (a dry run does not send it).
    pub fn mutates(self) -> bool {
        self != Policy::Read
    }

    /// An unknown outcome must not be re-sent.
    pub fn creates(self) -> bool {
        matches!(self, Policy::Create { .. })
    }

    /// For a create whose answer never came (timed out after sending, or interrupted): that its
    /// effect is unknown, and the read that tells. `None` for calls safe to send again.
    pub fn unknown_outcome(self) -> Option<String> {
        let Policy::Create { verify } = self else { return None };
        let verify = if verify.is_empty() { "a read of the same data" } else { verify };
        Some(format!("whether it took effect is unknown; it was not re-sent to avoid a duplicate: check with {verify}"))
    }
}

/// Which token a call carries in its query, and so which token the simulator checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `access_token`: an own account's token or an authorizer's.
    Access,
    /// `component_access_token`: the third-party platform's own token.
    Component,
    /// None: the call is how a token is obtained.
    None,
}

impl TokenKind {
    /// The query parameter the token travels in (empty for [`TokenKind::None`]).
    pub fn param(self) -> &'static str {
        match self {
            TokenKind::Access => "access_token",
            TokenKind::Component => "component_access_token",
            TokenKind::None => "",
        }
    }
}

/// A local check beyond field types, given the script's argument map and the server's clock
/// (Unix seconds: WeChat's, or a simulator's whose clock was moved), asked only by the checks
/// that depend on the date.
pub type ExtraCheck =
    fn(&Endpoint, &serde_json::Map<String, serde_json::Value>, &dyn Fn() -> i64) -> Result<(), WxError>;

/// One declared endpoint: the single source of truth for a script function.
#[derive(Debug)]
pub struct Endpoint {
    pub module: &'static str,
    pub name: &'static str,
    pub method: Method,
    pub path: &'static str,
    /// Positional parameter names (each a field). A function with fields also takes one map.
    pub params: &'static [&'static str],
    pub fields: &'static [Field],
    /// Fields sent in the query string although the body is JSON (`lottery/addlotteryinfo`).
    pub query: &'static [&'static str],
    pub body: Body,
    /// The token the call carries in its query.
    pub token: TokenKind,
    pub unwrap: Unwrap,
    /// What the call does to the account: whether a dry run sends it and what an unknown
    /// outcome allows.
    pub policy: Policy,
    pub doc: &'static str,
    pub returns: &'static str,
    /// Error codes the documents list for this endpoint.
    pub errors: &'static [i64],
    /// A runnable example against the sandbox.
    pub example: &'static str,
    /// Extra local checks beyond the field types (e.g. upload size by media type).
    pub extra_check: Option<ExtraCheck>,
    /// A successful answer in WeChat's shape: the placeholder a dry run returns, unwrapped.
    pub sample: &'static str,
    /// Codes this endpoint documents with a meaning of its own (`del_store`'s -1 is "delete
    /// failed", not "system busy"): their hint, and they are never retried.
    pub own_codes: &'static [(i64, &'static str)],
}

impl Endpoint {
    /// The hint for `code` as this endpoint means it.
    pub fn hint(&self, code: i64) -> Option<String> {
        match self.own_codes.iter().find(|(c, _)| *c == code) {
            Some((_, h)) => Some((*h).to_string()),
            None => errors::hint(code),
        }
    }

    /// `module::name`.
    pub fn qualified(&self) -> String {
        format!("{}::{}", self.module, self.name)
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The call forms a script can use, e.g. `store::get(poi_id)` and `store::get(map)`.
    pub fn signatures(&self) -> Vec<String> {
        let q = self.qualified();
        let mut out = Vec::new();
        if !self.params.is_empty() {
            out.push(format!("{q}({})", self.params.join(", ")));
        }
        if self.fields.is_empty() {
            out.push(format!("{q}()"));
        } else {
            out.push(format!("{q}(map)"));
        }
        out
    }
}

/// A declaration default, so each endpoint states only what differs.
pub const BASE: Endpoint = Endpoint {
    module: "",
    name: "",
    method: Method::Post,
    path: "",
    params: &[],
    fields: &[],
    query: &[],
    body: Body::Json,
    token: TokenKind::Access,
    unwrap: Unwrap::Nothing,
    policy: Policy::Read,
    doc: "",
    returns: "()",
    errors: &[],
    example: "",
    extra_check: None,
    sample: r#"{"errcode":0,"errmsg":"ok"}"#,
    own_codes: &[],
};

/// Every declared endpoint, in documentation order.
pub fn endpoints() -> impl Iterator<Item = &'static Endpoint> {
    merchant::ENDPOINTS
        .iter()
        .chain(map::ENDPOINTS)
        .chain(store::ENDPOINTS)
        .chain(poi::ENDPOINTS)
        .chain(media::ENDPOINTS)
        .chain(shake::ENDPOINTS)
        .chain(account::ENDPOINTS)
}

/// Every declared endpoint with the third-party platform's component calls, which are not
/// script functions of their own (the `platform::` helpers use them): what the simulator routes.
pub fn all_declared() -> impl Iterator<Item = &'static Endpoint> {
    endpoints().chain(platform::ENDPOINTS)
}

/// The declaration behind a qualified name, a script function's or a component call's
/// (`platform::query_auth`; [`by_name`] knows script functions only).
pub fn declared(qualified: &str) -> Option<&'static Endpoint> {
    let (m, n) = qualified.split_once("::")?;
    all_declared().find(|e| e.module == m && e.name == n)
}

/// The endpoint declared at an API path (without leading slash).
pub fn by_path(path: &str) -> Option<&'static Endpoint> {
    endpoints().find(|e| e.path == path)
}

/// The endpoint behind a script function name (`store::add`).
pub fn by_name(qualified: &str) -> Option<&'static Endpoint> {
    let (m, n) = qualified.split_once("::")?;
    endpoints().find(|e| e.module == m && e.name == n)
}

/// The token endpoint: not a script function, but the transport and simulator share its path.
pub const TOKEN_PATH: &str = "cgi-bin/token";

/// The stable token endpoint (`POST {grant_type, appid, secret, force_refresh}`): a token family
/// of its own that every caller of one account shares; like [`TOKEN_PATH`], not a script
/// function.
pub const STABLE_TOKEN_PATH: &str = "cgi-bin/stable_token";

#[cfg(test)]
mod tests {
    use super::*;

    /// The limits column is rendered from the type: a field's doc that states its own limit
    /// again would go stale the day the limit changes.
    #[test]
    fn field_docs_do_not_restate_their_limits() {
        fn numbers(ty: &Ty) -> Vec<String> {
            let n = |x: usize| (x > 1).then(|| x.to_string());
            match *ty {
                Ty::Str { max, cjk2, .. } => {
                    let mut v: Vec<String> = n(max).into_iter().collect();
                    if cjk2 {
                        v.extend(n(max / 2));
                    }
                    v
                }
                // Small ranges are enumerations (`type` 1-3), whose doc names each value.
                Ty::Int { max, .. } if max != i64::MAX && max >= 10 => vec![max.to_string()],
                Ty::MediaIds { max } => n(max).into_iter().collect(),
                Ty::List { max, .. } => n(max).into_iter().collect(),
                _ => Vec::new(),
            }
        }
        let mut stale = Vec::new();
        for ep in all_declared() {
            for f in ep.fields {
                let words: Vec<&str> = f.doc.split(|c: char| !c.is_ascii_digit()).collect();
                for num in numbers(&f.ty) {
                    if words.contains(&num.as_str()) {
                        stale.push(format!("{}: the doc of {} restates {num}: {:?}", ep.qualified(), f.name, f.doc));
                    }
                }
            }
        }
        assert!(stale.is_empty(), "{}", stale.join("\n"));
    }
}
