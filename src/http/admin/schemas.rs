//! `/api/accounts/{account_id}/schemas`: the account's extension schemas (RFC 7643 §7), which
//! `/Schemas` and `/ResourceTypes` advertise and every SCIM write is checked against.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::dto::Validate;
use super::query::Query;
use super::{AdminJson, json};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{Ctx, Params};
use crate::scim::ScimError;
use crate::scim::schema::declare::{self, Extends};
use crate::service::schemas::DeclaredSchema;

type Handler = Result<axum::response::Response, ApiError>;

/// Which resource type a schema extends.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub enum ExtendsIn {
    User,
    Group,
}

impl From<ExtendsIn> for Extends {
    fn from(v: ExtendsIn) -> Self {
        match v {
            ExtendsIn::User => Extends::User,
            ExtendsIn::Group => Extends::Group,
        }
    }
}

/// A schema to declare.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaCreate {
    pub resource_type: ExtendsIn,
    /// Whether every write of that resource type must carry the extension
    /// (`schemaExtensions[].required` in `/ResourceTypes`). Default false.
    #[serde(default)]
    pub required: bool,
    /// The schema document (RFC 7643 §7): `id` (the extension URN), `name`, `description`,
    /// `attributes` (types string, boolean, decimal, integer, dateTime, reference, complex one
    /// level deep; `multiValued`, `required`, `caseExact`, `mutability`, `returned`,
    /// `uniqueness`, `canonicalValues`, `referenceTypes`, `subAttributes`).
    #[schema(value_type = Object)]
    pub schema: Value,
}

impl Validate for SchemaCreate {}

/// A declared schema.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaOut {
    /// The extension URN.
    pub id: String,
    pub resource_type: String,
    pub required: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The schema as scimd holds it: every attribute with all of its characteristics.
    #[schema(value_type = Object)]
    pub schema: Value,
}

impl From<&DeclaredSchema> for SchemaOut {
    fn from(d: &DeclaredSchema) -> Self {
        SchemaOut {
            id: d.schema.id.to_string(),
            resource_type: d.extends.as_str().to_string(),
            required: d.required,
            created_at: d.created_at,
            schema: declare::schema_json(d.schema),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaList {
    pub items: Vec<SchemaOut>,
}

/// What removing a schema did.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaRemoved {
    pub id: String,
    /// Users or groups whose data under the schema was removed with it.
    pub resources_changed: u64,
}

/// The account's extension schemas, in declaration order.
#[utoipa::path(
    get,
    path = "/api/accounts/{account_id}/schemas",
    tag = "schemas",
    params(("account_id" = Uuid, Path)),
    responses((status = 200, body = SchemaList))
)]
pub async fn list_schemas(State(st): State<AppState>, ctx: Ctx) -> Handler {
    let schemas = st.service.list_schemas(&ctx.caller).await?;
    let body = SchemaList {
        items: schemas.iter().map(SchemaOut::from).collect(),
    };
    Ok(json(StatusCode::OK, &body, None))
}

/// Declare an extension schema. From the next request on, `/Schemas` and `/ResourceTypes`
/// advertise it, SCIM writes are validated against it, and filters may name its attributes
/// (of a User extension; data kept before the declaration included).
#[utoipa::path(
    post,
    path = "/api/accounts/{account_id}/schemas",
    tag = "schemas",
    params(("account_id" = Uuid, Path)),
    request_body = SchemaCreate,
    responses(
        (status = 201, body = SchemaOut),
        (status = 400, description = "The schema is not valid; the detail names the problem."),
        (status = 409, description = "The URN is already declared in this account."),
    )
)]
pub async fn declare_schema(
    State(st): State<AppState>,
    ctx: Ctx,
    AdminJson(body): AdminJson<SchemaCreate>,
) -> Handler {
    let declared = st
        .service
        .declare_schema(
            &ctx.caller,
            &body.schema,
            body.resource_type.into(),
            body.required,
        )
        .await?;
    Ok(json(StatusCode::CREATED, &SchemaOut::from(&declared), None))
}

/// Remove a schema. When users or groups hold data under it, `force=true` is needed, and the
/// data is removed with the schema; without it the answer is 409 saying how many would lose it.
#[utoipa::path(
    delete,
    path = "/api/accounts/{account_id}/schemas/{urn}",
    tag = "schemas",
    params(
        ("account_id" = Uuid, Path),
        ("urn" = String, Path, description = "The extension URN (compared ignoring case)."),
        ("force" = Option<bool>, Query, description = "Remove the data held under the schema too."),
    ),
    responses(
        (status = 200, body = SchemaRemoved),
        (status = 404, description = "No such schema is declared."),
        (status = 409, description = "Resources hold data under the schema and force was not given."),
    )
)]
pub async fn remove_schema(
    State(st): State<AppState>,
    ctx: Ctx,
    params: Params,
    Path((_, urn)): Path<(String, String)>,
) -> Handler {
    let force = Query(&params).bool("force")?.unwrap_or(false);
    // No declared URN is longer or holds U+0000 (which no store can even compare).
    if urn.len() > 200 || urn.contains('\0') {
        return Err(ScimError::not_found("no such schema is declared in this account").into());
    }
    let report = st.service.remove_schema(&ctx.caller, &urn, force).await?;
    let body = SchemaRemoved {
        id: urn,
        resources_changed: report.resources,
    };
    Ok(json(StatusCode::OK, &body, None))
}
