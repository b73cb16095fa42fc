//! The plan of a pipeline on a target, as a serializable view and as text.
//! `plan --format json` is the view as JSON; its field names are product surface.

use super::table::{align_width, pad};
use serde::Serialize;

/// A JSON object that keeps insertion order.
pub type Map = serde_json::Map<String, serde_json::Value>;
use std::collections::BTreeMap;
use std::fmt::Write;
use wharf_compiler::backends::{BackendKind, SettingType};
use wharf_compiler::display;
use wharf_compiler::pipeline::{EnvValue, KindSpec, OutputShape, Pipeline, Setting, Target};
use wharf_compiler::placement;
use wharf_compiler::syntax::literal::{format_duration, format_size};
use wharf_runtime::backend::descriptor::Transfer;

#[derive(Serialize)]
pub struct PlanView {
    pub pipeline: String,
    pub target: TargetView,
    pub params: Vec<ParamView>,
    pub steps: Vec<StepView>,
}

#[derive(Serialize)]
pub struct TargetView {
    pub name: String,
    pub backend: BackendKind,
    pub implicit: bool,
    pub settings: BTreeMap<String, String>,
}

#[derive(Serialize)]
pub struct ParamView {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub value: serde_json::Value,
    pub source: String,
}

#[derive(Serialize)]
pub struct StepView {
    pub name: String,
    pub kind: String,
    pub backend: BackendKind,
    pub image: Option<String>,
    pub command: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    /// In declaration order.
    pub inputs: Map,
    /// In declaration order.
    pub outputs: Map,
    pub hyperparameters: BTreeMap<String, String>,
    pub resources: BTreeMap<String, String>,
    pub retry: Option<String>,
    pub timeout: Option<String>,
    pub cache: bool,
    pub when: Option<String>,
    pub depends_on: Vec<String>,
    /// Kind-specific settings (tune ranges, deploy endpoint, ...), as resolved.
    pub spec: serde_json::Value,
    /// What a run would do with this step now.
    pub decision: Option<CacheView>,
    /// Data a run would move between this machine and S3 for this step.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transfers: Vec<TransferView>,
}

impl From<Transfer> for TransferView {
    fn from(t: Transfer) -> TransferView {
        TransferView {
            direction: t.direction,
            what: t.what,
            bytes: t.bytes,
            to: t.to,
        }
    }
}

#[derive(Serialize)]
pub struct TransferView {
    /// `upload`, `download`, or `push` (an image to ECR).
    pub direction: &'static str,
    /// The input or output it carries.
    pub what: String,
    /// Bytes, when known before the run.
    pub bytes: Option<u64>,
    pub to: String,
}

#[derive(Serialize)]
pub struct CacheView {
    /// `cached`, `run`, `refused`, `skip` or `not-selected`.
    pub verdict: &'static str,
    /// The cache key, when every input is known before the run.
    pub key: Option<String>,
    pub reason: String,
}

impl CacheView {
    pub fn from_forecast(f: &wharf_runtime::forecast::Forecast, name: &str) -> CacheView {
        use wharf_runtime::forecast::Verdict;
        let reason = match &f.verdict {
            Verdict::Cached { run, step } if step == name => format!("outputs from run {run}"),
            Verdict::Cached { run, step } => format!("outputs of `{step}` from run {run}"),
            Verdict::Runs { because } | Verdict::Refused { because } | Verdict::Skipped { because } => because.clone(),
            Verdict::NotSelected => "outside --from/--to/--only".into(),
        };
        CacheView {
            verdict: f.verdict.word(),
            key: f.key.clone(),
            reason,
        }
    }
}

fn setting(s: &Setting) -> String {
    match s {
        Setting::Env(var) => match std::env::var(var) {
            Ok(value) => format!("{value} (from ${var})"),
            Err(_) => format!("env(\"{var}\") (not set)"),
        },
        other => other.read(|_| None).unwrap_or_default(),
    }
}

