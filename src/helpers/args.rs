//! `args(#{...})`: a recipe's `--arg`s, declared once beside the code that uses them. From that
//! one declaration come the values the script gets (typed, with defaults), the usage errors (an
//! unknown `--arg` with a did-you-mean, every missing one with what to pass), the refusal of
//! sample data on a real account, and the help text `wxscript run FILE --help` prints, read from
//! the script's syntax tree without running it.
//!
//! Sample defaults are what make a recipe run as written on the simulator; on a real account
//! they would be sent as if they were the operator's (a laundry's category, a made-up phone), so
//! there they must be given.

use std::collections::BTreeMap;
use std::sync::Arc;

use rhai::{AST, ASTNode, Dynamic, Engine, Expr, Map, Module, NativeCallContext};

use crate::api::check::did_you_mean;
use crate::api::{ErrorKind, WxError};
use crate::runtime::catalog::HelperDoc;
use crate::runtime::{Ctx, RhaiResult, throw};

pub const DOCS: &[HelperDoc] = &[HelperDoc {
    name: "args",
    signatures: &["args(declaration)"],
    doc: "Declares the recipe's `--arg`s and returns their values. Each key of `declaration` is an argument, its value a map: `help` (what it means, required), `type` (\"text\", the default, \"int\", \"float\" or \"bool\": the value is converted), `required: true`, `default_value`, `sample` (a default that is sample data: given only on a simulator, so on a real account the argument must be passed), `sample_file` (the same for a sample file shipped in wxscript, see sandbox::sample), `placeholder` (the VALUE of `--arg KEY=VALUE` in the help). A plain string is a `help` alone. An unknown --arg (with a did-you-mean), a missing required one, a value of the wrong type and a sample default on a real account end the run as a usage error (exit 2), before anything is sent. `wxscript run FILE --help` prints the script's header comment and these arguments; write the declaration as a literal map for it to be read there.",
    returns: "a map with every declared argument: the value given, else its default, else ()",
    example: "let a = args(#{\n    limit: #{help: \"how many stores to show\", type: \"int\", default_value: 10},\n    out: #{help: \"a CSV to write them to\", placeholder: \"PATH\"},\n});\nprint(a.limit);",
}];

/// The keys an argument's declaration may hold.
const SPEC_KEYS: &[&str] = &["help", "type", "required", "default_value", "sample", "sample_file", "placeholder"];
const TYPES: &[&str] = &["text", "int", "float", "bool"];
const API: &str = "args";

/// What one declared argument takes.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub help: String,
    ty: String,
    required: bool,
    default: Option<Dynamic>,
    sample: Option<Sample>,
    placeholder: Option<String>,
}

#[derive(Debug, Clone)]
enum Sample {
    Value(Dynamic),
    File(String),
}

impl Spec {
    /// `--arg name=PLACEHOLDER`.
    fn usage(&self) -> String {
        let p = self.placeholder.clone().unwrap_or_else(|| {
            match self.ty.as_str() {
                "int" => "N",
                "float" => "NUMBER",
                "bool" => "true|false",
                _ => "TEXT",
            }
            .to_string()
        });
        format!("--arg {}={p}", self.name)
    }

    /// What happens when the argument is not given, for the help text.
    fn absent(&self) -> String {
        match (&self.default, &self.sample) {
            _ if self.required => "required".into(),
            (Some(d), _) => format!("default {}", shown(d)),
            (_, Some(Sample::Value(v))) => {
                format!("required on a real account; the simulator takes the sample {}", shown(v))
            }
            (_, Some(Sample::File(f))) => {
                format!("required on a real account; the simulator takes the sample {f}")
            }
            _ => "optional".into(),
        }
    }
}

fn shown(d: &Dynamic) -> String {
    if d.is_string() { format!("{:?}", d.to_string()) } else { d.to_string() }
}

/// Reads a declaration (its arguments in the order written); an error says what is wrong with it.
pub fn parse(decl: &[(String, Dynamic)]) -> Result<Vec<Spec>, String> {
    decl.iter().map(|(name, v)| spec(name, v)).collect()
}

