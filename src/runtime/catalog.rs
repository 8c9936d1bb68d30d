//! The one list of every function a script can call: the declared endpoints, the helpers (as
//! the composition root hands them over) and the bundled stdlib modules' exported functions.
//! Built once per process; the reference (`wxscript docs`), the catch-all overloads,
//! did-you-mean, the engine's helper registration and the REPL's completion, hints, `:help` and
//! `:fns` all read it, so a function declared anywhere shows up everywhere.

use std::collections::BTreeMap;
use std::sync::Arc;

use rhai::{Engine, Module};

use super::Ctx;
use crate::api::{self, Endpoint};

/// The declaration of a helper: a script function that is not one endpoint. Each helper file
/// declares its own beside its code.
pub struct HelperDoc {
    /// `module::name`, or a bare name for a global function (`sleep`).
    pub name: &'static str,
    pub signatures: &'static [&'static str],
    pub doc: &'static str,
    pub returns: &'static str,
    pub example: &'static str,
}

/// Registers helper functions into the endpoint modules (new ones are created as needed) and
/// the engine's global namespace.
pub type Register = fn(&mut Engine, &mut BTreeMap<&'static str, Module>, &Arc<Ctx>);

/// The helpers as the composition root hands them to the engine: their declarations, in the
/// reference's order, and how to register them.
#[derive(Clone, Copy)]
pub struct HelperSet {
    pub declarations: &'static [&'static [HelperDoc]],
    pub register: Register,
}

impl HelperSet {
    /// No helpers: the endpoints and the stdlib alone.
    pub const NONE: HelperSet = HelperSet { declarations: &[], register: |_, _, _| {} };

    /// Every declaration, in order.
    pub fn docs(&self) -> impl Iterator<Item = &'static HelperDoc> {
        self.declarations.iter().flat_map(|d| d.iter())
    }
}

