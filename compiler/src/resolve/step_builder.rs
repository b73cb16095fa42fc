//! Builds one step instance: evaluates its body (or applies its template),
//! checks each attribute against the kind's schema, and records the edges
//! its references create.

use super::eval::Scope;
use super::params::{example_of, type_phrase};
use super::rvalue::{RValue, Spanned};
use super::{Resolver, schema};
use crate::code::Code;
use crate::diagnostic::Diagnostic;
use crate::pipeline::{Condition, Edge, KindSpec, Resources, Retry, Step, StepId};
use crate::source::Span;
use crate::suggest::did_you_mean;
use crate::syntax::ast::{Entry, ExprKind, StepDef};
use crate::types::{StepKind, Type};
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;
use std::sync::Arc;

/// An evaluated attribute: its key, where the key is written, its value.
pub(super) type Attr = (String, Span, Spanned);

impl Resolver<'_> {
    pub(super) fn build_step(&mut self, id: StepId) -> Step {
        let errors_before = self.diags.error_count() + self.silent_errors;
        let decl_id = self.instances[id].decl;
        let decl = self.decls[decl_id].ast;
        let kind = self.decls[decl_id].kind;
        let bindings = Arc::clone(&self.instances[id].bindings);
        let scope = Scope {
            module: 0,
            bindings: &bindings,
            args: None,
        };
        let attrs = match &decl.def {
            StepDef::Body(entries) => self.eval_entries(entries, scope),
            StepDef::Call(call) => self.apply_template(call, scope),
        };
        let mut step = Step {
            name: self.instances[id].name.clone(),
            base: decl.name.name.clone(),
            instance: self.instances[id].key.clone(),
            kind,
            image: None,
            command: None,
            env: BTreeMap::new(),
            inputs: Vec::new(),
            outputs: schema::implicit_outputs(kind),
            hyperparameters: BTreeMap::new(),
            resources: Resources::default(),
            retry: Retry::default(),
            timeout: None,
            cache: true,
            after: Vec::new(),
            when: None,
            spec: KindSpec::None,
            span: decl.name.span,
        };
        let mut spec_attrs: Vec<Attr> = Vec::new();
        for (key, key_span, value) in attrs {
            if !schema::allows(kind, &key) {
                let allowed = schema::allowed(kind);
                let hint = did_you_mean(&key, allowed.iter().copied())
                    .unwrap_or_else(|| format!("a `{kind}` step takes {}", allowed.join(", ")));
                self.diags.push(
                    Diagnostic::error(
                        Code::UnknownAttribute,
                        key_span,
                        format!("a `{kind}` step has no attribute `{key}`"),
                    )
                    .with_hint(hint),
                );
                continue;
            }
            if matches!(value.value, RValue::Error) {
                self.silent_errors += 1;
                continue;
            }
            self.apply_attr(id, &mut step, &key, key_span, value, &mut spec_attrs);
        }
        let attrs_failed = self.diags.error_count() + self.silent_errors > errors_before;
        if attrs_failed {
            self.broken.insert(id);
        }
        for required in schema::required(kind).iter().filter(|_| !attrs_failed) {
            if !spec_attrs.iter().any(|(k, _, _)| k == required) {
                self.diags.push(
                    Diagnostic::error(
                        Code::MissingAttribute,
                        decl.name.span,
                        format!("`{kind}` step `{}` needs `{required}`", step.name),
                    )
                    .with_hint(required_hint(kind, required)),
                );
            }
        }
        for required in schema::required_inputs(kind).iter().filter(|_| !attrs_failed) {
            if !step.inputs.iter().any(|i| i.name == *required) {
                self.diags.push(
                    Diagnostic::error(
                        Code::MissingAttribute,
                        decl.name.span,
                        format!("`{kind}` step `{}` needs an input named `{required}`", step.name),
                    )
                    .with_hint(format!("add `inputs {{ {required} = ... }}`")),
                );
            }
        }
        step.spec = self.kind_spec(id, kind, spec_attrs, decl.name.span);
        if let Some(when) = &decl.when {
            let value = self.eval(when, scope);
            step.when = self.condition(id, value);
        }
        step
    }

    pub(super) fn eval_entries(&mut self, entries: &[Entry], scope: Scope) -> Vec<Attr> {
        let mut out: Vec<Attr> = Vec::with_capacity(entries.len());
        for entry in entries {
            if let Some((_, first, _)) = out.iter().find(|(k, _, _)| *k == entry.key.name) {
                let first = *first;
                self.diags.push(
                    Diagnostic::error(
                        Code::DuplicateName,
                        entry.key.span,
                        format!("`{}` is set twice", entry.key.name),
                    )
                    .with_label(first, "first set here"),
                );
                continue;
            }
            let value = self.eval(&entry.value, scope);
            out.push((entry.key.name.clone(), entry.key.span, value));
        }
        out
    }

    /// Evaluates `template(args)` in the caller's scope and the template's body
    /// with the arguments bound.
    fn apply_template(&mut self, call: &crate::syntax::ast::Expr, scope: Scope) -> Vec<Attr> {
        let ExprKind::Call(callee, args) = &call.kind else {
            self.diags.push(
                Diagnostic::error(
                    Code::TypeMismatch,
                    call.span,
                    "`=` after a step name takes a template call",
                )
                .with_hint("write `step NAME = template(arg = value)` or `step NAME { ... }`"),
            );
            return Vec::new();
        };
        let Some((module, template)) = self.callee_template(callee, scope.module) else {
            return Vec::new();
        };
        let mut bound: HashMap<String, Spanned> = HashMap::default();
        let mut positional = 0;
        for arg in args {
            let value = self.eval(&arg.value, scope);
            let param = match &arg.name {
                Some(name) => match template.params.iter().find(|p| p.name.name == name.name) {
                    Some(p) => p,
                    None => {
                        let names = template.params.iter().map(|p| p.name.name.as_str());
                        self.diags.push(
                            Diagnostic::error(
                                Code::UnknownArgument,
                                name.span,
                                format!("template `{}` has no argument `{}`", template.name.name, name.name),
                            )
                            .with_hint_opt(did_you_mean(&name.name, names)),
                        );
                        continue;
                    }
                },
                None => {
                    let Some(p) = template.params.get(positional) else {
                        self.error(
                            Code::UnknownArgument,
                            arg.value.span,
                            format!(
                                "template `{}` takes {} argument(s)",
                                template.name.name,
                                template.params.len()
                            ),
                        );
                        continue;
                    };
                    positional += 1;
                    p
                }
            };
            if bound.contains_key(&param.name.name) {
                self.error(
                    Code::DuplicateName,
                    arg.value.span,
                    format!("argument `{}` is given twice", param.name.name),
                );
                continue;
            }
            let checked = match &param.ty {
                Some(ty) => self
                    .parse_type(ty)
                    .and_then(|ty| self.check_arg(value, &ty, &param.name.name)),
                None => Some(value),
            };
            if let Some(v) = checked {
                bound.insert(param.name.name.clone(), v);
            } else {
                bound.insert(
                    param.name.name.clone(),
                    Spanned {
                        value: RValue::Error,
                        span: arg.value.span,
                    },
                );
            }
        }
        let template_scope_base = Scope {
            module,
            bindings: &[],
            args: None,
        };
        for param in &template.params {
            if bound.contains_key(&param.name.name) {
                continue;
            }
            match &param.default {
                Some(default) => {
                    let value = self.eval(default, template_scope_base);
                    bound.insert(param.name.name.clone(), value);
                }
                None => {
                    self.diags.push(
                        Diagnostic::error(
                            Code::MissingArgument,
                            call.span,
                            format!(
                                "template `{}` needs the argument `{}`",
                                template.name.name, param.name.name
                            ),
                        )
                        .with_label(param.span, "declared here"),
                    );
                    bound.insert(
                        param.name.name.clone(),
                        Spanned {
                            value: RValue::Error,
                            span: call.span,
                        },
                    );
                }
            }
        }
        let body_scope = Scope {
            module,
            bindings: &[],
            args: Some(&bound),
        };
        self.eval_entries(&template.body, body_scope)
    }

    fn check_arg(&mut self, value: Spanned, ty: &Type, name: &str) -> Option<Spanned> {
        let ok = match (&value.value, ty) {
            (RValue::Error, _) | (_, Type::Any) => true,
            (RValue::Output(..) | RValue::Gather(_), Type::Output) => true,
            (RValue::Data(v), ty) => v.clone().coerce(ty).is_some(),
            (RValue::List(_), Type::List(_)) => true,
            _ => false,
        };
        if !ok {
            self.diags.push(
                Diagnostic::error(
                    Code::TypeMismatch,
                    value.span,
                    format!(
                        "argument `{name}` expects {}, found {}",
                        type_phrase(ty),
                        value.value.describe()
                    ),
                )
                .with_hint(example_of(ty)),
            );
            return None;
        }
        if let (RValue::Data(v), ty) = (&value.value, ty) {
            return v.clone().coerce(ty).map(|v| Spanned {
                value: RValue::Data(v),
                span: value.span,
            });
        }
        Some(value)
    }

    /// Turns a `when` value into a condition and adds the edges it implies.
    fn condition(&mut self, id: StepId, value: Spanned) -> Option<Condition> {
        let condition = match value.value {
            RValue::Data(crate::value::Value::Bool(b)) => Condition::Const { value: b },
            RValue::Cond(c) => c,
            RValue::Json(field) => Condition::Truthy { field },
            RValue::Error => return None,
            other => {
                self.diags.push(
                    Diagnostic::error(
                        Code::NotACondition,
                        value.span,
                        format!("`when` needs a boolean, found {}", other.describe()),
                    )
                    .with_hint("compare a JSON output's field, as in `when evaluate.metrics.auc >= 0.8`"),
                );
                return None;
            }
        };
        let mut fields = Vec::new();
        collect_fields(&condition, &mut fields);
        for (step, output) in fields {
            self.edges.push((step, id, Edge::Condition { output }, value.span));
        }
        Some(condition)
    }
}

