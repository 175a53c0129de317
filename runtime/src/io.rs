//! File helpers: atomic writes.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes a file atomically: the bytes go to a temporary file in the same directory, which
/// is flushed, synced and then renamed over `path`. A crash or a full disk leaves either the
/// old file or the new one, never a half-written file.
///
/// # Errors
/// The I/O error of the step that failed; the temporary file is removed then.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    let temp = temporary_path(path);
    let result = (|| {
        let mut file = File::create(&temp)?;
        write(&mut file)?;
        file.flush()?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let unique = format!(".{name}.{}.tmp", std::process::id());
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(unique),
        _ => PathBuf::from(unique),
    }
}
