//! A run's plan: the pipeline bound to a target, which steps this run
//! selects, and every check that can fail before anything starts (habit 7:
//! fail before the first process starts, not in the middle of a run).

use crate::backend::Backend;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wharf_compiler::export_path::is_local_export;
use wharf_compiler::pipeline::{InputSource, KindSpec, Pipeline, Step, StepId, Target};
use wharf_compiler::placement;
use wharf_compiler::suggest::did_you_mean;
use wharf_compiler::types::{BackendKind, StepKind};

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Steps running at once (at least 1).
    pub jobs: usize,
    /// Run everything not downstream of a failure, instead of stopping at the first.
    pub keep_going: bool,
    /// Run every step, whatever the cache holds.
    pub no_cache: bool,
    /// Only this step and what follows it.
    pub from: Option<String>,
    /// Only this step and what it needs.
    pub to: Option<String>,
    /// Only this step (its inputs must be in the cache).
    pub only: Option<String>,
    /// At most this many steps at once on a backend (a target's `max_jobs`
    /// caps its SageMaker jobs), within `jobs`.
    pub backend_limits: BTreeMap<BackendKind, usize>,
    /// The `.wharf` folder, when known: exports may not write into it.
    pub state_dir: Option<PathBuf>,
}

/// A step's part in a run, from `--from`/`--to`/`--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Runs (or comes from the cache) as usual.
    Selected,
    /// Outside the selection, but a selected step needs its outputs: they
    /// must be in the cache, or the run is refused before it starts.
    Needed,
    /// Outside the selection and needed by nothing inside: not touched.
    NotSelected,
}

/// One step as this run will treat it.
#[derive(Debug, Clone)]
pub struct PlannedStep {
    pub id: StepId,
    pub backend: BackendKind,
    pub role: Role,
}

impl PlannedStep {
    pub fn selected(&self) -> bool {
        self.role == Role::Selected
    }
}

pub struct Plan<'p> {
    pub pipeline: &'p Pipeline,
    pub target: &'p Target,
    /// The pipeline file as given, for the run record.
    pub file: String,
    /// The pipeline file's folder: relative input paths and commands start here.
    pub project_dir: PathBuf,
    /// In execution order.
    pub steps: Vec<PlannedStep>,
    pub options: RunOptions,
}

/// What each backend kind maps to in this process.
pub type Backends = BTreeMap<BackendKind, Arc<dyn Backend>>;

impl<'p> Plan<'p> {
    /// Builds the plan and checks it; every problem found is returned, not just the first.
    pub fn build(
        pipeline: &'p Pipeline,
        target: &'p Target,
        file: &Path,
        options: RunOptions,
        backends: &Backends,
    ) -> Result<Plan<'p>, Vec<String>> {
        let project_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let project_dir = if project_dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            project_dir
        };
        let mut errors = Vec::new();
        let roles = match roles(pipeline, &options) {
            Ok(roles) => roles,
            Err(mut e) => {
                errors.append(&mut e);
                BTreeMap::new()
            }
        };
        let mut steps = Vec::with_capacity(pipeline.order.len());
        for &id in &pipeline.order {
            let step = &pipeline.steps[id];
            let backend = placement::backend_for(target, step);
            let role = roles.get(&id).copied().unwrap_or(Role::Selected);
            if role == Role::Needed && !backends.contains_key(&backend) {
                errors.push(format!(
                    "step `{}` runs on the {backend} backend, which this build of wharf cannot run yet, and a selected step needs its outputs",
                    step.name
                ));
            }
            if role == Role::Selected {
                if !backends.contains_key(&backend) {
                    errors.push(format!(
                        "step `{}` runs on the {backend} backend, which this build of wharf cannot run yet; use a target with `backend = process`",
                        step.name
                    ));
                } else if backend == BackendKind::Process && !matches!(step.kind, StepKind::Step | StepKind::Train) {
                    errors.push(format!(
                        "step `{}` is a `{}` step, which the process backend cannot run yet; place it on docker or sagemaker",
                        step.name, step.kind
                    ));
                }
                // A local destination is checked with the step's other
                // refusals, by `decide::preflight`, which plan shares.
                for output in &step.outputs {
                    let Some(dest) = &output.export else { continue };
                    if !is_local_export(dest) && backend != BackendKind::Sagemaker {
                        errors.push(format!(
                            "step `{}` exports output `{}` to {dest}; exporting to S3 comes with the SageMaker backend",
                            step.name, output.name
                        ));
                    }
                }
                if backend == BackendKind::Docker {
                    docker_checks(step, &mut errors);
                }
                if backend == BackendKind::Sagemaker {
                    sagemaker_checks(step, &mut errors);
                }
                if backend == BackendKind::Sagemaker && step.image.is_none() && step.kind != StepKind::Monitor {
                    errors.push(format!(
                        "step `{}` runs on SageMaker and has no image; give it `image = \"...\"` (an ECR image, or one on this machine or from a `build` step, which wharf pushes to ECR)",
                        step.name
                    ));
                }
                for input in &step.inputs {
                    match &input.source {
                        InputSource::Local { path } => {
                            let full = project_dir.join(path);
                            if !full.exists() {
                                errors.push(format!(
                                    "step `{}` reads input `{}` from {}, which does not exist",
                                    step.name,
                                    input.name,
                                    full.display()
                                ));
                            }
                        }
                        InputSource::S3 { uri } if matches!(backend, BackendKind::Process | BackendKind::Docker) => errors.push(format!(
                            "step `{}` reads input `{}` from {uri}; moving S3 data to a local step comes with the SageMaker backend",
                            step.name, input.name
                        )),
                        _ => {}
                    }
                }
            }
            steps.push(PlannedStep { id, backend, role });
        }
        if errors.is_empty() {
            Ok(Plan {
                pipeline,
                target,
                file: file.display().to_string(),
                project_dir,
                steps,
                options,
            })
        } else {
            Err(errors)
        }
    }
}

