//! Fan-out: registers every step declaration, then unrolls `for` loops into
//! step instances (`fit` in `for region in ["eu", "us"]` becomes `fit-eu` and
//! `fit-us`). Loops run over lists known at compile time, so `plan` always
//! shows the whole graph.

use super::eval::Scope;
use super::rvalue::RValue;
use super::{Decl, Instance, Resolver};
use crate::code::Code;
use crate::diagnostic::Diagnostic;
use crate::syntax::ast::{StepDef, Stmt};
use crate::value::Value;
use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;
use std::sync::Arc;

impl<'p> Resolver<'p> {
    /// Records each declaration once, with the loops around it.
    pub(super) fn register_decls(&mut self, body: &'p [Stmt]) {
        let mut next_loop = 0;
        let mut stack = Vec::new();
        self.register_in(body, &mut stack, &mut next_loop);
    }

    fn register_in(&mut self, body: &'p [Stmt], stack: &mut Vec<usize>, next_loop: &mut usize) {
        for stmt in body {
            match stmt {
                Stmt::Param(_) => {}
                Stmt::For(l) => {
                    stack.push(*next_loop);
                    *next_loop += 1;
                    self.register_in(&l.body, stack, next_loop);
                    stack.pop();
                }
                Stmt::Step(decl) => {
                    let name = decl.name.name.as_str();
                    if name == "params" {
                        self.diags.push(
                            Diagnostic::error(
                                Code::DuplicateName,
                                decl.name.span,
                                "`params` is reserved for reading params",
                            )
                            .with_hint("choose another step name"),
                        );
                        continue;
                    }
                    if let Some(&first) = self.decl_index.get(name) {
                        let first = self.decls[first].ast.name.span;
                        self.diags.push(
                            Diagnostic::error(
                                Code::DuplicateName,
                                decl.name.span,
                                format!("step `{name}` is declared twice"),
                            )
                            .with_label(first, "first declared here"),
                        );
                        continue;
                    }
                    let kind = match &decl.def {
                        StepDef::Body(_) => decl.kind,
                        StepDef::Call(call) => self.call_kind(decl, call),
                    };
                    self.decl_index.to_mut().insert(name, self.decls.len());
                    self.decls.to_mut().push(Decl {
                        ast: decl,
                        kind,
                        loops: stack.clone(),
                        instances: Vec::new(),
                    });
                }
            }
        }
    }

    /// The kind a template call makes: the template's, which `step` accepts
    /// and any other written kind must equal.
    fn call_kind(
        &mut self,
        decl: &crate::syntax::ast::StepDecl,
        call: &crate::syntax::ast::Expr,
    ) -> crate::types::StepKind {
        use crate::syntax::ast::ExprKind;
        let ExprKind::Call(callee, _) = &call.kind else {
            return decl.kind;
        };
        // Only the kind is needed here; errors are reported when the step is built.
        let template = match &callee.kind {
            ExprKind::Ident(name) => self.template_decl(0, name),
            ExprKind::Field(base, name) => match &base.kind {
                ExprKind::Ident(alias) => self.program.modules[0]
                    .imports
                    .get(alias)
                    .and_then(|&m| self.template_decl(m, &name.name)),
                _ => None,
            },
            _ => None,
        };
        let Some(template) = template else { return decl.kind };
        let template_kind = template.kind.map_or(crate::types::StepKind::Step, |(k, _)| k);
        if decl.kind != crate::types::StepKind::Step && decl.kind != template_kind {
            self.diags.push(
                Diagnostic::error(
                    Code::TemplateKindMismatch,
                    decl.kind_span,
                    format!(
                        "`{}` makes a `{template_kind}` step, not a `{}` step",
                        template.name.name, decl.kind
                    ),
                )
                .with_hint(if template_kind == crate::types::StepKind::Step {
                    format!("write `step {} = ...`", decl.name.name)
                } else {
                    format!(
                        "write `{template_kind} {} = ...` or `step {} = ...`",
                        decl.name.name, decl.name.name
                    )
                }),
            );
        }
        template_kind
    }

    /// Unrolls loops, creating one instance per declaration and iteration.
    pub(super) fn expand(&mut self, body: &'p [Stmt]) {
        let mut names: HashMap<Cow<'p, str>, usize> = HashMap::default();
        let mut next_loop = 0;
        let no_bindings: Arc<[(usize, String, Value)]> = Arc::from([]);
        self.expand_in(body, &mut Vec::new(), &mut next_loop, &mut names, &no_bindings);
    }

