//! `/api/accounts/{account_id}/oauth/clients`: the account's OAuth clients, with which an IdP
//! gets short-lived SCIM tokens at the account's token endpoint (docs/idp-setup.md).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::OAuthClientCreate;
use super::query::path_id;
use super::{AdminJson, json, no_content};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::Ctx;
use crate::service::Idp;
use crate::service::records::OAuthClientRecord;

type Handler = Result<axum::response::Response, ApiError>;

/// A registered client: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthClientOut {
    pub client_id: Uuid,
    /// `okta`, `entra`, `onelogin` or `scim`.
    pub idp: String,
    pub description: Option<String>,
    pub access_token_seconds: i64,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&OAuthClientRecord> for OAuthClientOut {
    fn from(c: &OAuthClientRecord) -> Self {
        OAuthClientOut {
            client_id: c.id,
            idp: Idp::normalise(&c.idp),
            description: c.description.clone(),
            access_token_seconds: c.access_token_seconds,
            created_at: c.created_at,
            revoked_at: c.revoked_at,
        }
    }
}

/// A client just registered: its secret is in this answer only.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthClientIssuedOut {
    pub client_secret: String,
    /// Where the IdP exchanges the client id and secret for an access token.
    pub token_endpoint: String,
    /// The SCIM base URL the IdP provisions with the access token.
    pub scim_base_url: String,
    #[serde(flatten)]
    pub client: OAuthClientOut,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthClientList {
    pub items: Vec<OAuthClientOut>,
}

/// The account's OAuth clients, revoked ones included.
#[utoipa::path(
    get,
    path = "/api/accounts/{account_id}/oauth/clients",
    tag = "scim",
    params(("account_id" = Uuid, Path)),
    responses((status = 200, body = OAuthClientList))
)]
pub async fn list_oauth_clients(State(st): State<AppState>, ctx: Ctx) -> Handler {
    let clients = st.service.list_oauth_clients(&ctx.caller).await?;
    let body = OAuthClientList {
        items: clients.iter().map(OAuthClientOut::from).collect(),
    };
    Ok(json(StatusCode::OK, &body, None))
}

/// Register an OAuth client for an IdP (client-credentials grant); its secret is in this answer
/// only.
#[utoipa::path(
    post,
    path = "/api/accounts/{account_id}/oauth/clients",
    tag = "scim",
    params(("account_id" = Uuid, Path)),
    request_body = OAuthClientCreate,
    responses((status = 201, body = OAuthClientIssuedOut))
)]
pub async fn create_oauth_client(
    State(st): State<AppState>,
    ctx: Ctx,
    AdminJson(body): AdminJson<OAuthClientCreate>,
) -> Handler {
    let issued = st
        .service
        .create_oauth_client(
            &ctx.caller,
            body.idp.into(),
            body.description,
            body.access_token_seconds.map(i64::from),
        )
        .await?;
    let body = OAuthClientIssuedOut {
        client_secret: issued.secret,
        token_endpoint: format!("{}/oauth/token", ctx.base_url),
        scim_base_url: ctx.base_url.clone(),
        client: OAuthClientOut::from(&issued.record),
    };
    Ok(json(StatusCode::CREATED, &body, None))
}

/// Revoke an OAuth client: it gets no more access tokens, and those it has stop working at once.
#[utoipa::path(
    delete,
    path = "/api/accounts/{account_id}/oauth/clients/{client_id}",
    tag = "scim",
    params(("account_id" = Uuid, Path), ("client_id" = Uuid, Path)),
    responses((status = 204), (status = 404, description = "No such active client."))
)]
pub async fn revoke_oauth_client(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
) -> Handler {
    let id = path_id("OAuth client", &id)?;
    st.service.revoke_oauth_client(&ctx.caller, id).await?;
    Ok(no_content())
}
