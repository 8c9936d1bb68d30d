//! Module resolution: the embedded `stdlib/` recipes first (`import "stores" as stores;`
//! works from any directory), then files relative to the importing script.
//!
//! A file next to the script with a bundled module's name (`stores.rhai`) is never silently
//! passed over: a script's `import "stores"` is then an error naming both, and `import
//! "./stores"` takes the file. (A bundled module's own imports are its siblings, whatever lies
//! next to the script.)

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
    ("rehearsal", include_str!("../../stdlib/rehearsal.rhai")),
    ("stores", include_str!("../../stdlib/stores.rhai")),
];

pub struct Resolver {
    files: FileModuleResolver,
    compiled: Mutex<HashMap<&'static str, SharedModule>>,
    /// Compile a user's modules without running their top level (`wxscript check`).
    check_only: bool,
}

impl Resolver {
    /// Relative imports resolve against `base` (the script's directory).
    pub fn new(base: impl Into<PathBuf>) -> Resolver {
        Resolver {
            files: FileModuleResolver::new_with_path(base),
            compiled: Mutex::new(HashMap::new()),
            check_only: false,
        }
    }

    /// For checking: a user's module is compiled (syntax errors and its own imports are found)
    /// but its top-level statements are not run, so one that calls the API or prints as it is
    /// imported does neither while being checked. Its functions are all there; its top-level
    /// variables are not, which only running could tell apart.
    pub fn check_only(mut self) -> Resolver {
        self.check_only = true;
        self.files.enable_cache(false);
        self
    }

    /// Reads files again on every import (the REPL: an edited module reloads).
    pub fn without_file_cache(mut self) -> Resolver {
        self.files.enable_cache(false);
        self
    }
}

impl Resolver {
    /// A script's import of a bundled module's name when a file of that name lies next to the
    /// script: an error naming both.
    fn unambiguous(&self, source: Option<&str>, path: &str, pos: Position) -> Result<(), Box<EvalAltResult>> {
        let from_stdlib = source.is_some_and(|s| s.starts_with("stdlib/"));
        if from_stdlib || !STDLIB.iter().any(|(n, _)| *n == path) {
            return Ok(());
        }
        let file = self.files.get_file_path(path, None);
        if !file.is_file() {
            return Ok(());
        }
        let msg = format!(
            "import \"{path}\" is ambiguous: it names the bundled module {path} and the file {}; write import \"./{path}\" for the file, or rename the file to use the bundled module",
            file.display()
        );
        Err(EvalAltResult::ErrorRuntime(msg.into(), pos).into())
    }
}

