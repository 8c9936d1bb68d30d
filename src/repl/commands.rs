//! The `:` commands and the texts they print. `:help NAME` and `:fns` read the catalog of
//! functions, the same source as `wxscript docs`.

use rhai::Dynamic;

use crate::api::check::did_you_mean;
use crate::runtime::catalog::Kind;

use super::complete::Names;
use super::pretty::{inline, truncate, width};

/// One REPL command.
pub struct CommandDoc {
    pub name: &'static str,
    pub args: &'static str,
    pub doc: &'static str,
}

pub const COMMANDS: &[CommandDoc] = &[
    CommandDoc { name: "help", args: "[NAME]", doc: "these commands, or a function's doc, fields and example" },
    CommandDoc { name: "fns", args: "[MODULE]", doc: "the functions, with their call forms" },
    CommandDoc { name: "vars", args: "", doc: "the variables of this session" },
    CommandDoc { name: "load", args: "FILE", doc: "run a script file into this session" },
    CommandDoc { name: "save", args: "FILE", doc: "write this session's successful lines as a script" },
    CommandDoc { name: "sandbox", args: "", doc: "which server this session talks to" },
    CommandDoc { name: "quit", args: "", doc: "leave (Ctrl-D too)" },
];

/// A parsed command line.
#[derive(Debug, PartialEq)]
pub enum Cmd {
    Help(Option<String>),
    Fns(Option<String>),
    Vars,
    Load(String),
    Save(String),
    Sandbox,
    Quit,
}

/// Parses a line starting with `:`; the error says what went wrong.
pub fn parse(line: &str) -> Result<Cmd, String> {
    let body = line.trim().trim_start_matches(':');
    let (name, arg) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
    let arg = arg.trim();
    let opt = || (!arg.is_empty()).then(|| arg.to_string());
    let need = |what: &str| {
        if arg.is_empty() {
            Err(format!(":{name} needs {what}, e.g. :{name} session.rhai"))
        } else {
            Ok(arg.to_string())
        }
    };
    Ok(match name {
        "help" | "h" | "?" => Cmd::Help(opt()),
        "fns" | "functions" => Cmd::Fns(opt()),
        "vars" => Cmd::Vars,
        "load" => Cmd::Load(need("a file")?),
        "save" => Cmd::Save(need("a file")?),
        "sandbox" => Cmd::Sandbox,
        "quit" | "q" | "exit" => Cmd::Quit,
        other => {
            let names = COMMANDS.iter().map(|c| c.name);
            return Err(match did_you_mean(other, names) {
                Some(s) => format!("unknown command :{other}, did you mean :{s}? (:help lists them)"),
                None => format!("unknown command :{other} (:help lists them)"),
            });
        }
    })
}

/// `:help` without a name: the commands, the keys and the modules.
pub fn help(names: &Names) -> String {
    let mut s = String::from("Commands:\n");
    for c in COMMANDS {
        let head = if c.args.is_empty() { format!(":{}", c.name) } else { format!(":{} {}", c.name, c.args) };
        s.push_str(&format!("  {head:<16}{}\n", c.doc));
    }
    s.push_str(
        "\nKeys:\n  Tab             complete modules, functions, variables and request keys\n  Enter           run; an unfinished brace, bracket or string continues on the next line\n  Ctrl-C          clear the line, or stop the running call\n  Ctrl-R          search the history\n  Ctrl-D          leave\n\nAny other line is rhai: `store::list(0, 5)`, `let s = store::all();`, `fn f(x) { .. }`.\nVariables, functions and imports stay for the whole session.\n",
    );
    s.push_str(&format!("\nModules (:fns MODULE): {}\n", names.modules.join(", ")));
    let stdlib: Vec<&str> = crate::runtime::stdlib::STDLIB.iter().map(|(n, _)| *n).collect();
    s.push_str(&format!("Bundled modules (import \"NAME\" as NAME;, then :fns NAME): {}\n", stdlib.join(", ")));
    s
}

