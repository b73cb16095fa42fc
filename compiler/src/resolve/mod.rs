//! Resolution: from parsed modules to a [`Pipeline`]. Params get their values
//! (defaults or `-p`), loops are unrolled into step instances, templates are
//! applied, every reference becomes a [`StepId`], and every attribute is
//! checked against its kind's schema. All problems are collected.

mod attributes;
mod build_steps;
mod eval;
mod expand;
mod kind_spec;
mod params;
mod rvalue;
mod schema;
mod step_builder;
mod targets;

use crate::backends::BackendSpec;
use crate::code::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::modules::{ModuleId, Program};
use crate::options::Options;
use crate::pipeline::{Edge, Param, Step, StepId, Target};
use crate::source::Span;
use crate::suggest::did_you_mean;
use crate::syntax::ast::{self, Item, StepDecl, TemplateDecl};
use crate::types::StepKind;
use crate::value::Value;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The parts of a resolved pipeline before the DAG is built.
pub struct Resolved {
    pub pipeline_name: String,
    pub params: Vec<Param>,
    pub steps: Vec<Step>,
    pub targets: Vec<Target>,
    /// (from, to, why, where the dependency is written).
    pub edges: Vec<(StepId, StepId, Edge, Span)>,
}

struct ParamSlot {
    param: Param,
    name_span: Span,
    /// Set by whichever thread reads the param (see [`Resolver::build_steps`]).
    used: AtomicBool,
    /// The declaration had errors; do not also warn that it is unused.
    broken: bool,
}

impl Clone for ParamSlot {
    fn clone(&self) -> Self {
        ParamSlot {
            param: self.param.clone(),
            name_span: self.name_span,
            used: AtomicBool::new(self.used.load(Ordering::Relaxed)),
            broken: self.broken,
        }
    }
}

/// A step declaration, shared by all instances its loops make.
#[derive(Clone)]
struct Decl<'p> {
    ast: &'p StepDecl,
    kind: StepKind,
    /// Loop ids enclosing the declaration, outermost first.
    loops: Vec<usize>,
    instances: Vec<StepId>,
}

#[derive(Clone)]
struct Instance {
    decl: usize,
    /// The values of the enclosing loops, outermost first.
    key: Vec<Value>,
    name: String,
    /// Shared by the instances of one loop iteration (and, empty, by every
    /// step outside loops), and read without borrowing the resolver.
    bindings: Arc<[(usize, String, Value)]>,
}

/// A reference to `step.output` whose existence is checked once all steps are built.
struct OutputCheck {
    step: StepId,
    output: String,
    span: Span,
    /// Read as JSON by a condition.
    json: bool,
}

/// The tables (`params` to `instances`) are filled by the passes before the
/// steps are built and only read after: the threads that build steps
/// borrow the main resolver's (see [`Resolver::build_steps`]).
struct Resolver<'p> {
    program: &'p Program,
    diags: &'p mut Diagnostics,
    params: Cow<'p, [ParamSlot]>,
    /// Param name -> index in `params`.
    param_index: Cow<'p, HashMap<String, usize>>,
    /// (declaration, loop key) -> instance, for references into fan-outs.
    instance_index: Cow<'p, HashMap<(usize, Vec<String>), StepId>>,
    decls: Cow<'p, [Decl<'p>]>,
    decl_index: Cow<'p, HashMap<&'p str, usize>>,
    instances: Cow<'p, [Instance]>,
    output_checks: Vec<OutputCheck>,
    edges: Vec<(StepId, StepId, Edge, Span)>,
    used_imports: HashSet<(ModuleId, String)>,
    deferred: Vec<Deferred>,
    /// Steps whose definition had errors: later checks skip them rather
    /// than report consequences of the same mistake.
    broken: HashSet<StepId>,
    /// Steps whose `outputs` had errors: references to their outputs are not checked.
    broken_outputs: HashSet<StepId>,
    /// Values found to be invalid because of an error reported earlier
    /// (counted so that a step built from them counts as broken).
    silent_errors: usize,
    /// The backends a target may name (the compile's `Options`).
    backends: &'p [&'static BackendSpec],
    pipeline_name: &'p str,
}

/// Resolves the entry module's pipeline. With `allow_library`, an entry file
/// that declares no pipeline but other items (templates, targets) is accepted
/// as a library and yields `None` without an error.
pub fn resolve<'p>(program: &'p Program, options: &'p Options, diags: &'p mut Diagnostics) -> Option<Resolved> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    resolve_on(program, options, diags, threads)
}

