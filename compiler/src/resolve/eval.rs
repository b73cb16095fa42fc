//! Expression evaluation. Everything but `when` conditions on JSON outputs is
//! known at compile time, so most expressions fold to plain values here;
//! references become step ids and output references.

use super::Resolver;
use super::rvalue::{RValue, Selection, Spanned};
use crate::code::Code;
use crate::diagnostic::Diagnostic;
use crate::modules::ModuleId;
use crate::pipeline::{Condition, JsonField, JsonKey, Operand, OutputShape, Range};
use crate::source::Span;
use crate::suggest::did_you_mean;
use crate::syntax::ast::{Arg, CmpOp, Expr, ExprKind, LogicOp, NumberValue, StrPart};
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

    fn lookup(&mut self, name: &str, span: Span, scope: Scope) -> RValue {
        if let Some(args) = scope.args {
            if let Some(value) = args.get(name) {
                return value.value.clone();
            }
            let hint = did_you_mean(name, args.keys().map(String::as_str))
                .unwrap_or_else(|| "a template body sees only its own arguments".into());
            self.diags.push(
                Diagnostic::error(
                    Code::UnknownName,
                    span,
                    format!("`{name}` is not an argument of this template"),
                )
                .with_hint(hint),
            );
            return RValue::Error;
        }
        if let Some((_, _, value)) = scope.bindings.iter().rev().find(|(_, var, _)| var == name) {
            return RValue::Data(value.clone());
        }
        if name == "params" {
            return RValue::Params;
        }
        if let Some(&decl) = self.decl_index.get(name) {
            return self.step_reference(decl, scope, span);
        }
        if let Some(&module) = self.program.modules[scope.module].imports.get(name) {
            self.used_imports.insert((scope.module, name.to_string()));
            return RValue::Module(module);
        }
        if self.param_index.contains_key(name) {
            self.diags.push(
                Diagnostic::error(Code::UnknownName, span, format!("`{name}` is not defined here"))
                    .with_hint(format!("params are read as `params.{name}`")),
            );
            return RValue::Error;
        }
        let mut candidates: Vec<&str> = self.decls.iter().map(|d| d.ast.name.name.as_str()).collect();
        candidates.extend(scope.bindings.iter().map(|(_, v, _)| v.as_str()));
        let hint = did_you_mean(name, candidates);
        let code = if hint.is_some() {
            Code::UnknownStep
        } else {
            Code::UnknownName
        };
        self.diags.push(
            Diagnostic::error(
                code,
                span,
                format!("no step, loop variable or import is called `{name}`"),
            )
            .with_hint_opt(hint),
        );
        RValue::Error
    }

    /// A step named from `scope`: loops it shares with the reference are bound
    /// to the current values; the rest must be indexed.
    fn step_reference(&mut self, decl: usize, scope: Scope, span: Span) -> RValue {
        // Most steps are in no loop: one instance, nothing to bind.
        if self.decls[decl].loops.is_empty() {
            return match self.decls[decl].instances.first() {
                Some(&id) => RValue::Step(id),
                None => RValue::Error,
            };
        }
        let loops = self.decls[decl].loops.clone();
        let mut bound = Vec::with_capacity(loops.len());
        for loop_id in &loops {
            match scope.bindings.iter().find(|(l, _, _)| l == loop_id) {
                Some((_, _, value)) => bound.push(Some(value.clone())),
                None => break,
            }
        }
        self.finish_selection(Selection { decl, bound }, span)
    }

    /// Turns a selection that binds every loop into instances.
    fn finish_selection(&mut self, selection: Selection, span: Span) -> RValue {
        let decl = &self.decls[selection.decl];
        if selection.bound.len() < decl.loops.len() {
            return RValue::Selection(selection);
        }
        if selection.bound.iter().all(Option::is_some) {
            let key: Vec<String> = selection.bound.iter().flatten().map(instance_key).collect();
            if let Some(&id) = self.instance_index.get(&(selection.decl, key)) {
                return RValue::Step(id);
            }
        }
        let matching: Vec<usize> = decl
            .instances
            .iter()
            .copied()
            .filter(|&id| {
                let key = &self.instances[id].key;
                selection
                    .bound
                    .iter()
                    .zip(key)
                    .all(|(want, have)| want.as_ref().is_none_or(|w| w == have))
            })
            .collect();
        if selection.bound.iter().any(Option::is_none) {
            return RValue::Steps(matching);
        }
        match matching.first() {
            Some(&id) => RValue::Step(id),
            None => {
                let name = decl.ast.name.name.clone();
                let keys: Vec<String> = decl
                    .instances
                    .iter()
                    .map(|&id| {
                        let key = &self.instances[id].key;
                        key[selection.bound.len() - 1..]
                            .iter()
                            .map(|v| v.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .collect();
                let wanted: Vec<String> = selection.bound.iter().flatten().map(|v| v.to_string()).collect();
                self.diags.push(
                    Diagnostic::error(
                        Code::UnknownInstance,
                        span,
                        format!("step `{name}` has no instance for [{}]", wanted.join("][")),
                    )
                    .with_hint(if keys.is_empty() {
                        "its loop produces no instances".to_string()
                    } else {
                        format!("its loop produces {}", keys.join("; "))
                    }),
                );
                RValue::Error
            }
        }
    }

    fn field(&mut self, base: Spanned, name: &str, name_span: Span, span: Span) -> RValue {
        match base.value {
            RValue::Error => RValue::Error,
            RValue::Params => match self.param_index.get(name).copied() {
                Some(i) => {
                    self.params[i].used = true;
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
                self.output_checks.push(super::OutputCheck {
                    step: id,
                    output: name.to_string(),
                    span: name_span,
                    json: false,
                });
                RValue::Output(id, name.to_string())
            }
            RValue::Steps(ids) => {
                for &id in &ids {
                    self.output_checks.push(super::OutputCheck {
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
                self.output_checks.push(super::OutputCheck {
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

    fn index(&mut self, base: Spanned, index: &Expr, scope: Scope, span: Span) -> RValue {
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
                self.output_checks.push(super::OutputCheck {
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

    fn call(&mut self, callee: &Expr, args: &[Arg], scope: Scope, span: Span) -> RValue {
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
            let span = value.span;
            self.error(
                Code::UnknownArgument,
                span,
                format!("`{name}(...)` takes no argument named `{arg}`"),
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

    fn compare(&mut self, op: CmpOp, left: Spanned, right: Spanned, span: Span) -> RValue {
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
    fn logic(&mut self, op: Option<LogicOp>, left: Spanned, right: Option<Spanned>) -> RValue {
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

/// The text a loop value has in instance lookups (values of different types
/// never compare equal, so the type is part of it).
pub(super) fn instance_key(value: &Value) -> String {
    match value {
        Value::Str(s) => {
            let mut key = String::with_capacity(s.len() + 2);
            key.push_str("s:");
            key.push_str(s);
            key
        }
        other => format!("{}:{other}", other.type_name()),
    }
}