/// What the docker backend cannot run, found before anything starts.
fn docker_checks(step: &Step, errors: &mut Vec<String>) {
    match (&step.kind, &step.spec) {
        (StepKind::Tune | StepKind::Monitor, _) => errors.push(format!(
            "step `{}` is a `{}` step, which runs on SageMaker only for now; place it on a sagemaker target",
            step.name, step.kind
        )),
        (_, KindSpec::Deploy { multi_model: true, .. }) => errors.push(format!(
            "step `{}` is a multi-model endpoint, which runs on SageMaker only; place it on a sagemaker target",
            step.name
        )),
        (_, KindSpec::Transform { split, .. }) if !matches!(split.as_str(), "none" | "line") => errors.push(format!(
            "step `{}` splits its records by `{split}`, which only SageMaker does; use split = \"line\" or \"none\" locally",
            step.name
        )),
        (StepKind::Step | StepKind::Train | StepKind::Transform | StepKind::Deploy, _) if step.image.is_none() => {
            errors.push(format!(
                "step `{}` runs on the docker backend and has no image; give it `image = \"...\"`",
                step.name
            ))
        }
        _ => {}
    }
}

/// What the sagemaker backend cannot run, found before anything starts.
fn sagemaker_checks(step: &Step, errors: &mut Vec<String>) {
    match step.kind {
        StepKind::Tune if step.command.is_some() => errors.push(format!(
            "step `{}` tunes a train step that sets `command`; SageMaker's tuning jobs run the image's own \
             entrypoint (`IMAGE train`), so build the command into the image or tune a train step without one",
            step.name
        )),
        _ => {}
    }
}

/// Each step's part in the run. `--only X` runs X; `--to X` runs X and
/// what it needs; `--from X` runs X and what follows it (`--from` with
/// `--to`: what lies between). The steps a selected step needs outside the
/// selection are taken from the cache; the rest are not touched. A flag
/// that names no step is an error.
pub fn roles(pipeline: &Pipeline, options: &RunOptions) -> Result<BTreeMap<StepId, Role>, Vec<String>> {
    let mut errors = Vec::new();
    let selected = select(pipeline, options, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let Some(selected) = selected else {
        return Ok(pipeline.order.iter().map(|&id| (id, Role::Selected)).collect());
    };
    let needed = closure(pipeline, selected.clone(), petgraph::Direction::Incoming);
    Ok(pipeline
        .order
        .iter()
        .map(|&id| {
            let role = if selected.contains(&id) {
                Role::Selected
            } else if needed.contains(&id) {
                Role::Needed
            } else {
                Role::NotSelected
            };
            (id, role)
        })
        .collect())
}

/// The steps `--from`, `--to` and `--only` select, or `None` for all of them.
fn select(pipeline: &Pipeline, options: &RunOptions, errors: &mut Vec<String>) -> Option<BTreeSet<StepId>> {
    let mut find = |flag: &str, name: &Option<String>| -> Option<BTreeSet<StepId>> {
        let name = name.as_ref()?;
        let matches: BTreeSet<StepId> = pipeline
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.name == *name || s.base == *name)
            .map(|(i, _)| i)
            .collect();
        if matches.is_empty() {
            let hint = did_you_mean(name, pipeline.steps.iter().map(|s| s.name.as_str()))
                .map(|h| format!("; {h}"))
                .unwrap_or_default();
            errors.push(format!("{flag} {name}: the pipeline has no step `{name}`{hint}"));
        }
        Some(matches)
    };
    let only = find("--only", &options.only);
    let from = find("--from", &options.from);
    let to = find("--to", &options.to);
    if let Some(only) = only {
        return Some(only);
    }
    let downstream = from.map(|s| closure(pipeline, s, petgraph::Direction::Outgoing));
    let upstream = to.map(|s| closure(pipeline, s, petgraph::Direction::Incoming));
    match (downstream, upstream) {
        (Some(d), Some(u)) => Some(d.intersection(&u).copied().collect()),
        (Some(d), None) => Some(d),
        (None, Some(u)) => Some(u),
        (None, None) => None,
    }
}

fn closure(pipeline: &Pipeline, start: BTreeSet<StepId>, direction: petgraph::Direction) -> BTreeSet<StepId> {
    let mut seen = start.clone();
    let mut stack: Vec<StepId> = start.into_iter().collect();
    while let Some(id) = stack.pop() {
        for next in pipeline
            .graph
            .neighbors_directed(petgraph::graph::NodeIndex::new(id), direction)
        {
            if seen.insert(next.index()) {
                stack.push(next.index());
            }
        }
    }
    seen
}
