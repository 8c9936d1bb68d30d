//! Tab completion and signature hints, from the catalog of functions and the declarations:
//! modules (`sto` -> `store::`), functions (`store::ad` -> `store::add`), variables in scope
//! and the keys of maps reached from them (`poi.so`, `r.devices[0].ma`), and the request keys
//! of the function whose map is being typed (`store::add(#{ma` -> `map_poi_id`), and the
//! session's account names and appids in `account::use("` / `account::with("`. Pure functions
//! of the text before the cursor, so they are tested here.

use std::collections::BTreeSet;

use crate::api::{self, Field, Ty};
use crate::runtime::catalog::Catalog;

use super::pretty::truncate;

/// Keywords offered with names; everything else comes from the declarations and the engine.
const KEYWORDS: &[&str] = &[
    "let", "const", "fn", "if", "else", "for", "in", "while", "loop", "break", "continue", "return", "throw", "try",
    "catch", "import", "export", "as", "true", "false", "switch", "do", "until",
];

/// The names the REPL can complete, derived from the catalog the engine registers.
#[derive(Clone)]
pub struct Names {
    /// Where every function's call forms and doc come from.
    pub catalog: &'static Catalog,
    /// Module names (`store`, `merchant`, ...).
    pub modules: Vec<String>,
    /// Qualified function names (`store::add`).
    pub functions: Vec<String>,
    /// Functions called without a module (`sleep`, `print`, `parse_int`, ...).
    pub globals: Vec<String>,
    /// The session's accounts: names, then the appids not among them.
    pub accounts: Vec<String>,
}

impl Names {
    /// Every function the catalog registers, plus the engine's own global functions.
    pub fn new(catalog: &'static Catalog, engine_globals: impl IntoIterator<Item = String>) -> Names {
        let mut functions: BTreeSet<String> = BTreeSet::new();
        let mut globals: BTreeSet<String> = BTreeSet::new();
        for e in catalog.registered() {
            if e.module.is_empty() {
                globals.insert(e.name.clone());
            } else {
                functions.insert(e.name.clone());
            }
        }
        let modules: BTreeSet<String> =
            functions.iter().filter_map(|f| f.split_once("::").map(|p| p.0.to_string())).collect();
        globals.extend(engine_globals.into_iter().filter(|n| is_ident(n) && !n.contains('$')));
        Names {
            catalog,
            modules: modules.into_iter().collect(),
            functions: functions.into_iter().collect(),
            globals: globals.into_iter().collect(),
            accounts: Vec::new(),
        }
    }

    /// These names with the session's accounts, `(name, appid)` each.
    pub fn with_accounts(mut self, accounts: impl IntoIterator<Item = (String, Option<String>)>) -> Names {
        let (names, appids): (Vec<String>, Vec<Option<String>>) = accounts.into_iter().unzip();
        let mut all = names.clone();
        all.extend(appids.into_iter().flatten().filter(|a| !names.contains(a)));
        self.accounts = all;
        self
    }

    /// These names plus the session's own: the functions it defined, and for each module it
    /// imported, the alias and the names inside (`m` with `shout`, `GREETING`).
    pub fn with_session(
        &self,
        fns: impl IntoIterator<Item = String>,
        imports: impl IntoIterator<Item = (String, Vec<String>)>,
    ) -> Names {
        let mut n = self.clone();
        n.globals.extend(fns.into_iter().filter(|f| is_ident(f)));
        for (alias, inside) in imports {
            n.functions.extend(inside.iter().map(|i| format!("{alias}::{i}")));
            n.modules.push(alias);
        }
        for list in [&mut n.modules, &mut n.functions, &mut n.globals] {
            list.sort();
            list.dedup();
        }
        n
    }
}

impl Names {
    /// The call forms and return of a registered function, e.g. `store::get(poi_id) |
    /// store::get(map) -> ...`.
    pub fn signature(&self, name: &str) -> Option<String> {
        self.catalog.get(name).filter(|e| e.is_registered()).map(|e| e.signature_line())
    }
}

fn is_ident(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == ':'
}

