//! When Enter runs the input and when it only starts another line: an open brace, bracket,
//! parenthesis or string (a backtick string, or a double-quoted one whose line ends in `\`)
//! at the end of the input continues it; any other syntax error runs, and is reported the way
//! `wxscript run` reports it.

use rhai::{Engine, LexError, ParseErrorType};

/// Whether `input` is an unfinished script (more lines would complete it).
pub fn incomplete(engine: &Engine, input: &str) -> bool {
    if input.trim().is_empty() || input.trim_start().starts_with(':') {
        return false;
    }
    let Err(err) = engine.compile(input) else { return false };
    match &*err.0 {
        ParseErrorType::UnexpectedEOF => true,
        ParseErrorType::BadInput(LexError::UnterminatedString) => string_continues(input, err.1),
        // A missing closer only means "unfinished" at the very end, not in the middle.
        ParseErrorType::MissingToken(..)
        | ParseErrorType::MissingSymbol(..)
        | ParseErrorType::ExprExpected(..)
        | ParseErrorType::VariableExpected
        | ParseErrorType::PropertyExpected => at_end(input, err.1),
        _ => false,
    }
}

/// Whether an unterminated string may go on: a backtick string spans lines; a double-quoted
/// one only across a line ending in `\` (rhai's line continuation). Anything else would wait
/// for a closing quote that can no longer make the input valid, swallowing every later line.
fn string_continues(input: &str, pos: rhai::Position) -> bool {
    let opener = pos
        .line()
        .and_then(|l| input.lines().nth(l - 1))
        .and_then(|line| line.chars().nth(pos.position().unwrap_or(1).saturating_sub(1)));
    match opener {
        Some('`') => true,
        _ => input.ends_with('\\'),
    }
}

/// Whether a parse position lies at or after the last non-blank character of `input`.
fn at_end(input: &str, pos: rhai::Position) -> bool {
    let Some(line) = pos.line() else { return true };
    let trimmed = input.trim_end();
    let last_line = trimmed.lines().count().max(1);
    if line != last_line {
        return line > last_line;
    }
    let last_len = trimmed.lines().last().map(|l| l.chars().count()).unwrap_or(0);
    pos.position().is_none_or(|col| col > last_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfinished_input_continues() {
        let e = crate::runtime::parser_engine();
        for s in [
            "store::add(#{",
            "store::add(#{\n  map_poi_id: \"1\",",
            "let x = [1, 2,",
            "fn f(x) {",
            "if true { print(1);",
            "let s = `abc",
            "let s = `abc\ndef",
            "let s = \"abc\\",
            "let s = \"abc\\\ndef\\",
            "let x = ",
            "store::list(0,",
            "for s in store::all() {\n  print(s.poi_id);",
            "account::with(\"shop-a\", || {",
        ] {
            assert!(incomplete(&e, s), "{s:?} should continue");
        }
    }

    #[test]
    fn finished_or_wrong_input_runs() {
        let e = crate::runtime::parser_engine();
        for s in [
            "",
            "  ",
            ":help store::add",
            "1 + 2",
            "let x = 1;",
            "store::add(#{map_poi_id: 1})",
            "fn f(x) { x }",
            "let y = (2 + ;",
            "let = 3",
            "x)",
            "}",
            // A double-quoted string cannot hold a line break: report it rather than wait.
            "let s = \"abc",
            "let s = \"abc\ndef\";",
            "let s = \"abc\ndef\";\nprint(s);",
            "account::use(\"shop-a\")",
        ] {
            assert!(!incomplete(&e, s), "{s:?} should run (and report its error)");
        }
    }
}
