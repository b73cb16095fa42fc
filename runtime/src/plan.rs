//! A run's plan: the pipeline bound to a target, which steps this run
//! selects, and every check that can fail before anything starts (habit 7:
//! fail before the first process starts, not in the middle of a run).

use crate::backend::Backend;
use crate::backend::descriptor::{self, Descriptor, Registry};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wharf_compiler::backends::BackendKind;
use wharf_compiler::export_path::is_local_export;
use wharf_compiler::pipeline::{InputSource, Pipeline, Step, StepId, Target};
use wharf_compiler::placement;
use wharf_compiler::suggest::did_you_mean;
use wharf_compiler::{Code, Diagnostic};

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
    /// At most this many steps at once on a backend, within `jobs`; those
    /// the target's settings give (SageMaker's `max_jobs`) are added by
    /// [`Plan::build`].
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
    /// Whether it takes one of this machine's `--jobs` slots while it runs
    /// (its backend's descriptor says).
    pub local_slot: bool,
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
    /// Step id -> its index in `steps`: the scheduler asks about a step at
    /// every launch, and a search of `steps` would make a run quadratic.
    positions: Vec<usize>,
}

/// The backends this process built, by kind.
pub type Backends = BTreeMap<BackendKind, Arc<dyn Backend>>;

impl<'p> Plan<'p> {
    /// The plan of step `id`, found through the index rather than by search.
    pub fn step(&self, id: StepId) -> Option<&PlannedStep> {
        self.steps.get(*self.positions.get(id)?)
    }

    /// Builds the plan and checks it against the descriptors of `registry`;
    /// every problem found is returned, not just the first, as diagnostics
    /// without a source location.
    pub fn build(
        pipeline: &'p Pipeline,
        target: &'p Target,
        file: &Path,
        mut options: RunOptions,
        backends: &Backends,
        registry: &Registry,
    ) -> Result<Plan<'p>, Vec<Diagnostic>> {
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
        let mut refused = refusals(pipeline, target, &roles, backends, registry, &project_dir);
        for id in &pipeline.order {
            errors.extend(refused.remove(id).unwrap_or_default());
        }
        let steps = pipeline
            .order
            .iter()
            .map(|&id| {
                let backend = placement::backend_for(target, &pipeline.steps[id]);
                PlannedStep {
                    id,
                    backend,
                    role: roles.get(&id).copied().unwrap_or(Role::Selected),
                    local_slot: descriptor::find(registry, backend).is_none_or(|d| d.local_slot()),
                }
            })
            .collect::<Vec<PlannedStep>>();
        let mut positions = vec![usize::MAX; pipeline.steps.len()];
        for (i, s) in steps.iter().enumerate() {
            if let Some(slot) = positions.get_mut(s.id) {
                *slot = i;
            }
        }
        // A target's `max_jobs` caps the jobs it has running on a backend
        // that reads it (`--jobs` caps only the steps running here).
        for d in registry {
            if let Some(limit) = d.max_jobs(&target.settings) {
                options.backend_limits.entry(d.kind()).or_insert(limit);
            }
        }
        if errors.is_empty() {
            Ok(Plan {
                pipeline,
                target,
                file: file.display().to_string(),
                project_dir,
                steps,
                options,
                positions,
            })
        } else {
            Err(errors)
        }
    }
}

/// What refuses each step before anything starts, by step: a step the run needs on a backend this process could not build, and
/// a selected step its backend cannot run (its kind, S3 data, its
/// descriptor's own checks, a missing local input). [`Plan::build`] refuses
/// the run with all of them; `plan` and `why` show each on its step, so that
/// they say what `run` will do.
pub fn refusals(
    pipeline: &Pipeline,
    target: &Target,
    roles: &BTreeMap<StepId, Role>,
    backends: &Backends,
    registry: &Registry,
    project_dir: &Path,
) -> BTreeMap<StepId, Vec<Diagnostic>> {
    let mut found = BTreeMap::new();
    for &id in &pipeline.order {
        let step = &pipeline.steps[id];
        let backend = placement::backend_for(target, step);
        let descriptor = descriptor::find(registry, backend);
        let role = roles.get(&id).copied().unwrap_or(Role::Selected);
        let built = backends.contains_key(&backend) && descriptor.is_some();
        let mut errors = Vec::new();
        if role == Role::Needed && !built {
            errors.push(Diagnostic::error(
                Code::BackendUnavailable,
                None,
                format!(
                    "step `{}` runs on the {backend} backend, which this build of wharf cannot run yet, and a selected step needs its outputs",
                    step.name
                ),
            ));
        }
        if role == Role::Selected {
            check_step(step, backend, descriptor, built, registry, project_dir, &mut errors);
        }
        if !errors.is_empty() {
            found.insert(id, errors);
        }
    }
    found
}

