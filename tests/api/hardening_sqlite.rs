//! Issue 16.2: the SQLite database (every account's personal data, token hashes, the signing
//! secret) and its `-wal` and `-shm` files are private to their owner whatever the umask, and
//! a database file open to group or others is refused unless the operator allows it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{Scratch, eventually};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn scratch() -> (Scratch, std::path::PathBuf, String) {
    let (scratch, url) = Scratch::new();
    let Scratch::Sqlite(dir) = &scratch else {
        unreachable!("api_sqlite")
    };
    let dir = dir.clone();
    (scratch, dir, url)
}

/// Kills the server it holds when dropped, so a failed assertion leaves no process behind.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_database_and_its_wal_and_shm_files_are_0600_whatever_the_umask() {
    let (_scratch, dir, url) = scratch();
    // umask 000: without the fix, SQLite creates all three 0644.
    let child = Child(
        Command::new("sh")
            .args(["-c", "umask 000 && exec \"$0\" serve --listen 127.0.0.1:0"])
            .arg(env!("CARGO_BIN_EXE_scimd"))
            .env("DATABASE_URL", &url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let db = dir.join("scimd.db");
    let files = [db.clone(), dir.join("scimd.db-wal"), dir.join("scimd.db-shm")];
    // The child process opens them when it starts: wall time is inherent.
    eventually(
        &format!("the server opens {}", db.display()),
        Duration::from_secs(30),
        || async {
            match files.iter().find(|f| !f.exists()) {
                None => Ok(()),
                Some(missing) => Err(format!("no {}", missing.display())),
            }
        },
    )
    .await;
    for file in &files {
        assert_eq!(mode(file), 0o600, "{} is {:o}", file.display(), mode(file));
    }
    drop(child);
}

#[test]
fn a_database_open_to_others_is_refused_unless_allowed() {
    let (_scratch, dir, url) = scratch();
    let db = dir.join("scimd.db");
    let migrate = |allow: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_scimd"));
        cmd.arg("migrate").env("DATABASE_URL", &url);
        if let Some(allow) = allow {
            cmd.env("SCIMD_DATABASE_ALLOW_READABLE_BY_OTHERS", allow);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, stderr) = migrate(None);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(mode(&db), 0o600);

    for loose in [0o644, 0o640, 0o606] {
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(loose)).unwrap();
        let (code, stderr) = migrate(None);
        assert_eq!(code, Some(1), "{loose:o}: {stderr}");
        let last = stderr.trim_end().lines().last().unwrap_or_default();
        assert!(last.starts_with("error: "), "{stderr}");
        for part in [
            format!("the database file {} has", db.display()),
            format!("mode {loose:04o}"),
            format!("chmod 600 {}", db.display()),
            "database_allow_readable_by_others = true".to_string(),
        ] {
            assert!(last.contains(&part), "{last:?} does not say {part:?}");
        }
        // Nothing was changed behind the operator's back.
        assert_eq!(mode(&db), loose);
    }
    // The operator's explicit choice opens it, as it is.
    let (code, stderr) = migrate(Some("true"));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(mode(&db), 0o606);
    // And once the file is private again, no setting is needed.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, stderr) = migrate(None);
    assert_eq!(code, Some(0), "{stderr}");
}
