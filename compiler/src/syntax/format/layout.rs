//! Rows: the lines of a block body, a multi-line map, list, argument list or
//! parameter list, and how they become text — indentation, blank lines,
//! `=` / `:` alignment and trailing comments.
//!
//! Alignment works on runs: consecutive rows of the same alignable kind
//! (single-line entries, or single-line params). A blank line, a multi-line
//! row or a row of another kind ends a run; an own-line comment does not.

use super::Printer;
use super::comments::{Pending, blank_before};

pub(super) const INDENT: &str = "  ";
pub(super) const MAX_WIDTH: usize = 100;

pub(super) fn indent(level: usize) -> String {
    INDENT.repeat(level)
}

/// Display width, counted in characters.
pub(super) fn width(s: &str) -> usize {
    s.chars().count()
}

/// The column after `text` when it is printed from column `col`.
pub(super) fn column_after(col: usize, text: &str) -> usize {
    match text.rfind('\n') {
        Some(i) => width(&text[i + 1..]),
        None => col + width(text),
    }
}

pub(super) enum Kind {
    /// An own-line comment.
    Comment(String),
    /// A single-line `key = value` or `key { ... }`.
    Entry { key: String, block: bool, value: String },
    /// A single-line `param name : type = default`.
    Param {
        name: String,
        ty: String,
        default: Option<String>,
    },
    /// Anything else; lines after the first carry their own indentation.
    Text(String),
}

pub(super) struct Row {
    /// The source had a blank line before this row.
    pub(super) blank: bool,
    pub(super) kind: Kind,
    pub(super) trailing: Option<String>,
}

impl Printer<'_> {
    /// An own-line comment, after a blank line if it had one in the source.
    pub(super) fn comment_row(&self, comment: Pending) -> Row {
        Row {
            blank: blank_before(self.src, comment.start),
            kind: Kind::Comment(comment.text),
            trailing: None,
        }
    }

    /// Pushes the rows of one element spanning `start..end`: the comments
    /// before it, the comments left inside it once `build` has placed what it
    /// could (moved to just before it), then the element with its trailing comment.
    pub(super) fn slot(
        &mut self,
        rows: &mut Vec<Row>,
        start: usize,
        end: usize,
        build: impl FnOnce(&mut Self) -> Kind,
    ) {
        for c in self.comments.take_before(start) {
            rows.push(self.comment_row(c));
        }
        let kind = build(self);
        // A hoisted comment takes the element's blank line so that the two stay together.
        let mut blank = blank_before(self.src, start);
        for c in self.comments.take_before(end) {
            rows.push(Row {
                blank: std::mem::take(&mut blank),
                kind: Kind::Comment(c.text),
                trailing: None,
            });
        }
        let trailing = self.comments.take_trailing(self.src, end);
        rows.push(Row { blank, kind, trailing });
    }

    /// `open` rows `close`, with the rows one level deeper than `level`.
    /// `open_at` is the offset of the opening bracket (for a comment after it
    /// on the same line); `close_at` that of the closing one (comments before
    /// it stay inside). `comma` puts a comma after every element row.
    pub(super) fn bracketed(
        &mut self,
        (open, close): (&str, &str),
        open_at: Option<usize>,
        close_at: Option<usize>,
        level: usize,
        comma: bool,
        fill: impl FnOnce(&mut Self, &mut Vec<Row>),
    ) -> String {
        // A comment after the opening bracket stays there, unless earlier
        // comments are still waiting: they come first, so it goes on its own line.
        let open_comment = open_at
            .filter(|&at| !self.comments.pending_before(at))
            .and_then(|at| self.comments.take_trailing(self.src, at + 1));
        let mut rows = Vec::new();
        fill(self, &mut rows);
        if let Some(close_at) = close_at {
            for c in self.comments.take_before(close_at) {
                rows.push(self.comment_row(c));
            }
        }
        if rows.is_empty() && open_comment.is_none() {
            return format!("{open}{close}");
        }
        let mut text = open.to_string();
        if let Some(comment) = open_comment {
            text.push_str(INDENT);
            text.push_str(&comment);
        }
        text.push_str(&render_rows(&rows, level + 1, comma));
        text.push('\n');
        text.push_str(&indent(level));
        text.push_str(close);
        text
    }
}

/// Each row on its own line at `level`, every line preceded by `\n`.
pub(super) fn render_rows(rows: &[Row], level: usize, comma: bool) -> String {
    let (key_width, type_width) = alignment(rows);
    let pad = indent(level);
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        // No blank line right after an opening bracket (nor at the top of the file).
        if row.blank && i > 0 {
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&pad);
        let is_comment = matches!(row.kind, Kind::Comment(_));
        match &row.kind {
            Kind::Comment(text) | Kind::Text(text) => out.push_str(text),
            Kind::Entry { key, block, value } => {
                out.push_str(key);
                out.push_str(&" ".repeat(key_width[i].saturating_sub(width(key))));
                out.push_str(if *block { " " } else { " = " });
                out.push_str(value);
            }
            Kind::Param { name, ty, default } => {
                out.push_str("param ");
                out.push_str(name);
                out.push_str(&" ".repeat(key_width[i].saturating_sub(width(name))));
                out.push_str(" : ");
                out.push_str(ty);
                if let Some(default) = default {
                    out.push_str(&" ".repeat(type_width[i].saturating_sub(width(ty))));
                    out.push_str(" = ");
                    out.push_str(default);
                }
            }
        }
        if comma && !is_comment {
            out.push(',');
        }
        if let Some(comment) = &row.trailing {
            out.push_str(INDENT);
            out.push_str(comment);
        }
    }
    out
}

/// For every row, the width its key (or param name) is padded to, and for
/// params with a default, the width of the type: the widest in its run.
fn alignment(rows: &[Row]) -> (Vec<usize>, Vec<usize>) {
    let mut key_width = vec![0; rows.len()];
    let mut type_width = vec![0; rows.len()];
    let mut run: Vec<usize> = Vec::new();
    let mut run_tag = 0;
    let mut close = |run: &mut Vec<usize>| {
        let keys = run.iter().filter_map(|&i| rows.get(i).map(key_of)).max().unwrap_or(0);
        let types = run
            .iter()
            .filter_map(|&i| rows.get(i).and_then(type_of))
            .max()
            .unwrap_or(0);
        for &i in run.iter() {
            key_width[i] = keys;
            type_width[i] = types;
        }
        run.clear();
    };
    for (i, row) in rows.iter().enumerate() {
        let tag = match row.kind {
            Kind::Comment(_) => 0,
            Kind::Entry { .. } => 1,
            Kind::Param { .. } => 2,
            Kind::Text(_) => 3,
        };
        if row.blank || tag == 3 || (tag != 0 && tag != run_tag) {
            close(&mut run);
            run_tag = 0;
        }
        if tag == 1 || tag == 2 {
            run.push(i);
            run_tag = tag;
        }
    }
    close(&mut run);
    (key_width, type_width)
}

fn key_of(row: &Row) -> usize {
    match &row.kind {
        Kind::Entry { key, .. } => width(key),
        Kind::Param { name, .. } => width(name),
        Kind::Comment(_) | Kind::Text(_) => 0,
    }
}

/// The type's width, for params whose `=` is aligned (those with a default).
fn type_of(row: &Row) -> Option<usize> {
    match &row.kind {
        Kind::Param {
            ty, default: Some(_), ..
        } => Some(width(ty)),
        _ => None,
    }
}
