//! Attributes that only some kinds take (`tune`'s ranges, `deploy`'s
//! endpoint, `build`'s context ...), and the cross-step checks they need once
//! every step is built.

use super::rvalue::RValue;
use super::step_builder::Attr;
use super::{Deferred, Resolver};
use crate::code::Code;
use crate::diagnostic::Diagnostic;
use crate::pipeline::{Edge, ImageRef, InputSource, KindSpec, Objective, Range, Step, StepId};
use crate::source::Span;
use crate::types::StepKind;
use crate::value::Value;
use std::collections::BTreeMap;

impl Resolver<'_> {
    pub(super) fn kind_spec(&mut self, id: StepId, kind: StepKind, attrs: Vec<Attr>, span: Span) -> KindSpec {
        let mut get: BTreeMap<String, (Span, super::rvalue::Spanned)> =
            attrs.into_iter().map(|(k, s, v)| (k, (s, v))).collect();
        let mut take = |key: &str| get.remove(key).map(|(_, v)| v);
        match kind {
            StepKind::Step => KindSpec::None,
            StepKind::Train => {
                let mut metrics = BTreeMap::new();
                if let Some(v) = take("metrics") {
                    for (name, name_span, regex) in
                        self.want_map(v, "`metrics`", "metrics { \"validation:auc\" = \"auc=([0-9.]+)\" }")
                    {
                        if name.is_empty() || name.len() > 255 {
                            self.error(Code::InvalidValue, name_span, "a metric name has 1 to 255 characters");
                            continue;
                        }
                        if let Some(r) = self.want_str(&regex, "a metric regex", "\"auc=([0-9.]+)\"") {
                            if r.is_empty() || r.len() > 500 || !r.contains('(') {
                                self.diags.push(
                                    Diagnostic::error(
                                        Code::InvalidValue,
                                        regex.span,
                                        "a metric regex has 1 to 500 characters and a capture group",
                                    )
                                    .with_hint("the first group `(...)` captures the value, as in `\"auc=([0-9.]+)\"`"),
                                );
                                continue;
                            }
                            metrics.insert(name, r);
                        }
                    }
                    if metrics.len() > 40 {
                        self.error(
                            Code::InvalidValue,
                            span,
                            "SageMaker takes at most 40 metric definitions",
                        );
                    }
                }
                let checkpoints = take("checkpoints")
                    .and_then(|v| self.want_bool(&v, "`checkpoints`"))
                    .unwrap_or(false);
                KindSpec::Train { metrics, checkpoints }
            }
            StepKind::Tune => {
                let train = match take("train") {
                    Some(v) => match v.value {
                        RValue::Step(t) if self.decls[self.instances[t].decl].kind == StepKind::Train => {
                            Some((t, v.span))
                        }
                        RValue::Error => None,
                        _ => {
                            self.diags.push(
                                Diagnostic::error(Code::TypeMismatch, v.span, "`train` names the `train` step to tune")
                                    .with_hint("for example `train = fit`"),
                            );
                            None
                        }
                    },
                    None => None,
                };
                let objective = take("objective").map(|v| {
                    let mut metric = None;
                    let mut metric_span = span;
                    let mut goal = "maximize".to_string();
                    for (k, ks, e) in self.want_map(
                        v,
                        "`objective`",
                        "objective { metric = \"validation:auc\", goal = \"maximize\" }",
                    ) {
                        match k.as_str() {
                            "metric" => {
                                metric_span = e.span;
                                metric = self.want_str(&e, "`objective.metric`", "metric = \"validation:auc\"");
                            }
                            "goal" => match self.want_str(&e, "`objective.goal`", "goal = \"maximize\"") {
                                Some(g) if g == "maximize" || g == "minimize" => goal = g,
                                Some(g) => self.error(
                                    Code::InvalidValue,
                                    e.span,
                                    format!("`{g}`: the goal is \"maximize\" or \"minimize\""),
                                ),
                                None => {}
                            },
                            other => self.unknown_key(other, ks, "objective", &["metric", "goal"]),
                        }
                    }
                    (metric, goal, metric_span)
                });
                let mut ranges = BTreeMap::new();
                if let Some(v) = take("ranges") {
                    for (name, _, r) in self.want_map(v, "`ranges`", "ranges { max_depth = int(3, 10) }") {
                        match r.value {
                            RValue::Range(range) => {
                                ranges.insert(name, range);
                            }
                            RValue::Error => {}
                            _ => self.mismatch(
                                &r,
                                "a tuning range",
                                super::attributes::Want(
                                    "`int(min, max)`, `float(min, max)` or `choice(...)`",
                                    "eta = float(0.01, 0.3, scale = \"log\")",
                                ),
                            ),
                        }
                    }
                }
                let strategy = self.choice(
                    take("strategy"),
                    "strategy",
                    &["bayesian", "random", "grid", "hyperband"],
                    "bayesian",
                );
                let max_jobs = take("max_jobs")
                    .and_then(|v| self.want_int(&v, "`max_jobs`", 1, 750))
                    .unwrap_or(10) as u32;
                let max_parallel_jobs = take("max_parallel_jobs")
                    .and_then(|v| self.want_int(&v, "`max_parallel_jobs`", 1, 100))
                    .unwrap_or(1) as u32;
                if max_parallel_jobs > max_jobs {
                    self.error(
                        Code::InvalidValue,
                        span,
                        format!("`max_parallel_jobs` ({max_parallel_jobs}) is above `max_jobs` ({max_jobs})"),
                    );
                }
                if strategy == "grid" && ranges.values().any(|r| matches!(r, Range::Float { .. })) {
                    self.diags.push(
                        Diagnostic::error(Code::InvalidValue, span, "a grid search cannot search a `float` range")
                            .with_hint("use `choice(...)` or `int(...)` ranges, or another strategy"),
                    );
                }
                let (metric, goal, metric_span) = objective.unwrap_or((None, "maximize".into(), span));
                match (train, metric) {
                    (Some((train, _)), Some(metric)) => {
                        self.deferred.push(Deferred::Tune {
                            tune: id,
                            train,
                            span: metric_span,
                            metric: metric.clone(),
                        });
                        KindSpec::Tune {
                            train,
                            objective: Objective { metric, goal },
                            ranges,
                            strategy,
                            max_jobs,
                            max_parallel_jobs,
                            metrics: BTreeMap::new(),
                        }
                    }
                    _ => KindSpec::None,
                }
            }
            StepKind::Transform => {
                let content_type = take("content_type")
                    .and_then(|v| self.want_str(&v, "`content_type`", "content_type = \"text/csv\""));
                let accept = take("accept").and_then(|v| self.want_str(&v, "`accept`", "accept = \"text/csv\""));
                let split = self.choice(
                    take("split"),
                    "split",
                    &["none", "line", "recordio", "tfrecord"],
                    "none",
                );
                let strategy = self.choice(take("strategy"), "strategy", &["single", "multi"], "multi");
                let max_payload = match take("max_payload") {
                    Some(v) => match v.value {
                        RValue::Data(Value::Size(b)) if b <= 100_000_000 => Some(b),
                        RValue::Data(Value::Size(_)) => {
                            self.error(Code::InvalidValue, v.span, "SageMaker takes a payload of at most 100MB");
                            None
                        }
                        _ => {
                            self.mismatch(
                                &v,
                                "`max_payload`",
                                super::attributes::Want("a size", "max_payload = 6MB"),
                            );
                            None
                        }
                    },
                    None => None,
                };
                KindSpec::Transform {
                    content_type,
                    accept,
                    split,
                    strategy,
                    max_payload,
                }
            }
            StepKind::Deploy => {
                let endpoint = take("endpoint").and_then(|v| {
                    let name = self.want_str(&v, "`endpoint`", "endpoint = \"churn-prod\"")?;
                    if !is_sagemaker_name(&name) {
                        self.diags.push(
                            Diagnostic::error(
                                Code::SagemakerName,
                                v.span,
                                format!("`{name}` is not a valid endpoint name"),
                            )
                            .with_hint("endpoint names have 1 to 63 letters, digits and inner hyphens"),
                        );
                        return None;
                    }
                    Some(name)
                });
                let port = take("port")
                    .and_then(|v| self.want_int(&v, "`port`", 1, 65535))
                    .map(|p| p as u16);
                let multi_model = take("multi_model")
                    .and_then(|v| self.want_bool(&v, "`multi_model`"))
                    .unwrap_or(false);
                let data_capture = take("data_capture")
                    .and_then(|v| self.want_bool(&v, "`data_capture`"))
                    .unwrap_or(false);
                KindSpec::Deploy {
                    endpoint,
                    port,
                    multi_model,
                    data_capture,
                }
            }
            StepKind::Monitor => {
                let schedule = self.choice(take("schedule"), "schedule", &["hourly", "daily"], "hourly");
                match take("endpoint") {
                    Some(v) => match v.value {
                        RValue::Step(d) if self.decls[self.instances[d].decl].kind == StepKind::Deploy => {
                            self.edges.push((d, id, Edge::Endpoint, v.span));
                            self.deferred.push(Deferred::Monitor {
                                monitor: id,
                                endpoint: d,
                                span: v.span,
                            });
                            KindSpec::Monitor { endpoint: d, schedule }
                        }
                        RValue::Error => KindSpec::None,
                        _ => {
                            self.diags.push(
                                Diagnostic::error(
                                    Code::TypeMismatch,
                                    v.span,
                                    "`endpoint` names the `deploy` step to watch",
                                )
                                .with_hint("for example `endpoint = serve`"),
                            );
                            KindSpec::None
                        }
                    },
                    None => KindSpec::None,
                }
            }
            StepKind::Build => {
                let context = take("context")
                    .and_then(|v| self.want_str(&v, "`context`", "context = \"docker/tools\""))
                    .unwrap_or_default();
                let dockerfile = take("dockerfile")
                    .and_then(|v| self.want_str(&v, "`dockerfile`", "dockerfile = \"Dockerfile.gpu\""));
                let mut args = BTreeMap::new();
                if let Some(v) = take("args") {
                    for (k, _, a) in self.want_map(v, "`args`", "args { PYTHON_VERSION = \"3.11\" }") {
                        match &a.value {
                            RValue::Data(d @ (Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_))) => {
                                args.insert(k, d.to_text());
                            }
                            _ => self.mismatch(&a, "a build argument", super::attributes::Want("a string", "\"3.11\"")),
                        }
                    }
                }
                KindSpec::Build {
                    context,
                    dockerfile,
                    args,
                }
            }
        }
    }

    /// A string attribute limited to a few values, with a default.
    fn choice(&mut self, value: Option<super::rvalue::Spanned>, what: &str, allowed: &[&str], default: &str) -> String {
        let Some(v) = value else { return default.into() };
        match &v.value {
            RValue::Data(Value::Str(s)) if allowed.contains(&s.as_str()) => s.clone(),
            RValue::Data(Value::Str(s)) => {
                let list: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
                self.diags.push(
                    Diagnostic::error(Code::InvalidValue, v.span, format!("`{s}` is not a valid `{what}`"))
                        .with_hint(format!("`{what}` is one of {}", list.join(", "))),
                );
                default.into()
            }
            _ => {
                self.mismatch(&v, &format!("`{what}`"), super::attributes::Want("a string", "\"...\""));
                default.into()
            }
        }
    }

    /// Checks that need every step built: a tune step's objective metric must be
    /// one its train step declares, and it depends on what the train step reads;
    /// a monitored endpoint must capture data. Deploy steps without an image
    /// serve with their model's image.
    pub(super) fn finish_steps(&mut self, steps: &mut [Step]) {
        for deferred in std::mem::take(&mut self.deferred) {
            match deferred {
                Deferred::Tune {
                    tune,
                    train,
                    span,
                    metric,
                } => {
                    let train_step = &steps[train];
                    if let KindSpec::Train { metrics, .. } = &train_step.spec
                        && !metrics.contains_key(&metric)
                    {
                        let declared: Vec<&str> = metrics.keys().map(String::as_str).collect();
                        self.diags.push(
                            Diagnostic::error(
                                Code::MissingAttribute,
                                span,
                                format!(
                                    "the objective `{metric}` is not a metric of train step `{}`",
                                    train_step.name
                                ),
                            )
                            .with_hint(
                                crate::suggest::did_you_mean(&metric, declared.iter().copied()).unwrap_or_else(|| {
                                    format!(
                                        "declare it: `metrics {{ \"{metric}\" = \"{metric}=([0-9.]+)\" }}` in `{}`",
                                        train_step.name
                                    )
                                }),
                            ),
                        );
                    }
                    let mut links = Vec::new();
                    for input in &train_step.inputs {
                        match &input.source {
                            InputSource::Output { step, output } => {
                                links.push((*step, input.name.clone(), output.clone()))
                            }
                            InputSource::Gather { outputs } => {
                                links.extend(outputs.iter().map(|(s, o)| (*s, input.name.clone(), o.clone())))
                            }
                            _ => {}
                        }
                    }
                    if let Some(ImageRef::Built(b)) = &train_step.image {
                        self.edges.push((*b, tune, Edge::Image, span));
                    }
                    for (step, input, output) in links {
                        self.edges.push((step, tune, Edge::Tune { input, output }, span));
                    }
                    take_training_definition(steps, tune, train);
                }
                Deferred::Monitor {
                    monitor,
                    endpoint,
                    span,
                } => {
                    // The monitor reads the endpoint's record (its name, its
                    // capture) like any input, so a redeploy re-runs it.
                    if !steps[monitor].inputs.iter().any(|i| i.name == "endpoint") {
                        steps[monitor].inputs.push(crate::pipeline::Input {
                            name: "endpoint".into(),
                            source: InputSource::Output {
                                step: endpoint,
                                output: "endpoint".into(),
                            },
                        });
                    }
                    if let KindSpec::Deploy {
                        data_capture: false, ..
                    } = steps[endpoint].spec
                    {
                        self.diags.push(
                            Diagnostic::error(
                                Code::MissingAttribute,
                                span,
                                format!(
                                    "deploy step `{}` must capture data to be monitored",
                                    steps[endpoint].name
                                ),
                            )
                            .with_hint("add `data_capture = on` to it, or use `sm.monitored_endpoint(...)`"),
                        );
                    }
                }
            }
        }
        for i in 0..steps.len() {
            if steps[i].kind != StepKind::Deploy && steps[i].kind != StepKind::Transform || steps[i].image.is_some() {
                continue;
            }
            let producer = steps[i]
                .inputs
                .iter()
                .find(|input| input.name == "model")
                .and_then(|input| match &input.source {
                    InputSource::Output { step, .. } => Some(*step),
                    _ => None,
                });
            if let Some(p) = producer
                && matches!(steps[p].kind, StepKind::Train | StepKind::Tune)
            {
                steps[i].image = Some(ImageRef::FromModel(p));
            }
        }
    }
}

