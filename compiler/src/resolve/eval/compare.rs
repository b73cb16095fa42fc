//! Comparisons and `and`/`or`/`not`. Constants fold to a boolean when the
//! pipeline compiles; anything that reads a JSON output becomes a
//! [`Condition`] evaluated when the run gets there.

use super::super::Resolver;
use super::super::rvalue::{RValue, Spanned};
use crate::code::Code;
use crate::diagnostic::Diagnostic;
use crate::pipeline::{Condition, Operand};
use crate::source::Span;
use crate::syntax::ast::{CmpOp, LogicOp};
use crate::value::Value;

impl Resolver<'_> {
    pub(super) fn compare(&mut self, op: CmpOp, left: Spanned, right: Spanned, span: Span) -> RValue {
        let operand = |this: &mut Self, v: Spanned| -> Option<Operand> {
            match v.value {
                RValue::Json(field) => Some(Operand::Field(field)),
                RValue::Data(d @ (Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_))) => {
                    Some(Operand::Const(d))
                }
                RValue::Error => None,
                RValue::Output(..) => {
                    this.diags.push(
                        Diagnostic::error(Code::TypeMismatch, v.span, "a whole output cannot be compared")
                            .with_hint("compare one of its JSON fields, as in `evaluate.metrics.auc >= 0.8`"),
                    );
                    None
                }
                other => {
                    this.error(
                        Code::TypeMismatch,
                        v.span,
                        format!("{} cannot be compared", other.describe()),
                    );
                    None
                }
            }
        };
        let (Some(l), Some(r)) = (operand(self, left), operand(self, right)) else {
            return RValue::Error;
        };
        let ordering = !matches!(op, CmpOp::Eq | CmpOp::Ne);
        for side in [&l, &r] {
            if let Operand::Const(Value::Bool(_)) = side
                && ordering
            {
                self.error(
                    Code::TypeMismatch,
                    span,
                    format!("booleans cannot be compared with `{}`", op.as_str()),
                );
                return RValue::Error;
            }
        }
        match (&l, &r) {
            (Operand::Const(a), Operand::Const(b)) => match compare_values(op, a, b) {
                Some(result) => RValue::Data(Value::Bool(result)),
                None => {
                    self.error(
                        Code::TypeMismatch,
                        span,
                        format!(
                            "cannot compare {} with {} using `{}`",
                            a.type_name(),
                            b.type_name(),
                            op.as_str()
                        ),
                    );
                    RValue::Error
                }
            },
            _ => RValue::Cond(Condition::Compare {
                cmp: op.as_str().to_string(),
                left: l,
                right: r,
            }),
        }
    }

    /// `and`/`or` when `op` is set, `not` otherwise; folds when every operand is known.
    pub(super) fn logic(&mut self, op: Option<LogicOp>, left: Spanned, right: Option<Spanned>) -> RValue {
        let as_cond = |this: &mut Self, v: Spanned| -> Option<Condition> {
            match v.value {
                RValue::Data(Value::Bool(b)) => Some(Condition::Const { value: b }),
                RValue::Cond(c) => Some(c),
                RValue::Json(field) => Some(Condition::Truthy { field }),
                RValue::Error => None,
                other => {
                    this.error(
                        Code::NotACondition,
                        v.span,
                        format!("{} is not a boolean", other.describe()),
                    );
                    None
                }
            }
        };
        let Some(l) = as_cond(self, left) else {
            return RValue::Error;
        };
        let r = match right {
            Some(r) => match as_cond(self, r) {
                Some(c) => Some(c),
                None => return RValue::Error,
            },
            None => None,
        };
        let folded = match (op, &l, &r) {
            (None, Condition::Const { value }, _) => Some(!value),
            (Some(LogicOp::And), Condition::Const { value: a }, Some(Condition::Const { value: b })) => Some(*a && *b),
            (Some(LogicOp::Or), Condition::Const { value: a }, Some(Condition::Const { value: b })) => Some(*a || *b),
            _ => None,
        };
        if let Some(b) = folded {
            return RValue::Data(Value::Bool(b));
        }
        RValue::Cond(match (op, r) {
            (Some(LogicOp::And), Some(r)) => Condition::And {
                left: Box::new(l),
                right: Box::new(r),
            },
            (Some(LogicOp::Or), Some(r)) => Condition::Or {
                left: Box::new(l),
                right: Box::new(r),
            },
            _ => Condition::Not { operand: Box::new(l) },
        })
    }
}

/// Compares two constants; `None` when their types cannot be compared.
pub fn compare_values(op: CmpOp, a: &Value, b: &Value) -> Option<bool> {
    use std::cmp::Ordering;
    let ordering: Option<Ordering> = match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Float(y)) => (*x as f64).partial_cmp(y),
        (Value::Float(x), Value::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Duration(x), Value::Duration(y)) | (Value::Size(x), Value::Size(y)) => Some(x.cmp(y)),
        _ => return None,
    };
    let ordering = ordering?;
    Some(match op {
        CmpOp::Eq => ordering == Ordering::Equal,
        CmpOp::Ne => ordering != Ordering::Equal,
        CmpOp::Lt => ordering == Ordering::Less,
        CmpOp::Le => ordering != Ordering::Greater,
        CmpOp::Gt => ordering == Ordering::Greater,
        CmpOp::Ge => ordering != Ordering::Less,
    })
}
