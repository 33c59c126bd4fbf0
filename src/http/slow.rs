//! A bound on the time a client may take to send a request body.
//!
//! A client that sends its body a byte at a time holds a connection (and, once a handler reads
//! the body, a task) for as long as it likes; an outside review kept 50 such uploads open for
//! 25 s with nothing closing them. Each request body gets a deadline from the moment the
//! request arrives: past it the body read fails, and the request is answered
//! `408 Request Timeout` with `Connection: close`. The time to send the headers is bounded
//! separately, by the HTTP server (`server::Limits::header_read_timeout`).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};

use super::AppState;
use super::error::error_response;

/// The error a body read meets past its deadline.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimedOut;

struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))));
        }
        Pin::new(&mut this.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pub async fn body_deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit: Duration = state.http.request_body_timeout;
    let has_body = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() != "0")
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    if !has_body {
        return next.run(req).await;
    }
    let expired = Arc::new(AtomicBool::new(false));
    let flag = expired.clone();
    let req = req.map(|inner| {
        Body::new(DeadlineBody {
            inner,
            deadline: Box::pin(tokio::time::sleep(limit)),
            expired: flag,
        })
    });
    let res = next.run(req).await;
    if !expired.load(Ordering::Acquire) {
        return res;
    }
    tracing::warn!(
        limit_s = limit.as_secs_f64(),
        "request body not received in time: 408"
    );
    let mut res = error_response(
        408,
        None,
        &format!(
            "the request body did not arrive within {} s (request_body_timeout_seconds); send it at once",
            limit.as_secs()
        ),
    );
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}