/// A tune step runs its train step's definition: the same image, command,
/// inputs, environment and static hyperparameters (its own environment and
/// resources win where it sets them), and the train step's metric
/// definitions, which SageMaker needs to read the objective. Copied here so
/// that everything downstream (the cache key, `plan`, the backends, a deploy
/// serving the tuned model with its image) sees one self-contained step.
fn take_training_definition(steps: &mut [Step], tune: StepId, train: StepId) {
    let definition = steps[train].clone();
    let step = &mut steps[tune];
    step.image = definition.image.clone();
    step.command = definition.command.clone();
    step.inputs = definition.inputs.clone();
    let mut env = definition.env.clone();
    env.extend(std::mem::take(&mut step.env));
    step.env = env;
    let mut hyperparameters = definition.hyperparameters.clone();
    hyperparameters.extend(std::mem::take(&mut step.hyperparameters));
    step.hyperparameters = hyperparameters;
    let own = step.resources.clone();
    let base = definition.resources;
    step.resources = crate::pipeline::Resources {
        instance: own.instance.or(base.instance),
        count: own.count.or(base.count),
        cpus: own.cpus.or(base.cpus),
        memory: own.memory.or(base.memory),
        gpus: own.gpus.or(base.gpus),
        volume: own.volume.or(base.volume),
    };
    if let (KindSpec::Tune { metrics, .. }, KindSpec::Train { metrics: declared, .. }) =
        (&mut step.spec, &definition.spec)
    {
        *metrics = declared.clone();
    }
}

/// A SageMaker endpoint name: 1-63 of `[a-zA-Z0-9-]`, no hyphen at either end.
fn is_sagemaker_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}
