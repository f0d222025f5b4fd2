//! Object bytes as files: one file per object version or uploaded part, named by a random id
//! and never changed once written (a copy is a hard link). With `--data-dir` they live in
//! `DIR/s3/objects` and are fsynced before the metadata that names them is journaled; without
//! it, in a scratch folder removed at exit. Reads and writes stream in bounded pieces.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use nimbus_core::http::Body;

use crate::checksum::{Hasher, Md5Hasher};

/// Bodies up to this size are read in one go; larger ones stream.
const INLINE_READ: u64 = 1024 * 1024;
const STREAM_CHUNK: usize = 1024 * 1024;

#[derive(Debug)]
pub struct Storage {
    dir: PathBuf,
    durable: bool,
}

impl Storage {
    pub fn open(data_dir: Option<&Path>) -> io::Result<Storage> {
        let (dir, durable) = match data_dir {
            Some(d) => (d.join("s3").join("objects"), true),
            None => (nimbus_core::scratch::path("s3"), false),
        };
        fs::create_dir_all(&dir)?;
        Ok(Storage { dir, durable })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        // Names are ids we made; anything else cannot point outside the folder.
        let safe: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
        self.dir.join(safe)
    }

    fn new_name() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    /// A new file to stream an upload into, hashing as it goes.
    pub fn create(&self, checksum: Option<&str>) -> io::Result<Incoming> {
        let name = Self::new_name();
        let path = self.path(&name);
        let file = File::create(&path)?;
        Ok(Incoming {
            name,
            path,
            file: Some(file),
            size: 0,
            md5: Md5Hasher::default(),
            pending: Vec::new(),
            checksum: checksum.and_then(|a| Hasher::new(a).map(|h| (a.to_string(), h))),
            durable: self.durable,
            kept: false,
        })
    }

    /// Another name for the same bytes (copies share the immutable file).
    pub fn link(&self, name: &str) -> io::Result<String> {
        let new = Self::new_name();
        if fs::hard_link(self.path(name), self.path(&new)).is_err() {
            fs::copy(self.path(name), self.path(&new))?;
        }
        if self.durable {
            File::open(&self.dir)?.sync_all()?;
        }
        Ok(new)
    }

    pub fn remove(&self, name: &str) {
        if name.is_empty() {
            return;
        }
        if let Err(err) = fs::remove_file(self.path(name)) {
            if err.kind() != io::ErrorKind::NotFound {
                tracing::warn!(name, error = %err, "could not remove an object file");
            }
        }
    }

    /// Remove files no record names (left by a crash between writing a file and journaling).
    pub fn sweep(&self, live: &std::collections::HashSet<String>) {
        let Ok(entries) = fs::read_dir(&self.dir) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !live.contains(&name) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Bytes `start..start+len` of a file as a response body: in hand when small, streamed
    /// from a blocking reader otherwise (memory stays at a few chunks whatever the size).
    pub fn read(&self, name: &str, start: u64, len: u64) -> io::Result<Body> {
        let mut file = File::open(self.path(name))?;
        if len <= INLINE_READ {
            let mut buf = vec![0u8; len as usize];
            file.seek(SeekFrom::Start(start))?;
            file.read_exact(&mut buf)?;
            return Ok(Body::from(buf));
        }
        let (tx, body) = Body::channel(4);
        tokio::task::spawn_blocking(move || {
            if let Err(err) = file.seek(SeekFrom::Start(start)) {
                let _ = tx.blocking_send(Err(err));
                return;
            }
            let mut left = len;
            while left > 0 {
                let mut buf = vec![0u8; (left as usize).min(STREAM_CHUNK)];
                if let Err(err) = file.read_exact(&mut buf) {
                    let _ = tx.blocking_send(Err(err));
                    return;
                }
                left -= buf.len() as u64;
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    return; // the client went away
                }
            }
        });
        Ok(body)
    }

    /// The whole file (archives for Lambda, small copies).
    pub fn read_all(&self, name: &str) -> io::Result<Vec<u8>> {
        fs::read(self.path(name))
    }

    /// Concatenate files into a new one (completing a multipart upload), hashing if asked.
    pub fn concat(&self, parts: &[String], checksum: Option<&str>) -> io::Result<Incoming> {
        let mut out = self.create(checksum)?;
        let mut buf = vec![0u8; STREAM_CHUNK];
        for part in parts {
            let mut file = File::open(self.path(part))?;
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                out.write_plain(&buf[..n])?;
            }
        }
        Ok(out)
    }
}

/// An upload being written. Dropped without [`Incoming::keep`], its file is removed, so a
/// refused or broken upload leaves nothing behind.
pub struct Incoming {
    pub name: String,
    path: PathBuf,
    file: Option<File>,
    pub size: u64,
    md5: Md5Hasher,
    /// Data not yet written: small pieces are gathered into writes of [`WRITE_BATCH`].
    pending: Vec<u8>,
    checksum: Option<(String, Hasher)>,
    durable: bool,
    kept: bool,
}

const WRITE_BATCH: usize = 1024 * 1024;

/// A finished upload: its file, size and digests.
#[derive(Debug)]
pub struct Written {
    pub file: Incoming,
    pub md5: [u8; 16],
    /// (algorithm, base64 value) when one was computed.
    pub checksum: Option<(String, String)>,
}

impl Incoming {
    fn write_plain(&mut self, data: &[u8]) -> io::Result<()> {
        self.md5.update(data);
        if let Some((_, h)) = &mut self.checksum {
            h.update(data);
        }
        self.size += data.len() as u64;
        self.file.as_mut().expect("open until finished").write_all(data)
    }

    /// Append data. Pieces are hashed at once and written in batches of 1 MiB; a batch write
    /// (which the kernel may throttle) runs where the runtime allows blocking.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.md5.update(data);
        if let Some((_, h)) = &mut self.checksum {
            h.update(data);
        }
        self.size += data.len() as u64;
        self.pending.extend_from_slice(data);
        if self.pending.len() >= WRITE_BATCH {
            self.flush_pending()?;
        }
        Ok(())
    }

    fn flush_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let file = self.file.as_mut().expect("open until finished");
        let pending = &self.pending;
        let result = if pending.len() >= WRITE_BATCH {
            tokio::task::block_in_place(|| file.write_all(pending))
        } else {
            file.write_all(pending)
        };
        self.pending.clear();
        result
    }

    /// Flush (and fsync with `--data-dir`) and return the digests.
    pub fn finish(mut self) -> io::Result<Written> {
        self.flush_pending()?;
        let file = self.file.take().expect("finished once");
        if self.durable {
            tokio::task::block_in_place(|| file.sync_all())?;
        }
        drop(file);
        let md5 = std::mem::take(&mut self.md5).finish();
        let checksum = self.checksum.take().map(|(a, h)| (a, h.finish()));
        Ok(Written { file: self, md5, checksum })
    }

    /// The file now belongs to a record: do not remove it on drop.
    pub fn keep(mut self) -> String {
        self.kept = true;
        std::mem::take(&mut self.name)
    }
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Incoming({}, {} bytes)", self.name, self.size)
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if !self.kept {
            self.file.take();
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        if !self.durable {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
