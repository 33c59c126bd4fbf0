// The black-box suite: every module here runs against both stores. This file is the list of
// those modules, included by the two test binaries' roots (api_postgres.rs, api_sqlite.rs),
// which add the few tests that only one store can have. It holds no inner attributes or `//!`
// docs, which `include!` refuses. One module per area.

mod adminkit;
mod harness;

mod admin;
mod auth;
mod browser;
mod bulk;
mod configure;
mod console;
mod console_browser;
mod cli;
mod comparison;
mod container;
mod edge;
mod etag;
mod events;
mod extensions;
mod filters;
mod groups;
mod hardening;
mod idp_entra;
mod idp_okta;
mod idp_onelogin;
mod kills;
mod lookalike;
mod migration;
mod mutability;
mod oauth;
mod observability;
mod ops;
mod overload;
mod paging;
mod rules;
mod search;
mod sequences;
mod slow_clients;
mod stores;
mod token_cache;
mod users;
mod webhooks;
