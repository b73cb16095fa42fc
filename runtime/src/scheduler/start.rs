//! What a run checks before it starts, and the steps outside `--from`/
//! `--to`/`--only`: both through `decide`, the code `wharf plan` uses, so
//! that a run refused here is a plan shown as refused.

use super::{Context, Produced, RunError, record_quick};
use crate::backend::Backend;
use crate::decide::Hit;
use crate::decide::preflight::{self, ImageMode};
use crate::events::RunEvent;
use crate::plan::{Plan, Role};
use crate::state::{StepRecord, StepStatus};
use std::collections::BTreeMap;
use wharf_compiler::pipeline::StepId;

/// Step -> its key and cache hit, for steps outside the selection.
pub(super) type Taken = BTreeMap<StepId, (String, Hit)>;

/// Everything checked before the run starts, through the same code `wharf
/// plan` uses (`decide`): each step's environment and image (images are
/// pulled here, so that a failed pull refuses the run instead of failing
/// it), and, for steps outside `--from`/`--to`/`--only` that selected steps
/// need, their outputs in the cache. Returns the images' identities and the
/// cache hits of those steps; any problem refuses the run.
pub(super) async fn before_start(
    plan: &Plan<'_>,
    ctx: &Context,
    done: &BTreeMap<StepId, StepStatus>,
) -> Result<
    (
        BTreeMap<StepId, Option<String>>,
        BTreeMap<StepId, (String, crate::decide::Hit)>,
    ),
    RunError,
> {
    let pipeline = plan.pipeline;
    let mut checked: Vec<(StepId, bool, &dyn Backend)> = Vec::new();
    let mut backends: BTreeMap<StepId, &dyn Backend> = BTreeMap::new();
    for s in &plan.steps {
        let Some(backend) = ctx.backends.get(&s.backend) else {
            continue;
        };
        backends.insert(s.id, backend.as_ref());
        if s.role != Role::NotSelected && !done.contains_key(&s.id) {
            checked.push((s.id, s.selected(), backend.as_ref()));
        }
    }
    let host_env = &*ctx.host_env;
    let places = preflight::Places {
        project_dir: &plan.project_dir,
        state_dir: plan.options.state_dir.as_deref(),
    };
    let checks = preflight::check(pipeline, &checked, host_env, places, ImageMode::Resolve).await;
    let mut refusals: Vec<String> = checks
        .refusals
        .iter()
        .map(|(id, why)| format!("step `{}`: {why}", pipeline.steps[*id].name))
        .collect();
    let mut taken = BTreeMap::new();
    if refusals.is_empty()
        && plan
            .steps
            .iter()
            .any(|s| s.role == Role::Needed && !done.contains_key(&s.id))
    {
        let roles: BTreeMap<StepId, Role> = plan.steps.iter().map(|s| (s.id, s.role)).collect();
        let forecasts = crate::forecast::forecast(
            &crate::forecast::Inputs {
                pipeline,
                project_dir: &plan.project_dir,
                roles: &roles,
                backends: &backends,
                preflight: &checks,
                host_env,
                artifacts: ctx.artifacts.as_ref(),
                no_cache: plan.options.no_cache,
                needed_only: true,
            },
            &ctx.state,
        )
        .await?;
        let mut refused = std::collections::BTreeSet::new();
        for f in forecasts {
            if roles.get(&f.step) != Some(&Role::Needed) || done.contains_key(&f.step) {
                continue;
            }
            match (f.verdict, f.key, f.hit) {
                (crate::decide::Verdict::Cached { .. }, Some(key), Some(hit)) => {
                    taken.insert(f.step, (key, hit));
                }
                (crate::decide::Verdict::Refused { because }, _, _) => {
                    // Name the first missing step, not every one after it.
                    let after_refused = pipeline.dependencies(f.step).iter().any(|d| refused.contains(d));
                    refused.insert(f.step);
                    if !after_refused {
                        refusals.push(format!("step `{}`: {because}", pipeline.steps[f.step].name));
                    }
                }
                _ => {}
            }
        }
    }
    if refusals.is_empty() {
        Ok((checks.images, taken))
    } else {
        Err(RunError::Refused(refusals))
    }
}

