//! A step's attempt as a SageMaker job: first as data (`JobPlan`, pure and
//! tested), then as the Create/Describe/Stop calls. The container paths,
//! names and environment are the docker backend's (`wharf_runtime::backend::
//! contract`), so a script sees the same layout and the same `WHARF_*`
//! variables in both places.
//!
//! Where the SageMaker Python SDK would send the same job, this sends what it
//! sends: S3Prefix inputs in File mode, fully replicated; EndOfJob uploads;
//! 30 GB volumes; a one-day limit when the step sets none; hyperparameters
//! as strings.

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::error::ProvideErrorMetadata;
use aws_sdk_sagemaker::types as sm;
use std::collections::BTreeMap;
use wharf_compiler::pipeline::KindSpec;
use wharf_compiler::types::StepKind;
use wharf_runtime::backend::Attempt;
use wharf_runtime::backend::contract::{self, variable_suffix};

/// SageMaker's default volume, and the SDK's.
const VOLUME_GB: i32 = 30;
/// SageMaker's default MaxRuntimeInSeconds: one day.
const DEFAULT_MAX_RUNTIME: i32 = 86_400;

#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub name: String,
    /// `s3://...` prefix holding the data.
    pub uri: String,
    /// Where the container sees it.
    pub local_path: String,
    /// The file name when the input is one file (`WHARF_INPUT_*` names the file).
    pub file: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobPlan {
    pub kind: StepKind,
    pub name: String,
    pub image: String,
    pub entrypoint: Option<Vec<String>>,
    pub environment: BTreeMap<String, String>,
    pub inputs: Vec<Channel>,
    /// Processing: output name, S3 URI, container folder.
    pub outputs: Vec<(String, String, String)>,
    /// Training: where SageMaker writes `<job>/output/model.tar.gz`.
    pub output_path: String,
    pub hyperparameters: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, String>,
    pub checkpoint_uri: Option<String>,
    pub instance: String,
    pub count: i32,
    pub max_runtime: i32,
    pub role: String,
    pub tags: Vec<(String, String)>,
    /// Transform: the `model.tar.gz` the job's Model serves.
    pub model_data: Option<String>,
    /// The kind's own settings (a tune step's ranges, a transform's split).
    pub spec: KindSpec,
}

impl JobPlan {
    /// The job for `attempt`. `inputs` are the uploaded inputs (name, S3
    /// prefix, file name when one file); `runs` is the S3 prefix under which
    /// this target keeps job outputs.
    pub fn new(
        attempt: &Attempt,
        inputs: &[(String, String, Option<String>)],
        runs: &str,
        role: &str,
    ) -> Result<JobPlan, String> {
        let kind = attempt.kind;
        let image = attempt
            .image
            .clone()
            .ok_or_else(|| format!("step `{}` has no image; a SageMaker job runs one", attempt.step))?;
        let name = match kind {
            StepKind::Tune => tuning_job_name(&attempt.pipeline, &attempt.step, &attempt.run, attempt.attempt),
            _ => contract::job_name(&attempt.pipeline, &attempt.step, &attempt.run, attempt.attempt),
        };
        let base = format!(
            "{}/{}/{}/{}",
            runs.trim_end_matches('/'),
            attempt.run,
            attempt.step,
            attempt.attempt
        );
        let mut environment: BTreeMap<String, String> = attempt.env.clone();
        // A transform's model is its Model's ModelDataUrl, not a channel.
        let model_data = match kind {
            StepKind::Transform => inputs
                .iter()
                .find(|(n, _, _)| n == "model")
                .map(|(_, uri, file)| match file {
                    Some(f) => format!("{}/{f}", uri.trim_end_matches('/')),
                    None => uri.clone(),
                }),
            _ => None,
        };
        let channels: Vec<Channel> = inputs
            .iter()
            .filter(|(input, _, _)| !(kind == StepKind::Transform && input == "model"))
            .map(|(input, uri, file)| Channel {
                name: input.clone(),
                uri: uri.clone(),
                local_path: contract::input_dir(kind, input),
                file: file.clone(),
            })
            .collect();
        for c in &channels {
            let seen = match &c.file {
                Some(file) => format!("{}/{file}", c.local_path),
                None => c.local_path.clone(),
            };
            environment.insert(format!("WHARF_INPUT_{}", variable_suffix(&c.name)), seen);
        }
        let mut outputs = Vec::new();
        for output in &attempt.outputs {
            let dir = contract::output_dir(kind, output);
            environment.insert(format!("WHARF_OUTPUT_{}", variable_suffix(output)), dir.clone());
            outputs.push((output.clone(), format!("{base}/{output}"), dir));
        }
        let (metrics, checkpoint_uri) = match &attempt.spec {
            KindSpec::Train { metrics, checkpoints } => {
                (metrics.clone(), checkpoints.then(|| format!("{base}/checkpoints")))
            }
            KindSpec::Tune { metrics, .. } => (metrics.clone(), None),
            _ => (BTreeMap::new(), None),
        };
        let limit = attempt
            .timeout_ms
            .map(|ms| ms.div_ceil(1000).min(i32::MAX as u64) as i32)
            .unwrap_or(DEFAULT_MAX_RUNTIME);
        Ok(JobPlan {
            kind,
            name,
            image,
            entrypoint: (!attempt.command.is_empty()).then(|| attempt.command.clone()),
            environment,
            inputs: channels,
            outputs,
            output_path: base,
            hyperparameters: attempt.hyperparameters.clone(),
            metrics,
            checkpoint_uri,
            instance: attempt.instance.clone(),
            count: 1,
            max_runtime: limit,
            role: role.to_string(),
            tags: vec![
                ("wharf:pipeline".into(), attempt.pipeline.clone()),
                ("wharf:step".into(), attempt.step.clone()),
                ("wharf:run".into(), attempt.run.clone()),
                ("wharf:attempt".into(), attempt.attempt.to_string()),
            ],
            model_data,
            spec: attempt.spec.clone(),
        })
    }

