//! Stands in for the SageMaker training toolkit, which a process has not got:
//! the `SM_*` variables a script written for SageMaker reads, and for `train`
//! steps the three files of `/opt/ml/input/config`. Names and encodings
//! follow the toolkit (`sagemaker_training/environment.py`, `mapping.py`),
//! not Wharf's own `WHARF_*` conventions, so that such a script runs
//! unchanged: `SM_CHANNEL_<NAME>` and `SM_HP_<NAME>` only upper-case the
//! name, and every value that is not a string is compact JSON with sorted
//! keys and ASCII escapes.
//!
//! Containers get none of this: their toolkit derives it from the files.

use super::layout::Layout;
use crate::backend::Attempt;
use crate::backend::contract::{GROUP, HOST};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use wharf_compiler::types::StepKind;

/// Hyperparameters the toolkit keeps out of `SM_HPS` (`params.py`): these and
/// every key starting `sagemaker_`. Those of them not in this list become
/// `SM_FRAMEWORK_PARAMS`.
const TOOLKIT_HYPERPARAMETERS: [&str; 9] = [
    "sagemaker_program",
    "sagemaker_submit_directory",
    "sagemaker_enable_cloudwatch_metrics",
    "sagemaker_region",
    "sagemaker_container_log_level",
    "sagemaker_job_name",
    "default_user_module_name",
    "_tuning_objective_metric",
    "sagemaker_s3_output",
];

/// The `SM_*` variables for one attempt.
pub(super) fn variables(attempt: &Attempt, layout: &Layout) -> Vec<(String, OsString)> {
    let mut vars: Vec<(String, OsString)> = Vec::new();
    let mut set = |name: String, value: OsString| vars.push((name, value));

    let mut channels: Vec<&str> = layout.inputs.iter().map(|(name, _)| name.as_str()).collect();
    channels.sort_unstable();
    set("SM_CHANNELS".into(), toolkit_json(&json!(channels)).into());
    for (name, path) in &layout.inputs {
        set(format!("SM_CHANNEL_{}", name.to_uppercase()), path.into());
    }

    let mut hps = BTreeMap::new();
    let mut framework_params = BTreeMap::new();
    for (name, raw) in &attempt.hyperparameters {
        let value = decode(raw);
        if name.starts_with("sagemaker_") || TOOLKIT_HYPERPARAMETERS.contains(&name.as_str()) {
            if !TOOLKIT_HYPERPARAMETERS.contains(&name.as_str()) {
                framework_params.insert(name.clone(), value);
            }
            continue;
        }
        set(format!("SM_HP_{}", name.to_uppercase()), env_value(&value).into());
        hps.insert(name.clone(), value);
    }
    set("SM_HPS".into(), toolkit_json(&json!(hps)).into());
    set(
        "SM_FRAMEWORK_PARAMS".into(),
        toolkit_json(&json!(framework_params)).into(),
    );

    set("SM_CURRENT_HOST".into(), HOST.into());
    set("SM_HOSTS".into(), toolkit_json(&json!([HOST])).into());
    set("SM_NUM_CPUS".into(), num_cpus(attempt.cpus).to_string().into());
    set("SM_NUM_GPUS".into(), attempt.gpus.unwrap_or(0).to_string().into());

    set("SM_INPUT_DIR".into(), layout.input_dir.clone().into());
    set("SM_INPUT_CONFIG_DIR".into(), layout.input_config_dir.clone().into());
    set("SM_OUTPUT_DIR".into(), layout.output_dir.clone().into());
    set("SM_OUTPUT_DATA_DIR".into(), layout.output_data_dir.clone().into());
    set("SM_MODEL_DIR".into(), layout.model_dir.clone().into());

    if attempt.kind == StepKind::Train {
        set("SM_RESOURCE_CONFIG".into(), toolkit_json(&resource_config()).into());
        set(
            "SM_INPUT_DATA_CONFIG".into(),
            toolkit_json(&input_data_config(layout)).into(),
        );
    }
    vars
}

