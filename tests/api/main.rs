//! Black-box tests of scimd through HTTP against a real database. Cargo.toml builds this suite
//! twice, as `api_postgres` and `api_sqlite`: every test runs against both stores (see
//! harness.rs). One module per area.

mod harness;

mod auth;
mod cli;
mod container;
mod edge;
mod etag;
mod filters;
mod groups;
mod ops;
mod paging;
mod sequences;
mod stores;
mod users;