    /// Where a training job's model lands: SageMaker's `<path>/<job>/output/model.tar.gz`.
    pub fn model_uri(&self) -> String {
        format!("{}/{}/output/model.tar.gz", self.output_path, self.name)
    }

    /// Where a training job's `/opt/ml/output/data` lands, packed.
    pub fn output_uri(&self) -> String {
        format!("{}/{}/output/output.tar.gz", self.output_path, self.name)
    }

    pub(crate) fn tags(&self) -> Vec<sm::Tag> {
        self.tags
            .iter()
            .map(|(k, v)| sm::Tag::builder().key(k).value(v).build())
            .collect()
    }

    /// Sends the Create call.
    /// Throttling is waited out (1 s doubling to 30 s, ten times) and never
    /// fails the step.
    /// Creates the job; its ARN, as SageMaker gives it back.
    pub async fn create(&self, client: &Client) -> Result<Option<String>, String> {
        let mut n = 0;
        loop {
            let result = match self.kind {
                StepKind::Train => self.create_training(client).await,
                StepKind::Tune => self.create_tuning(client).await,
                StepKind::Transform => self.create_transform(client).await,
                _ => self.create_processing(client).await,
            };
            match result {
                Err(e) if is_throttling(&e) && n < 10 => {
                    tokio::time::sleep(std::time::Duration::from_millis((1000u64 << n.min(5)).min(30_000))).await;
                    n += 1;
                }
                other => return other.map_err(|e| format!("cannot create SageMaker job `{}`: {e}", self.name)),
            }
        }
    }

    async fn create_processing(&self, client: &Client) -> Result<Option<String>, String> {
        let mut app = sm::AppSpecification::builder().image_uri(&self.image);
        if let Some(entrypoint) = &self.entrypoint {
            app = app.set_container_entrypoint(Some(entrypoint.clone()));
        }
        let inputs: Vec<sm::ProcessingInput> = self
            .inputs
            .iter()
            .map(|c| {
                sm::ProcessingInput::builder()
                    .input_name(&c.name)
                    .s3_input(
                        sm::ProcessingS3Input::builder()
                            .s3_uri(&c.uri)
                            .local_path(&c.local_path)
                            .s3_data_type(sm::ProcessingS3DataType::S3Prefix)
                            .s3_input_mode(sm::ProcessingS3InputMode::File)
                            .s3_data_distribution_type(sm::ProcessingS3DataDistributionType::Fullyreplicated)
                            .build(),
                    )
                    .build()
            })
            .collect();
        let outputs: Vec<sm::ProcessingOutput> = self
            .outputs
            .iter()
            .map(|(name, uri, dir)| {
                sm::ProcessingOutput::builder()
                    .output_name(name)
                    .s3_output(
                        sm::ProcessingS3Output::builder()
                            .s3_uri(uri)
                            .local_path(dir)
                            .s3_upload_mode(sm::ProcessingS3UploadMode::EndOfJob)
                            .build(),
                    )
                    .build()
            })
            .collect();
        client
            .create_processing_job()
            .processing_job_name(&self.name)
            .app_specification(app.build())
            .set_processing_inputs(Some(inputs))
            .processing_output_config(sm::ProcessingOutputConfig::builder().set_outputs(Some(outputs)).build())
            .processing_resources(
                sm::ProcessingResources::builder()
                    .cluster_config(
                        sm::ProcessingClusterConfig::builder()
                            .instance_count(self.count)
                            .instance_type(sm::ProcessingInstanceType::from(self.instance.as_str()))
                            .volume_size_in_gb(VOLUME_GB)
                            .build(),
                    )
                    .build(),
            )
            .stopping_condition(
                sm::ProcessingStoppingCondition::builder()
                    .max_runtime_in_seconds(self.max_runtime)
                    .build(),
            )
            .set_environment(Some(self.environment.clone().into_iter().collect()))
            .role_arn(&self.role)
            .set_tags(Some(self.tags()))
            .send()
            .await
            .map(|o| o.processing_job_arn().map(str::to_string))
            .map_err(|e| classify(&e).1)
    }

