//! What a run would do, decided without running anything: for each step,
//! its cache key where it can be known now, and its verdict (see
//! [`crate::decide`], which makes every decision; this file walks the steps
//! in order and carries what the cache would serve from one to the next).
//! `wharf plan` shows this; `wharf why` compares a step's key parts with the
//! ones recorded the last time it ran; `wharf run` uses it, before anything
//! starts, for the steps outside `--from`/`--to`/`--only` whose outputs the
//! selected steps need.
//!
//! A key can be known before the run only when every input is: local files
//! are hashed now, and an upstream step's outputs are known when that step
//! would itself come from the cache. Once one step would run, what follows
//! it waits for its outputs (its verdict is `run`, with no key: it may still
//! come from the cache if the upstream step makes the same outputs again).

use crate::artifacts::ArtifactStore;
use crate::backend::Backend;
use crate::condition::{self, OutputLocator};
use crate::decide::preflight::{self, Preflight, StepImage};
use crate::decide::{self, CacheUse, Hit, Keyed, ReadState};
use crate::plan::Role;
use crate::state::StateError;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wharf_compiler::pipeline::{Pipeline, StepId};

pub use crate::decide::Verdict;

#[derive(Debug, Clone)]
pub struct Forecast {
    pub step: StepId,
    /// Known when every input is.
    pub key: Option<String>,
    pub parts: Option<Value>,
    pub verdict: Verdict,
    /// Where the cache's outputs are, for a step that would come from it.
    pub hit: Option<Hit>,
}

/// What the forecast needs from the outside world.
pub struct Inputs<'a> {
    pub pipeline: &'a Pipeline,
    pub project_dir: &'a Path,
    /// Each step's part in this run (`--from`/`--to`/`--only`).
    pub roles: &'a BTreeMap<StepId, Role>,
    /// The backend each step runs on.
    pub backends: &'a BTreeMap<StepId, &'a dyn Backend>,
    /// Environment and image checks (see [`preflight::check`]).
    pub preflight: &'a Preflight,
    pub host_env: &'a (dyn Fn(&str) -> Option<String> + Sync),
    pub artifacts: &'a dyn ArtifactStore,
    pub no_cache: bool,
    /// Decide only the steps outside the selection (what `run` checks
    /// before it starts); selected steps get no key.
    pub needed_only: bool,
}

/// Outputs as the cache holds them: step -> output -> (folder, hash).
type Known = BTreeMap<StepId, BTreeMap<String, (PathBuf, String)>>;

struct KnownOutputs<'a> {
    pipeline: &'a Pipeline,
    known: &'a Known,
}

impl OutputLocator for KnownOutputs<'_> {
    fn output_file(&self, step: usize, output: &str) -> Option<PathBuf> {
        let (dir, _) = self.known.get(&step)?.get(output)?;
        Some(self.pipeline.steps[step].output(output)?.shape.path_in(dir))
    }
}

impl Forecast {
    /// A verdict reached without a key (a skip, a refusal, an input not known yet).
    fn keyless(step: StepId, verdict: Verdict) -> Forecast {
        Forecast {
            step,
            key: None,
            parts: None,
            verdict,
            hit: None,
        }
    }
}

/// Forecasts every step, in execution order.
pub async fn forecast(world: &Inputs<'_>, store: &impl ReadState) -> Result<Vec<Forecast>, StateError> {
    let pipeline = world.pipeline;
    let mut known: Known = BTreeMap::new();
    let mut out: Vec<Forecast> = Vec::new();
    let mut verdicts: BTreeMap<StepId, Verdict> = BTreeMap::new();
    for &id in &pipeline.order {
        let step = &pipeline.steps[id];
        let role = world.roles.get(&id).copied().unwrap_or(Role::Selected);
        let keyless = |verdict: Verdict| Forecast::keyless(id, verdict);
        let early = match role {
            Role::NotSelected => Some(Verdict::NotSelected),
            Role::Selected if world.needed_only => Some(Verdict::Runs {
                because: "it is selected".into(),
            }),
            _ => dependency_verdict(world, id, &verdicts),
        };
        if let Some(verdict) = early {
            verdicts.insert(id, verdict.clone());
            out.push(keyless(verdict));
            continue;
        }
        let mut forecast = decide_one(world, id, role, &known, store).await?;
        if role == Role::Needed
            && let Verdict::Runs { because } = &forecast.verdict
        {
            forecast.verdict = Verdict::Refused {
                because: format!(
                    "it is outside --from/--to/--only and its outputs are not in the cache ({because}); \
                     run it first with `--to {}`",
                    step.name
                ),
            };
        }
        if let Some(hit) = &forecast.hit {
            let outputs = hit
                .dirs
                .iter()
                .filter_map(|(o, d)| Some((o.clone(), (d.clone(), hit.hashes.get(o)?.clone()))))
                .collect();
            known.insert(id, outputs);
        }
        verdicts.insert(id, forecast.verdict.clone());
        out.push(forecast);
    }
    Ok(out)
}

