//! Operator precedence over a flat run of operands and operators, shared by
//! both parsers: loosest first `or`, `and`, `not`, then comparisons.

use super::ast::{CmpOp, Expr, ExprKind, LogicOp};
use crate::source::Span;

#[derive(Clone, Copy)]
pub(super) enum Op {
    Or,
    And,
    Cmp(CmpOp),
}

pub(super) enum Token {
    /// An operand with the `not`s written before it.
    Operand(Vec<Span>, Expr),
    Op(Op),
}

pub(super) type Tokens = std::iter::Peekable<std::vec::IntoIter<Token>>;

pub(super) fn parse_or(tokens: &mut Tokens) -> Option<Expr> {
    let mut left = parse_and(tokens)?;
    while matches!(tokens.peek(), Some(Token::Op(Op::Or))) {
        tokens.next();
        let right = parse_and(tokens)?;
        let span = left.span.to(right.span);
        left = Expr {
            kind: ExprKind::Logic(LogicOp::Or, Box::new(left), Box::new(right)),
            span,
        };
    }
    Some(left)
}

fn parse_and(tokens: &mut Tokens) -> Option<Expr> {
    let mut left = parse_not(tokens)?;
    while matches!(tokens.peek(), Some(Token::Op(Op::And))) {
        tokens.next();
        let right = parse_not(tokens)?;
        let span = left.span.to(right.span);
        left = Expr {
            kind: ExprKind::Logic(LogicOp::And, Box::new(left), Box::new(right)),
            span,
        };
    }
    Some(left)
}

/// `not` binds looser than a comparison: `not a == b` is `not (a == b)`.
fn parse_not(tokens: &mut Tokens) -> Option<Expr> {
    let nots = match tokens.peek_mut() {
        Some(Token::Operand(nots, _)) => std::mem::take(nots),
        _ => return None,
    };
    let mut expr = parse_cmp(tokens)?;
    for not in nots.into_iter().rev() {
        let span = not.to(expr.span);
        expr = Expr {
            kind: ExprKind::Not(Box::new(expr)),
            span,
        };
    }
    Some(expr)
}

fn parse_cmp(tokens: &mut Tokens) -> Option<Expr> {
    let mut left = match tokens.next()? {
        Token::Operand(_, e) => e,
        Token::Op(_) => return None,
    };
    while let Some(Token::Op(Op::Cmp(op))) = tokens.peek() {
        let op = *op;
        tokens.next();
        let right = match tokens.next()? {
            // `a == not b` would need parentheses; the grammar gives the `not`s
            // to this operand, so apply them here.
            Token::Operand(nots, e) => nots.into_iter().rev().fold(e, |e, not| {
                let span = not.to(e.span);
                Expr {
                    kind: ExprKind::Not(Box::new(e)),
                    span,
                }
            }),
            Token::Op(_) => return None,
        };
        let span = left.span.to(right.span);
        left = Expr {
            kind: ExprKind::Compare(op, Box::new(left), Box::new(right)),
            span,
        };
    }
    Some(left)
}
