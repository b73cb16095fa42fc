//! A target's settings: `name = value` entries, each checked against the
//! [`SettingSpec`](crate::backends::SettingSpec) of a backend that reads it.
//! The compiler keeps them as data; the backend that runs a step reads
//! the ones it declared.

use serde::Serialize;
use std::collections::BTreeMap;

/// A target's settings (or a step override's), by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TargetSettings(BTreeMap<String, Setting>);

/// A setting's value: text, an environment variable read when the run
/// starts, an int or a boolean.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum Setting {
    Text(String),
    Env(String),
    Int(i64),
    Bool(bool),
}

impl Setting {
    /// The value as text: literal text as it is, an environment variable
    /// read through `env` (`None` when it is not set), ints and booleans
    /// as written.
    pub fn read(&self, env: impl Fn(&str) -> Option<String>) -> Option<String> {
        match self {
            Setting::Text(t) => Some(t.clone()),
            Setting::Env(var) => env(var),
            Setting::Int(n) => Some(n.to_string()),
            Setting::Bool(b) => Some(b.to_string()),
        }
    }
}

impl TargetSettings {
    pub fn get(&self, name: &str) -> Option<&Setting> {
        self.0.get(name)
    }

    pub fn set(&mut self, name: &str, value: Setting) {
        self.0.insert(name.to_string(), value);
    }

    /// Literal text (not an `env(...)`).
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.0.get(name)? {
            Setting::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        match self.0.get(name)? {
            Setting::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.0.get(name)? {
            Setting::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// In name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Setting)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// These settings with `over`'s on top.
    pub fn merged(&self, over: &TargetSettings) -> TargetSettings {
        let mut merged = self.clone();
        merged.0.extend(over.0.iter().map(|(k, v)| (k.clone(), v.clone())));
        merged
    }
}
