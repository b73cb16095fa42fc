//! Which attributes each step kind takes, which it needs, and the outputs it
//! has without declaring them. docs/language.md has the same tables in prose.

use crate::pipeline::{Output, OutputShape};
use crate::types::StepKind;

const COMMON: &[&str] = &[
    "image",
    "command",
    "env",
    "inputs",
    "resources",
    "retry",
    "timeout",
    "cache",
    "after",
];

/// The attributes `kind` takes, besides the ones every kind takes (`COMMON`).
fn extra(kind: StepKind) -> &'static [&'static str] {
    match kind {
        StepKind::Step => &["outputs"],
        StepKind::Train => &["outputs", "hyperparameters", "metrics", "checkpoints"],
        StepKind::Tune => &[
            "train",
            "objective",
            "ranges",
            "strategy",
            "max_jobs",
            "max_parallel_jobs",
        ],
        StepKind::Transform => &["content_type", "accept", "split", "strategy", "max_payload"],
        StepKind::Deploy => &["endpoint", "port", "multi_model", "data_capture"],
        StepKind::Monitor => &["endpoint", "schedule"],
        StepKind::Build => &["context", "dockerfile", "args"],
    }
}

/// Attributes of `COMMON` that a kind does not take.
fn excluded(kind: StepKind) -> &'static [&'static str] {
    match kind {
        StepKind::Tune => &["image", "command", "inputs"],
        StepKind::Build => &["image", "command", "env", "inputs", "resources"],
        StepKind::Monitor => &["command"],
        _ => &[],
    }
}

pub fn allows(kind: StepKind, key: &str) -> bool {
    (COMMON.contains(&key) && !excluded(kind).contains(&key)) || extra(kind).contains(&key)
}

pub fn allowed(kind: StepKind) -> Vec<&'static str> {
    COMMON
        .iter()
        .copied()
        .filter(|k| !excluded(kind).contains(k))
        .chain(extra(kind).iter().copied())
        .collect()
}

/// Attributes without which a step of this kind means nothing, whatever its backend.
pub fn required(kind: StepKind) -> &'static [&'static str] {
    match kind {
        StepKind::Tune => &["train", "objective", "ranges"],
        StepKind::Monitor => &["endpoint"],
        StepKind::Build => &["context"],
        _ => &[],
    }
}

/// Inputs a kind needs, by name.
pub fn required_inputs(kind: StepKind) -> &'static [&'static str] {
    match kind {
        StepKind::Transform => &["model", "data"],
        StepKind::Deploy => &["model"],
        StepKind::Monitor => &["baseline"],
        _ => &[],
    }
}

/// The outputs a kind has by itself.
pub fn implicit_outputs(kind: StepKind) -> Vec<Output> {
    let dir = |name: &str| Output {
        name: name.into(),
        shape: OutputShape::Dir,
        export: None,
        implicit: true,
    };
    let json = |name: &str| Output {
        name: name.into(),
        shape: OutputShape::File {
            name: format!("{name}.json"),
        },
        export: None,
        implicit: true,
    };
    match kind {
        StepKind::Step => vec![],
        StepKind::Train => vec![dir("model"), dir("output")],
        StepKind::Tune => vec![dir("model"), json("best")],
        StepKind::Transform => vec![dir("output")],
        StepKind::Deploy => vec![json("endpoint")],
        StepKind::Monitor => vec![json("statistics"), json("constraints")],
        StepKind::Build => vec![json("image")],
    }
}
