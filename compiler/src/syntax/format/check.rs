//! The checks every formatting result passes before it is returned: the
//! output parses, holds the same comments (as a multiset of texts) and has
//! the same syntax tree once spans are ignored. A failure is a formatter bug;
//! reporting it beats rewriting a user's file into something else.

use crate::code::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::FileId;
use crate::syntax::ast::{Entry, Expr, ExprKind, Item, Module, StepDef, Stmt, TargetItem};

/// Expressions nested deeper than this are not formatted. The parser bounds
/// bracket nesting, but not chains such as `not not ... x` or `a.b.c...`,
/// and the printer recurses once per level.
pub(super) const MAX_DEPTH: usize = 512;

pub(super) fn verify(input: &Module, output: &str) -> Result<(), Diagnostics> {
    let mut diags = Diagnostics::default();
    let Some(formatted) = crate::syntax::parse(FileId(0), output, &mut diags) else {
        return Err(bug("its output would not parse"));
    };
    if comment_texts(input) != comment_texts(&formatted) {
        return Err(bug("it would lose or alter a comment"));
    }
    if shape(input) != shape(&formatted) {
        return Err(bug("it would change the meaning of the file"));
    }
    Ok(())
}

/// How deep the deepest expression of `module` nests, counted without
/// recursion so that the count itself cannot overflow the stack.
pub(super) fn expr_depth(module: &Module) -> usize {
    let mut stack: Vec<(&Expr, usize)> = Vec::new();
    for item in &module.items {
        match item {
            Item::Import(_) => {}
            Item::Pipeline(pipeline) => stmt_roots(&pipeline.body, &mut stack),
            Item::Target(target) => {
                for item in &target.items {
                    match item {
                        TargetItem::Entry(entry) => stack.push((&entry.value, 1)),
                        TargetItem::Step { entries, .. } => entry_roots(entries, &mut stack),
                    }
                }
            }
            Item::Template(template) => {
                stack.extend(
                    template
                        .params
                        .iter()
                        .filter_map(|p| p.default.as_ref())
                        .map(|e| (e, 1)),
                );
                entry_roots(&template.body, &mut stack);
            }
        }
    }
    let mut deepest = 0;
    while let Some((e, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        let below = depth + 1;
        match &e.kind {
            ExprKind::List(items) => stack.extend(items.iter().map(|i| (i, below))),
            ExprKind::Map(entries) => stack.extend(entries.iter().map(|en| (&en.value, below))),
            ExprKind::Call(callee, args) => {
                stack.push((callee, below));
                stack.extend(args.iter().map(|a| (&a.value, below)));
            }
            ExprKind::Field(inner, _) | ExprKind::Not(inner) | ExprKind::Paren(inner) => stack.push((inner, below)),
            ExprKind::Index(a, b) | ExprKind::Compare(_, a, b) | ExprKind::Logic(_, a, b) => {
                stack.push((a, below));
                stack.push((b, below));
            }
            ExprKind::Number { .. }
            | ExprKind::Str { .. }
            | ExprKind::Bool { .. }
            | ExprKind::Ident(_)
            | ExprKind::Star => {}
        }
    }
    deepest
}

fn stmt_roots<'m>(body: &'m [Stmt], stack: &mut Vec<(&'m Expr, usize)>) {
    for stmt in body {
        match stmt {
            Stmt::Param(param) => stack.extend(param.default.iter().map(|e| (e, 1))),
            Stmt::Step(step) => {
                match &step.def {
                    StepDef::Body(entries) => entry_roots(entries, stack),
                    StepDef::Call(call) => stack.push((call, 1)),
                }
                stack.extend(step.when.iter().map(|e| (e, 1)));
            }
            // Loops nest only as deep as their braces, which the parser bounds.
            Stmt::For(lp) => {
                stack.push((&lp.iter, 1));
                stmt_roots(&lp.body, stack);
            }
        }
    }
}

fn entry_roots<'m>(entries: &'m [Entry], stack: &mut Vec<(&'m Expr, usize)>) {
    stack.extend(entries.iter().map(|e| (&e.value, 1)));
}

pub(super) fn bug(what: &str) -> Diagnostics {
    // There is no dedicated code for an internal formatter error; the message says what happened.
    let diag = Diagnostic::error(
        Code::SyntaxError,
        None,
        format!("the formatter refused to format this file: {what}"),
    )
    .with_hint("this is a bug in the formatter; the file was left as it is");
    let mut diags = Diagnostics::default();
    diags.push(diag);
    diags
}

/// Every comment's text (trailing blanks trimmed, as the formatter prints
/// them), sorted: comments may move, but none may appear, vanish or change.
pub(super) fn comment_texts(module: &Module) -> Vec<String> {
    let mut texts: Vec<String> = module.comments.iter().map(|c| c.text.trim_end().to_string()).collect();
    texts.sort();
    texts
}

/// The items of `module` without positions: their `Debug` form with every
/// `Span { .. }` replaced by `_`. Deriving it from `Debug` means a field added
/// to the AST later is compared without anyone remembering to add it here.
pub(super) fn shape(module: &Module) -> String {
    let debug = format!("{:?}", module.items);
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug.as_str();
    while let Some(at) = rest.find("Span { file: FileId(") {
        out.push_str(&rest[..at]);
        let span = &rest[at..];
        // A span's Debug form holds no `}` but its own closing one.
        match span.find('}') {
            Some(close) => {
                out.push('_');
                rest = &span[close + 1..];
            }
            None => {
                rest = span;
                break;
            }
        }
    }
    out.push_str(rest);
    out
}
