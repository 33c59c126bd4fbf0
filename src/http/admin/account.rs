//! Account-wide admin endpoints: the profile (R6, R8), SCIM on and off (R7), SCIM tokens (R6),
//! the audit log, export and compare (R10).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::ToSchema;

use super::dto::{
    AuditEventOut, AuditList, AuditResourceType, ExportFormat, ScimDisable, ScimDisableOut, SettingsOut,
    SettingsUpdate, TokenCreate, TokenIssuedOut, TokenList, TokenOut, TokenRegenerate, Validate,
};
use super::export_schema;
use super::query::{Query, path_id};
use super::{AdminJson, ExportJson, OptionalJson, json, no_content, wire};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{Ctx, Params};
use crate::service::audit::MAX_AUDIT_PAGE;
use crate::service::export::{Comparison, Export};
use crate::service::settings::ProfileUpdate;
use crate::service::{IssuedToken, TokenKind};

type Handler = Result<axum::response::Response, ApiError>;

const DAY: u64 = 86_400;

#[utoipa::path(
    get,
    path = "/api/accounts/{account_id}/settings",
    tag = "account",
    params(("account_id" = Uuid, Path)),
    responses((status = 200, body = SettingsOut))
)]
pub async fn get_settings(State(st): State<AppState>, ctx: Ctx) -> Handler {
    let profile = st.service.get_profile(&ctx.caller).await?;
    Ok(json(StatusCode::OK, &SettingsOut::from(&profile), None))
}

/// Change the account profile (R8); fields left out stay.
#[utoipa::path(
    patch,
    path = "/api/accounts/{account_id}/settings",
    tag = "account",
    params(("account_id" = Uuid, Path)),
    request_body = SettingsUpdate,
    responses((status = 200, body = SettingsOut))
)]
pub async fn update_settings(
    State(st): State<AppState>,
    ctx: Ctx,
    AdminJson(body): AdminJson<SettingsUpdate>,
) -> Handler {
    let update = ProfileUpdate {
        update_emails_via_scim: body.update_emails_via_scim,
        group_name_conflict: body.group_name_conflict.map(Into::into),
        reserved_group_names: body.reserved_group_names,
        max_group_name_length: body.max_group_name_length,
        token_ttl: body
            .token_lifetime_days
            .map(|d| d.map(|d| Duration::from_secs(u64::from(d) * DAY))),
        undeclared_extensions: body.undeclared_extensions.map(Into::into),
    };
    let profile = st.service.update_profile(&ctx.caller, update).await?;
    Ok(json(StatusCode::OK, &SettingsOut::from(&profile), None))
}

/// Turn SCIM on (R7). Issue a token afterwards with `POST …/scim/tokens`.
#[utoipa::path(
    post,
    path = "/api/accounts/{account_id}/scim/enable",
    tag = "scim",
    params(("account_id" = Uuid, Path)),
    responses((status = 200, body = SettingsOut))
)]
pub async fn enable_scim(State(st): State<AppState>, ctx: Ctx) -> Handler {
    let profile = st.service.enable_scim(&ctx.caller).await?;
    Ok(json(StatusCode::OK, &SettingsOut::from(&profile), None))
}

/// Turn SCIM off (R7): every IdP-managed user and group becomes native and every SCIM token is
/// revoked. Needs `{"confirmation": "DISABLE"}`.
#[utoipa::path(
    post,
    path = "/api/accounts/{account_id}/scim/disable",
    tag = "scim",
    params(("account_id" = Uuid, Path)),
    request_body = ScimDisable,
    responses((status = 200, body = ScimDisableOut))
)]
pub async fn disable_scim(
    State(st): State<AppState>,
    ctx: Ctx,
    AdminJson(body): AdminJson<ScimDisable>,
) -> Handler {
    let report = st.service.disable_scim(&ctx.caller, &body.confirmation).await?;
    let body = ScimDisableOut {
        scim_enabled: false,
        users_converted: report.users_converted,
        groups_converted: report.groups_converted,
        groups_renamed: report.groups_renamed,
        tokens_revoked: report.tokens_revoked,
    };
    Ok(json(StatusCode::OK, &body, None))
}

#[utoipa::path(
    get,
    path = "/api/accounts/{account_id}/scim/tokens",
    tag = "scim",
    params(("account_id" = Uuid, Path)),
    responses((status = 200, body = TokenList))
)]
pub async fn list_tokens(State(st): State<AppState>, ctx: Ctx) -> Handler {
    let tokens = st.service.list_tokens(ctx.caller.account_id).await?;
    let body = TokenList {
        items: tokens
            .iter()
            .filter(|t| t.kind == TokenKind::Scim.as_str())
            .map(TokenOut::from)
            .collect(),
    };
    Ok(json(StatusCode::OK, &body, None))
}

fn issued(ctx: &Ctx, issued: &IssuedToken) -> TokenIssuedOut {
    TokenIssuedOut {
        token: issued.token.clone(),
        scim_base_url: ctx.base_url.clone(),
        record: TokenOut::from(&issued.record),
    }
}

fn lifetime(days: Option<u32>) -> Option<Duration> {
    days.map(|d| Duration::from_secs(u64::from(d) * DAY))
}

