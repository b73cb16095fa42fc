//! A step's inputs as the cache key sees them: where each one is on this
//! machine and its content hash. The run finds upstream outputs among the
//! steps that finished; the forecast among the steps the cache would serve.
//! Both go through these functions, so both hash the same things the same way,
//! with the same stat cache ([`StoreDigests`]): an unchanged local input
//! costs a `stat` per file in `plan`, `why` and `run` alike.

use super::ReadState;
use crate::hash::{DigestCache, hash_path_with};
use crate::state::FileDigest;
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use wharf_compiler::pipeline::{InputSource, Pipeline, StepId};

/// One input of a step.
#[derive(Debug, Clone)]
pub enum Input {
    /// A file or folder, and its content hash when already known (an
    /// upstream output's recorded hash; an S3 URI stands for itself).
    Path(PathBuf, Option<String>),
    /// One entry per instance of a fanned-out step: (instance name, path, hash).
    Gather(Vec<(String, PathBuf, String)>),
}

/// Where an upstream output is: its folder on this machine and its hash.
pub type OutputLookup<'a> = &'a dyn Fn(StepId, &str) -> Option<(PathBuf, String)>;

/// The step's inputs, or the first upstream step whose outputs are not known
/// (with the input that needs them).
pub fn resolve(
    pipeline: &Pipeline,
    id: StepId,
    project_dir: &Path,
    outputs: OutputLookup<'_>,
) -> Result<Vec<(String, Input)>, (StepId, String)> {
    let file_of = |producer: StepId, output: &str| -> Option<(PathBuf, String)> {
        let (dir, hash) = outputs(producer, output)?;
        let path = pipeline.steps[producer].output(output)?.shape.path_in(&dir);
        Some((path, hash))
    };
    let step = &pipeline.steps[id];
    let mut out = Vec::with_capacity(step.inputs.len());
    for input in &step.inputs {
        let resolved = match &input.source {
            InputSource::Output { step: producer, output } => {
                let (path, hash) = file_of(*producer, output).ok_or((*producer, input.name.clone()))?;
                Input::Path(path, Some(hash))
            }
            InputSource::Gather { outputs } => {
                let mut parts = Vec::with_capacity(outputs.len());
                for (producer, output) in outputs {
                    let (path, hash) = file_of(*producer, output).ok_or((*producer, input.name.clone()))?;
                    parts.push((pipeline.steps[*producer].name.clone(), path, hash));
                }
                Input::Gather(parts)
            }
            InputSource::Local { path } => {
                let full = project_dir.join(path);
                Input::Path(std::fs::canonicalize(&full).unwrap_or(full), None)
            }
            InputSource::S3 { uri } => Input::Path(PathBuf::from(uri), Some(uri.clone())),
        };
        out.push((input.name.clone(), resolved));
    }
    Ok(out)
}

/// The stat cache in the state store, for [`hash`]. A store that cannot be
/// read or written (a read-only database, another wharf holding it) only
/// means files are read: hashing never fails because of it.
pub struct StoreDigests<'a, S: ReadState>(pub &'a S);

impl<S: ReadState> DigestCache for StoreDigests<'_, S> {
    fn recorded(&self, path: &Path) -> Vec<FileDigest> {
        self.0
            .read(|s| s.file_digests(path.as_os_str().as_bytes()))
            .unwrap_or_default()
    }

    fn record(&self, fresh: &[FileDigest], gone: &[FileDigest]) {
        let _ = self.0.read(|s| s.put_file_digests(fresh, gone));
    }
}

/// Input name -> content hash, hashing what is not known yet (local files
/// and folders) through the stat `cache`. The error names the input and the path.
pub fn hash(inputs: &[(String, Input)], cache: &dyn DigestCache) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (name, input) in inputs {
        let hash = match input {
            Input::Path(_, Some(hash)) => hash.clone(),
            Input::Path(path, None) => {
                hash_path_with(path, cache)
                    .map_err(|e| match e.kind() {
                        std::io::ErrorKind::NotFound => {
                            format!("input `{name}` cannot be read: {} does not exist", path.display())
                        }
                        _ => format!("cannot read input `{name}` at {}: {e}", path.display()),
                    })?
                    .hex
            }
            Input::Gather(parts) => {
                let joined: Vec<String> = parts.iter().map(|(n, _, h)| format!("{n}={h}")).collect();
                blake3::hash(joined.join("\n").as_bytes()).to_hex().to_string()
            }
        };
        out.insert(name.clone(), hash);
    }
    Ok(out)
}

/// The first local input of the step that does not exist, as the reason
/// the run refuses it.
pub fn missing_local(step: &wharf_compiler::pipeline::Step, project_dir: &Path) -> Option<String> {
    step.inputs.iter().find_map(|input| match &input.source {
        InputSource::Local { path } if !project_dir.join(path).exists() => Some(format!(
            "input `{}` cannot be read: {} does not exist",
            input.name,
            project_dir.join(path).display()
        )),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{SqliteStore, StateError, StateStore};

    /// A state store that refuses everything (read-only, or held by another wharf).
    struct Broken;

    impl ReadState for Broken {
        fn read<R>(&self, _: impl FnOnce(&dyn StateStore) -> Result<R, StateError>) -> Result<R, StateError> {
            Err(StateError::Decode("attempt to write a readonly database".into()))
        }
    }

    fn local(path: &Path) -> Vec<(String, Input)> {
        vec![("data".to_string(), Input::Path(path.to_path_buf(), None))]
    }

    #[test]
    fn a_state_store_that_cannot_be_used_only_means_files_are_read() {
        let data = tempfile::tempdir().expect("tmp");
        std::fs::write(data.path().join("x.csv"), "1,2\n").expect("write");
        let hashes = hash(&local(data.path()), &StoreDigests(&Broken)).expect("hashed anyway");
        assert_eq!(hashes["data"], crate::hash::hash_path(data.path()).expect("hash").hex);
    }

    #[test]
    fn the_stat_cache_lives_in_the_state_store() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = SqliteStore::open(dir.path()).expect("store");
        let store: &dyn StateStore = &store;
        let cache = StoreDigests(&store);
        let data = tempfile::tempdir().expect("tmp");
        std::fs::write(data.path().join("x.csv"), "1,2\n").expect("write");
        let hashes = hash(&local(data.path()), &cache).expect("hash");
        assert_eq!(hashes["data"], crate::hash::hash_path(data.path()).expect("hash").hex);
        assert!(
            cache.recorded(data.path()).is_empty(),
            "just written: read again next time, not recorded"
        );
        let file = std::fs::canonicalize(data.path().join("x.csv")).expect("resolve");
        let meta = std::fs::metadata(&file).expect("stat");
        let digest = FileDigest {
            path: file.as_os_str().as_bytes().to_vec(),
            whole: false,
            stamp: crate::hash::stamp(&meta),
            hash: *blake3::hash(b"1,2\n").as_bytes(),
        };
        cache.record(std::slice::from_ref(&digest), &[]);
        assert_eq!(cache.recorded(data.path()), [digest]);
        assert_eq!(
            hash(&local(data.path()), &cache).expect("warm")["data"],
            hashes["data"],
            "the recorded digest gives the same hash"
        );
    }
}
