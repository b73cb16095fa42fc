//! Expressions, entries and maps. An expression prints on one line when it
//! may ([`Printer::flat`]: no comment inside its brackets, no map nested in a
//! map) and fits in [`MAX_WIDTH`]; otherwise its lists, maps and argument
//! lists break one element per line, recursively, each trying one line again.
//! The decision depends only on the tree and its comments, never on the
//! input's line breaks, which is what makes formatting idempotent.

use super::Printer;
use super::comments::find_token;
use super::layout::{Kind, MAX_WIDTH, Row, column_after, width};
use crate::source::Span;
use crate::syntax::ast::{Arg, Entry, Expr, ExprKind, Key, LogicOp};

impl Printer<'_> {
    /// `e` printed from column `col` on a line indented `level` deep, with
    /// `tail` more characters to follow it on the same line.
    pub(super) fn expr(&mut self, e: &Expr, level: usize, col: usize, tail: usize) -> String {
        if let Some(text) = self.flat(e)
            && col + width(&text) + tail <= MAX_WIDTH
        {
            return text;
        }
        match &e.kind {
            ExprKind::Number { .. } | ExprKind::Bool { .. } | ExprKind::Str { .. } => {
                self.src[e.span.range()].to_string()
            }
            ExprKind::Ident(name) => name.clone(),
            ExprKind::Star => "*".to_string(),
            ExprKind::List(items) => {
                let (open, close) = brackets(e.span);
                self.bracketed(("[", "]"), Some(open), Some(close), level, true, |p, rows| {
                    for item in items {
                        let (start, end) = (item.span.start as usize, item.span.end as usize);
                        p.slot(rows, start, end, |p| {
                            Kind::Text(p.expr(item, level + 1, (level + 1) * 2, 1))
                        });
                    }
                })
            }
            ExprKind::Map(entries) => {
                let (open, close) = brackets(e.span);
                self.entries_block(entries, Some(open), Some(close), level)
            }
            ExprKind::Call(callee, args) => {
                let head = self.expr(callee, level, col, 1);
                let open = find_token(self.src, callee.span.end as usize, b'(');
                let close = (e.span.end as usize).checked_sub(1);
                let body = self.bracketed(("(", ")"), open, close, level, true, |p, rows| {
                    for arg in args {
                        p.slot(rows, arg_start(arg), arg.value.span.end as usize, |p| {
                            Kind::Text(p.arg(arg, level + 1))
                        });
                    }
                });
                head + &body
            }
            ExprKind::Field(base, name) => {
                let base = self.expr(base, level, col, tail + 1 + width(&name.name));
                format!("{base}.{}", name.name)
            }
            ExprKind::Index(base, index) => {
                let base = self.expr(base, level, col, 1);
                let index = self.expr(index, level, column_after(col, &base) + 1, tail + 1);
                format!("{base}[{index}]")
            }
            ExprKind::Compare(op, left, right) => self.binary(op.as_str(), left, right, level, col, tail),
            ExprKind::Logic(op, left, right) => self.binary(logic(*op), left, right, level, col, tail),
            ExprKind::Not(inner) => format!("not {}", self.expr(inner, level, col + 4, tail)),
            ExprKind::Paren(inner) => format!("({})", self.expr(inner, level, col + 1, tail + 1)),
        }
    }

    fn binary(&mut self, op: &str, left: &Expr, right: &Expr, level: usize, col: usize, tail: usize) -> String {
        let left = self.expr(left, level, col, 0);
        let right = self.expr(right, level, column_after(col, &left) + op.len() + 2, tail);
        format!("{left} {op} {right}")
    }

    /// An argument of a broken argument list, on its own line at `level`.
    fn arg(&mut self, arg: &Arg, level: usize) -> String {
        match &arg.name {
            Some(name) => {
                let col = level * 2 + width(&name.name) + 3;
                format!("{} = {}", name.name, self.expr(&arg.value, level, col, 1))
            }
            None => self.expr(&arg.value, level, level * 2, 1),
        }
    }

    /// The one-line form of `e`, or `None` if it must break: a comment inside
    /// its brackets (it needs a line of its own) or a map that may not be inline.
    pub(super) fn flat(&self, e: &Expr) -> Option<String> {
        let mut out = String::new();
        self.write_flat(e, &mut out).then_some(out)
    }

    /// Appends the one-line form of `e` to `out`; false if there is none.
    /// Written into one buffer, without temporaries, to keep the stack frame
    /// small: a chain of `not`s or `.field`s nests as deep as it is long.
    fn write_flat(&self, e: &Expr, out: &mut String) -> bool {
        match &e.kind {
            ExprKind::Number { .. } | ExprKind::Bool { .. } | ExprKind::Str { .. } => {
                out.push_str(&self.src[e.span.range()])
            }
            ExprKind::Ident(name) => out.push_str(name),
            ExprKind::Star => out.push('*'),
            ExprKind::List(items) => {
                if self.comments.any_in(e.span.start as usize, e.span.end as usize) {
                    return false;
                }
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if !self.write_flat(item, out) {
                        return false;
                    }
                }
                out.push(']');
            }
            ExprKind::Map(entries) => match self.flat_map(entries, e.span.start as usize, e.span.end as usize) {
                Some(map) => out.push_str(&map),
                None => return false,
            },
            ExprKind::Call(callee, args) => {
                let open = find_token(self.src, callee.span.end as usize, b'(').unwrap_or(callee.span.end as usize);
                if self.comments.any_in(open, e.span.end as usize) || !self.write_flat(callee, out) {
                    return false;
                }
                out.push('(');
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if let Some(name) = &arg.name {
                        out.push_str(&name.name);
                        out.push_str(" = ");
                    }
                    if !self.write_flat(&arg.value, out) {
                        return false;
                    }
                }
                out.push(')');
            }
            ExprKind::Field(base, name) => {
                if !self.write_flat(base, out) {
                    return false;
                }
                out.push('.');
                out.push_str(&name.name);
            }
            ExprKind::Index(base, index) => {
                if !self.write_flat(base, out) {
                    return false;
                }
                out.push('[');
                if !self.write_flat(index, out) {
                    return false;
                }
                out.push(']');
            }
            ExprKind::Compare(op, left, right) => return self.write_infix(left, op.as_str(), right, out),
            ExprKind::Logic(op, left, right) => return self.write_infix(left, logic(*op), right, out),
            ExprKind::Not(inner) => {
                out.push_str("not ");
                return self.write_flat(inner, out);
            }
            ExprKind::Paren(inner) => {
                out.push('(');
                if !self.write_flat(inner, out) {
                    return false;
                }
                out.push(')');
            }
        }
        true
    }

    fn write_infix(&self, left: &Expr, op: &str, right: &Expr, out: &mut String) -> bool {
        if !self.write_flat(left, out) {
            return false;
        }
        out.push(' ');
        out.push_str(op);
        out.push(' ');
        self.write_flat(right, out)
    }

    /// `{ a = 1, b = 2 }` for a small map: no comment in `lo..hi`, no map inside.
    pub(super) fn flat_map(&self, entries: &[Entry], lo: usize, hi: usize) -> Option<String> {
        if self.comments.any_in(lo, hi) || entries.iter().any(|e| contains_map(&e.value)) {
            return None;
        }
        if entries.is_empty() {
            return Some("{}".to_string());
        }
        let entries: Option<Vec<String>> = entries
            .iter()
            .map(|e| Some(format!("{} = {}", self.key(&e.key), self.flat(&e.value)?)))
            .collect();
        Some(format!("{{ {} }}", entries?.join(", ")))
    }

    /// A map one entry per line, the entries aligned. `open_at` / `close_at`
    /// are the offsets of its braces when known.
    pub(super) fn entries_block(
        &mut self,
        entries: &[Entry],
        open_at: Option<usize>,
        close_at: Option<usize>,
        level: usize,
    ) -> String {
        self.bracketed(("{", "}"), open_at, close_at, level, false, |p, rows| {
            for entry in entries {
                p.entry_row(rows, entry, level + 1);
            }
        })
    }

    /// The offset of the `}` closing a body whose last entry (if any) is in
    /// `entries` and whose `{` is at `open_at`.
    pub(super) fn close_of(&self, entries: &[Entry], open_at: Option<usize>) -> Option<usize> {
        let from = match entries.last() {
            Some(last) => last.value.span.end as usize,
            None => open_at? + 1,
        };
        find_token(self.src, from, b'}')
    }

    pub(super) fn entry_row(&mut self, rows: &mut Vec<Row>, entry: &Entry, level: usize) {
        let (start, end) = (entry.span.start as usize, entry.value.span.end as usize);
        self.slot(rows, start, end, |p| {
            let key = p.key(&entry.key);
            let sep = if entry.block { " " } else { " = " };
            let flat = p.flat(&entry.value);
            let value = p.expr(&entry.value, level, level * 2 + width(&key) + sep.len(), 0);
            if flat.as_deref() == Some(value.as_str()) {
                Kind::Entry {
                    key,
                    block: entry.block,
                    value,
                }
            } else {
                Kind::Text(format!("{key}{sep}{value}"))
            }
        });
    }

    /// A key as written: a quoted key keeps its exact source text.
    pub(super) fn key(&self, key: &Key) -> String {
        if key.quoted {
            self.slice(key.span)
        } else {
            key.name.clone()
        }
    }

    pub(super) fn slice(&self, span: Span) -> String {
        self.src.get(span.range()).unwrap_or_default().to_string()
    }
}

