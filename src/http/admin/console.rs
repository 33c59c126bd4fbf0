//! `/api/accounts/{account_id}/console/setup-links`: single-use links into the account's web
//! console (docs/console.md), for an application that lets its customer's IT admin set up the
//! identity provider without handing out an admin token.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::{Validate, whole};
use super::{OptionalJson, json};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::Ctx;
use crate::scim::ScimError;
use crate::service::console::SETUP_LINK_SECONDS;

type Handler = Result<axum::response::Response, ApiError>;

/// No body at all is the same as `{}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupLinkCreate {
    /// How long the link can be used; default `console_setup_link_hours` (72 hours).
    #[serde(default, deserialize_with = "whole")]
    #[schema(value_type = Option<u32>, minimum = 60, maximum = 2592000)]
    pub lifetime_seconds: Option<u32>,
}

impl Validate for SetupLinkCreate {
    fn validate(&self) -> Result<(), ScimError> {
        match self.lifetime_seconds {
            Some(s) if !SETUP_LINK_SECONDS.contains(&u64::from(s)) => Err(ScimError::invalid_value(format!(
                "lifetime_seconds must be from {} to {}, not {s}",
                SETUP_LINK_SECONDS.start(),
                SETUP_LINK_SECONDS.end()
            ))),
            _ => Ok(()),
        }
    }
}

/// A setup link just made: its URL (with the single-use code) is in this answer only.
#[derive(Debug, Serialize, ToSchema)]
pub struct SetupLinkOut {
    pub id: Uuid,
    /// Open it in a browser: it asks to continue, then signs into this account's console once.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// Make a single-use link that signs someone into this account's web console once.
#[utoipa::path(
    post,
    path = "/api/accounts/{account_id}/console/setup-links",
    tag = "account",
    params(("account_id" = Uuid, Path)),
    request_body(content = Option<SetupLinkCreate>, description = "Optional: no body is the same as `{}`."),
    responses((status = 201, body = SetupLinkOut))
)]
pub async fn create_setup_link(
    State(st): State<AppState>,
    ctx: Ctx,
    OptionalJson(body): OptionalJson<SetupLinkCreate>,
) -> Handler {
    let issued = st
        .service
        .create_setup_link(
            &ctx.caller,
            body.lifetime_seconds
                .map(|s| std::time::Duration::from_secs(u64::from(s))),
        )
        .await?;
    let body = SetupLinkOut {
        id: issued.record.id,
        url: format!("{}/ui/setup?code={}", ctx.origin, issued.code),
        expires_at: issued.record.expires_at,
    };
    Ok(json(StatusCode::CREATED, &body, None))
}
