//! The vocabulary shared by every stage: step kinds and value types
//! (backends are `backends.rs`).

use serde::Serialize;
use std::fmt;

/// What a step is; it decides the contract a step runs under (see design.md,
/// "Step kinds: one meaning, two places").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    Step,
    Train,
    Tune,
    Transform,
    Deploy,
    Monitor,
    Build,
}

impl StepKind {
    pub const ALL: [StepKind; 7] = [
        StepKind::Step,
        StepKind::Train,
        StepKind::Tune,
        StepKind::Transform,
        StepKind::Deploy,
        StepKind::Monitor,
        StepKind::Build,
    ];

    pub fn parse(text: &str) -> Option<StepKind> {
        StepKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Step => "step",
            StepKind::Train => "train",
            StepKind::Tune => "tune",
            StepKind::Transform => "transform",
            StepKind::Deploy => "deploy",
            StepKind::Monitor => "monitor",
            StepKind::Build => "build",
        }
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The type of a param, a template argument or an attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Type {
    String,
    Int,
    Float,
    Bool,
    Path,
    Duration,
    Size,
    /// `list` (any elements) or `list[T]`.
    List(Option<Box<Type>>),
    /// A step's output, for template arguments (`model: output`).
    Output,
    /// Anything; untyped template arguments.
    Any,
}

impl Type {
    /// Parses a type name as written in `param x: NAME` or `list[NAME]`.
    pub fn parse(name: &str, element: Option<&str>) -> Result<Type, String> {
        let scalar = |name: &str| match name {
            "string" => Some(Type::String),
            "int" => Some(Type::Int),
            "float" => Some(Type::Float),
            "bool" => Some(Type::Bool),
            "path" => Some(Type::Path),
            "duration" => Some(Type::Duration),
            "size" => Some(Type::Size),
            "output" => Some(Type::Output),
            "any" => Some(Type::Any),
            _ => None,
        };
        match (name, element) {
            ("list", None) => Ok(Type::List(None)),
            ("list", Some(el)) => scalar(el)
                .map(|t| Type::List(Some(Box::new(t))))
                .ok_or_else(|| el.to_string()),
            (other, None) => scalar(other).ok_or_else(|| other.to_string()),
            (other, Some(_)) => Err(other.to_string()),
        }
    }

    pub const NAMES: [&'static str; 10] = [
        "string", "int", "float", "bool", "path", "duration", "size", "list", "output", "any",
    ];
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::String => f.write_str("string"),
            Type::Int => f.write_str("int"),
            Type::Float => f.write_str("float"),
            Type::Bool => f.write_str("bool"),
            Type::Path => f.write_str("path"),
            Type::Duration => f.write_str("duration"),
            Type::Size => f.write_str("size"),
            Type::List(None) => f.write_str("list"),
            Type::List(Some(el)) => write!(f, "list[{el}]"),
            Type::Output => f.write_str("output"),
            Type::Any => f.write_str("any"),
        }
    }
}
