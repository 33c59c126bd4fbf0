//! `/api/accounts/{account_id}/webhooks`: endpoints the account's change feed is delivered to,
//! signed per Standard Webhooks, with their delivery log and redelivery (docs/events.md).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::Validate;
use super::query::{Query, path_id};
use super::{AdminJson, json, no_content};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{Ctx, Params};
use crate::scim::ScimError;
use crate::service::events::parse_cursor;
use crate::service::records::{WebhookDelivery, WebhookEndpoint};
use crate::service::webhooks::WebhookUpdate;

type Handler = Result<axum::response::Response, ApiError>;

/// Longest URL accepted.
const MAX_URL: usize = 2048;

/// `Some(None)` for an explicit `null`, `None` for an absent field (with `#[serde(default)]`).
fn double<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn check_url_len(url: &str) -> Result<(), ScimError> {
    if url.is_empty() || url.chars().count() > MAX_URL {
        return Err(ScimError::invalid_value(format!(
            "url must be 1 to {MAX_URL} characters"
        )));
    }
    Ok(())
}

fn check_description(d: Option<&str>) -> Result<(), ScimError> {
    if d.is_some_and(|d| d.chars().count() > 1024) {
        return Err(ScimError::invalid_value("description is at most 1024 characters"));
    }
    Ok(())
}

/// An endpoint to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookCreate {
    /// Where events are POSTed: http or https, reachable from scimd (loopback, private and
    /// link-local addresses are refused unless the operator allows them).
    #[schema(max_length = 2048)]
    pub url: String,
    /// Only these event types (see the events API); absent or null: every type.
    pub types: Option<Vec<String>>,
    #[schema(max_length = 1024)]
    pub description: Option<String>,
}

impl Validate for WebhookCreate {
    fn validate(&self) -> Result<(), ScimError> {
        check_url_len(&self.url)?;
        check_description(self.description.as_deref())
    }
}

/// A change to an endpoint: only the fields sent change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    /// `null`: every type.
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<Vec<String>>)]
    pub types: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>, max_length = 1024)]
    pub description: Option<Option<String>>,
    /// `true` re-enables a disabled endpoint (it retries the event it stopped at at once);
    /// `false` pauses deliveries.
    pub enabled: Option<bool>,
}

impl Validate for WebhookPatch {
    fn validate(&self) -> Result<(), ScimError> {
        if let Some(url) = &self.url {
            check_url_len(url)?;
        }
        check_description(self.description.clone().flatten().as_deref())
    }
}

/// Where to start again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRedeliver {
    /// A feed position (a `next_cursor` of the events API, or an event's `id` less one): every
    /// event after it is sent again.
    #[schema(pattern = "^[0-9]{1,18}$")]
    pub after: String,
}

impl Validate for WebhookRedeliver {}

/// An endpoint and where its delivery stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookOut {
    pub id: Uuid,
    pub url: String,
    pub types: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: bool,
    /// Why it is disabled: by an admin, or after its last retry failed.
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The feed position delivered through.
    pub position: String,
    /// Failed attempts at the next event; when the next attempt is due; since when it fails.
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub failing_since: Option<DateTime<Utc>>,
}

impl From<&WebhookEndpoint> for WebhookOut {
    fn from(e: &WebhookEndpoint) -> Self {
        WebhookOut {
            id: e.id,
            url: e.url.clone(),
            types: e.types.clone(),
            description: e.description.clone(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            created_at: e.created_at,
            position: e.position.to_string(),
            attempts: e.attempts,
            next_attempt_at: e.next_attempt_at,
            failing_since: e.failing_since,
        }
    }
}

/// An endpoint just registered: its signing secret (`whsec_…`) is in this answer only.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookCreatedOut {
    pub secret: String,
    #[serde(flatten)]
    pub endpoint: WebhookOut,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<WebhookOut>,
}

/// One delivery attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryOut {
    /// The event's feed position (its `id` in the events API; `webhook-id` is `evt_` and it).
    pub event_id: String,
    pub attempt: i64,
    /// The HTTP status answered; absent when there was no answer.
    pub status: Option<i64>,
    pub error: Option<String>,
    pub latency_ms: i64,
    pub at: DateTime<Utc>,
}

impl From<&WebhookDelivery> for DeliveryOut {
    fn from(d: &WebhookDelivery) -> Self {
        DeliveryOut {
            event_id: d.event_seq.to_string(),
            attempt: d.attempt,
            status: d.status,
            error: d.error.clone(),
            latency_ms: d.latency_ms,
            at: d.at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub items: Vec<DeliveryOut>,
}

/// The account's webhook endpoints.
#[utoipa::path(get, path = "/api/accounts/{account_id}/webhooks", tag = "events",
    params(("account_id" = Uuid, Path)), responses((status = 200, body = WebhookList)))]