pub fn build(pipeline: &Pipeline, target: &Target) -> PlanView {
    let settings = target
        .settings
        .iter()
        .map(|(k, v)| (k.to_string(), setting(v)))
        .collect();
    let params = pipeline
        .params
        .iter()
        .map(|p| ParamView {
            name: p.name.clone(),
            ty: p.ty.to_string(),
            value: serde_json::to_value(&p.value).unwrap_or_default(),
            source: format!("{:?}", p.source).to_lowercase(),
        })
        .collect();
    let steps = pipeline
        .order
        .iter()
        .map(|&id| {
            let step = &pipeline.steps[id];
            let backend = placement::backend_for(target, step);
            let env = step
                .env
                .iter()
                .map(|(k, v)| {
                    let shown = match v {
                        EnvValue::Text(t) => t.clone(),
                        EnvValue::Env(var) => format!("env(\"{var}\")"),
                        EnvValue::Secret(var) => format!("secret(\"{var}\")"),
                    };
                    (k.clone(), shown)
                })
                .collect();
            let inputs = step
                .inputs
                .iter()
                .map(|i| (i.name.clone(), display::input_source(pipeline, &i.source).into()))
                .collect();
            let outputs = step
                .outputs
                .iter()
                .map(|o| {
                    let mut shape = match &o.shape {
                        OutputShape::Dir => "dir".to_string(),
                        OutputShape::File { name } => format!("file {name}"),
                    };
                    if let Some(export) = &o.export {
                        let _ = write!(shape, " -> {export}");
                    }
                    (o.name.clone(), shape.into())
                })
                .collect();
            let hyperparameters =
                step.hyperparameters.iter().map(|(k, v)| (k.clone(), display::hyperparameter(v))).collect();
            let mut resources = BTreeMap::new();
            let r = &step.resources;
            // A backend that takes an instance type runs each step on instances.
            let on_instances = wharf::backends::find(backend)
                .is_some_and(|d| d.spec().settings.iter().any(|s| s.value == SettingType::InstanceType));
            if on_instances {
                resources.insert("instance".to_string(), placement::instance_for(target, step));
                resources.insert("count".to_string(), r.count.unwrap_or(1).to_string());
            } else if let Some(i) = &r.instance {
                resources.insert("instance".to_string(), i.clone());
            }
            if let Some(c) = r.cpus {
                resources.insert("cpus".into(), c.to_string());
            }
            if let Some(m) = r.memory {
                resources.insert("memory".into(), format_size(m));
            }
            if let Some(g) = r.gpus {
                resources.insert("gpus".into(), g.to_string());
            }
            if let Some(v) = r.volume {
                resources.insert("volume".into(), format_size(v));
            }
            StepView {
                name: step.name.clone(),
                kind: step.kind.to_string(),
                backend,
                image: step.image.as_ref().map(|i| display::image(pipeline, i)),
                command: step.command.clone(),
                env,
                inputs,
                outputs,
                hyperparameters,
                resources,
                retry: (step.retry.attempts > 1)
                    .then(|| format!("{} attempts, backoff {}", step.retry.attempts, format_duration(step.retry.backoff))),
                timeout: step.timeout.map(format_duration),
                cache: step.cache,
                when: step.when.as_ref().map(|c| display::condition(pipeline, c)),
                depends_on: pipeline.dependencies(id).into_iter().map(|d| pipeline.steps[d].name.clone()).collect(),
                spec: match &step.spec {
                    KindSpec::None | KindSpec::Train { .. } if !matches!(&step.spec, KindSpec::Train { metrics, checkpoints } if !metrics.is_empty() || *checkpoints) => {
                        serde_json::Value::Null
                    }
                    other => spec_json(pipeline, other),
                },
                decision: None,
                transfers: Vec::new(),
            }
        })
        .collect();
    PlanView {
        pipeline: pipeline.name.clone(),
        target: TargetView {
            name: target.name.clone(),
            backend: target.backend,
            implicit: target.implicit,
            settings,
        },
        params,
        steps,
    }
}