/// One open bracket before the cursor.
#[derive(Debug, Clone, PartialEq)]
enum Frame {
    /// `(`, with the name of the function being called, if any.
    Paren(Option<String>),
    /// `#{`: where the current item starts, whether its `:` has been typed, the keys so far.
    Map {
        item: usize,
        colon: bool,
        keys: Vec<String>,
    },
    Brace,
    Bracket,
}

/// The brackets still open at the end of `pre`; `None` inside a string or comment.
fn open_frames(pre: &str) -> Option<Vec<Frame>> {
    let b = pre.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'`' | b'\'') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                if i >= b.len() {
                    return None;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => match pre[i..].find('\n') {
                Some(n) => i += n,
                None => return None,
            },
            b'/' if b.get(i + 1) == Some(&b'*') => match pre[i + 2..].find("*/") {
                Some(n) => i += n + 3,
                None => return None,
            },
            b'#' if b.get(i + 1) == Some(&b'{') => {
                stack.push(Frame::Map { item: i + 2, colon: false, keys: Vec::new() });
                i += 1;
            }
            b'{' => stack.push(Frame::Brace),
            b'[' => stack.push(Frame::Bracket),
            b'(' => {
                let before = pre[..i].trim_end();
                let start = before.rfind(|c: char| !is_word_char(c)).map(|p| p + 1).unwrap_or(0);
                let name = &before[start..];
                stack.push(Frame::Paren((!name.is_empty()).then(|| name.to_string())));
            }
            b')' | b'}' | b']' => {
                stack.pop();
            }
            b',' => {
                if let Some(Frame::Map { item, colon, .. }) = stack.last_mut() {
                    *item = i + 1;
                    *colon = false;
                }
            }
            b':' if b.get(i + 1) == Some(&b':') => i += 1,
            b':' => {
                if let Some(Frame::Map { item, colon, keys }) = stack.last_mut()
                    && !*colon
                {
                    keys.push(pre[*item..i].trim().trim_matches('"').to_string());
                    *colon = true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    Some(stack)
}

/// Where the cursor is typing a map key: the keys that map takes (a call's request map, or a
/// map nested in one), the keys already given, the partial key.
struct KeyContext<'a> {
    fields: Vec<&'static Field>,
    given: Vec<String>,
    prefix: &'a str,
}

/// The fields the innermost open map takes: the request map of a declared call, or a map
/// reached from it through keys (`device_identifier: #{`) and arrays (`device_identifiers: [#{`).
/// Empty when the map is not part of a request.
fn request_fields(frames: &[Frame]) -> Vec<&'static Field> {
    let call = frames.iter().enumerate().rev().find_map(|(i, f)| match f {
        Frame::Paren(Some(name)) => api::by_name(name).map(|ep| (i, ep)),
        _ => None,
    });
    let Some((call, ep)) = call else { return Vec::new() };
    let mut fields: Vec<&'static Field> = ep.fields.iter().collect();
    let mut i = call + 1;
    if !matches!(frames.get(i), Some(Frame::Map { .. })) {
        return Vec::new();
    }
    while i + 1 < frames.len() {
        let Frame::Map { colon: true, keys, .. } = &frames[i] else { return Vec::new() };
        let Some(field) = keys.last().and_then(|k| fields.iter().find(|f| f.name == k.as_str())) else {
            return Vec::new();
        };
        let mut ty = field.ty;
        i += 1;
        if matches!(frames[i], Frame::Bracket) {
            let Ty::List { item, .. } = ty else { return Vec::new() };
            ty = *item;
            i += 1;
        }
        if !matches!(frames.get(i), Some(Frame::Map { .. })) {
            return Vec::new();
        }
        fields = ty.map_fields().unwrap_or_default();
    }
    fields
}

fn key_context(pre: &str) -> Option<KeyContext<'_>> {
    let frames = open_frames(pre)?;
    let [.., Frame::Map { item, colon: false, keys }] = frames.as_slice() else {
        return None;
    };
    let prefix = pre[*item..].trim_start();
    if !prefix.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    Some(KeyContext { fields: request_fields(&frames), given: keys.clone(), prefix })
}

