//! The account profile (docs/rules.md, R8) and enabling or disabling SCIM (R7).

use std::time::Duration;

use serde_json::json;

use super::audit::{self, Change};
use super::{Caller, Result, Service};
use crate::scim::ScimError;
use crate::scim::schema::Undeclared;
use crate::store::{AccountSettings, ReadTx, ResourceKind};

/// What happens when the IdP creates a group whose displayName a native group already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupNameConflict {
    /// The IdP takes over the native group (Okta's "Link a group"; the default).
    Link,
    /// A second, IdP-managed group is created beside the native one (seeds 000, 001, 003).
    KeepBoth,
}

impl GroupNameConflict {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupNameConflict::Link => "link",
            GroupNameConflict::KeepBoth => "keep_both",
        }
    }

    pub fn parse(s: &str) -> Result<GroupNameConflict> {
        match s {
            "link" => Ok(GroupNameConflict::Link),
            "keep_both" => Ok(GroupNameConflict::KeepBoth),
            other => Err(ScimError::invalid_value(format!(
                "group_name_conflict must be \"link\" or \"keep_both\", not {other:?}"
            ))
            .into()),
        }
    }
}

/// The account profile, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub scim_enabled: bool,
    pub update_emails_via_scim: bool,
    pub group_name_conflict: GroupNameConflict,
    pub reserved_group_names: Vec<String>,
    pub max_group_name_length: Option<u32>,
    /// `None`: the server's default (`token_ttl`, 365 days unless configured).
    pub token_ttl: Option<Duration>,
    /// Data under extension URNs the account has not declared: kept or refused
    /// (docs/decisions.md).
    pub undeclared_extensions: Undeclared,
}

impl Profile {
    /// R4 with `keep_both`: the IdP sees only the groups it manages, so its name lookup
    /// (Okta's `displayName eq` pre-check, Entra's match) never finds a native group to link
    /// or take over by its first write; the native group and the IdP's are kept side by side,
    /// as seeds 000, 001 and 003 describe. With `link` the IdP sees native groups too, which is
    /// how it links them.
    pub(crate) fn scim_sees_group(&self, row: &crate::store::ResourceRow) -> bool {
        row.idp_managed || self.group_name_conflict == GroupNameConflict::Link
    }

    fn from_store(s: AccountSettings) -> Profile {
        Profile {
            scim_enabled: s.scim_enabled,
            update_emails_via_scim: s.update_emails_via_scim,
            group_name_conflict: GroupNameConflict::parse(&s.group_name_conflict)
                .unwrap_or(GroupNameConflict::Link),
            reserved_group_names: s.reserved_group_names,
            max_group_name_length: s.max_group_name_length.and_then(|n| u32::try_from(n).ok()),
            token_ttl: s
                .token_ttl_seconds
                .and_then(|n| u64::try_from(n).ok())
                .map(Duration::from_secs),
            undeclared_extensions: Undeclared::parse(&s.undeclared_extensions).unwrap_or_default(),
        }
    }

    fn to_store(&self) -> AccountSettings {
        AccountSettings {
            scim_enabled: self.scim_enabled,
            update_emails_via_scim: self.update_emails_via_scim,
            group_name_conflict: self.group_name_conflict.as_str().to_string(),
            reserved_group_names: self.reserved_group_names.clone(),
            max_group_name_length: self.max_group_name_length.map(|n| n as i32),
            token_ttl_seconds: self.token_ttl.map(|d| d.as_secs() as i64),
            undeclared_extensions: self.undeclared_extensions.as_str().to_string(),
        }
    }

    fn to_json(&self) -> serde_json::Value {
        json!({
            "scim_enabled": self.scim_enabled,
            "update_emails_via_scim": self.update_emails_via_scim,
            "group_name_conflict": self.group_name_conflict.as_str(),
            "reserved_group_names": self.reserved_group_names,
            "max_group_name_length": self.max_group_name_length,
            "token_lifetime_seconds": self.token_ttl.map(|d| d.as_secs()),
            "undeclared_extensions": self.undeclared_extensions.as_str(),
        })
    }

