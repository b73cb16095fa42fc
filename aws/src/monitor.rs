//! `monitor`: a baseline processing job over the step's `baseline` data
//! (SageMaker's Model Monitor analyzer, or the step's own image), whose
//! `statistics.json` and `constraints.json` become the step's outputs, then
//! a monitoring schedule against the deployed endpoint, created or updated.
//!
//! The baseline job is the one the Python SDK's `DefaultModelMonitor.
//! suggest_baseline` sends: the same container paths and environment
//! (`dataset_format`, `dataset_source`, `output_path`,
//! `publish_cloudwatch_metrics`). The schedule follows its
//! `create_monitoring_schedule`: the endpoint at
//! `/opt/ml/processing/input/endpoint`, reports written continuously under
//! the target's bucket.

use crate::jobs::{Channel, JobPlan, classify};
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types as sm;
use std::collections::BTreeMap;
use wharf_compiler::types::StepKind;

const BASELINE_INPUT: &str = "/opt/ml/processing/input/baseline_dataset_input";
const MONITOR_OUTPUT: &str = "/opt/ml/processing/output";
const ENDPOINT_INPUT: &str = "/opt/ml/processing/input/endpoint";
/// The SDK's default limit for a monitoring job: one hour.
const MONITORING_RUNTIME: i32 = 3600;

/// SageMaker Model Monitor's analyzer image in `region` (the account per
/// region is the Python SDK's `image_uri_config/model-monitor.json`).
pub fn analyzer_image(region: &str) -> Option<String> {
    let account = match region {
        "af-south-1" => "875698925577",
        "ap-east-1" => "001633400207",
        "ap-northeast-1" => "574779866223",
        "ap-northeast-2" => "709848358524",
        "ap-northeast-3" => "990339680094",
        "ap-south-1" => "126357580389",
        "ap-southeast-1" => "245545462676",
        "ap-southeast-2" => "563025443158",
        "ap-southeast-3" => "669540362728",
        "ca-central-1" => "536280801234",
        "cn-north-1" => "453000072557",
        "cn-northwest-1" => "453252182341",
        "eu-central-1" => "048819808253",
        "eu-central-2" => "590183933784",
        "eu-north-1" => "895015795356",
        "eu-south-1" => "933208885752",
        "eu-south-2" => "437450045455",
        "eu-west-1" => "468650794304",
        "eu-west-2" => "749857270468",
        "eu-west-3" => "680080141114",
        "il-central-1" => "843974653677",
        "me-central-1" => "588750061953",
        "me-south-1" => "607024016150",
        "sa-east-1" => "539772159869",
        "us-east-1" => "156813124566",
        "us-east-2" => "777275614652",
        "us-west-1" => "890145073186",
        "us-west-2" => "159807026194",
        _ => return None,
    };
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Some(format!(
        "{account}.dkr.ecr.{region}.{domain}/sagemaker-model-monitor-analyzer"
    ))
}

/// The schedule's cron expression for the language's `schedule`.
pub fn cron(schedule: &str) -> &'static str {
    match schedule {
        "daily" => "cron(0 0 ? * * *)",
        _ => "cron(0 * ? * * *)",
    }
}

/// A monitoring schedule's name: one per pipeline step, so a later run
/// updates it rather than adding another.
pub fn schedule_name(pipeline: &str, step: &str) -> String {
    crate::serving::endpoint_name(pipeline, &format!("{step}-monitor"), None)
}

