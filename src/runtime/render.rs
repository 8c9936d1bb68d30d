//! Rendering of uncaught errors the way people read them: a headline, `--> file:line:col`,
//! the source line with a caret, then the API, errcode and hint; in colour on a terminal.
//!
//! The caret goes where the fault is: a field error on the key or value of a map written in
//! the call (the source is parsed again to find it), a rethrown error at the call it arose
//! from (with the `throw` in a note).

use rhai::{ASTNode, EvalAltResult, Expr, Map, ParseError, Position};

use crate::api::check::did_you_mean;
use crate::api::{self, Ty};
use crate::runtime::catalog::Catalog;
use crate::runtime::{error_from_map, place_of};

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
    }
}

/// Whether stderr should get colour: a terminal, and `NO_COLOR` unset.
pub fn stderr_color() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Strips rhai's own " (line N, position M)" suffix; we show the place ourselves.
pub fn strip_position(s: &str) -> String {
    match s.rfind(" (line ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s.to_string(),
    }
}

/// Descends through function-call wrappers defined in the same file, where the inner
/// position is the more precise one.
fn innermost(err: &EvalAltResult) -> (&EvalAltResult, Position) {
    let mut cur = err;
    let mut pos = err.position();
    loop {
        match cur {
            EvalAltResult::ErrorInFunctionCall(_, src, inner, p) if src.is_empty() => {
                if !inner.position().is_none() {
                    pos = inner.position();
                } else {
                    pos = *p;
                }
                cur = inner;
            }
            EvalAltResult::ErrorInFunctionCall(_, _, inner, p) | EvalAltResult::ErrorInModule(_, inner, p) => {
                pos = *p;
                cur = inner;
                // The inner position is in another file: keep the caller's.
                while let EvalAltResult::ErrorInFunctionCall(_, _, i, _) | EvalAltResult::ErrorInModule(_, i, _) = cur {
                    cur = i;
                }
                return (cur, pos);
            }
            _ => return (cur, if cur.position().is_none() { pos } else { cur.position() }),
        }
    }
}

/// Where inside an imported module the error arose (the module's name and the innermost known
/// position in it); the caret itself stays on the importing line of the file shown.
fn module_note(err: &EvalAltResult) -> Option<String> {
    let mut cur = err;
    let mut module = None;
    let mut pos = Position::NONE;
    loop {
        match cur {
            EvalAltResult::ErrorInModule(name, inner, _) => {
                module = Some(name.clone());
                pos = Position::NONE;
                cur = inner;
            }
            EvalAltResult::ErrorInFunctionCall(_, src, inner, _) => {
                if !src.is_empty() {
                    module = Some(src.clone());
                    pos = Position::NONE;
                }
                cur = inner;
            }
            _ => break,
        }
        if module.is_some() && !cur.position().is_none() {
            pos = cur.position();
        }
    }
    let module = module?;
    Some(match (pos.line(), pos.position()) {
        (Some(l), Some(c)) => format!("{module}, line {l}, column {c}"),
        (Some(l), None) => format!("{module}, line {l}"),
        _ => module,
    })
}

