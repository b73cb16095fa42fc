//! How the CI formats (`check --format github|sarif`) name a source file:
//! relative to the folder wharf runs in, as the repository's checkout
//! names it, so that GitHub puts the annotation on the right file. The
//! text and JSON formats keep the path as it was given.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// A source file's path, relative to the current folder when it is inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportPath {
    /// `/`-separated, without `./`: `pipelines/churn.wharf`, `../lib/x.wharf`.
    Relative(String),
    /// Outside the current folder (or no current folder to compare with).
    Absolute(PathBuf),
}

impl ReportPath {
    /// `name` is a [`wharf_compiler::source::SourceFile`]'s name: the path
    /// as given on the command line or reached through imports.
    pub fn new(name: &str, cwd: Option<&Path>) -> ReportPath {
        let path = Path::new(name);
        if path.is_absolute() {
            match cwd.and_then(|cwd| path.strip_prefix(cwd).ok()) {
                Some(inside) => ReportPath::Relative(slashed(inside)),
                None => ReportPath::Absolute(path.to_path_buf()),
            }
        } else {
            ReportPath::Relative(slashed(path))
        }
    }

    /// A URI reference: relative (to be resolved against the current
    /// folder), or a `file://` URI for a file outside it.
    pub fn uri(&self) -> String {
        match self {
            ReportPath::Relative(path) => wharf_aws::s3::encode_path(path),
            ReportPath::Absolute(path) => file_uri(path),
        }
    }

    pub fn is_relative(&self) -> bool {
        matches!(self, ReportPath::Relative(_))
    }
}

impl fmt::Display for ReportPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportPath::Relative(path) => f.write_str(path),
            ReportPath::Absolute(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The components of a relative path joined with `/`, `.` left out.
fn slashed(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_string()),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
        })
        .collect();
    parts.join("/")
}

/// `file:///abs/path`, percent-encoded; a folder's URI ends with `/` when
/// `path` is given with one (SARIF wants base URIs to end with it).
pub fn file_uri(path: &Path) -> String {
    let text = path.to_string_lossy();
    let mut uri = String::from("file://");
    if !text.starts_with('/') {
        uri.push('/');
    }
    uri.push_str(&wharf_aws::s3::encode_path(&text));
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_relative_to_the_current_folder_when_inside_it() {
        let cwd = Path::new("/work/repo");
        let cases = [
            ("pipelines/churn.wharf", "pipelines/churn.wharf", true),
            ("./pipelines/./churn.wharf", "pipelines/churn.wharf", true),
            ("../lib/x.wharf", "../lib/x.wharf", true),
            ("/work/repo/tests/a.wharf", "tests/a.wharf", true),
            ("/tmp/x/a.wharf", "/tmp/x/a.wharf", false),
            ("/work/repository/a.wharf", "/work/repository/a.wharf", false),
        ];
        for (name, shown, relative) in cases {
            let path = ReportPath::new(name, Some(cwd));
            assert_eq!(
                (path.to_string().as_str(), path.is_relative()),
                (shown, relative),
                "{name}"
            );
        }
        assert!(!ReportPath::new("/work/repo/a.wharf", None).is_relative());
    }

    #[test]
    fn uris_are_percent_encoded() {
        let cwd = Path::new("/w");
        let cases = [
            ("a b/c:d.wharf", "a%20b/c%3Ad.wharf"),
            ("ünï,%#?.wharf", "%C3%BCn%C3%AF%2C%25%23%3F.wharf"),
            ("/tmp/a b/x.wharf", "file:///tmp/a%20b/x.wharf"),
            ("/w/sub/x.wharf", "sub/x.wharf"),
        ];
        for (name, uri) in cases {
            assert_eq!(ReportPath::new(name, Some(cwd)).uri(), uri, "{name}");
        }
        assert_eq!(file_uri(Path::new("/work/my repo/")), "file:///work/my%20repo/");
    }
}
