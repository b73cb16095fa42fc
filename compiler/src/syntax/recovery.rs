//! Finding more than one syntax error per file. pest stops at the first
//! error; to report the next ones, the statement holding that error is
//! blanked out (replaced by spaces, so every offset stays the same) and the
//! file is parsed again. A statement is a line that starts with a keyword or
//! step kind, up to the next such line at the same or a shallower
//! indentation. A region whose brackets do not balance is never blanked:
//! better one true error than a cascade of invented ones.

use crate::types::StepKind;

/// Words that start an item or a statement when they begin a line, besides
/// the step kinds.
const KEYWORDS: [&str; 6] = ["import", "pipeline", "target", "template", "param", "for"];

/// Every word that starts an item or a statement when it begins a line: the
/// keywords, then the step kinds.
pub fn starters() -> impl Iterator<Item = &'static str> {
    KEYWORDS.into_iter().chain(StepKind::ALL.map(StepKind::as_str))
}

/// How many syntax errors one file reports at most.
pub const MAX_SYNTAX_ERRORS: usize = 10;

struct Line {
    start: usize,
    end: usize,
    indent: usize,
    starts_statement: bool,
}

fn lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut start = 0;
    for piece in text.split_inclusive('\n') {
        let end = start + piece.len();
        let trimmed = piece.trim_start_matches([' ', '\t']);
        let indent = piece.len() - trimmed.len();
        let word: String = trimmed
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let rest = trimmed[word.len()..].trim_start_matches([' ', '\t']);
        // `step = 1` is an attribute named like a kind, not a statement.
        let starts_statement = starters().any(|s| s == word) && !rest.starts_with('=');
        out.push(Line {
            start,
            end,
            indent,
            starts_statement,
        });
        start = end;
    }
    out
}

/// The byte range of the statement around `offset`, if it can be blanked safely.
pub fn statement_around(text: &str, offset: usize) -> Option<std::ops::Range<usize>> {
    let lines = lines(text);
    let at = lines
        .iter()
        .position(|l| l.start <= offset && offset < l.end.max(l.start + 1))?;
    let first = (0..=at).rev().find(|&i| lines[i].starts_statement)?;
    let indent = lines[first].indent;
    let last = lines[at + 1..]
        .iter()
        .position(|l| {
            let line = &text[l.start..l.end];
            let closes_parent = line.trim_start().starts_with('}') && l.indent < indent;
            (l.starts_statement && l.indent <= indent) || closes_parent
        })
        .map_or(lines.len(), |i| at + 1 + i);
    let range = lines[first].start..lines.get(last).map_or(text.len(), |l| l.start);
    balanced(&text[range.clone()]).then_some(range)
}

/// Whether brackets balance in `text`, strings and comments aside.
fn balanced(text: &str) -> bool {
    let mut stack = Vec::new();
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => stack.push(c),
            ')' | ']' | '}' => {
                let open = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if stack.pop() != Some(open) {
                    return false;
                }
            }
            _ => {}
        }
    }
    stack.is_empty() && !in_string
}

/// `text` with `range` replaced by spaces (line breaks kept), byte for byte.
pub fn blank(text: &str, range: std::ops::Range<usize>) -> String {
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..range.start]);
    for c in text[range.clone()].chars() {
        if c == '\n' {
            out.push('\n');
        } else {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    }
    out.push_str(&text[range.end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_statement_and_refuses_unbalanced_regions() {
        let text = "pipeline p {\n  step a {\n    image = \n  }\n  step b { image = \"x\" }\n}\n";
        let offset = text.find("\n  }").expect("offset");
        let range = statement_around(text, offset).expect("a statement");
        assert_eq!(&text[range.clone()], "  step a {\n    image = \n  }\n");
        let blanked = blank(text, range);
        assert_eq!(blanked.len(), text.len());
        assert!(blanked.contains("step b"));
        // A step whose `}` is missing cannot be blanked without unbalancing the file.
        let text = "pipeline p {\n  step a {\n    image = \"x\"\n  step b { }\n";
        let offset = text.find("image").expect("offset");
        assert_eq!(statement_around(text, offset), None);
    }
}
