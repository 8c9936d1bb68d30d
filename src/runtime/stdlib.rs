//! Module resolution: the embedded `stdlib/` recipes first (`import "stores" as stores;`
//! works from any directory), then files relative to the importing script.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use rhai::module_resolvers::FileModuleResolver;
use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};

type SharedModule = Shared<Module>;

/// The bundled modules: name and source.
pub const STDLIB: &[(&str, &str)] = &[
    ("audit", include_str!("../../stdlib/audit.rhai")),
    ("migrate", include_str!("../../stdlib/migrate.rhai")),
    ("paging", include_str!("../../stdlib/paging.rhai")),
    ("stores", include_str!("../../stdlib/stores.rhai")),
];

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
        // Not held while compiling: a stdlib module may import another one.
        if let Some(m) = self.compiled.lock().unwrap_or_else(|p| p.into_inner()).get(name) {
            return Ok(m.clone());
        }
        let mut ast = engine.compile(*src).map_err(|e| {
            EvalAltResult::ErrorInModule(path.into(), EvalAltResult::ErrorParsing(*e.0, e.1).into(), pos)
        })?;
        ast.set_source(format!("stdlib/{name}.rhai"));
        let m: SharedModule = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(|e| EvalAltResult::ErrorInModule(path.into(), e, pos))?
            .into();
        self.compiled.lock().unwrap_or_else(|p| p.into_inner()).insert(name, m.clone());
        Ok(m)
    }
}