fn spec(name: &str, v: &Dynamic) -> Result<Spec, String> {
    let mut s = Spec {
        name: name.to_string(),
        help: String::new(),
        ty: "text".into(),
        required: false,
        default: None,
        sample: None,
        placeholder: None,
    };
    if v.is_string() {
        s.help = v.to_string();
        return Ok(s);
    }
    let Some(m) = v.read_lock::<Map>().map(|m| m.clone()) else {
        return Err(format!(
            "argument {name}: declare it with a map such as #{{help: \"...\"}}, got {}",
            v.type_name()
        ));
    };
    let text = |k: &str, v: &Dynamic| {
        v.clone().into_string().map_err(|t| format!("argument {name}: {k} must be a string, got {t}"))
    };
    for (k, v) in &m {
        match k.as_str() {
            "help" => s.help = text(k, v)?,
            "type" => s.ty = text(k, v)?,
            "required" => {
                s.required =
                    v.as_bool().map_err(|t| format!("argument {name}: required must be true or false, got {t}"))?
            }
            "default_value" => s.default = Some(v.clone()),
            "sample" => s.sample = Some(Sample::Value(v.clone())),
            "sample_file" => s.sample = Some(Sample::File(text(k, v)?)),
            "placeholder" => s.placeholder = Some(text(k, v)?),
            other => {
                let near = did_you_mean(other, SPEC_KEYS.iter().copied())
                    .map(|n| format!(", did you mean \"{n}\"?"))
                    .unwrap_or_else(|| format!(" (it takes {})", SPEC_KEYS.join(", ")));
                return Err(format!("argument {name}: unknown key \"{other}\"{near}"));
            }
        }
    }
    if !TYPES.contains(&s.ty.as_str()) {
        return Err(format!("argument {name}: type must be one of {}, got {:?}", TYPES.join(", "), s.ty));
    }
    if s.help.is_empty() {
        return Err(format!("argument {name}: say what it means with help: \"...\""));
    }
    if usize::from(s.required) + usize::from(s.default.is_some()) + usize::from(s.sample.is_some()) > 1 {
        return Err(format!(
            "argument {name}: required, default_value and sample/sample_file exclude each other (a sample is a \
             default only the simulator gets)"
        ));
    }
    if let Some(d) = &s.default {
        s.default = Some(convert(&s, d).map_err(|m| format!("default_value of {m}"))?);
    }
    if let Some(Sample::Value(d)) = &s.sample {
        s.sample = Some(Sample::Value(convert(&s, d).map_err(|m| format!("sample of {m}"))?));
    }
    Ok(s)
}

/// A value given on the command line (a string) or in the declaration, as the argument's type.
fn convert(s: &Spec, v: &Dynamic) -> Result<Dynamic, String> {
    let text = v.to_string();
    let bad = |what: &str| format!("{} must be {what}, got {text:?}", s.name);
    Ok(match s.ty.as_str() {
        "int" => match v.as_int() {
            Ok(i) => Dynamic::from_int(i),
            Err(_) => Dynamic::from_int(text.trim().parse().map_err(|_| bad("a number without a fraction"))?),
        },
        "float" => match (v.as_float(), v.as_int()) {
            (Ok(f), _) => Dynamic::from_float(f),
            (_, Ok(i)) => Dynamic::from_float(i as f64),
            _ => Dynamic::from_float(text.trim().parse().map_err(|_| bad("a number"))?),
        },
        "bool" => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Dynamic::TRUE,
            "false" | "no" | "0" => Dynamic::FALSE,
            _ => return Err(bad("true or false")),
        },
        _ => Dynamic::from(text),
    })
}

/// The values of a run: `given` checked against `specs`. `sandbox` is asked only when a sample
/// default is needed; `sample_file` turns a sample's name into its path.
pub fn resolve(
    specs: &[Spec],
    given: &Map,
    sandbox: impl FnOnce() -> bool,
    sample_file: impl Fn(&str) -> Result<String, WxError>,
) -> Result<Map, WxError> {
    let usage = |msg: String| WxError::new(ErrorKind::Usage, API, msg);
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    let takes = if names.is_empty() {
        "this recipe takes no --arg".to_string()
    } else {
        format!("this recipe takes {}; --help after the file says what they mean", names.join(", "))
    };
    for key in given.keys() {
        if !names.contains(&key.as_str()) {
            let near = did_you_mean(key, names.iter().copied())
                .map(|n| format!(", did you mean \"{n}\"?"))
                .unwrap_or_default();
            return Err(usage(format!("unknown argument --arg {key}=...{near} ({takes})")));
        }
    }
    let mut out = Map::new();
    let (mut missing, mut samples) = (Vec::new(), Vec::new());
    for s in specs {
        let value = match (given.get(s.name.as_str()), &s.default, &s.sample) {
            (Some(v), _, _) => convert(s, v).map_err(|m| usage(format!("--arg {m}")))?,
            _ if s.required => {
                missing.push(s);
                Dynamic::UNIT
            }
            (None, Some(d), _) => d.clone(),
            (None, None, Some(sample)) => {
                samples.push((s, sample));
                Dynamic::UNIT
            }
            (None, None, None) => Dynamic::UNIT,
        };
        out.insert(s.name.as_str().into(), value);
    }
    if !missing.is_empty() {
        return Err(usage(format!("missing{}", listed(&missing))));
    }
    if !samples.is_empty() {
        if !sandbox() {
            let list: Vec<&Spec> = samples.iter().map(|(s, _)| *s).collect();
            return Err(usage(format!(
                "this is a real account, so these take your own values (their defaults are sample data, which \
                 only the simulator gets):{}",
                listed(&list)
            )));
        }
        for (s, sample) in samples {
            let v = match sample {
                Sample::Value(v) => v.clone(),
                Sample::File(f) => Dynamic::from(sample_file(f)?),
            };
            out.insert(s.name.as_str().into(), v);
        }
    }
    Ok(out)
}

