//! `/api/accounts/{account_id}/events`: the change feed (docs/events.md), read by cursor, with
//! long polling.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::AuditActorOut;
use super::json;
use super::query::Query;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{Ctx, Params};
use crate::scim::ScimError;
use crate::service::audit::canonical;
use crate::service::events::{MAX_EVENT_PAGE, MAX_WAIT, parse_cursor};
use crate::service::records::EventRecord;

type Handler = Result<axum::response::Response, ApiError>;

/// What an event is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventResourceOut {
    /// `User`, `Group`, `Account`, `Token`, `RoleBinding` or `Schema`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    /// The resource's `externalId` (users and groups), as the change left it.
    pub external_id: Option<String>,
}

/// The user a membership event is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventMemberOut {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: Uuid,
}

/// One event of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    /// The event's position in the feed: unique, and increasing along it. Also a cursor.
    pub id: String,
    /// `user.created`, `user.updated`, `user.deactivated`, `user.reactivated`, `user.deleted`,
    /// `group.created`, `group.updated`, `group.renamed`, `group.deleted`,
    /// `group.member_added`, `group.member_removed`, `scim.enabled`, `scim.disabled`,
    /// `account.updated`, `token.created`, `token.revoked`, `token.regenerated`,
    /// `oauth_client.created`, `oauth_client.revoked`,
    /// `role_binding.created`, `role_binding.deleted`, `schema.declared`, `schema.removed`,
    /// `webhook.created`, `webhook.updated`, `webhook.deleted`, `webhook.disabled`.
    #[serde(rename = "type")]
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub actor: AuditActorOut,
    pub resource: EventResourceOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<EventMemberOut>,
    /// The top-level attributes an update changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<Vec<String>>,
    /// The resource after the change (before it, for a deletion): a user's or group's SCIM
    /// document with `source` and `idp_managed`; absent for membership events.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

impl From<EventRecord> for EventOut {
    fn from(e: EventRecord) -> Self {
        let data = e.data.map(|d| canonical(&e.resource_type, d));
        EventOut {
            id: e.seq.to_string(),
            member: e.member_id.map(|id| EventMemberOut { kind: "User", id }),
            kind: e.kind,
            occurred_at: e.at,
            actor: AuditActorOut {
                kind: e.actor_kind.unwrap_or_default(),
                token_id: e.actor_token_id,
                idp: e.actor_idp,
                name: e.actor_name,
            },
            resource: EventResourceOut {
                kind: e.resource_type,
                id: e.resource_id,
                external_id: e.external_id,
            },
            changed: e.changed,
            data,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    pub events: Vec<EventOut>,
    /// Pass as `after` to read on: never empty, also when this page is.
    pub next_cursor: String,
    /// More events are there already: read on at once rather than wait.
    pub has_more: bool,
}

/// The account's change feed, oldest first: every change to users, groups, memberships,
/// tokens and settings, from SCIM, the admin API and the CLI.
#[utoipa::path(
    get,
    path = "/api/accounts/{account_id}/events",
    tag = "events",
    params(
        ("account_id" = Uuid, Path),
        ("after" = Option<String>, Query, pattern = "^[0-9]{1,18}$", description = "A `next_cursor` of an earlier page; absent: from the oldest event kept."),
        ("types" = Option<String>, Query, pattern = "^(user\\.created|user\\.updated|user\\.deactivated|user\\.reactivated|user\\.deleted|group\\.created|group\\.updated|group\\.renamed|group\\.deleted|group\\.member_added|group\\.member_removed|scim\\.enabled|scim\\.disabled|account\\.updated|token\\.created|token\\.revoked|token\\.regenerated|oauth_client\\.created|oauth_client\\.revoked|role_binding\\.created|role_binding\\.deleted|schema\\.declared|schema\\.removed|webhook\\.created|webhook\\.updated|webhook\\.deleted|webhook\\.disabled)(,(user\\.created|user\\.updated|user\\.deactivated|user\\.reactivated|user\\.deleted|group\\.created|group\\.updated|group\\.renamed|group\\.deleted|group\\.member_added|group\\.member_removed|scim\\.enabled|scim\\.disabled|account\\.updated|token\\.created|token\\.revoked|token\\.regenerated|oauth_client\\.created|oauth_client\\.revoked|role_binding\\.created|role_binding\\.deleted|schema\\.declared|schema\\.removed|webhook\\.created|webhook\\.updated|webhook\\.deleted|webhook\\.disabled))*$", description = "Comma-separated event types: only those."),
        ("limit" = Option<i64>, Query, minimum = 0, maximum = 1000, description = "Events per page; default 100. 0 reads no event, only the current end of the feed as `next_cursor`."),
        ("wait" = Option<String>, Query, pattern = "^([0-9]|[1-5][0-9]|60)s?$", description = "Seconds (`30` or `30s`, at most 60) to wait for an event when there is none yet; default 0."),
    ),
    responses(
        (status = 200, body = EventList),
        (status = 400, description = "A parameter is not valid; the detail says which."),
        (status = 410, description = "The cursor is older than the retention: resynchronise from full lists."),
    )
)]
pub async fn list_events(State(st): State<AppState>, ctx: Ctx, params: Params) -> Handler {
    let q = Query(&params);
    let after = parse_cursor(q.text("after", 40)?)?;
    // Strict, as the document's pattern: an empty name (`types=`, `a,,b`) is refused.
    let types = q
        .text("types", 2000)?
        .map(|t| t.split(',').map(str::to_string).collect::<Vec<_>>());
    let limit = q.int("limit", 0, MAX_EVENT_PAGE)?;
    let wait = match q.text("wait", 10)? {
        None => Duration::ZERO,
        Some(raw) => {
            let digits = raw.strip_suffix('s').unwrap_or(raw);
            let secs =
                (!digits.is_empty() && digits.len() <= 2 && digits.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| digits.parse::<u64>().ok())
                    .flatten();
            match secs.filter(|s| *s <= MAX_WAIT.as_secs()) {
                Some(secs) => Duration::from_secs(secs),
                None => {
                    return Err(ScimError::invalid_value(format!(
                        "wait must be a number of seconds from 0 to {} (`30` or `30s`), not {raw:?}",
                        MAX_WAIT.as_secs()
                    ))
                    .into());
                }
            }
        }
    };
    let page = st
        .service
        .list_events(&ctx.caller, after, types, limit, wait)
        .await?;
    let body = EventList {
        events: page.events.into_iter().map(EventOut::from).collect(),
        next_cursor: page.next.to_string(),
        has_more: page.has_more,
    };
    Ok(json(StatusCode::OK, &body, None))
}
