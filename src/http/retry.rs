//! One in-server retry of a request that met a broken database connection.
//!
//! A connection can break under a request without the database being down: a proxy or
//! pgbouncer restarting, an administrator's `pg_terminate_backend`, a failover. The pool
//! throws the broken connection away (it is tested on release), and for a few seconds tests
//! every connection before handing it out (`Health::connection_broke`; otherwise only those
//! idle for a second), so the same request on a fresh connection usually succeeds, and the IdP
//! never sees the fault. The request is replayed once, and only when that is provably
//! harmless:
//! - the fault was one of the connection (`StoreFault::connection`), not a condition the
//!   replay would meet again (database down, disk full, busy), which is answered 503 at once;
//! - the request committed nothing (no COMMIT was sent while it ran): a transaction that failed
//!   before COMMIT left no trace, while one whose COMMIT went unanswered may have committed;
//! - its body is small and of known length, so it can be kept for the replay.
//!
//! Everything else that failed this way is a 503 with `Retry-After`; the IdP's retry then
//! meets the idempotent path (an existing userName is a 409, which IdPs handle).
//!
//! The layer also tells the store's health what a fault was: a write refused for lack of
//! space marks writes failing until one succeeds (`/readyz` is not ready meanwhile).

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use super::error::StoreFault;
use crate::service::records::count_commits;

/// Largest body kept for a replay; larger requests are not replayed.
const REPLAY_MAX_BODY: usize = 1 << 20;

pub async fn replay_once(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
    let replayable_body = match declared {
        Some(len) => len <= REPLAY_MAX_BODY,
        None => !chunked,
    };
    if !replayable_body {
        let res = next.run(req).await;
        note(&state, &res);
        return res;
    }
    let (parts, body) = req.into_parts();
    // The declared length is at most REPLAY_MAX_BODY; a body longer than it declared is the
    // connection's fault, answered as the body extractor would.
    let bytes: Bytes = match axum::body::to_bytes(body, REPLAY_MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return super::error::error_response(
                400,
                None,
                "the request body could not be read (longer than its Content-Length, or cut off)",
            );
        }
    };
    let request =
        |parts: &axum::http::request::Parts| Request::from_parts(parts.clone(), Body::from(bytes.clone()));
    let (res, commits) = count_commits(next.clone().run(request(&parts))).await;
    let replay = res.extensions().get::<StoreFault>().is_some_and(|f| f.connection)
        && commits == 0
        && !state.service.database_unreachable();
    if !replay {
        note(&state, &res);
        return res;
    }
    tracing::warn!("a database connection broke under the request; replaying it once on a fresh connection");
    // Its idle siblings may be broken too (a restarted database): tested before the replay
    // and the next requests get one.
    state.service.connection_broke();
    let res = next.run(request(&parts)).await;
    note(&state, &res);
    res
}

fn note(state: &AppState, res: &Response) {
    if let Some(fault) = res.extensions().get::<StoreFault>()
        && fault.disk_full
    {
        state.service.mark_writes_failing(&fault.cause);
    }
}
