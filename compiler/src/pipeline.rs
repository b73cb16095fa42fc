//! The resolved pipeline: what the compiler proved about a file. Names are
//! resolved to [`StepId`]s, params to values, loops and templates expanded,
//! and every attribute has its checked type. Later stages trust all of it.

use crate::backends::BackendKind;
pub use crate::settings::{Setting, TargetSettings};
use crate::source::Span;
use crate::types::{StepKind, Type};
use crate::value::Value;
use petgraph::graph::DiGraph;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Index of a step instance in [`Pipeline::steps`] (and its node in [`Pipeline::graph`]).
pub type StepId = usize;

#[derive(Debug, Clone, Serialize)]
pub struct Pipeline {
    pub name: String,
    pub params: Vec<Param>,
    /// Step instances in declaration order (loops unrolled, templates applied).
    pub steps: Vec<Step>,
    pub targets: Vec<Target>,
    #[serde(skip)]
    pub graph: DiGraph<StepId, Edge>,
    /// Step ids in an order that runs every step after its dependencies.
    pub order: Vec<StepId>,
}

impl Pipeline {
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// Each step's id by its name: for finding many steps by name (records
    /// read back from the state database) without a search per step.
    pub fn ids_by_name(&self) -> std::collections::HashMap<&str, StepId> {
        self.steps
            .iter()
            .enumerate()
            .map(|(id, s)| (s.name.as_str(), id))
            .collect()
    }

    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.name == name)
    }

    /// Where step `id`'s image comes from: a served model's image followed
    /// back to the step that made the model, until a name or a `build` step
    /// (never [`ImageRef::FromModel`]). `None` for a step without an image.
    pub fn image_source(&self, id: StepId) -> Option<&ImageRef> {
        let mut current = id;
        for _ in 0..=self.steps.len() {
            match self.steps[current].image.as_ref()? {
                ImageRef::FromModel(producer) => current = *producer,
                source => return Some(source),
            }
        }
        None
    }

    /// The steps `id` depends on, each once, in id order.
    pub fn dependencies(&self, id: StepId) -> Vec<StepId> {
        let mut deps: Vec<StepId> = self
            .graph
            .neighbors_directed(petgraph::graph::NodeIndex::new(id), petgraph::Direction::Incoming)
            .map(|n| n.index())
            .collect();
        deps.sort_unstable();
        deps.dedup();
        deps
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Param {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: Type,
    /// `None` when the param has no default and no `-p` value (then `missing-param` was reported).
    pub value: Option<Value>,
    pub source: ParamSource,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamSource {
    Default,
    Override,
    Missing,
}

/// Why one step depends on another.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Edge {
    /// The step reads an output as one of its inputs.
    Data { input: String, output: String },
    /// The step runs an image a `build` step makes.
    Image,
    /// `after = [...]`.
    After,
    /// The step's `when` reads a JSON output.
    Condition { output: String },
    /// A `monitor` watches an endpoint a `deploy` step serves.
    Endpoint,
    /// A `tune` step reruns a train step's definition over the same inputs.
    Tune { input: String, output: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Unique instance name: `fit`, or `fit-eu` for a step inside `for region in [...]`.
    pub name: String,
    /// The name as declared, shared by all instances of a loop.
    pub base: String,
    /// The loop values that made this instance, outermost first.
    pub instance: Vec<Value>,
    pub kind: StepKind,
    pub image: Option<ImageRef>,
    pub command: Option<Vec<String>>,
    pub env: BTreeMap<String, EnvValue>,
    pub inputs: Vec<Input>,
    pub outputs: Vec<Output>,
    pub hyperparameters: BTreeMap<String, Value>,
    pub resources: Resources,
    pub retry: Retry,
    /// Milliseconds.
    pub timeout: Option<u64>,
    pub cache: bool,
    pub after: Vec<StepId>,
    pub when: Option<Condition>,
    /// Attributes only some kinds take.
    pub spec: KindSpec,
    #[serde(skip)]
    pub span: Span,
}

impl Step {
    pub fn output(&self, name: &str) -> Option<&Output> {
        self.outputs.iter().find(|o| o.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum ImageRef {
    /// An image by name (`churn-tools:1.4`).
    Name(String),
    /// The image a `build` step makes.
    Built(StepId),
    /// No image of its own: serve with the image of the step that made the model.
    FromModel(StepId),
}

/// An environment variable's value. Secrets and host variables are read
/// only when a step starts; they never reach a plan, a log or a cache key.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum EnvValue {
    Text(String),
    Env(String),
    Secret(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct Input {
    pub name: String,
    pub source: InputSource,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum InputSource {
    /// Another step's output.
    Output { step: StepId, output: String },
    /// Every instance of a fanned-out step's output, each under its instance name.
    Gather { outputs: Vec<(StepId, String)> },
    /// A file or folder on this machine, relative to the pipeline file unless absolute.
    Local { path: String },
    /// An object or prefix in S3.
    S3 { uri: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct Output {
    pub name: String,
    pub shape: OutputShape,
    /// Also deliver the output to this local path or `s3://` URI.
    pub export: Option<String>,
    /// Declared by the step kind rather than by the user (`model` of a `train`).
    pub implicit: bool,
}

impl Output {
    /// Whether `when` may read fields of this output.
    pub fn is_json(&self) -> bool {
        matches!(&self.shape, OutputShape::File { name } if name.ends_with(".json"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum OutputShape {
    Dir,
    File { name: String },
}

impl OutputShape {
    /// Where an output of this shape is, given the folder it was made in:
    /// the file inside it, or the folder itself.
    pub fn path_in(&self, dir: &Path) -> PathBuf {
        match self {
            OutputShape::File { name } => dir.join(name),
            OutputShape::Dir => dir.to_path_buf(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Resources {
    /// A SageMaker instance type (`ml.m5.xlarge`).
    pub instance: Option<String>,
    pub count: Option<u32>,
    pub cpus: Option<f64>,
    /// Bytes.
    pub memory: Option<u64>,
    pub gpus: Option<u32>,
    /// Bytes.
    pub volume: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retry {
    pub attempts: u32,
    /// Milliseconds before the second attempt; doubled for each later one.
    pub backoff: u64,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 1,
            backoff: 1_000,
        }
    }
}

/// A `when` condition, evaluated at run time once the outputs it reads exist.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Condition {
    Const {
        value: bool,
    },
    Compare {
        cmp: String,
        left: Operand,
        right: Operand,
    },
    /// A JSON field used as a boolean.
    Truthy {
        field: JsonField,
    },
    And {
        left: Box<Condition>,
        right: Box<Condition>,
    },
    Or {
        left: Box<Condition>,
        right: Box<Condition>,
    },
    Not {
        operand: Box<Condition>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum Operand {
    Field(JsonField),
    Const(Value),
}

/// A field inside a step's JSON output: `evaluate.metrics.auc`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JsonField {
    pub step: StepId,
    pub output: String,
    pub path: Vec<JsonKey>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum JsonKey {
    Field(String),
    Index(i64),
}

/// Per-kind settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum KindSpec {
    None,
    Train {
        /// Metric name -> regex whose first group is the value.
        metrics: BTreeMap<String, String>,
        checkpoints: bool,
    },
    Tune {
        train: StepId,
        objective: Objective,
        ranges: BTreeMap<String, Range>,
        strategy: String,
        max_jobs: u32,
        max_parallel_jobs: u32,
        /// The train step's metric definitions (name -> regex).
        metrics: BTreeMap<String, String>,
    },
    Transform {
        content_type: Option<String>,
        accept: Option<String>,
        split: String,
        strategy: String,
        max_payload: Option<u64>,
    },
    Deploy {
        endpoint: Option<String>,
        port: Option<u16>,
        multi_model: bool,
        data_capture: bool,
    },
    Monitor {
        endpoint: StepId,
        schedule: String,
    },
    Build {
        context: String,
        dockerfile: Option<String>,
        args: BTreeMap<String, String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Objective {
    pub metric: String,
    pub goal: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Range {
    Int { min: i64, max: i64, scale: String },
    Float { min: f64, max: f64, scale: String },
    Choice { values: Vec<Value> },
}

/// Where and how a pipeline's steps run: `target NAME { ... }`.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: String,
    pub backend: BackendKind,
    pub settings: TargetSettings,
    pub steps: Vec<StepOverride>,
    /// `(backend, kind, other)`: a step of `kind` placed on `backend` runs on
    /// `other` (the specs' `hands_off` of the backends this target uses).
    pub hands_off: Vec<(BackendKind, StepKind, BackendKind)>,
    /// Not written in the file: the target on the first registered backend
    /// (`process`) used when a file declares none.
    pub implicit: bool,
    #[serde(skip)]
    pub span: Span,
}

/// `step NAME { ... }` inside a target: applies to every instance of that step.
#[derive(Debug, Clone, Serialize)]
pub struct StepOverride {
    pub step: String,
    pub backend: Option<BackendKind>,
    pub settings: TargetSettings,
    #[serde(skip)]
    pub span: Span,
}
