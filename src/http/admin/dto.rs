//! The admin API's JSON: request and response bodies, with their OpenAPI schemas. Plain JSON
//! in snake_case; unknown request fields are refused, so a typo is an error, not a no-op.
//!
//! A request schema states what the server accepts, no more and no less: bounds
//! (`max_length`, `minimum`, `maximum`) are checked by each body's `Validate`, enumerations are
//! Rust enums, and two rules are added to every request string by `openapi::finish`: no U+0000
//! anywhere, and `min_length = 1` means "not blank" (a character other than whitespace).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Number, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::scim::ScimError;

use crate::scim::resource::primary_email;
use crate::service::groups::GroupView;
use crate::service::records::{AuditRecord, MemberRef, RoleBinding, TokenRecord};
use crate::service::settings::Profile;
use crate::service::users::UserView;

/// Most characters of a name, an email, a role or a resource group. Every one of them is a
/// key of a Postgres index, whose rows are bounded (about 2.7 kB): 256 characters are at most
/// 1 kB of UTF-8, with room for two such keys in one row (role and resource group).
pub const MAX_TEXT: usize = 256;
/// Most characters of a token's description (not indexed).
pub const MAX_DESCRIPTION: usize = 1024;
/// Token lifetimes, in days: 1 to 3650 (10 years), as the service allows.
pub const MAX_LIFETIME_DAYS: u32 = 3650;

/// A request body's own checks, run after it is read and before the service sees it, naming
/// the field and what it takes.
pub trait Validate {
    fn validate(&self) -> Result<(), ScimError> {
        Ok(())
    }
}

fn bad(detail: String) -> ScimError {
    ScimError::invalid_value(detail)
}

/// At most `max` characters (what JSON Schema's `maxLength` counts).
fn check_len(field: &str, value: &str, max: usize) -> Result<(), ScimError> {
    let len = value.chars().count();
    if len > max {
        return Err(bad(format!(
            "{field} is {len} characters long; at most {max} are accepted"
        )));
    }
    Ok(())
}

/// Not blank (`trim` leaves something), and at most `max` characters.
fn check_name(field: &str, value: &str, max: usize) -> Result<(), ScimError> {
    if value.trim().is_empty() {
        return Err(bad(format!("{field} must not be empty or only whitespace")));
    }
    check_len(field, value, max)
}

fn check_opt_len(field: &str, value: &Option<String>, max: usize) -> Result<(), ScimError> {
    value.as_deref().map_or(Ok(()), |v| check_len(field, v, max))
}

fn check_days(field: &str, days: Option<u32>) -> Result<(), ScimError> {
    match days {
        Some(d) if !(1..=MAX_LIFETIME_DAYS).contains(&d) => Err(bad(format!(
            "{field} must be from 1 to {MAX_LIFETIME_DAYS} days (10 years), not {d}"
        ))),
        _ => Ok(()),
    }
}

/// A whole number as JSON Schema's `integer` means it: `30` and `30.0` alike, not `30.5`.
fn whole_u32(n: &Number) -> Option<u32> {
    if let Some(v) = n.as_u64() {
        return u32::try_from(v).ok();
    }
    let f = n.as_f64()?;
    (f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f)).then_some(f as u32)
}

pub(super) fn whole<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    match Option::<Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => whole_u32(&n).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!("expected a whole number from 0 to {}, not {n}", u32::MAX))
        }),
    }
}

/// `Some(None)` for an explicit `null`, `None` for an absent field (with `#[serde(default)]`).
fn double_whole<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
    whole(d).map(Some)
}

// ---- Users --------------------------------------------------------------------------------

/// A group a user belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserGroupOut {
    pub id: Uuid,
    pub display_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: Uuid,
    pub user_name: String,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// The primary email: the one marked primary, else the first.
    pub email: Option<String>,
    pub external_id: Option<String>,
    pub active: bool,
    /// Where the user came from (R9): `manual`, `okta`, `entra`, `onelogin` or `scim`.
    pub source: String,
    /// Managed by an identity provider: locked in the admin API (R3).
    pub idp_managed: bool,
    pub groups: Vec<UserGroupOut>,
    pub created_at: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    /// Send it back as `If-Match: W/"<version>"` to refuse a write over someone else's.
    pub version: i64,
}

fn text(doc: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    doc.get(key).and_then(Value::as_str).map(str::to_string)
}

