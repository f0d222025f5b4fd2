//! Scratch folders under the system temp directory, named `nimbus-<pid>-…` and carrying a
//! marker file that says which process made them. At start-up nimbus removes folders whose
//! marker names a process that no longer runs — and nothing else: a folder without nimbus's
//! marker (another program's `/tmp/nimbus-123-x`) is never touched.

use std::io;
use std::path::{Path, PathBuf};

/// The marker file inside every scratch folder: `<pid> <process start time>`.
pub const MARKER: &str = ".nimbus-scratch";

/// A new scratch folder path for this process (not created; prefer [`create`]).
pub fn path(kind: &str) -> PathBuf {
    std::env::temp_dir().join(format!("nimbus-{}-{kind}-{:016x}", std::process::id(), rand::random::<u64>()))
}

/// Create a new scratch folder for this process, with nimbus's marker in it.
pub fn create(kind: &str) -> io::Result<PathBuf> {
    let dir = path(kind);
    std::fs::create_dir_all(&dir)?;
    let pid = std::process::id();
    std::fs::write(dir.join(MARKER), format!("{pid} {}\n", start_time(pid).unwrap_or_default()))?;
    Ok(dir)
}

/// The kernel's start time of a process (field 22 of `/proc/<pid>/stat`), which tells a live
/// owner from an unrelated process that reuses its pid.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after it are plain.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

fn owner_alive(marker: &str) -> bool {
    let mut fields = marker.split_whitespace();
    let Some(pid) = fields.next().and_then(|p| p.parse::<u32>().ok()) else { return false };
    let started: Option<u64> = fields.next().and_then(|s| s.parse().ok());
    match start_time(pid) {
        None => false,
        Some(now) => started.is_none_or(|s| s == 0 || s == now),
    }
}

/// Remove scratch folders carrying nimbus's marker whose owning process no longer exists.
pub fn remove_stale() {
    remove_stale_in(&std::env::temp_dir());
}

pub fn remove_stale_in(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("nimbus-") || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Ok(marker) = std::fs::read_to_string(entry.path().join(MARKER)) else { continue };
        if !owner_alive(&marker) {
            tracing::info!(path = %entry.path().display(), "removing a scratch folder a dead nimbus left behind");
            let _ = remove_tree(&entry.path());
        }
    }
}

/// Remove a folder tree, first giving back the write permission read-only code folders lack.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fn writable(dir: &Path) {
        let Ok(meta) = std::fs::symlink_metadata(dir) else { return };
        if !meta.is_dir() {
            return;
        }
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(meta.permissions().mode() | 0o700));
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                writable(&entry.path());
            }
        }
    }
    writable(path);
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Make a folder tree read-only (files keep their execute bits; no one may write).
pub fn make_read_only(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            make_read_only(&entry?.path())?;
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o555))
    } else if meta.is_file() {
        let mode = meta.permissions().mode() & 0o555 | 0o444;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_folders_with_a_dead_owners_marker_are_removed() {
        let root = std::env::temp_dir().join(format!("nimbus-scratch-test-{:016x}", rand::random::<u64>()));
        // Not ours: no marker, though named like ours and with a dead pid.
        let foreign = root.join("nimbus-999999999-lambda-x");
        std::fs::create_dir_all(&foreign).unwrap();
        // Ours, owner dead.
        let stale = root.join("nimbus-999999998-lambda-y");
        std::fs::create_dir_all(stale.join("code")).unwrap();
        std::fs::write(stale.join(MARKER), "999999998 12345\n").unwrap();
        make_read_only(&stale.join("code")).unwrap();
        // Ours, owner alive (this process).
        let live = root.join(format!("nimbus-{}-lambda-z", std::process::id()));
        std::fs::create_dir_all(&live).unwrap();
        let me = std::process::id();
        std::fs::write(live.join(MARKER), format!("{me} {}\n", start_time(me).unwrap())).unwrap();
        remove_stale_in(&root);
        assert!(foreign.exists(), "a folder without nimbus's marker is never removed");
        assert!(!stale.exists(), "a dead nimbus's folder is removed");
        assert!(live.exists(), "a live nimbus's folder is kept");
        remove_tree(&root).unwrap();
    }
}
