//! Inputs that hold symbolic links, staged. A process step reads its inputs
//! where they are; through a link inside an input folder (a data folder
//! linking to a shared data set, a gathered input's links to the outputs of
//! other steps) it would be handed a path outside its own folders that it
//! could write into. A container sees a mounted input folder, in which a
//! link to a path on this machine leads nowhere. Such an input is staged
//! instead: a copy of its tree in the attempt's `staged/<input>/`, with
//! real folders, every file a hard link to the original (a copy when a
//! hard link cannot be made, across file systems), links that lead outside
//! the input replaced by what they lead to, and links within it pointing
//! within the copy. The
//! step may add, remove or rename files there without touching anything
//! outside; it sees the same content as the hash covered
//! (`crate::hash::hash_path` follows the same links).
//!
//! An input without links is handed as it is: staging costs a hard link
//! per file, paid only where a link made it needed.

use std::path::{Path, PathBuf};

/// Which inputs holding links are staged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Every one (the process backend).
    All,
    /// All but a folder of links only (a gathered input), which the docker
    /// backend mounts link by link.
    ButLinkFolders,
}

/// The inputs as the step gets them: each folder input holding a link
/// replaced by its staged copy under `work_dir/staged/`.
pub(crate) fn stage_inputs(
    inputs: &[(String, PathBuf)],
    work_dir: &Path,
    which: Stage,
) -> Result<Vec<(String, PathBuf)>, String> {
    let mut out = Vec::with_capacity(inputs.len());
    for (name, path) in inputs {
        let needs_staging = std::fs::metadata(path).is_ok_and(|m| m.is_dir())
            && holds_links(path)
            && !(which == Stage::ButLinkFolders && only_links(path));
        if !needs_staging {
            out.push((name.clone(), path.clone()));
            continue;
        }
        let staged = work_dir.join("staged").join(name);
        let failed = |e: std::io::Error| format!("cannot stage input `{name}` from {}: {e}", path.display());
        if std::fs::symlink_metadata(&staged).is_ok() {
            std::fs::remove_dir_all(&staged).map_err(failed)?;
        }
        let root = std::fs::canonicalize(path).map_err(failed)?;
        let mut walk = Mirror {
            root: root.clone(),
            staged: staged.clone(),
            followed: vec![root.clone()],
        };
        walk.dir(&root, &staged).map_err(failed)?;
        out.push((name.clone(), staged));
    }
    Ok(out)
}

/// Whether `dir` holds entries and every one is a symbolic link.
fn only_links(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let kinds: Vec<bool> = entries
        .flatten()
        .map(|e| e.file_type().is_ok_and(|t| t.is_symlink()))
        .collect();
    !kinds.is_empty() && kinds.iter().all(|&link| link)
}

/// Whether any entry below `dir` is a symbolic link.
fn holds_links(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| match entry.file_type() {
        Ok(kind) if kind.is_symlink() => true,
        Ok(kind) if kind.is_dir() => holds_links(&entry.path()),
        _ => false,
    })
}

struct Mirror {
    /// The input folder, resolved, and its staged copy.
    root: PathBuf,
    staged: PathBuf,
    /// The folders being copied that were reached through links (and the
    /// root): following a link into one of them again would never end.
    followed: Vec<PathBuf>,
}

