//! What SageMaker gives a container, as data: container paths, job names,
//! and the configuration files a job finds under `/opt/ml`. The Docker
//! backend builds its containers from this, and the SageMaker backend's
//! requests name the same paths, so a step sees the same layout in both
//! places. ../docs/backends/docker.md has the table with the sources.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use wharf_compiler::types::StepKind;

/// The one host of a local job, named as SageMaker names the first host.
pub const HOST: &str = "algo-1";
/// SageMaker's name for the instance group of a homogeneous cluster.
pub const GROUP: &str = "homogeneousCluster";

pub const PROCESSING_INPUT: &str = "/opt/ml/processing/input";
pub const PROCESSING_OUTPUT: &str = "/opt/ml/processing/output";
pub const PROCESSING_CONFIG: &str = "/opt/ml/config";
pub const TRAINING_CHANNELS: &str = "/opt/ml/input/data";
pub const TRAINING_CONFIG: &str = "/opt/ml/input/config";
pub const MODEL_DIR: &str = "/opt/ml/model";
pub const OUTPUT_DIR: &str = "/opt/ml/output";
pub const OUTPUT_DATA_DIR: &str = "/opt/ml/output/data";
pub const CHECKPOINT_DIR: &str = "/opt/ml/checkpoints";
/// Training: its first 1024 characters become the job's FailureReason.
pub const FAILURE_FILE: &str = "/opt/ml/output/failure";
/// Processing: its first 1 KB becomes the job's ExitMessage.
pub const MESSAGE_FILE: &str = "/opt/ml/output/message";
/// How much of the failure or message file SageMaker keeps.
pub const FAILURE_CHARS: usize = 1024;
/// The port a serving container listens on.
pub const SERVING_PORT: u16 = 8080;

/// The folder input `name` appears in.
pub fn input_dir(kind: StepKind, name: &str) -> String {
    match kind {
        StepKind::Train => format!("{TRAINING_CHANNELS}/{name}"),
        _ => format!("{PROCESSING_INPUT}/{name}"),
    }
}

/// The folder output `name` is collected from. A train step's `model` is
/// `/opt/ml/model` and its `output` is `/opt/ml/output/data`, which SageMaker
/// packs as `model.tar.gz` and `output.tar.gz`; any other output of a train
/// step is a folder inside `/opt/ml/output/data`, so it travels in
/// `output.tar.gz` too.
pub fn output_dir(kind: StepKind, name: &str) -> String {
    match (kind, name) {
        (StepKind::Train, "model") => MODEL_DIR.to_string(),
        (StepKind::Train, "output") => OUTPUT_DATA_DIR.to_string(),
        (StepKind::Train, other) => format!("{OUTPUT_DATA_DIR}/{other}"),
        (_, other) => format!("{PROCESSING_OUTPUT}/{other}"),
    }
}

