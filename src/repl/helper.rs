//! The rustyline side: completion, hints, validation, and colour (dim hints, the matching
//! bracket), each handed to the pure functions of the sibling modules.

use std::borrow::Cow;

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::{CmdKind, Highlighter, MatchingBracketHighlighter};
use rustyline::hint::{Hint, Hinter};
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use super::complete::{self, Names, Var};
use super::validate;

/// The editor's helper for one session.
pub struct ReplHelper {
    /// What Tab completes, refreshed after every line.
    pub names: Names,
    /// Variables in the session's scope, refreshed after every line.
    pub vars: Vec<Var>,
    /// Terminal width, refreshed before every prompt.
    pub width: usize,
    /// The prompt's width, which the first line of an entry follows.
    pub prompt_width: usize,
    /// Only parses: whether input is complete does not depend on what is registered.
    parser: rhai::Engine,
    files: FilenameCompleter,
    /// Shows the bracket matching the one at the cursor, on a colour terminal.
    brackets: MatchingBracketHighlighter,
    color: bool,
}

impl ReplHelper {
    pub fn new(names: Names, color: bool, prompt_width: usize) -> ReplHelper {
        ReplHelper {
            names,
            vars: Vec::new(),
            width: 80,
            prompt_width,
            // Parsing as the run does: `account::with("shop-a", || {` is unfinished, not wrong.
            parser: crate::runtime::parser_engine(),
            files: FilenameCompleter::new(),
            brackets: MatchingBracketHighlighter::new(),
            color,
        }
    }
}

/// A hint that is only shown: accepting it (Right arrow at the end) inserts nothing.
pub struct ShownHint(String);

impl Hint for ShownHint {
    fn display(&self) -> &str {
        &self.0
    }
    fn completion(&self) -> Option<&str> {
        None
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        if line.starts_with(":load ") || line.starts_with(":save ") {
            return self.files.complete(line, pos, ctx);
        }
        let (start, found) = complete::complete(&line[..pos], &self.names, &self.vars);
        Ok((start, found.into_iter().map(|s| Pair { display: s.clone(), replacement: s }).collect()))
    }
}

impl Hinter for ReplHelper {
    type Hint = ShownHint;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<ShownHint> {
        if pos < line.len() {
            return None;
        }
        // Room for the hint on the cursor's line, so it never wraps.
        let used = super::pretty::width(line.rsplit('\n').next().unwrap_or(line)) + self.prompt_width;
        let room = self.width.saturating_sub(used + 1);
        if room < 12 {
            return None;
        }
        complete::hint(&line[..pos], &self.names, room).map(ShownHint)
    }
}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, pos: usize) -> Cow<'l, str> {
        if self.color { self.brackets.highlight(line, pos) } else { Cow::Borrowed(line) }
    }

    fn highlight_char(&self, line: &str, pos: usize, kind: CmdKind) -> bool {
        self.color && self.brackets.highlight_char(line, pos, kind)
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color { Cow::Owned(format!("\x1b[2m{hint}\x1b[0m")) } else { Cow::Borrowed(hint) }
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if validate::incomplete(&self.parser, ctx.input()) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

impl Helper for ReplHelper {}
