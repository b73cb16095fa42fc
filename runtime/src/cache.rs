//! Cache keys. A step's key is a hash of what determines its outputs: its
//! kind, image, command, non-secret environment, hyperparameters, resources,
//! kind settings, declared outputs and the content hashes of its inputs.
//! Never a time, a run id or a generated job name; never the backend, so a
//! step cached on the process backend and the same step on Docker or
//! SageMaker agree on what "unchanged" means; never a secret.
//!
//! The parts are kept (as JSON) beside the key, so `wharf why` can say which
//! part differs from the last time the step ran.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use wharf_compiler::display;
use wharf_compiler::pipeline::{EnvValue, Step};

/// What a step's key is made of, besides the step itself.
pub struct KeyInputs<'a> {
    /// The image as it will run: a name, or a built image's id.
    pub image: Option<&'a str>,
    /// Input name -> content hash (or, for data Wharf does not hash, its URI).
    pub inputs: &'a BTreeMap<String, String>,
    /// Values of `env("NAME")` variables, read from the host.
    pub host_env: &'a BTreeMap<String, String>,
}

/// The parts of a step's key, as a JSON object with stable field order.
pub fn key_parts(step: &Step, with: &KeyInputs) -> Value {
    let mut env = Map::new();
    for (name, value) in &step.env {
        match value {
            EnvValue::Text(t) => {
                env.insert(name.clone(), json!(t));
            }
            EnvValue::Env(var) => {
                env.insert(name.clone(), json!(with.host_env.get(var)));
            }
            // A secret's value never enters the key; that it is set does.
            EnvValue::Secret(var) => {
                env.insert(name.clone(), json!(format!("secret({var})")));
            }
        }
    }
    let hyperparameters: Map<String, Value> = step
        .hyperparameters
        .iter()
        .map(|(k, v)| (k.clone(), json!(display::hyperparameter(v))))
        .collect();
    let inputs: Map<String, Value> = with.inputs.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let outputs: Map<String, Value> = step
        .outputs
        .iter()
        .map(|o| (o.name.clone(), serde_json::to_value(&o.shape).unwrap_or(Value::Null)))
        .collect();
    json!({
        "version": "wharf-cache-v1",
        "kind": step.kind.as_str(),
        "image": with.image,
        "command": step.command,
        "env": env,
        "hyperparameters": hyperparameters,
        "resources": serde_json::to_value(&step.resources).unwrap_or(Value::Null),
        "spec": serde_json::to_value(&step.spec).unwrap_or(Value::Null),
        "outputs": outputs,
        "inputs": inputs,
    })
}

/// The key: a BLAKE3 hash of the parts' canonical JSON.
pub fn key(parts: &Value) -> String {
    blake3::hash(parts.to_string().as_bytes()).to_hex().to_string()
}

/// What differs between the parts of an earlier key and the current one,
/// one sentence per difference, in the parts' order.
pub fn explain(previous: &Value, current: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let (Some(before), Some(now)) = (previous.as_object(), current.as_object()) else {
        return vec!["the cache record is from another version of wharf".into()];
    };
    for (part, value) in now {
        let old = before.get(part).unwrap_or(&Value::Null);
        if old == value {
            continue;
        }
        match (old.as_object(), value.as_object()) {
            (Some(old_map), Some(new_map)) => {
                let noun = singular(part);
                for (name, v) in new_map {
                    match old_map.get(name) {
                        None => out.push(format!("{noun} `{name}` was added")),
                        Some(o) if o != v => out.push(format!("{noun} `{name}` changed: {} -> {}", short(o), short(v))),
                        Some(_) => {}
                    }
                }
                for name in old_map.keys().filter(|k| !new_map.contains_key(*k)) {
                    out.push(format!("{noun} `{name}` was removed"));
                }
            }
            _ => out.push(format!("{part} changed: {} -> {}", short(old), short(value))),
        }
    }
    out
}

fn singular(part: &str) -> &str {
    match part {
        "inputs" => "input",
        "outputs" => "output",
        "hyperparameters" => "hyperparameter",
        "env" => "env",
        other => other,
    }
}

/// A value for a sentence: hashes cut to 12 characters, long text elided.
fn short(v: &Value) -> String {
    let text = match v {
        Value::String(s) if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) => format!("{}…", &s[..12]),
        Value::String(s) => s.clone(),
        Value::Null => "nothing".into(),
        other => other.to_string(),
    };
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(79).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use wharf_compiler::{MemoryWorld, Options};

    fn step(text: &str) -> Step {
        let world = MemoryWorld::new().with_file("p.wharf", text).with_var("REGION", "eu");
        let c = wharf_compiler::compile(&world, Path::new("p.wharf"), &Options::default());
        c.pipeline.expect("compiles").steps.remove(0)
    }

    fn parts(step: &Step, input_hash: &str, region: &str) -> Value {
        let inputs = BTreeMap::from([("raw".to_string(), input_hash.to_string())]);
        let host_env = BTreeMap::from([("REGION".to_string(), region.to_string())]);
        key_parts(
            step,
            &KeyInputs {
                image: Some("tools:1"),
                inputs: &inputs,
                host_env: &host_env,
            },
        )
    }

    const BASE: &str = r#"pipeline p { step prep {
        command = ["prep", "--fast"]
        env { TOKEN = secret("TOKEN"), WHERE = env("REGION"), MODE = "x" }
        inputs { raw = "data.csv" }
        outputs { out = dir() }
    } }"#;

    #[test]
    fn keys_are_stable_and_change_with_what_matters() {
        let s = step(BASE);
        let a = parts(&s, "h1", "eu");
        assert_eq!(key(&a), key(&parts(&s, "h1", "eu")), "deterministic");
        assert_ne!(key(&a), key(&parts(&s, "h2", "eu")), "input content");
        assert_ne!(key(&a), key(&parts(&s, "h1", "us")), "env() value");
        let other = step(&BASE.replace("--fast", "--slow"));
        assert_ne!(key(&a), key(&parts(&other, "h1", "eu")), "command");
        let timeout = step(&BASE.replace(
            "outputs { out = dir() }",
            "outputs { out = dir() } timeout = 5m retry { attempts = 3 }",
        ));
        assert_eq!(
            key(&a),
            key(&parts(&timeout, "h1", "eu")),
            "timeout and retry do not change outputs"
        );
        assert!(!a.to_string().contains("hunter2"), "secrets stay out");
    }

    #[test]
    fn explain_names_the_parts_that_changed() {
        let s = step(BASE);
        let before = parts(&s, &"a".repeat(64), "eu");
        let other = step(&BASE.replace("--fast", "--slow"));
        let after = parts(&other, &"b".repeat(64), "eu");
        let why = explain(&before, &after);
        assert_eq!(why.len(), 2, "{why:?}");
        assert!(why[0].starts_with("command changed"), "{why:?}");
        assert_eq!(
            why[1],
            format!("input `raw` changed: {}… -> {}…", "a".repeat(12), "b".repeat(12))
        );
        assert!(explain(&before, &before).is_empty());
    }
}
