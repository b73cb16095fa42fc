//! Copies of outputs delivered outside `.wharf/`: a step's output declared
//! with a destination (`outputs { report = "reports/latest" }`).

use std::path::Path;

/// Makes `dest` a copy of the folder `from`: copied to a sibling first and
/// renamed into place, so `dest` is the old copy or the new one, never half
/// of either. Links are copied as links.
pub fn replace_with_copy(from: &Path, dest: &Path) -> std::io::Result<()> {
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let staging = parent.join(format!(".{name}.wharf-partial"));
    let old = parent.join(format!(".{name}.wharf-old"));
    let _ = std::fs::remove_dir_all(&staging);
    copy_dir(from, &staging)?;
    let _ = std::fs::remove_dir_all(&old);
    if dest.exists() {
        std::fs::rename(dest, &old)?;
    }
    std::fs::rename(&staging, dest)?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
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
}
