//! What `wharf run` reports for machines: the run document of
//! `--format json` (docs/run-json.md, version 1) and the JUnit XML of
//! `--junit FILE`. Both are built from the same records `wharf show` reads,
//! after the run has ended; gathering what is not in the records (the tail
//! of a log, a SageMaker job's record, an endpoint's URL) is `Extras`'s job,
//! filled in by the command.

use super::history::StepHistory;
use super::time;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;
use wharf_runtime::state::{RunRecord, StepStatus};

/// The schema version of the run document. Adding a field keeps it;
/// renaming, removing or changing the meaning of one bumps it.
pub const RUN_JSON_VERSION: u32 = 1;

/// How many lines of a failed step's log a JUnit failure carries.
pub const LOG_TAIL_LINES: usize = 40;

/// What the command adds per step to the state's records.
#[derive(Debug, Default, Clone)]
pub struct Extras {
    /// Per step name: its SageMaker jobs, one per attempt that made one.
    pub jobs: BTreeMap<String, Vec<Value>>,
    /// Per step name: the URL its endpoint answers on.
    pub endpoints: BTreeMap<String, String>,
    /// Per `step.output`: where it was exported to.
    pub exports: BTreeMap<String, String>,
    /// Per step name: the last lines of its last attempt's log (failed steps).
    pub log_tails: BTreeMap<String, String>,
    /// Per step name: the metrics it reported, by name.
    pub metrics: BTreeMap<String, BTreeMap<String, Value>>,
    /// The run's own folder, when a step of it wrote there.
    pub run_dir: Option<String>,
}

#[derive(Serialize)]
struct RunDoc<'a> {
    version: u32,
    run: RunPart<'a>,
    counts: BTreeMap<&'static str, usize>,
    steps: Vec<StepDoc<'a>>,
}

#[derive(Serialize)]
struct RunPart<'a> {
    id: &'a str,
    pipeline: &'a str,
    file: &'a str,
    target: &'a str,
    params: &'a Value,
    status: &'static str,
    exit_code: u8,
    started_ms: i64,
    finished_ms: Option<i64>,
    duration_ms: Option<u128>,
    state_dir: String,
    outputs_dir: Option<&'a str>,
}

#[derive(Serialize)]
struct StepDoc<'a> {
    name: &'a str,
    kind: &'a str,
    backend: &'a str,
    status: &'static str,
    /// The run whose outputs a cached step reused.
    cached_from: Option<String>,
    reason: Option<&'a str>,
    cache_key: Option<&'a str>,
    started_ms: Option<i64>,
    finished_ms: Option<i64>,
    duration_ms: Option<u128>,
    /// The last attempt's exit code.
    exit_code: Option<i32>,
    attempts: Vec<AttemptDoc<'a>>,
    outputs: Vec<OutputDoc<'a>>,
    sagemaker_jobs: &'a [Value],
    endpoint_url: Option<&'a str>,
    metrics: Option<&'a BTreeMap<String, Value>>,
}

#[derive(Serialize)]
struct AttemptDoc<'a> {
    attempt: u32,
    status: &'static str,
    exit_code: Option<i32>,
    error: Option<&'a str>,
    started_ms: i64,
    finished_ms: Option<i64>,
    duration_ms: Option<u128>,
    log: Option<&'a str>,
    handle: Option<&'a str>,
}

#[derive(Serialize)]
struct OutputDoc<'a> {
    name: &'a str,
    /// Where its data is: the file of a `file()` output, else the folder.
    uri: String,
    folder: &'a str,
    size: u64,
    hash: &'a str,
    exported_to: Option<&'a str>,
}

/// The run's exit code, as docs/cli.md gives it for `wharf run`.
pub fn exit_code(run: &RunRecord) -> u8 {
    use wharf_runtime::state::RunStatus;
    match run.status {
        RunStatus::Succeeded => 0,
        RunStatus::Cancelled => 130,
        _ => 1,
    }
}