/// Whether `m` names a bundled stdlib module.
fn is_stdlib(m: &str) -> bool {
    crate::runtime::stdlib::STDLIB.iter().any(|(n, _)| *n == m)
}

/// `:fns` of a bundled module: its functions' call forms and first sentences.
fn stdlib_fns(module: &str, names: &Names) -> String {
    let rows: Vec<(String, String)> = names
        .catalog
        .stdlib()
        .filter(|e| e.module == module)
        .map(|e| (e.signatures.join(" | "), first_sentence(&e.doc).to_string()))
        .collect();
    let mut s = format!("  (import \"{module}\" as {module};)\n");
    s.push_str(&table_rows(rows));
    s
}

/// What the reference's examples assume on the simulator.
const EXAMPLE_SETUP: &str = " (on the sandbox, after: import \"rehearsal\" as rehearsal; rehearsal::reference();)";

/// `:help NAME`: a function's signature, doc, fields with their limits, errors and example;
/// a module's functions; or a command.
pub fn help_for(name: &str, names: &Names) -> Result<String, String> {
    let name = name.trim().trim_end_matches("()").trim_end_matches('(');
    let entry = names.catalog.get(name);
    if let Some(e) = entry
        && let Kind::Endpoint(ep) = e.kind
    {
        let mut s = format!(
            "{}\n{} {}  ->  {}\n\n{}\n",
            e.signatures.join("\n"),
            ep.method.as_str(),
            ep.path,
            e.returns,
            e.doc
        );
        if !ep.fields.is_empty() {
            s.push_str("\nFields:\n");
            let nw = ep.fields.iter().map(|f| width(f.name)).max().unwrap_or(0);
            for f in ep.fields {
                let limits = f.ty.limits();
                let ty = if limits.is_empty() { f.ty.name().to_string() } else { format!("{}; {limits}", f.ty.name()) };
                let req = if f.required { "required" } else { "optional" };
                s.push_str(&format!("  {:<nw$}  {req}  {ty}\n  {:<nw$}            {}\n", f.name, "", f.doc));
            }
        }
        if !ep.errors.is_empty() {
            s.push_str("\nErrors:\n");
            for c in ep.errors {
                let h = ep.hint(*c).unwrap_or_default();
                s.push_str(&format!("  {c:>6}  {h}\n"));
            }
        }
        s.push_str(&format!("\nExample{}:\n{}\n", EXAMPLE_SETUP, indent(&e.example)));
        return Ok(s);
    }
    if let Some(e) = entry {
        return Ok(match e.import() {
            Some(import) => {
                format!("{}\n({import})\n\n{}\n\nExample:\n{}\n", e.signatures.join("\n"), e.doc, indent(&e.example))
            }
            None => format!(
                "{}  ->  {}\n\n{}\n\nExample{EXAMPLE_SETUP}:\n{}\n",
                e.signatures.join("\n"),
                e.returns,
                e.doc,
                indent(&e.example)
            ),
        });
    }
    if names.modules.iter().any(|m| m == name.trim_end_matches("::")) || is_stdlib(name.trim_end_matches("::")) {
        return fns(Some(name.trim_end_matches("::")), names);
    }
    let cmd = name.trim_start_matches(':');
    if let Some(c) = COMMANDS.iter().find(|c| c.name == cmd) {
        return Ok(format!(":{} {}\n  {}\n", c.name, c.args, c.doc));
    }
    let all = names.functions.iter().map(String::as_str).chain(names.modules.iter().map(String::as_str));
    Err(match did_you_mean(name, all) {
        Some(s) => format!("no function {name}, did you mean {s}?"),
        None => format!("no function or module {name} (:fns lists them)"),
    })
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
}

fn first_sentence(doc: &str) -> &str {
    match doc.find(". ") {
        Some(i) => &doc[..=i],
        None => doc,
    }
}

