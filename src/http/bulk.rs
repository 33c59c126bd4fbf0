//! `POST /Bulk` (RFC 7644 §3.7): BulkRequest in, BulkResponse out. The body limit of this
//! route is `maxPayloadSize` (the router sets it), not `max_body_bytes`.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::AppState;
use super::auth::too_many_requests;
use super::error::{ApiError, error_body, scim_json};
use super::extract::{Ctx, read_json};
use super::resources::Handler;
use crate::scim::bulk::parse_bulk_request;
use crate::scim::{BULK_RESPONSE_URN, ScimError, render};
use crate::service::bulk::BulkResult;

pub async fn bulk(State(st): State<AppState>, ctx: Ctx, req: Request) -> Handler {
    let max_payload = st.http.bulk_max_payload_bytes;
    let body = read_json(req, &st, || {
        ScimError::new(
            413,
            None,
            format!(
                "the bulk request is larger than maxPayloadSize ({max_payload} bytes, see \
                 /ServiceProviderConfig): split it into several requests"
            ),
        )
    })
    .await?;
    let request = parse_bulk_request(&body, st.http.bulk_max_operations)?;
    // The authentication middleware counted this request as one; its operations pay too.
    let extra = u32::try_from(request.operations.len().saturating_sub(1)).unwrap_or(u32::MAX);
    if let Some(limiter) = &st.limiter
        && let Err(wait) = limiter.check_n(ctx.caller.account_id, extra)
    {
        return Ok(too_many_requests(wait));
    }
    let results = st.service.bulk(&ctx.caller, &request).await;
    let operations: Vec<Value> = results
        .into_iter()
        .map(|r| operation_response(&ctx.base_url, r))
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        json!({"schemas": [BULK_RESPONSE_URN], "Operations": operations}),
    ))
}

/// One element of the BulkResponse's `Operations`: method, bulkId, version, location and
/// status as a string; `response` only for a failure (RFC 7644 §3.7.3 lets a success omit it).
fn operation_response(base_url: &str, r: BulkResult) -> Value {
    let mut out = Map::new();
    if let Some(method) = r.method {
        out.insert("method".into(), json!(method));
    }
    if let Some(bulk_id) = r.bulk_id {
        out.insert("bulkId".into(), json!(bulk_id));
    }
    if let Some(version) = r.version {
        out.insert("version".into(), json!(render::etag(version)));
    }
    if let Some((endpoint, id)) = r.resource {
        out.insert(
            "location".into(),
            json!(format!("{base_url}{}/{id}", endpoint.path())),
        );
    }
    match r.outcome {
        Ok(status) => {
            out.insert("status".into(), json!(status.to_string()));
        }
        Err(err) => {
            let (status, scim_type, detail) = ApiError(err).parts();
            out.insert("status".into(), json!(status.to_string()));
            out.insert(
                "response".into(),
                error_body(status, scim_type, &format!("operation {}: {detail}", r.index + 1)),
            );
        }
    }
    Value::Object(out)
}
