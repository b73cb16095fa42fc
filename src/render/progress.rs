//! What `wharf run` shows while it runs, and the table it ends with.
//!
//! [`ProgressSink`] receives the runtime's [`RunEvent`]s in one of two modes
//! chosen when it is made: on a terminal a live view (indicatif: one spinner
//! line per running step with its latest log line, an overall bar at the
//! bottom, step output and status lines printed above the bars); elsewhere,
//! as in CI, plain timestamped lines that read well in a log. [`summary`]
//! renders the end-of-run table from the recorded steps.
//!
//! While the live view draws, nothing else may write to stderr: a line
//! written past indicatif moves the cursor and leaves a stale copy of the
//! bars behind.

use super::history::{self, StepHistory};
use super::time;
use crate::clock::{Clock, SystemClock};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Mutex, MutexGuard};
use wharf_runtime::events::{EventSink, RunEvent};
use wharf_runtime::state::{RunRecord, StepStatus};

pub struct ProgressSink {
    mode: Mode,
}

enum Mode {
    Live(Live),
    Plain(Plain),
}

impl ProgressSink {
    /// Progress on stderr: live on a terminal, plain lines otherwise, and
    /// also under `TERM=dumb` or `CI` (CI systems that give a job a
    /// terminal keep every redraw in the job's log).
    pub fn stderr() -> ProgressSink {
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
        if std::io::stderr().is_terminal() && !dumb && !ci {
            ProgressSink::live(ProgressDrawTarget::stderr())
        } else {
            ProgressSink::plain(Box::new(std::io::stderr()), Box::new(SystemClock))
        }
    }

