//! Black-box tests of scimd through HTTP against Postgres: the whole suite (suite.rs, also run
//! against SQLite as `api_sqlite`), plus what only Postgres has. See harness.rs.

include!("suite.rs");

// Cuts a TCP proxy between scimd and Postgres: a network connection to lose is Postgres's
// fault mode, and SQLite has none, so this module is compiled into this binary only.
// `faults_sqlite` is SQLite's counterpart.
mod faults;

// `scimd copy`: a SQLite deployment moved to Postgres (needs both, so compiled here).
mod copy;

// The query plans of filters, which only Postgres's collations can spoil.
mod plans_postgres;

// The change feed's ordering against transactions that commit out of order, which only
// Postgres's concurrent writers can do.
mod events_postgres;

// The kept counters' rows, which concurrent writers must not queue for.
mod counters_postgres;

// The token cache across two serving processes, and a lost listening connection.
mod token_cache_postgres;
