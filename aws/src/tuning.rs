//! `tune` as a hyperparameter tuning job over its train step's definition
//! (the compiler copies image, inputs, environment, static hyperparameters
//! and metric definitions onto the tune step). The best training job's
//! `model.tar.gz` becomes the step's `model`, and `best.json` records which
//! job won, with what hyperparameters and objective value.
//!
//! As the Python SDK's `HyperparameterTuner` does: the ranged names are left
//! out of the static hyperparameters, early stopping is Off, Grid sets no
//! job limit (the grid decides), and ranges are sent as strings.

use crate::jobs::{JobPlan, classify};
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types as sm;
use serde_json::{Value, json};
use wharf_compiler::pipeline::{KindSpec, Range};

impl JobPlan {
    pub(crate) async fn create_tuning(&self, client: &Client) -> Result<Option<String>, String> {
        let config = self.tuning_config()?;
        let mut algorithm = sm::HyperParameterAlgorithmSpecification::builder()
            .training_image(&self.image)
            .training_input_mode(sm::TrainingInputMode::File);
        for (name, regex) in &self.metrics {
            algorithm = algorithm.metric_definitions(sm::MetricDefinition::builder().name(name).regex(regex).build());
        }
        let ranged = self.ranged_names();
        let statics: std::collections::HashMap<String, String> = self
            .hyperparameters
            .iter()
            .filter(|(k, _)| !ranged.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let channels = self.channels();
        let definition = sm::HyperParameterTrainingJobDefinition::builder()
            .algorithm_specification(algorithm.build())
            .role_arn(&self.role)
            .set_input_data_config((!channels.is_empty()).then_some(channels))
            .output_data_config(self.output_data_config())
            .resource_config(self.resource_config())
            .stopping_condition(self.stopping_condition())
            .set_static_hyper_parameters((!statics.is_empty()).then_some(statics))
            .set_environment((!self.environment.is_empty()).then(|| self.environment.clone().into_iter().collect()))
            .build();
        client
            .create_hyper_parameter_tuning_job()
            .hyper_parameter_tuning_job_name(&self.name)
            .hyper_parameter_tuning_job_config(config)
            .training_job_definition(definition)
            .set_tags(Some(self.tags()))
            .send()
            .await
            .map(|o| o.hyper_parameter_tuning_job_arn().map(str::to_string))
            .map_err(|e| classify(&e).1)
    }

    fn ranged_names(&self) -> Vec<String> {
        match &self.spec {
            KindSpec::Tune { ranges, .. } => ranges.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// The tuning job's configuration: strategy, objective, limits, ranges.
    pub(crate) fn tuning_config(&self) -> Result<sm::HyperParameterTuningJobConfig, String> {
        let KindSpec::Tune {
            objective,
            ranges,
            strategy,
            max_jobs,
            max_parallel_jobs,
            ..
        } = &self.spec
        else {
            return Err("internal: a tuning job without a tune spec".into());
        };
        let strategy = match strategy.as_str() {
            "random" => sm::HyperParameterTuningJobStrategyType::Random,
            "grid" => sm::HyperParameterTuningJobStrategyType::Grid,
            "hyperband" => sm::HyperParameterTuningJobStrategyType::Hyperband,
            _ => sm::HyperParameterTuningJobStrategyType::Bayesian,
        };
        let mut limits = sm::ResourceLimits::builder().max_parallel_training_jobs(*max_parallel_jobs as i32);
        if strategy != sm::HyperParameterTuningJobStrategyType::Grid {
            limits = limits.max_number_of_training_jobs(*max_jobs as i32);
        }
        let mut parameter_ranges = sm::ParameterRanges::builder();
        for (name, range) in ranges {
            match range {
                Range::Int { min, max, scale } => {
                    parameter_ranges = parameter_ranges.integer_parameter_ranges(
                        sm::IntegerParameterRange::builder()
                            .name(name)
                            .min_value(min.to_string())
                            .max_value(max.to_string())
                            .scaling_type(scaling(scale))
                            .build(),
                    )
                }
                Range::Float { min, max, scale } => {
                    parameter_ranges = parameter_ranges.continuous_parameter_ranges(
                        sm::ContinuousParameterRange::builder()
                            .name(name)
                            .min_value(min.to_string())
                            .max_value(max.to_string())
                            .scaling_type(scaling(scale))
                            .build(),
                    )
                }
                Range::Choice { values } => {
                    parameter_ranges = parameter_ranges.categorical_parameter_ranges(
                        sm::CategoricalParameterRange::builder()
                            .name(name)
                            .set_values(Some(
                                values.iter().map(wharf_compiler::display::hyperparameter).collect(),
                            ))
                            .build(),
                    )
                }
            }
        }
        let goal = if objective.goal == "minimize" {
            sm::HyperParameterTuningJobObjectiveType::Minimize
        } else {
            sm::HyperParameterTuningJobObjectiveType::Maximize
        };
        Ok(sm::HyperParameterTuningJobConfig::builder()
            .strategy(strategy)
            .hyper_parameter_tuning_job_objective(
                sm::HyperParameterTuningJobObjective::builder()
                    .r#type(goal)
                    .metric_name(&objective.metric)
                    .build(),
            )
            .resource_limits(limits.build())
            .parameter_ranges(parameter_ranges.build())
            .training_job_early_stopping_type(sm::TrainingJobEarlyStoppingType::Off)
            .build())
    }

    /// Where the winning training job's model lands.
    pub fn best_model_uri(&self, best_job: &str) -> String {
        format!("{}/{best_job}/output/model.tar.gz", self.output_path)
    }
}

fn scaling(scale: &str) -> sm::HyperParameterScalingType {
    match scale {
        "linear" => sm::HyperParameterScalingType::Linear,
        "log" => sm::HyperParameterScalingType::Logarithmic,
        "reverse-log" => sm::HyperParameterScalingType::ReverseLogarithmic,
        _ => sm::HyperParameterScalingType::Auto,
    }
}

/// The best training job of a completed tuning job: its name and what
/// `best.json` records (the job, every hyperparameter it ran with, the
/// objective's final value).
pub async fn best_training_job(client: &Client, plan: &JobPlan) -> Result<(String, Value), String> {
    let d = client
        .describe_hyper_parameter_tuning_job()
        .hyper_parameter_tuning_job_name(&plan.name)
        .send()
        .await
        .map_err(|e| classify(&e).1)?;
    let best = d.best_training_job().ok_or_else(|| {
        format!(
            "tuning job {} completed without a best training job (did every training job fail to report `{}`?)",
            plan.name,
            objective_metric(plan)
        )
    })?;
    let job = best
        .training_job_name()
        .ok_or_else(|| format!("tuning job {}'s best training job has no name", plan.name))?
        .to_string();
    let ranged = plan.ranged_names();
    let mut hyperparameters = serde_json::Map::new();
    for (k, v) in &plan.hyperparameters {
        if !ranged.contains(k) {
            hyperparameters.insert(k.clone(), json!(v));
        }
    }
    if let Some(tuned) = best.tuned_hyper_parameters() {
        for (k, v) in tuned {
            hyperparameters.insert(k.clone(), json!(v));
        }
    }
    let objective = best.final_hyper_parameter_tuning_job_objective_metric().map(|m| {
        json!({
            "metric": m.metric_name(),
            // SageMaker sends a 32-bit float; its shortest text is the value meant.
            "value": m.value().and_then(|v| v.to_string().parse::<f64>().ok()),
        })
    });
    let record = json!({
        "tuning_job": plan.name,
        "training_job": job,
        "hyperparameters": hyperparameters,
        "objective": objective.unwrap_or_else(|| json!({ "metric": objective_metric(plan), "value": null })),
        "model": plan.best_model_uri(&job),
    });
    Ok((job, record))
}

fn objective_metric(plan: &JobPlan) -> String {
    match &plan.spec {
        KindSpec::Tune { objective, .. } => objective.metric.clone(),
        _ => String::new(),
    }
}