    /// Is `name` reserved? Compared on what the names look like, not their code points:
    /// `administrators`, `Ａdministrators`, `Adminıstrators` or a Cyrillic `ѕ` are as reserved
    /// as `Administrators` (see `scim::lookalike`).
    pub fn is_reserved(&self, name: &str) -> bool {
        let key = crate::scim::lookalike::skeleton_key(name);
        self.reserved_group_names
            .iter()
            .any(|r| crate::scim::lookalike::skeleton_key(r) == key)
    }

    /// R8 for every surface: the account's group-name length limit, counted in characters.
    pub fn check_group_name_length(&self, name: &str) -> Result<()> {
        if let Some(max) = self.max_group_name_length {
            let len = name.chars().count();
            if len > max as usize {
                return Err(ScimError::invalid_value(format!(
                    "group names are limited to {max} characters in this account; {name:?} has {len}: \
                     shorten the name"
                ))
                .into());
            }
        }
        Ok(())
    }

    /// R8 over SCIM: the length limit, and reserved names SCIM may neither create nor take over.
    pub fn check_scim_group_name(&self, name: &str) -> Result<()> {
        if self.is_reserved(name) {
            return Err(ScimError::invalid_value(format!(
                "the group name {name:?} is reserved in this account: SCIM can neither create nor \
                 take over a group of that name; rename the group in the identity provider"
            ))
            .into());
        }
        self.check_group_name_length(name)
    }
}

/// A change to the profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub update_emails_via_scim: Option<bool>,
    pub group_name_conflict: Option<GroupNameConflict>,
    pub reserved_group_names: Option<Vec<String>>,
    /// `Some(None)` removes the limit.
    pub max_group_name_length: Option<Option<u32>>,
    /// `Some(None)` returns to the server default.
    pub token_ttl: Option<Option<Duration>>,
    pub undeclared_extensions: Option<Undeclared>,
}

/// The confirmation word disabling SCIM needs (seed 004: "type DISABLE").
pub const DISABLE_CONFIRMATION: &str = "DISABLE";

/// What disabling SCIM did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisableReport {
    pub users_converted: u64,
    pub groups_converted: u64,
    pub groups_renamed: u64,
    pub tokens_revoked: u64,
    /// OAuth clients revoked (their access tokens are among `tokens_revoked`).
    pub oauth_clients_revoked: u64,
}

/// The account's profile, read inside `tx`.
pub(crate) async fn profile(tx: &mut dyn ReadTx, account: uuid::Uuid) -> Result<Profile> {
    let settings = tx
        .get_settings(account)
        .await?
        .ok_or_else(|| super::Error::NotFound(format!("no account {account}")))?;
    Ok(Profile::from_store(settings))
}

impl Service {
    pub async fn get_profile(&self, caller: &Caller) -> Result<Profile> {
        let mut conn = self.store.reader().await?;
        profile(conn.as_mut(), caller.account_id).await
    }

