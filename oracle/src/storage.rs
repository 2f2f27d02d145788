//! Content-addressed model files. Uploads are streamed into a staging file in the store's own
//! `tmp/` directory (same file system, so the final step is an atomic rename) while their
//! SHA-256 is computed. A staging file that is never persisted is deleted when dropped, so a
//! failed upload leaves no orphan file.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::{OracleError, Result};

#[derive(Debug, Clone)]
pub struct ModelStore {
    dir: PathBuf,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> OracleError {
    OracleError::Storage(format!("{what} {}: {e}", path.display()))
}

impl ModelStore {
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(|e| io_err("cannot create", &tmp, e))?;
        Ok(Self { dir })
    }

    /// The store's folder (model files, `tmp/`, and `inputs/`: calls' inputs kept for the
    /// dispute window, `crate::retention`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the file with this SHA-256 (hex) lives.
    pub fn path_for(&self, sha256_hex: &str) -> PathBuf {
        self.dir
            .join(&sha256_hex[..2])
            .join(format!("{sha256_hex}.onnx"))
    }

    /// Starts a staged upload that refuses to grow past `limit` bytes.
    pub async fn stage(&self, limit: u64) -> Result<StagedUpload> {
        let tmp = self.dir.join("tmp");
        let named = tempfile::Builder::new()
            .prefix("upload-")
            .suffix(".part")
            .tempfile_in(&tmp)
            .map_err(|e| io_err("cannot create a staging file in", &tmp, e))?;
        let (file, path) = named.into_parts();
        Ok(StagedUpload {
            file: tokio::fs::File::from_std(file),
            path,
            hasher: Sha256::new(),
            len: 0,
            limit,
        })
    }

    /// Moves a staged file to its content address. Returns the final path and whether this call
    /// created it (false: identical bytes were already stored).
    pub async fn persist(&self, staged: StagedFile) -> Result<(PathBuf, bool)> {
        let dest = self.path_for(&staged.sha256_hex());
        let parent = dest.parent().expect("content path has a parent").to_owned();
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(|e| io_err("cannot create", &parent, e))?;
        if tokio::fs::try_exists(&dest).await.unwrap_or(false) {
            return Ok((dest, false)); // identical content already stored; the staging file is dropped
        }
        let tmp_path = staged.path;
        let dest2 = dest.clone();
        tokio::task::spawn_blocking(move || tmp_path.persist(&dest2).map_err(|e| e.error))
            .await
            .map_err(|e| OracleError::Storage(e.to_string()))?
            .map_err(|e| io_err("cannot move upload to", &dest, e))?;
        Ok((dest, true))
    }

    /// Removes a stored file (used to undo a persist when the database write fails).
    pub async fn remove(&self, sha256_hex: &str) {
        let path = self.path_for(sha256_hex);
        if let Err(e) = tokio::fs::remove_file(&path).await {
            tracing::warn!(path = %path.display(), error = %e, "could not remove model file");
        }
    }
}

/// An upload being written.
pub struct StagedUpload {
    file: tokio::fs::File,
    path: tempfile::TempPath,
    hasher: Sha256,
    len: u64,
    limit: u64,
}

impl StagedUpload {
    /// Appends a chunk. Fails with `PayloadTooLarge` as soon as the limit is passed.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.len += chunk.len() as u64;
        if self.len > self.limit {
            return Err(OracleError::PayloadTooLarge { limit: self.limit });
        }
        self.hasher.update(chunk);
        self.file
            .write_all(chunk)
            .await
            .map_err(|e| io_err("cannot write", &self.path, e))
    }

    /// Flushes the file to disk and returns its digest.
    pub async fn finish(mut self) -> Result<StagedFile> {
        self.file
            .flush()
            .await
            .map_err(|e| io_err("cannot flush", &self.path, e))?;
        self.file
            .sync_all()
            .await
            .map_err(|e| io_err("cannot sync", &self.path, e))?;
        Ok(StagedFile {
            path: self.path,
            sha256: self.hasher.finalize().into(),
            len: self.len,
        })
    }
}

/// A complete upload on disk, not yet at its content address. Deleted on drop.
pub struct StagedFile {
    path: tempfile::TempPath,
    pub sha256: [u8; 32],
    pub len: u64,
}

impl StagedFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stage_hash_limit_and_cleanup() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::open(dir.path()).unwrap();
        let mut up = store.stage(10).await.unwrap();
        up.write(b"hello").await.unwrap();
        let staged = up.finish().await.unwrap();
        assert_eq!(staged.sha256_hex(), hex::encode(Sha256::digest(b"hello")));
        let (path, created) = store.persist(staged).await.unwrap();
        assert!(created);
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");

        // Same content again: not created twice, staging file gone.
        let mut up = store.stage(10).await.unwrap();
        up.write(b"hello").await.unwrap();
        let (_, created) = store.persist(up.finish().await.unwrap()).await.unwrap();
        assert!(!created);

        // Over the limit: error, and the staging file is deleted when dropped.
        let mut up = store.stage(4).await.unwrap();
        let err = up.write(b"hello").await.unwrap_err();
        assert_eq!(err.code(), "payload_too_large");
        drop(up);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }
}
