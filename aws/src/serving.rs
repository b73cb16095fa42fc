//! Models on SageMaker: the Model a `transform` or `deploy` step needs,
//! the batch transform job, and endpoints (EndpointConfig + Endpoint, or
//! UpdateEndpoint when the endpoint already exists).
//!
//! Names: a Model and an EndpointConfig are named like the attempt's job
//! (`contract::job_name`), so a retried or resumed attempt finds its own;
//! an endpoint is named by the step's `endpoint`, else `<pipeline>-<step>`,
//! and outlives the run, as a deployed endpoint should.

use crate::jobs::{JobPlan, classify};
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types as sm;
use std::collections::BTreeMap;
use wharf_compiler::pipeline::KindSpec;

/// SageMaker's name for the one variant wharf deploys, as the Python SDK's.
pub const VARIANT: &str = "AllTraffic";

/// An endpoint's name: the step's `endpoint`, else `<pipeline>-<step>`,
/// within SageMaker's 63 characters of `[a-zA-Z0-9-]`.
pub fn endpoint_name(pipeline: &str, step: &str, declared: Option<&str>) -> String {
    let wanted = declared
        .map(str::to_string)
        .unwrap_or_else(|| format!("{pipeline}-{step}"));
    let mut name = String::new();
    for c in wanted.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c);
        } else if !name.ends_with('-') && !name.is_empty() {
            name.push('-');
        }
    }
    let name: String = name.chars().take(63).collect();
    name.trim_end_matches('-').to_string()
}

