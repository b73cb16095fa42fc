//! What a run would do, decided without running anything: for each step, its
//! cache key where it can be known now, and whether it would come from the
//! cache, run, or be skipped. `wharf plan` shows this; `wharf why` compares a
//! step's key parts with the ones recorded the last time it ran.
//!
//! A key can be known before the run only when every input is: local files
//! are hashed now, and an upstream step's outputs are known when that step
//! would itself come from the cache. Once one step would run, what follows
//! it waits for its outputs.

use crate::cache::{self, KeyInputs};
use crate::condition::{self, OutputLocator};
use crate::hash::hash_path;
use crate::state::{StateError, StateStore};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wharf_compiler::pipeline::{EnvValue, ImageRef, InputSource, OutputShape, Pipeline, StepId};

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The cache holds its outputs, from that run.
    Cached { run: String },
    /// It would run; why, in words.
    Runs { because: String },
    /// Its `when` is already known to be false.
    Skipped { because: String },
}

#[derive(Debug, Clone)]
pub struct Forecast {
    pub step: StepId,
    /// Known when every input is.
    pub key: Option<String>,
    pub parts: Option<Value>,
    pub verdict: Verdict,
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
        Some(match &self.pipeline.steps[step].output(output)?.shape {
            OutputShape::File { name } => dir.join(name),
            OutputShape::Dir => dir.clone(),
        })
    }
}

/// Forecasts every step, in execution order.
pub fn forecast(
    pipeline: &Pipeline,
    project_dir: &Path,
    store: &dyn StateStore,
    artifacts: &dyn crate::artifacts::ArtifactStore,
    host_env: &dyn Fn(&str) -> Option<String>,
    image_ids: &BTreeMap<StepId, String>,
    no_cache: bool,
) -> Result<Vec<Forecast>, StateError> {
    let mut known: Known = BTreeMap::new();
    let mut out: Vec<Forecast> = Vec::new();
    let mut verdicts: BTreeMap<StepId, Verdict> = BTreeMap::new();
    for &id in &pipeline.order {
        let step = &pipeline.steps[id];
        let skipped_dep = pipeline
            .dependencies(id)
            .into_iter()
            .find(|d| matches!(verdicts.get(d), Some(Verdict::Skipped { .. })));
        if let Some(dep) = skipped_dep {
            let v = Verdict::Skipped {
                because: format!("`{}` would be skipped", pipeline.steps[dep].name),
            };
            keyless(&mut out, &mut verdicts, id, v);
            continue;
        }
        let mut inputs = BTreeMap::new();
        let mut unknown: Option<String> = None;
        for input in &step.inputs {
            let hash = match &input.source {
                InputSource::Output { step: producer, output } => {
                    known.get(producer).and_then(|o| o.get(output)).map(|(_, h)| h.clone())
                }
                InputSource::Gather { outputs } => {
                    let parts: Option<Vec<String>> = outputs
                        .iter()
                        .map(|(p, o)| {
                            known
                                .get(p)
                                .and_then(|m| m.get(o))
                                .map(|(_, h)| format!("{}={h}", pipeline.steps[*p].name))
                        })
                        .collect();
                    parts.map(|p| blake3::hash(p.join("\n").as_bytes()).to_hex().to_string())
                }
                InputSource::Local { path } => hash_path(&project_dir.join(path)).ok().map(|h| h.hex),
                InputSource::S3 { uri } => Some(uri.clone()),
            };
            match hash {
                Some(h) => {
                    inputs.insert(input.name.clone(), h);
                }
                None => {
                    let producer = match &input.source {
                        InputSource::Output { step: p, .. } => Some(*p),
                        InputSource::Gather { outputs } => {
                            outputs.iter().map(|(p, _)| *p).find(|p| !known.contains_key(p))
                        }
                        _ => None,
                    };
                    unknown.get_or_insert(match (producer, &input.source) {
                        (Some(p), _) => format!(
                            "`{}` would run first, so input `{}` is not known yet",
                            pipeline.steps[p].name, input.name
                        ),
                        (None, InputSource::Local { path }) => format!(
                            "input `{}` cannot be read: {} does not exist",
                            input.name,
                            project_dir.join(path).display()
                        ),
                        (None, _) => format!("input `{}` cannot be read", input.name),
                    });
                }
            }
        }
        if let Some(because) = unknown {
            let v = Verdict::Runs { because };
            keyless(&mut out, &mut verdicts, id, v);
            continue;
        }
        if let Some(when) = &step.when {
            let locator = KnownOutputs {
                pipeline,
                known: &known,
            };
            if let Ok(false) = condition::evaluate(pipeline, when, &locator) {
                let v = Verdict::Skipped {
                    because: format!("`when {}` is false", wharf_compiler::display::condition(pipeline, when)),
                };
                keyless(&mut out, &mut verdicts, id, v);
                continue;
            }
        }
        let host: BTreeMap<String, String> = step
            .env
            .values()
            .filter_map(|v| match v {
                EnvValue::Env(var) => Some((var.clone(), host_env(var).unwrap_or_default())),
                _ => None,
            })
            .collect();
        let image = image_key(pipeline, id, &known, image_ids);
        if let wharf_compiler::pipeline::KindSpec::Build {
            context, dockerfile, ..
        } = &step.spec
        {
            let read =
                crate::backend::docker::context::BuildContext::read(&project_dir.join(context), dockerfile.as_deref());
            match read {
                Ok(ctx) => {
                    inputs.insert("context".into(), ctx.hash().to_string());
                }
                Err(e) => {
                    keyless(&mut out, &mut verdicts, id, Verdict::Runs { because: e });
                    continue;
                }
            }
        }
        let parts = cache::key_parts(
            step,
            &KeyInputs {
                image: image.as_deref(),
                inputs: &inputs,
                host_env: &host,
            },
        );
        let key = cache::key(&parts);
        let entry = if step.cache && !no_cache {
            store.cache_entry(&key)?
        } else {
            None
        };
        // The local store answers without a runtime; S3's will need the caller's.
        let hit = entry.filter(|e| {
            e.outputs
                .iter()
                .all(|a| futures::executor::block_on(artifacts.exists(&a.uri)).unwrap_or(false))
                && step
                    .outputs
                    .iter()
                    .all(|o| e.outputs.iter().any(|a| a.output == o.name))
        });
        let verdict = match hit {
            Some(entry) => {
                let outputs = entry
                    .outputs
                    .iter()
                    .filter_map(|a| Some((a.output.clone(), (artifacts.local_path(&a.uri)?, a.hash.clone()))))
                    .collect();
                known.insert(id, outputs);
                Verdict::Cached { run: entry.run }
            }
            None if !step.cache => Verdict::Runs {
                because: "its cache is off".into(),
            },
            None if no_cache => Verdict::Runs {
                because: "--no-cache".into(),
            },
            None => Verdict::Runs {
                because: match store.latest_cache_entry(&pipeline.name, &step.name)? {
                    None => "it has not run before".into(),
                    Some(previous) => {
                        let changes = cache::explain(&previous.parts, &parts);
                        if changes.is_empty() {
                            "its earlier outputs are gone".into()
                        } else {
                            changes.join("; ")
                        }
                    }
                },
            },
        };
        verdicts.insert(id, verdict.clone());
        out.push(Forecast {
            step: id,
            key: Some(key),
            parts: Some(parts),
            verdict,
        });
    }
    Ok(out)
}

