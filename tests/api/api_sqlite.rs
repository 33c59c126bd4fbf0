//! Black-box tests of scimd through HTTP against the embedded SQLite store: the whole suite
//! (suite.rs, also run against Postgres as `api_postgres`), plus what only SQLite has. See
//! harness.rs.

include!("suite.rs");

// Another process holding the database file's write lock: SQLite's counterpart of a lost
// Postgres connection (`faults`, compiled into api_postgres only).
mod faults_sqlite;

// One server per SQLite file, online backup and restore, start-up errors of a SQLite file.
mod backup;

// A failed `serve` removes the SQLite file it created.
mod cli_sqlite;

// The database file and its -wal and -shm files are private (issue 16.2).
mod hardening_sqlite;

// Concurrent writes committed several to a COMMIT, each answer still true.
mod group_commit_sqlite;
