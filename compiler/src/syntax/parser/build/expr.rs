//! Expressions and strings from the pest parse tree: the flat run
//! `operand (op operand)*` of an `expr` put in precedence order
//! (`precedence.rs`, shared with the fast parser), postfix fields, indexes
//! and calls, literals with their diagnostics, and `${...}` interpolation.

use super::{Builder, children};
use crate::code::Code;
use crate::diagnostic::Diagnostic;
use crate::source::Span;
use crate::syntax::ast::*;
use crate::syntax::limits::MAX_OPERATORS;
use crate::syntax::literal;
use crate::syntax::parser::Rule;
use crate::syntax::precedence::{Op, Token, parse_or};
use pest::iterators::Pair;

impl Builder<'_> {
    pub(super) fn expr(&mut self, pair: Pair<Rule>) -> Expr {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::expr => self.expr_run(pair),
            Rule::paren => {
                let inner = children(pair).next().expect("grammar: parenthesised expression");
                Expr {
                    kind: ExprKind::Paren(Box::new(self.expr(inner))),
                    span,
                }
            }
            Rule::number => {
                let text = pair.as_str().to_string();
                let value = match literal::classify(&text) {
                    Ok(v) => v,
                    Err(message) => {
                        self.diags.push(
                            Diagnostic::error(Code::InvalidLiteral, span, message).with_hint(literal::LITERAL_HINT),
                        );
                        NumberValue::Invalid
                    }
                };
                Expr {
                    kind: ExprKind::Number { value },
                    span,
                }
            }
            Rule::string => Expr {
                kind: self.string(pair),
                span,
            },
            Rule::list => {
                let items: Vec<_> = children(pair).collect();
                Expr {
                    kind: ExprKind::List(items.into_iter().map(|p| self.expr(p)).collect()),
                    span,
                }
            }
            Rule::map => Expr {
                kind: ExprKind::Map(self.entries(pair)),
                span,
            },
            _ => {
                let text = pair.as_str();
                let kind = match text {
                    "true" | "false" | "on" | "off" => ExprKind::Bool {
                        value: matches!(text, "true" | "on"),
                    },
                    _ => ExprKind::Ident(text.to_string()),
                };
                Expr { kind, span }
            }
        }
    }

    /// Applies precedence to the flat run `operand (op operand)*` of an `expr`.
    fn expr_run(&mut self, pair: Pair<Rule>) -> Expr {
        let span = self.span(&pair);
        let operators = pair
            .clone()
            .into_inner()
            .filter(|p| {
                !matches!(
                    p.as_rule(),
                    Rule::number | Rule::string | Rule::list | Rule::map | Rule::paren | Rule::ident
                )
            })
            .count();
        if operators > MAX_OPERATORS {
            self.diags.push(
                Diagnostic::error(
                    Code::TooDeeplyNested,
                    span,
                    format!("this expression chains {operators} operators; the limit is {MAX_OPERATORS}"),
                )
                .with_hint("split it into smaller pieces"),
            );
            return Expr {
                kind: ExprKind::Bool { value: false },
                span,
            };
        }
        let mut tokens: Vec<Token> = Vec::new();
        let mut operand: Option<Expr> = None;
        let mut nots: Vec<Span> = Vec::new();
        for p in children(pair) {
            match p.as_rule() {
                Rule::kw_not => nots.push(self.span(&p)),
                Rule::field | Rule::index | Rule::args => {
                    if let Some(base) = operand.take() {
                        operand = Some(self.postfix(base, p));
                    }
                }
                Rule::cmp_op | Rule::kw_and | Rule::kw_or => {
                    if let Some(e) = operand.take() {
                        tokens.push(Token::Operand(std::mem::take(&mut nots), e));
                    }
                    if p.as_str() == "=" {
                        let span = self.span(&p);
                        self.diags.push(
                            Diagnostic::error(Code::SyntaxError, span, "`=` cannot appear inside an expression")
                                .with_hint(
                                    "compare with `==`; a new attribute starts on its own line as `name = value`",
                                ),
                        );
                    }
                    let op = match p.as_str() {
                        "and" => Op::And,
                        "or" => Op::Or,
                        // The grammar admits no other operator here.
                        text => Op::Cmp(CmpOp::parse(text).unwrap_or(CmpOp::Ge)),
                    };
                    tokens.push(Token::Op(op));
                }
                _ => operand = Some(self.expr(p)),
            }
        }
        if let Some(e) = operand.take() {
            tokens.push(Token::Operand(nots, e));
        }
        let mut tokens = tokens.into_iter().peekable();
        parse_or(&mut tokens).unwrap_or(Expr {
            kind: ExprKind::Bool { value: false },
            span: Span::new(self.file, 0, 0),
        })
    }

    fn postfix(&mut self, base: Expr, op: Pair<Rule>) -> Expr {
        let op_span = self.span(&op);
        let whole = base.span.to(op_span);
        let kind = match op.as_rule() {
            Rule::field => {
                let name = self.ident(children(op).next().expect("grammar: field name"));
                ExprKind::Field(Box::new(base), name)
            }
            Rule::index => {
                let inner = children(op).next().expect("grammar: index");
                let index = if inner.as_rule() == Rule::star {
                    Expr {
                        kind: ExprKind::Star,
                        span: self.span(&inner),
                    }
                } else {
                    self.expr(inner)
                };
                ExprKind::Index(Box::new(base), Box::new(index))
            }
            _ => {
                let mut args = Vec::new();
                for arg in children(op) {
                    let mut parts: Vec<_> = children(arg).collect();
                    let value = self.expr(parts.pop().expect("grammar: argument"));
                    let name = parts.pop().map(|p| self.ident(p));
                    args.push(Arg { name, value });
                }
                ExprKind::Call(Box::new(base), args)
            }
        };
        Expr { kind, span: whole }
    }

    pub(super) fn string(&mut self, pair: Pair<Rule>) -> ExprKind {
        let mut parts: Vec<StrPart> = Vec::new();
        let mut text = String::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::text | Rule::dollar => text.push_str(part.as_str()),
                Rule::dollar_escape => text.push_str("${"),
                Rule::escape => match literal::unescape(part.as_str()) {
                    Some(c) => text.push(c),
                    None => {
                        let span = self.span(&part);
                        self.diags.push(
                            Diagnostic::error(
                                Code::InvalidEscape,
                                span,
                                format!("unknown escape sequence `{}`", part.as_str()),
                            )
                            .with_hint("strings know `\\\"`, `\\\\`, `\\n`, `\\t`, `\\r` and `\\$`; write `$${` for a literal `${`"),
                        );
                    }
                },
                Rule::interp => {
                    if !text.is_empty() {
                        parts.push(StrPart::Text(std::mem::take(&mut text)));
                    }
                    let inner = children(part).next().expect("grammar: interpolated expression");
                    parts.push(StrPart::Interp(self.expr(inner)));
                }
                _ => {}
            }
        }
        if !text.is_empty() || parts.is_empty() {
            parts.push(StrPart::Text(text));
        }
        ExprKind::Str { parts }
    }
}