/// Where a function comes from, and what only that source knows.
#[derive(Clone, Copy)]
pub enum Kind {
    /// A declared endpoint: its method, path, fields, errors.
    Endpoint(&'static Endpoint),
    /// A helper registered by the composition root.
    Helper(&'static HelperDoc),
    /// An exported function of a bundled stdlib module, usable after `import "MODULE" as MODULE;`.
    Stdlib,
}

/// One function of the catalog, its overloads folded into one entry.
#[derive(Clone)]
pub struct Entry {
    /// `module::name`, or a bare global name.
    pub name: String,
    /// The module (`""` for a global function).
    pub module: String,
    /// Its call forms (`store::get(poi_id)`, `store::get(map)`).
    pub signatures: Vec<String>,
    pub doc: String,
    pub returns: String,
    pub example: String,
    pub kind: Kind,
}

impl Entry {
    fn endpoint(ep: &'static Endpoint) -> Entry {
        Entry {
            name: ep.qualified(),
            module: ep.module.to_string(),
            signatures: ep.signatures(),
            doc: ep.doc.to_string(),
            returns: ep.returns.to_string(),
            example: ep.example.to_string(),
            kind: Kind::Endpoint(ep),
        }
    }

    fn helper(h: &'static HelperDoc) -> Entry {
        Entry {
            name: h.name.to_string(),
            module: module_of(h.name).to_string(),
            signatures: h.signatures.iter().map(|s| s.to_string()).collect(),
            doc: h.doc.to_string(),
            returns: h.returns.to_string(),
            example: h.example.to_string(),
            kind: Kind::Helper(h),
        }
    }

    /// Whether scripts can call it without importing anything.
    pub fn is_registered(&self) -> bool {
        !matches!(self.kind, Kind::Stdlib)
    }

    /// The import line a stdlib function needs.
    pub fn import(&self) -> Option<String> {
        matches!(self.kind, Kind::Stdlib).then(|| format!("import \"{0}\" as {0};", self.module))
    }

    /// The call forms and the return, e.g. `store::get(poi_id) | store::get(map) -> ...`.
    pub fn signature_line(&self) -> String {
        format!("{} -> {}", self.signatures.join(" | "), self.returns)
    }

    /// How many arguments each call form takes.
    pub fn arities(&self) -> Vec<usize> {
        self.signatures
            .iter()
            .map(|sig| {
                let params = sig.split_once('(').map_or("", |p| p.1).trim_end_matches(')').trim();
                if params.is_empty() { 0 } else { params.split(',').count() }
            })
            .collect()
    }
}

fn module_of(name: &str) -> &str {
    name.split_once("::").map(|p| p.0).unwrap_or("")
}

/// The stdlib functions with their overloads folded into one entry, in module order. Read once
/// per process: every bundled import asks (for its catch-all overloads), and so does each
/// catalog.
pub fn stdlib() -> &'static [Entry] {
    static STDLIB: std::sync::OnceLock<Vec<Entry>> = std::sync::OnceLock::new();
    STDLIB.get_or_init(|| {
        let mut out: Vec<Entry> = Vec::new();
        for d in super::stdlib::docs() {
            match out.iter_mut().find(|e| e.name == d.name) {
                Some(e) => {
                    e.signatures.push(d.signature.clone());
                    if e.doc.is_empty() {
                        e.doc = d.doc.clone();
                    }
                    if e.example.is_empty() {
                        e.example = d.example.clone();
                    }
                }
                None => out.push(Entry {
                    name: d.name.clone(),
                    module: module_of(&d.name).to_string(),
                    signatures: vec![d.signature.clone()],
                    doc: d.doc.clone(),
                    returns: String::new(),
                    example: d.example.clone(),
                    kind: Kind::Stdlib,
                }),
            }
        }
        out
    })
}

/// Every function: the endpoints in declaration order, then the stdlib, then the helpers.
pub struct Catalog {
    entries: Vec<Entry>,
    helpers: HelperSet,
}

impl Catalog {
    pub fn new(helpers: HelperSet) -> Catalog {
        let entries = api::endpoints()
            .map(Entry::endpoint)
            .chain(stdlib().iter().cloned())
            .chain(helpers.docs().map(Entry::helper));
        Catalog { entries: entries.collect(), helpers }
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The function named `name` (`store::add`, `stores::import_csv`, `sleep`).
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    pub fn endpoints(&self) -> impl Iterator<Item = (&Entry, &'static Endpoint)> {
        self.entries.iter().filter_map(|e| match e.kind {
            Kind::Endpoint(ep) => Some((e, ep)),
            _ => None,
        })
    }

    pub fn helpers(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| matches!(e.kind, Kind::Helper(_)))
    }

    pub fn stdlib(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| matches!(e.kind, Kind::Stdlib))
    }

    /// Every function scripts can call without an import, as `module::name` or a bare global
    /// name: what did-you-mean suggests from.
    pub fn registered(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.is_registered())
    }

    /// The names of [`Catalog::registered`].
    pub fn registered_names(&self) -> Vec<String> {
        self.registered().map(|e| e.name.clone()).collect()
    }

    /// Registers the helpers this catalog was built with.
    pub fn register_helpers(&self, engine: &mut Engine, modules: &mut BTreeMap<&'static str, Module>, ctx: &Arc<Ctx>) {
        (self.helpers.register)(engine, modules, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_and_stdlib_function_once() {
        let c = Catalog::new(HelperSet::NONE);
        let mut names: Vec<&str> = c.entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(c.endpoints().count(), api::endpoints().count());
        for ep in api::endpoints() {
            assert!(c.get(&ep.qualified()).is_some_and(|e| e.signatures == ep.signatures()), "{}", ep.qualified());
        }
        for d in super::super::stdlib::docs() {
            assert!(c.get(&d.name).is_some_and(|e| e.signatures.contains(&d.signature)), "{}", d.name);
        }
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "a name is listed twice");
        assert!(c.stdlib().all(|e| e.import().is_some() && !e.is_registered()));
    }

    #[test]
    fn arities_of_call_forms() {
        let c = Catalog::new(HelperSet::NONE);
        assert_eq!(c.get("store::get").map(Entry::arities), Some(vec![1, 1]));
        assert_eq!(c.get("store::list").map(Entry::arities), Some(vec![2, 1]));
    }
}