/// Records a verdict reached without a key (a skip, or an input not known yet).
/// The image as the run's cache key names it (see `scheduler::step_task`):
/// `name@id` where the caller resolved the id (steps placed on Docker), a
/// built image's tag and id from its `image.json`, else the name.
fn image_key(pipeline: &Pipeline, id: StepId, known: &Known, ids: &BTreeMap<StepId, String>) -> Option<String> {
    let mut current = id;
    for _ in 0..=pipeline.steps.len() {
        match pipeline.steps[current].image.as_ref()? {
            ImageRef::Name(name) => {
                return Some(match ids.get(&id) {
                    Some(image_id) => format!("{name}@{image_id}"),
                    None => name.clone(),
                });
            }
            ImageRef::Built(build) => {
                let (dir, _) = known.get(build)?.get("image")?;
                let text = std::fs::read_to_string(dir.join("image.json")).ok()?;
                let record: serde_json::Value = serde_json::from_str(&text).ok()?;
                let tag = record["image"].as_str()?;
                return Some(match record["id"].as_str() {
                    Some(image_id) => format!("{tag}@{image_id}"),
                    None => tag.to_string(),
                });
            }
            ImageRef::FromModel(producer) => current = *producer,
        }
    }
    None
}

fn keyless(out: &mut Vec<Forecast>, verdicts: &mut BTreeMap<StepId, Verdict>, id: StepId, verdict: Verdict) {
    verdicts.insert(id, verdict.clone());
    out.push(Forecast {
        step: id,
        key: None,
        parts: None,
        verdict,
    });
}
