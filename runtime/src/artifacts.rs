//! The artifact store: where outputs live, addressed by URI. Every check the
//! runtime makes on an artifact ("do the cached outputs still exist?") goes
//! through [`ArtifactStore`], implemented on the `object_store` crate so that
//! S3 (with the SageMaker backend) plugs in beside the local file system
//! without touching the scheduler.

use crate::backend::BoxFuture;
use object_store::ObjectStoreExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use std::path::{Path, PathBuf};

pub trait ArtifactStore: Send + Sync {
    /// Whether the artifact still exists: a file, or a folder with at least one file in it.
    fn exists<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<bool, String>>;

    /// The URI of an output produced at `path` on this machine.
    fn uri_for(&self, path: &Path) -> String;

    /// Where the artifact is on this machine, if it is here.
    fn local_path(&self, uri: &str) -> Option<PathBuf>;
}

/// Artifacts on this machine's file system, as `file:///absolute/path`.
pub struct LocalArtifacts {
    fs: LocalFileSystem,
}

impl LocalArtifacts {
    pub fn new() -> LocalArtifacts {
        LocalArtifacts {
            fs: LocalFileSystem::new(),
        }
    }
}

impl Default for LocalArtifacts {
    fn default() -> Self {
        LocalArtifacts::new()
    }
}

impl ArtifactStore for LocalArtifacts {
    fn exists<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            let Some(path) = self.local_path(uri) else {
                return Err(format!("{uri} is not a local artifact"));
            };
            let location = match ObjectPath::from_absolute_path(&path) {
                Ok(l) => l,
                Err(e) => return Err(format!("{}: {e}", path.display())),
            };
            // A folder is not an object; on this machine a folder that is
            // there exists, even empty (a train step's `output` may be).
            if path.is_dir() {
                return Ok(true);
            }
            match self.fs.head(&location).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(e.to_string()),
            }
        })
    }

    fn uri_for(&self, path: &Path) -> String {
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir().map_or_else(|_| path.to_path_buf(), |cwd| cwd.join(path))
        };
        format!("file://{}", absolute.display())
    }

    fn local_path(&self, uri: &str) -> Option<PathBuf> {
        uri.strip_prefix("file://").map(PathBuf::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_and_folders_exist() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = LocalArtifacts::new();
        let out = dir.path().join("out");
        std::fs::create_dir_all(&out).expect("mkdir");
        let uri = store.uri_for(&out);
        assert!(uri.starts_with("file:///"), "{uri}");
        assert_eq!(
            store.exists(&uri).await,
            Ok(true),
            "an empty folder is an artifact (a train step's empty `output`)"
        );
        std::fs::create_dir_all(out.join("sub")).expect("mkdir");
        std::fs::write(out.join("sub/model.bin"), b"w").expect("write");
        assert_eq!(store.exists(&uri).await, Ok(true));
        assert_eq!(store.exists(&store.uri_for(&out.join("sub/model.bin"))).await, Ok(true));
        assert_eq!(store.exists(&store.uri_for(&dir.path().join("gone"))).await, Ok(false));
        assert!(store.exists("s3://bucket/key").await.is_err());
        assert_eq!(store.local_path(&uri), Some(out));
    }
}