impl Mirror {
    /// Recreates folder `from` as `to`. A link within the input becomes a
    /// relative link to the same place in the copy; one that leads outside
    /// is followed (as the hash follows it); one that leads nowhere is left
    /// out (there is nothing to read); one that loops is an error naming it.
    fn dir(&mut self, from: &Path, to: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let target = to.join(entry.file_name());
            if kind.is_dir() {
                self.dir(&entry.path(), &target)?;
            } else if kind.is_symlink() {
                let Ok(resolved) = std::fs::canonicalize(entry.path()) else {
                    continue;
                };
                if let Ok(inside) = resolved.strip_prefix(&self.root) {
                    let depth = to.strip_prefix(&self.staged).map_or(0, |p| p.components().count());
                    let mut relative: PathBuf = std::iter::repeat_n("..", depth).collect();
                    relative.push(inside);
                    if relative.as_os_str().is_empty() {
                        relative.push(".");
                    }
                    std::os::unix::fs::symlink(relative, &target)?;
                } else if resolved.is_dir() {
                    if self.followed.iter().any(|f| f.starts_with(&resolved)) {
                        return Err(crate::hash::link_loop(&entry.path(), &resolved));
                    }
                    self.followed.push(resolved.clone());
                    self.dir(&resolved, &target)?;
                    self.followed.pop();
                } else {
                    link_or_copy(&resolved, &target)?;
                }
            } else {
                link_or_copy(&entry.path(), &target)?;
            }
        }
        Ok(())
    }
}

fn link_or_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_staged_as_real_files_and_folders() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(outside.path().join("shared")).unwrap();
        std::fs::write(outside.path().join("shared/a.csv"), "1\n").unwrap();
        let data = tempfile::tempdir().unwrap();
        std::fs::write(data.path().join("local.csv"), "2\n").unwrap();
        std::os::unix::fs::symlink(outside.path().join("shared"), data.path().join("shared")).unwrap();
        std::os::unix::fs::symlink("local.csv", data.path().join("alias.csv")).unwrap();
        std::os::unix::fs::symlink("/nowhere", data.path().join("dangling")).unwrap();
        let plain = tempfile::tempdir().unwrap();
        std::fs::write(plain.path().join("x"), "x").unwrap();
        let work = tempfile::tempdir().unwrap();
        let inputs = vec![
            ("data".to_string(), data.path().to_path_buf()),
            ("plain".to_string(), plain.path().to_path_buf()),
        ];
        let staged = stage_inputs(&inputs, work.path(), Stage::All).unwrap();
        assert_eq!(staged[1].1, plain.path(), "an input without links is handed as it is");
        let dir = &staged[0].1;
        assert!(dir.starts_with(work.path()));
        for name in ["shared", "shared/a.csv", "local.csv"] {
            let meta = std::fs::symlink_metadata(dir.join(name)).unwrap();
            assert!(!meta.file_type().is_symlink(), "{name} is no link");
        }
        assert_eq!(
            std::fs::read_link(dir.join("alias.csv")).unwrap(),
            Path::new("local.csv")
        );
        assert!(!dir.join("dangling").exists());
        assert_eq!(std::fs::read_to_string(dir.join("shared/a.csv")).unwrap(), "1\n");
        // What the step adds in the staged folder stays there.
        std::fs::write(dir.join("shared/new.csv"), "n").unwrap();
        assert!(!outside.path().join("shared/new.csv").exists());
        // The same content, and what the step added.
        assert_eq!(
            crate::hash::hash_path(dir).unwrap().size,
            crate::hash::hash_path(data.path()).unwrap().size + 1
        );
    }

    #[test]
    fn a_looping_link_is_an_error() {
        let outer = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(outer.path().join("data")).unwrap();
        std::os::unix::fs::symlink(outer.path(), outer.path().join("data/up")).unwrap();
        let work = tempfile::tempdir().unwrap();
        let err = stage_inputs(&[("d".into(), outer.path().join("data"))], work.path(), Stage::All).unwrap_err();
        assert!(err.contains("a loop"), "{err}");
    }

    #[test]
    fn a_folder_of_links_may_be_left_to_the_backend() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("a"), "a").unwrap();
        let gathered = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), gathered.path().join("eu")).unwrap();
        let work = tempfile::tempdir().unwrap();
        let inputs = [("all".to_string(), gathered.path().to_path_buf())];
        let kept = stage_inputs(&inputs, work.path(), Stage::ButLinkFolders).unwrap();
        assert_eq!(kept[0].1, gathered.path());
        let staged = stage_inputs(&inputs, work.path(), Stage::All).unwrap();
        assert_eq!(std::fs::read_to_string(staged[0].1.join("eu/a")).unwrap(), "a");
    }
}
