//! Copies of outputs delivered outside `.wharf/`: a step's output declared
//! with a destination (`outputs { report = "reports/latest" }`), and the
//! guard that keeps them from harming the user's files.
//!
//! An export lands inside the pipeline file's folder (the text rule is
//! `wharf_compiler::export_path`; here links are resolved too, so a
//! linked parent cannot lead out), never in `.wharf/`, and replaces only a
//! folder wharf exported itself: every export carries a marker file,
//! [`MARKER`], naming the pipeline, step, output and run that made it. An
//! existing folder without one (the user's `data/`) is refused, unless it
//! is empty. The copy is made beside the destination and renamed over it,
//! and nothing of it is left behind when any step of that fails.

use std::path::{Path, PathBuf};
use wharf_compiler::export_path::check_export_path;

/// The file in an exported folder that says wharf made it (product surface,
/// docs/runtime.md "Exports").
pub const MARKER: &str = ".wharf-export";

/// Who made an export, written into its [`MARKER`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportMark {
    pub pipeline: String,
    pub step: String,
    pub output: String,
    pub run: String,
}

/// Where export `dest` (as written in the pipeline) lands, when it may:
/// inside `project_dir` once links are resolved, outside `state_dir`, and
/// either absent, empty, or an earlier export of wharf's. The error says
/// what is wrong and how to go on.
pub fn check_destination(project_dir: &Path, state_dir: Option<&Path>, dest: &str) -> Result<PathBuf, String> {
    let relative = check_export_path(dest).map_err(|why| format!("it is {}", why.message()))?;
    let project = std::fs::canonicalize(project_dir)
        .map_err(|e| format!("cannot resolve the pipeline's folder {}: {e}", project_dir.display()))?;
    let full = project.join(&relative);
    // The deepest part of the path that exists, with links resolved: a
    // linked parent (`out -> /elsewhere`) must not lead out.
    let mut existing = full.clone();
    let mut rest = Vec::new();
    while std::fs::symlink_metadata(&existing).is_err() {
        let Some(name) = existing.file_name().map(|n| n.to_os_string()) else {
            break;
        };
        rest.push(name);
        existing.pop();
    }
    let dest_exists = rest.is_empty();
    if dest_exists && std::fs::symlink_metadata(&full).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(format!(
            "{} is a link, not a folder wharf exported; remove the link or choose another path",
            full.display()
        ));
    }
    let mut resolved =
        std::fs::canonicalize(&existing).map_err(|e| format!("cannot resolve {}: {e}", existing.display()))?;
    for name in rest.iter().rev() {
        resolved.push(name);
    }
    if !dest_exists && !existing.is_dir() {
        return Err(format!(
            "{} is a file, so no folder can be made below it; choose another path",
            existing.display()
        ));
    }
    if !resolved.starts_with(&project) {
        return Err(format!(
            "it leads to {} through a link, outside the pipeline's folder {}; choose a path inside it",
            resolved.display(),
            project.display()
        ));
    }
    if let Some(state) = state_dir.and_then(|s| std::fs::canonicalize(s).ok())
        && (resolved.starts_with(&state) || state.starts_with(&resolved))
    {
        return Err(format!(
            "it would write into or replace {}, where wharf keeps its state; choose another path",
            state.display()
        ));
    }
    if dest_exists {
        let meta = std::fs::metadata(&resolved).map_err(|e| format!("cannot read {}: {e}", resolved.display()))?;
        if !meta.is_dir() {
            return Err(format!(
                "{} is a file, not a folder wharf exported; move or delete it, or choose another path",
                resolved.display()
            ));
        }
        let is_mine = resolved.join(MARKER).is_file();
        let is_empty = std::fs::read_dir(&resolved)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !is_mine && !is_empty {
            return Err(format!(
                "the folder {} exists and wharf did not export it (it has no {MARKER}), so replacing it could lose \
                 your files; move or delete it, or choose another path",
                resolved.display()
            ));
        }
    }
    Ok(resolved)
}

/// Exports folder `from` to `dest`, checked first by [`check_destination`]
/// (again: the file system may have changed since the plan). Returns the
/// folder written.
pub fn export_output(
    project_dir: &Path,
    state_dir: Option<&Path>,
    dest: &str,
    from: &Path,
    mark: &ExportMark,
) -> Result<PathBuf, String> {
    let target = check_destination(project_dir, state_dir, dest)?;
    let marker = serde_json::to_string_pretty(mark).map_err(|e| e.to_string())?;
    replace_with(from, &target, Some(&marker)).map_err(|e| e.to_string())?;
    Ok(target)
}

/// Makes `dest` a copy of the folder `from`: copied to a sibling first and
/// renamed into place, so `dest` is the old copy or the new one, never half
/// of either. Links are copied as links. For wharf's own folders (an
/// output collected from a container); exports go through [`export_output`].
pub fn replace_with_copy(from: &Path, dest: &Path) -> std::io::Result<()> {
    replace_with(from, dest, None)
}

