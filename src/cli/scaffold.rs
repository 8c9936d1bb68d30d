//! `wxscript new NAME`: a recipe skeleton that runs as written and shows the house style
//! (header comment, arguments declared with `args` and a usage message, try/catch, a dry-run hint).

/// `s` as one shell word: as it is when plain, else single-quoted.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || "._/-+=:,@".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The skeleton for a recipe called `name` (its file stem).
pub fn recipe(name: &str) -> String {
    // As typed in a shell, and that inside the script's USAGE string literal.
    let file = shell_word(&format!("{name}.rhai"));
    let usage_file = file.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        r#"// {name}: <say in one line what this recipe does>
//
// Needs:   WECHAT_APPID and WECHAT_APPSECRET of an official account with the store
//          mini-program (or --sandbox to rehearse on the simulator).
// Run:     wxscript run --sandbox {file} --arg limit=5
//          wxscript run --dry-run {file}      (shows every write instead of sending it)
//          wxscript run {file} --help         (this header and the arguments)

const USAGE = "usage: wxscript run {usage_file} [--arg limit=N]";

// The arguments, declared once: args() gives their values and ends the run as a usage error
// (exit 2, like a bad flag) for an unknown or malformed one; --help prints them. A value that
// is sample data goes under `sample:` (only the simulator gets it; a real account must pass it).
let a = ();
try {{
    a = args(#{{
        limit: #{{help: "how many stores to show, 1 to 50", type: "int", default_value: 10}},
    }});
}} catch (e) {{
    if e.kind != "usage" {{ throw e; }}
    usage(`${{e.errmsg}}; ${{USAGE}}`);
}}
if a.limit < 1 || a.limit > 50 {{ usage(`limit must be 1 to 50; ${{USAGE}}`); }}
let limit = a.limit;

try {{
    let page = store::list(0, limit);
    print(`${{page.total_count}} store(s); the first ${{page.business_list.len()}}:`);
    for s in page.business_list {{
        print(`  ${{s.poi_id}}  ${{s.business_name}}  ${{s.open_time}}`);
    }}
}} catch (e) {{
    // e is #{{kind, api, errcode, errmsg, hint}}. Handle what you can here; anything else,
    // thrown on, ends the run with its hint (exit 1).
    if e.kind == "network" {{
        print(`cannot reach WeChat (${{e.errmsg}}): nothing was changed, run this recipe again later`);
        return;
    }}
    throw e;
}}
"#
    )
}
