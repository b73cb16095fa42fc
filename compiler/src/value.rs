//! Plain compile-time values: what a param, a hyperparameter or a loop key
//! holds once the compiler has evaluated it.

use crate::syntax::literal::{format_duration, format_size};
use crate::types::Type;
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Milliseconds.
    #[serde(serialize_with = "ser_duration")]
    Duration(u64),
    /// Bytes.
    #[serde(serialize_with = "ser_size")]
    Size(u64),
    List(Vec<Value>),
    Map(Vec<(String, Value)>),
}

fn ser_duration<S: serde::Serializer>(ms: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*ms))
}

fn ser_size<S: serde::Serializer>(bytes: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_size(*bytes))
}

impl Value {
    /// The name of the value's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Bool(_) => "bool",
            Value::Duration(_) => "duration",
            Value::Size(_) => "size",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }

    /// Converts to `ty` where the language allows it (an int where a float
    /// is expected, a string where a path is), or `None`.
    pub fn coerce(self, ty: &Type) -> Option<Value> {
        match (ty, self) {
            (Type::Any, v) => Some(v),
            (Type::String | Type::Path, Value::Str(s)) => Some(Value::Str(s)),
            (Type::Int, Value::Int(i)) => Some(Value::Int(i)),
            (Type::Float, Value::Float(f)) => Some(Value::Float(f)),
            (Type::Float, Value::Int(i)) => Some(Value::Float(i as f64)),
            (Type::Bool, Value::Bool(b)) => Some(Value::Bool(b)),
            (Type::Duration, Value::Duration(d)) => Some(Value::Duration(d)),
            (Type::Size, Value::Size(s)) => Some(Value::Size(s)),
            (Type::List(None), Value::List(items)) => Some(Value::List(items)),
            (Type::List(Some(el)), Value::List(items)) => items
                .into_iter()
                .map(|v| v.coerce(el))
                .collect::<Option<Vec<_>>>()
                .map(Value::List),
            _ => None,
        }
    }

    /// Parses a `-p NAME=VALUE` text as a value of type `ty`.
    pub fn parse_as(text: &str, ty: &Type) -> Option<Value> {
        use crate::syntax::ast::NumberValue;
        use crate::syntax::literal::classify;
        let number = || classify(text.trim()).ok();
        match ty {
            Type::String | Type::Path | Type::Any => Some(Value::Str(text.to_string())),
            Type::Int => match number()? {
                NumberValue::Int(i) => Some(Value::Int(i)),
                _ => None,
            },
            Type::Float => match number()? {
                NumberValue::Int(i) => Some(Value::Float(i as f64)),
                NumberValue::Float(f) => Some(Value::Float(f)),
                _ => None,
            },
            Type::Duration => match number()? {
                NumberValue::Duration(d) => Some(Value::Duration(d)),
                _ => None,
            },
            Type::Size => match number()? {
                NumberValue::Size(s) => Some(Value::Size(s)),
                _ => None,
            },
            Type::Bool => match text.trim() {
                "true" | "on" | "yes" | "1" => Some(Value::Bool(true)),
                "false" | "off" | "no" | "0" => Some(Value::Bool(false)),
                _ => None,
            },
            Type::List(element) => {
                let element = element.as_deref().unwrap_or(&Type::String);
                let trimmed = text.trim();
                if trimmed.starts_with('[') {
                    let json: serde_json::Value = serde_json::from_str(trimmed).ok()?;
                    let items = json.as_array()?;
                    items
                        .iter()
                        .map(|item| match item {
                            serde_json::Value::String(s) => Value::parse_as(s, element),
                            other => Value::parse_as(&other.to_string(), element),
                        })
                        .collect::<Option<Vec<_>>>()
                        .map(Value::List)
                } else if trimmed.is_empty() {
                    Some(Value::List(Vec::new()))
                } else {
                    trimmed
                        .split(',')
                        .map(|part| Value::parse_as(part.trim(), element))
                        .collect::<Option<Vec<_>>>()
                        .map(Value::List)
                }
            }
            Type::Output => None,
        }
    }

    /// The text a value takes inside an interpolated string or a
    /// hyperparameter (SageMaker passes every hyperparameter as a string).
    pub fn to_text(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Value {
    /// Formats as the language would write the value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Duration(d) => f.write_str(&format_duration(*d)),
            Value::Size(s) => f.write_str(&format_size(*s)),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Map(entries) => {
                f.write_str("{ ")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} = {v}")?;
                }
                f.write_str(" }")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_overrides_by_type() {
        let list_str = Type::List(Some(Box::new(Type::String)));
        let list_int = Type::List(Some(Box::new(Type::Int)));
        let cases: Vec<(&str, Type, Option<Value>)> = vec![
            ("8", Type::Int, Some(Value::Int(8))),
            ("eight", Type::Int, None),
            ("8.5", Type::Int, None),
            ("0.9", Type::Float, Some(Value::Float(0.9))),
            ("1", Type::Float, Some(Value::Float(1.0))),
            ("true", Type::Bool, Some(Value::Bool(true))),
            ("maybe", Type::Bool, None),
            ("30s", Type::Duration, Some(Value::Duration(30_000))),
            ("30", Type::Duration, None),
            ("1GiB", Type::Size, Some(Value::Size(1 << 30))),
            ("a/b.csv", Type::Path, Some(Value::Str("a/b.csv".into()))),
            (
                "eu,us",
                list_str.clone(),
                Some(Value::List(vec![Value::Str("eu".into()), Value::Str("us".into())])),
            ),
            (
                r#"["eu", "us"]"#,
                list_str,
                Some(Value::List(vec![Value::Str("eu".into()), Value::Str("us".into())])),
            ),
            (
                "1,2",
                list_int.clone(),
                Some(Value::List(vec![Value::Int(1), Value::Int(2)])),
            ),
            ("1,x", list_int, None),
        ];
        for (text, ty, want) in cases {
            assert_eq!(Value::parse_as(text, &ty), want, "{text} as {ty}");
        }
    }

    #[test]
    fn coerces_int_to_float_but_not_back() {
        assert_eq!(Value::Int(1).coerce(&Type::Float), Some(Value::Float(1.0)));
        assert_eq!(Value::Float(1.0).coerce(&Type::Int), None);
        assert_eq!(Value::Str("x".into()).coerce(&Type::Int), None);
    }
}