    async fn create_training(&self, client: &Client) -> Result<Option<String>, String> {
        let mut algorithm = sm::AlgorithmSpecification::builder()
            .training_image(&self.image)
            .training_input_mode(sm::TrainingInputMode::File);
        if let Some(entrypoint) = &self.entrypoint {
            algorithm = algorithm.set_container_entrypoint(Some(entrypoint.clone()));
        }
        for (name, regex) in &self.metrics {
            algorithm = algorithm.metric_definitions(sm::MetricDefinition::builder().name(name).regex(regex).build());
        }
        let channels = self.channels();
        let mut request = client
            .create_training_job()
            .training_job_name(&self.name)
            .algorithm_specification(algorithm.build())
            .set_input_data_config((!channels.is_empty()).then_some(channels))
            .output_data_config(self.output_data_config())
            .resource_config(self.resource_config())
            .stopping_condition(self.stopping_condition())
            .set_hyper_parameters(
                (!self.hyperparameters.is_empty()).then(|| self.hyperparameters.clone().into_iter().collect()),
            )
            .set_environment((!self.environment.is_empty()).then(|| self.environment.clone().into_iter().collect()))
            .role_arn(&self.role)
            .set_tags(Some(self.tags()));
        if let Some(uri) = &self.checkpoint_uri {
            request = request.checkpoint_config(
                sm::CheckpointConfig::builder()
                    .s3_uri(uri)
                    .local_path(contract::CHECKPOINT_DIR)
                    .build(),
            );
        }
        request
            .send()
            .await
            .map(|o| o.training_job_arn().map(str::to_string))
            .map_err(|e| classify(&e).1)
    }

    /// A training job's channels: S3 prefixes, File mode, fully replicated.
    pub(crate) fn channels(&self) -> Vec<sm::Channel> {
        self.inputs
            .iter()
            .map(|c| {
                sm::Channel::builder()
                    .channel_name(&c.name)
                    .data_source(
                        sm::DataSource::builder()
                            .s3_data_source(
                                sm::S3DataSource::builder()
                                    .s3_data_type(sm::S3DataType::S3Prefix)
                                    .s3_uri(&c.uri)
                                    .s3_data_distribution_type(sm::S3DataDistribution::FullyReplicated)
                                    .build(),
                            )
                            .build(),
                    )
                    .input_mode(sm::TrainingInputMode::File)
                    .build()
            })
            .collect()
    }

    pub(crate) fn output_data_config(&self) -> sm::OutputDataConfig {
        sm::OutputDataConfig::builder()
            .s3_output_path(&self.output_path)
            .build()
    }

    pub(crate) fn resource_config(&self) -> sm::ResourceConfig {
        sm::ResourceConfig::builder()
            .instance_type(sm::TrainingInstanceType::from(self.instance.as_str()))
            .instance_count(self.count)
            .volume_size_in_gb(VOLUME_GB)
            .build()
    }

    pub(crate) fn stopping_condition(&self) -> sm::StoppingCondition {
        sm::StoppingCondition::builder()
            .max_runtime_in_seconds(self.max_runtime)
            .build()
    }
}

