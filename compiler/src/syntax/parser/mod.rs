//! Text to [`Module`]: the fast hand-written parser for well-formed files,
//! and the pest grammar (`wharf.pest`) for everything else. Syntax errors
//! become `syntax-error` diagnostics that name the tokens that would have been
//! accepted (`errors.rs`); bad literals become `invalid-literal` while the
//! pest parse tree is turned into the AST (`build/`).

mod build;
mod errors;

use super::ast::*;
use super::limits::MAX_NESTING;
use super::trivia::{Trivia, scan};
use crate::code::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::{FileId, Span};
use pest::Parser as _;

#[derive(pest_derive::Parser)]
#[grammar = "wharf.pest"]
struct Grammar;

/// Bytes from which the scan gets a thread of its own.
const SCAN_BESIDE: usize = 256 * 1024;

/// Parses one file. On a syntax error the module is `None` and the error is in `diags`.
///
/// Well-formed files go through the fast hand-written parser (`fast.rs`);
/// anything it declines goes through pest, the grammar of record, which
/// reports the errors. The scan for comments and nesting runs beside the
/// fast parser on a large file (the fast parser guards its own depth); a
/// tree is returned only if the scan accepts the file.
pub fn parse(file: FileId, text: &str, diags: &mut Diagnostics) -> Option<Module> {
    let (trivia, fast) = if text.len() >= SCAN_BESIDE {
        std::thread::scope(|scope| {
            let trivia = scope.spawn(|| scan(file, text));
            let fast = super::fast::parse(file, text);
            let trivia = trivia.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (trivia, fast)
        })
    } else {
        (scan(file, text), super::fast::parse(file, text))
    };
    if trivia.too_deep_at.is_none()
        && let Some(items) = fast
    {
        return Some(Module {
            items,
            comments: trivia.comments,
        });
    }
    pest_path(file, text, trivia, diags)
}

/// Parses one file with the pest grammar only (tests compare it with the fast path).
pub fn parse_with_pest(file: FileId, text: &str, diags: &mut Diagnostics) -> Option<Module> {
    pest_path(file, text, scan(file, text), diags)
}

fn pest_path(file: FileId, text: &str, trivia: Trivia, diags: &mut Diagnostics) -> Option<Module> {
    if let Some(offset) = trivia.too_deep_at {
        diags.push(
            Diagnostic::error(
                Code::TooDeeplyNested,
                Span::new(file, offset, offset + 1),
                format!("brackets nest more than {MAX_NESTING} levels deep here"),
            )
            .with_hint("split the expression or block into smaller pieces"),
        );
        return None;
    }
    let pairs = match Grammar::parse(Rule::file, text) {
        Ok(pairs) => pairs,
        Err(_) => {
            errors::report_syntax_errors(file, text, diags);
            return None;
        }
    };
    let root = pairs.into_iter().next()?;
    Some(build::module(file, text, root, trivia.comments, diags))
}

/// Compares the fast parser with pest on `text`: `Ok(true)` when the fast
/// parser accepted it and pest built the same tree without diagnostics,
/// `Ok(false)` when the fast parser declined (pest then decides), `Err` on
/// any disagreement. Used by the tests and the fuzzer.
#[doc(hidden)]
pub fn parsers_agree(text: &str) -> Result<bool, String> {
    let file = FileId(0);
    if scan(file, text).too_deep_at.is_some() {
        return Ok(false);
    }
    let Some(fast) = super::fast::parse(file, text) else {
        return Ok(false);
    };
    let mut diags = Diagnostics::default();
    match parse_with_pest(file, text, &mut diags) {
        Some(module) if diags.is_empty() && module.items == fast => Ok(true),
        Some(module) if diags.is_empty() => Err(format!(
            "the parsers built different trees:\nfast: {fast:#?}\npest: {:#?}",
            module.items
        )),
        _ => Err(format!(
            "the fast parser accepted what pest rejects: {:?}",
            diags.iter().map(|d| d.message.clone()).collect::<Vec<_>>()
        )),
    }
}