/// A verdict that follows from the steps before: one skipped makes this
/// one skipped; one that cannot start leaves this one unable to start.
fn dependency_verdict(world: &Inputs<'_>, id: StepId, verdicts: &BTreeMap<StepId, Verdict>) -> Option<Verdict> {
    let pipeline = world.pipeline;
    for dep in pipeline.dependencies(id) {
        let name = &pipeline.steps[dep].name;
        match verdicts.get(&dep) {
            Some(Verdict::Skipped { .. }) => {
                return Some(Verdict::Skipped {
                    because: format!("`{name}` would be skipped"),
                });
            }
            Some(Verdict::Refused { .. }) => {
                return Some(Verdict::Refused {
                    because: format!("`{name}` cannot start"),
                });
            }
            _ => {}
        }
    }
    None
}

/// One step whose dependencies have verdicts: its refusal, its inputs, its
/// condition, its key and what the cache says.
async fn decide_one(
    world: &Inputs<'_>,
    id: StepId,
    role: Role,
    known: &Known,
    store: &impl ReadState,
) -> Result<Forecast, StateError> {
    let pipeline = world.pipeline;
    let step = &pipeline.steps[id];
    let keyless = |verdict: Verdict| Forecast::keyless(id, verdict);
    let lookup = |producer: StepId, output: &str| known.get(&producer)?.get(output).cloned();
    // A missing input file first, as `wharf run` checks it; then the
    // environment and the image, which refuse the step even when it waits
    // for an upstream step.
    let (hashes, waits_for) = match decide::inputs::resolve(pipeline, id, world.project_dir, &lookup) {
        Ok(inputs) => match decide::inputs::hash(&inputs, &decide::inputs::StoreDigests(store)) {
            Ok(hashes) => (Some(hashes), None),
            Err(because) => return Ok(keyless(Verdict::Refused { because })),
        },
        Err((producer, input)) => {
            if let Some(because) = decide::inputs::missing_local(step, world.project_dir) {
                return Ok(keyless(Verdict::Refused { because }));
            }
            let name = &pipeline.steps[producer].name;
            (
                None,
                Some(format!("`{name}` would run first, so input `{input}` is not known yet")),
            )
        }
    };
    if let Some(because) = world.preflight.refusals.get(&id) {
        return Ok(keyless(Verdict::Refused {
            because: because.clone(),
        }));
    }
    let Some(mut hashes) = hashes else {
        return Ok(keyless(Verdict::Runs {
            because: waits_for.unwrap_or_default(),
        }));
    };
    if let Some(when) = &step.when {
        let locator = KnownOutputs { pipeline, known };
        if let Ok(false) = condition::evaluate(pipeline, when, &locator) {
            let seen = condition::observed(pipeline, when, &locator);
            let text = wharf_compiler::display::condition(pipeline, when);
            let values = if seen.is_empty() {
                String::new()
            } else {
                format!(" ({})", seen.join(", "))
            };
            return Ok(keyless(Verdict::Skipped {
                because: format!("`when {text}` is false{values}"),
            }));
        }
    }
    let Some(backend) = world.backends.get(&id) else {
        return Ok(keyless(Verdict::Refused {
            because: "its backend is not available in this build of wharf".into(),
        }));
    };
    if let Some(hash) = backend.context_hash(step, world.project_dir) {
        match hash() {
            Ok(hash) => {
                hashes.insert("context".into(), hash);
            }
            Err(because) => return Ok(keyless(Verdict::Runs { because })),
        }
    }
    let image = match preflight::step_image(pipeline, id, &world.preflight.images, &lookup) {
        StepImage::None => None,
        StepImage::Known(_, key) => Some(key),
        StepImage::Unknown(because) => return Ok(keyless(Verdict::Runs { because })),
    };
    let host_env = preflight::key_env(step, world.host_env);
    // A step outside the selection is only ever taken from the cache.
    let cache_use = if role == Role::Needed {
        CacheUse::Lookup
    } else {
        CacheUse::of(step, world.no_cache)
    };
    let decision = decide::decide(
        &Keyed {
            pipeline: &pipeline.name,
            step,
            image: image.as_deref(),
            inputs: &hashes,
            host_env: &host_env,
        },
        cache_use,
        store,
        world.artifacts,
        *backend,
    )
    .await?;
    Ok(Forecast {
        step: id,
        key: Some(decision.key),
        parts: Some(decision.parts),
        verdict: decision.verdict,
        hit: decision.hit,
    })
}
