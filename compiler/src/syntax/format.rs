//! The source formatter: [`format`] turns Wharf text into its canonical layout.
//!
//! The canonical style: two-space indentation, one statement or entry per
//! line in bodies, `=` (and a param's `:`) aligned within runs of single-line
//! entries, small maps and lists inline, blank lines kept as written but
//! collapsed to one, exactly one blank line between top-level items (imports
//! may stay grouped), literals as written, expressions re-spaced, trailing
//! comments two spaces after the code.
//!
//! Layout here (items and statements); expressions and maps in `expr`; rows,
//! alignment and blank lines in `layout`; comment placement and source
//! scanning in `comments`; the safety checks every result passes in `check`.

mod check;
mod comments;
mod expr;
mod layout;
#[cfg(test)]
mod tests;

use crate::code::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::FileId;
use crate::syntax::ast::{
    ForLoop, Import, Item, Module, ParamDecl, PipelineDecl, StepDecl, StepDef, Stmt, TargetDecl, TargetItem,
    TemplateDecl, TemplateParam, TypeExpr,
};
use comments::{Comments, find_token};
use layout::{Kind, MAX_WIDTH, column_after, indent, render_rows, width};

/// Formats `text`. Fails with the parser's diagnostics if it reports an error, or
/// with an internal error if the result would lose a comment or change the
/// meaning (a formatter bug; the caller should then keep the text as it is).
pub fn format(text: &str) -> Result<String, Diagnostics> {
    // Parsing and printing recurse once per level of nesting, several frames
    // a level; the 256 levels of brackets the parser accepts need more than a
    // test thread's 2 MiB in a debug build. So the work runs on a thread with
    // room to spare.
    const STACK: usize = 32 << 20;
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("wharf-format".into())
            .stack_size(STACK);
        match thread.spawn_scoped(scope, || format_here(text)) {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|_| Err(check::bug("it stopped on an internal error"))),
            // No thread to be had: try on this one.
            Err(_) => format_here(text),
        }
    })
}

fn format_here(text: &str) -> Result<String, Diagnostics> {
    let mut diags = Diagnostics::default();
    let module = crate::syntax::parse(FileId(0), text, &mut diags);
    // Any error, even one the parser recovered from (a bad literal, an unknown
    // step kind, `=` for `==`), stops here: a recovered tree need not say what
    // the text says, and printing it would rewrite the user's words.
    let module = match module {
        Some(module) if !diags.has_errors() => module,
        _ => return Err(diags),
    };
    if check::expr_depth(&module) > check::MAX_DEPTH {
        let message = format!(
            "an expression nests more than {} levels deep; the file was not formatted",
            check::MAX_DEPTH
        );
        diags.push(
            Diagnostic::error(Code::TooDeeplyNested, None, message)
                .with_hint("split the expression, or shorten a long chain of `not`, `and`, `or` or `.field`"),
        );
        return Err(diags);
    }
    let output = Printer::new(text, &module).module(&module);
    check::verify(&module, &output)?;
    Ok(output)
}

struct Printer<'a> {
    src: &'a str,
    comments: Comments,
}

