//! The pest parse tree turned into the AST: items, statements, steps,
//! entries, targets and templates here, expressions and strings in
//! `expr.rs`. Spans are trimmed of the whitespace and comments pest lets a
//! rule swallow; an unknown step kind becomes `unknown-kind`.

mod expr;

use super::Rule;
use crate::code::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::{FileId, Span};
use crate::syntax::ast::*;
use crate::types::StepKind;
use pest::iterators::Pair;

/// Builds the AST of a file pest accepted, from its `file` rule.
pub(super) fn module(
    file: FileId,
    text: &str,
    root: Pair<Rule>,
    comments: Vec<Comment>,
    diags: &mut Diagnostics,
) -> Module {
    let mut builder = Builder {
        file,
        text,
        diags,
        comment_ranges: comments
            .iter()
            .map(|c| (c.span.start as usize, c.span.end as usize))
            .collect(),
    };
    let mut items = Vec::new();
    for pair in children(root) {
        match pair.as_rule() {
            Rule::import => items.push(Item::Import(builder.import(pair))),
            Rule::pipeline => items.push(Item::Pipeline(builder.pipeline(pair))),
            Rule::target => items.push(Item::Target(builder.target(pair))),
            Rule::template => items.push(Item::Template(builder.template(pair))),
            _ => {}
        }
    }
    Module { items, comments }
}

/// The children of a pair that carry meaning: keywords dropped.
fn children<'i>(pair: Pair<'i, Rule>) -> impl Iterator<Item = Pair<'i, Rule>> {
    pair.into_inner().filter(|p| {
        !matches!(
            p.as_rule(),
            Rule::EOI
                | Rule::kw_import
                | Rule::kw_as
                | Rule::kw_pipeline
                | Rule::kw_param
                | Rule::kw_target
                | Rule::kw_template
                | Rule::kw_for
                | Rule::kw_in
                | Rule::kw_when
                | Rule::kw_step
        )
    })
}

struct Builder<'d> {
    file: FileId,
    text: &'d str,
    diags: &'d mut Diagnostics,
    /// Byte ranges of comments, sorted, for trimming spans.
    comment_ranges: Vec<(usize, usize)>,
}

