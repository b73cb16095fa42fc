//! Human-readable text for resolved values: conditions, input sources and
//! image references as a user would write them. Used by `plan`, `graph` and
//! the runtime's messages.

use crate::pipeline::{Condition, ImageRef, InputSource, JsonField, JsonKey, KindSpec, Operand, Pipeline};
use crate::value::Value;

pub fn condition(pipeline: &Pipeline, c: &Condition) -> String {
    match c {
        Condition::Const { value } => value.to_string(),
        Condition::Compare { cmp, left, right } => {
            format!("{} {cmp} {}", operand(pipeline, left), operand(pipeline, right))
        }
        Condition::Truthy { field } => json_field(pipeline, field),
        Condition::And { left, right } => format!("({} and {})", condition(pipeline, left), condition(pipeline, right)),
        Condition::Or { left, right } => format!("({} or {})", condition(pipeline, left), condition(pipeline, right)),
        Condition::Not { operand } => format!("not {}", condition(pipeline, operand)),
    }
}

fn operand(pipeline: &Pipeline, o: &Operand) -> String {
    match o {
        Operand::Field(f) => json_field(pipeline, f),
        Operand::Const(v) => v.to_string(),
    }
}

pub fn json_field(pipeline: &Pipeline, f: &JsonField) -> String {
    let mut out = format!("{}.{}", pipeline.steps[f.step].name, f.output);
    for key in &f.path {
        match key {
            JsonKey::Field(name) => {
                out.push('.');
                out.push_str(name);
            }
            JsonKey::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

pub fn input_source(pipeline: &Pipeline, source: &InputSource) -> String {
    match source {
        InputSource::Output { step, output } => format!("{}.{output}", pipeline.steps[*step].name),
        InputSource::Gather { outputs } => {
            let parts: Vec<String> = outputs
                .iter()
                .map(|(s, o)| format!("{}.{o}", pipeline.steps[*s].name))
                .collect();
            format!("[{}]", parts.join(", "))
        }
        InputSource::Local { path } => path.clone(),
        InputSource::S3 { uri } => uri.clone(),
    }
}

pub fn image(pipeline: &Pipeline, image: &ImageRef) -> String {
    match image {
        ImageRef::Name(name) => name.clone(),
        ImageRef::Built(step) => format!("built by `{}`", pipeline.steps[*step].name),
        ImageRef::FromModel(step) => {
            let producer = &pipeline.steps[*step];
            // A tune step runs its train step's image.
            let image = match (&producer.image, &producer.spec) {
                (Some(image), _) => Some(image),
                (None, KindSpec::Tune { train, .. }) => pipeline.steps[*train].image.as_ref(),
                (None, _) => None,
            };
            match image {
                Some(ImageRef::FromModel(_)) | None => format!("the image of `{}`", producer.name),
                Some(inner) => format!("{} (from `{}`)", self::image(pipeline, inner), producer.name),
            }
        }
    }
}

/// A hyperparameter as SageMaker receives it: always a string.
pub fn hyperparameter(value: &Value) -> String {
    match value {
        Value::List(_) | Value::Map(_) => serde_json::to_string(value).unwrap_or_else(|_| value.to_string()),
        other => other.to_text(),
    }
}