thread_local! {
    /// The imports being resolved on this thread, outermost first: a path met again is a cycle,
    /// which would otherwise recurse until the stack overflows.
    static RESOLVING: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Leaves the import stack when the resolution it was made for ends, however it ends.
struct Resolving;

impl Drop for Resolving {
    fn drop(&mut self) {
        RESOLVING.with(|r| r.borrow_mut().pop());
    }
}

fn enter(path: &str, pos: Position) -> Result<Resolving, Box<EvalAltResult>> {
    RESOLVING.with(|r| {
        let mut stack = r.borrow_mut();
        if let Some(i) = stack.iter().position(|p| p == path) {
            let cycle: Vec<&str> = stack[i..].iter().map(String::as_str).chain([path]).collect();
            let msg = format!("import cycle: {}", cycle.join(" -> "));
            return Err(EvalAltResult::ErrorInModule(
                path.into(),
                EvalAltResult::ErrorRuntime(msg.into(), pos).into(),
                pos,
            )
            .into());
        }
        stack.push(path.to_string());
        Ok(Resolving)
    })
}

/// The literal paths a module imports.
fn imports_of(ast: &rhai::AST) -> Vec<String> {
    let mut out = Vec::new();
    ast.walk(&mut |nodes: &[rhai::ASTNode]| {
        if let Some(rhai::ASTNode::Stmt(rhai::Stmt::Import(x, _))) = nodes.last()
            && let rhai::Expr::StringConstant(s, _) = &x.0
        {
            out.push(s.to_string());
        }
        true
    });
    out
}

impl ModuleResolver for Resolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        let _resolving = enter(path, pos)?;
        self.unambiguous(source, path, pos)?;
        let Some((name, src)) = STDLIB.iter().find(|(n, _)| *n == path) else {
            if self.check_only
                && let Some(ast) = self.files.resolve_ast(engine, source, path, pos)
            {
                let mut ast = ast?;
                // Its own imports are followed here, where a cycle among them shows.
                for p in imports_of(&ast) {
                    self.resolve(engine, source, &p, pos)?;
                }
                ast.clear_statements();
                return Module::eval_ast_as_new(Scope::new(), &ast, engine)
                    .map(Into::into)
                    .map_err(|e| EvalAltResult::ErrorInModule(path.into(), e, pos).into());
            }
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
        let mut m = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(|e| EvalAltResult::ErrorInModule(path.into(), e, pos))?;
        super::fallback::add_to_stdlib(&mut m, name);
        let m: SharedModule = m.into();
        self.compiled.lock().unwrap_or_else(|p| p.into_inner()).insert(name, m.clone());
        Ok(m)
    }

    /// The module's source, compiled: lets `compile_into_self_contained` find and check the
    /// imports of imported modules too.
    fn resolve_ast(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Option<Result<rhai::AST, Box<EvalAltResult>>> {
        if let Err(e) = self.unambiguous(source, path, pos) {
            return Some(Err(e));
        }
        match STDLIB.iter().find(|(n, _)| *n == path) {
            Some((_, src)) => Some(engine.compile(*src).map_err(|e| {
                EvalAltResult::ErrorInModule(path.into(), EvalAltResult::ErrorParsing(*e.0, e.1).into(), pos).into()
            })),
            None => self.files.resolve_ast(engine, source, path, pos),
        }
    }
}

/// The documentation of one exported stdlib function, from its `///` comments: the text, and
/// the ```` ```rhai ```` block as its example.
#[derive(Debug, Clone)]
pub struct StdDoc {
    /// `module::name`.
    pub name: String,
    pub signature: String,
    pub doc: String,
    pub example: String,
}

/// Every exported function of every stdlib module, in module order, one item per overload. Read
/// from the sources once per process; [`super::catalog::stdlib`] folds the overloads into the
/// catalog's entries.
pub fn docs() -> &'static [StdDoc] {
    static DOCS: std::sync::OnceLock<Vec<StdDoc>> = std::sync::OnceLock::new();
    DOCS.get_or_init(read_docs)
}

fn read_docs() -> Vec<StdDoc> {
    let engine = super::parser_engine();
    let mut out = Vec::new();
    for (module, src) in STDLIB {
        let ast = match engine.compile(*src) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("stdlib/{module}.rhai does not compile: {e}");
                continue;
            }
        };
        // Closures are compiled into anonymous functions: not part of the module's surface.
        let mut fns: Vec<_> = ast
            .iter_functions()
            .filter(|f| f.access != rhai::FnAccess::Private && !f.name.starts_with("anon$"))
            .collect();
        fns.sort_by_key(|f| (f.name, std::cmp::Reverse(f.params.len())));
        for f in fns {
            let mut doc = Vec::new();
            let mut example = Vec::new();
            let mut in_code = false;
            for c in f.comments.iter().flat_map(|c| c.lines()) {
                let line = c.trim_start_matches("///").strip_prefix(' ').unwrap_or(c.trim_start_matches("///"));
                if line.trim_start().starts_with("```") {
                    in_code = !in_code;
                } else if in_code {
                    example.push(line.to_string());
                } else {
                    doc.push(line.trim().to_string());
                }
            }
            out.push(StdDoc {
                name: format!("{module}::{}", f.name),
                signature: format!("{module}::{}({})", f.name, f.params.join(", ")),
                doc: doc.join(" ").trim().to_string(),
                example: example.join("\n"),
            });
        }
    }
    out
}