/// [`resolve`] with steps built on at most `threads` threads.
fn resolve_on<'p>(
    program: &'p Program,
    options: &'p Options,
    diags: &'p mut Diagnostics,
    threads: usize,
) -> Option<Resolved> {
    let allow_library = options.allow_library;
    let entry = program.modules.first()?;
    let mut pipelines = entry.ast.items.iter().filter_map(|item| match item {
        Item::Pipeline(p) => Some(p),
        _ => None,
    });
    let first = pipelines.next();
    for extra in pipelines {
        diags.push(
            Diagnostic::error(Code::MultiplePipelines, extra.name.span, "a file declares one pipeline")
                .with_hint("move this pipeline into a file of its own"),
        );
    }
    for module in &program.modules[1..] {
        for item in &module.ast.items {
            if let Item::Pipeline(p) = item {
                diags.push(
                    Diagnostic::error(
                        Code::PipelineInImport,
                        p.name.span,
                        "an imported file cannot declare a pipeline",
                    )
                    .with_hint("imported files hold templates and targets; keep each pipeline in the file you run"),
                );
            }
        }
    }
    let Some(pipeline) = first else {
        if entry.ast.items.is_empty() && diags.has_errors() {
            return None;
        }
        if allow_library && !entry.ast.items.is_empty() {
            return None;
        }
        let file = entry.file;
        diags.push(
            Diagnostic::error(
                Code::NoPipeline,
                Span::new(file, 0, 0),
                "this file declares no pipeline",
            )
            .with_hint("add `pipeline NAME { ... }` with its params and steps"),
        );
        return None;
    };
    let mut resolver = Resolver {
        program,
        diags,
        params: Cow::Owned(Vec::new()),
        param_index: Cow::Owned(HashMap::default()),
        instance_index: Cow::Owned(HashMap::default()),
        decls: Cow::Owned(Vec::new()),
        decl_index: Cow::Owned(HashMap::default()),
        instances: Cow::Owned(Vec::new()),
        output_checks: Vec::new(),
        edges: Vec::new(),
        used_imports: HashSet::default(),
        deferred: Vec::new(),
        broken: HashSet::default(),
        broken_outputs: HashSet::default(),
        silent_errors: 0,
        backends: &options.backends,
        pipeline_name: &pipeline.name.name,
    };
    resolver.check_templates();
    resolver.resolve_params(&pipeline.body, &options.params, options.allow_missing_params);
    resolver.register_decls(&pipeline.body);
    resolver.expand(&pipeline.body);
    let mut steps = resolver.build_steps(threads);
    resolver.check_outputs(&steps);
    resolver.finish_steps(&mut steps);
    let targets = resolver.resolve_targets(&steps);
    resolver.warn_unused();
    Some(Resolved {
        pipeline_name: pipeline.name.name.clone(),
        params: resolver.params.into_owned().into_iter().map(|p| p.param).collect(),
        steps,
        targets,
        edges: resolver.edges,
    })
}