/// One argument: `--arg name=VALUE (what it means)`; several: one a line, aligned.
fn listed(specs: &[&Spec]) -> String {
    if let [s] = specs {
        return format!(" {} ({})", s.usage(), s.help);
    }
    let width = specs.iter().map(|s| s.usage().chars().count()).max().unwrap_or(0);
    specs.iter().map(|s| format!("\n    {:width$}  {}", s.usage(), s.help)).collect()
}

/// Registers `args`: the run's `--arg`s are the engine's tag (`wxscript run` sets it).
pub fn register(engine: &mut Engine, _: &mut BTreeMap<&'static str, Module>, ctx: &Arc<Ctx>) {
    let c = ctx.clone();
    engine.register_fn("args", move |nc: NativeCallContext, decl: Map| -> RhaiResult {
        let pos = nc.call_position();
        let given = nc.tag().and_then(|t| t.read_lock::<Map>().map(|m| m.clone())).unwrap_or_default();
        // The map's own order is by name; the order written is in the syntax tree (for --help).
        let entries: Vec<(String, Dynamic)> = decl.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let specs = parse(&entries).map_err(|m| throw(WxError::input(API, "declaration", m), pos))?;
        resolve(&specs, &given, || c.is_sandbox(), |name| super::sample(&c, name))
            .map(Dynamic::from_map)
            .map_err(|e| throw(e, pos))
    });
}

