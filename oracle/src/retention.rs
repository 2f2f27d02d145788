//! The inputs of metered calls, kept for the dispute window (docs/PROTOCOL.md §9.7): in chain
//! mode every call of a model the registry assessed `disputable` has its input written, as its
//! canonical encoding (docs/PROTOCOL.md §2, whose SHA-256 is the receipt's `inputHash`), to
//! `<models_dir>/inputs/<hour>/<input hash>.bin` before its receipt is committed, where
//! `<hour>` is the receipt's timestamp in whole hours. The defender re-executes a disputed call
//! from it when the game's `open` transaction cannot be read (a game opened through a
//! contract). Whole hours are pruned once they are older than `chain.dispute_retention_secs`
//! (the `disputes` job); the bytes kept are the gauge `imo_retained_input_bytes`.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use crate::error::{OracleError, Result};

const HOUR_MS: i64 = 3_600_000;

/// Where the inputs are kept, and how many bytes.
#[derive(Debug, Clone)]
pub struct InputRetention {
    dir: PathBuf,
    bytes: Arc<AtomicU64>,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> OracleError {
    OracleError::Storage(format!("{what} {}: {e}", path.display()))
}

impl InputRetention {
    /// Opens (creates) the folder and counts what it holds.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| io_err("cannot create", &dir, e))?;
        let total = walk(&dir)?.iter().map(|(_, _, n)| n).sum();
        let r = Self {
            dir,
            bytes: Arc::new(AtomicU64::new(total)),
        };
        r.publish();
        Ok(r)
    }

    fn publish(&self) {
        metrics::gauge!("imo_retained_input_bytes").set(self.bytes.load(Ordering::Relaxed) as f64);
    }

    /// Bytes kept.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    fn path(&self, timestamp_ms: i64, input_hash: &[u8; 32]) -> PathBuf {
        self.dir
            .join((timestamp_ms.max(0) / HOUR_MS).to_string())
            .join(format!("{}.bin", hex::encode(input_hash)))
    }

    /// Keeps one call's input (its canonical encoding, hashing to `input_hash`); durable
    /// (written to a temporary file, synced, renamed) when this returns. The same input in the
    /// same hour is kept once.
    pub async fn keep(
        &self,
        timestamp_ms: i64,
        input_hash: &[u8; 32],
        encoding: &[u8],
    ) -> Result<()> {
        let path = self.path(timestamp_ms, input_hash);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(());
        }
        let parent = path.parent().expect("has an hour folder").to_path_buf();
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(|e| io_err("cannot create", &parent, e))?;
        let tmp = parent.join(format!(
            ".{}.{}.tmp",
            hex::encode(input_hash),
            ulid::Ulid::new()
        ));
        let write = async {
            let mut f = tokio::fs::File::create(&tmp).await?;
            tokio::io::AsyncWriteExt::write_all(&mut f, encoding).await?;
            f.sync_all().await?;
            tokio::fs::rename(&tmp, &path).await
        };
        if let Err(e) = write.await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(io_err("cannot keep a call's input in", &path, e));
        }
        self.bytes
            .fetch_add(encoding.len() as u64, Ordering::Relaxed);
        self.publish();
        Ok(())
    }

    /// The input with `input_hash` kept for a call at `timestamp_ms`, if it is still kept.
    pub async fn find(&self, timestamp_ms: i64, input_hash: &[u8; 32]) -> Result<Option<Vec<u8>>> {
        let path = self.path(timestamp_ms, input_hash);
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("cannot read", &path, e)),
        }
    }

    /// Removes every hour that ended more than `keep_secs` before `now_ms`; the files and
    /// bytes removed.
    pub async fn prune(&self, now_ms: i64, keep_secs: u64) -> Result<(usize, u64)> {
        let dir = self.dir.clone();
        let horizon = now_ms.saturating_sub((keep_secs as i64).saturating_mul(1000));
        let removed = tokio::task::spawn_blocking(move || -> Result<(usize, u64)> {
            let (mut files, mut bytes) = (0, 0);
            for (hour, path, n) in walk(&dir)? {
                if (hour + 1).saturating_mul(HOUR_MS) <= horizon {
                    std::fs::remove_file(&path).map_err(|e| io_err("cannot remove", &path, e))?;
                    files += 1;
                    bytes += n;
                }
            }
            // Empty hour folders go too.
            for e in std::fs::read_dir(&dir).map_err(|e| io_err("cannot list", &dir, e))? {
                let p = e.map_err(|e| io_err("cannot list", &dir, e))?.path();
                if p.is_dir() {
                    let _ = std::fs::remove_dir(&p); // fails while not empty: kept
                }
            }
            Ok((files, bytes))
        })
        .await
        .map_err(|e| OracleError::Storage(format!("pruning kept inputs: {e}")))??;
        self.bytes
            .fetch_sub(removed.1.min(self.bytes()), Ordering::Relaxed);
        self.publish();
        Ok(removed)
    }
}

/// Every kept file: (hour, path, bytes).
fn walk(dir: &Path) -> Result<Vec<(i64, PathBuf, u64)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| io_err("cannot list", dir, e))? {
        let e = e.map_err(|e| io_err("cannot list", dir, e))?;
        let Some(hour) = e.file_name().to_str().and_then(|s| s.parse::<i64>().ok()) else {
            continue;
        };
        let sub = e.path();
        if !sub.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&sub).map_err(|e| io_err("cannot list", &sub, e))? {
            let f = f.map_err(|e| io_err("cannot list", &sub, e))?;
            let p = f.path();
            if p.extension().is_some_and(|x| x == "bin") {
                let n = f.metadata().map(|m| m.len()).unwrap_or(0);
                out.push((hour, p, n));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_finds_counts_and_prunes_by_hour() {
        let dir = tempfile::tempdir().unwrap();
        let r = InputRetention::open(dir.path().join("inputs")).unwrap();
        let (h1, h2) = ([1u8; 32], [2u8; 32]);
        r.keep(10 * HOUR_MS + 5, &h1, b"first").await.unwrap();
        r.keep(10 * HOUR_MS + 9, &h1, b"first").await.unwrap(); // same hour: once
        r.keep(12 * HOUR_MS, &h2, b"second!").await.unwrap();
        assert_eq!(r.bytes(), 12);
        assert_eq!(
            r.find(10 * HOUR_MS, &h1).await.unwrap().as_deref(),
            Some(&b"first"[..])
        );
        assert_eq!(r.find(11 * HOUR_MS, &h1).await.unwrap(), None);
        // Reopened, it counts what is there.
        assert_eq!(
            InputRetention::open(dir.path().join("inputs"))
                .unwrap()
                .bytes(),
            12
        );
        // Hour 10 ends at 11h; kept 3600 s: gone at 12h, not before.
        assert_eq!(r.prune(12 * HOUR_MS - 1, 3600).await.unwrap(), (0, 0));
        assert_eq!(r.prune(12 * HOUR_MS, 3600).await.unwrap(), (1, 5));
        assert_eq!(r.find(10 * HOUR_MS, &h1).await.unwrap(), None);
        assert!(r.find(12 * HOUR_MS, &h2).await.unwrap().is_some());
        assert_eq!(r.bytes(), 7);
        assert!(!dir.path().join("inputs/10").exists(), "empty hours go");
    }
}