    /// The live view, drawn on `target`.
    pub fn live(target: ProgressDrawTarget) -> ProgressSink {
        let multi = MultiProgress::with_draw_target(target);
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(style("[{bar:30}] {pos}/{len} done, {elapsed}"));
        ProgressSink {
            mode: Mode::Live(Live {
                multi,
                overall,
                running: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Plain lines, each starting with the local time `clock` gives.
    pub fn plain(out: Box<dyn Write + Send>, clock: Box<dyn Clock>) -> ProgressSink {
        ProgressSink {
            mode: Mode::Plain(Plain {
                out: Mutex::new(out),
                clock,
            }),
        }
    }
}

impl EventSink for ProgressSink {
    fn event(&self, event: RunEvent) {
        match &self.mode {
            Mode::Live(live) => live.event(&event),
            Mode::Plain(plain) => plain.event(&event),
        }
    }
}

/// The line an event prints, without a timestamp.
fn status_line(event: &RunEvent) -> String {
    match event {
        RunEvent::RunStarted {
            run,
            pipeline,
            target,
            steps,
        } => format!("run {run}: pipeline {pipeline} on target {target}, {steps} steps"),
        RunEvent::StepStarted { step, attempt, backend } if *attempt > 1 => {
            format!("▶ {step} started (attempt {attempt}, {backend})")
        }
        RunEvent::StepStarted { step, backend, .. } => format!("▶ {step} started ({backend})"),
        RunEvent::StepLog { step, line, .. } => format!("{step} | {line}"),
        RunEvent::StepRetrying {
            step, delay, reason, ..
        } => format!("↻ {step} retrying in {}: {reason}", time::duration(*delay)),
        RunEvent::StepFinished {
            step,
            status,
            duration,
            reason,
        } => {
            let because = reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
            match status {
                StepStatus::Succeeded => format!("✓ {step} succeeded in {}", time::duration(*duration)),
                StepStatus::Failed => format!("✗ {step} failed{because}"),
                StepStatus::Skipped => format!("↷ {step} skipped{because}"),
                StepStatus::Cached => format!("= {step} cached{because}"),
                StepStatus::Cancelled => format!("⊘ {step} cancelled{because}"),
                StepStatus::NotSelected => format!("- {step} not selected{because}"),
                StepStatus::Pending | StepStatus::Running => format!("· {step} {}{because}", status.as_str()),
            }
        }
        RunEvent::RunFinished { run, status, duration } => {
            format!("run {run} {} in {}", status.as_str(), time::duration(*duration))
        }
    }
}

struct Plain {
    out: Mutex<Box<dyn Write + Send>>,
    clock: Box<dyn Clock>,
}

impl Plain {
    fn event(&self, event: &RunEvent) {
        let line = status_line(event);
        let now = self.clock.now().format("%H:%M:%S");
        let mut out = lock(&self.out);
        // Progress is best effort: a closed stderr must not stop the run.
        let _ = writeln!(out, "{now} {line}");
        let _ = out.flush();
    }
}

struct Live {
    multi: MultiProgress,
    /// Steps done (any way) out of all; always the bottom line.
    overall: ProgressBar,
    /// One spinner per running step.
    running: Mutex<HashMap<String, ProgressBar>>,
}

impl Live {
    fn event(&self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted { steps, .. } => {
                self.overall.set_length(*steps as u64);
                self.print(event);
            }
            RunEvent::StepStarted { step, attempt, .. } => {
                let mut running = lock(&self.running);
                let bar = running.entry(step.clone()).or_insert_with(|| {
                    let bar = self.multi.insert_before(&self.overall, ProgressBar::new_spinner());
                    bar.set_style(style("{spinner} {prefix} {wide_msg}"));
                    bar.set_prefix(step.clone());
                    bar.enable_steady_tick(std::time::Duration::from_millis(120));
                    bar
                });
                bar.set_message(if *attempt > 1 {
                    format!("attempt {attempt}")
                } else {
                    String::new()
                });
            }
            RunEvent::StepLog { step, line, .. } => {
                if let Some(bar) = lock(&self.running).get(step) {
                    bar.set_message(latest_text(line));
                }
                self.print(event);
            }
            RunEvent::StepRetrying { step, delay, .. } => {
                if let Some(bar) = lock(&self.running).get(step) {
                    bar.set_message(format!("retrying in {}", time::duration(*delay)));
                }
                self.print(event);
            }
            RunEvent::StepFinished { step, .. } => {
                if let Some(bar) = lock(&self.running).remove(step) {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
                self.overall.inc(1);
                self.print(event);
            }
            RunEvent::RunFinished { .. } => {
                for (_, bar) in lock(&self.running).drain() {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
                self.overall.finish_and_clear();
            }
        }
    }

    fn print(&self, event: &RunEvent) {
        let width = usize::from(console::Term::stderr().size().1);
        let _ = self.multi.println(fit_width(&status_line(event), width).join("\n"));
    }

    #[cfg(test)]
    fn running_steps(&self) -> Vec<String> {
        let mut names: Vec<String> = lock(&self.running).keys().cloned().collect();
        names.sort();
        names
    }
}

/// What a spinner line shows of a log line: what a terminal would show last
/// (after any carriage return, as progress bars of tools write), no escapes.
fn latest_text(line: &str) -> String {
    let last = line.trim_end_matches('\r').rsplit('\r').next().unwrap_or_default();
    console::strip_ansi_codes(last)
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

/// A line printed above the bars, cut into pieces that each fit the
/// terminal: a line the terminal wraps itself throws off indicatif's count of
/// rows and leaves pieces of the bars behind. Escape codes are dropped for the
/// same reason, and tabs become spaces. One pass over the characters, so a
/// log line of megabytes costs its length, not its length squared.
fn fit_width(line: &str, width: usize) -> Vec<String> {
    let clean: String = console::strip_ansi_codes(line)
        .replace('\t', "    ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let width = width.max(1);
    let mut pieces = Vec::new();
    let mut piece = String::new();
    let mut used = 0;
    let mut buffer = [0u8; 4];
    for c in clean.chars() {
        let columns = console::measure_text_width(c.encode_utf8(&mut buffer));
        // A character wider than the whole terminal gets a row of its own.
        if used + columns > width && !piece.is_empty() {
            pieces.push(std::mem::take(&mut piece));
            used = 0;
        }
        piece.push(c);
        used += columns;
    }
    if !piece.is_empty() || pieces.is_empty() {
        pieces.push(piece);
    }
    pieces
}

fn style(template: &str) -> ProgressStyle {
    // The templates are constants of this file; a bad one falls back to the default style.
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// A poisoned lock still guards valid data here (a map of bars, a writer).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where a finished run's outputs are, for the lines under its summary table.
#[derive(Debug, Default, Clone)]
pub struct Whereabouts {
    /// The run's own folder (`.wharf/runs/<run>/`), when a step wrote there.
    pub run_dir: Option<String>,
    /// (`step.output`, destination) of every output copied out of `.wharf/`.
    pub exports: Vec<(String, String)>,
    /// (step, URL) of every endpoint the run deployed or kept.
    pub endpoints: Vec<(String, String)>,
}

/// The end-of-run report: one row per step (status, duration, attempts,
/// reason) in the order given (the pipeline's), then where the outputs are
/// (the run's folder, exports, endpoints), then `run ID STATUS in 3.4s: 4
/// succeeded, 1 cached, 0 failed` (skipped, cancelled and unfinished steps
/// are counted when there are any).
pub fn summary(run: &RunRecord, steps: &[StepHistory], whereabouts: &Whereabouts) -> String {
    let mut out = history::steps_table(steps);
    let mut places = Vec::new();
    if let Some(dir) = &whereabouts.run_dir {
        places.push(("outputs", format!("{dir} (`wharf show {}` lists each)", run.id)));
    }
    for (output, to) in &whereabouts.exports {
        places.push(("exported", format!("{output} -> {to}")));
    }
    for (step, url) in &whereabouts.endpoints {
        places.push(("endpoint", format!("{step}: {url}")));
    }
    if !places.is_empty() {
        out.push('\n');
        for (key, value) in places {
            out.push_str(&format!("{key:<10}{value}\n"));
        }
    }
    let count = |status: StepStatus| steps.iter().filter(|s| s.record.status == status).count();
    let mut counts = vec![
        format!("{} succeeded", count(StepStatus::Succeeded)),
        format!("{} cached", count(StepStatus::Cached)),
        format!("{} failed", count(StepStatus::Failed)),
    ];
    for status in [
        StepStatus::Skipped,
        StepStatus::Cancelled,
        StepStatus::NotSelected,
        StepStatus::Pending,
        StepStatus::Running,
    ] {
        let n = count(status);
        if n > 0 {
            counts.push(format!("{n} {}", status.as_str()));
        }
    }
    let took = time::between(Some(run.started_ms), run.finished_ms)
        .map(|d| format!(" in {}", time::duration(d)))
        .unwrap_or_default();
    out.push_str(&format!(
        "\nrun {} {}{took}: {}\n",
        run.id,
        run.status.as_str(),
        counts.join(", ")
    ));
    out
}

#[cfg(test)]
#[path = "progress_tests.rs"]
mod tests;
