//! What only the SQLite store can show of the command line: a `serve` that fails after SQLite
//! created the database file removes that file.

use std::process::Command;

use crate::harness::Scratch;

#[test]
fn a_serve_that_fails_after_creating_the_file_removes_it() {
    let (scratch, url) = Scratch::new();
    let Scratch::Sqlite(dir) = &scratch else {
        unreachable!("api_sqlite")
    };
    // A directory where SQLite's write-ahead log must go: the database file is created, then
    // opening it fails.
    std::fs::create_dir(dir.join("scimd.db-wal")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("error: cannot open the database"),
        "{stderr}"
    );
    assert!(
        !dir.join("scimd.db").exists(),
        "the failed start left the database file"
    );
    // What was there before is not touched.
    assert!(dir.join("scimd.db-wal").is_dir());
}
