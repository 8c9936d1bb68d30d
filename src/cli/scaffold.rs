//! `wxscript new NAME`: a recipe skeleton that runs as written and shows the house style
//! (header comment, argument check with a usage message, try/catch, a dry-run hint).

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
// Args:    --arg limit=N     how many stores to show (default 10, at most 50)

const USAGE = "usage: wxscript run {usage_file} [--arg limit=N]";

// usage() ends the run as a usage error (exit 2), like a bad flag.
for key in ARGS.keys() {{
    if key != "limit" {{ usage(`unknown argument "${{key}}"; ${{USAGE}}`); }}
}}
let limit = 10;
if ARGS.limit != () {{
    try {{ limit = parse_int(ARGS.limit); }} catch {{ usage(`limit must be a number; ${{USAGE}}`); }}
    if limit < 1 || limit > 50 {{ usage(`limit must be 1 to 50; ${{USAGE}}`); }}
}}

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
