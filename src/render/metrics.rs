//! `wharf metrics` as text and JSON (docs/cli.md documents both). The
//! command collects the rows; this module only lays them out.
//!
//! JSON carries `"version": 1`: fields may be added, none renamed or
//! removed without a new version.

use super::table::Table;
use crate::commands::metrics::{Change, Metric};
use serde_json::{Map, Value, json};

/// Longest value or error shown in a table cell; JSON has the whole text.
const CELL_WIDTH: usize = 100;

/// The version of the JSON layout.
const VERSION: u32 = 1;

/// STEP, SOURCE, METRIC, VALUE, and CACHED FROM when a row comes from
/// another run's outputs (a cached step).
pub fn show_text(metrics: &[Metric]) -> String {
    let cached = metrics.iter().any(|m| m.from_run.is_some());
    let mut headers = vec!["STEP", "SOURCE", "METRIC", "VALUE"];
    if cached {
        headers.push("CACHED FROM");
    }
    let mut table = Table::new(&headers);
    for m in metrics {
        let mut row = vec![m.step.clone(), m.source.clone(), name(&m.metric), cell(&m.value)];
        if cached {
            row.push(m.from_run.clone().unwrap_or_default());
        }
        table.row(row);
    }
    table.render()
}

/// `{"version": 1, "run", "metrics": [{"step", "source", "metric", "value", "from_run"}]}`,
/// and `"error"` on a row whose value could not be read (`metric` null when
/// the whole source could not, `value` null).
pub fn show_json(run: &str, metrics: &[Metric]) -> Value {
    let rows: Vec<Value> = metrics
        .iter()
        .map(|m| {
            let mut row = Map::new();
            row.insert("step".into(), json!(m.step));
            row.insert("source".into(), json!(m.source));
            row.insert("metric".into(), json!(m.metric));
            row.insert("value".into(), m.value.clone().unwrap_or(Value::Null));
            row.insert("from_run".into(), json!(m.from_run));
            if let Err(e) = &m.value {
                row.insert("error".into(), json!(e));
            }
            Value::Object(row)
        })
        .collect();
    json!({ "version": VERSION, "run": run, "metrics": rows })
}

/// STEP, SOURCE, METRIC, OLD, NEW, CHANGE; `-` where a run has no such metric.
pub fn diff_text(changes: &[Change]) -> String {
    let mut table = Table::new(&["STEP", "SOURCE", "METRIC", "OLD", "NEW", "CHANGE"]);
    for c in changes {
        table.row(vec![
            c.step.clone(),
            c.source.clone(),
            name(&c.metric),
            side(&c.old),
            side(&c.new),
            c.delta().map_or_else(|| "-".to_string(), |d| d.text),
        ]);
    }
    table.render()
}

/// `{"version": 1, "old", "new", "metrics": [{"step", "source", "metric", "old", "new", "change"}]}`:
/// `old`/`new` null where a run has no such metric, `change` null unless
/// both are numbers; `old_error`/`new_error` on a side that could not be read.
pub fn diff_json(old: &str, new: &str, changes: &[Change]) -> Value {
    let rows: Vec<Value> = changes
        .iter()
        .map(|c| {
            let mut row = Map::new();
            row.insert("step".into(), json!(c.step));
            row.insert("source".into(), json!(c.source));
            row.insert("metric".into(), json!(c.metric));
            for (key, side) in [("old", &c.old), ("new", &c.new)] {
                row.insert(key.into(), side.clone().and_then(Result::ok).unwrap_or(Value::Null));
            }
            row.insert("change".into(), c.delta().map_or(Value::Null, |d| d.value));
            for (key, side) in [("old_error", &c.old), ("new_error", &c.new)] {
                if let Some(Err(e)) = side {
                    row.insert(key.into(), json!(e));
                }
            }
            Value::Object(row)
        })
        .collect();
    json!({ "version": VERSION, "old": old, "new": new, "metrics": rows })
}

fn name(metric: &Option<String>) -> String {
    metric.clone().unwrap_or_else(|| "-".to_string())
}

fn side(value: &Option<Result<Value, String>>) -> String {
    value.as_ref().map_or_else(|| "-".to_string(), cell)
}

/// A value as a person reads it: a string without its quotes, on one line.
fn cell(value: &Result<Value, String>) -> String {
    match value {
        Ok(Value::String(s)) => one_line(s),
        Ok(other) => other.to_string(),
        Err(e) => one_line(&format!("error: {e}")),
    }
}

fn one_line(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > CELL_WIDTH {
        format!("{}…", flat.chars().take(CELL_WIDTH - 1).collect::<String>())
    } else {
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(step: &str, metric: Option<&str>, value: Result<Value, String>, from_run: Option<&str>) -> Metric {
        Metric {
            step: step.into(),
            source: if step == "fit" { "log" } else { "metrics.json" }.into(),
            metric: metric.map(String::from),
            value,
            from_run: from_run.map(String::from),
        }
    }

    #[test]
    fn a_cached_row_adds_the_run_it_came_from() {
        let rows = [
            m("evaluate", Some("label"), Ok(json!("a\nb")), None),
            m("fit", Some("loss"), Ok(json!(0.25)), Some("20261124-090000-ffee")),
            m("other", None, Err("not valid JSON".into()), None),
        ];
        assert_eq!(
            show_text(&rows),
            "STEP      SOURCE        METRIC  VALUE                  CACHED FROM\n\
             evaluate  metrics.json  label   a b\n\
             fit       log           loss    0.25                   20261124-090000-ffee\n\
             other     metrics.json  -       error: not valid JSON\n"
        );
        assert_eq!(
            show_text(&rows[..1]),
            "STEP      SOURCE        METRIC  VALUE\nevaluate  metrics.json  label   a b\n"
        );
        let json = show_json("r", &rows);
        assert_eq!(json["version"], 1);
        assert_eq!(json["metrics"][1]["from_run"], "20261124-090000-ffee");
        assert_eq!(json["metrics"][2]["value"], Value::Null);
        assert_eq!(json["metrics"][2]["error"], "not valid JSON");
        assert!(json["metrics"][0].get("error").is_none());
    }

    #[test]
    fn a_metric_only_one_run_has_shows_a_dash_on_the_other_side() {
        let change = |metric: &str, old: Option<Result<Value, String>>, new: Option<Result<Value, String>>| Change {
            step: "evaluate".into(),
            source: "metrics.json".into(),
            metric: Some(metric.into()),
            old,
            new,
        };
        let rows = [
            change("auc", Some(Ok(json!(0.85))), Some(Ok(json!(0.91)))),
            change("f1", None, Some(Ok(json!(0.5)))),
            change("gone", Some(Ok(json!("x"))), None),
            change("bad", Some(Ok(json!(1))), Some(Err("not valid JSON".into()))),
        ];
        assert_eq!(
            diff_text(&rows),
            "STEP      SOURCE        METRIC  OLD   NEW                    CHANGE\n\
             evaluate  metrics.json  auc     0.85  0.91                   +0.06\n\
             evaluate  metrics.json  f1      -     0.5                    -\n\
             evaluate  metrics.json  gone    x     -                      -\n\
             evaluate  metrics.json  bad     1     error: not valid JSON  -\n"
        );
        let json = diff_json("a", "b", &rows);
        assert_eq!(
            json["metrics"][1],
            json!({"step": "evaluate", "source": "metrics.json", "metric": "f1", "old": null, "new": 0.5, "change": null})
        );
        assert_eq!(json["metrics"][3]["new_error"], "not valid JSON");
        assert_eq!(json["metrics"][3]["new"], Value::Null);
    }
}
