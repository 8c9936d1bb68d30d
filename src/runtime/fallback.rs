//! Catch-all overloads. A registered function called with arguments of the wrong types, or with
//! the wrong number of them, answers with a catchable `input` error that names the function, its
//! call forms and what was given, instead of rhai's bare "function not found", which a script
//! could only catch as an untyped message.
//!
//! Each function gets an overload taking any values (`Dynamic`) for every argument count up to
//! [`MAX_ARGS`] that it does not already take that way. rhai prefers an exact-typed overload, so
//! these run only when nothing else fits.

use std::collections::BTreeMap;

use rhai::{Dynamic, Engine, FuncRegistration, Module, NativeCallContext, Position};

use super::catalog::{self, Catalog};
use super::{RhaiResult, throw};
use crate::api::WxError;

/// Argument counts up to this get a catch-all (no function takes more than three).
const MAX_ARGS: usize = 5;

/// A value's type as a script writer would name it.
fn type_of(v: &Dynamic) -> &'static str {
    if v.is_map() {
        "map"
    } else if v.is_array() {
        "array"
    } else if v.is_string() || v.is_char() {
        "string"
    } else if v.is_int() {
        "int"
    } else if v.is_float() {
        "float"
    } else if v.is_bool() {
        "bool"
    } else if v.is_unit() {
        "()"
    } else if v.is_fnptr() {
        "function"
    } else {
        "value"
    }
}

fn complaint(name: &str, forms: &[String], args: &[&Dynamic], pos: Position) -> Box<rhai::EvalAltResult> {
    let given: Vec<&str> = args.iter().map(|a| type_of(a)).collect();
    let msg = format!(
        "{name} cannot be called with ({}); call it as {} (`wxscript docs` or :help {name} has the details)",
        given.join(", "),
        forms.join(" or ")
    );
    throw(WxError::input(name, "arguments", msg), pos)
}

/// Registers the overload of `name` taking `n` values of any type into `module`; returns the
/// hash rhai files it under.
fn set(module: &mut Module, short: &str, name: &str, forms: &[String], n: usize) -> u64 {
    let reg = || FuncRegistration::new(short.to_string());
    let (name, forms) = (name.to_string(), forms.to_vec());
    match n {
        0 => {
            reg()
                .set_into_module(module, move |nc: NativeCallContext| -> RhaiResult {
                    Err(complaint(&name, &forms, &[], nc.call_position()))
                })
                .hash
        }
        1 => {
            reg()
                .set_into_module(module, move |nc: NativeCallContext, a: Dynamic| -> RhaiResult {
                    Err(complaint(&name, &forms, &[&a], nc.call_position()))
                })
                .hash
        }
        2 => {
            reg()
                .set_into_module(module, move |nc: NativeCallContext, a: Dynamic, b: Dynamic| -> RhaiResult {
                    Err(complaint(&name, &forms, &[&a, &b], nc.call_position()))
                })
                .hash
        }
        3 => {
            reg()
                .set_into_module(
                    module,
                    move |nc: NativeCallContext, a: Dynamic, b: Dynamic, c: Dynamic| -> RhaiResult {
                        Err(complaint(&name, &forms, &[&a, &b, &c], nc.call_position()))
                    },
                )
                .hash
        }
        4 => {
            reg()
                .set_into_module(
                    module,
                    move |nc: NativeCallContext, a: Dynamic, b: Dynamic, c: Dynamic, d: Dynamic| -> RhaiResult {
                        Err(complaint(&name, &forms, &[&a, &b, &c, &d], nc.call_position()))
                    },
                )
                .hash
        }
        _ => {
            reg()
                .set_into_module(
                    module,
                    move |nc: NativeCallContext,
                          a: Dynamic,
                          b: Dynamic,
                          c: Dynamic,
                          d: Dynamic,
                          e: Dynamic|
                          -> RhaiResult {
                        Err(complaint(&name, &forms, &[&a, &b, &c, &d, &e], nc.call_position()))
                    },
                )
                .hash
        }
    }
}

/// The hash rhai files the any-typed overload of `short` with `n` arguments under, found by
/// registering it in a scratch module (the hash does not depend on the module).
fn any_typed_hash(short: &str, n: usize) -> u64 {
    set(&mut Module::new(), short, short, &[], n)
}

/// Adds the catch-all overloads to a bundled (script) module, for the argument counts none of its
/// functions of that name takes.
pub fn add_to_stdlib(module: &mut Module, name: &str) {
    for e in catalog::stdlib().iter().filter(|e| e.module == name) {
        let short = e.name.rsplit("::").next().unwrap_or(&e.name);
        let taken = e.arities();
        for n in (0..=MAX_ARGS).filter(|n| !taken.contains(n)) {
            set(module, short, &e.name, &e.signatures, n);
        }
    }
}

/// Adds the catch-all overloads to the endpoint and helper modules and to the global helpers.
pub fn add(engine: &mut Engine, modules: &mut BTreeMap<&'static str, Module>, catalog: &Catalog) {
    let mut globals = Module::new();
    for e in catalog.registered() {
        let (module, short) = match e.name.split_once("::") {
            Some((m, s)) => match modules.get_mut(m) {
                Some(module) => (module, s),
                None => continue,
            },
            None => (&mut globals, e.name.as_str()),
        };
        for n in 0..=MAX_ARGS {
            if !module.contains_fn(any_typed_hash(short, n)) {
                set(module, short, &e.name, &e.signatures, n);
            }
        }
    }
    // Global helpers are registered with concrete types, so no overload of theirs is replaced.
    engine.register_global_module(globals.into());
}