    fn expand_in(
        &mut self,
        body: &'p [Stmt],
        bindings: &mut Vec<(usize, String, Value)>,
        next_loop: &mut usize,
        names: &mut HashMap<Cow<'p, str>, usize>,
        no_bindings: &Arc<[(usize, String, Value)]>,
    ) {
        for stmt in body {
            match stmt {
                Stmt::Param(_) => {}
                Stmt::For(l) => {
                    let loop_id = *next_loop;
                    *next_loop += 1;
                    let values = self.loop_values(l, bindings);
                    let after_body = *next_loop + count_loops(&l.body);
                    for value in values {
                        let mut inner_next = loop_id + 1;
                        bindings.push((loop_id, l.var.name.clone(), value));
                        self.expand_in(&l.body, bindings, &mut inner_next, names, no_bindings);
                        bindings.pop();
                    }
                    *next_loop = after_body;
                }
                Stmt::Step(decl) => {
                    let Some(&decl_id) = self.decl_index.get(decl.name.name.as_str()) else {
                        continue;
                    };
                    if !std::ptr::eq(self.decls[decl_id].ast, decl) {
                        continue; // a duplicate declaration, already reported
                    }
                    let key: Vec<Value> = bindings.iter().map(|(_, _, v)| v.clone()).collect();
                    let mut name = decl.name.name.clone();
                    for value in &key {
                        name.push('-');
                        name.push_str(&sanitize(&value.to_text()));
                    }
                    let id = self.instances.len();
                    if let Some(&other) = names.get(name.as_str()) {
                        let other_key: Vec<String> = self.instances[other].key.iter().map(|v| v.to_string()).collect();
                        let this_key: Vec<String> = key.iter().map(|v| v.to_string()).collect();
                        self.diags.push(
                            Diagnostic::error(
                                Code::DuplicateInstance,
                                decl.name.span,
                                format!("loop values [{}] and [{}] both name an instance `{name}`", other_key.join(", "), this_key.join(", ")),
                            )
                            .with_hint("instance names keep letters, digits, `-` and `_` of the loop values; make the values differ in those"),
                        );
                        continue;
                    }
                    // A step outside loops is named as declared: the
                    // table borrows that name rather than copying it.
                    let entry = if key.is_empty() {
                        Cow::Borrowed(decl.name.name.as_str())
                    } else {
                        Cow::Owned(name.clone())
                    };
                    names.insert(entry, id);
                    // Only instances of loops are looked up by their key
                    // (a step outside loops is its declaration's only instance).
                    if !key.is_empty() {
                        let lookup: Vec<String> = key.iter().map(super::eval::instance_key).collect();
                        self.instance_index.to_mut().insert((decl_id, lookup), id);
                    }
                    self.decls.to_mut()[decl_id].instances.push(id);
                    let bindings = if bindings.is_empty() {
                        Arc::clone(no_bindings)
                    } else {
                        Arc::from(bindings.as_slice())
                    };
                    self.instances.to_mut().push(Instance {
                        decl: decl_id,
                        key,
                        name,
                        bindings,
                    });
                }
            }
        }
    }

    fn loop_values(&mut self, l: &crate::syntax::ast::ForLoop, bindings: &[(usize, String, Value)]) -> Vec<Value> {
        let scope = Scope {
            module: 0,
            bindings,
            args: None,
        };
        let iter = self.eval(&l.iter, scope);
        let span = iter.span;
        let values = match iter.value {
            RValue::Error => return Vec::new(),
            RValue::Data(Value::List(items)) => items,
            RValue::List(_) => match self.plain(iter) {
                Some(Value::List(items)) => items,
                _ => return Vec::new(),
            },
            other => {
                self.diags.push(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        span,
                        format!("a `for` loop runs over a list, not {}", other.describe()),
                    )
                    .with_hint("write a list such as `[\"eu\", \"us\"]` or a `list` param"),
                );
                return Vec::new();
            }
        };
        let mut seen: HashMap<String, ()> = HashMap::default();
        for value in &values {
            if matches!(value, Value::List(_) | Value::Map(_)) {
                self.error(
                    Code::TypeMismatch,
                    span,
                    "a `for` loop's values must be strings, numbers or booleans",
                );
                return Vec::new();
            }
            if seen.insert(super::eval::instance_key(value), ()).is_some() {
                self.diags.push(Diagnostic::error(
                    Code::DuplicateInstance,
                    span,
                    format!("the loop's list holds {value} twice"),
                ));
                return Vec::new();
            }
        }
        values
    }
}

fn count_loops(body: &[Stmt]) -> usize {
    body.iter()
        .map(|s| match s {
            Stmt::For(l) => 1 + count_loops(&l.body),
            _ => 0,
        })
        .sum()
}

/// Keeps what a step name may hold; anything else becomes `-`.
fn sanitize(text: &str) -> String {
    let out: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if out.is_empty() { "-".into() } else { out }
}