impl<'a> Printer<'a> {
    fn new(src: &'a str, module: &Module) -> Printer<'a> {
        Printer {
            src,
            comments: Comments::new(module),
        }
    }

    fn module(&mut self, module: &Module) -> String {
        let mut rows = Vec::new();
        let mut after_import = false;
        for (i, item) in module.items.iter().enumerate() {
            let first = rows.len();
            let start = item.span().start as usize;
            self.slot(&mut rows, start, self.item_end(item), |p| Kind::Text(p.item(item)));
            let is_import = matches!(item, Item::Import(_));
            // A blank line between items, except that imports may stay grouped.
            // If the comments before the item already hold one, it stays
            // where it is: a comment block set apart from the item by a blank
            // line belongs to what precedes it.
            let separated = rows.get(first..).is_some_and(|rows| rows.iter().any(|r| r.blank));
            if i > 0
                && !(is_import && after_import)
                && !separated
                && let Some(row) = rows.get_mut(first)
            {
                row.blank = true;
            }
            after_import = is_import;
        }
        for c in self.comments.take_before(usize::MAX) {
            rows.push(self.comment_row(c));
        }
        let mut out = render_rows(&rows, 0, false);
        if out.starts_with('\n') {
            out.remove(0);
            out.push('\n');
        }
        out
    }

    fn item(&mut self, item: &Item) -> String {
        match item {
            Item::Import(import) => self.import(import),
            Item::Pipeline(pipeline) => self.pipeline(pipeline),
            Item::Target(target) => self.target(target),
            Item::Template(template) => self.template(template),
        }
    }

    /// Where an item's last token ends (spans may include blanks after it).
    fn item_end(&self, item: &Item) -> usize {
        match item {
            Item::Import(import) => import.alias.as_ref().map_or(import.path_span, |a| a.span).end as usize,
            other => other.span().end as usize,
        }
    }

    fn import(&mut self, import: &Import) -> String {
        let mut text = format!("import {}", self.slice(import.path_span));
        if let Some(alias) = &import.alias {
            text.push_str(" as ");
            text.push_str(&alias.name);
        }
        text
    }

    fn pipeline(&mut self, pipeline: &PipelineDecl) -> String {
        let open = find_token(self.src, pipeline.name.span.end as usize, b'{');
        let body = self.stmts_block(&pipeline.body, open, 0);
        format!("pipeline {} {body}", pipeline.name.name)
    }

    fn stmts_block(&mut self, body: &[Stmt], open_at: Option<usize>, level: usize) -> String {
        let from = match body.last() {
            Some(last) => Some(self.stmt_end(last)),
            None => open_at.map(|o| o + 1),
        };
        let close_at = from.and_then(|from| find_token(self.src, from, b'}'));
        self.bracketed(("{", "}"), open_at, close_at, level, false, |p, rows| {
            for stmt in body {
                let start = stmt.span().start as usize;
                let end = p.stmt_end(stmt);
                match stmt {
                    Stmt::Param(param) => p.slot(rows, start, end, |p| p.param(param, level + 1)),
                    Stmt::Step(step) => p.slot(rows, start, end, |p| Kind::Text(p.step(step, level + 1))),
                    Stmt::For(lp) => p.slot(rows, start, end, |p| Kind::Text(p.for_loop(lp, level + 1))),
                }
            }
        })
    }

    /// Where a statement's last token ends.
    fn stmt_end(&self, stmt: &Stmt) -> usize {
        match stmt {
            Stmt::Param(param) => param
                .default
                .as_ref()
                .map_or_else(|| self.type_end(&param.ty), |d| d.span.end as usize),
            Stmt::Step(step) => match (&step.when, &step.def) {
                (Some(when), _) => when.span.end as usize,
                (None, StepDef::Call(call)) => call.span.end as usize,
                (None, StepDef::Body(entries)) => {
                    let open = find_token(self.src, step.name.span.end as usize, b'{');
                    self.close_of(entries, open).map_or(step.span.end as usize, |c| c + 1)
                }
            },
            Stmt::For(lp) => lp.span.end as usize,
        }
    }

    fn type_end(&self, ty: &TypeExpr) -> usize {
        match &ty.element {
            Some(element) => {
                let end = element.span.end as usize;
                find_token(self.src, end, b']').map_or(end, |close| close + 1)
            }
            None => ty.name.span.end as usize,
        }
    }

    fn type_text(ty: &TypeExpr) -> String {
        match &ty.element {
            Some(element) => format!("{}[{}]", ty.name.name, element.name),
            None => ty.name.name.clone(),
        }
    }

    fn param(&mut self, param: &ParamDecl, level: usize) -> Kind {
        let name = param.name.name.clone();
        let ty = Self::type_text(&param.ty);
        let Some(default) = &param.default else {
            return Kind::Param {
                name,
                ty,
                default: None,
            };
        };
        let col = level * 2 + width(&format!("param {name} : {ty} = "));
        let flat = self.flat(default);
        let value = self.expr(default, level, col, 0);
        if flat.as_deref() == Some(value.as_str()) {
            Kind::Param {
                name,
                ty,
                default: Some(value),
            }
        } else {
            Kind::Text(format!("param {name} : {ty} = {value}"))
        }
    }

    fn for_loop(&mut self, lp: &ForLoop, level: usize) -> String {
        let head = format!("for {} in ", lp.var.name);
        let iter = self.expr(&lp.iter, level, level * 2 + width(&head), 2);
        let open = find_token(self.src, lp.iter.span.end as usize, b'{');
        let body = self.stmts_block(&lp.body, open, level);
        format!("{head}{iter} {body}")
    }

    fn step(&mut self, step: &StepDecl, level: usize) -> String {
        let head = format!("{} {}", self.slice(step.kind_span), step.name.name);
        match &step.def {
            StepDef::Body(entries) => {
                let open = find_token(self.src, step.name.span.end as usize, b'{');
                let close = self.close_of(entries, open);
                let mut text = format!("{head} {}", self.entries_block(entries, open, close, level));
                // `} when cond`; comments between the two move before the step.
                if let Some(when) = &step.when {
                    let col = column_after(level * 2, &text) + " when ".len();
                    let cond = self.expr(when, level, col, 0);
                    text.push_str(" when ");
                    text.push_str(&cond);
                }
                text
            }
            StepDef::Call(call) => {
                let call_text = self.expr(call, level, level * 2 + width(&head) + 3, 0);
                let mut text = format!("{head} = {call_text}");
                // `when` goes on its own line, one level deeper, after any
                // comments that stood between the call and the condition.
                if let Some(when) = &step.when {
                    let call_end = call.span.end as usize;
                    if let Some(comment) = self.comments.take_trailing(self.src, call_end) {
                        text.push_str(layout::INDENT);
                        text.push_str(&comment);
                    }
                    let deeper = indent(level + 1);
                    for c in self.comments.take_between(call_end, when.span.start as usize) {
                        text.push_str(&format!("\n{deeper}{}", c.text));
                    }
                    let cond = self.expr(when, level + 1, (level + 1) * 2 + "when ".len(), 0);
                    text.push_str(&format!("\n{deeper}when {cond}"));
                }
                text
            }
        }
    }

    fn target(&mut self, target: &TargetDecl) -> String {
        let head = format!("target {}", target.name.name);
        let open = find_token(self.src, target.name.span.end as usize, b'{');
        let end = target.span.end as usize;
        // A target with one plain setting stays on one line (`target local { backend = docker }`).
        if let [TargetItem::Entry(entry)] = target.items.as_slice()
            && !self.comments.any_in(open.unwrap_or(end), end)
            && let Some(value) = self.flat(&entry.value)
        {
            let sep = if entry.block { " " } else { " = " };
            let line = format!("{head} {{ {}{sep}{value} }}", self.key(&entry.key));
            if width(&line) <= MAX_WIDTH {
                return line;
            }
        }
        let body = self.bracketed(("{", "}"), open, end.checked_sub(1), 0, false, |p, rows| {
            for item in &target.items {
                match item {
                    TargetItem::Entry(entry) => p.entry_row(rows, entry, 1),
                    TargetItem::Step { name, entries, span } => {
                        let (start, end) = (span.start as usize, span.end as usize);
                        p.slot(rows, start, end, |p| {
                            let head = format!("step {} ", name.name);
                            let open = find_token(p.src, name.span.end as usize, b'{');
                            let map = match p.flat_map(entries, open.unwrap_or(start), end) {
                                Some(map) if 2 + width(&head) + width(&map) <= MAX_WIDTH => map,
                                _ => p.entries_block(entries, open, end.checked_sub(1), 1),
                            };
                            Kind::Text(head + &map)
                        });
                    }
                }
            }
        });
        format!("{head} {body}")
    }

    fn template(&mut self, template: &TemplateDecl) -> String {
        let mut head = "template ".to_string();
        if let Some((_, kind_span)) = &template.kind {
            head.push_str(&self.slice(*kind_span));
            head.push(' ');
        }
        head.push_str(&template.name.name);
        let open = find_token(self.src, template.name.span.end as usize, b'(');
        let from = match template.params.last() {
            Some(last) => Some(self.template_param_end(last)),
            None => open.map(|o| o + 1),
        };
        let close = from.and_then(|from| find_token(self.src, from, b')'));
        let flat = match (open, close) {
            (Some(open), Some(close)) if !self.comments.any_in(open, close) => {
                let params: Option<Vec<String>> = template.params.iter().map(|p| self.template_param_flat(p)).collect();
                params.map(|p| format!("({})", p.join(", ")))
            }
            _ => None,
        };
        let params = match flat {
            // The line also holds ` {`.
            Some(params) if width(&head) + width(&params) + 2 <= MAX_WIDTH => params,
            _ => self.bracketed(("(", ")"), open, close, 0, true, |p, rows| {
                for param in &template.params {
                    let (start, end) = (param.span.start as usize, p.template_param_end(param));
                    p.slot(rows, start, end, |p| Kind::Text(p.template_param(param, 1)));
                }
            }),
        };
        let body_open = close.and_then(|close| find_token(self.src, close + 1, b'{'));
        let body_close = self.close_of(&template.body, body_open);
        format!(
            "{head}{params} {}",
            self.entries_block(&template.body, body_open, body_close, 0)
        )
    }

    fn template_param_end(&self, param: &TemplateParam) -> usize {
        match (&param.default, &param.ty) {
            (Some(default), _) => default.span.end as usize,
            (None, Some(ty)) => self.type_end(ty),
            (None, None) => param.name.span.end as usize,
        }
    }

    fn template_param_head(param: &TemplateParam) -> String {
        match &param.ty {
            Some(ty) => format!("{}: {}", param.name.name, Self::type_text(ty)),
            None => param.name.name.clone(),
        }
    }

    fn template_param_flat(&self, param: &TemplateParam) -> Option<String> {
        let head = Self::template_param_head(param);
        match &param.default {
            Some(default) => Some(format!("{head} = {}", self.flat(default)?)),
            None => Some(head),
        }
    }

    /// A parameter of a broken parameter list, on its own line at `level`.
    fn template_param(&mut self, param: &TemplateParam, level: usize) -> String {
        let head = Self::template_param_head(param);
        match &param.default {
            Some(default) => {
                let value = self.expr(default, level, level * 2 + width(&head) + 3, 1);
                format!("{head} = {value}")
            }
            None => head,
        }
    }
}
