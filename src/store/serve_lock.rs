//! One `scimd serve` per SQLite file.
//!
//! Two servers on one SQLite file would both work, each with its own per-process state (rate
//! budgets, caches, the writer queue that keeps SQLite's single writer fair), which would then
//! silently disagree. `serve` therefore holds an OS lock on `<database>.lock` for its whole
//! life; a second `serve` finds it taken and refuses, naming the first one (its PID and listen
//! address, written in the file). The lock is the kernel's (`flock`), so a crashed or killed
//! server releases it with its process; a stale file left behind locks nothing.
//!
//! CLI commands (tokens, accounts, export, backup) do not take it: they run beside a server,
//! as SQLite lets several processes do. Several servers on one database is what Postgres is
//! for.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Held while `serve` runs; dropping it (or the process ending) releases the lock.
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
    pub path: PathBuf,
}

/// The lock file of a SQLite database file.
pub fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the serve lock of `database`, writing this process's PID and `listen` into it.
pub fn acquire(database: &Path, listen: &str) -> Result<ServeLock, String> {
    let path = lock_path(database);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("cannot create the lock file {}: {e}", path.display()))?;
    restrict(&file);
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() {
                "another process".to_string()
            } else {
                format!("another scimd ({holder})")
            };
            return Err(format!(
                "{holder} is serving the SQLite database {}; one scimd serves one SQLite file — stop \
                 it first, or use Postgres (database_url = postgres://…) to run several",
                database.display()
            ));
        }
        Err(TryLockError::Error(e)) => {
            return Err(format!("cannot lock {}: {e}", path.display()));
        }
    }
    let _ = file.set_len(0);
    let _ = file.seek(SeekFrom::Start(0));
    let _ = write!(file, "pid {}, listening on {listen}", std::process::id());
    let _ = file.flush();
    Ok(ServeLock { _file: file, path })
}

impl ServeLock {
    /// Records the address the server listens on, once it is known (port 0 picks one).
    pub fn listening_on(&mut self, addr: &str) {
        let _ = self._file.set_len(0);
        let _ = self._file.seek(SeekFrom::Start(0));
        let _ = write!(self._file, "pid {}, listening on {addr}", std::process::id());
        let _ = self._file.flush();
    }
}

/// Is a server holding `database`'s serve lock now? (`restore` must not replace the file
/// under a running server.)
pub fn held_by(database: &Path) -> Option<String> {
    let path = lock_path(database);
    let mut file = OpenOptions::new().read(true).write(true).open(&path).ok()?;
    match file.try_lock() {
        Ok(()) => None,
        Err(_) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            Some(holder.trim().to_string())
        }
    }
}

#[cfg(unix)]
fn restrict(file: &File) {
    use std::os::unix::fs::PermissionsExt;
    let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict(_: &File) {}