/// `raw-data.v2` -> `RAW_DATA_V2`: the suffix of `WHARF_INPUT_*` and
/// `WHARF_OUTPUT_*`, so that a shell can read the variable.
pub fn variable_suffix(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

/// A job name for one attempt of one step of one run: the same every time
/// it is asked for (a resumed run finds its job by it), unique per run and
/// attempt, and within SageMaker's rules (1-63 characters of `[a-zA-Z0-9-]`,
/// no hyphen at either end). A long pipeline or step name is cut and a short
/// hash of the whole keeps it unique.
pub fn job_name(pipeline: &str, step: &str, run: &str, attempt: u32) -> String {
    const MAX: usize = 63;
    let tail = sanitize(&format!("{run}-{attempt}"));
    let head = sanitize(&format!("{pipeline}-{step}"));
    let room = MAX - tail.len() - 1;
    let head = if head.len() <= room {
        head
    } else {
        let hash = blake3::hash(format!("{pipeline}\0{step}").as_bytes()).to_hex();
        let cut: String = head.chars().take(room - 7).collect();
        format!("{}-{}", cut.trim_end_matches('-'), &hash[..6])
    };
    let name = if head.is_empty() {
        tail
    } else {
        format!("{head}-{tail}")
    };
    name.chars()
        .take(MAX)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// The room a job name leaves for `<pipeline>-<step>` with the longest run
/// id (`20261125-034751-ab12`) and attempt number (999).
pub const JOB_NAME_HEAD_ROOM: usize = 63 - "20261125-034751-ab12-999".len() - 1;

/// Whether [`job_name`] keeps `<pipeline>-<step>` whole, uncut, in every
/// job name of that step: the one rule the compiler checks step names by
/// (through the SageMaker backend's descriptor).
pub fn job_name_keeps(pipeline: &str, step: &str) -> bool {
    sanitize(&format!("{pipeline}-{step}")).len() <= JOB_NAME_HEAD_ROOM
}

/// Letters and digits kept, runs of anything else become one hyphen, none at the ends.
fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// `resourceconfig.json` of a one-host training job, with the keys real
/// jobs write (the training toolkit reads `current_group_name` and
/// `instance_groups`; the documented keys are `current_host`, `hosts` and
/// `network_interface_name`).
pub fn training_resource_config(instance_type: &str) -> Value {
    json!({
        "current_host": HOST,
        "current_instance_type": instance_type,
        "current_group_name": GROUP,
        "hosts": [HOST],
        "instance_groups": [{
            "instance_group_name": GROUP,
            "instance_type": instance_type,
            "hosts": [HOST],
        }],
        "network_interface_name": "eth0",
    })
}

/// `resourceconfig.json` of a processing job: the documented keys only.
pub fn processing_resource_config() -> Value {
    json!({ "current_host": HOST, "hosts": [HOST] })
}

/// `inputdataconfig.json`: every channel a fully replicated File-mode
/// channel, as a training job with S3 File inputs sees it.
pub fn input_data_config<'a>(channels: impl IntoIterator<Item = &'a str>) -> Value {
    let map: BTreeMap<&str, Value> = channels
        .into_iter()
        .map(|name| {
            (
                name,
                json!({
                    "TrainingInputMode": "File",
                    "S3DistributionType": "FullyReplicated",
                    "RecordWrapperType": "None",
                }),
            )
        })
        .collect();
    json!(map)
}

/// The ARN of a job. Locally there is no account or region: `local` and
/// twelve zeros stand in, so a script that parses the ARN still can.
pub fn local_arn(resource: &str, name: &str) -> String {
    format!(
        "arn:aws:sagemaker:local:000000000000:{resource}/{}",
        name.to_lowercase()
    )
}

/// The first `FAILURE_CHARS` characters of a failure or message file,
/// trimmed: what SageMaker reports as FailureReason / ExitMessage.
pub fn failure_text(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let cut: String = text.chars().take(FAILURE_CHARS).collect();
    let cut = cut.trim();
    (!cut.is_empty()).then(|| cut.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(name: &str) -> bool {
        let bytes = name.as_bytes();
        !name.is_empty()
            && name.len() <= 63
            && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            && bytes[0] != b'-'
            && bytes[bytes.len() - 1] != b'-'
    }

    #[test]
    fn job_names_follow_sagemaker_rules() {
        let name = job_name("churn", "fit", "20261125-034751-ab12", 1);
        assert_eq!(name, "churn-fit-20261125-034751-ab12-1");
        let long = job_name(&"p".repeat(80), "fit_eu.v2", "20261125-034751-ab12", 12);
        assert!(valid(&long), "{long}");
        assert!(long.ends_with("-20261125-034751-ab12-12"), "{long}");
        // Two long names that share their first characters still differ.
        let a = job_name(&"x".repeat(60), "a", "20261125-034751-ab12", 1);
        let b = job_name(&"x".repeat(60), "b", "20261125-034751-ab12", 1);
        assert_ne!(a, b);
        assert!(valid(&a) && valid(&b));
        assert!(valid(&job_name("_", "-", "20261125-034751-ab12", 1)));
        assert_eq!(
            job_name("churn", "fit", "r", 1),
            job_name("churn", "fit", "r", 1),
            "deterministic"
        );
    }

    #[test]
    fn train_outputs_follow_the_model_and_output_folders() {
        assert_eq!(output_dir(StepKind::Train, "model"), "/opt/ml/model");
        assert_eq!(output_dir(StepKind::Train, "output"), "/opt/ml/output/data");
        assert_eq!(output_dir(StepKind::Train, "report"), "/opt/ml/output/data/report");
        assert_eq!(output_dir(StepKind::Step, "out"), "/opt/ml/processing/output/out");
        assert_eq!(input_dir(StepKind::Train, "train"), "/opt/ml/input/data/train");
        assert_eq!(input_dir(StepKind::Step, "raw"), "/opt/ml/processing/input/raw");
    }

    #[test]
    fn failure_text_keeps_1024_characters() {
        let long = "é".repeat(2000);
        assert_eq!(failure_text(long.as_bytes()).unwrap().chars().count(), 1024);
        assert_eq!(failure_text(b"  \n"), None);
        assert_eq!(failure_text(b"boom\n").as_deref(), Some("boom"));
    }
}
