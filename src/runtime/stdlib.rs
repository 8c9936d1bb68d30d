//! Module resolution: the embedded `stdlib/` recipes first (`import "stores" as stores;`
//! works from any directory), then files relative to the importing script.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use rhai::module_resolvers::FileModuleResolver;
use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};

type SharedModule = Shared<Module>;

/// The bundled modules: name and source.
pub const STDLIB: &[(&str, &str)] = &[("stores", include_str!("../../stdlib/stores.rhai"))];

pub struct Resolver {
    files: FileModuleResolver,
    compiled: Mutex<HashMap<&'static str, SharedModule>>,
}

impl Resolver {
    /// Relative imports resolve against `base` (the script's directory).
    pub fn new(base: impl Into<PathBuf>) -> Resolver {
        Resolver { files: FileModuleResolver::new_with_path(base), compiled: Mutex::new(HashMap::new()) }
    }
}

impl ModuleResolver for Resolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        let Some((name, src)) = STDLIB.iter().find(|(n, _)| *n == path) else {
            return self.files.resolve(engine, source, path, pos);
        };
        let mut cache = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = cache.get(name) {
            return Ok(m.clone());
        }
        let mut ast = engine.compile(*src).map_err(|e| {
            EvalAltResult::ErrorInModule(path.into(), EvalAltResult::ErrorParsing(*e.0, e.1).into(), pos)
        })?;
        ast.set_source(format!("stdlib/{name}.rhai"));
        let m: SharedModule = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(|e| EvalAltResult::ErrorInModule(path.into(), e, pos))?
            .into();
        cache.insert(name, m.clone());
        Ok(m)
    }
}
