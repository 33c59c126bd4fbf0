//! Operating the embedded store with the real binary: one server per SQLite file, an online
//! backup under a write load, restore, and start-up errors that name their cause and fix.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::{ConnectOptions, Connection};

use crate::faults_sqlite::Tmpfs;
use crate::harness::Scratch;
use crate::ops::{Scimd, bootstrapped, database_env, post_user, scimd_cli, until_acknowledged};

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Runs `scimd ARGS` against `url` and expects exit status 1 with one line on stderr.
fn one_line_failure(url: &str, args: &[&str]) -> String {
    let out = scimd_cli(url, args);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

async fn open_read_only(path: &std::path::Path) -> sqlx::SqliteConnection {
    sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await
        .expect("opens the file")
}

#[tokio::test]
async fn a_second_server_on_one_sqlite_file_refuses_naming_the_first() {
    let (_scratch, url) = Scratch::new();
    let dir = std::env::temp_dir();
    let first = Scimd::start(
        &["serve", "--listen", "127.0.0.1:0"],
        &database_env(&url),
        false,
        &dir,
    )
    .await;
    let second = tokio::process::Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", &url)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(20), second)
        .await
        .expect("the second server refuses at once instead of serving")
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("pid {}", first.pid())) && stderr.contains(&first.addr),
        "names the first server: {stderr}"
    );
    assert!(stderr.contains("Postgres"), "says what runs several: {stderr}");

    // Commands beside the running server keep working.
    let out = scimd_cli(&url, &["account", "list"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(first.stop().await.success());

    // The lock went with the first server; a crash releases it too (it is the kernel's).
    let again = Scimd::start(
        &["serve", "--listen", "127.0.0.1:0"],
        &database_env(&url),
        false,
        &dir,
    )
    .await;
    let pid = again.pid();
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    let mut killed = again;
    let _ = killed.wait().await;
    let after_crash = Scimd::start(
        &["serve", "--listen", "127.0.0.1:0"],
        &database_env(&url),
        false,
        &dir,
    )
    .await;
    assert!(after_crash.stop().await.success());
}

/// The whole user list as the SCIM API answers it, with the server's origin taken out.
async fn user_list(client: &reqwest::Client, base: &str, token: &str, origin: &str) -> Value {
    let text = client
        .get(format!("{base}/Users?count=1000&sortBy=userName"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&text.replace(origin, "ORIGIN")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_holds_every_acknowledged_write_and_restores() {
    let (_scratch, url) = Scratch::new();
    let work = tempdir();
    let (server, base, token) = bootstrapped(&url, &work).await;
    let client = crate::harness::http_client();

    // A write load that records each acknowledged userName.
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..3 {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let name = format!("load-{w}-{n}@example.com");
                let res = post_user(&client, &base, &token, &json!({"userName": name}))
                    .await
                    .unwrap();
                assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
                acknowledged.lock().unwrap().push(name);
            }
        }));
    }
    until_acknowledged(&acknowledged, 5).await;
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    let file = work.join("under-load.db");
    let out = {
        let (url, file) = (url.clone(), file.clone());
        tokio::task::spawn_blocking(move || {
            scimd_cli(&url, &["--json", "backup", "--to", file.to_str().unwrap()])
        })
        .await
        .unwrap()
    };
    assert!(out.status.success(), "{}", stderr_of(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The load goes on after the backup, as it went on during it.
    let after_backup = acknowledged.lock().unwrap().len();
    until_acknowledged(&acknowledged, after_backup + 5).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert!(before.len() > 5, "the load made progress before the backup");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the backup is readable by its owner only");
    }
    // Every write acknowledged before the backup began is in it, with its audit record.
    let mut copy = open_read_only(&file).await;
    let stored: HashSet<String> = sqlx::query_scalar("SELECT user_name FROM users")
        .fetch_all(&mut copy)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(
        report["users"].as_i64().unwrap() as usize,
        stored.len(),
        "{report}"
    );
    for name in &before {
        assert!(stored.contains(name), "{name} was acknowledged before the backup");
    }
    let unaudited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM audit_events a \
         WHERE a.account_id = u.account_id AND a.resource_id = u.id AND a.action = 'user.create')",
    )
    .fetch_one(&mut copy)
    .await
    .unwrap();
    assert_eq!(unaudited, 0, "every user in the backup has its audit record");
    copy.close().await.unwrap();

    // A backup of the quiet database, and what the server answers from it.
    let quiet = work.join("quiet.db");
    let out = scimd_cli(&url, &["backup", "--to", quiet.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("verified"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let listed = user_list(&client, &base, &token, &server.origin).await;
    // A second backup to the same file is refused rather than overwriting it.
    let stderr = one_line_failure(&url, &["backup", "--to", quiet.to_str().unwrap()]);
    assert!(stderr.contains("exists already"), "{stderr}");
    // A write after the backup, which the restore takes back.
    let res = post_user(
        &client,
        &base,
        &token,
        &json!({"userName": "after-backup@example.com"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);

    // Restore refuses to replace the file under a running server.
    let stderr = one_line_failure(&url, &["restore", "--from", quiet.to_str().unwrap()]);
    assert!(stderr.contains("stop it before restoring"), "{stderr}");
    let old_origin = server.origin.clone();
    assert!(server.stop().await.success());

    let out = scimd_cli(&url, &["restore", "--from", quiet.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let restored = Scimd::start(
        &["serve", "--listen", "127.0.0.1:0"],
        &database_env(&url),
        false,
        &work,
    )
    .await;
    let base = base.replace(&old_origin, &restored.origin);
    let relisted = user_list(&client, &base, &token, &restored.origin).await;
    assert_eq!(listed, relisted, "the restored server answers the same reads");

    // The audit log goes on from where the backup left it.
    let res = post_user(
        &client,
        &base,
        &token,
        &json!({"userName": "after-restore@example.com"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let new_id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(restored.stop().await.success());
    let db = url.trim_start_matches("sqlite://").to_string();
    let mut live = open_read_only(std::path::Path::new(&db)).await;
    let ids: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT id, resource_id FROM audit_events ORDER BY id")
            .fetch_all(&mut live)
            .await
            .unwrap();
    assert_eq!(
        ids.last().and_then(|(_, r)| r.clone()).as_deref(),
        Some(new_id.as_str()),
        "the newest audit record is the write after the restore"
    );
    let backed_up: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut open_read_only(&quiet).await)
        .await
        .unwrap();
    let audited_creates = ids.len() as i64;
    assert!(
        audited_creates > backed_up,
        "the backup's audit records are all there"
    );
    assert!(!relisted.to_string().contains("after-backup@example.com"));
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("scimd_test_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn start_up_errors_name_the_cause_and_the_fix() {
    let dir = tempdir();
    // Not a SQLite file.
    let text = dir.join("notes.db");
    std::fs::write(&text, "hello").unwrap();
    let stderr = one_line_failure(&format!("sqlite://{}", text.display()), &["migrate"]);
    assert!(stderr.contains("is not a SQLite database"), "{stderr}");

    // Somebody else's SQLite database: refused, not migrated into.
    let foreign = dir.join("foreign.db");
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&foreign)
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    sqlx::query("CREATE TABLE invoices (id INTEGER)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let stderr = one_line_failure(&format!("sqlite://{}", foreign.display()), &["migrate"]);
    assert!(
        stderr.contains("not scimd's") && stderr.contains("invoices"),
        "{stderr}"
    );

    // A schema newer than this binary (a downgrade).
    let newer = dir.join("newer.db");
    let url = format!("sqlite://{}", newer.display());
    assert!(scimd_cli(&url, &["migrate"]).status.success());
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&newer)
        .connect()
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
         VALUES (99999, 'from the future', CURRENT_TIMESTAMP, 1, x'00', 1)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let stderr = one_line_failure(&url, &["migrate"]);
    assert!(
        stderr.contains("newer than this scimd") && stderr.contains("backup"),
        "{stderr}"
    );

    // Permission denied: a user who may not enter the directory (needs root to switch user).
    if std::env::var_os("SCIMD_TEST_SKIP_ROOT").is_none() {
        let private = dir.join("private");
        std::fs::create_dir_all(&private).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let out = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_scimd"))
            .arg("migrate")
            .env("DATABASE_URL", format!("sqlite://{}/scimd.db", private.display()))
            .output()
            .expect("setpriv runs (needs root; set SCIMD_TEST_SKIP_ROOT=1 to skip)");
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("permission denied") && stderr.contains("chown"),
            "{stderr}"
        );
    }

    // A full disk.
    if let Some(disk) = Tmpfs::mount("1m") {
        let filler = disk.0.join("filler");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&filler).unwrap();
            while f.write_all(&[0u8; 8192]).is_ok() {}
        }
        let stderr = one_line_failure(&format!("sqlite://{}/scimd.db", disk.0.display()), &["migrate"]);
        assert!(
            stderr.contains("no space left") && stderr.contains(&disk.0.display().to_string()),
            "names the full place: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