/// Kind settings as JSON, with step ids replaced by step names.
fn spec_json(pipeline: &Pipeline, spec: &KindSpec) -> serde_json::Value {
    let mut value = serde_json::to_value(spec).unwrap_or_default();
    if let serde_json::Value::Object(map) = &mut value {
        for key in ["train", "endpoint"] {
            if let Some(serde_json::Value::Number(n)) = map.get(key)
                && let Some(step) = n.as_u64().and_then(|i| pipeline.steps.get(i as usize))
            {
                map.insert(key.into(), serde_json::Value::String(step.name.clone()));
            }
        }
    }
    value
}

pub fn text(plan: &PlanView) -> String {
    let mut out = String::new();
    let t = &plan.target;
    let target = if t.implicit {
        format!("the {} backend (no target declared)", t.backend)
    } else {
        format!("target `{}` ({})", t.name, t.backend)
    };
    let _ = writeln!(
        out,
        "pipeline `{}` on {target}: {} steps",
        plan.pipeline,
        plan.steps.len()
    );
    for (k, v) in &t.settings {
        let _ = writeln!(out, "  {k}: {v}");
    }
    if !plan.params.is_empty() {
        let _ = writeln!(out, "\nparams");
        let names: Vec<&str> = plan.params.iter().map(|p| p.name.as_str()).collect();
        let values: Vec<String> = plan.params.iter().map(|p| p.value.to_string()).collect();
        let (name_width, value_width) = (align_width(&names), align_width(&values));
        for ((p, name), value) in plan.params.iter().zip(&names).zip(&values) {
            let _ = writeln!(
                out,
                "  {} = {}  {}, {}",
                pad(name, name_width),
                pad(value, value_width),
                p.ty,
                p.source
            );
        }
    }
    for (i, s) in plan.steps.iter().enumerate() {
        let _ = writeln!(out, "\n{}. {} [{}] on {}", i + 1, s.name, s.kind, s.backend);
        let mut line = |key: &str, value: String| {
            let _ = writeln!(out, "     {key:<12}{value}");
        };
        if let Some(c) = &s.decision {
            let key = c
                .key
                .as_ref()
                .map(|k| format!(" (key {}…)", k.chars().take(12).collect::<String>()))
                .unwrap_or_default();
            let text = match c.verdict {
                "cached" => format!("cached{key}: {}", c.reason),
                "skip" => format!("skipped: {}", c.reason),
                "refused" => format!("refused, so the run would not start: {}", c.reason),
                "not-selected" => format!("not selected: {}", c.reason),
                _ => format!("will run{key}: {}", c.reason),
            };
            line("decision", text);
        }
        for t in &s.transfers {
            let size = match (t.bytes, t.direction) {
                (Some(bytes), _) => format!(" ({})", wharf_runtime::size::human_bytes(bytes)),
                // An image's size is the engine's business, not the plan's.
                (None, "push") => String::new(),
                (None, _) => " (size known after the run)".into(),
            };
            line("transfer", format!("{} {}{size} {}", t.direction, t.what, t.to));
        }
        if let Some(image) = &s.image {
            line("image", image.clone());
        }
        if let Some(command) = &s.command {
            line("command", shell_words(command));
        }
        if !s.depends_on.is_empty() {
            line("after", s.depends_on.join(", "));
        }
        if let Some(when) = &s.when {
            line("when", when.clone());
        }
        for (name, from) in &s.inputs {
            line("input", format!("{name} <- {}", from.as_str().unwrap_or_default()));
        }
        for (name, shape) in &s.outputs {
            line("output", format!("{name} ({})", shape.as_str().unwrap_or_default()));
        }
        if !s.hyperparameters.is_empty() {
            line("hyperparams", join_map(&s.hyperparameters));
        }
        if !s.env.is_empty() {
            line("env", join_map(&s.env));
        }
        if !s.resources.is_empty() {
            line("resources", join_map(&s.resources));
        }
        if let Some(retry) = &s.retry {
            line("retry", retry.clone());
        }
        if let Some(timeout) = &s.timeout {
            line("timeout", timeout.clone());
        }
        if !s.cache {
            line("cache", "off".into());
        }
        if let serde_json::Value::Object(spec) = &s.spec {
            // Only what differs from nothing: `null`, `false` and `{}` say nothing.
            let shown: Vec<String> = spec
                .iter()
                .filter(|(k, v)| {
                    *k != "kind"
                        && !v.is_null()
                        && **v != serde_json::Value::Bool(false)
                        && v.as_object().is_none_or(|o| !o.is_empty())
                })
                .map(|(k, v)| match v {
                    serde_json::Value::String(text) => format!("{k}={text}"),
                    other => format!("{k}={other}"),
                })
                .collect();
            if !shown.is_empty() {
                line("settings", shown.join(", "));
            }
        }
    }
    out
}

