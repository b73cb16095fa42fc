//! `.field` and `[index]` on an evaluated value: a param read from
//! `params`, a step's output (`step.out`), a JSON path into an output read by
//! a condition, an instance picked out of a fan-out, a template of an import,
//! a key of a map, an item of a list.

use super::super::rvalue::{RValue, Spanned};
use super::super::{OutputCheck, Resolver};
use super::Scope;
use crate::code::Code;
use crate::diagnostic::Diagnostic;
use crate::pipeline::{JsonField, JsonKey};
use crate::source::Span;
use crate::suggest::did_you_mean;
use crate::syntax::ast::{Expr, ExprKind};
use crate::value::Value;

impl Resolver<'_> {
    pub(super) fn field(&mut self, base: Spanned, name: &str, name_span: Span, span: Span) -> RValue {
        match base.value {
            RValue::Error => RValue::Error,
            RValue::Params => match self.param_index.get(name).copied() {
                Some(i) => {
                    self.params[i].used.store(true, std::sync::atomic::Ordering::Relaxed);
                    match &self.params[i].param.value {
                        Some(v) => RValue::Data(v.clone()),
                        None => RValue::Error,
                    }
                }
                None => {
                    let hint = did_you_mean(name, self.params.iter().map(|p| p.param.name.as_str()));
                    self.diags.push(
                        Diagnostic::error(
                            Code::UnknownParam,
                            name_span,
                            format!("the pipeline has no param `{name}`"),
                        )
                        .with_hint_opt(hint),
                    );
                    RValue::Error
                }
            },
            RValue::Step(id) => {
                self.output_checks.push(OutputCheck {
                    step: id,
                    output: name.to_string(),
                    span: name_span,
                    json: false,
                });
                RValue::Output(id, name.to_string())
            }
            RValue::Steps(ids) => {
                for &id in &ids {
                    self.output_checks.push(OutputCheck {
                        step: id,
                        output: name.to_string(),
                        span: name_span,
                        json: false,
                    });
                }
                RValue::Gather(ids.into_iter().map(|id| (id, name.to_string())).collect())
            }
            RValue::Selection(sel) => {
                let decl = &self.decls[sel.decl].ast.name.name;
                let example = if sel.bound.is_empty() { "" } else { "[...]" };
                self.diags.push(
                    Diagnostic::error(
                        Code::FanOutNeedsIndex,
                        base.span,
                        format!("`{decl}` is fanned out by a `for` loop; say which instance you mean"),
                    )
                    .with_hint(format!(
                        "write `{decl}{example}[\"key\"].{name}` for one instance or `{decl}{example}[*].{name}` for all of them"
                    )),
                );
                RValue::Error
            }
            RValue::Output(step, output) => {
                self.output_checks.push(OutputCheck {
                    step,
                    output: output.clone(),
                    span: base.span,
                    json: true,
                });
                RValue::Json(JsonField {
                    step,
                    output,
                    path: vec![JsonKey::Field(name.to_string())],
                })
            }
            RValue::Json(mut field) => {
                field.path.push(JsonKey::Field(name.to_string()));
                RValue::Json(field)
            }
            RValue::Module(module) => {
                if self.template_decl(module, name).is_some() {
                    RValue::Template(name.to_string())
                } else {
                    self.unknown_template(module, name, name_span);
                    RValue::Error
                }
            }
            RValue::Data(Value::Map(entries)) => match entries.into_iter().find(|(k, _)| k == name) {
                Some((_, v)) => RValue::Data(v),
                None => {
                    self.error(Code::UnknownName, name_span, format!("the map has no key `{name}`"));
                    RValue::Error
                }
            },
            RValue::Map(entries) => match entries.into_iter().find(|(k, _, _)| k == name) {
                Some((_, _, v)) => v.value,
                None => {
                    self.error(Code::UnknownName, name_span, format!("the map has no key `{name}`"));
                    RValue::Error
                }
            },
            other => {
                self.error(
                    Code::TypeMismatch,
                    span,
                    format!("{} has no field `{name}`", other.describe()),
                );
                RValue::Error
            }
        }
    }

    pub(super) fn index(&mut self, base: Spanned, index: &Expr, scope: Scope, span: Span) -> RValue {
        let key = if matches!(index.kind, ExprKind::Star) {
            None
        } else {
            match self.eval(index, scope).value {
                RValue::Data(v) => Some(v),
                RValue::Error => return RValue::Error,
                other => {
                    self.error(
                        Code::TypeMismatch,
                        index.span,
                        format!(
                            "an index must be a value known when the pipeline compiles, not {}",
                            other.describe()
                        ),
                    );
                    return RValue::Error;
                }
            }
        };
        match (base.value, key) {
            (RValue::Error, _) => RValue::Error,
            (RValue::Selection(mut sel), key) => {
                sel.bound.push(key);
                self.finish_selection(sel, span)
            }
            (RValue::Step(id), _) | (RValue::Output(id, _), _)
                if self.decls[self.instances[id].decl].loops.is_empty() =>
            {
                let name = self.instances[id].name.clone();
                self.diags.push(
                    Diagnostic::error(
                        Code::NotFannedOut,
                        span,
                        format!("step `{name}` is not inside a `for` loop"),
                    )
                    .with_hint(format!("refer to it as `{name}`")),
                );
                RValue::Error
            }
            (RValue::Step(id), _) => {
                let name = self.decls[self.instances[id].decl].ast.name.name.clone();
                self.diags.push(
                    Diagnostic::error(
                        Code::NotFannedOut,
                        span,
                        format!("`{name}` here already means one instance"),
                    )
                    .with_hint("inside its own loop a step name means the current iteration's instance"),
                );
                RValue::Error
            }
            (RValue::Json(mut field), Some(Value::Int(i))) => {
                field.path.push(JsonKey::Index(i));
                RValue::Json(field)
            }
            (RValue::Json(mut field), Some(Value::Str(s))) => {
                field.path.push(JsonKey::Field(s));
                RValue::Json(field)
            }
            (RValue::Output(step, output), Some(key)) => {
                let key = match key {
                    Value::Int(i) => JsonKey::Index(i),
                    Value::Str(s) => JsonKey::Field(s),
                    other => {
                        self.error(
                            Code::TypeMismatch,
                            span,
                            format!(
                                "a JSON output is indexed with an int or a string, not {}",
                                other.type_name()
                            ),
                        );
                        return RValue::Error;
                    }
                };
                self.output_checks.push(OutputCheck {
                    step,
                    output: output.clone(),
                    span: base.span,
                    json: true,
                });
                RValue::Json(JsonField {
                    step,
                    output,
                    path: vec![key],
                })
            }
            (RValue::Data(Value::List(items)), Some(Value::Int(i))) => {
                match usize::try_from(i).ok().and_then(|i| items.get(i)) {
                    Some(v) => RValue::Data(v.clone()),
                    None => {
                        self.error(
                            Code::InvalidValue,
                            span,
                            format!("index {i} is outside the list of {} items", items.len()),
                        );
                        RValue::Error
                    }
                }
            }
            (other, _) => {
                self.error(
                    Code::TypeMismatch,
                    span,
                    format!("{} cannot be indexed", other.describe()),
                );
                RValue::Error
            }
        }
    }
}
