//! Two runs' metrics side by side, as `dvc metrics diff` shows them: rows
//! paired by step, source and metric; a metric only one run has is shown
//! with nothing on the other side; numbers get their change, the new value
//! minus the old, rounded to the decimals the values were written with (so
//! 0.91 against 0.85 is `+0.06`, not `+0.06000000000000005`).

use super::metric::Metric;
use serde_json::Value;
use std::collections::HashMap;

/// One metric in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub step: String,
    pub source: String,
    pub metric: Option<String>,
    /// `None`: the run has no such metric.
    pub old: Option<Result<Value, String>>,
    pub new: Option<Result<Value, String>>,
}

impl Change {
    /// The numeric change, when both runs have a number.
    pub fn delta(&self) -> Option<Delta> {
        match (&self.old, &self.new) {
            (Some(Ok(old)), Some(Ok(new))) => delta(old, new),
            _ => None,
        }
    }
}

/// A change as JSON (a number) and as text (with its sign: `+0.06`, `-2`, `0`).
#[derive(Debug, Clone, PartialEq)]
pub struct Delta {
    pub value: Value,
    pub text: String,
}

/// The rows of both runs, paired: the new run's order, with what only
/// the old run has after the rows of its step and source.
pub fn pair(old: &[Metric], new: &[Metric]) -> Vec<Change> {
    let mut changes: Vec<Change> = Vec::new();
    let mut index: HashMap<(&str, &str, Option<&str>), usize> = HashMap::new();
    for m in new {
        index
            .entry((&m.step, &m.source, m.metric.as_deref()))
            .or_insert(changes.len());
        changes.push(Change {
            step: m.step.clone(),
            source: m.source.clone(),
            metric: m.metric.clone(),
            old: None,
            new: Some(m.value.clone()),
        });
    }
    for m in old {
        match index.get(&(m.step.as_str(), m.source.as_str(), m.metric.as_deref())) {
            Some(&i) if changes[i].old.is_none() => changes[i].old = Some(m.value.clone()),
            _ => changes.push(Change {
                step: m.step.clone(),
                source: m.source.clone(),
                metric: m.metric.clone(),
                old: Some(m.value.clone()),
                new: None,
            }),
        }
    }
    // Stable: within a step's source, the new run's order, then the old one's.
    changes.sort_by(|a, b| order(a).cmp(&order(b)));
    changes
}

fn order(c: &Change) -> (&str, bool, &str) {
    (&c.step, c.source == super::metric::LOG, &c.source)
}

/// `new - old` for two numbers: exact for integers, otherwise rounded to
/// the most decimals either value is written with.
pub fn delta(old: &Value, new: &Value) -> Option<Delta> {
    if let (Some(a), Some(b)) = (old.as_i64(), new.as_i64())
        && let Some(d) = b.checked_sub(a)
    {
        let text = if d > 0 { format!("+{d}") } else { d.to_string() };
        return Some(Delta {
            value: Value::from(d),
            text,
        });
    }
    let (a, b) = (old.as_f64()?, new.as_f64()?);
    let d = b - a;
    let rounded: f64 = match decimals(old).zip(decimals(new)) {
        Some((x, y)) => format!("{:.*}", x.max(y), d).parse().ok()?,
        // A value written with an exponent: twelve significant digits.
        None => format!("{d:.11e}").parse().ok()?,
    };
    // No `-0`.
    let rounded = if rounded == 0.0 { 0.0 } else { rounded };
    let text = if rounded > 0.0 {
        format!("+{rounded}")
    } else {
        rounded.to_string()
    };
    Some(Delta {
        value: Value::Number(serde_json::Number::from_f64(rounded)?),
        text,
    })
}

/// The digits after the point a number is written with; `None` with an exponent.
fn decimals(v: &Value) -> Option<usize> {
    let text = v.to_string();
    if text.contains(['e', 'E']) {
        return None;
    }
    Some(text.split_once('.').map_or(0, |(_, frac)| frac.len().min(17)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Old, new, and the change as JSON and as text.
    type Case = (Value, Value, Option<(Value, &'static str)>);

    #[test]
    fn changes_are_signed_and_rounded_to_the_values_decimals() {
        let cases: &[Case] = &[
            (json!(0.85), json!(0.91), Some((json!(0.06), "+0.06"))),
            (json!(0.91), json!(0.85), Some((json!(-0.06), "-0.06"))),
            (json!(0.5), json!(0.25), Some((json!(-0.25), "-0.25"))),
            (json!(3), json!(5), Some((json!(2), "+2"))),
            (json!(5), json!(3), Some((json!(-2), "-2"))),
            (json!(0.1), json!(0.1), Some((json!(0.0), "0"))),
            (json!(7), json!(7), Some((json!(0), "0"))),
            (json!(1), json!(1.5), Some((json!(0.5), "+0.5"))),
            (json!(1e-7), json!(3e-7), Some((json!(2e-7), "+0.0000002"))),
            (
                json!(i64::MIN),
                json!(i64::MAX),
                Some((json!(1.8446744073709552e19), "+18446744073709552000")),
            ),
            (json!("v1"), json!("v2"), None),
            (json!(true), json!(false), None),
            (json!(1), json!("1"), None),
        ];
        for (old, new, want) in cases {
            let got = delta(old, new).map(|d| (d.value, d.text));
            let want = want.as_ref().map(|(v, t)| (v.clone(), t.to_string()));
            assert_eq!(got, want, "{old} -> {new}");
        }
    }

    fn m(step: &str, source: &str, metric: &str, value: Value) -> Metric {
        Metric {
            step: step.into(),
            source: source.into(),
            metric: Some(metric.into()),
            value: Ok(value),
            from_run: None,
        }
    }

    #[test]
    fn rows_pair_by_step_source_and_metric() {
        let old = vec![
            m("evaluate", "metrics.json", "auc", json!(0.8)),
            m("evaluate", "metrics.json", "gone", json!(1)),
            m("fit", "log", "loss", json!(0.5)),
        ];
        let new = vec![
            m("evaluate", "metrics.json", "auc", json!(0.9)),
            m("evaluate", "metrics.json", "added", json!(true)),
            m("fit", "log", "loss", json!(0.25)),
        ];
        let got: Vec<(String, Option<Value>, Option<Value>)> = pair(&old, &new)
            .into_iter()
            .map(|c| {
                (
                    format!("{} {} {}", c.step, c.source, c.metric.unwrap_or_default()),
                    c.old.and_then(Result::ok),
                    c.new.and_then(Result::ok),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("evaluate metrics.json auc".into(), Some(json!(0.8)), Some(json!(0.9))),
                ("evaluate metrics.json added".into(), None, Some(json!(true))),
                ("evaluate metrics.json gone".into(), Some(json!(1)), None),
                ("fit log loss".into(), Some(json!(0.5)), Some(json!(0.25))),
            ]
        );
    }
}