/// The word being typed at the end of `pre` (letters, digits, `_` and `::`) and where it starts.
fn current_word(pre: &str) -> (usize, &str) {
    let start = pre.rfind(|c: char| !is_word_char(c)).map(|p| p + pre[p..].chars().next().map_or(1, char::len_utf8));
    let start = start.unwrap_or(0);
    (start, &pre[start..])
}

/// A variable in scope, with the shape of its value, so that `s.bus` completes
/// `s.business_name` and `r.devices[0].ma` completes `major`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Var {
    pub name: String,
    pub shape: Shape,
}

/// What completion knows of a value: a map's keys with the shapes of their values, and the
/// shape of an array's first item (rows of one answer share their keys).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shape {
    pub keys: Vec<(String, Shape)>,
    pub item: Option<Box<Shape>>,
}

impl Shape {
    fn at(&self, path: &[Step<'_>]) -> Option<&Shape> {
        path.iter().try_fold(self, |s, step| match step {
            Step::Key(k) => s.keys.iter().find(|(name, _)| name == k).map(|(_, v)| v),
            Step::Index => s.item.as_deref(),
        })
    }
}

/// One step of a property path: `.key` or `[index]`.
#[derive(Debug, PartialEq)]
enum Step<'a> {
    Key(&'a str),
    Index,
}

/// The variable and the steps of the property path that ends `pre` (`r.devices[0]` ->
/// `r`, [devices, index]); `None` when it does not start at a plain variable.
fn property_path(mut pre: &str) -> Option<(&str, Vec<Step<'_>>)> {
    let mut steps = Vec::new();
    loop {
        if let Some(inner) = pre.strip_suffix(']') {
            let mut depth = 1;
            let open = inner.char_indices().rev().find_map(|(i, c)| {
                match c {
                    ']' => depth += 1,
                    '[' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(i)
            })?;
            steps.push(Step::Index);
            pre = &inner[..open];
            continue;
        }
        let (start, word) = current_word(pre);
        if word.is_empty() || word.contains("::") || word.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        match pre[..start].strip_suffix('.') {
            Some(rest) => {
                steps.push(Step::Key(word));
                pre = rest;
            }
            None => {
                steps.reverse();
                return Some((word, steps));
            }
        }
    }
}

/// Completion candidates for the text before the cursor: where the replaced word starts, and
/// the replacements, sorted.
pub fn complete(pre: &str, names: &Names, vars: &[Var]) -> (usize, Vec<String>) {
    if let Some(cmd) = pre.strip_prefix(':') {
        return complete_command(cmd, names);
    }
    if let Some(typed) = account_argument(pre) {
        let found = names.accounts.iter().filter(|a| a.starts_with(typed)).cloned().collect();
        return (pre.len() - typed.len(), found);
    }
    if let Some(k) = key_context(pre) {
        let start = pre.len() - k.prefix.len();
        let fields = k
            .fields
            .iter()
            .filter(|f| f.name.starts_with(k.prefix) && !k.given.iter().any(|g| g == f.name))
            .map(|f| f.name.to_string())
            .collect();
        return (start, fields);
    }
    if open_frames(pre).is_none() {
        return (pre.len(), Vec::new());
    }
    let (start, word) = current_word(pre);
    if let Some(before) = pre[..start].strip_suffix('.') {
        // A property of a map (a variable's, or one reached from it by keys and indexes), else
        // a method.
        let shape = property_path(before)
            .and_then(|(base, path)| vars.iter().find(|v| v.name == base).and_then(|v| v.shape.at(&path)));
        let keys: Vec<&str> = shape.map(|s| s.keys.iter().map(|(k, _)| k.as_str()).collect()).unwrap_or_default();
        let mut out: Vec<String> = keys.iter().filter(|k| k.starts_with(word)).map(|k| k.to_string()).collect();
        // Methods only when no key fits: `r.ma` is far more often `r.major` than `r.map(..)`.
        if out.is_empty() && !word.is_empty() {
            out.extend(names.globals.iter().filter(|g| g.starts_with(word)).cloned());
        }
        return (start, out);
    }
    if word.is_empty() || word.starts_with(|c: char| c.is_ascii_digit()) {
        return (start, Vec::new());
    }
    let mut out: BTreeSet<String> = BTreeSet::new();
    if word.contains("::") {
        out.extend(names.functions.iter().filter(|f| f.starts_with(word)).cloned());
    } else {
        out.extend(names.modules.iter().filter(|m| m.starts_with(word)).map(|m| format!("{m}::")));
        out.extend(names.globals.iter().filter(|g| g.starts_with(word)).cloned());
        out.extend(vars.iter().filter(|v| v.name.starts_with(word)).map(|v| v.name.clone()));
        out.extend(KEYWORDS.iter().filter(|k| k.starts_with(word)).map(|k| k.to_string()));
    }
    (start, out.into_iter().collect())
}

/// The part of an account's name typed so far when the cursor is in the first argument of
/// `account::use("` or `account::with("`.
fn account_argument(pre: &str) -> Option<&str> {
    let (before, typed) = pre.rsplit_once('"')?;
    if typed.contains('\\') {
        return None;
    }
    let call = before.trim_end().strip_suffix('(')?.trim_end();
    ["account::use", "account::with"]
        .iter()
        .any(|f| call.strip_suffix(f).is_some_and(|rest| !rest.ends_with(|c: char| is_ident_char(c) || c == ':')))
        .then_some(typed)
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn complete_command(cmd: &str, names: &Names) -> (usize, Vec<String>) {
    match cmd.split_once(' ') {
        None => {
            let found = super::commands::COMMANDS.iter().filter(|c| c.name.starts_with(cmd));
            (0, found.map(|c| format!(":{}", c.name)).collect())
        }
        Some((name, arg)) => {
            let start = 1 + name.len() + 1 + (arg.len() - arg.trim_start().len());
            let arg = arg.trim_start();
            let list: Vec<String> = match name {
                "help" | "h" => names
                    .functions
                    .iter()
                    .chain(&names.modules)
                    .filter(|f| f.starts_with(arg))
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                "fns" => names.modules.iter().filter(|m| m.starts_with(arg)).cloned().collect(),
                _ => Vec::new(),
            };
            (start, list)
        }
    }
}

fn field_line(f: &Field) -> String {
    let limits = f.ty.limits();
    let mut s = format!("{}: {}, {}", f.name, f.ty.name(), if f.required { "required" } else { "optional" });
    if !limits.is_empty() {
        s.push_str(&format!(", {limits}"));
    }
    format!("{s} — {}", f.doc)
}

/// The grey text shown after the cursor: while typing a request key, the key's type and
/// limits (or the required keys still missing); inside a call, the function's signature.
pub fn hint(pre: &str, names: &Names, max_width: usize) -> Option<String> {
    let text = hint_text(pre, names)?;
    Some(truncate(&format!("  {text}"), max_width.max(10)))
}

fn hint_text(pre: &str, names: &Names) -> Option<String> {
    if pre.starts_with(':') {
        return None;
    }
    if let Some(k) = key_context(pre)
        && !k.fields.is_empty()
    {
        let fields = &k.fields;
        if !k.prefix.is_empty() {
            let matching: Vec<&Field> = fields.iter().copied().filter(|f| f.name.starts_with(k.prefix)).collect();
            if let [one] = matching.as_slice() {
                return Some(field_line(one));
            }
            return None;
        }
        let missing: Vec<&str> =
            fields.iter().filter(|f| f.required && !k.given.iter().any(|g| g == f.name)).map(|f| f.name).collect();
        if !missing.is_empty() {
            return Some(format!("required: {}", missing.join(", ")));
        }
        let optional: Vec<&str> =
            fields.iter().filter(|f| !k.given.iter().any(|g| g == f.name)).map(|f| f.name).collect();
        return (!optional.is_empty()).then(|| format!("optional: {}", optional.join(", ")));
    }
    let frames = open_frames(pre)?;
    let (_, word) = current_word(pre);
    if let Some(sig) = names.signature(word) {
        return Some(sig);
    }
    frames.iter().rev().find_map(|f| match f {
        Frame::Paren(Some(name)) => names.signature(name),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A map of keys whose values are plain.
    fn plain_keys(keys: impl IntoIterator<Item = &'static str>) -> Shape {
        Shape { keys: keys.into_iter().map(|k| (k.to_string(), Shape::default())).collect(), item: None }
    }

    fn names() -> Names {
        let globals = ["print".to_string(), "parse_int".to_string(), "get$len".to_string(), "+".to_string()];
        Names::new(crate::session::catalog(), globals)
    }

    fn cands(pre: &str) -> Vec<String> {
        let poi = Var { name: "poi".into(), shape: plain_keys(["sosomap_poi_uid", "name"]) };
        let device = plain_keys(["device_id", "major", "minor"]);
        let found =
            Shape { keys: vec![("devices".into(), Shape { keys: vec![], item: Some(Box::new(device)) })], item: None };
        let rows = Var { name: "rows".into(), shape: Shape { keys: vec![], item: Some(Box::new(found.clone())) } };
        let r = Var { name: "r".into(), shape: found };
        complete(pre, &names(), &[Var { name: "stores".into(), shape: Shape::default() }, poi, r, rows]).1
    }

    #[test]
    fn account_names_complete_in_the_first_argument_of_use_and_with() {
        let n = names().with_accounts([
            ("default".to_string(), Some("wxsandbox".to_string())),
            ("shop-a".to_string(), Some("wx1111".to_string())),
            ("wxsandboxauth1".to_string(), Some("wxsandboxauth1".to_string())),
        ]);
        let at = |pre: &str| complete(pre, &n, &[]);
        assert_eq!(at("account::use(\"sh"), (14, vec!["shop-a".to_string()]));
        assert_eq!(at("account::with( \"wx").1, ["wxsandboxauth1", "wxsandbox", "wx1111"]);
        assert_eq!(at("let r = account::with(\"").1.len(), 5, "every name and appid once");
        assert!(at("myaccount::use(\"sh").1.is_empty(), "another module's function");
        assert!(at("print(\"sh").1.is_empty(), "not another function's string");
        assert!(at("account::use(\"shop-a\", \"sh").1.is_empty(), "only the first argument");
    }

    #[test]
    fn names_come_from_the_declarations() {
        let n = names();
        assert!(n.modules.contains(&"store".to_string()) && n.modules.contains(&"merchant".to_string()));
        assert!(n.functions.contains(&"store::add".to_string()) && n.functions.contains(&"store::all".to_string()));
        assert!(n.globals.contains(&"sleep".to_string()) && n.globals.contains(&"print".to_string()));
        assert!(!n.globals.iter().any(|g| g.contains('$') || g == "+"));
    }

    #[test]
    fn names_are_the_catalogs_registered_functions() {
        let n = names();
        let catalog = crate::session::catalog();
        let mut registered = catalog.registered_names();
        registered.sort();
        let mut listed: Vec<String> =
            n.functions.iter().chain(n.globals.iter().filter(|g| catalog.get(g).is_some())).cloned().collect();
        listed.sort();
        assert_eq!(listed, registered);
        assert!(catalog.stdlib().all(|e| !n.functions.contains(&e.name)), "stdlib functions need an import");
        assert_eq!(
            n.signature("csv::read").as_deref(),
            catalog.get("csv::read").map(|e| e.signature_line()).as_deref()
        );
    }

    #[test]
    fn the_sessions_functions_and_imports() {
        let n = names().with_session(["twice".to_string()], [("m".to_string(), vec!["shout".to_string()])]);
        assert_eq!(complete("tw", &n, &[]).1, vec!["twice"]);
        assert_eq!(complete("m::s", &n, &[]).1, vec!["m::shout"]);
        assert!(complete("m", &n, &[]).1.contains(&"m::".to_string()));
    }

    #[test]
    fn modules_functions_and_variables() {
        assert_eq!(complete("let x = sto", &names(), &[]), (8, vec!["store::".to_string()]));
        assert_eq!(cands("store::ad"), vec!["store::add"]);
        assert_eq!(cands("store::a"), vec!["store::add", "store::all"]);
        assert_eq!(cands("print(sto"), vec!["store::", "stores"]);
        assert_eq!(cands("po"), vec!["poi", "poi::"]);
        assert_eq!(cands("x.pars"), vec!["parse_int"]);
        assert_eq!(cands("store::get(poi.so"), vec!["sosomap_poi_uid"]);
        assert_eq!(cands("poi."), vec!["sosomap_poi_uid", "name"]);
        assert!(cands("stores.").is_empty());
        // Through keys and indexes, whatever the index expression.
        assert_eq!(cands("r.devices[0].ma"), vec!["major"]);
        assert_eq!(cands("print(rows[i + 1].devices[a[2]].m"), vec!["major", "minor"]);
        assert_eq!(cands("r."), vec!["devices"]);
        assert!(cands("r.devices.ma").is_empty(), "an array has no keys");
        assert!(cands("r.nosuch[0].").is_empty());
        assert!(cands("f()[0].").is_empty(), "not a variable");
        assert!(cands("").is_empty());
        assert!(cands("let s = \"sto").is_empty(), "nothing inside a string");
        assert!(cands("// sto").is_empty(), "nothing inside a comment");
    }

    #[test]
    fn request_keys_of_the_map_being_typed() {
        let (start, c) = complete("store::add(#{ma", &names(), &[]);
        assert_eq!((start, c), (13, vec!["map_poi_id".to_string()]));
        assert_eq!(cands("store::add(#{map_poi_id: poi.x, pi"), vec!["pic_list"]);
        assert_eq!(cands("let r = store::update(#{\n    poi_id: 1,\n    c"), vec!["contract_phone", "card_id"]);
        let given = cands("store::add(#{map_poi_id: 1, ");
        assert!(!given.contains(&"map_poi_id".to_string()) && given.contains(&"hour".to_string()), "{given:?}");
        // In a value, names are completed instead.
        assert_eq!(cands("store::add(#{map_poi_id: po"), vec!["poi", "poi::"]);
        // A nested map or a map that is not an argument has no request keys.
        assert!(cands("#{ma").is_empty());
        assert!(cands("store::add(#{a: #{ma").is_empty());
        // Maps nested in a request, through keys and arrays.
        assert_eq!(cands("shake::bind_pages(#{device_identifier: #{maj"), vec!["major"]);
        assert_eq!(cands("shake::search_devices(#{type: 1, device_identifiers: [#{uu"), vec!["uuid"]);
        assert_eq!(
            cands("shake::search_devices(#{type: 1, device_identifiers: [#{device_id: 1}, #{"),
            vec!["device_id", "uuid", "major", "minor"]
        );
        assert!(cands("shake::bind_pages(#{comment: #{ma").is_empty(), "not a map field");
    }

    #[test]
    fn commands_and_their_arguments() {
        assert_eq!(cands(":he"), vec![":help"]);
        assert_eq!(complete(":help store::ad", &names(), &[]), (6, vec!["store::add".to_string()]));
        assert_eq!(cands(":fns me"), vec!["media", "merchant"]);
    }

    #[test]
    fn hints_show_signatures_and_keys() {
        let h = hint_of("store::get(", 200).unwrap_or_default();
        assert!(h.contains("store::get(poi_id) | store::get(map) -> "), "{h}");
        assert!(hint_of("store::list", 200).unwrap_or_default().contains("store::list(offset, limit)"));
        let h = hint_of("store::add(#{", 200).unwrap_or_default();
        assert!(h.contains("required: map_poi_id, pic_list, contract_phone, hour, credential"), "{h}");
        let h = hint_of("store::add(#{ho", 200).unwrap_or_default();
        assert!(h.contains("hour: string HH:MM-HH:MM, required"), "{h}");
        assert!(hint_of("store::add(#{map_poi_id: f(1, ", 200).is_some_and(|h| h.contains("store::add(map)")));
        assert!(hint_of("1 + 2", 200).is_none());
        assert!(hint_of("store::get(", 20).is_some_and(|h| pretty_width(&h) <= 20));
    }

    fn hint_of(pre: &str, width: usize) -> Option<String> {
        hint(pre, &names(), width)
    }

    fn pretty_width(s: &str) -> usize {
        super::super::pretty::width(s)
    }
}
