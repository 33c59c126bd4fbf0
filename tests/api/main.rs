//! Black-box tests of scimd through HTTP against a real Postgres. One test binary (so the
//! library links once); one module per area.

mod adminkit;
mod harness;

mod admin;
mod auth;
mod bulk;
mod cli;
mod edge;
mod etag;
mod faults;
mod filters;
mod groups;
mod idp_entra;
mod idp_okta;
mod idp_onelogin;
mod migration;
mod mutability;
mod overload;
mod paging;
mod rules;
mod search;
mod sequences;
mod users;