/// `:fns [MODULE]`: every function (of the module), its call forms and the first sentence of
/// its doc.
pub fn fns(module: Option<&str>, names: &Names) -> Result<String, String> {
    if let Some(m) = module
        && !names.modules.iter().any(|x| x == m)
        && is_stdlib(m)
    {
        return Ok(stdlib_fns(m, names));
    }
    if let Some(m) = module
        && !names.modules.iter().any(|x| x == m)
    {
        return Err(match did_you_mean(m, names.modules.iter().map(String::as_str)) {
            Some(s) => format!("no module {m}, did you mean {s}?"),
            None => format!("no module {m}; modules: {}", names.modules.join(", ")),
        });
    }
    let mut rows: Vec<(String, String)> = Vec::new();
    for f in names.functions.iter().filter(|f| module.is_none_or(|m| f.split("::").next() == Some(m))) {
        let entry = names.catalog.get(f).filter(|e| e.is_registered());
        let sig = entry.map(|e| e.signatures.join(" | ")).unwrap_or_else(|| f.clone());
        rows.push((sig, first_sentence(entry.map_or("", |e| &e.doc)).to_string()));
    }
    if module.is_none() {
        for e in names.catalog.registered().filter(|e| e.module.is_empty()) {
            rows.push((e.signatures.join(" | "), first_sentence(&e.doc).to_string()));
        }
    }
    Ok(table_rows(rows))
}

/// Call forms and docs in two columns; a form too long for its column gets its doc below it.
fn table_rows(rows: Vec<(String, String)>) -> String {
    let sw = rows.iter().map(|r| width(&r.0)).max().unwrap_or(0).min(48);
    let mut s = String::new();
    for (sig, doc) in rows {
        if width(&sig) > sw {
            s.push_str(&format!("  {sig}\n      {}\n", truncate(&doc, 72)));
        } else {
            s.push_str(&format!("  {sig:<sw$}  {}\n", truncate(&doc, 72)));
        }
    }
    s
}

/// `:vars`: name, type and a one-line glimpse of each variable.
pub fn vars<'a>(vars: impl IntoIterator<Item = (&'a str, bool, &'a Dynamic)>) -> String {
    let rows: Vec<(String, String, String)> = vars
        .into_iter()
        .map(|(n, constant, v)| {
            let name = if constant { format!("{n} (const)") } else { n.to_string() };
            let ty = match v.type_name() {
                "i64" | "i32" => "int",
                "f64" | "f32" => "float",
                other => other.rsplit("::").next().unwrap_or(other),
            };
            (name, ty.to_string(), truncate(&inline(v), 60))
        })
        .collect();
    if rows.is_empty() {
        return "no variables yet\n".into();
    }
    let nw = rows.iter().map(|r| width(&r.0)).max().unwrap_or(0);
    let tw = rows.iter().map(|r| width(&r.1)).max().unwrap_or(0);
    rows.iter().map(|(n, t, v)| format!("  {n:<nw$}  {t:<tw$}  {v}\n")).collect()
}

/// `:vars`'s line for an imported module.
pub fn module_line(alias: &str, fns: &std::collections::BTreeSet<String>) -> String {
    let n = fns.len();
    format!("  {alias}  module  {n} function{}\n", if n == 1 { "" } else { "s" })
}

