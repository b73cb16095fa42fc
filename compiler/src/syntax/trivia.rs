//! What the grammar skips: comments (collected here for the formatter) and
//! the nesting check that runs before any recursive stage.

use super::ast::Comment;
use crate::source::{FileId, Span};

/// What one pass over the text finds outside the grammar's tokens.
pub(super) struct Trivia {
    pub comments: Vec<Comment>,
    /// Where bracket nesting (`(`, `[`, `{` and `${`) first exceeds
    /// [`MAX_NESTING`](super::limits::MAX_NESTING), if it does.
    pub too_deep_at: Option<usize>,
}

/// Finds every `#` comment and checks bracket nesting, in one scan that knows
/// strings and `${...}` interpolations (where a `#` is a comment again).
pub(super) fn scan(file: FileId, text: &str) -> Trivia {
    #[derive(PartialEq)]
    enum Mode {
        Code,
        Str,
    }
    let bytes = text.as_bytes();
    let mut comments = Vec::new();
    let mut too_deep_at = None;
    // Each level: the mode, and for code inside `${`, its open brackets.
    let mut stack: Vec<(Mode, usize)> = vec![(Mode::Code, 0)];
    // Open brackets in all levels, plus one per open `${`.
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let top = stack.len() - 1;
        match stack[top].0 {
            Mode::Str => match b {
                b'\\' => i += 1,
                b'"' => {
                    stack.pop();
                }
                b'$' if bytes.get(i + 1) == Some(&b'$') && bytes.get(i + 2) == Some(&b'{') => i += 2,
                b'$' if bytes.get(i + 1) == Some(&b'{') => {
                    stack.push((Mode::Code, 0));
                    depth += 1;
                    i += 1;
                }
                _ => {}
            },
            Mode::Code => match b {
                b'"' => stack.push((Mode::Str, 0)),
                b'#' => {
                    let start = i;
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                    let comment = text[start..i].trim_end_matches('\r');
                    comments.push(Comment {
                        text: comment.to_string(),
                        span: Span::new(file, start, start + comment.len()),
                    });
                    continue;
                }
                b'(' | b'[' | b'{' => {
                    stack[top].1 += 1;
                    depth += 1;
                }
                b'}' if stack[top].1 == 0 && stack.len() > 1 => {
                    // The `}` that closes a `${`.
                    stack.pop();
                    depth = depth.saturating_sub(1);
                }
                b')' | b']' | b'}' => {
                    stack[top].1 = stack[top].1.saturating_sub(1);
                    depth = depth.saturating_sub(1);
                }
                _ => {}
            },
        }
        if stack.is_empty() {
            stack.push((Mode::Code, 0));
        }
        if depth > super::limits::MAX_NESTING && too_deep_at.is_none() {
            too_deep_at = Some(i);
        }
        i += 1;
    }
    Trivia { comments, too_deep_at }
}