/// Renders a run-time error of `file`; a call of an unknown function is matched against the
/// catalog's names for a did-you-mean.
pub fn render_eval(err: &EvalAltResult, file: &str, source: &str, color: bool, catalog: &Catalog) -> String {
    let st = Style { color };
    let (inner, mut pos) = innermost(err);
    let mut notes: Vec<(String, String)> = Vec::new();
    let module = module_note(err);
    if let EvalAltResult::ErrorRuntime(v, _) = inner
        && v.is_map()
        && module.is_none()
    {
        let m = v.clone().cast::<Map>();
        let calls = Calls::parse(source);
        // A map caught and thrown again (`catch (e) { ...; throw e; }`) still knows where it
        // arose: show that, and where it was thrown again.
        if let Some(origin) = place_of(&m)
            && origin != pos
            && (calls.at(origin).is_some() || (is_script_kind(&m) && !m.contains_key("source")))
        {
            if let (Some(l), Some(c)) = (pos.line(), pos.position()) {
                notes.push(("rethrown at".into(), format!("{file}:{l}:{c}")));
            }
            pos = origin;
        }
        if let Some(e) = error_from_map(&m)
            && let Some(field) = &e.field
            && let Some(p) = calls.fault(pos, &e.api, field)
        {
            pos = p;
        }
    }
    if let Some(m) = module {
        notes.push(("in module".into(), m));
    }
    let headline = match inner {
        EvalAltResult::ErrorRuntime(v, _) if v.is_map() && is_script_kind(&v.clone().cast::<Map>()) => {
            let m = v.clone().cast::<Map>();
            let text = |k: &str| m.get(k).map(|v| v.to_string()).unwrap_or_default();
            if let Some(f) = m.get("function") {
                function_hint(&f.to_string(), catalog, &mut notes);
            }
            format!("error[script]: {}", text("errmsg"))
        }
        EvalAltResult::ErrorRuntime(v, _) if v.is_map() => {
            let m = v.clone().cast::<Map>();
            match error_from_map(&m) {
                Some(e) => {
                    if !e.api.is_empty() {
                        notes.push(("api".into(), e.api.clone()));
                    }
                    if let Some(c) = e.errcode {
                        notes.push(("errcode".into(), c.to_string()));
                    }
                    if let Some(f) = &e.field {
                        notes.push(("field".into(), f.clone()));
                    }
                    if let Some(p) = &e.path {
                        notes.push(("path".into(), p.clone()));
                    }
                    if !e.hint.is_empty() {
                        notes.push(("hint".into(), e.hint.clone()));
                    }
                    if let Some(a) = m.get("account") {
                        notes.push(("account".into(), a.to_string()));
                    }
                    format!("error[{}]: {}", e.kind.as_str(), e.errmsg)
                }
                None => format!("error: uncaught throw: {v}"),
            }
        }
        EvalAltResult::ErrorRuntime(v, _) if v.is_string() => format!("error: {v}"),
        EvalAltResult::ErrorRuntime(v, _) => format!("error: uncaught throw: {v}"),
        EvalAltResult::ErrorFunctionNotFound(sig, _) => {
            function_hint(sig, catalog, &mut notes);
            format!("error: function not found: {}", strip_position(sig))
        }
        EvalAltResult::ErrorModuleNotFound(m, _) => {
            let names = catalog.registered_names();
            let mods: Vec<&str> = names.iter().filter_map(|n| n.split_once("::").map(|p| p.0)).collect();
            if let Some(s) = did_you_mean(m, mods.iter().copied()) {
                notes.push(("hint".into(), format!("did you mean {s}::?")));
            }
            format!("error: module not found: {m}")
        }
        EvalAltResult::ErrorTerminated(..) => "interrupted".to_string(),
        other => format!("error: {}", strip_position(&other.to_string())),
    };
    let mut out = st.paint("1;31", &headline);
    out.push('\n');
    out.push_str(&location(&st, file, source, pos));
    for (k, v) in notes {
        out.push_str(&format!("   {} {}: {}\n", st.paint("1;34", "="), st.paint("1", &k), v));
    }
    out
}

/// Whether a thrown map is an error of the script itself (see [`super::script_error`]).
fn is_script_kind(m: &Map) -> bool {
    m.get("kind").is_some_and(|k| k.to_string() == "script")
}

/// The did-you-mean of a call of an unknown function (`store::ad (map)`), from the catalog.
fn function_hint(sig: &str, catalog: &Catalog, notes: &mut Vec<(String, String)>) {
    let name = sig.split('(').next().unwrap_or(sig).trim();
    let names = catalog.registered_names();
    // A bundled module's function is suggested from its own module (`stores::import_csv`).
    let stdlib: Vec<&str> = catalog.stdlib().map(|e| e.name.as_str()).collect();
    let candidates = names
        .iter()
        .map(String::as_str)
        .chain(stdlib.iter().copied().filter(|n| n.split("::").next() == name.split("::").next()));
    if let Some(s) = did_you_mean(name, candidates) {
        notes.push(("hint".into(), format!("did you mean {s}?")));
    } else if let Some((m, _)) = name.split_once("::") {
        let mods: Vec<&str> = names.iter().filter_map(|n| n.split_once("::").map(|p| p.0)).collect();
        if !mods.contains(&m)
            && let Some(s) = did_you_mean(m, mods.iter().copied())
        {
            notes.push(("hint".into(), format!("no module {m}::, did you mean {s}::?")));
        }
    }
}

/// The calls of a source, parsed again to find what an error's field names inside a call.
struct Calls {
    ast: Option<rhai::AST>,
}

