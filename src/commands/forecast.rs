//! What a run would do now, for `wharf plan` and `wharf why`: the same
//! decisions `wharf run` makes (wharf_runtime::decide), made without
//! running, pulling or writing anything. The backends are the run's own, so
//! that images and what a cached step left outside its folders (a built
//! image, an endpoint) are looked up the way the run looks them up.

use super::state::{describe, state_dir};
use std::collections::BTreeMap;
use std::path::Path;
use wharf::backends::REGISTRY;
use wharf_compiler::Diagnostic;
use wharf_compiler::pipeline::{Pipeline, StepId, Target};
use wharf_runtime::backend::Backend;
use wharf_runtime::backend::descriptor::{self, Setup};
use wharf_runtime::decide::preflight::{self, ImageMode};
use wharf_runtime::forecast::{self, Forecast};
use wharf_runtime::plan::{Role, RunOptions};

/// The selection and cache flags `plan` and `why` share with `run`.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    pub from: Option<String>,
    pub to: Option<String>,
    pub only: Option<String>,
    pub no_cache: bool,
}

/// Each step's forecast, or the errors in the selection flags (exit 2).
pub fn forecast_now(
    pipeline: &Pipeline,
    target: &Target,
    file: &Path,
    selection: &Selection,
) -> anyhow::Result<Result<Vec<Forecast>, Vec<Diagnostic>>> {
    let options = RunOptions {
        from: selection.from.clone(),
        to: selection.to.clone(),
        only: selection.only.clone(),
        no_cache: selection.no_cache,
        ..RunOptions::default()
    };
    let roles = match wharf_runtime::plan::roles(pipeline, &options) {
        Ok(roles) => roles,
        Err(errors) => return Ok(Err(errors)),
    };
    let project_dir = super::project_dir(file);
    let on = |id: StepId| wharf_compiler::placement::backend_for(target, &pipeline.steps[id]);
    let setup = Setup {
        project_dir: &project_dir,
        state_dir: state_dir(),
        grace: None,
        pipeline,
        target,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // A backend that cannot be built (no Docker engine answers) refuses
    // every step on it, as the run's health check would.
    let (kinds, down) = runtime.block_on(descriptor::build_for_plan(REGISTRY, &setup));
    let backends: BTreeMap<StepId, &dyn Backend> = pipeline
        .order
        .iter()
        .filter_map(|&id| Some((id, kinds.get(&on(id))?.as_ref())))
        .collect();
    let checked: Vec<(StepId, bool, &dyn Backend)> = pipeline
        .order
        .iter()
        .filter(|id| roles.get(id) != Some(&Role::NotSelected))
        .filter_map(|&id| Some((id, roles.get(&id) == Some(&Role::Selected), *backends.get(&id)?)))
        .collect();
    let host_env = |name: &str| std::env::var(name).ok();
    let (store, db) = super::state::open_or_empty()?;
    let artifacts = wharf_runtime::artifacts::LocalArtifacts::new();
    let forecasts = runtime.block_on(async {
        let places = preflight::Places {
            project_dir: &project_dir,
            state_dir: Some(state_dir()),
        };
        let mut checks = preflight::check(pipeline, &checked, &host_env, places, ImageMode::Look).await;
        // What refuses the run before anything starts comes first, as the
        // run reports it; on a backend that cannot be built here, the reason
        // it cannot.
        let refused = wharf_runtime::plan::refusals(pipeline, target, &roles, &kinds, REGISTRY, &project_dir);
        for (id, diagnostics) in refused {
            if let Some(first) = diagnostics.first()
                && !down.contains_key(&on(id))
            {
                checks.refusals.insert(id, first.message.clone());
            }
        }
        for &id in &pipeline.order {
            if let Some(reason) = down.get(&on(id))
                && roles.get(&id) != Some(&Role::NotSelected)
            {
                checks.refusals.entry(id).or_insert_with(|| reason.clone());
            }
        }
        forecast::forecast(
            &forecast::Inputs {
                pipeline,
                project_dir: &project_dir,
                roles: &roles,
                backends: &backends,
                preflight: &checks,
                host_env: &host_env,
                artifacts: &artifacts,
                no_cache: selection.no_cache,
                needed_only: false,
            },
            &store.as_ref(),
        )
        .await
    });
    Ok(Ok(forecasts.map_err(|e| describe(e, &db))?))
}
