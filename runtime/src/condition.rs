//! Evaluates a step's `when` condition at run time, reading the JSON outputs
//! it names. The compiler folded everything known at compile time; what is
//! left compares JSON fields with constants.

use serde_json::Value as Json;
use std::path::PathBuf;
use wharf_compiler::pipeline::{Condition, JsonField, JsonKey, Operand, Pipeline};
use wharf_compiler::value::Value;

/// Where a step's output lives on this machine: a folder; a `file("x.json")`
/// output is `x.json` inside it.
pub trait OutputLocator {
    fn output_file(&self, step: usize, output: &str) -> Option<PathBuf>;
}

/// `Ok(true)` to run the step, `Ok(false)` to skip it, `Err` when the
/// condition cannot be evaluated (a missing file or field, bad JSON): that
/// fails the step, with the reason.
pub fn evaluate(pipeline: &Pipeline, condition: &Condition, outputs: &dyn OutputLocator) -> Result<bool, String> {
    match condition {
        Condition::Const { value } => Ok(*value),
        Condition::Truthy { field } => match read(pipeline, field, outputs)? {
            Json::Bool(b) => Ok(b),
            other => Err(format!(
                "`{}` is {other}, not true or false",
                wharf_compiler::display::json_field(pipeline, field)
            )),
        },
        Condition::Not { operand } => Ok(!evaluate(pipeline, operand, outputs)?),
        Condition::And { left, right } => Ok(evaluate(pipeline, left, outputs)? && evaluate(pipeline, right, outputs)?),
        Condition::Or { left, right } => Ok(evaluate(pipeline, left, outputs)? || evaluate(pipeline, right, outputs)?),
        Condition::Compare { cmp, left, right } => {
            let l = operand(pipeline, left, outputs)?;
            let r = operand(pipeline, right, outputs)?;
            compare(cmp, &l, &r).ok_or_else(|| {
                format!(
                    "cannot compare {l} with {r} using `{cmp}` in `{}`",
                    wharf_compiler::display::condition(pipeline, condition)
                )
            })
        }
    }
}

/// The values a condition read, for the reason a step was skipped:
/// `evaluate.metrics.auc = 0.71`.
pub fn observed(pipeline: &Pipeline, condition: &Condition, outputs: &dyn OutputLocator) -> Vec<String> {
    let mut out = Vec::new();
    collect(pipeline, condition, outputs, &mut out);
    out
}

fn collect(pipeline: &Pipeline, c: &Condition, outputs: &dyn OutputLocator, out: &mut Vec<String>) {
    let mut show = |f: &JsonField| {
        if let Ok(v) = read(pipeline, f, outputs) {
            out.push(format!("{} = {v}", wharf_compiler::display::json_field(pipeline, f)));
        }
    };
    match c {
        Condition::Const { .. } => {}
        Condition::Truthy { field } => show(field),
        Condition::Compare { left, right, .. } => {
            for o in [left, right] {
                if let Operand::Field(f) = o {
                    show(f);
                }
            }
        }
        Condition::Not { operand } => collect(pipeline, operand, outputs, out),
        Condition::And { left, right } | Condition::Or { left, right } => {
            collect(pipeline, left, outputs, out);
            collect(pipeline, right, outputs, out);
        }
    }
}

fn operand(pipeline: &Pipeline, o: &Operand, outputs: &dyn OutputLocator) -> Result<Json, String> {
    match o {
        Operand::Field(f) => read(pipeline, f, outputs),
        Operand::Const(v) => Ok(match v {
            Value::Str(s) => Json::from(s.clone()),
            Value::Int(i) => Json::from(*i),
            Value::Float(x) => Json::from(*x),
            Value::Bool(b) => Json::from(*b),
            other => Json::from(other.to_string()),
        }),
    }
}

