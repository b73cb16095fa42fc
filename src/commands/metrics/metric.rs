//! One row of `wharf metrics`: a value a step produced, where it was read
//! and, for a cached step, which run made it. A source that could not be
//! read at all (a malformed file, a missing log) is a row too, with no
//! metric name and the reason, so that nothing goes missing silently.

use serde_json::Value;

/// The source of a train step's `metrics { NAME = "regex" }`: its log.
pub const LOG: &str = "log";

#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// The step instance (`fit-eu`).
    pub step: String,
    /// The file's name (`metrics.json`), or [`LOG`].
    pub source: String,
    /// The flattened key (`scores.auc`, `per_class[0]`) or the train
    /// metric's name; `None` when the whole source could not be read.
    pub metric: Option<String>,
    /// A number, a boolean or a string; or why it could not be read.
    pub value: Result<Value, String>,
    /// For a cached step, the run that made the outputs and the log it was read from.
    pub from_run: Option<String>,
}
