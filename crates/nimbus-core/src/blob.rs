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
    pub fn open(dir: &Path) -> io::Result<BlobStore> {
        fs::create_dir_all(dir)?;
        Ok(BlobStore { dir: dir.to_path_buf(), ephemeral: false })
    }

    /// A scratch store under the system temp directory, removed when dropped.
    pub fn scratch() -> io::Result<BlobStore> {
        let dir = crate::scratch::path("blobs");
        fs::create_dir_all(&dir)?;
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
}