fn read(pipeline: &Pipeline, f: &JsonField, outputs: &dyn OutputLocator) -> Result<Json, String> {
    let name = wharf_compiler::display::json_field(pipeline, f);
    let path = outputs.output_file(f.step, &f.output).ok_or_else(|| {
        format!(
            "`{name}`: step `{}` left no output `{}`",
            pipeline.steps[f.step].name, f.output
        )
    })?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("`{name}`: cannot read {}: {e}", path.display()))?;
    let mut value: Json =
        serde_json::from_str(&text).map_err(|e| format!("`{name}`: {} is not valid JSON: {e}", path.display()))?;
    for key in &f.path {
        value = match (key, value) {
            (JsonKey::Field(k), Json::Object(mut map)) => map
                .remove(k)
                .ok_or_else(|| format!("`{name}`: {} has no field `{k}`", path.display()))?,
            (JsonKey::Index(i), Json::Array(mut items)) => {
                let len = items.len();
                usize::try_from(*i)
                    .ok()
                    .filter(|i| *i < len)
                    .map(|i| items.swap_remove(i))
                    .ok_or_else(|| format!("`{name}`: index {i} is outside a list of {len}"))?
            }
            (_, other) => return Err(format!("`{name}`: cannot look inside {other}")),
        };
    }
    Ok(value)
}

fn compare(op: &str, a: &Json, b: &Json) -> Option<bool> {
    use std::cmp::Ordering;
    let ordering = match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?)?,
        (Json::String(x), Json::String(y)) => x.cmp(y),
        (Json::Bool(x), Json::Bool(y)) if matches!(op, "==" | "!=") => x.cmp(y),
        (Json::Null, Json::Null) if matches!(op, "==" | "!=") => Ordering::Equal,
        _ if matches!(op, "==" | "!=") => return Some((op == "!=") ^ (a == b)),
        _ => return None,
    };
    Some(match op {
        "==" => ordering == Ordering::Equal,
        "!=" => ordering != Ordering::Equal,
        "<" => ordering == Ordering::Less,
        "<=" => ordering != Ordering::Greater,
        ">" => ordering == Ordering::Greater,
        _ => ordering != Ordering::Less,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use wharf_compiler::{MemoryWorld, Options};

    struct Dir(PathBuf);

    impl OutputLocator for Dir {
        fn output_file(&self, _step: usize, _output: &str) -> Option<PathBuf> {
            Some(self.0.join("m.json"))
        }
    }

    fn pipeline(when: &str) -> Pipeline {
        let text = format!(
            "pipeline p {{ step ev {{ command = [\"e\"] outputs {{ m = file(\"m.json\") }} }}\n step go {{ command = [\"g\"] }} when {when} }}"
        );
        let c = wharf_compiler::compile(
            &MemoryWorld::new().with_file("p.wharf", text),
            Path::new("p.wharf"),
            &Options::default(),
        );
        c.pipeline.expect("compiles")
    }

    #[test]
    fn conditions_read_json_fields() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join("m.json"),
            r#"{"auc": 0.83, "ok": true, "tags": ["a", "b"], "name": "x"}"#,
        )
        .expect("write");
        let out = Dir(dir.path().to_path_buf());
        let cases = [
            ("ev.m.auc >= 0.8", Ok(true)),
            ("ev.m.auc > 0.9", Ok(false)),
            ("ev.m.ok and ev.m.auc < 1", Ok(true)),
            ("not ev.m.ok", Ok(false)),
            ("ev.m.tags[1] == \"b\"", Ok(true)),
            ("ev.m.name != \"x\" or ev.m.auc == 0.83", Ok(true)),
        ];
        for (when, want) in cases {
            let p = pipeline(when);
            let got = evaluate(&p, p.steps[1].when.as_ref().expect("when"), &out);
            assert_eq!(got, want, "{when}");
        }
        let p = pipeline("ev.m.missing > 1");
        let err = evaluate(&p, p.steps[1].when.as_ref().expect("when"), &out).expect_err("missing field");
        assert!(err.contains("has no field `missing`"), "{err}");
        let p = pipeline("ev.m.auc >= 0.9");
        assert_eq!(
            observed(&p, p.steps[1].when.as_ref().expect("when"), &out),
            vec!["ev.m.auc = 0.83"]
        );
    }
}
