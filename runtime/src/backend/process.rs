//! The process backend: each attempt runs its command (program and
//! arguments, no shell) as a local process. It needs nothing installed and
//! isolates nothing; it is for development and for steps that need no image.
//!
//! **Where it runs.** The current directory is the project folder given to
//! [`ProcessBackend::new`], so `python train.py` and `./scripts/prep.sh` mean
//! what they mean in the user's shell there. A program given as a relative
//! path (with a `/`) is found in the project folder; a bare name is looked up
//! on `PATH`. Input and output paths are absolute, so they work from
//! anywhere.
//!
//! **Its environment.** Wharf's own environment (`PATH`, `HOME`, ...), minus
//! inherited `WHARF_INPUT_*`, `WHARF_OUTPUT_*` and `SM_*`, plus the
//! attempt's `env`, plus the variables below (which win). `<NAME>` is the
//! name upper-cased, and for `WHARF_*` also with `-` and `.` turned into `_`;
//! `SM_*` names keep them, as the SageMaker training toolkit does (the
//! toolkit sets all `SM_*` variables in a container; a process has no
//! toolkit, so this backend sets them itself). `<work>` is the attempt's
//! work folder.
//!
//! | Variable | Value |
//! |---|---|
//! | `WHARF_RUN`, `WHARF_STEP`, `WHARF_ATTEMPT` | run id, step name, attempt number (1, 2, ...) |
//! | `WHARF_INPUT_<NAME>` | the input's file or folder |
//! | `WHARF_OUTPUT_<NAME>` | the output's folder, `<work>/outputs/<name>`, created empty |
//! | `SM_CHANNELS` | sorted JSON list of the input names |
//! | `SM_CHANNEL_<NAME>` | the input's file or folder (SageMaker: `/opt/ml/input/data/<name>`) |
//! | `SM_HPS` | JSON object of the hyperparameters, each JSON-decoded if it parses |
//! | `SM_HP_<NAME>` | one hyperparameter: a string as it is, anything else as JSON |
//! | `SM_FRAMEWORK_PARAMS` | JSON object of the `sagemaker_*` hyperparameters the toolkit does not know |
//! | `SM_CURRENT_HOST`, `SM_HOSTS` | `algo-1`, `["algo-1"]` |
//! | `SM_NUM_CPUS` | the step's `cpus` rounded up, else this machine's |
//! | `SM_NUM_GPUS` | the step's `gpus`, else 0 |
//! | `SM_INPUT_DIR` | `<work>/input` (`/opt/ml/input`) |
//! | `SM_INPUT_CONFIG_DIR` | `<work>/input/config` (`/opt/ml/input/config`) |
//! | `SM_OUTPUT_DIR` | `<work>/output` (`/opt/ml/output`) |
//! | `SM_OUTPUT_DATA_DIR` | `train`: the `output` output's folder; other kinds: `<work>/output/data` |
//! | `SM_MODEL_DIR` | `train`: the `model` output's folder; other kinds: `<work>/model` |
//! | `SM_RESOURCE_CONFIG`, `SM_INPUT_DATA_CONFIG` | `train` only: the two files below, as compact JSON |
//!
//! As in the toolkit, `SM_HPS` and `SM_HP_*` leave out hyperparameters that
//! start `sagemaker_` (and the toolkit's few others), and JSON values have
//! sorted keys and ASCII escapes. For `train` steps `<work>/input/config`
//! holds `hyperparameters.json` (every value a string),
//! `inputdataconfig.json` (every channel File mode, fully replicated) and
//! `resourceconfig.json` (one host, `algo-1`, on `lo`), as on SageMaker.
//! All the folders in the table exist before the step starts.
//!
//! **Output and stopping.** stdout and stderr go, line by line, to the
//! attempt's log file and to the event sink (see `logs`). The step runs in a
//! process group of its own (see `group`): when its process exits, the rest
//! of the group is killed, as when a container's main process exits; cancel
//! sends SIGTERM to the group and SIGKILL after the grace period; a handle
//! dropped before the end kills the group.

