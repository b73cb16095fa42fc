//! `wharf logs`: the log file of one attempt of one step, printed as it is
//! (bytes, not necessarily UTF-8); with `--follow`, printed as it grows
//! until the state store says the attempt is no longer running.

use super::state::StateDb;
use crate::Outcome;
use crate::cli::LogsArgs;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;
use wharf_compiler::suggest::did_you_mean;
use wharf_runtime::state::{AttemptRecord, RunRecord, StepStatus};

/// How often `--follow` looks at the log file and the state store.
const POLL: Duration = Duration::from_millis(200);

pub fn run(args: LogsArgs) -> anyhow::Result<Outcome> {
    let db = StateDb::open_required()?;
    let run = db.find_run(&args.run)?;
    let attempts = db.attempts(&run.id, &args.step)?;
    if attempts.is_empty() {
        return Err(no_attempts(&db, &run, &args.step)?);
    }
    let attempt = match args.attempt {
        None => attempts.last(),
        Some(n) => attempts.iter().find(|a| a.attempt == n),
    };
    let Some(attempt) = attempt else {
        let numbers: Vec<String> = attempts.iter().map(|a| a.attempt.to_string()).collect();
        anyhow::bail!(
            "step `{}` of run {} has no attempt {}\n  = help: its attempts are {}",
            args.step,
            run.id,
            args.attempt.unwrap_or_default(),
            numbers.join(", ")
        );
    };
    let Some(log) = attempt.log_path.as_deref() else {
        anyhow::bail!(
            "attempt {} of `{}` in run {} recorded no log file",
            attempt.attempt,
            args.step,
            run.id
        );
    };
    let result = if args.follow {
        follow(&db, attempt, Path::new(log))
    } else {
        print_once(attempt, Path::new(log))
    };
    match result {
        // The reader went away (`wharf logs ... | head`): nothing is wrong.
        Err(e)
            if e.downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) =>
        {
            Ok(Outcome::Success)
        }
        other => other,
    }
}

/// Why a step has no attempt to show: it does not exist, or it never ran.
fn no_attempts(db: &StateDb, run: &RunRecord, step: &str) -> anyhow::Result<anyhow::Error> {
    let steps = db.step_records(&run.id)?;
    let Some(record) = steps.iter().find(|s| s.step == step) else {
        let names: Vec<&str> = steps.iter().map(|s| s.step.as_str()).collect();
        let hint = match did_you_mean(step, names.iter().copied()) {
            Some(hint) => hint,
            None if names.is_empty() => "it recorded no steps".to_string(),
            None => format!("its steps are {}", names.join(", ")),
        };
        return Ok(anyhow::anyhow!("run {} has no step `{step}`\n  = help: {hint}", run.id));
    };
    let why = record.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
    Ok(anyhow::anyhow!(
        "step `{step}` of run {} has no log: it was {}{why} and never started",
        run.id,
        record.status.as_str()
    ))
}

fn print_once(attempt: &AttemptRecord, log: &Path) -> anyhow::Result<Outcome> {
    match File::open(log) {
        Ok(mut file) => {
            let mut out = io::stdout().lock();
            io::copy(&mut file, &mut out)?;
            out.flush()?;
            Ok(Outcome::Success)
        }
        // A running attempt may not have written anything yet.
        Err(e) if e.kind() == io::ErrorKind::NotFound && attempt.status == StepStatus::Running => Ok(Outcome::Success),
        Err(e) => Err(missing_log(attempt, log, &e)),
    }
}

/// Prints the log as it grows. The attempt's status is read before each
/// look at the file, so the look after the status changed still prints
/// everything written before it.
fn follow(db: &StateDb, attempt: &AttemptRecord, log: &Path) -> anyhow::Result<Outcome> {
    let mut out = io::stdout().lock();
    let mut offset = 0;
    let mut current = attempt.clone();
    loop {
        let latest = db
            .attempts(&attempt.run, &attempt.step)?
            .into_iter()
            .find(|a| a.attempt == attempt.attempt);
        if let Some(latest) = latest {
            current = latest;
        }
        let running = current.status == StepStatus::Running;
        match copy_new(log, offset, &mut out) {
            Ok(end) => offset = end,
            Err(e) if e.kind() == io::ErrorKind::NotFound && running => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(missing_log(&current, log, &e)),
            Err(e) => return Err(e.into()),
        }
        if !running {
            break;
        }
        std::thread::sleep(POLL);
    }
    let why = current.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
    eprintln!(
        "attempt {} of `{}` {}{why}",
        current.attempt,
        current.step,
        current.status.as_str()
    );
    Ok(Outcome::Success)
}

/// Copies what the file holds past `offset` and returns where it ends now.
/// A file that shrank (rewritten) is printed again from its start.
fn copy_new(log: &Path, offset: u64, out: &mut impl Write) -> io::Result<u64> {
    let mut file = File::open(log)?;
    let len = file.metadata()?.len();
    let start = if len < offset { 0 } else { offset };
    file.seek(SeekFrom::Start(start))?;
    let copied = io::copy(&mut file, out)?;
    out.flush()?;
    Ok(start + copied)
}

fn missing_log(attempt: &AttemptRecord, log: &Path, e: &io::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "cannot read the log of attempt {} of `{}` at {}: {e}\n  = help: the file may have been removed; `wharf show` still has the attempt's status and error",
        attempt.attempt,
        attempt.step,
        log.display()
    )
}
