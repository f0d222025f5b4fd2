//! A crash-safe key/value journal for `--data-dir` persistence.
//!
//! Each acknowledged mutation is appended as one line `<crc32-hex> <json>\n` and fsynced before
//! the caller answers the client, so it survives `kill -9`. A write that fails (a full disk, an
//! I/O error, a file-size limit) is undone: the file is truncated back to where it was and
//! synced, so the next record never joins a partial line; if even that fails the journal
//! refuses every further write until restart rather than acknowledge what it cannot keep.
//!
//! On open the journal is replayed record by record. A torn last line (a write cut short by a
//! crash) was never acknowledged and is dropped; a damaged record anywhere else costs that
//! record alone, never the ones after it, and is reported loudly (how many, which keys), with
//! the original file kept beside the journal as `<name>.journal.damaged-<unix-seconds>` before
//! the live records are rewritten into a fresh file (compaction) through an atomic rename. A
//! long-running process compacts the same way once superseded records make up most of the file.

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
    /// Set when a failed write could not be undone: nothing more is acknowledged.
    poisoned: Option<String>,
    /// Test-only fault injection: the next write stores this many bytes, then fails.
    #[cfg(test)]
    fail_after: Option<usize>,
}

/// Compact once the file is this large and mostly superseded records.
const COMPACT_MIN_BYTES: u64 = 8 << 20;
const COMPACT_RATIO: u64 = 4;

impl Appender {
    fn new(file: File) -> Appender {
        Appender {
            file,
            bytes: 0,
            live: Default::default(),
            live_bytes: 0,
            poisoned: None,
            #[cfg(test)]
            fail_after: None,
        }
    }

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

    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        #[cfg(test)]
        if let Some(n) = self.fail_after.take() {
            self.file.write_all(&buf[..n.min(buf.len())])?;
            return Err(io::Error::new(io::ErrorKind::StorageFull, "injected fault: no space left on device"));
        }
        self.file.write_all(buf)?;
        self.file.sync_data()
    }
}

/// The records a journal held when it was opened.
pub type Records = BTreeMap<String, Value>;

/// What replaying a journal found beyond its live records.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Damage {
    pub path: String,
    /// Damaged records skipped (not counting a torn last line).
    pub records: usize,
    /// The keys of the skipped records, where they could still be read.
    pub keys: Vec<String>,
    /// Where the original file was kept.
    pub copy: Option<String>,
}

static DAMAGE: Mutex<Vec<Damage>> = Mutex::new(Vec::new());

