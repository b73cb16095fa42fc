//! Where an attempt's files live on this machine, as absolute paths: the
//! folders the scheduler chose (work folder, outputs, log) and the folders
//! that stand in for SageMaker's `/opt/ml/...` (see the table in the module
//! docs of `process`). `prepare` creates them all before the step starts.

use crate::backend::Attempt;
use std::path::{Path, PathBuf};
use wharf_compiler::types::StepKind;

pub(super) struct Layout {
    pub(super) work_dir: PathBuf,
    pub(super) log_path: PathBuf,
    /// Input name -> absolute path, in the attempt's order.
    pub(super) inputs: Vec<(String, PathBuf)>,
    /// Output name -> absolute folder, in declaration order.
    pub(super) outputs: Vec<(String, PathBuf)>,
    /// `/opt/ml/input`, `/opt/ml/input/config`.
    pub(super) input_dir: PathBuf,
    pub(super) input_config_dir: PathBuf,
    /// `/opt/ml/output`, `/opt/ml/output/data`, `/opt/ml/model`.
    pub(super) output_dir: PathBuf,
    pub(super) output_data_dir: PathBuf,
    pub(super) model_dir: PathBuf,
}

impl Layout {
    /// Relative paths in the attempt are taken relative to Wharf's own
    /// current directory, as every other file operation of this process
    /// would take them; the step, which runs elsewhere, sees them absolute.
    pub(super) fn new(attempt: &Attempt) -> Result<Self, String> {
        let work_dir = absolute(&attempt.work_dir)?;
        let outputs: Vec<(String, PathBuf)> = attempt
            .outputs
            .iter()
            .map(|name| Ok((name.clone(), absolute(&attempt.output_dir(name))?)))
            .collect::<Result<_, String>>()?;
        let output = |name: &str| outputs.iter().find(|(n, _)| n == name).map(|(_, dir)| dir.clone());
        // A train step's `model` and `output` outputs are SageMaker's model
        // folder and output data folder, so the script fills the outputs
        // Wharf collects without knowing about them.
        let is_train = attempt.kind == StepKind::Train;
        let model_dir = output("model")
            .filter(|_| is_train)
            .unwrap_or_else(|| work_dir.join("model"));
        let output_data_dir = output("output")
            .filter(|_| is_train)
            .unwrap_or_else(|| work_dir.join("output").join("data"));
        Ok(Layout {
            log_path: absolute(&attempt.log_path)?,
            inputs: attempt
                .inputs
                .iter()
                .map(|(name, path)| Ok((name.clone(), absolute(path)?)))
                .collect::<Result<_, String>>()?,
            input_dir: work_dir.join("input"),
            input_config_dir: work_dir.join("input").join("config"),
            output_dir: work_dir.join("output"),
            output_data_dir,
            model_dir,
            outputs,
            work_dir,
        })
    }

    /// Creates every folder the step may write to, and the log's folder.
    /// Output folders start empty: whatever a previous try left there would
    /// otherwise be collected as this attempt's output.
    ///
    /// Plain blocking calls, a few microseconds each: through `tokio::fs`
    /// each would be a hand-off to another thread and back, which cost more
    /// than the calls. Parents are made before their children, so that each
    /// folder is one `mkdir` instead of `create_dir_all`'s walk up from a
    /// missing parent.
    pub(super) fn prepare(&self) -> Result<(), String> {
        for (_, dir) in &self.outputs {
            match std::fs::remove_dir_all(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("cannot empty output folder `{}`: {e}", dir.display())),
            }
        }
        let log_dir = self.log_path.parent().unwrap_or(&self.work_dir);
        let mut folders: Vec<&Path> = [
            &self.work_dir,
            &self.input_dir,
            &self.input_config_dir,
            &self.output_dir,
            &self.output_data_dir,
            &self.model_dir,
        ]
        .into_iter()
        .map(PathBuf::as_path)
        .chain(self.outputs.iter().map(|(_, dir)| dir.as_path()))
        .chain([log_dir])
        .collect();
        // A parent sorts before its children (paths compare by component).
        folders.sort_unstable();
        folders.dedup();
        for dir in folders {
            make_dir(dir).map_err(|e| format!("cannot create folder `{}`: {e}", dir.display()))?;
        }
        Ok(())
    }
}

/// One `mkdir` when the parent exists (the usual case, in parent-first
/// order); `create_dir_all` when it does not.
fn make_dir(dir: &Path) -> std::io::Result<()> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir),
        Err(e) => Err(e),
    }
}

fn absolute(path: &Path) -> Result<PathBuf, String> {
    std::path::absolute(path).map_err(|e| format!("cannot make `{}` absolute: {e}", path.display()))
}
