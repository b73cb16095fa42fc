//! The one place that decides what happens to a step: from its resolved
//! inputs, its environment, its image's identity, the state store and the
//! run's options, it computes the cache key's parts, the key, and the
//! verdict: cached from run R, runs because ..., refused because ...,
//! skipped, or not selected. `wharf plan` and `wharf why` (through
//! [`crate::forecast`]) and `wharf run` (through the scheduler's step task)
//! all call it, so what the plan says is what the run does.
//!
//! - [`inputs`]: where a step's inputs are and their content hashes;
//! - [`preflight`]: the checks that refuse a step before anything starts
//!   (an unset `env()`/`secret()`, an image that cannot be had);
//! - [`manifest`]: what each recorded output held, checked by `stat` before
//!   a cached output is trusted;
//! - this file: the key and the cache lookup.

pub mod inputs;
pub mod manifest;
pub mod preflight;

use crate::artifacts::ArtifactStore;
use crate::backend::Backend;
use crate::cache::{self, KeyInputs};
use crate::state::{CacheEntry, OutputFile, StateError, StateStore};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use wharf_compiler::pipeline::Step;

/// What happens to a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Its outputs come from the cache: those `step` made in `run`.
    Cached { run: String, step: String },
    /// It runs; why, in words.
    Runs { because: String },
    /// It cannot start, and so the run does not start (exit 2).
    Refused { because: String },
    /// Its `when` is false, or a step it needs is skipped.
    Skipped { because: String },
    /// Outside `--from`/`--to`/`--only` and not needed by a step inside.
    NotSelected,
}

impl Verdict {
    /// One word, as `plan --format json` prints it: `cached`, `run`,
    /// `refused`, `skip`, `not-selected`.
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Cached { .. } => "cached",
            Verdict::Runs { .. } => "run",
            Verdict::Refused { .. } => "refused",
            Verdict::Skipped { .. } => "skip",
            Verdict::NotSelected => "not-selected",
        }
    }
}

/// A cache hit: the entry and where its outputs are.
#[derive(Debug, Clone)]
pub struct Hit {
    pub entry: CacheEntry,
    /// Output -> folder on this machine.
    pub dirs: BTreeMap<String, PathBuf>,
    /// Output -> content hash.
    pub hashes: BTreeMap<String, String>,
    /// Outputs whose files were only touched (same bytes, new mtimes), with
    /// their new lists, for the run to record: (URI, files).
    pub refreshed: Vec<(String, Vec<OutputFile>)>,
}

/// The key of a step and what the cache says about it.
#[derive(Debug, Clone)]
pub struct Decision {
    pub key: String,
    pub parts: Value,
    pub verdict: Verdict,
    pub hit: Option<Hit>,
}

/// Read access to the state store, whether the caller holds it alone
/// (`plan`, `why`) or shares it with running steps (`run`).
pub trait ReadState {
    fn read<R>(&self, f: impl FnOnce(&dyn StateStore) -> Result<R, StateError>) -> Result<R, StateError>;
}

impl ReadState for &dyn StateStore {
    fn read<R>(&self, f: impl FnOnce(&dyn StateStore) -> Result<R, StateError>) -> Result<R, StateError> {
        f(*self)
    }
}

impl ReadState for Arc<Mutex<Box<dyn StateStore>>> {
    fn read<R>(&self, f: impl FnOnce(&dyn StateStore) -> Result<R, StateError>) -> Result<R, StateError> {
        let store = self
            .lock()
            .map_err(|_| StateError::Decode("the state store was poisoned by a panic".into()))?;
        f(store.as_ref())
    }
}

/// Everything about a step that goes into its key.
pub struct Keyed<'a> {
    pub pipeline: &'a str,
    pub step: &'a Step,
    /// The image's identity (`name@id`, a built image's `tag@id`).
    pub image: Option<&'a str>,
    pub inputs: &'a BTreeMap<String, String>,
    /// The values of the `env()` variables it reads.
    pub host_env: &'a BTreeMap<String, String>,
}

/// How the cache may be used for this step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheUse {
    /// Look it up (cache on, no `--no-cache`).
    Lookup,
    /// `--no-cache`: run it whatever the cache holds.
    NoCacheFlag,
    /// `cache = off` on the step.
    Off,
}

impl CacheUse {
    pub fn of(step: &Step, no_cache: bool) -> CacheUse {
        match (step.cache, no_cache) {
            (false, _) => CacheUse::Off,
            (true, true) => CacheUse::NoCacheFlag,
            (true, false) => CacheUse::Lookup,
        }
    }
}

