//! Files in and out of a container through the engine's archive API
//! (`docker cp`): outputs copied out are written by wharf itself, so they
//! belong to the user who runs wharf even when the step ran as root; and
//! checkpoints restored before a start.

use bollard::Docker;
use bollard::query_parameters::{DownloadFromContainerOptions, UploadToContainerOptions};
use futures::TryStreamExt;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// A tar of a folder's contents (not the folder itself), for restoring
/// checkpoints.
pub fn tar_of_folder(dir: &Path) -> Result<Vec<u8>, String> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder
        .append_dir_all(".", dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    builder
        .into_inner()
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))
}

/// Writes `tar` into the container at `/` (or `at`).
pub async fn upload(docker: &Docker, container: &str, at: &str, tar: Vec<u8>) -> Result<(), String> {
    let options = UploadToContainerOptions {
        path: at.to_string(),
        ..Default::default()
    };
    docker
        .upload_to_container(container, Some(options), bollard::body_full(tar.into()))
        .await
        .map_err(|e| format!("cannot copy files into the container: {e}"))
}

/// Copies the container folder `from` into `to` on this machine (its
/// contents, not the folder itself). `to` is emptied first.
pub async fn download_dir(docker: &Docker, container: &str, from: &str, to: &Path) -> Result<u64, String> {
    if tokio::fs::try_exists(to).await.unwrap_or(false) {
        tokio::fs::remove_dir_all(to)
            .await
            .map_err(|e| format!("cannot empty {}: {e}", to.display()))?;
    }
    tokio::fs::create_dir_all(to)
        .await
        .map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let stream = docker
        .download_from_container(
            container,
            Some(DownloadFromContainerOptions {
                path: format!("{from}/."),
            }),
        )
        .map_err(std::io::Error::other);
    let reader = tokio_util::io::StreamReader::new(stream);
    let bridge = tokio_util::io::SyncIoBridge::new(reader);
    let dest = to.to_path_buf();
    let shown = from.to_string();
    tokio::task::spawn_blocking(move || unpack(bridge, &dest))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot copy {shown} out of the container: {e}"))
}

/// The first `limit` bytes of a file in the container, or `None` when it
/// does not exist.
pub async fn read_file(docker: &Docker, container: &str, path: &str, limit: usize) -> Option<Vec<u8>> {
    let stream =
        docker.download_from_container(container, Some(DownloadFromContainerOptions { path: path.to_string() }));
    let bytes: Vec<u8> = stream
        .try_fold(Vec::new(), |mut all, chunk| async move {
            if all.len() < limit + 1024 {
                all.extend_from_slice(&chunk);
            }
            Ok(all)
        })
        .await
        .ok()?;
    let mut archive = tar::Archive::new(bytes.as_slice());
    let mut entry = archive.entries().ok()?.next()?.ok()?;
    let mut out = Vec::new();
    entry.by_ref().take(limit as u64).read_to_end(&mut out).ok()?;
    Some(out)
}

/// Unpacks a tar whose entries start with `./` (the contents of the folder
/// asked for) into `dest`. Ownership is not kept: the files belong to
/// whoever runs wharf. Entries that would land outside `dest` are refused.
fn unpack(reader: impl Read, dest: &Path) -> std::io::Result<u64> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(false);
    archive.set_overwrite(true);
    let mut bytes = 0;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let mut relative = PathBuf::new();
        for part in path.components() {
            match part {
                Component::Normal(p) => relative.push(p),
                Component::CurDir => {}
                _ => {
                    return Err(std::io::Error::other(format!(
                        "the archive holds the unsafe path {}",
                        path.display()
                    )));
                }
            }
        }
        if relative.as_os_str().is_empty() {
            continue;
        }
        bytes += entry.header().size().unwrap_or(0);
        let target = dest.join(&relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        entry.unpack(&target)?;
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpack_strips_the_root_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(2);
        header.set_mode(0o600);
        builder.append_data(&mut header, "./sub/a.txt", &b"hi"[..]).unwrap();
        let tar = builder.into_inner().unwrap();
        unpack(tar.as_slice(), dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("sub/a.txt")).unwrap(), "hi");

        let mut bad = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        // `append_data` refuses `..`; write the name into the header directly.
        header.as_old_mut().name[..9].copy_from_slice(b"../evil.x");
        header.set_cksum();
        bad.append(&header, &b"x"[..]).unwrap();
        let tar = bad.into_inner().unwrap();
        let err = unpack(tar.as_slice(), &dir.path().join("inner")).unwrap_err();
        assert!(err.to_string().contains("unsafe path"), "{err}");
        assert!(!dir.path().join("evil.x").exists());
    }
}
