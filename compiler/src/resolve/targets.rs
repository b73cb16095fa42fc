//! Targets: where steps run. Resolves `target` blocks (from the entry file and
//! its imports), then checks every step against every target, so that `check`
//! catches a step that cannot run where a target puts it.

use super::Resolver;
use super::eval::Scope;
use super::rvalue::RValue;
use crate::code::Code;
use crate::diagnostic::Diagnostic;
use crate::pipeline::{Setting, Step, StepOverride, Target, TargetSettings};
use crate::source::Span;
use crate::suggest::did_you_mean;
use crate::syntax::ast::{Entry, ExprKind, Item, TargetItem};
use crate::types::{BackendKind, StepKind};
use crate::value::Value;

const SETTINGS: [&str; 8] = [
    "role",
    "region",
    "bucket",
    "profile",
    "endpoint_url",
    "instance",
    "max_jobs",
    "logs",
];

/// A SageMaker job, endpoint or model name: 1-63 of `[a-zA-Z0-9-]`, no hyphen at either end.
pub fn is_sagemaker_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// The longest step name whose job names fit: `<step>-<8-char run id>-<attempt up to 3 digits>`.
pub const MAX_SAGEMAKER_STEP_NAME: usize = 63 - 1 - 8 - 1 - 3;

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
        if targets.is_empty() {
            let span = steps
                .first()
                .map_or(Span::new(crate::source::FileId(0), 0, 0), |s| s.span);
            targets.push((
                Target {
                    name: "default".into(),
                    backend: BackendKind::Process,
                    settings: TargetSettings::default(),
                    steps: Vec::new(),
                    implicit: true,
                    span,
                },
                true,
            ));
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
        let backend = backend.unwrap_or_else(|| {
            if backend_written {
                return BackendKind::Process;
            }
            self.diags.push(
                Diagnostic::error(
                    Code::MissingAttribute,
                    decl.name.span,
                    format!("target `{}` needs a `backend`", decl.name.name),
                )
                .with_hint("add `backend = process`, `backend = docker` or `backend = sagemaker`"),
            );
            BackendKind::Process
        });
        Target {
            name: decl.name.name.clone(),
            backend,
            settings,
            steps: overrides,
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
        match BackendKind::parse(&name) {
            Some(b) => Some(b),
            None => {
                let names = BackendKind::ALL.map(|b| b.as_str());
                self.diags.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        entry.value.span,
                        format!("`{name}` is not a backend"),
                    )
                    .with_hint(
                        did_you_mean(&name, names)
                            .unwrap_or_else(|| "backends are process, docker and sagemaker".into()),
                    ),
                );
                None
            }
        }
    }

    fn setting(&mut self, entry: &Entry, module: usize, settings: &mut TargetSettings, target_level: bool) {
        let key = entry.key.name.as_str();
        if !SETTINGS.contains(&key) {
            let mut known = vec!["backend"];
            known.extend(SETTINGS);
            self.unknown_key(
                key,
                entry.key.span,
                if target_level { "target" } else { "step placement" },
                &known,
            );
            return;
        }
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
        match key {
            "role" => settings.role = text(self),
            "region" => settings.region = text(self),
            "profile" => settings.profile = text(self),
            "endpoint_url" => settings.endpoint_url = text(self),
            "bucket" => {
                settings.bucket = text(self);
                if let Some(Setting::Text(b)) = &settings.bucket
                    && !b.starts_with("s3://")
                {
                    self.diags.push(
                        Diagnostic::error(Code::InvalidValue, value.span, format!("`{b}` is not an s3:// URI"))
                            .with_hint(format!("write `bucket = \"s3://{}\"`", b.trim_start_matches('/'))),
                    );
                }
            }
            "instance" => {
                if let Some(s) = self.want_str(&value, "`instance`", "instance = \"ml.m5.xlarge\"") {
                    if super::attributes::is_instance_type(&s) {
                        settings.instance = Some(s);
                    } else {
                        self.diags.push(
                            Diagnostic::error(
                                Code::InvalidInstanceType,
                                value.span,
                                format!("`{s}` is not a SageMaker instance type"),
                            )
                            .with_hint("SageMaker instance types look like `ml.m5.xlarge`"),
                        );
                    }
                }
            }
            "max_jobs" => settings.max_jobs = self.want_int(&value, "`max_jobs`", 1, 1000).map(|n| n as u32),
            _ => settings.logs = self.want_bool(&value, "`logs`"),
        }
    }

    /// Every step must be runnable where `target` puts it.
    fn check_placement(&mut self, target: &Target, steps: &[Step]) {
        let mut name_checked: rustc_hash::FxHashSet<String> = Default::default();
        for (id, step) in steps.iter().enumerate() {
            if self.broken.contains(&id) {
                continue;
            }
            let placed = target.steps.iter().find(|o| o.step == step.base);
            let backend = placed.and_then(|o| o.backend).unwrap_or(target.backend);
            let where_ = if target.implicit {
                format!("on the {backend} backend (the file declares no target)")
            } else {
                format!("on {backend} under target `{}`", target.name)
            };
            let container_kind = !matches!(step.kind, StepKind::Build | StepKind::Tune | StepKind::Monitor);
            if backend.runs_images() && step.image.is_none() && container_kind {
                self.diags.push(
                    Diagnostic::error(
                        Code::MissingAttribute,
                        step.span,
                        format!("step `{}` runs {where_} but has no `image`", step.name),
                    )
                    .with_hint("add `image = \"NAME:TAG\"`, or `image = BUILD_STEP`"),
                );
            }
            if backend == BackendKind::Process
                && step.command.is_none()
                && matches!(
                    step.kind,
                    StepKind::Step | StepKind::Train | StepKind::Transform | StepKind::Deploy
                )
            {
                self.diags.push(
                    Diagnostic::error(
                        Code::MissingAttribute,
                        step.span,
                        format!("step `{}` runs {where_} but has no `command`", step.name),
                    )
                    .with_hint(
                        "the process backend runs `command` on this machine; add one, or place the step on docker",
                    ),
                );
            }
            if backend == BackendKind::Sagemaker {
                let job_name = step.name.replace('_', "-");
                if name_checked.insert(step.name.clone())
                    && (!is_sagemaker_name(&job_name) || job_name.len() > MAX_SAGEMAKER_STEP_NAME)
                {
                    self.diags.push(
                        Diagnostic::error(
                            Code::SagemakerName,
                            step.span,
                            format!("step `{}` cannot name a SageMaker job {where_}", step.name),
                        )
                        .with_hint(format!(
                            "job names are `<step>-<run>-<attempt>` within 63 characters: keep step names to {MAX_SAGEMAKER_STEP_NAME} letters, digits and inner `_`/`-`"
                        )),
                    );
                }
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