impl Builder<'_> {
    /// The pair's span without the whitespace and comments pest lets a rule
    /// swallow after its last token (when an optional tail did not match).
    fn span(&self, pair: &Pair<Rule>) -> Span {
        let s = pair.as_span();
        let (start, mut end) = (s.start(), s.end());
        let bytes = self.text.as_bytes();
        while end > start {
            if bytes[end - 1].is_ascii_whitespace() {
                end -= 1;
                continue;
            }
            // Inside a comment? Comments are sorted and do not overlap.
            let i = self.comment_ranges.partition_point(|&(cs, _)| cs < end);
            match i.checked_sub(1).map(|i| self.comment_ranges[i]) {
                Some((cs, ce)) if end <= ce && cs >= start => end = cs,
                _ => break,
            }
        }
        Span::new(self.file, start, end)
    }

    fn ident(&self, pair: Pair<Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    fn import(&mut self, pair: Pair<Rule>) -> Import {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let path_pair = inner.next().expect("grammar: import has a string");
        let path_span = self.span(&path_pair);
        let path = self.plain_string(path_pair);
        let alias = inner.next().map(|p| self.ident(p));
        Import {
            path,
            path_span,
            alias,
            span,
        }
    }

    /// A string used as a name (an import path): interpolation is not allowed there.
    fn plain_string(&mut self, pair: Pair<Rule>) -> String {
        let span = self.span(&pair);
        match self.string(pair) {
            ExprKind::Str { parts, .. } => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        StrPart::Text(t) => out.push_str(&t),
                        StrPart::Interp(_) => self.diags.push(
                            Diagnostic::error(Code::CannotInterpolate, span, "an import path cannot use `${...}`")
                                .with_hint("write the path out in full"),
                        ),
                    }
                }
                out
            }
            _ => String::new(),
        }
    }

    fn pipeline(&mut self, pair: Pair<Rule>) -> PipelineDecl {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("grammar: pipeline name"));
        let body = inner.map(|p| self.stmt(p)).collect();
        PipelineDecl { name, body, span }
    }

    fn stmt(&mut self, pair: Pair<Rule>) -> Stmt {
        match pair.as_rule() {
            Rule::param => Stmt::Param(self.param(pair)),
            Rule::for_loop => {
                let span = self.span(&pair);
                let mut inner = children(pair);
                let var = self.ident(inner.next().expect("grammar: loop variable"));
                let iter = self.expr(inner.next().expect("grammar: loop list"));
                let body = inner.map(|p| self.stmt(p)).collect();
                Stmt::For(ForLoop { var, iter, body, span })
            }
            _ => Stmt::Step(self.step_decl(pair)),
        }
    }

    fn param(&mut self, pair: Pair<Rule>) -> ParamDecl {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("grammar: param name"));
        let ty = self.type_expr(inner.next().expect("grammar: param type"));
        let default = inner.next().map(|p| self.expr(p));
        ParamDecl {
            name,
            ty,
            default,
            span,
        }
    }

    fn type_expr(&mut self, pair: Pair<Rule>) -> TypeExpr {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("grammar: type name"));
        let element = inner.next().map(|p| self.ident(p));
        TypeExpr { name, element, span }
    }

    fn kind(&mut self, pair: &Pair<Rule>) -> StepKind {
        let word = pair.as_str();
        StepKind::parse(word).unwrap_or_else(|| {
            let kinds = StepKind::ALL.map(StepKind::as_str);
            let span = self.span(pair);
            self.diags.push(
                Diagnostic::error(Code::UnknownKind, span, format!("`{word}` is not a step kind")).with_hint(
                    crate::suggest::did_you_mean(word, kinds)
                        .unwrap_or_else(|| format!("steps are declared as {}, followed by a name", kinds.join(", "))),
                ),
            );
            StepKind::Step
        })
    }

    fn step_decl(&mut self, pair: Pair<Rule>) -> StepDecl {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let kind_pair = inner.next().expect("grammar: step kind");
        let kind = self.kind(&kind_pair);
        let kind_span = self.span(&kind_pair);
        let name = self.ident(inner.next().expect("grammar: step name"));
        let def_pair = inner.next().expect("grammar: step body or call");
        let def = match def_pair.as_rule() {
            Rule::step_body => StepDef::Body(self.entries(def_pair)),
            _ => {
                let expr = children(def_pair).next().expect("grammar: call expression");
                StepDef::Call(self.expr(expr))
            }
        };
        let when = inner.next().and_then(|p| children(p).next()).map(|p| self.expr(p));
        StepDecl {
            kind,
            kind_span,
            name,
            def,
            when,
            span,
        }
    }

    fn entries(&mut self, pair: Pair<Rule>) -> Vec<Entry> {
        let pairs: Vec<_> = children(pair).collect();
        pairs.into_iter().map(|p| self.entry(p)).collect()
    }

    fn entry(&mut self, pair: Pair<Rule>) -> Entry {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let key_pair = inner.next().expect("grammar: entry key");
        let key_span = self.span(&key_pair);
        let key = match key_pair.as_rule() {
            Rule::string => Key {
                name: self.plain_string(key_pair),
                quoted: true,
                span: key_span,
            },
            _ => Key {
                name: key_pair.as_str().to_string(),
                quoted: false,
                span: key_span,
            },
        };
        let value_pair = inner.next().expect("grammar: entry value");
        let block = value_pair.as_rule() == Rule::map;
        let value = self.expr(value_pair);
        Entry {
            key,
            value,
            block,
            span,
        }
    }

    fn target(&mut self, pair: Pair<Rule>) -> TargetDecl {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("grammar: target name"));
        let mut items = Vec::new();
        for p in inner {
            if p.as_rule() == Rule::target_step {
                let span = self.span(&p);
                let mut parts = children(p);
                let name = self.ident(parts.next().expect("grammar: step name"));
                let entries = self.entries(parts.next().expect("grammar: step settings"));
                items.push(TargetItem::Step { name, entries, span });
            } else {
                items.push(TargetItem::Entry(self.entry(p)));
            }
        }
        TargetDecl { name, items, span }
    }

    fn template(&mut self, pair: Pair<Rule>) -> TemplateDecl {
        let span = self.span(&pair);
        let mut inner = children(pair).peekable();
        let kind = match inner.peek() {
            Some(p) if p.as_rule() == Rule::kind => {
                let p = inner.next().expect("peeked");
                Some((self.kind(&p), self.span(&p)))
            }
            _ => None,
        };
        let name = self.ident(inner.next().expect("grammar: template name"));
        let params_pair = inner.next().expect("grammar: template params");
        let mut params = Vec::new();
        for p in children(params_pair) {
            let span = self.span(&p);
            let mut parts = children(p);
            let name = self.ident(parts.next().expect("grammar: template param name"));
            let mut ty = None;
            let mut default = None;
            for part in parts {
                if part.as_rule() == Rule::type_expr {
                    ty = Some(self.type_expr(part));
                } else {
                    default = Some(self.expr(part));
                }
            }
            params.push(TemplateParam {
                name,
                ty,
                default,
                span,
            });
        }
        let body = self.entries(inner.next().expect("grammar: template body"));
        TemplateDecl {
            kind,
            name,
            params,
            body,
            span,
        }
    }
}