pub mod descriptor;
mod environment;
mod group;
mod handle;
mod layout;
mod programs;
mod toolkit;

#[cfg(test)]
mod tests;

use super::{Attempt, Backend, BoxFuture, Handle};
use crate::events::EventSink;
use environment::Environment;
use group::ProcessGroup;
use handle::ProcessHandle;
use layout::Layout;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::process::Command;

/// How long a cancelled step has between SIGTERM and SIGKILL by default.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(10);

pub struct ProcessBackend {
    project_dir: PathBuf,
    grace_period: Duration,
    /// Bare program names found on `PATH` (see `programs`).
    programs: programs::Programs,
}

impl ProcessBackend {
    /// Steps run with `project_dir` (the folder of the pipeline file, usually)
    /// as their current directory.
    pub fn new(project_dir: PathBuf) -> Self {
        ProcessBackend {
            project_dir,
            grace_period: DEFAULT_GRACE_PERIOD,
            programs: programs::Programs::default(),
        }
    }

    /// How long a cancelled step may take to stop after SIGTERM.
    pub fn with_grace_period(mut self, grace_period: Duration) -> Self {
        self.grace_period = grace_period;
        self
    }

    /// The project folder, absolute; a `stat`, made directly rather than
    /// through a hand-off to tokio's blocking pool.
    fn project_dir(&self) -> Result<PathBuf, String> {
        let missing = || format!("the project folder `{}` does not exist", self.project_dir.display());
        let dir = std::path::absolute(&self.project_dir).map_err(|_| missing())?;
        match std::fs::metadata(&dir) {
            Ok(metadata) if metadata.is_dir() => Ok(dir),
            Ok(_) => Err(format!(
                "the project folder `{}` is not a folder",
                self.project_dir.display()
            )),
            Err(_) => Err(missing()),
        }
    }

    async fn start(&self, mut attempt: Attempt, events: Arc<dyn EventSink>) -> Result<ProcessHandle, String> {
        // Through a link in an input, the step would get a writable path
        // outside its own folders: such inputs are staged (`backend::staging`).
        // Walking a tree may take long, so it goes to the blocking pool; a
        // step without inputs skips the hand-off.
        if !attempt.inputs.is_empty() {
            let (inputs, work_dir) = (attempt.inputs.clone(), attempt.work_dir.clone());
            attempt.inputs = tokio::task::spawn_blocking(move || {
                super::staging::stage_inputs(&inputs, &work_dir, super::staging::Stage::All)
            })
            .await
            .map_err(|e| e.to_string())??;
        }
        let Some((program, args)) = attempt.command.split_first() else {
            return Err(format!("step `{}` has no command to run", attempt.step));
        };
        let project_dir = self.project_dir()?;
        let layout = Layout::new(&attempt)?;
        layout.prepare()?;
        toolkit::write_config(&attempt, &layout).await?;
        let environment = Environment::new(&attempt, &layout)?;
        let log = super::logs::open(&layout.log_path).await?;

        let program_path = program_path(program, &project_dir);
        // The `PATH` the step gets: its own `env` may set one.
        let search_path = environment
            .set
            .get(std::ffi::OsStr::new("PATH"))
            .cloned()
            .or_else(|| std::env::var_os("PATH"));
        let found = search_path
            .as_deref()
            .and_then(|path| self.programs.find(program, path, &project_dir));
        let spawn = |at: &Path| {
            let mut command = Command::new(at);
            command
                // The name as written, as a search by the spawn would give it.
                .arg0(program)
                .args(args)
                .current_dir(&project_dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                // Until the handle exists to kill the group, at least the
                // leader must not outlive an error below.
                .kill_on_drop(true);
            for name in &environment.remove {
                command.env_remove(name);
            }
            command.envs(&environment.set);
            command.spawn()
        };
        let spawned = match (&found, &search_path) {
            // Gone since it was found: searched for again, by the spawn.
            (Some(at), Some(path)) => spawn(at).or_else(|_| {
                self.programs.forget(program, path);
                spawn(&program_path)
            }),
            _ => spawn(&program_path),
        };
        let mut child = spawned.map_err(|e| spawn_error(program, &program_path, &e))?;

        let group = child.id().and_then(ProcessGroup::led_by);
        let (Some(group), Some(stdout), Some(stderr)) = (group, child.stdout.take(), child.stderr.take()) else {
            return Err(format!(
                "cannot start `{program}`: it has no process id or output pipes"
            ));
        };
        let tail = super::logs::Tail::default();
        let logs = super::logs::start(
            (stdout, stderr),
            log,
            layout.log_path.clone(),
            attempt.step.clone(),
            events.clone(),
            tail.clone(),
            attempt.masker(),
        );
        Ok(ProcessHandle {
            child,
            group,
            grace: self.grace_period,
            step: attempt.step,
            events,
            logs: Some(logs),
            tail,
            exit: None,
            cancelled: false,
            finish: None,
        })
    }
}

impl Backend for ProcessBackend {
    fn name(&self) -> &'static str {
        "process"
    }

