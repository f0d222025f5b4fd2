//! A crash-safe key/value journal for `--data-dir` persistence.
//!
//! Each acknowledged mutation is appended as one line `<crc32-hex> <json>\n` and fsynced before
//! the caller answers the client, so it survives `kill -9`. On open the journal is replayed; a
//! torn or corrupt tail (a write cut short by a crash) is dropped, and the live records are
//! rewritten into a fresh file (compaction) through an atomic rename.

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
    file: Mutex<File>,
}

/// The records a journal held when it was opened.
pub type Records = BTreeMap<String, Value>;

impl Journal {
    /// Open (or create) `dir/name.journal`, returning the journal and its live records.
    pub fn open(dir: &Path, name: &str) -> io::Result<(Journal, Records)> {
        fs::create_dir_all(dir)?;
        let path = dir.join(format!("{name}.journal"));
        let records = if path.exists() { replay(&path)? } else { Records::new() };
        // Compact: write the live records to a new file and swap it in atomically.
        let tmp = dir.join(format!("{name}.journal.tmp"));
        {
            let mut out = io::BufWriter::new(File::create(&tmp)?);
            for (key, value) in &records {
                out.write_all(&encode_line(key, Some(value)))?;
            }
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        }
        fs::rename(&tmp, &path)?;
        sync_dir(dir)?;
        let file = OpenOptions::new().append(true).open(&path)?;
        Ok((Journal { path, file: Mutex::new(file) }, records))
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
        for (key, value) in changes {
            buf.extend_from_slice(&encode_line(key, value.as_ref()));
        }
        let mut file = self.file.lock();
        file.write_all(&buf)?;
        file.sync_data()
    }

    pub fn put(&self, key: &str, value: Value) -> io::Result<()> {
        self.write(&[(key.to_string(), Some(value))])
    }

    pub fn delete(&self, key: &str) -> io::Result<()> {
        self.write(&[(key.to_string(), None)])
    }

    /// Drop every record (used by `/_nimbus/reset`).
    pub fn clear(&self) -> io::Result<()> {
        let file = self.file.lock();
        file.set_len(0)?;
        file.sync_all()
    }
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

/// CRC-32 (IEEE), bitwise: the journal is not hot enough to need a table.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

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
    fn crc_matches_reference() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
