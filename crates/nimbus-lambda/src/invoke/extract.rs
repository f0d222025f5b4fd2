//! Unpacking archives into an environment's folders, defensively: the archive was checked on
//! upload, but extraction re-checks every entry and bounds the bytes actually written.

use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;

use crate::code::MAX_UNZIPPED_BYTES;

/// Unpack `zip` into `dir` (which may already hold earlier layers: later files win).
pub fn unzip_into(zip: &[u8], dir: &Path) -> io::Result<()> {
    let mut archive = zip::ZipArchive::new(io::Cursor::new(zip)).map_err(io::Error::other)?;
    let mut written: u64 = 0;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(io::Error::other)?;
        let Some(relative) = entry.enclosed_name() else {
            return Err(io::Error::other(format!("entry {} escapes the archive", entry.name())));
        };
        let target = dir.join(relative);
        if entry.is_dir() {
            fs::create_dir_all(&target)?;
            continue;
        }
        let mode = entry.unix_mode();
        if mode.is_some_and(|m| m & 0o170000 == 0o120000) {
            return Err(io::Error::other(format!("entry {} is a symbolic link", entry.name())));
        }
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        let _ = fs::remove_file(&target);
        let mut out = fs::File::create(&target)?;
        // Declared sizes can lie; count what is really inflated.
        let mut limited = (&mut entry).take(MAX_UNZIPPED_BYTES.saturating_sub(written) + 1);
        let copied = io::copy(&mut limited, &mut out)?;
        written += copied;
        if written > MAX_UNZIPPED_BYTES {
            return Err(io::Error::other("archive inflates beyond Lambda's unzipped size limit"));
        }
        out.flush()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Keep execute bits (a provided.* bootstrap must be executable); AWS's files are readable.
            // No write bits: functions must not rewrite code (see `make_read_only`).
            let mode = mode.unwrap_or(0o644) & 0o555 | 0o444;
            fs::set_permissions(&target, fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}