/// A session's successful lines as a script: each one a statement, in order.
pub fn script(lines: &[String]) -> String {
    let mut s = String::from("// Saved from a wxscript REPL session.\n");
    for l in lines {
        let l = l.trim_end();
        s.push_str(l);
        if !(l.ends_with(';') || l.ends_with('}')) {
            s.push(';');
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api;

    fn names() -> Names {
        Names::new(crate::session::catalog(), Vec::new())
    }

    #[test]
    fn parses_commands() {
        assert_eq!(parse(":help"), Ok(Cmd::Help(None)));
        assert_eq!(parse(":help  store::add "), Ok(Cmd::Help(Some("store::add".into()))));
        assert_eq!(parse(":fns store"), Ok(Cmd::Fns(Some("store".into()))));
        assert_eq!(parse(":q"), Ok(Cmd::Quit));
        assert_eq!(parse(":load a b.rhai"), Ok(Cmd::Load("a b.rhai".into())));
        assert!(parse(":load").is_err_and(|e| e.contains("needs a file")));
        assert!(parse(":hlep").is_err_and(|e| e.contains("did you mean :help?")));
    }

    #[test]
    fn help_of_a_stdlib_function_comes_from_its_doc_comment() {
        let h = help_for("stores::import_csv", &names()).expect("documented");
        assert!(h.contains("stores::import_csv(path, options)"), "{h}");
        assert!(h.contains("import \"stores\" as stores;"), "{h}");
        assert!(h.contains("journal"), "{h}");
    }

    #[test]
    fn help_lists_every_command() {
        let h = help(&names());
        for c in COMMANDS {
            assert!(h.contains(&format!(":{}", c.name)), "{h}");
        }
        assert!(h.contains("Modules (:fns MODULE): ") && h.contains("merchant, ") && h.contains("store"), "{h}");
    }

    #[test]
    fn help_of_an_endpoint_comes_from_its_declaration() {
        let h = help_for("store::add", &names()).unwrap_or_default();
        let ep = api::by_name("store::add").expect("declared");
        assert!(h.starts_with("store::add(map)\nPOST wxa/add_store  ->  #{audit_id}"), "{h}");
        assert!(h.contains(ep.doc));
        for f in ep.fields {
            assert!(h.contains(f.name) && h.contains(f.doc), "{} missing in\n{h}", f.name);
        }
        let hour = h.lines().find(|l| l.trim_start().starts_with("hour ")).unwrap_or_default();
        assert!(hour.ends_with("required  string HH:MM-HH:MM"), "{h}");
        assert!(h.contains("company_name  ") && h.contains("optional"), "{h}");
        assert!(h.contains("85038"), "{h}");
        assert!(h.contains("rehearsal::reference();):\n  let poi = map::search_poi"), "{h}");
    }

    #[test]
    fn help_of_helpers_modules_and_typos() {
        assert!(
            help_for("store::all", &names()).is_ok_and(|h| h.contains("store::all()  ->  array of base_info maps"))
        );
        assert!(help_for("store", &names()).is_ok_and(|h| h.contains("store::add(map)") && !h.contains("merchant::")));
        assert!(help_for("store::ad", &names()).is_err_and(|e| e.contains("did you mean store::add?")));
        assert!(help_for(":load", &names()).is_ok_and(|h| h.contains("FILE")));
        // Bundled modules: listed by :help, :fns and :help MODULE.
        assert!(help(&names()).contains("stores"));
        assert!(fns(Some("stores"), &names()).is_ok_and(|h| h.contains("stores::import_csv(path, options)")));
        assert!(help_for("audit", &names()).is_ok_and(|h| h.contains("audit::merchant(max_secs)")));
    }

    #[test]
    fn fns_lists_by_module() {
        let all = fns(None, &names()).unwrap_or_default();
        assert!(
            all.contains("store::get(poi_id) | store::get(map)")
                && all.contains("merchant::")
                && all.contains("sleep(seconds)")
        );
        let store = fns(Some("store"), &names()).unwrap_or_default();
        assert!(store.contains("store::list(offset, limit)") && !store.contains("merchant::"), "{store}");
        assert!(fns(Some("stor"), &names()).is_err_and(|e| e.contains("did you mean store?")));
    }

    #[test]
    fn vars_and_saved_scripts() {
        let x = Dynamic::from(42_i64);
        let s = Dynamic::from("门店");
        let v = vars([("x", false, &x), ("name", true, &s)]);
        assert_eq!(v, "  x             int     42\n  name (const)  string  \"门店\"\n");
        assert_eq!(vars([]), "no variables yet\n");
        let lines = vec!["let x = 1".to_string(), "fn f(a) {\n  a + 1\n}".to_string(), "print(f(x));".to_string()];
        assert_eq!(
            script(&lines),
            "// Saved from a wxscript REPL session.\nlet x = 1;\nfn f(a) {\n  a + 1\n}\nprint(f(x));\n"
        );
    }
}
