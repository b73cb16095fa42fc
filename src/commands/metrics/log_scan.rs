//! A train step's `metrics { NAME = "regex" }` read from its log as
//! SageMaker's MetricDefinitions read a training job's: each regex applied
//! to every line, and the metric's value is the first capture group of the
//! last match that is a number. SageMaker publishes numbers only, so a
//! match whose group is not one (`loss=nan`, `loss=abc`) is passed over.

use regex::Regex;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

/// What one metric definition found in a log.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    Value(Value),
    /// No line matched with a number.
    Nothing,
    /// The regex does not compile here (Rust's regex syntax has no
    /// look-around or back-references).
    BadRegex(String),
}

/// Each metric of `definitions` (name -> regex) in the log at `path`.
pub fn scan(path: &Path, definitions: &BTreeMap<String, String>) -> Result<Vec<(String, Found)>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read the log {}: {e}", path.display()))?;
    scan_lines(std::io::BufReader::new(file), definitions)
        .map_err(|e| format!("cannot read the log {}: {e}", path.display()))
}

fn scan_lines(mut log: impl BufRead, definitions: &BTreeMap<String, String>) -> std::io::Result<Vec<(String, Found)>> {
    let mut results: Vec<(String, Result<Regex, String>, Option<Value>)> = definitions
        .iter()
        .map(|(name, pattern)| {
            (
                name.clone(),
                Regex::new(pattern).map_err(|e| one_line(&e.to_string())),
                None,
            )
        })
        .collect();
    let mut line = Vec::new();
    loop {
        line.clear();
        if log.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        for (_, regex, last) in &mut results {
            let Ok(regex) = regex else { continue };
            for caps in regex.captures_iter(text) {
                if let Some(value) = caps.get(1).and_then(|m| number(m.as_str())) {
                    *last = Some(value);
                }
            }
        }
    }
    Ok(results
        .into_iter()
        .map(|(name, regex, last)| {
            let found = match (regex, last) {
                (Err(e), _) => Found::BadRegex(e),
                (Ok(_), Some(v)) => Found::Value(v),
                (Ok(_), None) => Found::Nothing,
            };
            (name, found)
        })
        .collect())
}

/// A captured text as a JSON number: an integer when it is one, else a
/// finite float (`1e-3` and `+0.5` included, as Python's `float` reads them).
fn number(text: &str) -> Option<Value> {
    let text = text.trim();
    if let Ok(i) = text.parse::<i64>() {
        return Some(Value::from(i));
    }
    let f: f64 = text.parse().ok()?;
    serde_json::Number::from_f64(f).map(Value::Number)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scan_text(log: &str, defs: &[(&str, &str)]) -> Vec<(String, Found)> {
        let defs: BTreeMap<String, String> = defs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        scan_lines(log.as_bytes(), &defs).expect("in memory")
    }

    #[test]
    fn the_last_numeric_match_of_the_first_group_wins() {
        let log =
            "epoch 1 loss=0.9 acc=0.5\nepoch 2 loss=0.5\nloss=nan\nloss=abc\nfinal loss=0.25 loss=0.2\r\nacc=1e-3\n";
        let got = scan_text(
            log,
            &[
                ("loss", "loss=([^ ]+)"),
                ("acc", r"acc=([0-9.e+-]+)"),
                ("missing", "f1=([0-9.]+)"),
                ("count", r"epoch (\d+)"),
                ("bad", "(?<=x)y"),
            ],
        );
        assert_eq!(
            got,
            vec![
                ("acc".to_string(), Found::Value(json!(0.001))),
                ("bad".to_string(), got[1].1.clone()),
                ("count".to_string(), Found::Value(json!(2))),
                ("loss".to_string(), Found::Value(json!(0.2))),
                ("missing".to_string(), Found::Nothing),
            ]
        );
        assert!(
            matches!(&got[1].1, Found::BadRegex(e) if e.contains("look-around")),
            "{got:?}"
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_do_not_stop_the_scan() {
        let defs = BTreeMap::from([("loss".to_string(), "loss=([0-9.]+)".to_string())]);
        let log: &[u8] = b"\xff\xfe loss=0.7\n";
        assert_eq!(
            scan_lines(log, &defs).expect("in memory"),
            vec![("loss".to_string(), Found::Value(json!(0.7)))]
        );
    }
}
