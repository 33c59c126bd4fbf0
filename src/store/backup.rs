//! Online backup and restore of the embedded SQLite store (`scimd backup`, `scimd restore`).
//!
//! A backup is `VACUUM INTO` a new file: one read transaction, so it is a consistent snapshot
//! of every transaction committed before it began, taken beside a running server that keeps
//! writing (WAL: the reader never blocks the writer). It was chosen over SQLite's online
//! backup API, which restarts its copy whenever another connection writes and so can take
//! many times longer under a write load (docs/decisions.md). The copy is compacted, written
//! 0600 (it holds every tenant's data and the signing secret), and verified before success
//! is reported: `PRAGMA integrity_check`, and the schema version it carries.
//!
//! Restore replaces the database file with a verified backup while no server runs on it
//! (the serve lock says whether one does). Postgres has its own tools (`pg_dump`, base
//! backups), which scimd does not reimplement.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};

use super::serve_lock;
use super::sqlite::{database_path, latest_schema_version};

/// What a verified backup holds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackupReport {
    pub file: PathBuf,
    pub bytes: u64,
    pub schema_version: i64,
    pub accounts: i64,
    pub users: i64,
    pub groups: i64,
    pub millis: u128,
}

/// The database file of a `sqlite:` URL, which must exist.
fn existing_database(url: &str) -> Result<PathBuf, String> {
    let path = database_path(url)
        .ok_or_else(|| "an in-memory database cannot be backed up or restored".to_string())?;
    if !path.is_file() {
        return Err(format!(
            "no database at {}: check database_url (or --config), or create it with `scimd serve`",
            path.display()
        ));
    }
    Ok(path)
}

/// Creates `path` empty and readable by its owner only; it must not exist.
fn create_private(path: &Path) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(|_| ()).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => format!(
            "{} exists already; a backup is written to a new file",
            path.display()
        ),
        _ => format!("cannot create {}: {e}", path.display()),
    })
}

async fn open(path: &Path, read_only: bool) -> Result<SqliteConnection, String> {
    SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .map_err(|e| e.to_string())?
        .read_only(read_only)
        .busy_timeout(std::time::Duration::from_secs(10))
        .connect()
        .await
        .map_err(|e| format!("cannot open {}: {e}", path.display()))
}

/// Checks that `path` is a sound scimd database and says what it holds.
pub async fn verify(path: &Path) -> Result<BackupReport, String> {
    let started = Instant::now();
    let mut conn = open(path, true).await?;
    let checked: Result<BackupReport, String> = async {
        let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| format!("{} is not a SQLite database: {e}", path.display()))?;
        if integrity != "ok" {
            return Err(format!(
                "{} failed its integrity check: {integrity}",
                path.display()
            ));
        }
        let schema_version: i64 =
            sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success")
                .fetch_one(&mut conn)
                .await
                .map_err(|_| format!("{} is a SQLite database, but not scimd's", path.display()))?;
        let count = |table: &'static str| format!("SELECT count(*) FROM {table}");
        let mut counts = [0i64; 3];
        for (i, table) in ["accounts", "users", "groups"].into_iter().enumerate() {
            counts[i] = sqlx::query_scalar(sqlx::AssertSqlSafe(count(table)))
                .fetch_one(&mut conn)
                .await
                .map_err(|e| format!("{} lacks scimd's {table}: {e}", path.display()))?;
        }
        Ok(BackupReport {
            file: path.to_path_buf(),
            bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            schema_version,
            accounts: counts[0],
            users: counts[1],
            groups: counts[2],
            millis: started.elapsed().as_millis(),
        })
    }
    .await;
    let _ = conn.close().await;
    checked
}

/// `scimd backup --to FILE` on SQLite.
pub async fn backup(url: &str, to: &Path) -> Result<BackupReport, String> {
    let started = Instant::now();
    let source = existing_database(url)?;
    create_private(to)?;
    let copied = async {
        let mut conn = open(&source, false).await?;
        let result = sqlx::query("VACUUM INTO ?1")
            .bind(to.to_string_lossy().into_owned())
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
        result.map_err(|e| format!("the backup failed: {e}"))?;
        sync(to)?;
        verify(to).await
    }
    .await;
    match copied {
        Ok(mut report) => {
            report.millis = started.elapsed().as_millis();
            Ok(report)
        }
        Err(err) => {
            // Never leave a file that looks like a backup but is not one.
            let _ = std::fs::remove_file(to);
            Err(err)
        }
    }
}

/// `scimd restore --from FILE` on SQLite: replaces the database file with a verified backup.
pub async fn restore(url: &str, from: &Path) -> Result<BackupReport, String> {
    let target = database_path(url).ok_or_else(|| "an in-memory database cannot be restored".to_string())?;
    if let Some(holder) = serve_lock::held_by(&target) {
        return Err(format!(
            "a scimd ({holder}) is serving {}; stop it before restoring",
            target.display()
        ));
    }
    if !from.is_file() {
        return Err(format!("no backup at {}", from.display()));
    }
    let report = verify(from).await?;
    let latest = latest_schema_version();
    if report.schema_version > latest {
        return Err(format!(
            "{} has schema version {}, newer than this scimd knows ({latest}); restore it with the \
             scimd version that made it",
            from.display(),
            report.schema_version
        ));
    }
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let staged = dir.join(format!(
        ".{}.restoring",
        target.file_name().and_then(|n| n.to_str()).unwrap_or("scimd.db")
    ));
    let _ = std::fs::remove_file(&staged);
    create_private(&staged)?;
    std::fs::copy(from, &staged).map_err(|e| {
        let _ = std::fs::remove_file(&staged);
        format!("cannot copy {} into {}: {e}", from.display(), dir.display())
    })?;
    restrict(&staged);
    sync(&staged)?;
    // The old database's WAL must go before the new file takes its name: SQLite would
    // otherwise replay it onto the restored file.
    for suffix in ["-wal", "-shm"] {
        let mut side = target.as_os_str().to_owned();
        side.push(suffix);
        match std::fs::remove_file(PathBuf::from(side)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!("cannot remove the old database's {suffix} file: {e}"));
            }
            _ => {}
        }
    }
    std::fs::rename(&staged, &target)
        .map_err(|e| format!("cannot move the restored file into place: {e}"))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(BackupReport {
        file: target,
        ..report
    })
}

#[cfg(unix)]
fn restrict(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict(_: &Path) {}

fn sync(path: &Path) -> Result<(), String> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("cannot sync {}: {e}", path.display()))
}