/// The offsets of the brackets of a list or map, which its span starts and ends with.
fn brackets(span: Span) -> (usize, usize) {
    (span.start as usize, (span.end as usize).saturating_sub(1))
}

fn arg_start(arg: &Arg) -> usize {
    arg.name.as_ref().map_or(arg.value.span.start, |n| n.span.start) as usize
}

fn logic(op: LogicOp) -> &'static str {
    match op {
        LogicOp::And => "and",
        LogicOp::Or => "or",
    }
}

/// Whether a map occurs anywhere in `e` (outside string literals).
fn contains_map(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Map(_) => true,
        ExprKind::List(items) => items.iter().any(contains_map),
        ExprKind::Call(callee, args) => contains_map(callee) || args.iter().any(|a| contains_map(&a.value)),
        ExprKind::Field(inner, _) | ExprKind::Not(inner) | ExprKind::Paren(inner) => contains_map(inner),
        ExprKind::Index(a, b) | ExprKind::Compare(_, a, b) | ExprKind::Logic(_, a, b) => {
            contains_map(a) || contains_map(b)
        }
        ExprKind::Number { .. }
        | ExprKind::Str { .. }
        | ExprKind::Bool { .. }
        | ExprKind::Ident(_)
        | ExprKind::Star => false,
    }
}
