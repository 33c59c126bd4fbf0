//! The OpenAPI schemas of the export format and of a comparison (R10). The service's types
//! (`service::export`) stay plain serde; these mirrors carry the schema the admin API documents,
//! named and described as the service's types are (docs/decisions.md: OpenAPI lives in `http/`).
//! A field added to one must be added to the other; `/api/openapi.json` is checked by tests/api.

use chrono::{DateTime, Utc};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::service::export::EXPORT_FORMAT;

fn export_format() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some([EXPORT_FORMAT]))
        .build()
}

/// The admin API serves an export and reads two back (compare), so its OpenAPI schema is
/// derived here, from the one definition of the format. Unknown fields are refused: a field
/// this version does not know is one whose loss it could not report.
#[derive(serde::Deserialize, ToSchema)]
#[allow(dead_code)]
#[serde(deny_unknown_fields)]
pub struct Export {
    #[schema(schema_with = export_format)]
    pub format: String,
    pub account_id: Uuid,
    pub exported_at: DateTime<Utc>,
    pub users: Vec<ExportUser>,
    pub groups: Vec<ExportGroup>,
    pub memberships: Vec<ExportMembership>,
    pub role_bindings: Vec<ExportBinding>,
}

#[derive(serde::Deserialize, ToSchema)]
#[allow(dead_code)]
#[serde(deny_unknown_fields)]
pub struct ExportUser {
    pub id: Uuid,
    pub user_name: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub active: bool,
    pub source: String,
    pub idp_managed: bool,
    pub external_id: Option<String>,
    /// Data under the account's own extension schemas, by URN; null when there is none.
    #[schema(value_type = Option<Object>)]
    pub extensions: Option<serde_json::Value>,
}

#[derive(serde::Deserialize, ToSchema)]
#[allow(dead_code)]
#[serde(deny_unknown_fields)]
pub struct ExportGroup {
    pub id: Uuid,
    pub identifier: String,
    pub display_name: String,
    pub source: String,
    pub idp_managed: bool,
    pub external_id: Option<String>,
    /// Data under the account's own extension schemas, by URN; null when there is none.
    #[schema(value_type = Option<Object>)]
    pub extensions: Option<serde_json::Value>,
}

#[derive(serde::Deserialize, ToSchema)]
#[allow(dead_code)]
#[serde(deny_unknown_fields)]
pub struct ExportMembership {
    pub group_id: Uuid,
    pub group_identifier: String,
    pub user_id: Uuid,
    pub user_name: String,
    pub origin: String,
}

#[derive(serde::Deserialize, ToSchema)]
#[allow(dead_code)]
#[serde(deny_unknown_fields)]
pub struct ExportBinding {
    pub group_id: Uuid,
    pub group_identifier: String,
    pub role: String,
    pub resource_group: String,
}

#[derive(serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct UserRef {
    pub id: Uuid,
    pub user_name: String,
    pub email: Option<String>,
}

#[derive(serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct GroupKey {
    pub id: Uuid,
    pub identifier: String,
    pub display_name: String,
}

/// Users of the later export that look like one person.
#[derive(serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct Duplicate {
    /// `same email`, or `same name` (a user new since the first export named like an older one,
    /// what an email mismatch between IdP and application produces, seed 002).
    pub reason: String,
    pub users: Vec<UserRef>,
}

#[derive(serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct LostMembership {
    pub group_identifier: String,
    pub user_name: String,
}

#[derive(serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct LostBinding {
    pub group_identifier: String,
    pub role: String,
    pub resource_group: String,
}

/// An attribute under an extension schema that a user or group had before and not after.
#[derive(serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct LostExtensionData {
    /// `User` or `Group`.
    pub resource_type: String,
    /// The user's userName or the group's identifier.
    pub name: String,
    pub schema: String,
    pub attribute: String,
}

#[derive(serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct Comparison {
    /// Nothing missing, duplicated or lost.
    pub clean: bool,
    pub users_missing: Vec<UserRef>,
    pub groups_missing: Vec<GroupKey>,
    pub duplicate_users: Vec<Duplicate>,
    /// Groups of the later export that share a displayName (e.g. `keep_both`).
    pub duplicate_groups: Vec<Vec<GroupKey>>,
    pub memberships_lost: Vec<LostMembership>,
    pub role_bindings_lost: Vec<LostBinding>,
    /// Extension attributes a resource in both exports had before and not after.
    pub extension_data_lost: Vec<LostExtensionData>,
    pub users_added: usize,
    pub groups_added: usize,
    /// Users that are IdP-managed in the later export but were not in the first.
    pub users_now_idp_managed: usize,
}
