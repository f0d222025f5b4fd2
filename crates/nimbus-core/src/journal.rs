//! A crash-safe key/value journal for `--data-dir` persistence.
//!
//! Each acknowledged mutation is appended as one line `<crc32-hex> <json>\n` and fsynced before
//! the caller answers the client, so it survives `kill -9`. On open the journal is replayed; a
//! torn or corrupt tail (a write cut short by a crash) is dropped, and the live records are
//! rewritten into a fresh file (compaction) through an atomic rename. A long-running process
//! compacts the same way once superseded records make up most of the file.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde_json::Value;

use crate::blob::sync_dir;

#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Mutex<Appender>,
    /// Owner-only (0600) file in an owner-only directory, for secrets such as key material.
    private: bool,
}

/// The open file and what is in it: bytes written, and the size of each key's live record.
#[derive(Debug)]
struct Appender {
    file: File,
    bytes: u64,
    live: std::collections::HashMap<String, u64>,
    live_bytes: u64,
}

/// Compact once the file is this large and mostly superseded records.
const COMPACT_MIN_BYTES: u64 = 8 << 20;
const COMPACT_RATIO: u64 = 4;

impl Appender {
    fn note(&mut self, key: &str, line_len: u64, live: bool) {
        self.bytes += line_len;
        if let Some(old) = self.live.remove(key) {
            self.live_bytes -= old;
        }
        if live {
            self.live.insert(key.to_string(), line_len);
            self.live_bytes += line_len;
        }
    }
}

/// The records a journal held when it was opened.
pub type Records = BTreeMap<String, Value>;

impl Journal {
    /// Open (or create) `dir/name.journal`, returning the journal and its live records.
    pub fn open(dir: &Path, name: &str) -> io::Result<(Journal, Records)> {
        Self::open_with(dir, name, false)
    }

    /// [`Journal::open`] for secrets: the file is created (and rewritten) with mode 0600 and
    /// its directory made 0700, so only the owner can read it.
    pub fn open_private(dir: &Path, name: &str) -> io::Result<(Journal, Records)> {
        Self::open_with(dir, name, true)
    }

    fn open_with(dir: &Path, name: &str, private: bool) -> io::Result<(Journal, Records)> {
        fs::create_dir_all(dir)?;
        if private {
            restrict(dir, 0o700)?;
        }
        let path = dir.join(format!("{name}.journal"));
        let records = if path.exists() { replay(&path)? } else { Records::new() };
        let appender = rewrite(&path, &records, private)?;
        Ok((Journal { path, file: Mutex::new(appender), private }, records))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Durably record a batch of changes: `Some(value)` sets a key, `None` deletes it.
    pub fn write(&self, changes: &[(String, Option<Value>)]) -> io::Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        let mut file = self.file.lock();
        for (key, value) in changes {
            let line = encode_line(key, value.as_ref());
            file.note(key, line.len() as u64, value.is_some());
            buf.extend_from_slice(&line);
        }
        file.file.write_all(&buf)?;
        file.file.sync_data()?;
        if file.bytes >= COMPACT_MIN_BYTES && file.bytes >= COMPACT_RATIO * file.live_bytes {
            // Everything written is durable already: a failed compaction loses nothing.
            match replay(&self.path).and_then(|records| rewrite(&self.path, &records, self.private)) {
                Ok(fresh) => *file = fresh,
                Err(err) => tracing::warn!(path = %self.path.display(), error = %err, "journal compaction failed"),
            }
        }
        Ok(())
    }

    pub fn put(&self, key: &str, value: Value) -> io::Result<()> {
        self.write(&[(key.to_string(), Some(value))])
    }

    pub fn delete(&self, key: &str) -> io::Result<()> {
        self.write(&[(key.to_string(), None)])
    }

    /// Drop every record (used by `/_nimbus/reset`).
    pub fn clear(&self) -> io::Result<()> {
        let mut file = self.file.lock();
        file.file.set_len(0)?;
        file.bytes = 0;
        file.live.clear();
        file.live_bytes = 0;
        file.file.sync_all()
    }
}

/// Write `records` to a fresh file beside `path` and swap it in atomically; open it to append.
fn rewrite(path: &Path, records: &Records, private: bool) -> io::Result<Appender> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let file = create_file(&tmp, private)?;
    let mut appender = Appender { file, bytes: 0, live: Default::default(), live_bytes: 0 };
    {
        let mut out = io::BufWriter::new(&appender.file);
        for (key, value) in records {
            let line = encode_line(key, Some(value));
            out.write_all(&line)?;
            appender.bytes += line.len() as u64;
            appender.live.insert(key.clone(), line.len() as u64);
            appender.live_bytes += line.len() as u64;
        }
        out.flush()?;
    }
    appender.file.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    appender.file = OpenOptions::new().append(true).open(path)?;
    Ok(appender)
}

