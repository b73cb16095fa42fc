//! Targets: where steps run. Resolves `target` blocks (from the entry file and
//! its imports), then checks every step against every target, so that `check`
//! catches a step that cannot run where a target puts it.

use super::Resolver;
use super::eval::Scope;
use super::rvalue::RValue;
use crate::backends::{self, BackendKind, Program, SettingType};
use crate::code::Code;
use crate::diagnostic::Diagnostic;
use crate::pipeline::{Setting, Step, StepOverride, Target, TargetSettings};
use crate::source::Span;
use crate::suggest::did_you_mean;
use crate::syntax::ast::{Entry, ExprKind, Item, TargetItem};
use crate::types::StepKind;
use crate::value::Value;

impl Resolver<'_> {
    pub(super) fn resolve_targets(&mut self, steps: &[Step]) -> Vec<Target> {
        let mut targets: Vec<(Target, bool)> = Vec::new();
        let mut from_import: Vec<bool> = Vec::new();
        for (module_id, module) in self.program.modules.iter().enumerate() {
            for item in &module.ast.items {
                let Item::Target(decl) = item else { continue };
                let target = self.target(decl, module_id, steps);
                if let Some(i) = targets.iter().position(|(t, _)| t.name == target.0.name) {
                    if module_id != 0 && !from_import[i] {
                        continue; // the entry file's own target wins over an imported one
                    }
                    self.diags.push(
                        Diagnostic::error(
                            Code::DuplicateName,
                            decl.name.span,
                            format!("target `{}` is declared twice", target.0.name),
                        )
                        .with_label(targets[i].0.span, "first declared here"),
                    );
                    continue;
                }
                targets.push(target);
                from_import.push(module_id != 0);
            }
        }
        if let (true, Some(first)) = (targets.is_empty(), self.backends.first()) {
            let span = steps
                .first()
                .map_or(Span::new(crate::source::FileId(0), 0, 0), |s| s.span);
            targets.push((
                Target {
                    name: "default".into(),
                    backend: first.kind,
                    settings: TargetSettings::default(),
                    steps: Vec::new(),
                    hands_off: Vec::new(),
                    implicit: true,
                    span,
                },
                true,
            ));
        }
        for (target, _) in &mut targets {
            target.hands_off = self.hands_off(target);
        }
        for (target, valid) in &targets {
            // A target whose backend is wrong was reported; checking where it
            // puts steps would only repeat that error in other words.
            if *valid {
                self.check_placement(target, steps);
            }
        }
        targets.into_iter().map(|(t, _)| t).collect()
    }

    fn target(&mut self, decl: &crate::syntax::ast::TargetDecl, module: usize, steps: &[Step]) -> (Target, bool) {
        let mut backend = None;
        let mut backend_written = false;
        let mut settings = TargetSettings::default();
        let mut overrides = Vec::new();
        for item in &decl.items {
            match item {
                TargetItem::Entry(entry) if entry.key.name == "backend" => {
                    backend_written = true;
                    backend = self.backend(entry);
                }
                TargetItem::Entry(entry) => self.setting(entry, module, &mut settings, true),
                TargetItem::Step { name, entries, span } => {
                    if !steps.iter().any(|s| s.base == name.name) {
                        let hint = did_you_mean(&name.name, steps.iter().map(|s| s.base.as_str()));
                        self.diags.push(
                            Diagnostic::error(
                                Code::UnknownStep,
                                name.span,
                                format!(
                                    "target `{}` places step `{}`, which does not exist",
                                    decl.name.name, name.name
                                ),
                            )
                            .with_hint_opt(hint),
                        );
                        continue;
                    }
                    if overrides.iter().any(|o: &StepOverride| o.step == name.name) {
                        self.error(
                            Code::DuplicateName,
                            name.span,
                            format!("step `{}` is placed twice in this target", name.name),
                        );
                        continue;
                    }
                    let mut step_backend = None;
                    let mut step_settings = TargetSettings::default();
                    for entry in entries {
                        if entry.key.name == "backend" {
                            step_backend = self.backend(entry);
                        } else {
                            self.setting(entry, module, &mut step_settings, false);
                        }
                    }
                    overrides.push(StepOverride {
                        step: name.name.clone(),
                        backend: step_backend,
                        settings: step_settings,
                        span: *span,
                    });
                }
            }
        }
        let valid = backend.is_some();
        // A target without a valid backend is reported here; the first
        // backend stands in for it so that the rest is still checked.
        let fallback = self.backends.first().map_or(BackendKind::new("none"), |b| b.kind);
        let backend = backend.unwrap_or_else(|| {
            if backend_written {
                return fallback;
            }
            let choices: Vec<String> = self
                .backends
                .iter()
                .map(|b| format!("`backend = {}`", b.kind))
                .collect();
            let hint = match choices.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("add {} or {last}", rest.join(", ")),
                Some((last, _)) => format!("add {last}"),
                None => "no backends are registered".into(),
            };
            self.diags.push(
                Diagnostic::error(
                    Code::MissingAttribute,
                    decl.name.span,
                    format!("target `{}` needs a `backend`", decl.name.name),
                )
                .with_hint(hint),
            );
            fallback
        });
        Target {
            name: decl.name.name.clone(),
            backend,
            settings,
            steps: overrides,
            hands_off: Vec::new(),
            implicit: false,
            span: decl.name.span,
        }
        .checked(valid)
    }

    fn backend(&mut self, entry: &Entry) -> Option<BackendKind> {
        let name = match &entry.value.kind {
            ExprKind::Ident(name) => name.clone(),
            ExprKind::Str { parts, .. } => match parts.as_slice() {
                [crate::syntax::ast::StrPart::Text(t)] => t.clone(),
                _ => String::new(),
            },
            _ => String::new(),
        };
        match self.backends.iter().find(|b| b.kind.as_str() == name) {
            Some(b) => Some(b.kind),
            None => {
                let names = self.backends.iter().map(|b| b.kind.as_str());
                self.diags.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        entry.value.span,
                        format!("`{name}` is not a backend"),
                    )
                    .with_hint(
                        did_you_mean(&name, names)
                            .unwrap_or_else(|| format!("backends are {}", backends::names(self.backends))),
                    ),
                );
                None
            }
        }
    }

    fn setting(&mut self, entry: &Entry, module: usize, settings: &mut TargetSettings, target_level: bool) {
        let key = entry.key.name.as_str();
        // A setting any backend reads: a step override may move a step to
        // another backend, so a target holds the settings of all of them.
        let Some(spec) = self
            .backends
            .iter()
            .flat_map(|b| b.settings)
            .find(|s| s.name == key)
            .copied()
        else {
            let mut known = vec!["backend"];
            for spec in self.backends.iter().flat_map(|b| b.settings) {
                if !known.contains(&spec.name) {
                    known.push(spec.name);
                }
            }
            self.unknown_key(
                key,
                entry.key.span,
                if target_level { "target" } else { "step placement" },
                &known,
            );
            return;
        };
        let scope = Scope {
            module,
            bindings: &[],
            args: None,
        };
        let value = self.eval(&entry.value, scope);
        let text = |this: &mut Self| -> Option<Setting> {
            match &value.value {
                RValue::Data(Value::Str(s)) => Some(Setting::Text(s.clone())),
                RValue::Env(var) => Some(Setting::Env(var.clone())),
                RValue::Error => None,
                RValue::Secret(_) => {
                    this.error(
                        Code::SecretMisuse,
                        value.span,
                        "target settings are shown in plans; use `env(\"NAME\")`",
                    );
                    None
                }
                _ => {
                    this.mismatch(
                        &value,
                        &format!("`{key}`"),
                        super::attributes::Want("a string or `env(\"NAME\")`", "region = \"eu-west-1\""),
                    );
                    None
                }
            }
        };
        let checked = match spec.value {
            SettingType::Text => text(self),
            SettingType::S3Uri => {
                let setting = text(self);
                if let Some(Setting::Text(b)) = &setting
                    && !b.starts_with("s3://")
                {
                    self.diags.push(
                        Diagnostic::error(Code::InvalidValue, value.span, format!("`{b}` is not an s3:// URI"))
                            .with_hint(format!("write `{key} = \"s3://{}\"`", b.trim_start_matches('/'))),
                    );
                }
                setting
            }
            SettingType::InstanceType => {
                match self.want_str(&value, &format!("`{key}`"), "instance = \"ml.m5.xlarge\"") {
                    Some(s) if super::attributes::is_instance_type(&s) => Some(Setting::Text(s)),
                    Some(s) => {
                        self.diags.push(
                            Diagnostic::error(
                                Code::InvalidInstanceType,
                                value.span,
                                format!("`{s}` is not a SageMaker instance type"),
                            )
                            .with_hint("SageMaker instance types look like `ml.m5.xlarge`"),
                        );
                        None
                    }
                    None => None,
                }
            }
            SettingType::Int { min, max } => self.want_int(&value, &format!("`{key}`"), min, max).map(Setting::Int),
            SettingType::Bool => self.want_bool(&value, &format!("`{key}`")).map(Setting::Bool),
        };
        if let Some(setting) = checked {
            settings.set(key, setting);
        }
    }

    /// The hand-offs of every backend the target places a step on.
    fn hands_off(&self, target: &Target) -> Vec<(BackendKind, StepKind, BackendKind)> {
        let used = std::iter::once(target.backend).chain(target.steps.iter().filter_map(|o| o.backend));
        let mut hands_off = Vec::new();
        for kind in used {
            let Some(spec) = backends::find(self.backends, kind) else {
                continue;
            };
            for &(step_kind, other) in spec.hands_off {
                if !hands_off.contains(&(kind, step_kind, other)) {
                    hands_off.push((kind, step_kind, other));
                }
            }
        }
        hands_off
    }

    /// Every step must be runnable where `target` puts it: a step that runs
    /// a program needs what its backend runs (an image or a command), and
    /// the backend's own checks must pass. A kind the backend does not run
    /// is `plan`'s refusal, not an error here: another target may run it.
    fn check_placement(&mut self, target: &Target, steps: &[Step]) {
        for (id, step) in steps.iter().enumerate() {
            if self.broken.contains(&id) {
                continue;
            }
            let backend = crate::placement::backend_for(target, step);
            let Some(spec) = backends::find(self.backends, backend) else {
                continue;
            };
            let where_ = if target.implicit {
                format!("on the {backend} backend (the file declares no target)")
            } else {
                format!("on {backend} under target `{}`", target.name)
            };
            if spec.runs(step.kind) && backends::runs_program(step.kind) {
                match spec.program {
                    Program::Image if step.image.is_none() => self.diags.push(
                        Diagnostic::error(
                            Code::MissingAttribute,
                            step.span,
                            format!("step `{}` runs {where_} but has no `image`", step.name),
                        )
                        .with_hint("add `image = \"NAME:TAG\"`, or `image = BUILD_STEP`"),
                    ),
                    Program::Command if step.command.is_none() => self.diags.push(
                        Diagnostic::error(
                            Code::MissingAttribute,
                            step.span,
                            format!("step `{}` runs {where_} but has no `command`", step.name),
                        )
                        .with_hint(format!(
                            "the {backend} backend runs `command` on this machine; add one, or place the step on a backend that runs images"
                        )),
                    ),
                    _ => {}
                }
            }
            if let Some(check) = spec.check_step
                && let Some(diagnostic) = check(self.pipeline_name, step, &where_)
            {
                self.diags.push(diagnostic);
            }
        }
    }
}

trait Checked: Sized {
    fn checked(self, valid: bool) -> (Self, bool) {
        (self, valid)
    }
}

impl Checked for Target {}