/// The key, and the verdict the cache gives: a hit needs every declared
/// output recorded, still on disk, unchanged since it was recorded (see
/// [`manifest`]), and what the step made outside its folders still alive
/// (the backend says: a built image, a running endpoint).
pub async fn decide(
    keyed: &Keyed<'_>,
    cache_use: CacheUse,
    store: &impl ReadState,
    artifacts: &dyn ArtifactStore,
    backend: &dyn Backend,
) -> Result<Decision, StateError> {
    let parts = cache::key_parts(
        keyed.step,
        &KeyInputs {
            image: keyed.image,
            inputs: keyed.inputs,
            host_env: keyed.host_env,
        },
    );
    let key = cache::key(&parts);
    let runs = |because: String, parts: Value, key: String| Decision {
        key,
        parts,
        verdict: Verdict::Runs { because },
        hit: None,
    };
    match cache_use {
        CacheUse::Off => return Ok(runs("its cache is off".into(), parts, key)),
        CacheUse::NoCacheFlag => return Ok(runs("--no-cache".into(), parts, key)),
        CacheUse::Lookup => {}
    }
    let found = store.read(|s| {
        let Some(entry) = s.cache_entry(&key)? else {
            return Ok(None);
        };
        let files = entry
            .outputs
            .iter()
            .map(|a| s.output_files(&a.uri))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some((entry, files)))
    })?;
    let Some((entry, files)) = found else {
        let previous = store.read(|s| s.latest_cache_entry(keyed.pipeline, &keyed.step.name))?;
        let because = match previous {
            None => "it has not run before".to_string(),
            Some(previous) => {
                let changes = cache::explain(&previous.parts, &parts);
                if changes.is_empty() {
                    "its earlier outputs are gone".into()
                } else {
                    changes.join("; ")
                }
            }
        };
        return Ok(runs(because, parts, key));
    };
    match check_outputs(keyed.step, entry, files, artifacts).await {
        Err(because) => Ok(runs(because, parts, key)),
        Ok(hit) => {
            // Some outputs live outside the folders too: a built image in the
            // engine, a running endpoint. The backend says whether they still do.
            if !backend.outputs_alive(keyed.step.kind, &hit.dirs).await {
                let because = "what it made outside its output folders (an image, an endpoint) is gone".into();
                return Ok(runs(because, parts, key));
            }
            Ok(Decision {
                key,
                parts,
                verdict: Verdict::Cached {
                    run: hit.entry.run.clone(),
                    step: hit.entry.step.clone(),
                },
                hit: Some(hit),
            })
        }
    }
}

/// Whether a cache entry's outputs can be trusted: each declared output
/// recorded, on this machine, and as recorded. The error is the reason the
/// step runs instead.
async fn check_outputs(
    step: &Step,
    entry: CacheEntry,
    files: Vec<Vec<OutputFile>>,
    artifacts: &dyn ArtifactStore,
) -> Result<Hit, String> {
    if let Some(missing) = step
        .outputs
        .iter()
        .find(|o| !entry.outputs.iter().any(|a| a.output == o.name))
    {
        return Err(format!(
            "its earlier outputs are gone (`{}` was not recorded)",
            missing.name
        ));
    }
    let mut checks = Vec::new();
    for (artifact, recorded) in entry.outputs.iter().zip(files) {
        let Some(path) = artifacts.local_path(&artifact.uri) else {
            return Err(format!(
                "its cached output `{}` is not on this machine",
                artifact.output
            ));
        };
        checks.push((artifact.clone(), path, recorded));
    }
    let entries: usize = checks.iter().map(|(_, _, recorded)| recorded.len()).sum();
    let no_list = checks.iter().any(|(_, _, recorded)| recorded.is_empty());
    let verify_all = move || {
        checks
            .into_iter()
            .map(|(artifact, path, recorded)| {
                let result = verify_output(&path, &artifact.hash, &recorded);
                (artifact, path, result)
            })
            .collect::<Vec<_>>()
    };
    // A few `stat`s are done here: a hop to another thread would cost more
    // (an all-cached re-run is mostly these checks). Large outputs, and
    // outputs without a list (hashed in full), go off the scheduler's thread.
    const INLINE_ENTRIES: usize = 64;
    let verified = if entries <= INLINE_ENTRIES && !no_list {
        verify_all()
    } else {
        tokio::task::spawn_blocking(verify_all)
            .await
            .map_err(|e| format!("checking its cached outputs failed: {e}"))?
    };
    let mut hit = Hit {
        entry,
        dirs: BTreeMap::new(),
        hashes: BTreeMap::new(),
        refreshed: Vec::new(),
    };
    for (artifact, path, result) in verified {
        match result {
            Ok(refreshed) => {
                if let Some(list) = refreshed {
                    hit.refreshed.push((artifact.uri.clone(), list));
                }
                hit.dirs.insert(artifact.output.clone(), path);
                hit.hashes.insert(artifact.output.clone(), artifact.hash.clone());
            }
            Err(changed) => return Err(format!("its cached output `{}` changed: {changed}", artifact.output)),
        }
    }
    Ok(hit)
}

/// One output against its record. `Ok(Some(list))`: intact, and this list
/// should be recorded (new mtimes, or no list was recorded before).
fn verify_output(
    path: &std::path::Path,
    hash: &str,
    recorded: &[OutputFile],
) -> Result<Option<Vec<OutputFile>>, String> {
    if std::fs::symlink_metadata(path).is_err() {
        return Err(format!("{} was deleted", path.display()));
    }
    if recorded.is_empty() {
        // Recorded by an older wharf (or an empty folder): one full hash,
        // then a list, so that later checks are `stat` only.
        let now = crate::hash::hash_path(path).map_err(|e| format!("it cannot be read ({e})"))?;
        if now.hex != hash {
            return Err("its content differs from what was recorded".into());
        }
        return Ok(manifest::scan(path).ok().filter(|l| !l.is_empty()));
    }
    let found = manifest::verify(path, recorded).map_err(|e| format!("it cannot be read ({e})"))?;
    if found.changes.is_empty() {
        Ok(found.refreshed)
    } else {
        Err(manifest::describe(&found.changes))
    }
}