fn replace_with(from: &Path, dest: &Path, marker: Option<&str>) -> std::io::Result<()> {
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(name) = dest.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} names no folder", dest.display()),
        ));
    };
    std::fs::create_dir_all(parent)?;
    let staging = parent.join(format!(".{name}.wharf-partial"));
    let old = parent.join(format!(".{name}.wharf-old"));
    let _ = std::fs::remove_dir_all(&staging);
    let _ = std::fs::remove_dir_all(&old);
    let result = (|| {
        copy_dir(from, &staging)?;
        if let Some(text) = marker {
            std::fs::write(staging.join(MARKER), text)?;
        }
        let had_old = dest.exists();
        if had_old {
            std::fs::rename(dest, &old)?;
        }
        if let Err(e) = std::fs::rename(&staging, dest) {
            if had_old {
                // Put the old copy back: the destination must not vanish.
                let _ = std::fs::rename(&old, dest);
            }
            return Err(e);
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&staging);
    let _ = std::fs::remove_dir_all(&old);
    result
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark() -> ExportMark {
        ExportMark {
            pipeline: "p".into(),
            step: "s".into(),
            output: "o".into(),
            run: "r".into(),
        }
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("wharf-partial") || n.contains("wharf-old"))
            .collect()
    }

    #[test]
    fn the_destination_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("out");
        std::fs::create_dir_all(from.join("sub")).unwrap();
        std::fs::write(from.join("sub/a.txt"), "new").unwrap();
        let dest = dir.path().join("exports/report");
        std::fs::create_dir_all(&dest).unwrap();
        std::fs::write(dest.join("stale.txt"), "old").unwrap();
        super::replace_with_copy(&from, &dest).unwrap();
        assert_eq!(std::fs::read_to_string(dest.join("sub/a.txt")).unwrap(), "new");
        assert!(!dest.join("stale.txt").exists());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("exports"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(leftovers.len(), 1, "no staging folders left");
    }

    #[test]
    fn an_export_replaces_only_what_wharf_exported() {
        let project = tempfile::tempdir().unwrap();
        let from = project.path().join("out");
        std::fs::create_dir_all(&from).unwrap();
        std::fs::write(from.join("a.txt"), "new").unwrap();
        // The user's folder stays as it is.
        std::fs::create_dir_all(project.path().join("data")).unwrap();
        std::fs::write(project.path().join("data/keep.csv"), "1,2\n").unwrap();
        let err = export_output(project.path(), None, "data", &from, &mark()).unwrap_err();
        assert!(err.contains("wharf did not export it"), "{err}");
        assert_eq!(
            std::fs::read_to_string(project.path().join("data/keep.csv")).unwrap(),
            "1,2\n"
        );
        // A fresh path, then the same again: wharf's own export is replaced.
        let written = export_output(project.path(), None, "exports/r", &from, &mark()).unwrap();
        assert!(written.join(MARKER).is_file());
        std::fs::write(from.join("a.txt"), "newer").unwrap();
        export_output(project.path(), None, "exports/r", &from, &mark()).unwrap();
        assert_eq!(std::fs::read_to_string(written.join("a.txt")).unwrap(), "newer");
        // An empty folder holds nothing to lose.
        std::fs::create_dir_all(project.path().join("empty")).unwrap();
        export_output(project.path(), None, "empty", &from, &mark()).unwrap();
        assert!(leftovers(project.path()).is_empty());
        assert!(leftovers(&project.path().join("exports")).is_empty());
    }

    #[test]
    fn links_and_the_state_folder_cannot_lead_an_export_astray() {
        let outside = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        let from = project.path().join("out");
        std::fs::create_dir_all(&from).unwrap();
        std::fs::write(from.join("a.txt"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path(), project.path().join("linked")).unwrap();
        let err = export_output(project.path(), None, "linked/report", &from, &mark()).unwrap_err();
        assert!(err.contains("through a link"), "{err}");
        let err = export_output(project.path(), None, "linked", &from, &mark()).unwrap_err();
        assert!(err.contains("is a link"), "{err}");
        assert_eq!(
            std::fs::read_dir(outside.path()).unwrap().count(),
            0,
            "nothing written outside"
        );
        let state = project.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        let err = export_output(project.path(), Some(&state), "state/x", &from, &mark()).unwrap_err();
        assert!(err.contains("keeps its state"), "{err}");
        std::fs::write(project.path().join("notes.txt"), "n").unwrap();
        let err = export_output(project.path(), None, "notes.txt/x", &from, &mark()).unwrap_err();
        assert!(err.contains("is a file"), "{err}");
        let err = export_output(project.path(), None, "notes.txt", &from, &mark()).unwrap_err();
        assert!(err.contains("is a file"), "{err}");
        for (dest, want) in [
            ("/abs", "absolute"),
            ("../x", "climbs out"),
            (".", "folder itself"),
            ("..", "climbs out"),
        ] {
            let err = export_output(project.path(), None, dest, &from, &mark()).unwrap_err();
            assert!(err.contains(want), "{dest}: {err}");
        }
        assert!(leftovers(project.path()).is_empty());
    }
}
