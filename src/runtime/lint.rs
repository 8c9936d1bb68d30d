//! What `wxscript check` can know without running a script: calls of functions that do not
//! exist (with the catalog's did-you-mean when rendered), and literal maps given to declared
//! functions that the declaration refuses (unknown keys, missing required keys, values over
//! their limits), judged by the same checks a call makes, without sending anything.
//!
//! Each finding is the error the call would raise, placed at the call, so that
//! [`super::render::render_eval`] shows it as a run would (on the key or value at fault).

use std::collections::{BTreeMap, BTreeSet};

use rhai::{ASTNode, Dynamic, Engine, EvalAltResult, Expr, Position, Stmt};
use serde_json::Value;

use super::catalog::{Catalog, Kind};
use super::{convert, error_map, stdlib};
use crate::api::{Body, Endpoint, WxError, check};

/// Names rhai handles itself rather than as registered functions.
const KEYWORDS: &[&str] =
    &["print", "debug", "type_of", "Fn", "call", "curry", "eval", "is_def_fn", "is_def_var", "is_shared", "this"];

/// The problems of a compiled script, each as the error its call would raise.
pub fn lint(engine: &Engine, ast: &rhai::AST, catalog: &Catalog) -> Vec<EvalAltResult> {
    let mut imports: BTreeMap<String, String> = BTreeMap::new();
    let mut variables: BTreeSet<String> = BTreeSet::new();
    let mut calls: Vec<(String, String, Vec<Expr>, Position)> = Vec::new();
    ast.walk(&mut |nodes: &[ASTNode]| {
        match nodes.last() {
            Some(ASTNode::Stmt(Stmt::Import(x, _))) => {
                if let Expr::StringConstant(path, _) = &x.0 {
                    imports.insert(x.1.name.to_string(), path.to_string());
                }
            }
            Some(ASTNode::Stmt(Stmt::Var(x, ..))) => {
                variables.insert(x.0.name.to_string());
            }
            Some(ASTNode::Stmt(Stmt::For(x, _))) => {
                variables.insert(x.0.name.to_string());
            }
            Some(ASTNode::Expr(Expr::FnCall(x, pos))) if x.op_token.is_none() => {
                calls.push((x.namespace.to_string(), x.name.to_string(), x.args.to_vec(), *pos));
            }
            _ => {}
        }
        true
    });
    for f in ast.iter_functions() {
        variables.extend(f.params.iter().map(|p| p.to_string()));
    }
    let script_fns: BTreeSet<&str> = ast.iter_functions().map(|f| f.name).collect();
    let engine_fns: BTreeSet<String> = engine
        .gen_fn_signatures(true)
        .into_iter()
        .filter_map(|s| Some(s.split('(').next()?.trim().rsplit(' ').next()?.to_string()))
        .collect();
    let modules: BTreeSet<&str> = catalog.registered().filter_map(|e| e.name.split_once("::").map(|p| p.0)).collect();

    let mut found = Vec::new();
    for (ns, name, args, pos) in calls {
        let not_found = |q: &str| EvalAltResult::ErrorFunctionNotFound(format!("{q} (...)"), pos);
        if ns.is_empty() {
            let ident = name.chars().all(|c| c.is_alphanumeric() || c == '_');
            let known = !ident
                || name.starts_with("anon$")
                || KEYWORDS.contains(&name.as_str())
                || script_fns.contains(name.as_str())
                || engine_fns.contains(&name)
                // A variable holding a function pointer is called like a function.
                || variables.contains(&name);
            if !known {
                found.push(not_found(&name));
            }
            continue;
        }
        let qualified = format!("{ns}::{name}");
        match imports.get(&ns) {
            // A bundled module under its alias: its exported functions.
            Some(path) if stdlib::STDLIB.iter().any(|(n, _)| n == path) => {
                let exported = catalog.stdlib().any(|e| e.module == *path && e.name.ends_with(&format!("::{name}")));
                if !exported {
                    found.push(not_found(&qualified));
                }
            }
            // A file module: only running it tells what it exports.
            Some(_) => {}
            None if ns == "global" => {}
            None => match catalog.get(&qualified) {
                Some(e) if e.is_registered() => {
                    if let Kind::Endpoint(ep) = e.kind
                        && let Some(err) = literal_map(ep, &args)
                    {
                        found.push(EvalAltResult::ErrorRuntime(error_map(&err).into(), pos));
                    }
                }
                _ if modules.contains(ns.as_str()) || !ns.contains("::") => found.push(not_found(&qualified)),
                _ => {}
            },
        }
    }
    found
}

/// A literal value as JSON, when every part of it is known before running.
fn constant(e: &Expr) -> Option<Value> {
    let d: Dynamic = match e {
        Expr::Map(m, _) => {
            let mut o = serde_json::Map::new();
            for (k, v) in &m.0 {
                o.insert(k.name.to_string(), constant(v)?);
            }
            return Some(Value::Object(o));
        }
        Expr::Array(items, _) => return items.iter().map(constant).collect::<Option<Vec<_>>>().map(Value::Array),
        other => other.get_literal_value(None)?,
    };
    convert::to_json(&d).ok()
}

/// The first fault the declaration finds in a literal map given to `ep`: an unknown key, a
/// missing required key, or a literal value it refuses; then, when the whole map is literal,
/// the call's own cross-field checks (not for uploads, which would read the file).
fn literal_map(ep: &'static Endpoint, args: &[Expr]) -> Option<WxError> {
    let [Expr::Map(m, _)] = args else { return None };
    let given: Vec<(&str, Option<Value>)> = m.0.iter().map(|(k, v)| (k.name.as_str(), constant(v))).collect();
    if let Some((key, _)) = given.iter().find(|(k, _)| ep.field(k).is_none()) {
        return Some(check::unknown_field(ep, key));
    }
    if let Some(f) = ep.fields.iter().find(|f| f.required && !given.iter().any(|(k, _)| *k == f.name)) {
        return Some(check::missing_field(ep, f));
    }
    for (key, value) in &given {
        if let (Some(f), Some(v)) = (ep.field(key), value)
            && !v.is_null()
            && let Err(e) = check::field_value(ep, f, v)
        {
            return Some(e);
        }
    }
    let all: Option<serde_json::Map<String, Value>> =
        given.into_iter().map(|(k, v)| v.map(|v| (k.to_string(), v))).collect();
    match (all, ep.body) {
        (_, Body::Multipart { .. }) | (None, _) => None,
        (Some(all), _) => check::prepare(ep, all, &|| crate::util::unix_now() as i64).err(),
    }
}
