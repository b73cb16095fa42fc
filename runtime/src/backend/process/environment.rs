//! The environment a step's process starts with: Wharf's own process
//! environment, minus the step-specific variables it may have inherited from
//! an enclosing step, plus the attempt's resolved `env`, plus `WHARF_*` and
//! the toolkit's `SM_*` variables. The variables Wharf sets win over the
//! attempt's: they name folders Wharf manages.

use super::layout::Layout;
use super::toolkit;
use crate::backend::Attempt;
use std::collections::BTreeMap;
use std::ffi::OsString;

/// Prefixes of the variables that describe one attempt. Inherited ones are
/// removed so that a step run by a step (a nested `wharf run`) sees only its
/// own inputs and channels.
const PER_ATTEMPT: [&str; 3] = ["WHARF_INPUT_", "WHARF_OUTPUT_", "SM_"];

pub(super) struct Environment {
    /// Inherited variables to remove.
    pub(super) remove: Vec<OsString>,
    /// Variables to set, over the inherited ones.
    pub(super) set: BTreeMap<OsString, OsString>,
}

impl Environment {
    pub(super) fn new(attempt: &Attempt, layout: &Layout) -> Result<Self, String> {
        let remove = std::env::vars_os()
            .map(|(name, _)| name)
            .filter(|name| {
                name.to_str()
                    .is_some_and(|n| PER_ATTEMPT.iter().any(|p| n.starts_with(p)))
            })
            .collect();
        let mut set = BTreeMap::new();
        for (name, value) in &attempt.env {
            // Name the variable but never show the value: it may be a secret.
            if !is_valid_name(name) {
                return Err(format!("`{name}` cannot be the name of an environment variable"));
            }
            if value.contains('\0') {
                return Err(format!(
                    "the value of environment variable `{name}` contains a NUL byte"
                ));
            }
            set.insert(OsString::from(name), OsString::from(value));
        }
        let wharf = wharf_variables(attempt, layout);
        for (name, value) in wharf.into_iter().chain(toolkit::variables(attempt, layout)) {
            // An input or hyperparameter called `a=b`, or a hyperparameter
            // that decodes to a string with a NUL, cannot be a variable; it
            // is still in `SM_HPS` or the config files.
            if is_valid_name(&name) && !value.as_encoded_bytes().contains(&0) {
                set.insert(name.into(), value);
            }
        }
        Ok(Environment { remove, set })
    }
}

fn wharf_variables(attempt: &Attempt, layout: &Layout) -> Vec<(String, OsString)> {
    let mut vars = vec![
        ("WHARF_RUN".to_owned(), OsString::from(&attempt.run)),
        ("WHARF_STEP".to_owned(), OsString::from(&attempt.step)),
        ("WHARF_ATTEMPT".to_owned(), OsString::from(attempt.attempt.to_string())),
    ];
    for (name, path) in &layout.inputs {
        vars.push((format!("WHARF_INPUT_{}", variable_suffix(name)), path.into()));
    }
    for (name, dir) in &layout.outputs {
        vars.push((format!("WHARF_OUTPUT_{}", variable_suffix(name)), dir.into()));
    }
    vars
}

/// `raw-data.v2` -> `RAW_DATA_V2`: Wharf's names for a variable about a
/// named input or output, so that a shell can read it.
fn variable_suffix(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['=', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes() {
        let cases = [
            ("train", "TRAIN"),
            ("raw-data", "RAW_DATA"),
            ("v1.2", "V1_2"),
            ("Mixed_case", "MIXED_CASE"),
        ];
        for (name, want) in cases {
            assert_eq!(variable_suffix(name), want);
        }
    }
}