/// Writes `hyperparameters.json`, `inputdataconfig.json` and
/// `resourceconfig.json` into the input config folder, as SageMaker does
/// before a training job starts. Only `train` steps get them.
pub(super) async fn write_config(attempt: &Attempt, layout: &Layout) -> Result<(), String> {
    if attempt.kind != StepKind::Train {
        return Ok(());
    }
    // Strings, all of them: SageMaker's API map is string to string.
    let hyperparameters = json!(attempt.hyperparameters);
    let files = [
        ("hyperparameters.json", hyperparameters),
        ("inputdataconfig.json", input_data_config(layout)),
        ("resourceconfig.json", resource_config()),
    ];
    for (name, value) in files {
        write_json(&layout.input_config_dir.join(name), &value).await?;
    }
    Ok(())
}

async fn write_json(path: &Path, value: &Value) -> Result<(), String> {
    tokio::fs::write(path, value.to_string())
        .await
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

/// Every channel as a fully replicated File-mode channel: the data is in a
/// folder on this machine, read as files.
fn input_data_config(layout: &Layout) -> Value {
    let channels: BTreeMap<&str, Value> = layout
        .inputs
        .iter()
        .map(|(name, _)| {
            let config = json!({
                "TrainingInputMode": "File",
                "S3DistributionType": "FullyReplicated",
                "RecordWrapperType": "None",
            });
            (name.as_str(), config)
        })
        .collect();
    json!(channels)
}

/// A one-host cluster on the loopback interface, with the keys real jobs
/// write (the toolkit reads `current_group_name` and `instance_groups`).
fn resource_config() -> Value {
    json!({
        "current_host": HOST,
        "hosts": [HOST],
        "current_group_name": GROUP,
        "current_instance_type": "local",
        "instance_groups": [{
            "instance_group_name": GROUP,
            "instance_type": "local",
            "hosts": [HOST],
        }],
        "network_interface_name": "lo",
    })
}

/// The step's CPUs, rounded up, or else the machine's.
fn num_cpus(cpus: Option<f64>) -> u64 {
    match cpus {
        Some(cpus) if cpus.is_finite() && cpus > 0.0 => cpus.ceil() as u64,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
    }
}

/// A hyperparameter as the toolkit reads it: JSON if it parses, else the
/// string itself (`"6"` is the number 6, `"\"xgb\""` and `"xgb"` both the
/// string `xgb`).
fn decode(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()))
}

/// One `SM_*` value: a string as it is, anything else as toolkit JSON.
fn env_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => toolkit_json(other),
    }
}

/// `json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=True)`.
pub(super) fn toolkit_json(value: &Value) -> String {
    let text = sort_keys(value).to_string();
    // Outside strings JSON is ASCII already, so escaping every other
    // character wherever it appears only rewrites string contents.
    let mut ascii = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            for unit in c.encode_utf16(&mut [0; 2]) {
                ascii.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    ascii
}

fn sort_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> = map.iter().map(|(k, v)| (k, sort_keys(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect::<Map<_, _>>())
        }
        Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyperparameters_decode_like_the_toolkit() {
        let cases = [
            ("6", "6"),
            ("0.1", "0.1"),
            ("\"xgb\"", "xgb"),
            ("xgb", "xgb"),
            ("true", "true"),
            ("{\"b\": 1, \"a\": [\"é\"]}", "{\"a\":[\"\\u00e9\"],\"b\":1}"),
            ("null", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(env_value(&decode(raw)), want, "hyperparameter {raw:?}");
        }
    }

    #[test]
    fn toolkit_json_escapes_beyond_the_basic_plane() {
        assert_eq!(toolkit_json(&json!("🙂")), "\"\\ud83d\\ude42\"");
    }

    #[test]
    fn cpus_round_up() {
        assert_eq!(num_cpus(Some(0.5)), 1);
        assert_eq!(num_cpus(Some(2.0)), 2);
        assert_eq!(num_cpus(Some(2.1)), 3);
        assert!(num_cpus(None) >= 1);
    }
}