/// The reason of a step taken from the cache: whose outputs it got. The key
/// leaves out the step's name, so identical work done under another name
/// (two loop instances that ignore their loop value) is reused too.
pub(crate) fn cached_reason(entry_run: &str, entry_step: &str, run: &str, step: &str) -> String {
    match (entry_run == run, entry_step == step) {
        (true, _) => format!("same definition and inputs as `{entry_step}` in this run"),
        (false, true) => format!("cached from run {entry_run}"),
        (false, false) => format!("cached from `{entry_step}` in run {entry_run}"),
    }
}

/// The (run, step) whose outputs a cached step got, read back from the
/// reason [`cached_reason`] wrote; `run` is the run the step belongs to.
pub fn cached_source(reason: &str, run: &str, step: &str) -> Option<(String, String)> {
    if let Some(rest) = reason.strip_prefix("same definition and inputs as `") {
        let (entry_step, _) = rest.split_once("` in this run")?;
        return Some((run.to_string(), entry_step.to_string()));
    }
    if let Some(entry_run) = reason.strip_prefix("cached from run ") {
        return Some((entry_run.trim().to_string(), step.to_string()));
    }
    let rest = reason.strip_prefix("cached from `")?;
    let (entry_step, entry_run) = rest.split_once("` in run ")?;
    Some((entry_run.trim().to_string(), entry_step.to_string()))
}

/// Records the steps outside the selection: those a selected step needs as
/// cached (their outputs become this run's), the others as not selected.
pub(super) fn record_outside(
    plan: &Plan<'_>,
    ctx: &Context,
    run_id: &str,
    taken: Taken,
    pending: &super::step::Pending,
    status: &mut BTreeMap<StepId, StepStatus>,
    produced: &mut BTreeMap<StepId, Produced>,
) -> Result<(), RunError> {
    let pipeline = plan.pipeline;
    for s in &plan.steps {
        if status.contains_key(&s.id) {
            continue;
        }
        match (s.role, taken.get(&s.id)) {
            (Role::NotSelected, _) => {
                record_quick(plan, ctx, run_id, s.id, StepStatus::NotSelected, None)?;
                status.insert(s.id, StepStatus::NotSelected);
            }
            (Role::Needed, Some((key, hit))) => {
                let step = &pipeline.steps[s.id];
                let reason = format!(
                    "not selected; {}",
                    cached_reason(&hit.entry.run, &hit.entry.step, run_id, &step.name)
                );
                let record = StepRecord {
                    run: run_id.to_string(),
                    step: step.name.clone(),
                    kind: step.kind.to_string(),
                    backend: s.backend.to_string(),
                    status: StepStatus::Cached,
                    cache_key: Some(key.clone()),
                    reason: Some(reason.clone()),
                    started_ms: None,
                    finished_ms: Some(ctx.clock.now_ms()),
                };
                let artifacts = hit
                    .entry
                    .outputs
                    .iter()
                    .map(|a| crate::state::ArtifactRecord {
                        run: run_id.to_string(),
                        ..a.clone()
                    })
                    .collect();
                pending
                    .lock()
                    .map_err(|_| RunError::Backend("pending records poisoned".into()))?
                    .push(crate::state::CachedStep {
                        record,
                        artifacts,
                        files: hit.refreshed.clone(),
                    });
                ctx.events.event(RunEvent::StepFinished {
                    step: step.name.clone(),
                    status: StepStatus::Cached,
                    duration: std::time::Duration::ZERO,
                    reason: Some(reason),
                });
                status.insert(s.id, StepStatus::Cached);
                produced.insert(
                    s.id,
                    Produced {
                        dirs: hit.dirs.clone(),
                        hashes: hit.hashes.clone(),
                        files: BTreeMap::new(),
                    },
                );
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{cached_reason, cached_source};

    #[test]
    fn a_cached_reason_reads_back_as_its_source() {
        for (entry_run, entry_step) in [("r2", "fit"), ("r1", "fit"), ("r1", "fit-eu")] {
            let reason = cached_reason(entry_run, entry_step, "r2", "fit");
            assert_eq!(
                cached_source(&reason, "r2", "fit"),
                Some((entry_run.to_string(), entry_step.to_string())),
                "{reason}"
            );
        }
        assert_eq!(cached_source("it has not run before", "r", "s"), None);
    }
}