thread_local! {
    static FAILED_HERE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a journal write failed on this thread since the last call, clearing the mark. A
/// state lock held across a synchronous operation uses it to roll memory back to the journal
/// when the operation's write did not become durable, whatever path the write took.
pub fn take_thread_failure() -> bool {
    FAILED_HERE.with(|f| f.replace(false))
}

/// Every damaged journal this process found at start-up (for `/_nimbus/health`).
pub fn damage_reports() -> Vec<Damage> {
    DAMAGE.lock().clone()
}

fn with_path(path: &Path, err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

impl Journal {
    /// Open (or create) `dir/name.journal`, returning the journal and its live records.
    /// Errors name the file or folder that could not be used.
    pub fn open(dir: &Path, name: &str) -> io::Result<(Journal, Records)> {
        Self::open_with(dir, name, false)
    }

    /// [`Journal::open`] for secrets: the file is created (and rewritten) with mode 0600 and
    /// its directory made 0700, so only the owner can read it.
    pub fn open_private(dir: &Path, name: &str) -> io::Result<(Journal, Records)> {
        Self::open_with(dir, name, true)
    }

    fn open_with(dir: &Path, name: &str, private: bool) -> io::Result<(Journal, Records)> {
        fs::create_dir_all(dir).map_err(|e| with_path(dir, e))?;
        if private {
            restrict(dir, 0o700).map_err(|e| with_path(dir, e))?;
        }
        let path = dir.join(format!("{name}.journal"));
        let records = if path.exists() {
            let (records, damage) = replay(&path).map_err(|e| with_path(&path, e))?;
            if damage.records > 0 {
                report(&path, damage)?;
            }
            records
        } else {
            Records::new()
        };
        let appender = rewrite(&path, &records, private).map_err(|e| with_path(&path, e))?;
        Ok((Journal { path, file: Mutex::new(appender), private }, records))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The live records as they are on disk now (what a restart would see).
    pub fn records(&self) -> io::Result<Records> {
        let _file = self.file.lock();
        replay(&self.path).map(|(records, _)| records)
    }

    /// Durably record a batch of changes: `Some(value)` sets a key, `None` deletes it. All or
    /// nothing: on error the file is as it was before the call.
    pub fn write(&self, changes: &[(String, Option<Value>)]) -> io::Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut file = self.file.lock();
        let result = self.write_locked(&mut file, changes);
        if result.is_err() {
            FAILED_HERE.with(|f| f.set(true));
        }
        result
    }

    fn write_locked(&self, file: &mut Appender, changes: &[(String, Option<Value>)]) -> io::Result<()> {
        if let Some(reason) = &file.poisoned {
            return Err(io::Error::other(format!(
                "journal {} accepts no writes until restart: {reason}",
                self.path.display()
            )));
        }
        let lines: Vec<Vec<u8>> = changes.iter().map(|(key, value)| encode_line(key, value.as_ref())).collect();
        let buf = lines.concat();
        let before = file.bytes;
        if let Err(err) = file.append(&buf) {
            // Leave no partial line behind: the next record must start on a fresh one.
            let undo = file.file.set_len(before).and_then(|()| file.file.sync_data());
            if let Err(undo) = undo {
                tracing::error!(path = %self.path.display(), error = %undo, "could not undo a failed journal write; refusing further writes");
                file.poisoned = Some(format!("a failed write ({err}) could not be undone ({undo})"));
            }
            return Err(err);
        }
        for ((key, value), line) in changes.iter().zip(&lines) {
            file.note(key, line.len() as u64, value.is_some());
        }
        if file.bytes >= COMPACT_MIN_BYTES && file.bytes >= COMPACT_RATIO * file.live_bytes {
            // Everything written is durable already: a failed compaction loses nothing.
            match replay(&self.path).and_then(|(records, _)| rewrite(&self.path, &records, self.private)) {
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

    #[cfg(test)]
    fn fail_next_write_after(&self, bytes: usize) {
        self.file.lock().fail_after = Some(bytes);
    }
}

/// Say loudly what was lost and keep the original file before it is compacted away.
fn report(path: &Path, mut damage: Damage) -> io::Result<()> {
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut copy = path.as_os_str().to_owned();
    copy.push(format!(".damaged-{stamp}"));
    let copy = PathBuf::from(copy);
    fs::copy(path, &copy).map_err(|e| with_path(&copy, e))?;
    damage.copy = Some(copy.display().to_string());
    tracing::error!(
        path = %path.display(),
        damaged_records = damage.records,
        keys = ?damage.keys,
        original_kept_at = %copy.display(),
        "journal has damaged records: each was skipped alone, the records after them were kept"
    );
    DAMAGE.lock().push(damage);
    Ok(())
}

/// Write `records` to a fresh file beside `path` and swap it in atomically; open it to append.
fn rewrite(path: &Path, records: &Records, private: bool) -> io::Result<Appender> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut appender = Appender::new(create_file(&tmp, private)?);
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

/// Replay every intact record; count (and name, where possible) the damaged ones.
fn replay(path: &Path) -> io::Result<(Records, Damage)> {
    let mut records = Records::new();
    let mut damage = Damage { path: path.display().to_string(), ..Damage::default() };
    let mut reader = BufReader::new(File::open(path)?);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let complete = line.last() == Some(&b'\n');
        let body = if complete { &line[..line.len() - 1] } else { &line[..] };
        if body.is_empty() {
            continue;
        }
        match decode_line(body) {
            Some((key, Some(value))) => {
                records.insert(key, value);
            }
            Some((key, None)) => {
                records.remove(&key);
            }
            // A torn last line: the write was never acknowledged.
            None if !complete => {
                tracing::warn!(path = %path.display(), "dropping a torn record at the end of the journal")
            }
            None => {
                damage.records += 1;
                if let Some(key) = salvage_key(body) {
                    damage.keys.push(key);
                }
            }
        }
    }
    Ok((records, damage))
}

/// The key of a damaged record, if its JSON still says it.
fn salvage_key(line: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(line);
    let start = text.find("{\"k\":")? + 5;
    let mut chars = serde_json::Deserializer::from_str(&text[start..]).into_iter::<String>();
    chars.next()?.ok()
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
    fn a_failed_write_leaves_the_file_as_it_was_and_later_writes_survive() {
        let dir = scratch_dir();
        let path = dir.join("t.journal");
        {
            let (journal, _) = Journal::open(&dir, "t").unwrap();
            journal.put("a", json!(1)).unwrap();
            let before = fs::read(&path).unwrap();
            // A short append: half the batch reaches the file, then the disk is full.
            journal.fail_next_write_after(7);
            let err = journal.write(&[("b".into(), Some(json!("x".repeat(100)))), ("c".into(), Some(json!(3)))]);
            assert_eq!(err.unwrap_err().kind(), io::ErrorKind::StorageFull);
            assert_eq!(fs::read(&path).unwrap(), before, "no partial bytes are left behind");
            journal.put("d", json!(4)).unwrap();
            journal.put("e", json!(5)).unwrap();
        }
        let (_, records) = Journal::open(&dir, "t").unwrap();
        assert_eq!(records.keys().cloned().collect::<Vec<_>>(), ["a", "d", "e"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_damaged_record_costs_only_itself_and_is_reported_with_a_copy_kept() {
        let dir = scratch_dir();
        let path = dir.join("t.journal");
        {
            let (journal, _) = Journal::open(&dir, "t").unwrap();
            for key in ["a", "b", "c", "d"] {
                journal.put(key, json!({"key": key})).unwrap();
            }
        }
        let original = fs::read(&path).unwrap();
        let mut damaged = original.clone();
        // Flip one byte inside the value of record "b".
        let at = original.windows(11).position(|w| w == b"{\"key\":\"b\"}").unwrap() + 8;
        damaged[at] = b'X';
        fs::write(&path, &damaged).unwrap();
        let (_, records) = Journal::open(&dir, "t").unwrap();
        assert_eq!(records.keys().cloned().collect::<Vec<_>>(), ["a", "c", "d"]);
        let report = damage_reports().into_iter().find(|d| d.path == path.display().to_string()).unwrap();
        assert_eq!((report.records, report.keys.clone()), (1, vec!["b".to_string()]));
        assert_eq!(fs::read(report.copy.unwrap()).unwrap(), damaged, "the original file is kept");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn crc_matches_reference() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
