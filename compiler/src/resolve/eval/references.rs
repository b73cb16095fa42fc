//! Names in expressions: a template's arguments, loop variables, `params`,
//! imports, and step names turned into step ids. A step inside `for` loops
//! is a selection until every loop is bound, then one instance (or, with
//! `[*]`, all of them). Fields and indexes on what a name means are in
//! `access.rs`.

use super::super::Resolver;
use super::super::rvalue::{RValue, Selection};
use super::Scope;
use crate::code::Code;
use crate::diagnostic::Diagnostic;
use crate::source::Span;
use crate::suggest::did_you_mean;
use crate::value::Value;

impl Resolver<'_> {
    pub(super) fn lookup(&mut self, name: &str, span: Span, scope: Scope) -> RValue {
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
    pub(super) fn finish_selection(&mut self, selection: Selection, span: Span) -> RValue {
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
}

/// The text a loop value has in instance lookups (values of different types
/// never compare equal, so the type is part of it).
pub(in crate::resolve) fn instance_key(value: &Value) -> String {
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