impl From<&UserView> for UserOut {
    fn from(v: &UserView) -> Self {
        let doc = &v.row.doc;
        let name = doc.get("name").and_then(Value::as_object);
        UserOut {
            id: v.row.id,
            user_name: text(doc, "userName").unwrap_or_default(),
            display_name: text(doc, "displayName"),
            given_name: name.and_then(|n| text(n, "givenName")),
            family_name: name.and_then(|n| text(n, "familyName")),
            email: primary_email(doc).map(str::to_string),
            external_id: text(doc, "externalId"),
            active: doc.get("active") != Some(&Value::Bool(false)),
            source: v.row.source.clone(),
            idp_managed: v.row.idp_managed,
            groups: v
                .groups
                .iter()
                .map(|g| UserGroupOut {
                    id: g.group_id,
                    display_name: g.display_name.clone(),
                })
                .collect(),
            created_at: v.row.created_at,
            last_modified: v.row.last_modified,
            version: v.row.version,
        }
    }
}

/// A native user. `null` is the same as leaving a field out.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    /// Unique in the account, ignoring case.
    #[schema(min_length = 1, max_length = 256)]
    pub user_name: String,
    /// The primary email.
    #[schema(max_length = 256)]
    pub email: Option<String>,
    #[schema(max_length = 256)]
    pub given_name: Option<String>,
    #[schema(max_length = 256)]
    pub family_name: Option<String>,
    #[schema(max_length = 256)]
    pub display_name: Option<String>,
    /// Default true.
    pub active: Option<bool>,
}

impl Validate for UserCreate {
    fn validate(&self) -> Result<(), ScimError> {
        check_name("user_name", &self.user_name, MAX_TEXT)?;
        check_opt_len("email", &self.email, MAX_TEXT)?;
        check_opt_len("given_name", &self.given_name, MAX_TEXT)?;
        check_opt_len("family_name", &self.family_name, MAX_TEXT)?;
        check_opt_len("display_name", &self.display_name, MAX_TEXT)
    }
}

/// Fields left out (or `null`) stay as they are. An empty string clears a name or the email.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    #[schema(min_length = 1, max_length = 256)]
    pub user_name: Option<String>,
    #[schema(max_length = 256)]
    pub email: Option<String>,
    #[schema(max_length = 256)]
    pub given_name: Option<String>,
    #[schema(max_length = 256)]
    pub family_name: Option<String>,
    #[schema(max_length = 256)]
    pub display_name: Option<String>,
    pub active: Option<bool>,
}

impl Validate for UserUpdate {
    fn validate(&self) -> Result<(), ScimError> {
        if let Some(name) = &self.user_name {
            check_name("user_name", name, MAX_TEXT)?;
        }
        check_opt_len("email", &self.email, MAX_TEXT)?;
        check_opt_len("given_name", &self.given_name, MAX_TEXT)?;
        check_opt_len("family_name", &self.family_name, MAX_TEXT)?;
        check_opt_len("display_name", &self.display_name, MAX_TEXT)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub total: i64,
    pub start_index: i64,
    pub items: Vec<UserOut>,
}

// ---- Groups -------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupOut {
    pub id: Uuid,
    /// Made from the name at creation (`.`, `-` and space become `_`), unique, never changed (R1).
    pub identifier: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub source: String,
    pub idp_managed: bool,
    pub created_at: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub version: i64,
}

impl From<&GroupView> for GroupOut {
    fn from(v: &GroupView) -> Self {
        let doc = &v.row.doc;
        GroupOut {
            id: v.row.id,
            identifier: v.row.identifier.clone().unwrap_or_default(),
            display_name: text(doc, "displayName").unwrap_or_default(),
            external_id: text(doc, "externalId"),
            source: v.row.source.clone(),
            idp_managed: v.row.idp_managed,
            created_at: v.row.created_at,
            last_modified: v.row.last_modified,
            version: v.row.version,
        }
    }
}

/// A native group. The account's `max_group_name_length` (settings) may bound the name further.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupCreate {
    #[schema(min_length = 1, max_length = 256)]
    pub display_name: String,
}