/// A tuning job's name: SageMaker allows 32 characters (its training jobs
/// are named `<tuning job>-NNN-xxxxxxxx`). The step's name as far as it
/// fits, a hash of pipeline, step and run, and the attempt; deterministic, so
/// a resumed run finds the job again.
pub fn tuning_job_name(pipeline: &str, step: &str, run: &str, attempt: u32) -> String {
    const MAX: usize = 32;
    let hash = blake3::hash(format!("{pipeline}\0{step}\0{run}").as_bytes()).to_hex();
    let tail = format!("{}-{attempt}", &hash[..8]);
    let mut head: String = step
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(MAX - tail.len() - 1)
        .collect();
    while head.contains("--") {
        head = head.replace("--", "-");
    }
    let head = head.trim_matches('-');
    if head.is_empty() {
        tail
    } else {
        format!("{head}-{tail}")
    }
}

/// A job's state as wharf needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    Running,
    Stopping,
    Completed,
    Failed(String),
    Stopped,
    /// No job of this name.
    Missing,
}

/// Describes a job. `Err` is a failure to ask (the caller retries, backing
/// off when the service throttles: `Err((true, _))`).
pub async fn describe(client: &Client, kind: StepKind, name: &str) -> Result<JobState, (bool, String)> {
    let status_and_reason = match kind {
        StepKind::Train => client
            .describe_training_job()
            .training_job_name(name)
            .send()
            .await
            .map(|d| {
                (
                    d.training_job_status().map(|s| s.as_str().to_string()),
                    d.failure_reason().map(str::to_string),
                )
            })
            .map_err(|e| classify(&e)),
        StepKind::Tune => client
            .describe_hyper_parameter_tuning_job()
            .hyper_parameter_tuning_job_name(name)
            .send()
            .await
            .map(|d| {
                (
                    d.hyper_parameter_tuning_job_status().map(|s| s.as_str().to_string()),
                    d.failure_reason().map(str::to_string),
                )
            })
            .map_err(|e| classify(&e)),
        StepKind::Transform => client
            .describe_transform_job()
            .transform_job_name(name)
            .send()
            .await
            .map(|d| {
                (
                    d.transform_job_status().map(|s| s.as_str().to_string()),
                    d.failure_reason().map(str::to_string),
                )
            })
            .map_err(|e| classify(&e)),
        _ => client
            .describe_processing_job()
            .processing_job_name(name)
            .send()
            .await
            .map(|d| {
                (
                    d.processing_job_status().map(|s| s.as_str().to_string()),
                    d.failure_reason().or(d.exit_message()).map(str::to_string),
                )
            })
            .map_err(|e| classify(&e)),
    };
    match status_and_reason {
        Ok((status, reason)) => Ok(match status.as_deref() {
            Some("Completed") => JobState::Completed,
            Some("Failed") => JobState::Failed(reason.unwrap_or_else(|| "the job failed without a reason".into())),
            Some("Stopped") => JobState::Stopped,
            Some("Stopping") => JobState::Stopping,
            _ => JobState::Running,
        }),
        // SageMaker (and moto) answer ValidationException for a job that does not exist.
        Err((false, message))
            if message.contains("not found")
                || message.contains("does not exist")
                || message.contains("ValidationException") =>
        {
            Ok(JobState::Missing)
        }
        Err(e) => Err(e),
    }
}

/// Asks SageMaker to stop a job (SIGTERM, then SIGKILL after 120 s in the container).
pub async fn stop(client: &Client, kind: StepKind, name: &str) -> Result<(), (bool, String)> {
    match kind {
        StepKind::Train => client
            .stop_training_job()
            .training_job_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(&e)),
        StepKind::Tune => client
            .stop_hyper_parameter_tuning_job()
            .hyper_parameter_tuning_job_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(&e)),
        StepKind::Transform => client
            .stop_transform_job()
            .transform_job_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(&e)),
        _ => client
            .stop_processing_job()
            .processing_job_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(&e)),
    }
}

pub(crate) fn describe_error<E: std::error::Error + 'static>(e: &E) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

const THROTTLING: [&str; 4] = [
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
];

/// Whether a message `classify` made is a throttling error's.
pub(crate) fn is_throttling(message: &str) -> bool {
    THROTTLING.iter().any(|code| message.starts_with(&format!("{code}:")))
}