/// The declaration of a script's arguments as written: the first `args(#{...})` call whose map
/// and values are literals. `None` when there is none.
pub fn declared(ast: &AST) -> Option<Result<Vec<Spec>, String>> {
    let mut found: Option<Vec<(String, Dynamic)>> = None;
    let mut non_literal = false;
    ast.walk(&mut |path: &[ASTNode]| {
        if found.is_some() {
            return false;
        }
        if let Some(ASTNode::Expr(Expr::FnCall(f, _))) = path.last()
            && f.name == "args"
            && f.namespace.is_empty()
            && f.args.len() == 1
        {
            match &f.args[0] {
                Expr::Map(m, _) => {
                    let entries: Option<Vec<_>> =
                        m.0.iter().map(|(k, v)| v.get_literal_value(None).map(|v| (k.name.to_string(), v))).collect();
                    match entries {
                        Some(e) => found = Some(e),
                        None => non_literal = true,
                    }
                }
                Expr::DynamicConstant(d, _) if d.is_map() => {
                    let m = d.read_lock::<Map>().map(|m| m.clone()).unwrap_or_default();
                    found = Some(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
                }
                _ => non_literal = true,
            }
        }
        true
    });
    match found {
        Some(entries) => Some(parse(&entries)),
        None if non_literal => Some(Err("its args(...) declaration is not a literal map, so it cannot be read \
                                         without running the script"
            .into())),
        None => None,
    }
}

/// The help text of a script: its header comment, how to run it, and its arguments.
pub fn help(file: &str, src: &str, ast: &AST) -> Result<String, String> {
    let mut out = String::new();
    for line in src.trim_start_matches('\u{feff}').lines().skip_while(|l| l.starts_with("#!")) {
        let Some(text) = line.trim_start().strip_prefix("//") else { break };
        out.push_str(text.strip_prefix(' ').unwrap_or(text).trim_end());
        out.push('\n');
    }
    if !out.is_empty() {
        out.push('\n');
    }
    let specs = match declared(ast) {
        None => {
            out.push_str(&format!(
                "usage: wxscript run {file}\n\n{file} declares no arguments (no args(#{{...}}) call).\n"
            ));
            return Ok(out);
        }
        Some(specs) => specs.map_err(|m| format!("{file}: {m}"))?,
    };
    out.push_str(&format!("usage: wxscript run {file}"));
    for s in specs.iter().filter(|s| s.required) {
        out.push_str(&format!(" {}", s.usage()));
    }
    if specs.iter().any(|s| !s.required) {
        out.push_str(" [--arg KEY=VALUE]...");
    }
    out.push_str("\n\narguments:\n");
    let width = specs.iter().map(|s| s.usage().chars().count()).max().unwrap_or(0);
    for s in &specs {
        out.push_str(&format!("  {:width$}  {} ({})\n", s.usage(), s.help, s.absent()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As `wxscript run FILE --help` compiles: unoptimised, so the map keeps its written order.
    fn compile(src: &str) -> AST {
        let mut e = Engine::new_raw();
        e.set_optimization_level(rhai::OptimizationLevel::None);
        e.compile(src).expect("compiles")
    }

    fn decl(src: &str) -> Vec<Spec> {
        let ast = compile(src);
        declared(&ast).expect("declared").expect("valid")
    }

    fn given(pairs: &[(&str, &str)]) -> Map {
        pairs.iter().map(|(k, v)| ((*k).into(), Dynamic::from(v.to_string()))).collect()
    }

    const SRC: &str = r#"let a = args(#{
        sheet: #{help: "the sheet", sample_file: "shops.csv", placeholder: "PATH"},
        phone: #{help: "contact phone", sample: "020-84112345"},
        count: #{help: "how many", type: "int", default_value: 10},
        card: #{help: "the card", required: true},
    });"#;

    #[test]
    fn written_order_and_help() {
        let specs = decl(SRC);
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["sheet", "phone", "count", "card"]);
        let ast = compile(&format!("// Does things.\n{SRC}"));
        let h = help("x.rhai", &format!("// Does things.\n{SRC}"), &ast).expect("help");
        assert!(h.starts_with("Does things.\n"), "{h}");
        assert!(h.contains("usage: wxscript run x.rhai --arg card=TEXT [--arg KEY=VALUE]..."), "{h}");
        assert!(h.contains("--arg count=N     how many (default 10)"), "{h}");
        assert!(h.contains("the sheet (required on a real account; the simulator takes the sample shops.csv)"), "{h}");
    }

    #[test]
    fn unknown_missing_typed_and_samples() {
        let specs = decl(SRC);
        let files = |n: &str| Ok(format!("/samples/{n}"));
        let e = resolve(&specs, &given(&[("shet", "x"), ("card", "c")]), || true, files).expect_err("unknown");
        assert_eq!(e.kind, ErrorKind::Usage);
        assert!(e.errmsg.contains("did you mean \"sheet\""), "{}", e.errmsg);
        let e = resolve(&specs, &given(&[]), || true, files).expect_err("missing");
        assert!(e.errmsg.contains("missing --arg card=TEXT (the card)"), "{}", e.errmsg);
        let e = resolve(&specs, &given(&[("card", "c"), ("count", "x")]), || true, files).expect_err("int");
        assert!(e.errmsg.contains("count must be a number without a fraction"), "{}", e.errmsg);
        let live = resolve(&specs, &given(&[("card", "c")]), || false, files).expect_err("samples on live");
        assert!(
            live.errmsg.contains("--arg sheet=PATH") && live.errmsg.contains("--arg phone=TEXT"),
            "{}",
            live.errmsg
        );
        let m = resolve(&specs, &given(&[("card", "c"), ("count", "3")]), || true, files).expect("sandbox");
        assert_eq!(m["count"].as_int(), Ok(3));
        assert_eq!(m["sheet"].to_string(), "/samples/shops.csv");
        assert_eq!(m["phone"].to_string(), "020-84112345");
        let mut asked = false;
        let all = given(&[("card", "c"), ("sheet", "s"), ("phone", "p")]);
        resolve(
            &specs,
            &all,
            || {
                asked = true;
                false
            },
            files,
        )
        .expect("live with every value given");
        assert!(!asked, "a run that needs no sample never asks what the server is");
    }

    #[test]
    fn bad_declarations() {
        let e = parse(&[("x".into(), Dynamic::from_map(Map::from_iter([("hlp".into(), Dynamic::from("h"))])))]);
        assert!(e.expect_err("typo").contains("did you mean \"help\""));
        let both = Map::from_iter([
            ("help".into(), Dynamic::from("h")),
            ("required".into(), Dynamic::TRUE),
            ("sample".into(), Dynamic::from("s")),
        ]);
        assert!(parse(&[("x".into(), Dynamic::from_map(both))]).is_err());
    }
}
