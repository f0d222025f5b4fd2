//! Content-addressed blob store on disk: function code and layer archives live here, never
//! inside locked, serialized state. Blobs are named by the hex SHA-256 of their content.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

#[derive(Debug)]
pub struct BlobStore {
    dir: PathBuf,
    /// Remove the directory on drop (in-memory mode uses a scratch directory).
    ephemeral: bool,
}

impl BlobStore {
    /// Open a store, sweeping partial `.tmp` blobs a crash left behind (they were never
    /// acknowledged). Errors name the folder.
    pub fn open(dir: &Path) -> io::Result<BlobStore> {
        fs::create_dir_all(dir).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        for entry in fs::read_dir(dir)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                tracing::info!(path = %entry.path().display(), "removing a partial blob left by a crash");
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(BlobStore { dir: dir.to_path_buf(), ephemeral: false })
    }

    /// A scratch store under the system temp directory, removed when dropped.
    pub fn scratch() -> io::Result<BlobStore> {
        let dir = crate::scratch::create("blobs")?;
        Ok(BlobStore { dir, ephemeral: true })
    }

    pub fn sha256_hex(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    /// Store `bytes` durably and return their hex SHA-256. Storing the same content twice is free.
    pub fn put(&self, bytes: &[u8]) -> io::Result<String> {
        let digest = Self::sha256_hex(bytes);
        let path = self.path(&digest);
        if path.exists() {
            // Fresh again: garbage collection spares blobs touched within its grace period.
            let _ = File::options().write(true).open(&path).and_then(|f| f.set_modified(std::time::SystemTime::now()));
            return Ok(digest);
        }
        let tmp = self.dir.join(format!(".{digest}.{:016x}.tmp", rand::random::<u64>()));
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        // Scratch stores hold nothing that must survive a crash.
        if !self.ephemeral {
            file.sync_all()?;
        }
        drop(file);
        fs::rename(&tmp, &path)?;
        if !self.ephemeral {
            sync_dir(&self.dir)?;
        }
        Ok(digest)
    }

    pub fn get(&self, digest: &str) -> io::Result<Vec<u8>> {
        fs::read(self.path(digest))
    }

    pub fn contains(&self, digest: &str) -> bool {
        self.path(digest).exists()
    }

    pub fn path(&self, digest: &str) -> PathBuf {
        // Digests are hex; anything else cannot name a file outside the store.
        let safe: String = digest.chars().filter(char::is_ascii_hexdigit).collect();
        self.dir.join(safe)
    }

    pub fn delete(&self, digest: &str) -> io::Result<()> {
        match fs::remove_file(self.path(digest)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Every stored digest (for garbage collection against live references).
    pub fn list(&self) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                out.push(name);
            }
        }
        Ok(out)
    }
}

impl BlobStore {
    /// Delete every blob not in `referenced` and untouched for `grace` (a blob stored just now
    /// for a change still being recorded is spared). Returns how many were deleted.
    pub fn collect_garbage(&self, referenced: &std::collections::HashSet<String>, grace: std::time::Duration) -> usize {
        let Ok(digests) = self.list() else { return 0 };
        let mut deleted = 0;
        for digest in digests {
            if referenced.contains(&digest) {
                continue;
            }
            let age = fs::metadata(self.path(&digest)).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
            if age.is_some_and(|a| a >= grace) && self.delete(&digest).is_ok() {
                deleted += 1;
            }
        }
        deleted
    }
}

impl Drop for BlobStore {
    fn drop(&mut self) {
        if self.ephemeral {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_by_content() {
        let store = BlobStore::scratch().unwrap();
        let a = store.put(b"hello").unwrap();
        assert_eq!(a, BlobStore::sha256_hex(b"hello"));
        assert_eq!(store.put(b"hello").unwrap(), a);
        assert_eq!(store.get(&a).unwrap(), b"hello");
        assert_eq!(store.list().unwrap(), vec![a.clone()]);
        store.delete(&a).unwrap();
        assert!(!store.contains(&a));
    }

    #[test]
    fn collects_only_unreferenced_blobs_past_their_grace() {
        let store = BlobStore::scratch().unwrap();
        let kept = store.put(b"kept").unwrap();
        let garbage = store.put(b"garbage").unwrap();
        let referenced = std::collections::HashSet::from([kept.clone()]);
        assert_eq!(store.collect_garbage(&referenced, std::time::Duration::from_secs(3600)), 0, "within grace");
        assert_eq!(store.collect_garbage(&referenced, std::time::Duration::ZERO), 1);
        assert!(store.contains(&kept) && !store.contains(&garbage));
    }

    #[test]
    fn opening_sweeps_partial_blobs() {
        let dir = std::env::temp_dir().join(format!("nimbus-blob-test-{:016x}", rand::random::<u64>()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(".abc.0123.tmp"), b"partial").unwrap();
        let store = BlobStore::open(&dir).unwrap();
        assert!(!dir.join(".abc.0123.tmp").exists());
        drop(store);
        fs::remove_dir_all(dir).unwrap();
    }
}
