//! Black-box tests of scimd through HTTP against a real Postgres. One test binary (so the
//! library links once); one module per area.

mod harness;

mod auth;
mod bulk;
mod cli;
mod edge;
mod etag;
mod filters;
mod groups;
mod mutability;
mod paging;
mod search;
mod sequences;
mod users;