/// Turns the step's plan into the baseline job: the analyzer reads the
/// `baseline` input and writes statistics and constraints to one output.
pub fn baseline_plan(mut plan: JobPlan, image: String) -> Result<JobPlan, String> {
    let baseline = plan
        .inputs
        .iter()
        .find(|c| c.name == "baseline")
        .cloned()
        .ok_or_else(|| "a monitor step needs its `baseline` input (the data the model was trained on)".to_string())?;
    let mut environment: BTreeMap<String, String> = plan
        .environment
        .iter()
        .filter(|(k, _)| !k.starts_with("WHARF_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let format = if baseline
        .file
        .as_deref()
        .is_some_and(|f| f.ends_with(".json") || f.ends_with(".jsonl"))
    {
        r#"{"json": {"lines": true}}"#
    } else {
        r#"{"csv": {"header": true, "output_columns_position": "START"}}"#
    };
    environment
        .entry("dataset_format".into())
        .or_insert_with(|| format.into());
    environment.insert("dataset_source".into(), BASELINE_INPUT.into());
    environment.insert("output_path".into(), MONITOR_OUTPUT.into());
    environment
        .entry("publish_cloudwatch_metrics".into())
        .or_insert_with(|| "Disabled".into());
    plan.kind = StepKind::Step;
    plan.image = image;
    plan.entrypoint = None;
    plan.environment = environment;
    plan.inputs = vec![Channel {
        name: "baseline_dataset_input".into(),
        uri: baseline.uri,
        local_path: BASELINE_INPUT.into(),
        file: baseline.file,
    }];
    plan.outputs = vec![(
        "monitoring_output".into(),
        format!("{}/baseline", plan.output_path),
        MONITOR_OUTPUT.into(),
    )];
    Ok(plan)
}

/// Creates the monitoring schedule, or updates the one this step made before.
/// Returns whether it was created.
pub async fn put_schedule(
    client: &Client,
    baseline: &JobPlan,
    name: &str,
    endpoint: &str,
    schedule: &str,
    reports: &str,
) -> Result<bool, String> {
    let baseline_uri = &baseline.outputs[0].1;
    let definition = sm::MonitoringJobDefinition::builder()
        .baseline_config(
            sm::MonitoringBaselineConfig::builder()
                .constraints_resource(
                    sm::MonitoringConstraintsResource::builder()
                        .s3_uri(format!("{baseline_uri}/constraints.json"))
                        .build(),
                )
                .statistics_resource(
                    sm::MonitoringStatisticsResource::builder()
                        .s3_uri(format!("{baseline_uri}/statistics.json"))
                        .build(),
                )
                .build(),
        )
        .monitoring_inputs(
            sm::MonitoringInput::builder()
                .endpoint_input(
                    sm::EndpointInput::builder()
                        .endpoint_name(endpoint)
                        .local_path(ENDPOINT_INPUT)
                        .s3_input_mode(sm::ProcessingS3InputMode::File)
                        .s3_data_distribution_type(sm::ProcessingS3DataDistributionType::Fullyreplicated)
                        .build(),
                )
                .build(),
        )
        .monitoring_output_config(
            sm::MonitoringOutputConfig::builder()
                .monitoring_outputs(
                    sm::MonitoringOutput::builder()
                        .s3_output(
                            sm::MonitoringS3Output::builder()
                                .s3_uri(reports)
                                .local_path(MONITOR_OUTPUT)
                                .s3_upload_mode(sm::ProcessingS3UploadMode::Continuous)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .monitoring_resources(
            sm::MonitoringResources::builder()
                .cluster_config(
                    sm::MonitoringClusterConfig::builder()
                        .instance_count(1)
                        .instance_type(sm::ProcessingInstanceType::from(baseline.instance.as_str()))
                        .volume_size_in_gb(30)
                        .build(),
                )
                .build(),
        )
        .monitoring_app_specification(
            sm::MonitoringAppSpecification::builder()
                .image_uri(&baseline.image)
                .build(),
        )
        .stopping_condition(
            sm::MonitoringStoppingCondition::builder()
                .max_runtime_in_seconds(MONITORING_RUNTIME)
                .build(),
        )
        .set_environment(Some(
            [("publish_cloudwatch_metrics".to_string(), "Enabled".to_string())]
                .into_iter()
                .collect(),
        ))
        .role_arn(&baseline.role)
        .build();
    let config = sm::MonitoringScheduleConfig::builder()
        .schedule_config(
            sm::ScheduleConfig::builder()
                .schedule_expression(cron(schedule))
                .build(),
        )
        .monitoring_job_definition(definition)
        .monitoring_type(sm::MonitoringType::DataQuality)
        .build();
    let exists = match client
        .describe_monitoring_schedule()
        .monitoring_schedule_name(name)
        .send()
        .await
    {
        Ok(_) => true,
        Err(e) => {
            let (_, message) = classify(&e);
            if message.contains("ResourceNotFound")
                || message.contains("not found")
                || message.contains("Could not find")
            {
                false
            } else {
                return Err(format!("cannot look up monitoring schedule `{name}`: {message}"));
            }
        }
    };
    if exists {
        client
            .update_monitoring_schedule()
            .monitoring_schedule_name(name)
            .monitoring_schedule_config(config)
            .send()
            .await
            .map_err(|e| format!("cannot update monitoring schedule `{name}`: {}", classify(&e).1))?;
    } else {
        client
            .create_monitoring_schedule()
            .monitoring_schedule_name(name)
            .monitoring_schedule_config(config)
            .set_tags(Some(baseline.tags()))
            .send()
            .await
            .map_err(|e| format!("cannot create monitoring schedule `{name}`: {}", classify(&e).1))?;
    }
    Ok(!exists)
}

/// A schedule's status (`Pending`, `Scheduled`, `Failed`, `Stopped`) and failure.
pub async fn schedule_status(client: &Client, name: &str) -> Result<(String, Option<String>), (bool, String)> {
    client
        .describe_monitoring_schedule()
        .monitoring_schedule_name(name)
        .send()
        .await
        .map(|d| {
            (
                d.monitoring_schedule_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                d.failure_reason().map(str::to_string),
            )
        })
        .map_err(|e| classify(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_analyzer_image_is_regional() {
        assert_eq!(
            analyzer_image("us-east-1").unwrap(),
            "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
        );
        assert!(
            analyzer_image("cn-north-1")
                .unwrap()
                .ends_with(".amazonaws.com.cn/sagemaker-model-monitor-analyzer")
        );
        assert_eq!(analyzer_image("xx-nowhere-1"), None);
    }

    #[test]
    fn schedules_are_hourly_or_daily() {
        assert_eq!(cron("hourly"), "cron(0 * ? * * *)");
        assert_eq!(cron("daily"), "cron(0 0 ? * * *)");
        assert_eq!(schedule_name("churn", "drift"), "churn-drift-monitor");
    }
}