    pub async fn update_profile(&self, caller: &Caller, update: ProfileUpdate) -> Result<Profile> {
        let mut tx = self.store.begin().await?;
        let before = profile(tx.as_mut(), caller.account_id).await?;
        let mut after = before.clone();
        if let Some(v) = update.update_emails_via_scim {
            after.update_emails_via_scim = v;
        }
        if let Some(v) = update.group_name_conflict {
            after.group_name_conflict = v;
        }
        if let Some(names) = update.reserved_group_names {
            let mut clean: Vec<String> = Vec::new();
            for n in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
                if !clean.iter().any(|c| c.to_lowercase() == n.to_lowercase()) {
                    clean.push(n.to_string());
                }
            }
            after.reserved_group_names = clean;
        }
        if let Some(v) = update.max_group_name_length {
            if v == Some(0) || v.is_some_and(|n| n > 100_000) {
                return Err(
                    ScimError::invalid_value("max_group_name_length must be between 1 and 100000").into(),
                );
            }
            after.max_group_name_length = v;
        }
        if let Some(v) = update.token_ttl {
            if let Some(d) = v
                && (d.is_zero() || d > Duration::from_secs(3650 * 86_400))
            {
                return Err(ScimError::invalid_value(
                    "token_lifetime_days must be between 1 and 3650 (10 years)",
                )
                .into());
            }
            after.token_ttl = v;
        }
        if let Some(v) = update.undeclared_extensions {
            after.undeclared_extensions = v;
        }
        if after != before {
            tx.update_settings(caller.account_id, &after.to_store()).await?;
            audit::record(
                tx.as_mut(),
                caller,
                Change::new("settings.update", "Account", caller.account_id)
                    .before(before.to_json())
                    .after(after.to_json()),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(after)
    }

    /// R7: SCIM on. Tokens are issued separately (they were revoked when SCIM was disabled).
    pub async fn enable_scim(&self, caller: &Caller) -> Result<Profile> {
        let mut tx = self.store.begin().await?;
        let before = profile(tx.as_mut(), caller.account_id).await?;
        if !before.scim_enabled {
            tx.set_scim_enabled(caller.account_id, true).await?;
            audit::record(
                tx.as_mut(),
                caller,
                Change::new("scim.enable", "Account", caller.account_id),
            )
            .await?;
        }
        let after = profile(tx.as_mut(), caller.account_id).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// R7: SCIM off, confirmed with `DISABLE`. Every IdP-managed user and group becomes native
    /// and every SCIM token is revoked, each in one statement, all in one transaction. An
    /// IdP-managed group that shares its name with a native group (`keep_both`) is renamed to
    /// `"{name} ({identifier})"` first, since two native groups may not share a name.
    pub async fn disable_scim(&self, caller: &Caller, confirmation: &str) -> Result<DisableReport> {
        if confirmation != DISABLE_CONFIRMATION {
            return Err(ScimError::invalid_value(format!(
                "disabling SCIM converts every IdP-managed user and group to native and revokes every \
                 SCIM token; confirm with {{\"confirmation\": \"{DISABLE_CONFIRMATION}\"}}"
            ))
            .into());
        }
        let account = caller.account_id;
        let mut tx = self.store.begin().await?;
        profile(tx.as_mut(), account).await?;
        tx.set_scim_enabled(account, false).await?;
        // R7: an IdP-managed group that a native group shares a name with becomes
        // "{displayName} ({identifier})" before it is released, so two native groups never
        // share a name (the identifier is unique, R1).
        let renames: Vec<(uuid::Uuid, String)> = tx
            .idp_groups_named_like_native(account)
            .await?
            .into_iter()
            .map(|(id, name, identifier)| (id, format!("{name} ({identifier})")))
            .collect();
        let groups_renamed = tx.rename_groups(account, &renames).await?;
        let report = DisableReport {
            users_converted: tx.release_idp_managed(ResourceKind::User, account).await?,
            groups_converted: tx.release_idp_managed(ResourceKind::Group, account).await?,
            groups_renamed,
            tokens_revoked: tx.revoke_tokens_of_kind(account, "scim").await?,
            oauth_clients_revoked: tx.revoke_oauth_clients(account).await?,
        };
        audit::record(
            tx.as_mut(),
            caller,
            Change::new("scim.disable", "Account", account).delta(json!({
                "users_converted": report.users_converted,
                "groups_converted": report.groups_converted,
                "groups_renamed": report.groups_renamed,
                "tokens_revoked": report.tokens_revoked,
                "oauth_clients_revoked": report.oauth_clients_revoked,
            })),
        )
        .await?;
        tx.commit().await?;
        Ok(report)
    }
}