/// Create (truncate) `path`; a private file is owner-only from its first byte.
fn create_file(path: &Path, private: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    if private {
        restrict(path, 0o600)?;
    }
    Ok(file)
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

fn encode_line(key: &str, value: Option<&Value>) -> Vec<u8> {
    let record = serde_json::json!({ "k": key, "v": value });
    let json = serde_json::to_string(&record).expect("JSON values always serialize");
    format!("{:08x} {json}\n", crc32(json.as_bytes())).into_bytes()
}

fn replay(path: &Path) -> io::Result<Records> {
    let mut records = Records::new();
    let reader = BufReader::new(File::open(path)?);
    for line in reader.split(b'\n') {
        let line = line?;
        let Some(record) = decode_line(&line) else {
            // A torn or corrupt record: everything after it was never acknowledged.
            tracing::warn!(path = %path.display(), "dropping corrupt journal tail");
            break;
        };
        match record {
            (key, Some(value)) => records.insert(key, value),
            (key, None) => records.remove(&key),
        };
    }
    Ok(records)
}

fn decode_line(line: &[u8]) -> Option<(String, Option<Value>)> {
    let text = std::str::from_utf8(line).ok()?;
    let (crc, json) = text.split_once(' ')?;
    if u32::from_str_radix(crc, 16).ok()? != crc32(json.as_bytes()) {
        return None;
    }
    let mut record: Value = serde_json::from_str(json).ok()?;
    let key = record.get("k")?.as_str()?.to_string();
    let value = match record.get_mut("v")?.take() {
        Value::Null => None,
        v => Some(v),
    };
    Some((key, value))
}

/// CRC-32 (IEEE), a byte at a time from a table built at compile time.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc = CRC_TABLE[((crc ^ u32::from(byte)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scratch_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nimbus-journal-test-{:016x}", rand::random::<u64>()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn replays_and_survives_torn_tail() {
        let dir = scratch_dir();
        {
            let (journal, records) = Journal::open(&dir, "t").unwrap();
            assert!(records.is_empty());
            journal.put("a", json!({"x": 1})).unwrap();
            journal.put("b", json!(2)).unwrap();
            journal.delete("a").unwrap();
            journal.put("c", json!("three")).unwrap();
        }
        // Simulate a crash in the middle of a write.
        let path = dir.join("t.journal");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"deadbeef {\"k\":\"d\",\"v\":").unwrap();
        drop(f);
        let (journal, records) = Journal::open(&dir, "t").unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records["b"], json!(2));
        assert_eq!(records["c"], json!("three"));
        journal.put("e", json!(5)).unwrap();
        drop(journal);
        let (_, records) = Journal::open(&dir, "t").unwrap();
        assert_eq!(records.len(), 3);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn compacts_while_running_once_superseded_records_dominate() {
        let dir = scratch_dir();
        let (journal, _) = Journal::open(&dir, "t").unwrap();
        let path = dir.join("t.journal");
        let big = "x".repeat(64 * 1024);
        for i in 0..200 {
            journal.put("hot", json!({"n": i, "pad": big})).unwrap();
        }
        journal.put("kept", json!(1)).unwrap();
        // 200 versions of 64 KiB would be 12.8 MiB; compaction keeps the file near one version.
        let size = fs::metadata(&path).unwrap().len();
        assert!(size < COMPACT_MIN_BYTES, "journal is {size} bytes");
        journal.delete("kept").unwrap();
        journal.put("after", json!(2)).unwrap();
        drop(journal);
        let (_, records) = Journal::open(&dir, "t").unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records["hot"]["n"], json!(199));
        assert_eq!(records["after"], json!(2));
        fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn private_journals_are_owner_only_after_rewrites() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch_dir().join("secret");
        let (journal, _) = Journal::open_private(&dir, "m").unwrap();
        journal.put("k", json!("v")).unwrap();
        drop(journal);
        let (_, records) = Journal::open_private(&dir, "m").unwrap();
        assert_eq!(records["k"], json!("v"));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.join("m.journal")), 0o600);
        assert_eq!(mode(&dir), 0o700);
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn crc_matches_reference() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
