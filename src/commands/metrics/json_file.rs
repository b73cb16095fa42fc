//! A metrics file read and flattened: nested objects become dotted keys
//! (`scores.auc`), arrays indexes (`per_class[0]`), as `when
//! evaluate.metrics.scores.auc` reads them. Only numbers, booleans and
//! strings are metrics; `null`, and empty objects and arrays, are left out.
//! A file that is not JSON, or not an object or array, is an error for its
//! row, never a panic.

use serde_json::Value;
use std::io::Read;
use std::path::Path;

/// A metrics file larger than this is not read: metrics are a few numbers,
/// and a file of gigabytes marked as metrics by mistake should not stall a CI job.
const MAX_BYTES: u64 = 16 * 1024 * 1024;

/// The metrics in the file at `path`, in the file's order.
pub fn read(path: &Path) -> Result<Vec<(String, Value)>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(format!(
            "{} is larger than {}; metrics files are read whole",
            path.display(),
            wharf_runtime::size::human_bytes(MAX_BYTES)
        ));
    }
    // The row names the step and the file; the path would only push the reason out of sight.
    parse(&bytes)
}

/// The metrics in a file's bytes.
pub fn parse(bytes: &[u8]) -> Result<Vec<(String, Value)>, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    if !(value.is_object() || value.is_array()) {
        return Err("holds a single value; a metrics file is a JSON object, as in {\"auc\": 0.91}".to_string());
    }
    let mut out = Vec::new();
    flatten(&value, String::new(), &mut out);
    Ok(out)
}

fn flatten(value: &Value, key: String, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (name, v) in map {
                let key = if key.is_empty() {
                    name.clone()
                } else {
                    format!("{key}.{name}")
                };
                flatten(v, key, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(v, format!("{key}[{i}]"), out);
            }
        }
        Value::Null => {}
        scalar => out.push((key, scalar.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A file's text, and its metrics or the start of its error.
    type Case = (&'static str, Result<Vec<(&'static str, Value)>, &'static str>);

    #[test]
    fn nested_values_flatten_to_dotted_keys_and_indexes() {
        let cases: &[Case] = &[
            (r#"{"auc": 0.91}"#, Ok(vec![("auc", json!(0.91))])),
            (
                r#"{"scores": {"auc": 0.9, "f1": 1}, "per_class": [0.5, {"x": true}], "label": "v1"}"#,
                Ok(vec![
                    ("scores.auc", json!(0.9)),
                    ("scores.f1", json!(1)),
                    ("per_class[0]", json!(0.5)),
                    ("per_class[1].x", json!(true)),
                    ("label", json!("v1")),
                ]),
            ),
            (r#"{"none": null, "empty": {}, "list": []}"#, Ok(vec![])),
            (r#"[1, 2]"#, Ok(vec![("[0]", json!(1)), ("[1]", json!(2))])),
            (r#"{"auc": 0.9,"#, Err("not valid JSON")),
            ("", Err("not valid JSON")),
            ("\u{feff}{}", Err("not valid JSON")),
            ("0.9", Err("holds a single value")),
            (
                "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
                Err("not valid JSON"),
            ),
        ];
        for (text, want) in cases {
            let got = parse(text.as_bytes());
            match (want, &got) {
                (Ok(want), Ok(got)) => {
                    let want: Vec<(String, Value)> = want.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
                    assert_eq!(got, &want, "{text}");
                }
                (Err(want), Err(got)) => assert!(got.contains(want), "{text}: {got}"),
                _ => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn a_file_that_is_not_there_or_too_large_is_an_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let gone = dir.path().join("gone.json");
        assert!(read(&gone).is_err_and(|e| e.contains("cannot read")));
        let big = dir.path().join("big.json");
        let file = std::fs::File::create(&big).expect("create");
        file.set_len(MAX_BYTES + 1).expect("sparse file");
        assert!(read(&big).is_err_and(|e| e.contains("larger than")));
    }
}