fn join_map(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The command as a shell would read it, quoting only where needed.
fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c)) {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_with_params(params: &[(&str, serde_json::Value)]) -> PlanView {
        PlanView {
            pipeline: "p".into(),
            target: TargetView {
                name: "local".into(),
                backend: wharf_runtime::backend::process::descriptor::KIND,
                implicit: false,
                settings: BTreeMap::new(),
            },
            params: params
                .iter()
                .map(|(name, value)| ParamView {
                    name: name.to_string(),
                    ty: "string".into(),
                    value: value.clone(),
                    source: "override".into(),
                })
                .collect(),
            steps: Vec::new(),
        }
    }

    #[test]
    fn a_param_value_past_the_formatters_width_limit_renders_whole() {
        // 65,534 characters plus the JSON quotes is one past u16::MAX, the
        // widest `{:width$}` the standard formatter takes without panicking.
        for unit in ["x", "é", "訓"] {
            let long = unit.repeat(65_534);
            let plan = plan_with_params(&[("a", serde_json::json!(long)), ("bb", serde_json::json!(1))]);
            let text = text(&plan);
            assert!(text.contains(&format!("  a  = \"{long}\"  string, override")));
            assert!(
                text.contains("  bb = 1  string, override"),
                "a long value does not widen the column of the others"
            );
        }
    }

    #[test]
    fn short_values_line_up_in_terminal_columns() {
        let plan = plan_with_params(&[("x", serde_json::json!("訓練")), ("name", serde_json::json!(12))]);
        let text = text(&plan);
        assert!(text.contains("  x    = \"訓練\"  string"), "{text}");
        assert!(text.contains("  name = 12      string"), "{text}");
    }

    #[test]
    fn a_short_or_odd_key_is_shown_without_slicing_inside_a_character() {
        let mut plan = plan_with_params(&[]);
        let mut step = build_step_view();
        step.decision = Some(CacheView {
            verdict: "run",
            key: Some("ééééééééééééé".into()),
            reason: "new".into(),
        });
        plan.steps.push(step);
        assert!(text(&plan).contains("(key éééééééééééé…)"));
    }

    fn build_step_view() -> StepView {
        StepView {
            name: "s".into(),
            kind: "step".into(),
            backend: wharf_runtime::backend::process::descriptor::KIND,
            image: None,
            command: None,
            env: BTreeMap::new(),
            inputs: Map::new(),
            outputs: Map::new(),
            hyperparameters: BTreeMap::new(),
            resources: BTreeMap::new(),
            retry: None,
            timeout: None,
            cache: true,
            when: None,
            depends_on: Vec::new(),
            spec: serde_json::Value::Null,
            decision: None,
            transfers: Vec::new(),
        }
    }
}
