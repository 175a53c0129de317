//! File helpers: atomic writes.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The steps of an atomic write, in order. Tests inject a failure at each one
/// ([`write_atomic_failing_at`]) to check that the previous file always survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteStep {
    /// Creating the temporary file.
    Create,
    /// Writing the contents (the failure comes after the caller's writes).
    Write,
    /// Flushing the contents.
    Flush,
    /// Syncing the temporary file to disk.
    Sync,
    /// Renaming the temporary file over the target.
    Rename,
}

impl WriteStep {
    /// Every step, in order.
    pub const ALL: [WriteStep; 5] = [
        WriteStep::Create,
        WriteStep::Write,
        WriteStep::Flush,
        WriteStep::Sync,
        WriteStep::Rename,
    ];
}

/// Writes a file atomically: the bytes go to a temporary file in the same directory, which
/// is flushed, synced and then renamed over `path` (and the directory synced where the
/// platform allows). A crash or a full disk leaves either the old file or the new one, never
/// a half-written file; a reader racing the writer sees one or the other.
///
/// # Errors
/// The I/O error of the step that failed; the temporary file is removed then.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    write_atomic_failing_at(path, write, None)
}

/// [`write_atomic`] with a simulated failure at `fail_at` (`None`: no failure). For tests of
/// crash safety.
///
/// # Errors
/// The injected error, or a real one.
pub fn write_atomic_failing_at(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
    fail_at: Option<WriteStep>,
) -> io::Result<()> {
    let inject = |step: WriteStep| {
        if fail_at == Some(step) {
            Err(io::Error::other(format!("simulated failure at {step:?}")))
        } else {
            Ok(())
        }
    };
    let temp = temporary_path(path);
    let result = (|| {
        inject(WriteStep::Create)?;
        let mut file = File::create(&temp)?;
        write(&mut file)?;
        inject(WriteStep::Write)?;
        inject(WriteStep::Flush)?;
        file.flush()?;
        inject(WriteStep::Sync)?;
        file.sync_all()?;
        drop(file);
        inject(WriteStep::Rename)?;
        fs::rename(&temp, path)
    })();
    match result {
        Ok(()) => {
            sync_parent(path);
            Ok(())
        }
        Err(error) => {
            let _ = fs::remove_file(&temp);
            Err(error)
        }
    }
}

/// Makes the rename durable where directories can be synced (best effort).
fn sync_parent(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
    }
}

/// A temporary name next to `path`, unique per process and call.
fn temporary_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let unique = format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(unique),
        _ => PathBuf::from(unique),
    }
}