/// (throttled, message) of an SDK error.
pub(crate) fn classify<E, R>(e: &aws_sdk_sagemaker::error::SdkError<E, R>) -> (bool, String)
where
    E: aws_sdk_sagemaker::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let code = e.code().unwrap_or_default().to_string();
    let message = e.message().map(str::to_string).unwrap_or_else(|| describe_error(e));
    let throttled = THROTTLING.contains(&code.as_str());
    (
        throttled,
        if code.is_empty() {
            message
        } else {
            format!("{code}: {message}")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn attempt(kind: StepKind) -> Attempt {
        Attempt {
            run: "20261125-034751-ab12".into(),
            pipeline: "churn".into(),
            step: "fit".into(),
            attempt: 2,
            kind,
            image: Some("123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1".into()),
            command: vec![],
            env: BTreeMap::from([("MODE".to_string(), "fast".to_string())]),
            secret_env: Default::default(),
            inputs: vec![],
            outputs: if kind == StepKind::Train {
                vec!["model".into(), "output".into()]
            } else {
                vec!["out".into()]
            },
            hyperparameters: BTreeMap::from([("depth".to_string(), "6".to_string())]),
            work_dir: PathBuf::from("/w"),
            log_path: PathBuf::from("/w/log"),
            cpus: None,
            gpus: None,
            memory: None,
            instance: "ml.m5.xlarge".into(),
            timeout_ms: Some(7_200_000),
            spec: KindSpec::Train {
                metrics: BTreeMap::from([("auc".to_string(), "auc=([0-9.]+)".to_string())]),
                checkpoints: true,
            },
        }
    }

    #[test]
    fn a_training_job_follows_the_local_contract() {
        let inputs = vec![(
            "train".to_string(),
            "s3://b/p/wharf/data/abc".to_string(),
            Some("train.csv".to_string()),
        )];
        let plan = JobPlan::new(&attempt(StepKind::Train), &inputs, "s3://b/p/wharf/runs", "arn:role").unwrap();
        assert_eq!(plan.name, "churn-fit-20261125-034751-ab12-2");
        assert_eq!(plan.inputs[0].local_path, "/opt/ml/input/data/train");
        assert_eq!(
            plan.environment["WHARF_INPUT_TRAIN"],
            "/opt/ml/input/data/train/train.csv"
        );
        assert_eq!(plan.environment["WHARF_OUTPUT_MODEL"], "/opt/ml/model");
        assert_eq!(plan.environment["MODE"], "fast");
        assert!(!plan.environment.keys().any(|k| k.starts_with("SM_")));
        assert_eq!(plan.output_path, "s3://b/p/wharf/runs/20261125-034751-ab12/fit/2");
        assert_eq!(
            plan.model_uri(),
            "s3://b/p/wharf/runs/20261125-034751-ab12/fit/2/churn-fit-20261125-034751-ab12-2/output/model.tar.gz"
        );
        assert_eq!(plan.max_runtime, 7200);
        assert_eq!(
            plan.checkpoint_uri.as_deref(),
            Some("s3://b/p/wharf/runs/20261125-034751-ab12/fit/2/checkpoints")
        );
        assert_eq!(plan.metrics["auc"], "auc=([0-9.]+)");
        assert!(
            plan.tags
                .contains(&("wharf:run".to_string(), "20261125-034751-ab12".to_string()))
        );
    }

    #[test]
    fn tuning_job_names_fit_in_32_characters_and_are_deterministic() {
        let a = tuning_job_name("churn", "search", "20261125-034751-ab12", 1);
        assert!(a.starts_with("search-") && a.ends_with("-1"), "{a}");
        assert_eq!(a, tuning_job_name("churn", "search", "20261125-034751-ab12", 1));
        assert_ne!(a, tuning_job_name("churn", "search", "20261125-034751-ab13", 1));
        let long = tuning_job_name("p", "a_very_long_step_name_for_the_tuning--job", "r", 12);
        assert!(long.len() <= 32, "{long}");
        assert!(long.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "{long}");
        assert!(!long.contains("--"), "{long}");
    }

    #[test]
    fn a_processing_job_names_its_output_prefixes() {
        let mut a = attempt(StepKind::Step);
        a.spec = KindSpec::None;
        a.timeout_ms = None;
        a.command = vec!["python3".into(), "prep.py".into()];
        let plan = JobPlan::new(&a, &[], "s3://b/wharf/runs", "arn:role").unwrap();
        assert_eq!(
            plan.entrypoint,
            Some(vec!["python3".to_string(), "prep.py".to_string()])
        );
        assert_eq!(
            plan.outputs,
            vec![(
                "out".to_string(),
                "s3://b/wharf/runs/20261125-034751-ab12/fit/2/out".to_string(),
                "/opt/ml/processing/output/out".to_string()
            )]
        );
        assert_eq!(plan.environment["WHARF_OUTPUT_OUT"], "/opt/ml/processing/output/out");
        assert_eq!(plan.max_runtime, 86_400);
    }
}
