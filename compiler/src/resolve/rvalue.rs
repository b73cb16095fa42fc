//! Values as the resolver sees them: plain data, plus everything that only
//! makes sense while resolving (step references, outputs, JSON fields that
//! exist at run time, partially indexed fan-outs, templates).

use crate::modules::ModuleId;
use crate::pipeline::{Condition, JsonField, OutputShape, Range, StepId};
use crate::source::Span;
use crate::value::Value;

#[derive(Debug, Clone)]
pub struct Spanned {
    pub value: RValue,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum RValue {
    Data(Value),
    List(Vec<Spanned>),
    Map(Vec<(String, Span, Spanned)>),
    Env(String),
    Secret(String),
    /// One step instance.
    Step(StepId),
    /// Every instance of a fanned-out step (`fit[*]`).
    Steps(Vec<StepId>),
    /// A fanned-out step not yet indexed down to instances.
    Selection(Selection),
    Output(StepId, String),
    Gather(Vec<(StepId, String)>),
    /// A field of a JSON output: known only at run time.
    Json(JsonField),
    Cond(Condition),
    OutSpec(OutputShape),
    Range(Range),
    Template(String),
    Module(ModuleId),
    Params,
    /// Already reported; absorbs further errors about the same value.
    Error,
}

/// `fit` referred to from outside some of its loops: which loop values are
/// fixed so far (`None` is `[*]`), and how many of its loops are bound.
#[derive(Debug, Clone)]
pub struct Selection {
    pub decl: usize,
    pub bound: Vec<Option<Value>>,
}

impl RValue {
    /// A short description for messages ("a step", "an int").
    pub fn describe(&self) -> String {
        match self {
            RValue::Data(v) => article(v.type_name()),
            RValue::List(_) => "a list".into(),
            RValue::Map(_) => "a map".into(),
            RValue::Env(_) => "an `env(...)` value".into(),
            RValue::Secret(_) => "a `secret(...)`".into(),
            RValue::Step(_) => "a step".into(),
            RValue::Steps(_) | RValue::Selection(_) => "a fanned-out step".into(),
            RValue::Output(..) => "a step output".into(),
            RValue::Gather(_) => "a gathered output".into(),
            RValue::Json(_) => "a field of a JSON output".into(),
            RValue::Cond(_) => "a run-time condition".into(),
            RValue::OutSpec(_) => "an output shape".into(),
            RValue::Range(_) => "a tuning range".into(),
            RValue::Template(_) => "a template".into(),
            RValue::Module(_) => "an import".into(),
            RValue::Params => "`params`".into(),
            RValue::Error => "an invalid value".into(),
        }
    }
}

fn article(name: &str) -> String {
    if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {name}")
    } else {
        format!("a {name}")
    }
}
