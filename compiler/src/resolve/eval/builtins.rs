//! Calls in expressions: the built-in functions (`dir`, `file`, `env`,
//! `secret`, and the tuning ranges `int`, `float`, `choice`) with their
//! argument checks, and the errors for anything else called (a template
//! call makes a step, so it is only allowed as a step's definition).

use super::super::Resolver;
use super::super::rvalue::{RValue, Spanned};
use super::Scope;
use crate::code::Code;
use crate::diagnostic::Diagnostic;
use crate::pipeline::{OutputShape, Range};
use crate::source::Span;
use crate::suggest::did_you_mean;
use crate::syntax::ast::{Arg, Expr, ExprKind};
use crate::value::Value;

impl Resolver<'_> {
    pub(super) fn call(&mut self, callee: &Expr, args: &[Arg], scope: Scope, span: Span) -> RValue {
        if let ExprKind::Ident(name) = &callee.kind {
            let builtin = matches!(
                name.as_str(),
                "dir" | "file" | "env" | "secret" | "int" | "float" | "choice"
            );
            if builtin {
                let values: Vec<(Option<String>, Spanned)> = args
                    .iter()
                    .map(|a| (a.name.as_ref().map(|n| n.name.clone()), self.eval(&a.value, scope)))
                    .collect();
                return self.builtin(name, values, span);
            }
            let in_scope = scope.args.is_some_and(|a| a.contains_key(name))
                || scope.bindings.iter().any(|(_, v, _)| v == name)
                || self.decl_index.contains_key(name.as_str())
                || self.program.modules[scope.module].imports.contains_key(name);
            let is_template = self.template_decl(scope.module, name).is_some();
            if !in_scope && !is_template {
                let mut names = vec!["dir", "file", "env", "secret", "int", "float", "choice"];
                names.extend(
                    self.program.modules[scope.module]
                        .ast
                        .items
                        .iter()
                        .filter_map(|i| match i {
                            crate::syntax::ast::Item::Template(t) => Some(t.name.name.as_str()),
                            _ => None,
                        }),
                );
                self.diags.push(
                    Diagnostic::error(
                        Code::UnknownFunction,
                        callee.span,
                        format!("there is no function or template `{name}`"),
                    )
                    .with_hint(did_you_mean(name, names).unwrap_or_else(|| {
                        "functions are dir, file, env, secret, and int, float, choice in `ranges`".into()
                    })),
                );
                return RValue::Error;
            }
            if scope.args.is_none() && is_template {
                self.error(
                    Code::TypeMismatch,
                    span,
                    format!("a template call makes a step; write `step NAME = {name}(...)`"),
                );
                return RValue::Error;
            }
        }
        let target = self.eval(callee, scope);
        match target.value {
            RValue::Error => RValue::Error,
            RValue::Template(name) => {
                self.error(
                    Code::TypeMismatch,
                    span,
                    format!("a template call makes a step; write `step NAME = ...{name}(...)`"),
                );
                RValue::Error
            }
            other => {
                if let ExprKind::Ident(name) = &callee.kind {
                    let builtins = ["dir", "file", "env", "secret", "int", "float", "choice"];
                    self.diags.push(
                        Diagnostic::error(
                            Code::UnknownFunction,
                            callee.span,
                            format!("there is no function `{name}`"),
                        )
                        .with_hint_opt(did_you_mean(name, builtins)),
                    );
                } else {
                    self.error(
                        Code::TypeMismatch,
                        callee.span,
                        format!("{} cannot be called", other.describe()),
                    );
                }
                RValue::Error
            }
        }
    }

    fn builtin(&mut self, name: &str, args: Vec<(Option<String>, Spanned)>, span: Span) -> RValue {
        if let Some((Some(arg), value)) = args.iter().find(|(n, _)| n.as_ref().is_some_and(|n| n != "scale")) {
            let hint = match (name, arg.as_str()) {
                // `wharf metrics` marks a JSON file by its output's name, not by an argument.
                ("file", "metrics") => "to have `wharf metrics` show a JSON file, name its output `metrics`: `metrics = file(\"metrics.json\")`".to_string(),
                ("int" | "float", _) => format!("`{name}` takes a minimum, a maximum and `scale = \"log\"`"),
                _ => format!("`{name}` takes only positional arguments"),
            };
            self.diags.push(
                Diagnostic::error(
                    Code::UnknownArgument,
                    value.span,
                    format!("`{name}(...)` takes no argument named `{arg}`"),
                )
                .with_hint(hint),
            );
            return RValue::Error;
        }
        if args.iter().any(|(_, v)| matches!(v.value, RValue::Error)) {
            return RValue::Error;
        }
        let texts: Vec<Option<String>> = args
            .iter()
            .map(|(_, v)| match &v.value {
                RValue::Data(Value::Str(s)) => Some(s.clone()),
                _ => None,
            })
            .collect();
        let arity = |this: &mut Self, want: usize, usage: &str| -> bool {
            if args.len() != want {
                this.diags.push(
                    Diagnostic::error(
                        Code::MissingArgument,
                        span,
                        format!("`{name}` takes {want} argument(s), got {}", args.len()),
                    )
                    .with_hint(format!("write `{usage}`")),
                );
                return false;
            }
            true
        };
        match name {
            "dir" => {
                if !arity(self, 0, "dir()") {
                    return RValue::Error;
                }
                RValue::OutSpec(OutputShape::Dir)
            }
            "file" | "env" | "secret" => {
                let usage = format!("{name}(\"NAME\")");
                if !arity(self, 1, &usage) {
                    return RValue::Error;
                }
                let Some(text) = texts[0].clone() else {
                    self.error(Code::TypeMismatch, args[0].1.span, format!("`{name}` takes a string"));
                    return RValue::Error;
                };
                match name {
                    "file" => {
                        if text.is_empty()
                            || text.starts_with('/')
                            || text.split('/').any(|p| p == ".." || p.is_empty())
                        {
                            self.diags.push(
                                Diagnostic::error(Code::InvalidValue, args[0].1.span, format!("`{text}` is not a relative file name"))
                                    .with_hint("an output file is named relative to the step's output folder, as in `file(\"metrics.json\")`"),
                            );
                            return RValue::Error;
                        }
                        RValue::OutSpec(OutputShape::File { name: text })
                    }
                    _ => {
                        let valid = text.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                            && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                        if !valid {
                            self.error(
                                Code::InvalidValue,
                                args[0].1.span,
                                format!("`{text}` is not an environment variable name"),
                            );
                            return RValue::Error;
                        }
                        if name == "env" {
                            RValue::Env(text)
                        } else {
                            RValue::Secret(text)
                        }
                    }
                }
            }
            "int" | "float" => self.numeric_range(name, args, span),
            _ => {
                let mut values = Vec::new();
                for (_, arg) in args {
                    match arg.value {
                        RValue::Data(v @ (Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_))) => {
                            values.push(v)
                        }
                        other => {
                            self.error(
                                Code::TypeMismatch,
                                arg.span,
                                format!("a choice is a string or a number, not {}", other.describe()),
                            );
                            return RValue::Error;
                        }
                    }
                }
                if values.is_empty() {
                    self.error(Code::MissingArgument, span, "`choice` needs at least one value");
                    return RValue::Error;
                }
                RValue::Range(Range::Choice { values })
            }
        }
    }

    fn numeric_range(&mut self, name: &str, args: Vec<(Option<String>, Spanned)>, span: Span) -> RValue {
        let (positional, named): (Vec<_>, Vec<_>) = args.into_iter().partition(|(n, _)| n.is_none());
        let mut scale = "auto".to_string();
        if let Some((_, v)) = named.into_iter().next() {
            match v.value {
                RValue::Data(Value::Str(s)) if ["auto", "linear", "log", "reverse-log"].contains(&s.as_str()) => {
                    scale = s
                }
                _ => {
                    self.diags.push(
                        Diagnostic::error(
                            Code::InvalidValue,
                            v.span,
                            "`scale` is \"auto\", \"linear\", \"log\" or \"reverse-log\"",
                        )
                        .with_hint("SageMaker's ScalingType: Auto, Linear, Logarithmic, ReverseLogarithmic"),
                    );
                    return RValue::Error;
                }
            }
        }
        if positional.len() != 2 {
            self.diags.push(
                Diagnostic::error(
                    Code::MissingArgument,
                    span,
                    format!("`{name}` takes a minimum and a maximum"),
                )
                .with_hint(format!("write `{name}(1, 10)` or `{name}(0.01, 1.0, scale = \"log\")`")),
            );
            return RValue::Error;
        }
        let bounds: Vec<Option<f64>> = positional
            .iter()
            .map(|(_, v)| match v.value {
                RValue::Data(Value::Int(i)) => Some(i as f64),
                RValue::Data(Value::Float(f)) if name == "float" => Some(f),
                _ => None,
            })
            .collect();
        let (Some(min), Some(max)) = (bounds[0], bounds[1]) else {
            self.error(
                Code::TypeMismatch,
                span,
                format!("the bounds of `{name}(...)` must be {name}s"),
            );
            return RValue::Error;
        };
        if min > max {
            self.error(
                Code::InvalidValue,
                span,
                format!("the minimum {min} is above the maximum {max}"),
            );
            return RValue::Error;
        }
        if name == "int" {
            RValue::Range(Range::Int {
                min: min as i64,
                max: max as i64,
                scale,
            })
        } else {
            RValue::Range(Range::Float { min, max, scale })
        }
    }
}
