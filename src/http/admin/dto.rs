//! The admin API's JSON: request and response bodies, with their OpenAPI schemas. Plain JSON
//! in snake_case; unknown request fields are refused, so a typo is an error, not a no-op.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::scim::resource::primary_email;
use crate::service::groups::GroupView;
use crate::service::settings::Profile;
use crate::service::users::UserView;
use crate::store::{AuditRecord, MemberRef, RoleBinding, TokenRecord};

/// `Some(None)` for an explicit `null`, `None` for an absent field.
fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    pub user_name: String,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    /// Default true.
    pub active: Option<bool>,
}

/// Fields left out stay as they are. An empty string clears a name or the email.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub user_name: Option<String>,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub active: Option<bool>,
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupCreate {
    pub display_name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupUpdate {
    pub display_name: String,
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersAdd {
    pub user_ids: Vec<String>,
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBindingCreate {
    pub role: String,
    pub resource_group: String,
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
        }
    }
}

/// Fields left out stay as they are; `null` clears a limit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsUpdate {
    pub update_emails_via_scim: Option<bool>,
    /// `link` or `keep_both`.
    pub group_name_conflict: Option<String>,
    pub reserved_group_names: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u32>)]
    pub max_group_name_length: Option<Option<u32>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u32>)]
    pub token_lifetime_days: Option<Option<u32>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScimDisable {
    /// Must be `DISABLE`.
    pub confirmation: String,
}

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
    /// The IdP label: `okta`, `entra`, `onelogin` or `other`; the provisioning source (R9).
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
            idp: t.idp.clone(),
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenCreate {
    /// `okta`, `entra`, `onelogin` or `other`.
    pub idp: String,
    pub description: Option<String>,
    /// Default: the account's token lifetime, else 365 days.
    pub lifetime_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRegenerate {
    pub lifetime_days: Option<u32>,
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
