//! Scratch folders under the system temp directory, named `nimbus-<pid>-…` so that folders
//! left behind by a killed nimbus can be recognised and removed by the next one.

use std::path::PathBuf;

/// A new scratch folder path for this process (not created).
pub fn path(kind: &str) -> PathBuf {
    std::env::temp_dir().join(format!("nimbus-{}-{kind}-{:016x}", std::process::id(), rand::random::<u64>()))
}

/// Remove scratch folders whose owning process no longer exists.
pub fn remove_stale() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) =
            name.strip_prefix("nimbus-").and_then(|rest| rest.split('-').next()).and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