impl<'p> Resolver<'p> {
    fn template_decl(&self, module: ModuleId, name: &str) -> Option<&'p TemplateDecl> {
        self.program
            .modules
            .get(module)?
            .ast
            .items
            .iter()
            .find_map(|item| match item {
                Item::Template(t) if t.name.name == name => Some(t),
                _ => None,
            })
    }

    fn unknown_template(&mut self, module: ModuleId, name: &str, span: Span) {
        let names: Vec<&str> = self.program.modules[module]
            .ast
            .items
            .iter()
            .filter_map(|item| match item {
                Item::Template(t) => Some(t.name.name.as_str()),
                _ => None,
            })
            .collect();
        let file = &self.program.sources.get(self.program.modules[module].file).name;
        let hint = did_you_mean(name, names.iter().copied()).unwrap_or_else(|| {
            if names.is_empty() {
                format!("`{file}` defines no templates")
            } else {
                format!(
                    "`{file}` defines {}",
                    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                )
            }
        });
        self.diags.push(
            Diagnostic::error(Code::UnknownTemplate, span, format!("no template `{name}` in `{file}`")).with_hint(hint),
        );
    }

    /// Duplicate template names, per module.
    fn check_templates(&mut self) {
        for module in &self.program.modules {
            let mut seen: HashMap<&str, Span> = HashMap::default();
            for item in &module.ast.items {
                if let Item::Template(t) = item
                    && let Some(first) = seen.insert(&t.name.name, t.name.span)
                {
                    self.diags.push(
                        Diagnostic::error(
                            Code::DuplicateName,
                            t.name.span,
                            format!("template `{}` is defined twice", t.name.name),
                        )
                        .with_label(first, "first defined here"),
                    );
                }
            }
        }
    }

    /// Resolves a step's `= template(...)` callee to the template's module and declaration.
    fn callee_template(&mut self, callee: &ast::Expr, module: ModuleId) -> Option<(ModuleId, &'p TemplateDecl)> {
        match &callee.kind {
            ast::ExprKind::Ident(name) => match self.template_decl(module, name) {
                Some(t) => Some((module, t)),
                None => {
                    self.unknown_template(module, name, callee.span);
                    None
                }
            },
            ast::ExprKind::Field(base, name) => {
                let ast::ExprKind::Ident(alias) = &base.kind else {
                    self.error(
                        Code::TypeMismatch,
                        callee.span,
                        "a step is made by calling a template: `NAME(...)` or `IMPORT.NAME(...)`",
                    );
                    return None;
                };
                let Some(&target) = self.program.modules[module].imports.get(alias) else {
                    let aliases: Vec<&str> = self.program.modules[module]
                        .imports
                        .keys()
                        .map(String::as_str)
                        .collect();
                    self.diags.push(
                        Diagnostic::error(
                            Code::UnknownImport,
                            base.span,
                            format!("nothing is imported as `{alias}`"),
                        )
                        .with_hint(did_you_mean(alias, aliases).unwrap_or_else(|| {
                            format!("add `import \"std/{alias}\" as {alias}` or a path to your own file")
                        })),
                    );
                    return None;
                };
                self.used_imports.insert((module, alias.clone()));
                match self.template_decl(target, &name.name) {
                    Some(t) => Some((target, t)),
                    None => {
                        self.unknown_template(target, &name.name, name.span);
                        None
                    }
                }
            }
            _ => {
                self.error(
                    Code::TypeMismatch,
                    callee.span,
                    "a step is made by calling a template: `NAME(...)` or `IMPORT.NAME(...)`",
                );
                None
            }
        }
    }

    /// Every `step.output` reference must name an output the step has, and a
    /// condition may read fields only of JSON outputs.
    fn check_outputs(&mut self, steps: &[Step]) {
        let checks = std::mem::take(&mut self.output_checks);
        let mut reported: HashSet<(StepId, String, Span)> = HashSet::default();
        for check in checks {
            if self.broken_outputs.contains(&check.step) {
                continue;
            }
            let step = &steps[check.step];
            match step.output(&check.output) {
                None => {
                    if !reported.insert((check.step, check.output.clone(), check.span)) {
                        continue;
                    }
                    let names: Vec<&str> = step.outputs.iter().map(|o| o.name.as_str()).collect();
                    let hint = did_you_mean(&check.output, names.iter().copied()).unwrap_or_else(|| {
                        if names.is_empty() {
                            format!("`{}` declares no outputs", step.name)
                        } else {
                            format!(
                                "`{}` has {}",
                                step.name,
                                names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                            )
                        }
                    });
                    self.diags.push(
                        Diagnostic::error(
                            Code::UnknownOutput,
                            check.span,
                            format!("step `{}` has no output `{}`", step.name, check.output),
                        )
                        .with_hint(hint)
                        .with_label(step.span, "the step is declared here"),
                    );
                }
                Some(output) if check.json && !output.is_json() => {
                    self.diags.push(
                        Diagnostic::error(
                            Code::WhenNotJson,
                            check.span,
                            format!(
                                "`{}.{}` is not a JSON file, so its fields cannot be read",
                                step.name, check.output
                            ),
                        )
                        .with_hint(format!(
                            "declare it as `{} = file(\"{}.json\")` and write JSON to it",
                            check.output, check.output
                        )),
                    );
                }
                Some(_) => {}
            }
        }
    }

    fn warn_unused(&mut self) {
        for slot in self.params.iter() {
            if !slot.used.load(Ordering::Relaxed) && !slot.broken {
                self.diags.push(
                    Diagnostic::warning(
                        Code::UnusedParam,
                        slot.name_span,
                        format!("param `{}` is never read", slot.param.name),
                    )
                    .with_hint("read it as `params.NAME`, or remove it"),
                );
            }
        }
        // Only the entry file: a library's imports serve templates a pipeline may not use.
        let entry = &self.program.modules[0];
        for item in &entry.ast.items {
            if let Item::Import(import) = item {
                let name = import.name();
                {
                    if entry.imports.contains_key(&name) && !self.used_imports.contains(&(0, name.clone())) {
                        self.diags.push(Diagnostic::warning(
                            Code::UnusedImport,
                            import.span,
                            format!("`{name}` is imported but never used"),
                        ));
                    }
                }
            }
        }
    }
}

/// Checks that need every step built first.
enum Deferred {
    Tune {
        tune: StepId,
        train: StepId,
        span: Span,
        metric: String,
    },
    Monitor {
        monitor: StepId,
        endpoint: StepId,
        span: Span,
    },
}

#[cfg(test)]
mod tests;