/// The environment a serving container gets: the step's own variables.
/// The `WHARF_INPUT_*`/`WHARF_OUTPUT_*` paths are a job's, not a server's.
pub fn serving_environment(environment: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    environment
        .iter()
        .filter(|(k, _)| !k.starts_with("WHARF_INPUT_") && !k.starts_with("WHARF_OUTPUT_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Creates the Model (image + model data). One that already exists under
/// this name (a resumed attempt) is kept.
#[allow(clippy::too_many_arguments)]
pub async fn create_model(
    client: &Client,
    name: &str,
    image: &str,
    model_data: &str,
    multi_model: bool,
    environment: &BTreeMap<String, String>,
    role: &str,
    tags: Vec<sm::Tag>,
) -> Result<(), String> {
    let mut container = sm::ContainerDefinition::builder()
        .image(image)
        .model_data_url(model_data)
        .set_environment((!environment.is_empty()).then(|| environment.clone().into_iter().collect()));
    if multi_model {
        container = container.mode(sm::ContainerMode::MultiModel);
    }
    let sent = client
        .create_model()
        .model_name(name)
        .primary_container(container.build())
        .execution_role_arn(role)
        .set_tags(Some(tags))
        .send()
        .await;
    match sent {
        Ok(_) => Ok(()),
        Err(e) => {
            let (_, message) = classify(&e);
            if message.contains("already exist") {
                Ok(())
            } else {
                Err(format!("cannot create SageMaker model `{name}`: {message}"))
            }
        }
    }
}

impl JobPlan {
    /// A batch transform job: the Model first, then the job over the
    /// `data` input, writing `<file>.out` per input file to the `output`
    /// prefix, as SageMaker does.
    pub(crate) async fn create_transform(&self, client: &Client) -> Result<Option<String>, String> {
        let KindSpec::Transform {
            content_type,
            accept,
            split,
            strategy,
            max_payload,
        } = &self.spec
        else {
            return Err("internal: a transform job without a transform spec".into());
        };
        let model_data = self
            .model_data
            .as_deref()
            .ok_or_else(|| "a transform step needs its `model` input".to_string())?;
        let data = self
            .inputs
            .iter()
            .find(|c| c.name == "data")
            .ok_or_else(|| "a transform step needs its `data` input".to_string())?;
        create_model(
            client,
            &self.name,
            &self.image,
            model_data,
            false,
            &serving_environment(&self.environment),
            &self.role,
            self.tags(),
        )
        .await?;
        let split_type = match split.as_str() {
            "line" => sm::SplitType::Line,
            "recordio" => sm::SplitType::Recordio,
            "tfrecord" => sm::SplitType::Tfrecord,
            _ => sm::SplitType::None,
        };
        let input = sm::TransformInput::builder()
            .data_source(
                sm::TransformDataSource::builder()
                    .s3_data_source(
                        sm::TransformS3DataSource::builder()
                            .s3_data_type(sm::S3DataType::S3Prefix)
                            .s3_uri(&data.uri)
                            .build(),
                    )
                    .build(),
            )
            .set_content_type(content_type.clone())
            .split_type(split_type.clone())
            .compression_type(sm::CompressionType::None)
            .build();
        let mut output = sm::TransformOutput::builder()
            .s3_output_path(self.transform_output_uri())
            .set_accept(accept.clone());
        if split_type == sm::SplitType::Line {
            output = output.assemble_with(sm::AssemblyType::Line);
        }
        let strategy = if strategy == "single" {
            sm::BatchStrategy::SingleRecord
        } else {
            sm::BatchStrategy::MultiRecord
        };
        client
            .create_transform_job()
            .transform_job_name(&self.name)
            .model_name(&self.name)
            .batch_strategy(strategy)
            .set_max_payload_in_mb(max_payload.map(|b| b.div_ceil(1_000_000).max(1) as i32))
            .transform_input(input)
            .transform_output(output.build())
            .transform_resources(
                sm::TransformResources::builder()
                    .instance_type(sm::TransformInstanceType::from(self.instance.as_str()))
                    .instance_count(self.count)
                    .build(),
            )
            .set_environment({
                let env = serving_environment(&self.environment);
                (!env.is_empty()).then(|| env.into_iter().collect())
            })
            .set_tags(Some(self.tags()))
            .send()
            .await
            .map(|o| o.transform_job_arn().map(str::to_string))
            .map_err(|e| classify(&e).1)
    }

    /// Where a transform job writes its results.
    pub fn transform_output_uri(&self) -> String {
        format!("{}/output", self.output_path)
    }
}

/// An endpoint as DescribeEndpoint shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointState {
    pub status: String,
    pub config: Option<String>,
    pub arn: Option<String>,
    pub failure: Option<String>,
}

/// `Ok(None)` when there is no endpoint of that name. `Err((throttled, _))`
/// when SageMaker could not be asked.
pub async fn describe_endpoint(client: &Client, name: &str) -> Result<Option<EndpointState>, (bool, String)> {
    match client.describe_endpoint().endpoint_name(name).send().await {
        Ok(d) => Ok(Some(EndpointState {
            status: d.endpoint_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            config: d.endpoint_config_name().map(str::to_string),
            arn: d.endpoint_arn().map(str::to_string),
            failure: d.failure_reason().map(str::to_string),
        })),
        Err(e) => {
            let (throttled, message) = classify(&e);
            if !throttled && (message.contains("Could not find") || message.contains("ValidationException")) {
                Ok(None)
            } else {
                Err((throttled, message))
            }
        }
    }
}

/// The endpoint configuration: one variant of the Model on `instance`,
/// with data capture to `capture` when asked. Kept when it already exists.
pub async fn create_endpoint_config(
    client: &Client,
    name: &str,
    instance: &str,
    capture: Option<&str>,
    tags: Vec<sm::Tag>,
) -> Result<(), String> {
    let variant = sm::ProductionVariant::builder()
        .variant_name(VARIANT)
        .model_name(name)
        .initial_instance_count(1)
        .instance_type(sm::ProductionVariantInstanceType::from(instance))
        .initial_variant_weight(1.0)
        .build();
    let mut request = client
        .create_endpoint_config()
        .endpoint_config_name(name)
        .production_variants(variant)
        .set_tags(Some(tags));
    if let Some(uri) = capture {
        // As the Python SDK's DataCaptureConfig: everything, both ways.
        request = request.data_capture_config(
            sm::DataCaptureConfig::builder()
                .enable_capture(true)
                .initial_sampling_percentage(100)
                .destination_s3_uri(uri)
                .capture_options(
                    sm::CaptureOption::builder()
                        .capture_mode(sm::CaptureMode::Input)
                        .build(),
                )
                .capture_options(
                    sm::CaptureOption::builder()
                        .capture_mode(sm::CaptureMode::Output)
                        .build(),
                )
                .build(),
        );
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            let (_, message) = classify(&e);
            if message.contains("already exist") {
                Ok(())
            } else {
                Err(format!(
                    "cannot create SageMaker endpoint configuration `{name}`: {message}"
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_names_are_valid_sagemaker_names() {
        assert_eq!(endpoint_name("churn", "serve", None), "churn-serve");
        assert_eq!(endpoint_name("churn", "serve", Some("churn_prod")), "churn-prod");
        let long = endpoint_name(&"p".repeat(40), &"s".repeat(40), None);
        assert!(long.len() <= 63);
        assert!(!long.ends_with('-'));
    }

    #[test]
    fn a_server_gets_the_steps_environment_without_job_paths() {
        let env = BTreeMap::from([
            ("MODE".to_string(), "fast".to_string()),
            (
                "WHARF_INPUT_DATA".to_string(),
                "/opt/ml/processing/input/data".to_string(),
            ),
            ("WHARF_OUTPUT_OUTPUT".to_string(), "/x".to_string()),
        ]);
        assert_eq!(
            serving_environment(&env),
            BTreeMap::from([("MODE".to_string(), "fast".to_string())])
        );
    }
}