/// Issue a SCIM token; its secret is in this answer only (R6).
#[utoipa::path(
    post,
    path = "/api/accounts/{account_id}/scim/tokens",
    tag = "scim",
    params(("account_id" = Uuid, Path)),
    request_body = TokenCreate,
    responses((status = 201, body = TokenIssuedOut))
)]
pub async fn create_token(
    State(st): State<AppState>,
    ctx: Ctx,
    AdminJson(body): AdminJson<TokenCreate>,
) -> Handler {
    let token = st
        .service
        .create_token_as(
            &ctx.caller,
            TokenKind::Scim,
            Some(body.idp.into()),
            lifetime(body.lifetime_days),
            body.description,
        )
        .await?;
    Ok(json(StatusCode::CREATED, &issued(&ctx, &token), None))
}

/// Revoke a SCIM token at once.
#[utoipa::path(
    delete,
    path = "/api/accounts/{account_id}/scim/tokens/{token_id}",
    tag = "scim",
    params(("account_id" = Uuid, Path), ("token_id" = Uuid, Path)),
    responses((status = 204))
)]
pub async fn revoke_token(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
) -> Handler {
    let token = path_id("Token", &id)?;
    st.service
        .revoke_token_as(&ctx.caller, token, Some(TokenKind::Scim))
        .await?;
    Ok(no_content())
}

/// Regenerate a SCIM token: a new secret with the same IdP label; the old one stops working
/// at once (R6).
#[utoipa::path(
    post,
    path = "/api/accounts/{account_id}/scim/tokens/{token_id}/regenerate",
    tag = "scim",
    params(("account_id" = Uuid, Path), ("token_id" = Uuid, Path)),
    request_body(content = Option<TokenRegenerate>, description = "Optional: no body is the same as `{}`."),
    responses((status = 201, body = TokenIssuedOut))
)]
pub async fn regenerate_token(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
    OptionalJson(body): OptionalJson<TokenRegenerate>,
) -> Handler {
    let token = path_id("Token", &id)?;
    let new = st
        .service
        .rotate_token_as(
            &ctx.caller,
            token,
            lifetime(body.lifetime_days),
            Some(TokenKind::Scim),
        )
        .await?;
    Ok(json(StatusCode::CREATED, &issued(&ctx, &new), None))
}

/// The audit log, newest first: every change by SCIM, the admin API and the CLI.
#[utoipa::path(
    get,
    path = "/api/accounts/{account_id}/audit",
    tag = "audit",
    params(
        ("account_id" = Uuid, Path),
        ("resource_type" = inline(Option<AuditResourceType>), Query, description = "Only events about this type of resource."),
        ("resource_id" = Option<Uuid>, Query, description = "Only events about this resource (every resource id is a UUID)."),
        ("before" = Option<Uuid>, Query, description = "The `next` of the previous page: events older than that one."),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Events per page; default 100."),
    ),
    responses((status = 200, body = AuditList))
)]
pub async fn list_audit(State(st): State<AppState>, ctx: Ctx, params: Params) -> Handler {
    let q = Query(&params);
    let resource_type = q.one_of::<AuditResourceType>("resource_type")?.map(|t| wire(&t));
    let resource_id = q.uuid("resource_id")?.map(|id| id.to_string());
    let before = q.uuid("before")?.map(|id| id.to_string());
    let limit = q.int("limit", 1, MAX_AUDIT_PAGE)?;
    let page = st
        .service
        .list_audit(
            &ctx.caller,
            crate::service::audit::AuditFilter {
                resource_type,
                resource_id,
                ..Default::default()
            },
            before.as_deref(),
            limit,
        )
        .await?;
    let body = AuditList {
        items: page.events.into_iter().map(AuditEventOut::from).collect(),
        next: page.next,
    };
    Ok(json(StatusCode::OK, &body, None))
}

/// Export users, groups, memberships and role bindings (R10), as JSON (default) or CSV.
#[utoipa::path(
    get,
    path = "/api/accounts/{account_id}/export",
    tag = "migration",
    params(("account_id" = Uuid, Path), ("format" = inline(Option<ExportFormat>), Query, description = "Default: json.")),
    responses(
        (status = 200, description = "The export: JSON, or one CSV table whose `record` column says which \
                                      kind each row is (user, group, membership, role_binding).", content(
            (export_schema::Export = "application/json"),
            (String = "text/csv")
        ))
    )
)]
pub async fn export(State(st): State<AppState>, ctx: Ctx, params: Params) -> Handler {
    let format = Query(&params).one_of::<ExportFormat>("format")?;
    let export = st.service.export(&ctx.caller).await?;
    if matches!(format, Some(ExportFormat::Csv)) {
        return Ok((
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"scimd-export.csv\"",
                ),
            ],
            export.to_csv(),
        )
            .into_response());
    }
    Ok(json(StatusCode::OK, &export, None))
}

/// Two exports to compare; without `after` (or with `null`), `before` is compared with the
/// account as it is now.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompareRequest {
    #[schema(value_type = export_schema::Export)]
    pub before: Export,
    #[schema(value_type = Option<export_schema::Export>)]
    pub after: Option<Export>,
}

impl Validate for CompareRequest {}

/// Compare two exports (R10): users missing, duplicates, memberships and role bindings lost.
#[utoipa::path(
    post,
    path = "/api/accounts/{account_id}/compare",
    tag = "migration",
    params(("account_id" = Uuid, Path)),
    request_body = CompareRequest,
    responses((status = 200, description = "The comparison; `clean` is true when nothing was lost.", body = export_schema::Comparison))
)]
pub async fn compare(
    State(st): State<AppState>,
    ctx: Ctx,
    ExportJson(body): ExportJson<CompareRequest>,
) -> Handler {
    let c: Comparison = st
        .service
        .compare_exports(&ctx.caller, &body.before, body.after.as_ref())
        .await?;
    Ok(json(StatusCode::OK, &c, None))
}