pub async fn list_webhooks(State(st): State<AppState>, ctx: Ctx) -> Handler {
    let items = st.service.list_webhooks(&ctx.caller).await?;
    let body = WebhookList {
        items: items.iter().map(WebhookOut::from).collect(),
    };
    Ok(json(StatusCode::OK, &body, None))
}

/// Register an endpoint: the events that follow are POSTed to it, signed with its secret
/// (shown in this answer only).
#[utoipa::path(post, path = "/api/accounts/{account_id}/webhooks", tag = "events",
    params(("account_id" = Uuid, Path)), request_body = WebhookCreate,
    responses((status = 201, body = WebhookCreatedOut),
              (status = 400, description = "The URL is not valid or not reachable from scimd, or a type is unknown.")))]
pub async fn create_webhook(
    State(st): State<AppState>,
    ctx: Ctx,
    AdminJson(body): AdminJson<WebhookCreate>,
) -> Handler {
    let e = st
        .service
        .create_webhook(&ctx.caller, &body.url, body.types, body.description)
        .await?;
    let out = WebhookCreatedOut {
        secret: e.secret.clone(),
        endpoint: WebhookOut::from(&e),
    };
    Ok(json(StatusCode::CREATED, &out, None))
}

/// An endpoint and where its delivery stands.
#[utoipa::path(get, path = "/api/accounts/{account_id}/webhooks/{webhook_id}", tag = "events",
    params(("account_id" = Uuid, Path), ("webhook_id" = Uuid, Path)),
    responses((status = 200, body = WebhookOut), (status = 404)))]
pub async fn get_webhook(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
) -> Handler {
    let id = path_id("Webhook", &id)?;
    let e = st.service.get_webhook(&ctx.caller, id).await?;
    Ok(json(StatusCode::OK, &WebhookOut::from(&e), None))
}

/// Change an endpoint, pause it, or re-enable it after it was disabled.
#[utoipa::path(patch, path = "/api/accounts/{account_id}/webhooks/{webhook_id}", tag = "events",
    params(("account_id" = Uuid, Path), ("webhook_id" = Uuid, Path)), request_body = WebhookPatch,
    responses((status = 200, body = WebhookOut), (status = 404)))]
pub async fn update_webhook(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
    AdminJson(body): AdminJson<WebhookPatch>,
) -> Handler {
    let id = path_id("Webhook", &id)?;
    let update = WebhookUpdate {
        url: body.url,
        types: body.types,
        description: body.description,
        enabled: body.enabled,
    };
    let e = st.service.update_webhook(&ctx.caller, id, update).await?;
    Ok(json(StatusCode::OK, &WebhookOut::from(&e), None))
}

/// Delete an endpoint and its delivery log.
#[utoipa::path(delete, path = "/api/accounts/{account_id}/webhooks/{webhook_id}", tag = "events",
    params(("account_id" = Uuid, Path), ("webhook_id" = Uuid, Path)),
    responses((status = 204), (status = 404)))]
pub async fn delete_webhook(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
) -> Handler {
    let id = path_id("Webhook", &id)?;
    st.service.delete_webhook(&ctx.caller, id).await?;
    Ok(no_content())
}

/// The endpoint's delivery attempts, newest first: event, attempt, status, latency, error.
#[utoipa::path(get, path = "/api/accounts/{account_id}/webhooks/{webhook_id}/deliveries", tag = "events",
    params(("account_id" = Uuid, Path), ("webhook_id" = Uuid, Path),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Attempts to return; default 100.")),
    responses((status = 200, body = DeliveryList), (status = 404)))]
pub async fn list_deliveries(
    State(st): State<AppState>,
    ctx: Ctx,
    params: Params,
    Path((_, id)): Path<(String, String)>,
) -> Handler {
    let id = path_id("Webhook", &id)?;
    let limit = Query(&params).int("limit", 1, 1000)?.unwrap_or(100);
    let items = st.service.webhook_deliveries(&ctx.caller, id, limit).await?;
    let body = DeliveryList {
        items: items.iter().map(DeliveryOut::from).collect(),
    };
    Ok(json(StatusCode::OK, &body, None))
}

/// Send every event after a feed position again (and re-enable the endpoint).
#[utoipa::path(post, path = "/api/accounts/{account_id}/webhooks/{webhook_id}/redeliver", tag = "events",
    params(("account_id" = Uuid, Path), ("webhook_id" = Uuid, Path)), request_body = WebhookRedeliver,
    responses((status = 200, body = WebhookOut), (status = 404),
              (status = 410, description = "Retention removed events after that position.")))]
pub async fn redeliver_webhook(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
    AdminJson(body): AdminJson<WebhookRedeliver>,
) -> Handler {
    let id = path_id("Webhook", &id)?;
    let after = parse_cursor(Some(&body.after))?.unwrap_or(0);
    let e = st.service.redeliver_webhook(&ctx.caller, id, after).await?;
    Ok(json(StatusCode::OK, &WebhookOut::from(&e), None))
}