fn collect_fields(condition: &Condition, out: &mut Vec<(StepId, String)>) {
    use crate::pipeline::Operand;
    match condition {
        Condition::Const { .. } => {}
        Condition::Compare { left, right, .. } => {
            for operand in [left, right] {
                if let Operand::Field(f) = operand {
                    out.push((f.step, f.output.clone()));
                }
            }
        }
        Condition::Truthy { field } => out.push((field.step, field.output.clone())),
        Condition::And { left, right } | Condition::Or { left, right } => {
            collect_fields(left, out);
            collect_fields(right, out);
        }
        Condition::Not { operand } => collect_fields(operand, out),
    }
}

fn required_hint(kind: StepKind, attr: &str) -> String {
    match (kind, attr) {
        (StepKind::Tune, "train") => "name the train step to tune: `train = fit`".into(),
        (StepKind::Tune, "objective") => "add `objective { metric = \"validation:auc\", goal = \"maximize\" }`".into(),
        (StepKind::Tune, "ranges") => "add `ranges { max_depth = int(3, 10), eta = float(0.01, 0.3) }`".into(),
        (StepKind::Monitor, "endpoint") => "name the deploy step to watch: `endpoint = serve`".into(),
        (StepKind::Build, "context") => "add `context = \"docker/tools\"`, the folder holding the Dockerfile".into(),
        _ => format!("add `{attr} = ...`"),
    }
}