    /// This machine can always run processes; the one thing that can be
    /// missing is the folder they run in.
    fn health_check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.project_dir().map(|_| ()) })
    }

    fn submit(&self, attempt: Attempt, events: Arc<dyn EventSink>) -> BoxFuture<'_, Result<Box<dyn Handle>, String>> {
        Box::pin(async move {
            let handle = self.start(attempt, events).await?;
            Ok(Box::new(handle) as Box<dyn Handle>)
        })
    }

    /// Kills the process group a killed wharf left behind (`pid N` is its
    /// leader, and the group has the same id). A group that is gone, an id
    /// that does not parse, or a group none of whose processes belongs to
    /// `run` (the id was reused since) is left alone.
    fn abandon<'a>(&'a self, run: &'a str, handle: &'a str) -> BoxFuture<'a, ()> {
        let pid = handle.strip_prefix("pid ").and_then(|p| p.trim().parse::<u32>().ok());
        Box::pin(async move {
            if let Some(group) = pid.and_then(group::ProcessGroup::led_by)
                && group.exists()
                && group.belongs_to(run)
            {
                group.signal(libc::SIGKILL);
                let _ = group
                    .wait_until_gone(tokio::time::Instant::now() + std::time::Duration::from_secs(5))
                    .await;
            }
        })
    }
}

/// A relative path such as `./train.sh` is resolved here, against the
/// project folder, because whether the OS resolves it before or after
/// changing directory differs between platforms and spawn strategies.
fn program_path(program: &str, project_dir: &Path) -> PathBuf {
    let path = Path::new(program);
    if path.is_relative() && program.contains('/') {
        project_dir.join(path)
    } else {
        path.to_path_buf()
    }
}

fn spawn_error(program: &str, path: &Path, error: &std::io::Error) -> String {
    let is_path = program.contains('/');
    match error.kind() {
        // The kernel says ENOENT also when the file exists but its `#!`
        // interpreter does not.
        ErrorKind::NotFound if is_path && path.exists() => {
            format!("cannot start `{program}`: the interpreter on its `#!` line was not found")
        }
        ErrorKind::NotFound if is_path => {
            format!(
                "cannot start `{program}`: No such file or directory (looked for `{}`)",
                path.display()
            )
        }
        ErrorKind::NotFound => format!("cannot start `{program}`: No such file or directory (is it on PATH?)"),
        ErrorKind::PermissionDenied => format!("cannot start `{program}`: Permission denied (is it executable?)"),
        _ => format!("cannot start `{program}`: {error}"),
    }
}