impl Validate for GroupCreate {
    fn validate(&self) -> Result<(), ScimError> {
        check_name("display_name", &self.display_name, MAX_TEXT)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupUpdate {
    #[schema(min_length = 1, max_length = 256)]
    pub display_name: String,
}

impl Validate for GroupUpdate {
    fn validate(&self) -> Result<(), ScimError> {
        check_name("display_name", &self.display_name, MAX_TEXT)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupList {
    pub total: i64,
    pub start_index: i64,
    pub items: Vec<GroupOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberOut {
    pub user_id: Uuid,
    /// The member's displayName, else its userName.
    pub display: Option<String>,
}

impl From<&MemberRef> for MemberOut {
    fn from(m: &MemberRef) -> Self {
        MemberOut {
            user_id: m.member_id,
            display: m.display.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    pub group_id: Uuid,
    pub items: Vec<MemberOut>,
}

/// Users of the account to add; an id that names no user of the account refuses the whole
/// request (400 `invalidValue`, naming the ids).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersAdd {
    #[schema(value_type = Vec<Uuid>)]
    pub user_ids: Vec<String>,
}

impl Validate for MembersAdd {
    fn validate(&self) -> Result<(), ScimError> {
        let malformed: Vec<&str> = self
            .user_ids
            .iter()
            .filter(|id| super::query::strict_uuid(id).is_none())
            .map(String::as_str)
            .take(20)
            .collect();
        if malformed.is_empty() {
            return Ok(());
        }
        Err(bad(format!(
            "user_ids must be user ids (UUIDs such as 0192d6c4-8a1e-7c3b-9f7e-2b4c6d8e0f1a); not UUIDs: {malformed:?}"
        )))
    }
}

// ---- Role bindings ------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleBindingOut {
    pub id: Uuid,
    pub group_id: Uuid,
    pub group_identifier: String,
    pub role: String,
    pub resource_group: String,
    pub created_at: DateTime<Utc>,
}

impl From<&RoleBinding> for RoleBindingOut {
    fn from(b: &RoleBinding) -> Self {
        RoleBindingOut {
            id: b.id,
            group_id: b.group_id,
            group_identifier: b.group_identifier.clone(),
            role: b.role.clone(),
            resource_group: b.resource_group.clone(),
            created_at: b.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleBindingList {
    pub items: Vec<RoleBindingOut>,
}

/// Both are stored without their surrounding whitespace.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBindingCreate {
    #[schema(min_length = 1, max_length = 256)]
    pub role: String,
    #[schema(min_length = 1, max_length = 256)]
    pub resource_group: String,
}

impl Validate for RoleBindingCreate {
    fn validate(&self) -> Result<(), ScimError> {
        check_name("role", &self.role, MAX_TEXT)?;
        check_name("resource_group", &self.resource_group, MAX_TEXT)
    }
}

// ---- Settings and SCIM --------------------------------------------------------------------

/// The account profile (R6, R7, R8).
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsOut {
    pub scim_enabled: bool,
    /// R2: let SCIM change a provisioned user's userName and primary email.
    pub update_emails_via_scim: bool,
    /// R4: `link` (the IdP takes over a native group of the same name) or `keep_both`.
    pub group_name_conflict: String,
    /// R8: names SCIM may neither create nor take over, compared ignoring case.
    pub reserved_group_names: Vec<String>,
    /// R8: longest group name, in characters; null for no limit.
    pub max_group_name_length: Option<u32>,
    /// R6: lifetime of new tokens in days; null for the server default (365).
    pub token_lifetime_days: Option<u64>,
    /// Data under an extension URN the account has not declared: `keep` (stored verbatim,
    /// returned, not filterable until declared) or `refuse` (400).
    pub undeclared_extensions: String,
}

impl From<&Profile> for SettingsOut {
    fn from(p: &Profile) -> Self {
        SettingsOut {
            scim_enabled: p.scim_enabled,
            update_emails_via_scim: p.update_emails_via_scim,
            group_name_conflict: p.group_name_conflict.as_str().to_string(),
            reserved_group_names: p.reserved_group_names.clone(),
            max_group_name_length: p.max_group_name_length,
            token_lifetime_days: p.token_ttl.map(|d| d.as_secs().div_ceil(86_400)),
            undeclared_extensions: p.undeclared_extensions.as_str().to_string(),
        }
    }
}

/// R4: what a SCIM group push does with a native group of the same name.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupNameConflictIn {
    /// The IdP takes over the native group.
    Link,
    /// A second, IdP-managed group is created beside it.
    KeepBoth,
}

impl From<GroupNameConflictIn> for crate::service::settings::GroupNameConflict {
    fn from(v: GroupNameConflictIn) -> Self {
        match v {
            GroupNameConflictIn::Link => Self::Link,
            GroupNameConflictIn::KeepBoth => Self::KeepBoth,
        }
    }
}

/// Fields left out stay as they are; `null` clears a limit (and is a no-op for the others).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsUpdate {
    pub update_emails_via_scim: Option<bool>,
    pub group_name_conflict: Option<GroupNameConflictIn>,
    /// Compared ignoring case; blank names are dropped.
    pub reserved_group_names: Option<Vec<String>>,
    /// Longest group name in characters; `null` for no limit.
    #[serde(default, deserialize_with = "double_whole")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 100000)]
    pub max_group_name_length: Option<Option<u32>>,
    /// Lifetime of new tokens in days; `null` for the server default.
    #[serde(default, deserialize_with = "double_whole")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 3650)]
    pub token_lifetime_days: Option<Option<u32>>,
    pub undeclared_extensions: Option<UndeclaredIn>,
}

/// What happens to data under an extension URN the account has not declared.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UndeclaredIn {
    /// Stored verbatim and returned; filterable once the schema is declared.
    Keep,
    /// Refused with 400 invalidValue naming the URN and attribute.
    Refuse,
}

impl From<UndeclaredIn> for crate::scim::schema::Undeclared {
    fn from(v: UndeclaredIn) -> Self {
        match v {
            UndeclaredIn::Keep => Self::Keep,
            UndeclaredIn::Refuse => Self::Refuse,
        }
    }
}

impl Validate for SettingsUpdate {}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScimDisable {
    /// Must be `DISABLE`: disabling converts every IdP-managed user and group to native and
    /// revokes every SCIM token.
    #[schema(schema_with = disable_confirmation)]
    pub confirmation: String,
}

fn disable_confirmation() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some([crate::service::settings::DISABLE_CONFIRMATION]))
        .description(Some("Must be `DISABLE`."))
        .build()
}

impl Validate for ScimDisable {}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScimDisableOut {
    pub scim_enabled: bool,
    pub users_converted: u64,
    pub groups_converted: u64,
    /// IdP groups that shared a name with a native group, renamed "{name} ({identifier})".
    pub groups_renamed: u64,
    pub tokens_revoked: u64,
}

// ---- Tokens -------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    pub id: Uuid,
    pub kind: String,
    /// The IdP label, which is also the provisioning source (R9) of what the token creates:
    /// `okta`, `entra`, `onelogin` or `scim` (any other client). None for an admin token.
    pub idp: Option<String>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&TokenRecord> for TokenOut {
    fn from(t: &TokenRecord) -> Self {
        TokenOut {
            id: t.id,
            kind: t.kind.clone(),
            idp: t.idp.as_deref().map(crate::service::Idp::normalise),
            description: t.description.clone(),
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
            last_used_at: t.last_used_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub items: Vec<TokenOut>,
}

/// The identity provider a SCIM token is for: its label becomes the provisioning source (R9),
/// `scim` for any other SCIM client.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IdpIn {
    Okta,
    Entra,
    Onelogin,
    Scim,
}

impl From<IdpIn> for crate::service::Idp {
    fn from(v: IdpIn) -> Self {
        match v {
            IdpIn::Okta => Self::Okta,
            IdpIn::Entra => Self::Entra,
            IdpIn::Onelogin => Self::OneLogin,
            IdpIn::Scim => Self::Scim,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenCreate {
    pub idp: IdpIn,
    #[schema(max_length = 1024)]
    pub description: Option<String>,
    /// Default: the account's token lifetime, else 365 days.
    #[serde(default, deserialize_with = "whole")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 3650)]
    pub lifetime_days: Option<u32>,
}

impl Validate for TokenCreate {
    fn validate(&self) -> Result<(), ScimError> {
        check_opt_len("description", &self.description, MAX_DESCRIPTION)?;
        check_days("lifetime_days", self.lifetime_days)
    }
}

/// An OAuth client to register (client-credentials grant, docs/idp-setup.md).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuthClientCreate {
    /// The IdP that will use it: its access tokens provision with this source (R9).
    pub idp: IdpIn,
    #[schema(max_length = 1024)]
    pub description: Option<String>,
    /// Lifetime of each access token, in seconds; default 3600.
    #[serde(default, deserialize_with = "whole")]
    #[schema(value_type = Option<u32>, minimum = 60, maximum = 86400)]
    pub access_token_seconds: Option<u32>,
}

impl Validate for OAuthClientCreate {
    fn validate(&self) -> Result<(), ScimError> {
        check_opt_len("description", &self.description, MAX_DESCRIPTION)?;
        match self.access_token_seconds {
            Some(s) if !(60..=86_400).contains(&s) => Err(bad(format!(
                "access_token_seconds must be from 60 to 86400, not {s}"
            ))),
            _ => Ok(()),
        }
    }
}

/// No body at all is the same as `{}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRegenerate {
    /// Default: the account's token lifetime, else 365 days.
    #[serde(default, deserialize_with = "whole")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 3650)]
    pub lifetime_days: Option<u32>,
}

impl Validate for TokenRegenerate {
    fn validate(&self) -> Result<(), ScimError> {
        check_days("lifetime_days", self.lifetime_days)
    }
}

/// A new token. `token` is shown this once and never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenIssuedOut {
    pub token: String,
    pub scim_base_url: String,
    #[serde(flatten)]
    pub record: TokenOut,
}

// ---- Audit --------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditActorOut {
    /// `scim`, `admin` or `operator`.
    pub kind: String,
    pub token_id: Option<Uuid>,
    pub idp: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventOut {
    pub id: Uuid,
    pub at: Option<DateTime<Utc>>,
    pub actor: AuditActorOut,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
    /// What changed in large sets (`members_added`, `members_removed`), or counts.
    #[schema(value_type = Option<Object>)]
    pub delta: Option<Value>,
}

impl From<AuditRecord> for AuditEventOut {
    fn from(e: AuditRecord) -> Self {
        AuditEventOut {
            id: e.id,
            at: e.at,
            actor: AuditActorOut {
                kind: e.actor_kind,
                token_id: e.actor_token_id,
                idp: e.actor_idp,
                name: e.actor_name,
            },
            action: e.action,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            before: e.before,
            after: e.after,
            delta: e.delta,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    pub items: Vec<AuditEventOut>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next: Option<Uuid>,
}

// ---- Query parameters ---------------------------------------------------------------------
// Enumerated query values: the serde names are the wire spellings, exact (no case folding).

/// R9: where a user or group came from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Manual,
    Okta,
    Entra,
    Onelogin,
    Scim,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    Ascending,
    Descending,
}

/// The attributes users sort by (each has an indexed column); SCIM attribute names.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub enum UserSortBy {
    #[serde(rename = "id")]
    Id,
    #[serde(rename = "userName")]
    UserName,
    #[serde(rename = "externalId")]
    ExternalId,
    #[serde(rename = "displayName")]
    DisplayName,
    #[serde(rename = "active")]
    Active,
    #[serde(rename = "meta.created")]
    Created,
    #[serde(rename = "meta.lastModified")]
    LastModified,
}

/// The attributes groups sort by; SCIM attribute names.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub enum GroupSortBy {
    #[serde(rename = "id")]
    Id,
    #[serde(rename = "externalId")]
    ExternalId,
    #[serde(rename = "displayName")]
    DisplayName,
    #[serde(rename = "meta.created")]
    Created,
    #[serde(rename = "meta.lastModified")]
    LastModified,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Json,
    Csv,
}

/// What an audit event is about.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub enum AuditResourceType {
    User,
    Group,
    Account,
    Token,
    RoleBinding,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_as_json_schema_counts_them() {
        let n = |s: &str| whole_u32(&serde_json::from_str::<Number>(s).unwrap());
        assert_eq!(n("30"), Some(30));
        assert_eq!(n("30.0"), Some(30));
        assert_eq!(n("3e1"), Some(30));
        assert_eq!(n("30.5"), None);
        assert_eq!(n("-1"), None);
        assert_eq!(n("4294967296"), None);
    }

    #[test]
    fn names_are_not_blank_and_bounded_in_characters() {
        assert!(check_name("f", "a", 1).is_ok());
        assert!(check_name("f", " \u{3000}\u{85}\t", 10).is_err());
        assert!(check_name("f", "ééé", 3).is_ok());
        assert!(check_name("f", "éééé", 3).is_err());
    }
}