/// One step of a field path such as `device_identifiers[0].uuid`.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn steps(field: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    for part in field.split('.') {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            out.push(Step::Key(&rest[..i]));
            rest = &rest[i..];
            while let Some(close) = rest.find(']') {
                match rest[1..close].parse() {
                    Ok(n) => out.push(Step::Index(n)),
                    Err(_) => return out,
                }
                rest = &rest[close + 1..];
            }
        } else {
            out.push(Step::Key(rest));
        }
    }
    out
}

impl Calls {
    fn parse(source: &str) -> Calls {
        Calls { ast: super::parser_engine().compile(source).ok() }
    }

    /// The arguments of the call at `pos`.
    fn at(&self, pos: Position) -> Option<Vec<Expr>> {
        let mut found = None;
        self.ast.as_ref()?.walk(&mut |nodes: &[ASTNode]| {
            if let Some(ASTNode::Expr(Expr::FnCall(x, p) | Expr::MethodCall(x, p))) = nodes.last()
                && *p == pos
            {
                found = Some(x.args.to_vec());
                return false;
            }
            true
        });
        found
    }

    /// Where in the call at `call` the fault in `field` lies: the key, when the function does
    /// not take it; the value, when it does; `None` when the call gives no literal for it.
    fn fault(&self, call: Position, api: &str, field: &str) -> Option<Position> {
        let args = self.at(call)?;
        let steps = steps(field);
        let Some(Step::Key(top)) = steps.first() else { return None };
        let eps: Vec<&api::Endpoint> = api::endpoints().filter(|e| e.path == api).collect();
        // A positional argument (`store::list(0, 51)`), or the map literal of a one-map call.
        let mut value = match args.as_slice() {
            [Expr::Map(..)] => args[0].clone(),
            _ => {
                let i = eps.iter().find_map(|e| e.params.iter().position(|p| p == top))?;
                return args.get(i).map(Expr::position);
            }
        };
        let mut ty: Option<Ty> = None;
        let mut declared = true;
        let mut key_pos = Position::NONE;
        for (n, step) in steps.iter().enumerate() {
            match (step, &value) {
                (Step::Key(k), Expr::Map(m, _)) => {
                    let (ident, v) = m.0.iter().find(|(id, _)| id.name == *k)?;
                    ty = if n == 0 {
                        eps.iter().find_map(|e| e.field(k)).map(|f| f.ty)
                    } else {
                        ty.and_then(|t| t.map_fields()).and_then(|fs| fs.iter().find(|f| f.name == *k).map(|f| f.ty))
                    };
                    declared = ty.is_some();
                    key_pos = ident.pos;
                    value = v.clone();
                }
                (Step::Index(i), Expr::Array(items, _)) => {
                    ty = match ty {
                        Some(Ty::List { item, .. }) => Some(*item),
                        _ => None,
                    };
                    value = items.get(*i)?.clone();
                    key_pos = value.position();
                }
                _ => break,
            }
        }
        Some(if declared { value.position() } else { key_pos })
    }
}

/// Renders a syntax error of `file`.
pub fn render_parse(err: &ParseError, file: &str, source: &str, color: bool) -> String {
    let st = Style { color };
    let mut out = st.paint("1;31", &format!("error: syntax: {}", strip_position(&err.0.to_string())));
    out.push('\n');
    out.push_str(&location(&st, file, source, err.1));
    out
}

fn location(st: &Style, file: &str, source: &str, pos: Position) -> String {
    let (Some(line), col) = (pos.line(), pos.position().unwrap_or(1)) else {
        return format!("  {} {file}\n", st.paint("1;34", "-->"));
    };
    let text = source.lines().nth(line - 1).unwrap_or("");
    let gutter = line.to_string().len();
    let pad = " ".repeat(gutter);
    let bar = st.paint("1;34", "|");
    // The caret sits under the column; tabs are kept so it lines up.
    let lead: String = text.chars().take(col.saturating_sub(1)).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
    let lead_w: String = lead
        .chars()
        .zip(text.chars())
        .map(|(l, t)| {
            if l == '\t' {
                '\t'
            } else if (t as u32) >= 0x2E80 {
                '\u{3000}'
            } else {
                ' '
            }
        })
        .collect();
    format!(
        "{pad}{} {file}:{line}:{col}\n{pad} {bar}\n{} {bar} {text}\n{pad} {bar} {lead_w}{}\n",
        st.paint("1;34", "-->"),
        st.paint("1;34", &line.to_string()),
        st.paint("1;31", "^"),
    )
}
