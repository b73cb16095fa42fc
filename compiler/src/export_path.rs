//! Where an output may be exported: the rule both the compiler (for paths
//! written in the file or given with `-p`) and the runtime (again, before
//! the copy) apply. An export is a folder inside the pipeline file's
//! folder, named relatively: never absolute, never climbing out with `..`,
//! never the folder itself, never inside `.wharf/` (wharf's own state).
//! `s3://` URIs are not local paths and are not judged here.
//!
//! The check is on the text alone; the runtime also resolves links, which
//! only the file system can answer.

use std::path::{Component, Path, PathBuf};

/// Why an export destination is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportPathError {
    Absolute,
    /// `..` climbs above the pipeline's folder.
    Escapes,
    /// The path names the pipeline's folder itself (`.`, `a/..`).
    ProjectItself,
    /// The path is in `.wharf/`, wharf's state folder.
    StateFolder,
}

impl ExportPathError {
    /// What is wrong, to follow "output `x` is exported to `PATH`, ...".
    pub fn message(&self) -> &'static str {
        match self {
            ExportPathError::Absolute => "an absolute path, outside the pipeline's folder",
            ExportPathError::Escapes => "which climbs out of the pipeline's folder with `..`",
            ExportPathError::ProjectItself => "the pipeline's folder itself, which an export would replace",
            ExportPathError::StateFolder => "inside `.wharf/`, where wharf keeps its state",
        }
    }

    pub const HINT: &'static str = "an export is a folder inside the pipeline file's folder, named relatively \
         (`exports/report`); to put results elsewhere, copy them from there";
}

/// The destination as a clean relative path (no `.` or `..` left), or why
/// it is refused.
pub fn check_export_path(dest: &str) -> Result<PathBuf, ExportPathError> {
    let path = Path::new(dest);
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => return Err(ExportPathError::Absolute),
            Component::CurDir => {}
            Component::ParentDir => {
                if !clean.pop() {
                    return Err(ExportPathError::Escapes);
                }
            }
            Component::Normal(part) => clean.push(part),
        }
    }
    if clean.as_os_str().is_empty() {
        return Err(ExportPathError::ProjectItself);
    }
    if clean.components().next() == Some(Component::Normal(".wharf".as_ref())) {
        return Err(ExportPathError::StateFolder);
    }
    Ok(clean)
}

/// Whether an export destination is a local path (rather than an S3 URI).
pub fn is_local_export(dest: &str) -> bool {
    !dest.starts_with("s3://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_stay_inside_the_pipeline_folder() {
        let cases: &[(&str, Result<&str, ExportPathError>)] = &[
            ("exports/report", Ok("exports/report")),
            ("./exports//report/", Ok("exports/report")),
            ("a/../b", Ok("b")),
            ("data", Ok("data")),
            (".wharfish", Ok(".wharfish")),
            ("/abs/x", Err(ExportPathError::Absolute)),
            ("../x", Err(ExportPathError::Escapes)),
            ("../../x", Err(ExportPathError::Escapes)),
            ("a/../../x", Err(ExportPathError::Escapes)),
            (".", Err(ExportPathError::ProjectItself)),
            ("..", Err(ExportPathError::Escapes)),
            ("a/..", Err(ExportPathError::ProjectItself)),
            ("", Err(ExportPathError::ProjectItself)),
            (".wharf", Err(ExportPathError::StateFolder)),
            ("./.wharf/runs/x", Err(ExportPathError::StateFolder)),
        ];
        for (dest, want) in cases {
            let got = check_export_path(dest);
            assert_eq!(got, want.clone().map(PathBuf::from), "{dest:?}");
        }
    }
}
