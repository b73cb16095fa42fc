//! Expression evaluation. Everything but `when` conditions on JSON outputs is
//! known at compile time, so most expressions fold to plain values here;
//! references become step ids and output references.
//!
//! This file holds the dispatch over expression kinds and string
//! interpolation; names are looked up in `references.rs`, fields and indexes
//! in `access.rs`, calls and the built-in functions in `builtins.rs`,
//! comparisons and `and`/`or`/`not` in `compare.rs`.

mod access;
mod builtins;
mod compare;
mod references;

pub(super) use references::instance_key;

use super::Resolver;
use super::rvalue::{RValue, Spanned};
use crate::code::Code;
use crate::diagnostic::Diagnostic;
use crate::modules::ModuleId;
use crate::source::Span;
use crate::syntax::ast::{Expr, ExprKind, NumberValue, StrPart};
use crate::value::Value;
use rustc_hash::FxHashMap as HashMap;

/// What names an expression can see.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub module: ModuleId,
    /// Loop variables in force, outermost first: (loop id, variable, value).
    pub bindings: &'a [(usize, String, Value)],
    /// Inside a template body: its arguments, and nothing else.
    pub args: Option<&'a HashMap<String, Spanned>>,
}

impl Resolver<'_> {
    pub fn eval(&mut self, expr: &Expr, scope: Scope) -> Spanned {
        let value = self.eval_kind(expr, scope);
        Spanned { value, span: expr.span }
    }

    fn eval_kind(&mut self, expr: &Expr, scope: Scope) -> RValue {
        let span = expr.span;
        match &expr.kind {
            ExprKind::Number { value, .. } => match value {
                NumberValue::Int(i) => RValue::Data(Value::Int(*i)),
                NumberValue::Float(f) => RValue::Data(Value::Float(*f)),
                NumberValue::Duration(d) => RValue::Data(Value::Duration(*d)),
                NumberValue::Size(s) => RValue::Data(Value::Size(*s)),
                NumberValue::Invalid => RValue::Error,
            },
            ExprKind::Bool { value, .. } => RValue::Data(Value::Bool(*value)),
            ExprKind::Str { parts, .. } => self.interpolate(parts, scope),
            ExprKind::List(items) => RValue::List(items.iter().map(|e| self.eval(e, scope)).collect()),
            ExprKind::Map(entries) => RValue::Map(self.eval_entries(entries, scope)),
            ExprKind::Paren(inner) => self.eval_kind(inner, scope),
            ExprKind::Ident(name) => self.lookup(name, span, scope),
            ExprKind::Field(base, field) => {
                let base = self.eval(base, scope);
                self.field(base, &field.name, field.span, span)
            }
            ExprKind::Index(base, index) => {
                let base = self.eval(base, scope);
                self.index(base, index, scope, span)
            }
            ExprKind::Star => {
                self.error(
                    Code::TypeMismatch,
                    span,
                    "`*` is only allowed inside `[...]` after a fanned-out step",
                );
                RValue::Error
            }
            ExprKind::Call(callee, args) => self.call(callee, args, scope, span),
            ExprKind::Compare(op, left, right) => {
                let left = self.eval(left, scope);
                let right = self.eval(right, scope);
                self.compare(*op, left, right, span)
            }
            ExprKind::Logic(op, left, right) => {
                let left = self.eval(left, scope);
                let right = self.eval(right, scope);
                self.logic(Some(*op), left, Some(right))
            }
            ExprKind::Not(inner) => {
                let inner = self.eval(inner, scope);
                self.logic(None, inner, None)
            }
        }
    }

    pub(super) fn error(&mut self, code: Code, span: Span, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(code, span, message));
    }

    fn interpolate(&mut self, parts: &[StrPart], scope: Scope) -> RValue {
        let mut out = String::new();
        let mut failed = false;
        for part in parts {
            match part {
                StrPart::Text(t) => out.push_str(t),
                StrPart::Interp(expr) => {
                    let value = self.eval(expr, scope);
                    match value.value {
                        RValue::Data(v @ (Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_))) => {
                            out.push_str(&v.to_text())
                        }
                        RValue::Data(v @ (Value::Duration(_) | Value::Size(_))) => out.push_str(&v.to_string()),
                        RValue::Error => failed = true,
                        RValue::Secret(_) => {
                            failed = true;
                            self.diags.push(
                                Diagnostic::error(
                                    Code::SecretMisuse,
                                    value.span,
                                    "a secret cannot be put into a string",
                                )
                                .with_hint(
                                    "set it in `env { NAME = secret(\"...\") }` and read the variable in the command",
                                ),
                            );
                        }
                        other => {
                            failed = true;
                            let hint = match other {
                                RValue::Output(..) | RValue::Gather(_) => {
                                    "a step reads its inputs from the `WHARF_INPUT_<NAME>` variables; declare it under `inputs`"
                                }
                                RValue::Env(_) => {
                                    "set it in `env { NAME = env(\"...\") }` and read the variable in the command"
                                }
                                _ => "only strings, numbers, booleans, durations and sizes can be interpolated",
                            };
                            self.diags.push(
                                Diagnostic::error(
                                    Code::CannotInterpolate,
                                    value.span,
                                    format!("{} cannot be put into a string", other.describe()),
                                )
                                .with_hint(hint),
                            );
                        }
                    }
                }
            }
        }
        if failed {
            RValue::Error
        } else {
            RValue::Data(Value::Str(out))
        }
    }
}
