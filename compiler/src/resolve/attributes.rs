//! Converts evaluated attributes into a step's typed fields. Each attribute
//! has one expected shape; anything else is a `type-mismatch` that says what
//! was expected and shows an example.

use super::Resolver;
use super::rvalue::{RValue, Spanned};
use super::step_builder::Attr;
use crate::code::Code;
use crate::diagnostic::Diagnostic;
use crate::export_path::{ExportPathError, check_export_path, is_local_export};
use crate::pipeline::{Edge, EnvValue, ImageRef, Input, InputSource, Output, OutputShape, Step, StepId};
use crate::source::Span;
use crate::types::StepKind;
use crate::value::Value;

/// A value with the description of what was expected, for errors.
pub(super) struct Want(pub &'static str, pub &'static str);

impl Resolver<'_> {
    pub(super) fn mismatch(&mut self, value: &Spanned, what: &str, want: Want) {
        if matches!(value.value, RValue::Error) {
            self.silent_errors += 1;
            return;
        }
        self.diags.push(
            Diagnostic::error(
                Code::TypeMismatch,
                value.span,
                format!("{what} must be {}, found {}", want.0, value.value.describe()),
            )
            .with_hint(format!("for example `{}`", want.1)),
        );
    }

    pub(super) fn want_str(&mut self, value: &Spanned, what: &str, example: &'static str) -> Option<String> {
        match &value.value {
            RValue::Data(Value::Str(s)) => Some(s.clone()),
            _ => {
                self.mismatch(value, what, Want("a string", example));
                None
            }
        }
    }

    pub(super) fn want_int(&mut self, value: &Spanned, what: &str, min: i64, max: i64) -> Option<i64> {
        match &value.value {
            RValue::Data(Value::Int(i)) if (min..=max).contains(i) => Some(*i),
            RValue::Data(Value::Int(i)) => {
                self.error(
                    Code::InvalidValue,
                    value.span,
                    format!("{what} must be between {min} and {max}, found {i}"),
                );
                None
            }
            _ => {
                self.mismatch(value, what, Want("an int", "2"));
                None
            }
        }
    }

    pub(super) fn want_bool(&mut self, value: &Spanned, what: &str) -> Option<bool> {
        match &value.value {
            RValue::Data(Value::Bool(b)) => Some(*b),
            _ => {
                self.mismatch(value, what, Want("a boolean", "on"));
                None
            }
        }
    }

    pub(super) fn want_map(
        &mut self,
        value: Spanned,
        what: &str,
        example: &'static str,
    ) -> Vec<(String, Span, Spanned)> {
        match value.value {
            RValue::Map(entries) => entries,
            RValue::Data(Value::Map(entries)) => entries
                .into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        value.span,
                        Spanned {
                            value: RValue::Data(v),
                            span: value.span,
                        },
                    )
                })
                .collect(),
            _ => {
                self.mismatch(&value, what, Want("a block of `name = value` entries", example));
                Vec::new()
            }
        }
    }

    fn kind_of(&self, id: StepId) -> StepKind {
        self.decls[self.instances[id].decl].kind
    }

    fn name_of(&self, id: StepId) -> &str {
        &self.instances[id].name
    }

    pub(super) fn apply_attr(
        &mut self,
        id: StepId,
        step: &mut Step,
        key: &str,
        key_span: Span,
        value: Spanned,
        spec: &mut Vec<Attr>,
    ) {
        match key {
            "image" => step.image = self.image(id, value),
            "command" => step.command = self.command(value),
            "env" => {
                for (name, name_span, v) in self.want_map(value, "`env`", "env { LOG_LEVEL = \"debug\" }") {
                    if !is_env_name(&name) {
                        self.error(
                            Code::InvalidValue,
                            name_span,
                            format!("`{name}` is not a valid environment variable name"),
                        );
                        continue;
                    }
                    let env = match v.value {
                        RValue::Env(var) => EnvValue::Env(var),
                        RValue::Secret(var) => EnvValue::Secret(var),
                        RValue::Data(ref d @ (Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_))) => {
                            EnvValue::Text(d.to_text())
                        }
                        _ => {
                            self.mismatch(
                                &v,
                                "an environment value",
                                Want(
                                    "a string, a number, `env(\"NAME\")` or `secret(\"NAME\")`",
                                    "TOKEN = secret(\"HF_TOKEN\")",
                                ),
                            );
                            continue;
                        }
                    };
                    step.env.insert(name, env);
                }
            }
            "inputs" => {
                let entries = self.want_map(value, "`inputs`", "inputs { train = prepare.train }");
                // Room for these only: a first push would make room for four.
                step.inputs.reserve_exact(entries.len());
                for (name, name_span, v) in entries {
                    if !is_channel_name(&name) {
                        self.diags.push(
                            Diagnostic::error(Code::InvalidValue, name_span, format!("`{name}` is not a valid input name"))
                                .with_hint("input names become SageMaker channel names: letters, digits, `.`, `-`, `_`, at most 64"),
                        );
                        continue;
                    }
                    if let Some(source) = self.input_source(id, &name, v) {
                        step.inputs.push(Input { name, source });
                    }
                }
            }
            "outputs" => {
                let errors_before = self.diags.error_count() + self.silent_errors;
                let entries = self.want_map(
                    value,
                    "`outputs`",
                    "outputs { train = dir(), metrics = file(\"metrics.json\") }",
                );
                step.outputs.reserve_exact(entries.len());
                for (name, name_span, v) in entries {
                    if step.outputs.iter().any(|o| o.name == name) {
                        self.error(
                            Code::DuplicateName,
                            name_span,
                            format!("a `{}` step already has an output `{name}`", step.kind),
                        );
                        continue;
                    }
                    if !is_channel_name(&name) {
                        self.error(
                            Code::InvalidValue,
                            name_span,
                            if name.is_empty() {
                                "an output needs a name".to_string()
                            } else {
                                format!("`{name}` is not a valid output name")
                            },
                        );
                        continue;
                    }
                    let (shape, export) = match v.value {
                        RValue::OutSpec(shape) => (shape, None),
                        RValue::Data(Value::Str(dest)) => {
                            if is_local_export(&dest)
                                && let Err(why) = check_export_path(&dest)
                            {
                                self.diags.push(
                                    Diagnostic::error(
                                        Code::ExportOutsideProject,
                                        v.span,
                                        format!("output `{name}` is exported to `{dest}`, {}", why.message()),
                                    )
                                    .with_hint(ExportPathError::HINT),
                                );
                                continue;
                            }
                            (OutputShape::Dir, Some(dest))
                        }
                        _ => {
                            self.mismatch(
                                &v,
                                "an output",
                                Want(
                                    "`dir()`, `file(\"NAME\")` or a path or s3:// URI to export to",
                                    "metrics = file(\"metrics.json\")",
                                ),
                            );
                            continue;
                        }
                    };
                    step.outputs.push(Output {
                        name,
                        shape,
                        export,
                        implicit: false,
                    });
                }
                if self.diags.error_count() + self.silent_errors > errors_before {
                    self.broken_outputs.insert(id);
                }
            }
            "hyperparameters" => {
                for (name, _, v) in self.want_map(value, "`hyperparameters`", "hyperparameters { max_depth = 6 }") {
                    if let Some(plain) = self.plain(v) {
                        step.hyperparameters.insert(name, plain);
                    }
                }
            }
            "resources" => self.resources(step, value),
            "retry" => {
                for (name, name_span, v) in self.want_map(value, "`retry`", "retry { attempts = 3, backoff = 30s }") {
                    match name.as_str() {
                        "attempts" => {
                            if let Some(n) = self.want_int(&v, "`retry.attempts`", 1, 100) {
                                step.retry.attempts = n as u32;
                            }
                        }
                        "backoff" => match v.value {
                            RValue::Data(Value::Duration(ms)) => step.retry.backoff = ms,
                            _ => self.mismatch(&v, "`retry.backoff`", Want("a duration", "backoff = 30s")),
                        },
                        other => self.unknown_key(other, name_span, "retry", &["attempts", "backoff"]),
                    }
                }
            }
            "timeout" => match value.value {
                RValue::Data(Value::Duration(0)) => {
                    self.error(Code::InvalidValue, value.span, "a timeout must be longer than 0s")
                }
                RValue::Data(Value::Duration(ms)) => step.timeout = Some(ms),
                _ => self.mismatch(&value, "`timeout`", Want("a duration", "timeout = 2h")),
            },
            "cache" => {
                if let Some(b) = self.want_bool(&value, "`cache`") {
                    step.cache = b;
                }
            }
            "after" => {
                let items = match value.value {
                    RValue::List(items) => items,
                    _ => vec![value],
                };
                for item in items {
                    let ids = match item.value {
                        RValue::Step(s) => vec![s],
                        RValue::Steps(ids) => ids,
                        _ => {
                            self.mismatch(
                                &item,
                                "`after`",
                                Want("a step or a list of steps", "after = [prepare, fit[*]]"),
                            );
                            continue;
                        }
                    };
                    for s in ids {
                        self.edges.push((s, id, Edge::After, item.span));
                        step.after.push(s);
                    }
                }
            }
            _ => spec.push((key.to_string(), key_span, value)),
        }
    }

    pub(super) fn unknown_key(&mut self, key: &str, span: Span, block: &str, known: &[&str]) {
        self.diags.push(
            Diagnostic::error(Code::UnknownAttribute, span, format!("`{block}` has no entry `{key}`")).with_hint(
                crate::suggest::did_you_mean(key, known.iter().copied())
                    .unwrap_or_else(|| format!("`{block}` takes {}", known.join(", "))),
            ),
        );
    }

    fn image(&mut self, id: StepId, value: Spanned) -> Option<ImageRef> {
        let builder = match &value.value {
            RValue::Data(Value::Str(s)) if !s.trim().is_empty() && !s.contains(char::is_whitespace) => {
                return Some(ImageRef::Name(s.clone()));
            }
            RValue::Data(Value::Str(s)) => {
                self.error(Code::InvalidValue, value.span, format!("`{s}` is not an image name"));
                return None;
            }
            RValue::Step(b) => *b,
            RValue::Output(b, o) if o == "image" => *b,
            _ => {
                self.mismatch(
                    &value,
                    "`image`",
                    Want("an image name or a `build` step", "image = \"churn-tools:1.4\""),
                );
                return None;
            }
        };
        if self.kind_of(builder) != StepKind::Build {
            let name = self.name_of(builder).to_string();
            self.diags.push(
                Diagnostic::error(
                    Code::TypeMismatch,
                    value.span,
                    format!("`{name}` is not a `build` step, so it makes no image"),
                )
                .with_hint("declare `build NAME { context = \"docker/...\" }` and use `image = NAME`"),
            );
            return None;
        }
        self.edges.push((builder, id, Edge::Image, value.span));
        Some(ImageRef::Built(builder))
    }

    fn command(&mut self, value: Spanned) -> Option<Vec<String>> {
        let items = match value.value {
            RValue::List(items) => items,
            RValue::Data(Value::List(items)) => items
                .into_iter()
                .map(|v| Spanned {
                    value: RValue::Data(v),
                    span: value.span,
                })
                .collect(),
            RValue::Data(Value::Str(s)) => {
                self.diags.push(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        value.span,
                        "`command` is a list of arguments, not a string",
                    )
                    .with_hint(format!(
                        "write `command = [\"sh\", \"-c\", {s:?}]` to run it through a shell"
                    )),
                );
                return None;
            }
            _ => {
                self.mismatch(
                    &value,
                    "`command`",
                    Want("a list of strings", "command = [\"python\", \"prepare.py\"]"),
                );
                return None;
            }
        };
        if items.is_empty() {
            self.error(
                Code::InvalidValue,
                value.span,
                "`command` needs at least the program to run",
            );
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match &item.value {
                RValue::Data(d @ (Value::Str(_) | Value::Int(_) | Value::Float(_))) => out.push(d.to_text()),
                RValue::Secret(_) => {
                    self.diags.push(
                        Diagnostic::error(
                            Code::SecretMisuse,
                            item.span,
                            "a secret in `command` would be shown in plans and logs",
                        )
                        .with_hint("set it in `env { NAME = secret(\"...\") }` and read the variable in the command"),
                    );
                    return None;
                }
                _ => {
                    self.mismatch(&item, "a command argument", Want("a string", "\"--epochs=3\""));
                    return None;
                }
            }
        }
        Some(out)
    }

    fn input_source(&mut self, id: StepId, name: &str, value: Spanned) -> Option<InputSource> {
        match value.value {
            RValue::Output(step, output) => {
                self.edges.push((
                    step,
                    id,
                    Edge::Data {
                        input: name.into(),
                        output: output.clone(),
                    },
                    value.span,
                ));
                Some(InputSource::Output { step, output })
            }
            RValue::Gather(outputs) => {
                for (step, output) in &outputs {
                    self.edges.push((
                        *step,
                        id,
                        Edge::Data {
                            input: name.into(),
                            output: output.clone(),
                        },
                        value.span,
                    ));
                }
                Some(InputSource::Gather { outputs })
            }
            RValue::Data(Value::Str(s)) if s.starts_with("s3://") => {
                if s.len() <= 5 || s[5..].starts_with('/') {
                    self.error(Code::InvalidValue, value.span, format!("`{s}` names no bucket"));
                    return None;
                }
                Some(InputSource::S3 { uri: s })
            }
            RValue::Data(Value::Str(s)) if !s.is_empty() => {
                if s.contains("://") {
                    self.diags.push(
                        Diagnostic::error(
                            Code::InvalidValue,
                            value.span,
                            format!("`{s}`: only local paths and s3:// URIs are inputs"),
                        )
                        .with_hint("download other URLs in a step of their own"),
                    );
                    return None;
                }
                Some(InputSource::Local { path: s })
            }
            RValue::Step(step) => {
                let step_name = self.name_of(step).to_string();
                self.diags.push(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        value.span,
                        format!("an input is one output of `{step_name}`, not the whole step"),
                    )
                    .with_hint(format!(
                        "write `{step_name}.OUTPUT`, or `after = [{step_name}]` to only wait for it"
                    )),
                );
                None
            }
            _ => {
                self.mismatch(
                    &value,
                    &format!("input `{name}`"),
                    Want("a step output, a local path or an s3:// URI", "train = prepare.train"),
                );
                None
            }
        }
    }

    fn resources(&mut self, step: &mut Step, value: Spanned) {
        let known = ["instance", "count", "cpus", "memory", "gpus", "volume"];
        for (name, name_span, v) in self.want_map(value, "`resources`", "resources { instance = \"ml.m5.xlarge\" }") {
            let r = &mut step.resources;
            match name.as_str() {
                "instance" => {
                    if let Some(s) = self.want_str(&v, "`resources.instance`", "instance = \"ml.m5.xlarge\"") {
                        if !is_instance_type(&s) {
                            self.diags.push(
                                Diagnostic::error(
                                    Code::InvalidInstanceType,
                                    v.span,
                                    format!("`{s}` is not a SageMaker instance type"),
                                )
                                .with_hint("SageMaker instance types look like `ml.m5.xlarge` or `ml.g5.2xlarge`"),
                            );
                        } else {
                            step.resources.instance = Some(s);
                        }
                    }
                }
                "count" => r.count = self.want_int(&v, "`resources.count`", 1, 100).map(|n| n as u32),
                "gpus" => r.gpus = self.want_int(&v, "`resources.gpus`", 0, 64).map(|n| n as u32),
                "cpus" => match v.value {
                    RValue::Data(Value::Int(n)) if n > 0 => r.cpus = Some(n as f64),
                    RValue::Data(Value::Float(f)) if f > 0.0 => r.cpus = Some(f),
                    _ => self.mismatch(&v, "`resources.cpus`", Want("a positive number", "cpus = 2")),
                },
                "memory" | "volume" => match v.value {
                    RValue::Data(Value::Size(bytes)) if bytes > 0 => {
                        if name == "memory" {
                            r.memory = Some(bytes)
                        } else {
                            r.volume = Some(bytes)
                        }
                    }
                    RValue::Data(Value::Int(_)) => {
                        self.diags.push(
                            Diagnostic::error(
                                Code::TypeMismatch,
                                v.span,
                                format!("`resources.{name}` is a size, not a plain number"),
                            )
                            .with_hint(format!("write a unit, as in `{name} = 4GiB`")),
                        );
                    }
                    _ => self.mismatch(&v, "a resource size", Want("a size", "memory = 4GiB")),
                },
                other => self.unknown_key(other, name_span, "resources", &known),
            }
        }
    }
}

pub(super) fn is_env_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 512
}

fn is_channel_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// `ml.<family>.<size>`, each part lowercase letters and digits.
pub(crate) fn is_instance_type(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && parts[0] == "ml"
        && parts[1..].iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}
