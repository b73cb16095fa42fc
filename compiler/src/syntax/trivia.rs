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

/// The bytes [`scan`] acts on in code: strings, comments and brackets.
const CODE_SPECIAL: [bool; 256] = byte_set(b"\"#()[]{}");
/// The bytes it acts on in a string: escapes, its end and `${`.
const STR_SPECIAL: [bool; 256] = byte_set(b"\\\"$");

const fn byte_set(bytes: &[u8]) -> [bool; 256] {
    let mut set = [false; 256];
    let mut k = 0;
    while k < bytes.len() {
        set[bytes[k] as usize] = true;
        k += 1;
    }
    set
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
        let top = stack.len() - 1;
        // Most bytes mean nothing here: skip to the next one that may.
        let special = match stack[top].0 {
            Mode::Code => &CODE_SPECIAL,
            Mode::Str => &STR_SPECIAL,
        };
        while i < bytes.len() && !special[usize::from(bytes[i])] {
            i += 1;
        }
        let Some(&b) = bytes.get(i) else { break };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn comments(text: &str) -> Vec<String> {
        scan(FileId(0), text).comments.into_iter().map(|c| c.text).collect()
    }

    #[test]
    fn comments_are_found_in_code_and_interpolations_not_in_strings() {
        assert_eq!(comments("a = 1 # one\r\nb = 2"), ["# one"]);
        assert_eq!(comments(r##"a = "# not" # yes"##), ["# yes"]);
        assert_eq!(comments(r##"a = "\"# still a string" # after"##), ["# after"]);
        assert_eq!(comments("a = \"${ x # inside\n}\" # out"), ["# inside", "# out"]);
        // `$${` is a literal `${`: what follows is still the string.
        assert_eq!(comments(r##"a = "$${ # no }" # end"##), ["# end"]);
        assert_eq!(comments("# only"), ["# only"]);
        assert!(comments("no comments { [ ( ) ] }").is_empty());
    }

    #[test]
    fn nesting_is_counted_across_strings_and_interpolations() {
        let deep = |n: usize| format!("{}{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(scan(FileId(0), &deep(MAX)).too_deep_at, None);
        assert_eq!(scan(FileId(0), &deep(MAX + 1)).too_deep_at, Some(MAX));
        // Brackets in a string do not count; a `${` does, and so does code in
        // it: the MAX-th `(` after `a = "${` (at 7) is one too deep.
        let in_string = format!("a = \"{}\"", "(".repeat(MAX + 5));
        assert_eq!(scan(FileId(0), &in_string).too_deep_at, None);
        let interpolated = format!("a = \"${{{}x{}}}\"", "(".repeat(MAX), ")".repeat(MAX));
        assert_eq!(scan(FileId(0), &interpolated).too_deep_at, Some(6 + MAX));
    }

    const MAX: usize = super::super::limits::MAX_NESTING;
}
