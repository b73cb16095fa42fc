//! Params: declared types, defaults, `-p NAME=VALUE` overrides.

use super::eval::Scope;
use super::rvalue::RValue;
use super::{ParamSlot, Resolver};
use crate::code::Code;
use crate::diagnostic::Diagnostic;
use crate::pipeline::{Param, ParamSource};
use crate::suggest::did_you_mean;
use crate::syntax::ast::{Stmt, TypeExpr};
use crate::types::Type;
use crate::value::Value;

impl Resolver<'_> {
    pub(super) fn parse_type(&mut self, ty: &TypeExpr) -> Option<Type> {
        match Type::parse(&ty.name.name, ty.element.as_ref().map(|e| e.name.as_str())) {
            Ok(t) => Some(t),
            Err(bad) => {
                self.diags.push(
                    Diagnostic::error(Code::UnknownType, ty.span, format!("there is no type `{bad}`")).with_hint(
                        did_you_mean(&bad, Type::NAMES)
                            .unwrap_or_else(|| format!("types are {}", Type::NAMES.join(", "))),
                    ),
                );
                None
            }
        }
    }

    pub(super) fn resolve_params(&mut self, body: &[Stmt], overrides: &[(String, String)], allow_missing: bool) {
        for stmt in body {
            let Stmt::Param(decl) = stmt else { continue };
            let name = &decl.name.name;
            if let Some(&first) = self.param_index.get(name) {
                let first = self.params[first].param.span;
                self.diags.push(
                    Diagnostic::error(
                        Code::DuplicateName,
                        decl.name.span,
                        format!("param `{name}` is declared twice"),
                    )
                    .with_label(first, "first declared here"),
                );
                continue;
            }
            let errors_before = self.diags.error_count();
            let ty = self.parse_type(&decl.ty);
            if matches!(ty, Some(Type::Output)) {
                self.error(
                    Code::UnknownType,
                    decl.ty.span,
                    "a param cannot be a step output; outputs come from steps",
                );
            }
            let scope = Scope {
                module: 0,
                bindings: &[],
                args: None,
            };
            let default = decl.default.as_ref().and_then(|expr| {
                let value = self.eval(expr, scope);
                let data = self.plain(value.clone())?;
                let Some(ty) = &ty else { return Some(data) };
                match data.clone().coerce(ty) {
                    Some(v) => Some(v),
                    None => {
                        self.diags.push(
                            Diagnostic::error(
                                Code::TypeMismatch,
                                value.span,
                                format!(
                                    "param `{name}` is declared `{ty}` but its default is {}",
                                    describe(&data)
                                ),
                            )
                            .with_hint(example_of(ty)),
                        );
                        None
                    }
                }
            });
            let has_default = default.is_some();
            let over = overrides.iter().rev().find(|(k, _)| k == name);
            let (value, source) = match (over, &ty) {
                (Some((_, text)), Some(ty)) => match Value::parse_as(text, ty) {
                    Some(v) => (Some(v), ParamSource::Override),
                    None => {
                        self.diags.push(
                            Diagnostic::error(
                                Code::TypeMismatch,
                                None,
                                format!("-p {name}={text}: param `{name}` expects {}", type_phrase(ty)),
                            )
                            .with_label(decl.span, "declared here")
                            .with_hint(example_of(ty)),
                        );
                        (default, ParamSource::Default)
                    }
                },
                (None, _) if default.is_some() => (default, ParamSource::Default),
                (None, _) => {
                    if !allow_missing && decl.default.is_none() {
                        self.diags.push(
                            Diagnostic::error(
                                Code::MissingParam,
                                decl.name.span,
                                format!("param `{name}` has no default and no value"),
                            )
                            .with_hint(format!("pass it with `-p {name}=VALUE`, or give it a default")),
                        );
                    }
                    (None, ParamSource::Missing)
                }
                (Some(_), None) => (None, ParamSource::Missing),
            };
            self.param_index.to_mut().insert(name.clone(), self.params.len());
            self.params.to_mut().push(ParamSlot {
                param: Param {
                    name: name.clone(),
                    ty: ty.unwrap_or(Type::Any),
                    value,
                    source,
                    span: decl.span,
                },
                name_span: decl.name.span,
                used: false.into(),
                broken: self.diags.error_count() > errors_before || (decl.default.is_some() && !has_default),
            });
        }
        for (name, _) in overrides {
            if !self.param_index.contains_key(name) {
                let hint = did_you_mean(name, self.params.iter().map(|p| p.param.name.as_str()));
                self.diags.push(
                    Diagnostic::error(
                        Code::UnknownParam,
                        None,
                        format!("-p {name}=...: the pipeline has no param `{name}`"),
                    )
                    .with_hint(hint.unwrap_or_else(|| {
                        let names: Vec<String> = self.params.iter().map(|p| format!("`{}`", p.param.name)).collect();
                        if names.is_empty() {
                            "the pipeline declares no params".into()
                        } else {
                            format!("its params are {}", names.join(", "))
                        }
                    })),
                );
            }
        }
    }

    /// A compile-time value, or an error saying why this one is not.
    pub(super) fn plain(&mut self, value: super::rvalue::Spanned) -> Option<Value> {
        match value.value {
            RValue::Data(v) => Some(v),
            RValue::List(items) => items
                .into_iter()
                .map(|i| self.plain(i))
                .collect::<Option<Vec<_>>>()
                .map(Value::List),
            RValue::Map(entries) => entries
                .into_iter()
                .map(|(k, _, v)| self.plain(v).map(|v| (k, v)))
                .collect::<Option<Vec<_>>>()
                .map(Value::Map),
            RValue::Error => None,
            RValue::Secret(_) => {
                self.diags.push(
                    Diagnostic::error(
                        Code::SecretMisuse,
                        value.span,
                        "a secret can only be used as a value in `env { ... }`",
                    )
                    .with_hint("secrets are read when the step starts and are never stored or printed"),
                );
                None
            }
            RValue::Json(_) | RValue::Cond(_) => {
                self.diags.push(
                    Diagnostic::error(
                        Code::RuntimeValue,
                        value.span,
                        "this value is only known when the pipeline runs",
                    )
                    .with_hint("fields of JSON outputs can be read in `when` conditions only"),
                );
                None
            }
            other => {
                self.error(
                    Code::TypeMismatch,
                    value.span,
                    format!("expected a value known at compile time, found {}", other.describe()),
                );
                None
            }
        }
    }
}

fn describe(value: &Value) -> String {
    format!("{} (`{value}`)", value.type_name())
}

pub(super) fn type_phrase(ty: &Type) -> String {
    match ty {
        Type::Int => "an int".into(),
        Type::List(Some(el)) => format!("a list of {el}s"),
        Type::Any => "any value".into(),
        other => {
            let name = other.to_string();
            let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            format!("{article} {name}")
        }
    }
}

pub(super) fn example_of(ty: &Type) -> String {
    let example = match ty {
        Type::String => "\"text\"",
        Type::Int => "8",
        Type::Float => "0.8",
        Type::Bool => "true",
        Type::Path => "\"data/train.csv\"",
        Type::Duration => "30s, 5m or 2h",
        Type::Size => "512MiB or 10GiB",
        Type::List(_) => "[\"eu\", \"us\"] in a file, eu,us or [\"eu\",\"us\"] with -p",
        Type::Output => "prepare.train",
        Type::Any => "any value",
    };
    format!("{} looks like {example}", type_phrase(ty))
}