/// The run document of `wharf run --format json`.
pub fn run_json(run: &RunRecord, steps: &[StepHistory], extras: &Extras, state_dir: &str) -> Value {
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for status in ["succeeded", "cached", "failed", "skipped", "cancelled"] {
        counts.insert(status, 0);
    }
    for s in steps {
        *counts.entry(s.record.status.as_str()).or_default() += 1;
    }
    let steps = steps
        .iter()
        .map(|s| {
            let name = s.record.step.as_str();
            StepDoc {
                name,
                kind: &s.record.kind,
                backend: &s.record.backend,
                status: s.record.status.as_str(),
                cached_from: cached_from(s),
                reason: s.reason(),
                cache_key: s.record.cache_key.as_deref(),
                started_ms: s.record.started_ms,
                finished_ms: s.record.finished_ms,
                duration_ms: time::between(s.record.started_ms, s.record.finished_ms).map(|d| d.as_millis()),
                exit_code: s.attempts.last().and_then(|a| a.exit_code),
                attempts: s
                    .attempts
                    .iter()
                    .map(|a| AttemptDoc {
                        attempt: a.attempt,
                        status: a.status.as_str(),
                        exit_code: a.exit_code,
                        error: a.error.as_deref(),
                        started_ms: a.started_ms,
                        finished_ms: a.finished_ms,
                        duration_ms: time::between(Some(a.started_ms), a.finished_ms).map(|d| d.as_millis()),
                        log: a.log_path.as_deref(),
                        handle: a.handle.as_deref(),
                    })
                    .collect(),
                outputs: s
                    .artifacts
                    .iter()
                    .map(|a| OutputDoc {
                        name: &a.output,
                        uri: a.file_uri(),
                        folder: &a.uri,
                        size: a.size,
                        hash: &a.hash,
                        exported_to: extras
                            .exports
                            .get(&format!("{}.{}", a.step, a.output))
                            .map(String::as_str),
                    })
                    .collect(),
                sagemaker_jobs: extras.jobs.get(name).map_or(&[], Vec::as_slice),
                endpoint_url: extras.endpoints.get(name).map(String::as_str),
                metrics: extras.metrics.get(name),
            }
        })
        .collect();
    let doc = RunDoc {
        version: RUN_JSON_VERSION,
        run: RunPart {
            id: &run.id,
            pipeline: &run.pipeline,
            file: &run.file,
            target: &run.target,
            params: &run.params,
            status: run.status.as_str(),
            exit_code: exit_code(run),
            started_ms: run.started_ms,
            finished_ms: run.finished_ms,
            duration_ms: time::between(Some(run.started_ms), run.finished_ms).map(|d| d.as_millis()),
            state_dir: state_dir.to_string(),
            outputs_dir: extras.run_dir.as_deref(),
        },
        counts,
        steps,
    };
    serde_json::to_value(doc).unwrap_or(Value::Null)
}

/// The document `wharf run --format json` prints when no run started (a
/// pipeline that does not compile, a plan refused): exit code 2 and why.
pub fn refused_json(file: &str, errors: &[String]) -> Value {
    serde_json::json!({
        "version": RUN_JSON_VERSION,
        "run": null,
        "file": file,
        "exit_code": 2,
        "errors": errors,
    })
}

/// The JUnit report of a run that never started (exit 2): one test case,
/// the pipeline file, in error with why; so that a CI job that uploads the
/// report shows the failure instead of a missing file.
pub fn refused_junit(file: &str, errors: &[String]) -> String {
    let message = errors.first().map_or("the run did not start", String::as_str);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"wharf\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" time=\"0\">\n  <testsuite name=\"{file}\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" time=\"0\">\n    <testcase name=\"{file}\" classname=\"wharf.run\" time=\"0\">\n      <error message=\"{}\" type=\"RunNotStarted\">{}</error>\n    </testcase>\n  </testsuite>\n</testsuites>\n",
        xml_attr(&first_line(message)),
        xml_text(&format!(
            "{}\n\nsee the job's log for the diagnostics",
            errors.join("\n")
        )),
        file = xml_attr(file),
    )
}

