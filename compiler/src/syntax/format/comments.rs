//! Comment bookkeeping and source scanning for the formatter.
//!
//! The AST keeps comments apart from the nodes, as a list with spans. The
//! printer walks the tree in source order and asks [`Comments`] for what lies
//! before a node ("leading"), what sits after it on the same line ("trailing"),
//! and what was left inside it ("hoisted"). Every comment is taken exactly once;
//! whatever is left at the end of the file is printed there, so no path drops one.
//!
//! Spans of statements and entries may run past their last token (pest keeps
//! the blanks and comments skipped before an optional part that was absent), so
//! the printer computes tight ends from child nodes and uses [`find_token`] to
//! locate brackets the AST has no span for.

use crate::syntax::ast::{Entry, Expr, ExprKind, Item, Module, StepDef, Stmt, TargetItem};
use std::collections::BTreeMap;

/// A comment waiting to be placed: where it started and its text (trailing blanks trimmed).
pub(super) struct Pending {
    pub(super) start: usize,
    pub(super) text: String,
}

pub(super) struct Comments {
    /// Comments not yet printed, by start offset.
    pending: BTreeMap<usize, String>,
    /// The start of every placeable comment, sorted; never shrinks, so that
    /// layout decisions do not depend on the order in which comments are taken.
    starts: Vec<usize>,
}

impl Comments {
    /// Every comment of `module` except those inside string literals: a
    /// comment within `"${ x # ... }"` is part of the literal, printed with it.
    pub(super) fn new(module: &Module) -> Comments {
        let literals = literal_ranges(module);
        let mut pending = BTreeMap::new();
        for comment in &module.comments {
            let start = comment.span.start as usize;
            let i = literals.partition_point(|&(lo, _)| lo <= start);
            let in_literal = i > 0 && literals.get(i - 1).is_some_and(|&(_, hi)| start < hi);
            if !in_literal {
                pending.insert(start, comment.text.trim_end().to_string());
            }
        }
        let starts = pending.keys().copied().collect();
        Comments { pending, starts }
    }

    /// Whether any placeable comment starts in `lo..hi`.
    pub(super) fn any_in(&self, lo: usize, hi: usize) -> bool {
        let i = self.starts.partition_point(|&s| s < lo);
        self.starts.get(i).is_some_and(|&s| s < hi)
    }

    /// Whether a comment that starts before `pos` is still waiting.
    pub(super) fn pending_before(&self, pos: usize) -> bool {
        self.pending.range(..pos).next().is_some()
    }

    /// Takes every pending comment that starts before `pos`, in source order.
    pub(super) fn take_before(&mut self, pos: usize) -> Vec<Pending> {
        let rest = self.pending.split_off(&pos);
        let taken = std::mem::replace(&mut self.pending, rest);
        taken.into_iter().map(|(start, text)| Pending { start, text }).collect()
    }

    /// Takes the pending comments that start in `lo..hi`, in source order.
    pub(super) fn take_between(&mut self, lo: usize, hi: usize) -> Vec<Pending> {
        let starts: Vec<usize> = self.pending.range(lo..hi.max(lo)).map(|(&s, _)| s).collect();
        starts
            .into_iter()
            .filter_map(|start| self.pending.remove(&start).map(|text| Pending { start, text }))
            .collect()
    }

    /// Takes the comment that follows `end` on the same line, with nothing but
    /// blanks and commas between: the trailing comment of whatever ends there.
    pub(super) fn take_trailing(&mut self, src: &str, end: usize) -> Option<String> {
        let (&start, _) = self.pending.range(end..).next()?;
        let gap = src.get(end..start)?;
        if gap.chars().all(|c| matches!(c, ' ' | '\t' | ',')) {
            self.pending.remove(&start)
        } else {
            None
        }
    }
}

/// Whether the line that holds `pos` is preceded by at least one blank line.
pub(super) fn blank_before(src: &str, pos: usize) -> bool {
    let bytes = src.as_bytes();
    let mut newlines = 0;
    let mut i = pos.min(bytes.len());
    while i > 0 {
        match bytes.get(i - 1) {
            Some(b'\n') => newlines += 1,
            Some(b' ' | b'\t' | b'\r') => {}
            _ => break,
        }
        i -= 1;
    }
    newlines >= 2
}

/// The offset of `want` if it is the next token at or after `from`, skipping
/// blanks, commas and comments; `None` if something else comes first.
pub(super) fn find_token(src: &str, from: usize, want: u8) -> Option<usize> {
    let bytes = src.as_bytes();
    let mut i = from;
    while let Some(&b) = bytes.get(i) {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' | b',' => i += 1,
            b'#' => {
                while bytes.get(i).is_some_and(|&b| b != b'\n') {
                    i += 1;
                }
            }
            _ if b == want => return Some(i),
            // The byte order mark counts as white space in the grammar.
            0xEF if src.get(i..).is_some_and(|rest| rest.starts_with('\u{feff}')) => i += 3,
            _ => return None,
        }
    }
    None
}

/// The byte ranges of every string literal (values, quoted keys, import
/// paths), outermost only, sorted and merged.
fn literal_ranges(module: &Module) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for item in &module.items {
        match item {
            Item::Import(import) => out.push(import.path_span.range()),
            Item::Pipeline(pipeline) => stmts(&pipeline.body, &mut out),
            Item::Target(target) => {
                for item in &target.items {
                    match item {
                        TargetItem::Entry(entry) => entries(std::slice::from_ref(entry), &mut out),
                        TargetItem::Step { entries: list, .. } => entries(list, &mut out),
                    }
                }
            }
            Item::Template(template) => {
                for param in &template.params {
                    param.default.iter().for_each(|e| expr(e, &mut out));
                }
                entries(&template.body, &mut out);
            }
        }
    }
    let mut ranges: Vec<(usize, usize)> = out.into_iter().map(|r| (r.start, r.end)).collect();
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match merged.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    merged
}

fn stmts(body: &[Stmt], out: &mut Vec<std::ops::Range<usize>>) {
    for stmt in body {
        match stmt {
            Stmt::Param(param) => param.default.iter().for_each(|e| expr(e, out)),
            Stmt::Step(step) => {
                match &step.def {
                    StepDef::Body(list) => entries(list, out),
                    StepDef::Call(call) => expr(call, out),
                }
                step.when.iter().for_each(|e| expr(e, out));
            }
            Stmt::For(lp) => {
                expr(&lp.iter, out);
                stmts(&lp.body, out);
            }
        }
    }
}

fn entries(list: &[Entry], out: &mut Vec<std::ops::Range<usize>>) {
    for entry in list {
        if entry.key.quoted {
            out.push(entry.key.span.range());
        }
        expr(&entry.value, out);
    }
}

fn expr(e: &Expr, out: &mut Vec<std::ops::Range<usize>>) {
    match &e.kind {
        // Interpolations are inside the literal's range already.
        ExprKind::Str { .. } => out.push(e.span.range()),
        ExprKind::List(items) => items.iter().for_each(|i| expr(i, out)),
        ExprKind::Map(list) => entries(list, out),
        ExprKind::Field(base, _) | ExprKind::Not(base) | ExprKind::Paren(base) => expr(base, out),
        ExprKind::Index(a, b) | ExprKind::Compare(_, a, b) | ExprKind::Logic(_, a, b) => {
            expr(a, out);
            expr(b, out);
        }
        ExprKind::Call(callee, args) => {
            expr(callee, out);
            args.iter().for_each(|a| expr(&a.value, out));
        }
        ExprKind::Number { .. } | ExprKind::Bool { .. } | ExprKind::Ident(_) | ExprKind::Star => {}
    }
}
