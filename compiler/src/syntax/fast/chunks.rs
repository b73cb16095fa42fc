//! A large pipeline body parsed in chunks, one thread each. The text is cut
//! at lines that look like the start of a statement (`step NAME`, `param`,
//! `for`, any step kind); each chunk is parsed from its cut as if a body
//! started there, up to the next cut. A chunk's result is used only when the
//! chunk before it stopped at a statement that starts exactly at the cut: the
//! parser's state at a statement boundary of a pipeline body is its position
//! alone, so the chunk then built what one parser going through the whole
//! body would have built, spans included. A cut inside a string, a `for`
//! body or a multi-line expression is never such a boundary, and the chunk
//! before it simply parses on. The result does not depend on the number of
//! threads, and the fast parser reports no diagnostics, so their order is
//! not at stake.

use super::{Parser, Stmt};
use crate::types::StepKind;

/// Bytes of body per thread below which one thread parses it alone: starting
/// a thread costs about as much as parsing a few kilobytes.
const MIN_CHUNK: usize = 256 * 1024;

/// The most threads a body is split over.
const MAX_THREADS: usize = 8;

/// The statements of the block at the parser's position, to its closing `}`.
pub(super) fn stmts(p: &mut Parser) -> Option<Vec<Stmt>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_THREADS);
    split(p, threads, MIN_CHUNK)
}

fn split(p: &mut Parser, threads: usize, min_chunk: usize) -> Option<Vec<Stmt>> {
    let from = p.tok.start;
    let limit = p.lex.limit();
    let chunks = threads.min((limit - from) / min_chunk);
    let mut cuts: Vec<usize> = Vec::new();
    for k in 1..chunks {
        let near = from + (limit - from) * k / chunks;
        if let Some(cut) = statement_line_after(p.text, near, limit)
            && cuts.last().is_none_or(|&last| cut > last)
        {
            cuts.push(cut);
        }
    }
    if cuts.is_empty() {
        return p.stmts();
    }
    let (file, text) = (p.file, p.text);
    std::thread::scope(|scope| {
        let handles: Vec<_> = cuts
            .iter()
            .enumerate()
            .map(|(i, &cut)| {
                let stop = cuts.get(i + 1).copied();
                scope.spawn(move || {
                    let mut chunk = Parser::new(file, text, cut, limit);
                    let stmts = chunk.stmts_until(stop);
                    (stmts, chunk)
                })
            })
            .collect();
        let (mut body, mut at_cut) = p.stmts_until(Some(cuts[0]))?;
        for handle in handles {
            let (stmts, chunk) = handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            if !at_cut {
                // An earlier parser went past this cut: it has the rest.
                continue;
            }
            // The chunk started at a real statement boundary, so if it
            // failed, one parser through the whole body fails there too.
            let (stmts, stopped) = stmts?;
            body.extend(stmts);
            p.lex.restore(chunk.lex.clone_state());
            p.tok = chunk.tok;
            p.prev_end = chunk.prev_end;
            at_cut = stopped;
        }
        Some(body)
    })
}

/// The start of the first line after `near` whose first word opens a
/// statement of a pipeline body (`param`, `for` or a step kind, then a
/// space), or `None` before `limit`.
fn statement_line_after(text: &str, near: usize, limit: usize) -> Option<usize> {
    let bytes = &text.as_bytes()[..limit];
    let mut i = near;
    loop {
        i += bytes[i..].iter().position(|&b| b == b'\n')? + 1;
        let start = i + bytes[i..].iter().position(|&b| b != b' ' && b != b'\t')?;
        let word_end = start
            + bytes[start..]
                .iter()
                .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))?;
        let word = &text[start..word_end];
        let opens = word == "param" || word == "for" || StepKind::parse(word).is_some();
        if opens && bytes[word_end] == b' ' {
            return Some(start);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Parser, Tok};
    use crate::source::FileId;

    /// A body cut into chunks parses to the tree one parser builds, whether
    /// the cuts fall on statements or not (inside a string, a `for` body, a
    /// multi-line list).
    #[test]
    fn chunks_build_the_tree_one_parser_builds() {
        let mut text = String::from("pipeline p {\n  param n : int = 1\n");
        for i in 0..300 {
            text.push_str(&format!(
                "  step s{i} {{\n    command = [\"echo\", \"\n  step x {{ }}\",\n  \"x\"]\n  }}\n  for r in [\"a\"] {{\n    step t{i} {{ command = [\"true\"] }}\n  }}\n"
            ));
        }
        text.push_str("}\n");
        let body = |threads: usize| {
            let mut p = Parser::new(FileId(0), &text, 0, text.len());
            p.bump();
            p.ident().expect("name");
            p.eat(Tok::LBrace).expect("brace");
            let stmts = super::split(&mut p, threads, 512).expect("statements");
            assert_eq!(p.tok.kind, Tok::RBrace, "the parser ends at the body's `}}`");
            (stmts, p.prev_end)
        };
        let whole = body(1);
        assert_eq!(whole.0.len(), 601);
        for threads in [2, 3, 8, 64] {
            assert!(body(threads) == whole, "{threads} threads");
        }
    }
}