/// The refusals of a selected step on `backend` (`built`: this process has
/// built it).
fn check_step(
    step: &Step,
    backend: BackendKind,
    descriptor: Option<&dyn Descriptor>,
    built: bool,
    registry: &Registry,
    project_dir: &Path,
    errors: &mut Vec<Diagnostic>,
) {
    let moves_s3 = descriptor.is_some_and(|d| d.moves_s3());
    let s3_hint = || {
        let names: Vec<&str> = registry
            .iter()
            .filter(|d| d.moves_s3())
            .map(|d| d.kind().as_str())
            .collect();
        format!("S3 data moves with the {} backend", names.join(" or "))
    };
    match descriptor.filter(|_| built) {
        None => errors.push(
            Diagnostic::error(
                Code::BackendUnavailable,
                None,
                format!(
                    "step `{}` runs on the {backend} backend, which this build of wharf cannot run yet",
                    step.name
                ),
            )
            .with_hint("use a target on a backend this machine can run"),
        ),
        Some(d) if !d.spec().runs(step.kind) => {
            let others: Vec<&str> = registry
                .iter()
                .filter(|d| d.spec().runs(step.kind))
                .map(|d| d.kind().as_str())
                .collect();
            errors.push(
                Diagnostic::error(
                    Code::UnsupportedOnBackend,
                    None,
                    format!(
                        "step `{}` is a `{}` step, which the {backend} backend cannot run yet",
                        step.name, step.kind
                    ),
                )
                .with_hint(format!("place it on {}", others.join(" or "))),
            );
        }
        Some(d) => errors.extend(d.check(step)),
    }
    // A local destination is checked with the step's other refusals, by
    // `decide::preflight`, which plan shares.
    for output in &step.outputs {
        let Some(dest) = &output.export else { continue };
        if !is_local_export(dest) && !moves_s3 {
            errors.push(
                Diagnostic::error(
                    Code::UnsupportedOnBackend,
                    None,
                    format!(
                        "step `{}` exports output `{}` to {dest}, and the {backend} backend exports to local paths only",
                        step.name, output.name
                    ),
                )
                .with_hint(s3_hint()),
            );
        }
    }
    for input in &step.inputs {
        match &input.source {
            InputSource::Local { path } => {
                let full = project_dir.join(path);
                if !full.exists() {
                    errors.push(Diagnostic::error(
                        Code::InputNotFound,
                        None,
                        format!(
                            "step `{}` reads input `{}` from {}, which does not exist",
                            step.name,
                            input.name,
                            full.display()
                        ),
                    ));
                }
            }
            InputSource::S3 { uri } if built && !moves_s3 => errors.push(
                Diagnostic::error(
                    Code::UnsupportedOnBackend,
                    None,
                    format!(
                        "step `{}` reads input `{}` from {uri}, and the {backend} backend reads local data only",
                        step.name, input.name
                    ),
                )
                .with_hint(s3_hint()),
            ),
            _ => {}
        }
    }
}

/// Each step's part in the run. `--only X` runs X; `--to X` runs X and
/// what it needs; `--from X` runs X and what follows it (`--from` with
/// `--to`: what lies between). The steps a selected step needs outside the
/// selection are taken from the cache; the rest are not touched. A flag
/// that names no step is an error.
pub fn roles(pipeline: &Pipeline, options: &RunOptions) -> Result<BTreeMap<StepId, Role>, Vec<Diagnostic>> {
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
fn select(pipeline: &Pipeline, options: &RunOptions, errors: &mut Vec<Diagnostic>) -> Option<BTreeSet<StepId>> {
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
            let hint = did_you_mean(name, pipeline.steps.iter().map(|s| s.name.as_str()));
            errors.push(
                Diagnostic::error(
                    Code::UnknownStep,
                    None,
                    format!("{flag} {name}: the pipeline has no step `{name}`"),
                )
                .with_hint_opt(hint),
            );
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