/// The run that made a cached step's outputs (this run's id when another
/// step of it did the same work).
fn cached_from(step: &StepHistory) -> Option<String> {
    if step.record.status != StepStatus::Cached {
        return None;
    }
    let reason = step.record.reason.as_deref()?;
    wharf_runtime::scheduler::cached_source(reason, &step.record.run, &step.record.step).map(|(run, _)| run)
}

/// The JUnit XML report: one `<testsuite>` for the run, one `<testcase>`
/// per step (`classname` the pipeline and the step's kind). A failed step
/// is a `<failure>` with its reason and the last lines of its log; one
/// stopped while it ran (Ctrl-C) an `<error>`; a skipped, cached or
/// unselected one, or one that never started because another failed,
/// `<skipped>` with why (a cached step did not run this
/// time: its message names the run it came from). Times in seconds.
pub fn junit(run: &RunRecord, steps: &[StepHistory], extras: &Extras) -> String {
    let failures = steps.iter().filter(|s| junit_kind(s) == JunitKind::Failure).count();
    let errors = steps.iter().filter(|s| junit_kind(s) == JunitKind::Error).count();
    let skipped = steps.iter().filter(|s| junit_kind(s) == JunitKind::Skipped).count();
    let seconds = |start: Option<i64>, end: Option<i64>| {
        time::between(start, end).map_or_else(|| "0".to_string(), |d| format!("{:.3}", d.as_secs_f64()))
    };
    let total = seconds(Some(run.started_ms), run.finished_ms);
    let timestamp = chrono::DateTime::from_timestamp_millis(run.started_ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default();
    let suite = format!("{} ({})", run.pipeline, run.target);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"wharf\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{total}\">",
        steps.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{total}\" timestamp=\"{timestamp}\">",
        xml_attr(&suite),
        steps.len()
    );
    out.push_str("    <properties>\n");
    for (name, value) in [
        ("wharf.run", run.id.as_str()),
        ("wharf.pipeline", run.pipeline.as_str()),
        ("wharf.file", run.file.as_str()),
        ("wharf.target", run.target.as_str()),
        ("wharf.status", run.status.as_str()),
    ] {
        let _ = writeln!(out, "      <property name=\"{name}\" value=\"{}\"/>", xml_attr(value));
    }
    let _ = writeln!(
        out,
        "      <property name=\"wharf.params\" value=\"{}\"/>",
        xml_attr(&run.params.to_string())
    );
    out.push_str("    </properties>\n");
    for s in steps {
        let name = &s.record.step;
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
            xml_attr(name),
            xml_attr(&format!("{}.{}", run.pipeline, s.record.kind)),
            seconds(s.record.started_ms, s.record.finished_ms)
        );
        let reason = s.reason().unwrap_or("");
        let attempts = s.attempts.len();
        let not_started = s.record.status == StepStatus::Cancelled && s.attempts.is_empty();
        let body = match s.record.status {
            StepStatus::Succeeded => None,
            StepStatus::Cancelled if not_started => {
                Some(skipped_element(if reason.is_empty() { "not started" } else { reason }))
            }
            StepStatus::Failed => {
                let message = if reason.is_empty() { "failed" } else { reason };
                let mut text = format!(
                    "step {name} failed on {} after {attempts} attempt{}",
                    s.record.backend,
                    if attempts == 1 { "" } else { "s" }
                );
                if let Some(code) = s.attempts.last().and_then(|a| a.exit_code) {
                    let _ = write!(text, " (exit code {code})");
                }
                if !reason.is_empty() {
                    let _ = write!(text, ": {reason}");
                }
                if let Some(tail) = extras.log_tails.get(name.as_str()) {
                    let _ = write!(text, "\n\nlast lines of its log:\n{tail}");
                }
                Some(format!(
                    "      <failure message=\"{}\" type=\"StepFailed\">{}</failure>\n",
                    xml_attr(&first_line(message)),
                    xml_text(&text)
                ))
            }
            StepStatus::Cancelled | StepStatus::Running | StepStatus::Pending => {
                let message = match s.record.status {
                    StepStatus::Cancelled => "cancelled",
                    _ => "did not finish",
                };
                let text = if reason.is_empty() || reason == message {
                    message.to_string()
                } else {
                    format!("{message}: {reason}")
                };
                Some(format!(
                    "      <error message=\"{}\" type=\"StepNotFinished\"/>\n",
                    xml_attr(&first_line(&text))
                ))
            }
            StepStatus::Cached => {
                let text = match cached_from(s) {
                    Some(from) => format!("cached: outputs of run {from}"),
                    None => "cached".to_string(),
                };
                Some(skipped_element(&text))
            }
            StepStatus::Skipped | StepStatus::NotSelected => {
                let what = s.record.status.as_str();
                let text = if reason.is_empty() {
                    what.to_string()
                } else {
                    format!("{what}: {reason}")
                };
                Some(skipped_element(&text))
            }
        };
        match body {
            None => out.push_str("/>\n"),
            Some(body) => {
                out.push_str(">\n");
                out.push_str(&body);
                out.push_str("    </testcase>\n");
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[derive(PartialEq, Eq)]
enum JunitKind {
    Passed,
    Failure,
    Error,
    Skipped,
}

/// How a step reads in JUnit: a step that never started because another
/// failed (cancelled with no attempt) is skipped, not a second error.
fn junit_kind(step: &StepHistory) -> JunitKind {
    match step.record.status {
        StepStatus::Succeeded => JunitKind::Passed,
        StepStatus::Failed => JunitKind::Failure,
        StepStatus::Cancelled if step.attempts.is_empty() => JunitKind::Skipped,
        StepStatus::Cancelled | StepStatus::Running | StepStatus::Pending => JunitKind::Error,
        StepStatus::Skipped | StepStatus::Cached | StepStatus::NotSelected => JunitKind::Skipped,
    }
}

/// A `<skipped>` element saying why, on one line.
fn skipped_element(why: &str) -> String {
    format!("      <skipped message=\"{}\"/>\n", xml_attr(&first_line(why)))
}

/// The first line of a message, for an attribute (readers show attributes
/// on one line; the whole text is the element's content).
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_string()
}

/// Text as XML 1.0 character data: markup escaped, escape sequences (a
/// coloured log) removed, and the characters XML cannot hold at all (most
/// control characters) replaced, so that any log makes a valid document.
pub fn xml_text(text: &str) -> String {
    let plain = console::strip_ansi_codes(text);
    let mut out = String::with_capacity(plain.len());
    for c in plain.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' | '\n' => out.push(c),
            '\r' => out.push_str("&#13;"),
            c if xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// Text as an attribute value between double quotes.
pub fn xml_attr(text: &str) -> String {
    let mut out = String::new();
    for c in xml_text(text).chars() {
        match c {
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

/// The characters XML 1.0 allows (its `Char` production), less the ones
/// handled above.
fn xml_char(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_text_becomes_valid_xml() {
        assert_eq!(xml_text("a < b && c > d"), "a &lt; b &amp;&amp; c &gt; d");
        assert_eq!(xml_text("\u{1b}[31mred\u{1b}[0m"), "red");
        assert_eq!(xml_text("nul\u{0}bell\u{7}"), "nul\u{FFFD}bell\u{FFFD}");
        assert_eq!(xml_attr("say \"hi\"\nthen go"), "say &quot;hi&quot;&#10;then go");
        assert_eq!(xml_text("line\r\n"), "line&#13;\n");
    }
}
