//! The native (admin API and CLI) side of users, groups, membership and role bindings, with
//! the IdP-managed lock (R3). What both surfaces share — identifiers (R1), the name-length
//! limit (R8), deletion with its memberships (R5), the audit log — is the same code the SCIM
//! surface uses.
//!
//! `force` lifts the R3 lock and is reserved to operators (the `scimd` CLI, never a token):
//! it exists for the case seed 001 sends to support, an IdP that never deletes its groups.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::audit::{self, Change, snapshot};
use super::groups::{
    GroupView, MemberDelta, display_name, existing_users, insert_group, name_taken, record_members,
};
use super::settings;
use super::users::{UserView, delete_row, reserved_group_of, user_name_taken};
use super::{Caller, Precondition, Result, Service, not_found, parse_id};
use crate::scim::{ScimError, resource, schema};
use crate::store::{
    NewResource, NewRoleBinding, Origin, ResourceKind, ResourceRow, RoleBinding, StoreError, Tx,
};

/// A native user as the admin API creates it.
#[derive(Debug, Clone, Default)]
pub struct NativeUser {
    pub user_name: String,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub active: Option<bool>,
}

/// Changes to a user through the admin API; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub user_name: Option<String>,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub active: Option<bool>,
}

impl UserChanges {
    /// Does the change touch what R3 locks for members of IdP-managed groups (email, name)?
    fn touches_details(&self) -> bool {
        self.user_name.is_some()
            || self.email.is_some()
            || self.given_name.is_some()
            || self.family_name.is_some()
            || self.display_name.is_some()
    }
}

/// What R3 locks; the detail names the IdP and the way out.
// R3's messages: what the writes answer, and what the console shows beside a locked field.
const DEACTIVATE_MANAGED: &str = "Cannot deactivate a user provisioned through SCIM";
const REACTIVATE_MANAGED: &str = "Cannot reactivate a user provisioned through SCIM";
const DETAILS_OF_MEMBER: &str =
    "Cannot edit the email or name of a user who belongs to a group imported from SCIM";
const IDENTITY_OF_MANAGED: &str = "Cannot change the userName or email of a user provisioned through SCIM (the \
     identity provider identifies the user by them and could not change them back)";
const RENAME_MANAGED: &str = "Cannot rename a group imported from SCIM";
const DELETE_MANAGED_GROUP: &str = "Cannot delete a group imported from SCIM";
const DELETE_MANAGED_USER: &str = "Cannot delete a user provisioned through SCIM";
const ADD_TO_MANAGED: &str = "Cannot add members to a group imported from SCIM";
const REMOVE_FROM_MANAGED: &str = "Cannot remove members from a group imported from SCIM";

/// What R3 keeps an admin from changing on one user or group, each with the reason the write
/// would be refused with: the console shows these read-only. The writes check again.
#[derive(Debug, Clone, Default)]
pub struct Locks {
    /// userName and email.
    pub identity: Option<String>,
    /// email and the names.
    pub details: Option<String>,
    pub active: Option<String>,
    pub delete: Option<String>,
    pub rename: Option<String>,
    pub members: Option<String>,
}

/// R3's locks on a user, from the user and the groups it is in.
pub fn user_locks(view: &UserView) -> Locks {
    let row = &view.row;
    let managed = |what: &str| row.idp_managed.then(|| locked(what, row).to_string());
    let active = row.doc.get("active") != Some(&Value::Bool(false));
    Locks {
        identity: managed(IDENTITY_OF_MANAGED),
        details: view
            .groups
            .iter()
            .any(|g| g.idp_managed)
            .then(|| locked(DETAILS_OF_MEMBER, row).to_string()),
        active: managed(if active {
            DEACTIVATE_MANAGED
        } else {
            REACTIVATE_MANAGED
        }),
        delete: managed(DELETE_MANAGED_USER),
        ..Locks::default()
    }
}

/// R3's locks on a group.
pub fn group_locks(row: &ResourceRow) -> Locks {
    let managed = |what: &str| row.idp_managed.then(|| locked(what, row).to_string());
    Locks {
        rename: managed(RENAME_MANAGED),
        delete: managed(DELETE_MANAGED_GROUP),
        members: managed(ADD_TO_MANAGED),
        ..Locks::default()
    }
}

fn locked(what: &str, row: &ResourceRow) -> super::Error {
    super::Error::LockedByIdp(format!(
        "{what}: it is managed by the identity provider {:?}; make the change there (an operator \
             can override with the scimd CLI and --force)",
        row.source
    ))
}

/// `force` is for operators only.
fn check_force(caller: &Caller, force: bool) -> Result<bool> {
    if force && !caller.is_operator() {
        return Err(super::Error::Forbidden(
            "force is reserved to operators: use the scimd command line".into(),
        ));
    }
    Ok(force)
}

fn set_str(doc: &mut Map<String, Value>, key: &str, value: &str) {
    if value.trim().is_empty() {
        doc.remove(key);
    } else {
        doc.insert(key.into(), json!(value));
    }
}

/// Applies admin-API changes to a canonical user document.
fn apply_changes(doc: &mut Map<String, Value>, ch: &UserChanges) {
    if let Some(v) = &ch.user_name {
        doc.insert("userName".into(), json!(v));
    }
    if let Some(v) = &ch.display_name {
        set_str(doc, "displayName", v);
    }
    if ch.given_name.is_some() || ch.family_name.is_some() {
        let name = doc
            .entry("name")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut();
        if let Some(name) = name {
            if let Some(v) = &ch.given_name {
                set_str(name, "givenName", v);
            }
            if let Some(v) = &ch.family_name {
                set_str(name, "familyName", v);
            }
            if name.is_empty() {
                doc.remove("name");
            }
        }
    }
    if let Some(email) = &ch.email {
        set_primary_email(doc, email);
    }
    if let Some(v) = ch.active {
        doc.insert("active".into(), json!(v));
    }
}

/// Replaces the primary email's value (the marked one, else the first), or adds a work email.
fn set_primary_email(doc: &mut Map<String, Value>, email: &str) {
    let emails = doc.entry("emails").or_insert_with(|| Value::Array(Vec::new()));
    let Some(list) = emails.as_array_mut() else { return };
    if email.trim().is_empty() {
        list.retain(|e| e.get("primary") != Some(&Value::Bool(true)));
        return;
    }
    let at = list
        .iter()
        .position(|e| e.get("primary") == Some(&Value::Bool(true)))
        .or(if list.is_empty() { None } else { Some(0) });
    match at.and_then(|i| list.get_mut(i)).and_then(Value::as_object_mut) {
        Some(entry) => {
            entry.insert("value".into(), json!(email));
        }
        None => list.push(json!({"value": email, "type": "work", "primary": true})),
    }
}

impl Service {
    // ---- Users --------------------------------------------------------------------------

    pub async fn admin_create_user(&self, caller: &Caller, input: NativeUser) -> Result<UserView> {
        let mut body = Map::new();
        body.insert("userName".into(), json!(input.user_name));
        let mut doc = resource::normalize(&schema::USER, &Value::Object(body))?;
        apply_changes(
            &mut doc,
            &UserChanges {
                user_name: None,
                email: input.email,
                given_name: input.given_name,
                family_name: input.family_name,
                display_name: input.display_name,
                active: Some(input.active.unwrap_or(true)),
            },
        );
        let doc = resource::normalize(&schema::USER, &Value::Object(doc))?;
        resource::validate(&schema::USER, &doc)?;
        let new = NewResource {
            id: Uuid::now_v7(),
            doc,
            source: caller.source().to_string(),
            idp_managed: false,
            identifier: None,
        };
        let mut tx = self.store.begin().await?;
        let row = tx
            .insert_resource(ResourceKind::User, caller.account_id, &new)
            .await
            .map_err(|e| user_name_taken(e, &new.doc))?;
        audit::record(
            tx.as_mut(),
            caller,
            Change::new("user.create", "User", row.id).after(snapshot(&row)),
        )
        .await?;
        tx.commit().await?;
        Ok(UserView {
            row,
            groups: Vec::new(),
        })
    }

    /// R3: nobody edits the email or name of a user in an IdP-managed group, nor deactivates
    /// (or reactivates: the IdP decided) an IdP-managed user, through the admin API.
    pub async fn admin_update_user(
        &self,
        caller: &Caller,
        id: &str,
        changes: UserChanges,
        pre: &Precondition,
        force: bool,
    ) -> Result<UserView> {
        let force = check_force(caller, force)?;
        let uid = parse_id(id).ok_or_else(|| not_found("User", id))?;
        let account = caller.account_id;
        let mut tx = self.store.begin().await?;
        let current = tx
            .lock_resource(ResourceKind::User, account, uid)
            .await?
            .ok_or_else(|| not_found("User", id))?;
        pre.check(current.version)?;
        let mut doc = current.doc.clone();
        apply_changes(&mut doc, &changes);
        let doc = resource::normalize(&schema::USER, &Value::Object(doc))?;
        resource::validate(&schema::USER, &doc)?;
        if doc == current.doc {
            let groups = tx.groups_of(account, &[uid]).await?;
            return Ok(UserView { row: current, groups });
        }
        let mut current = current;
        if current.idp_managed && !force {
            release_administrator(tx.as_mut(), caller, &mut current).await?;
        }
        if !force {
            let was_active = current.doc.get("active") != Some(&Value::Bool(false));
            if current.idp_managed && changes.active.is_some_and(|a| a != was_active) {
                return Err(locked(
                    if was_active {
                        DEACTIVATE_MANAGED
                    } else {
                        REACTIVATE_MANAGED
                    },
                    &current,
                ));
            }
            if changes.touches_details()
                && details_changed(&current.doc, &doc)
                && !tx.in_idp_managed_groups(account, &[uid]).await?.is_empty()
            {
                return Err(locked(DETAILS_OF_MEMBER, &current));
            }
            // R3 for every IdP-managed user, whatever its groups: the IdP matches the user by
            // userName and email and R2 keeps it from changing them back.
            if current.idp_managed && identity_changed(&current.doc, &doc) {
                return Err(locked(IDENTITY_OF_MANAGED, &current));
            }
        }
        let row = tx
            .update_resource(ResourceKind::User, account, uid, &doc)
            .await
            .map_err(|e| user_name_taken(e, &doc))?;
        audit::record(
            tx.as_mut(),
            caller,
            Change::new(
                if force {
                    "user.update.forced"
                } else {
                    "user.update"
                },
                "User",
                uid,
            )
            .before(snapshot(&current))
            .after(snapshot(&row)),
        )
        .await?;
        let groups = tx.groups_of(account, &[uid]).await?;
        tx.commit().await?;
        Ok(UserView { row, groups })
    }

    /// R3: an IdP-managed user is deleted by its IdP, or by an operator with `force`.
    pub async fn admin_delete_user(
        &self,
        caller: &Caller,
        id: &str,
        pre: &Precondition,
        force: bool,
    ) -> Result<()> {
        let force = check_force(caller, force)?;
        self.admin_delete(caller, ResourceKind::User, id, pre, force)
            .await
    }

    // ---- Groups -------------------------------------------------------------------------

    /// A native group; its identifier is made from the name (R1), the name must fit the
    /// account's length limit (R8).
    pub async fn admin_create_group(&self, caller: &Caller, name: &str) -> Result<GroupView> {
        let doc = resource::normalize(&schema::GROUP, &json!({"displayName": name}))?;
        resource::validate(&schema::GROUP, &doc)?;
        let mut tx = self.store.begin().await?;
        let profile = settings::profile(tx.as_mut(), caller.account_id).await?;
        profile.check_group_name_length(display_name(&doc))?;
        let row = insert_group(tx.as_mut(), caller.account_id, doc, caller.source(), false).await?;
        audit::record(
            tx.as_mut(),
            caller,
            Change::new("group.create", "Group", row.id).after(snapshot(&row)),
        )
        .await?;
        tx.commit().await?;
        Ok(GroupView {
            row,
            members: Some(Vec::new()),
        })
    }

    /// Renames a native group; R3: an IdP-managed group is renamed by its IdP. The identifier
    /// never changes (R1).
    pub async fn admin_rename_group(
        &self,
        caller: &Caller,
        id: &str,
        name: &str,
        pre: &Precondition,
        force: bool,
    ) -> Result<GroupView> {
        let force = check_force(caller, force)?;
        let gid = parse_id(id).ok_or_else(|| not_found("Group", id))?;
        let account = caller.account_id;
        let mut tx = self.store.begin().await?;
        let current = tx
            .lock_resource(ResourceKind::Group, account, gid)
            .await?
            .ok_or_else(|| not_found("Group", id))?;
        pre.check(current.version)?;
        let mut doc = current.doc.clone();
        doc.insert("displayName".into(), json!(name));
        let doc = resource::normalize(&schema::GROUP, &Value::Object(doc))?;
        resource::validate(&schema::GROUP, &doc)?;
        if doc == current.doc {
            return Ok(GroupView {
                row: current,
                members: None,
            });
        }
        if current.idp_managed && !force {
            return Err(locked(RENAME_MANAGED, &current));
        }
        settings::profile(tx.as_mut(), account)
            .await?
            .check_group_name_length(display_name(&doc))?;
        let row = tx
            .update_resource(ResourceKind::Group, account, gid, &doc)
            .await
            .map_err(|e| name_taken(e, &doc))?;
        audit::record(
            tx.as_mut(),
            caller,
            Change::new(
                if force {
                    "group.rename.forced"
                } else {
                    "group.rename"
                },
                "Group",
                gid,
            )
            .before(snapshot(&current))
            .after(snapshot(&row)),
        )
        .await?;
        tx.commit().await?;
        Ok(GroupView { row, members: None })
    }

    /// R3: `Cannot delete a group imported from SCIM` — unless an operator forces it.
    pub async fn admin_delete_group(
        &self,
        caller: &Caller,
        id: &str,
        pre: &Precondition,
        force: bool,
    ) -> Result<()> {
        let force = check_force(caller, force)?;
        self.admin_delete(caller, ResourceKind::Group, id, pre, force)
            .await
    }

    async fn admin_delete(
        &self,
        caller: &Caller,
        kind: ResourceKind,
        id: &str,
        pre: &Precondition,
        force: bool,
    ) -> Result<()> {
        let label = kind.resource_type();
        let rid = parse_id(id).ok_or_else(|| not_found(label, id))?;
        let mut tx = self.store.begin().await?;
        let current = tx
            .lock_resource(kind, caller.account_id, rid)
            .await?
            .ok_or_else(|| not_found(label, id))?;
        pre.check(current.version)?;
        let mut current = current;
        if kind == ResourceKind::User && current.idp_managed && !force {
            release_administrator(tx.as_mut(), caller, &mut current).await?;
        }
        if current.idp_managed && !force {
            return Err(locked(
                match kind {
                    ResourceKind::Group => DELETE_MANAGED_GROUP,
                    ResourceKind::User => DELETE_MANAGED_USER,
                },
                &current,
            ));
        }
        delete_row(tx.as_mut(), caller, kind, &current).await?;
        if force && current.idp_managed {
            audit::record(
                tx.as_mut(),
                caller,
                Change::new("lock.override", label, rid).delta(json!({"overridden": "delete"})),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The members of a group (every one: the admin console shows the group's page).
    pub async fn admin_group_members(&self, caller: &Caller, id: &str) -> Result<GroupView> {
        self.get_group(caller, id, true).await
    }

    /// Adds users to a native group. R3: the members of an IdP-managed group are the IdP's,
    /// and so are the group assignments of a user who belongs to an IdP-managed group.
    pub async fn admin_add_members(
        &self,
        caller: &Caller,
        id: &str,
        user_ids: &[String],
        force: bool,
    ) -> Result<GroupView> {
        Ok(self
            .admin_change_members(caller, id, user_ids, true, force)
            .await?
            .0)
    }

    pub async fn admin_remove_members(
        &self,
        caller: &Caller,
        id: &str,
        user_ids: &[String],
        force: bool,
    ) -> Result<GroupView> {
        Ok(self
            .admin_change_members(caller, id, user_ids, false, force)
            .await?
            .0)
    }

    /// Removes one user from a native group (R3 as for adding). 404 when the user is not a
    /// member: a typo in the id must not read as a removal that happened.
    pub async fn admin_remove_member(&self, caller: &Caller, group: &str, user: &str) -> Result<()> {
        let (_, delta) = self
            .admin_change_members(caller, group, &[user.to_string()], false, false)
            .await?;
        if delta.removed.is_empty() {
            return Err(super::Error::NotFound(format!(
                "User {user:?} is not a member of Group {group:?}"
            )));
        }
        Ok(())
    }

    async fn admin_change_members(
        &self,
        caller: &Caller,
        id: &str,
        user_ids: &[String],
        add: bool,
        force: bool,
    ) -> Result<(GroupView, MemberDelta)> {
        let force = check_force(caller, force)?;
        let gid = parse_id(id).ok_or_else(|| not_found("Group", id))?;
        let account = caller.account_id;
        let mut tx = self.store.begin().await?;
        let group = tx
            .lock_resource(ResourceKind::Group, account, gid)
            .await?
            .ok_or_else(|| not_found("Group", id))?;
        if group.idp_managed && !force {
            return Err(locked(
                if add { ADD_TO_MANAGED } else { REMOVE_FROM_MANAGED },
                &group,
            ));
        }
        let ids = if add {
            existing_users(tx.as_mut(), account, user_ids).await?
        } else {
            user_ids.iter().filter_map(|v| parse_id(v)).collect()
        };
        if !force {
            check_assignments_free(tx.as_mut(), account, &ids).await?;
            if add {
                check_reserved_members_native(tx.as_mut(), account, &group, &ids).await?;
            }
        }
        let delta = if add {
            MemberDelta {
                added: tx.add_members(account, gid, &ids, Origin::Native).await?,
                removed: Vec::new(),
            }
        } else {
            MemberDelta {
                added: Vec::new(),
                removed: tx.remove_members(account, gid, &ids).await?,
            }
        };
        let row = if delta.is_empty() {
            group
        } else {
            record_members(tx.as_mut(), caller, gid, &delta).await?;
            tx.touch_resource(ResourceKind::Group, account, gid, None)
                .await?
                .ok_or_else(|| not_found("Group", id))?
        };
        tx.commit().await?;
        Ok((GroupView { row, members: None }, delta))
    }

    // ---- Role bindings ------------------------------------------------------------------

    pub async fn list_role_bindings(&self, caller: &Caller, group: Option<&str>) -> Result<Vec<RoleBinding>> {
        let mut conn = self.store.reader().await?;
        let gid = match group {
            Some(id) => {
                let gid = parse_id(id).ok_or_else(|| not_found("Group", id))?;
                conn.get_resource(ResourceKind::Group, caller.account_id, gid)
                    .await?
                    .ok_or_else(|| not_found("Group", id))?;
                Some(gid)
            }
            None => None,
        };
        Ok(conn.list_role_bindings(caller.account_id, gid).await?)
    }

    /// Binds a role on a resource group to a group. Role bindings belong to the application:
    /// an IdP-managed group takes them like any other (seed 002), and SCIM never touches them.
    pub async fn add_role_binding(
        &self,
        caller: &Caller,
        group: &str,
        role: &str,
        resource_group: &str,
    ) -> Result<RoleBinding> {
        let (role, resource_group) = (role.trim(), resource_group.trim());
        if role.is_empty() || resource_group.is_empty() {
            return Err(
                ScimError::invalid_value("a role binding needs a non-empty role and resource_group").into(),
            );
        }
        let gid = parse_id(group).ok_or_else(|| not_found("Group", group))?;
        let mut tx = self.store.begin().await?;
        tx.get_resource(ResourceKind::Group, caller.account_id, gid)
            .await?
            .ok_or_else(|| not_found("Group", group))?;
        let binding = tx
            .insert_role_binding(
                caller.account_id,
                &NewRoleBinding {
                    id: Uuid::now_v7(),
                    group_id: gid,
                    role: role.to_string(),
                    resource_group: resource_group.to_string(),
                },
            )
            .await
            .map_err(|e| match e {
                StoreError::Unique(_) => super::Error::from(ScimError::uniqueness(format!(
                    "group {gid} already has the role {role:?} on {resource_group:?}"
                ))),
                StoreError::ForeignKey(_) => not_found("Group", group),
                other => other.into(),
            })?;
        audit::record(
            tx.as_mut(),
            caller,
            Change::new("role_binding.create", "RoleBinding", binding.id).after(binding_json(&binding)),
        )
        .await?;
        tx.commit().await?;
        Ok(binding)
    }

    pub async fn delete_role_binding(&self, caller: &Caller, group: &str, binding: &str) -> Result<()> {
        let gid = parse_id(group).ok_or_else(|| not_found("Group", group))?;
        let bid = parse_id(binding).ok_or_else(|| not_found("RoleBinding", binding))?;
        let mut tx = self.store.begin().await?;
        let deleted = tx
            .delete_role_binding(caller.account_id, gid, bid)
            .await?
            .ok_or_else(|| not_found("RoleBinding", binding))?;
        audit::record(
            tx.as_mut(),
            caller,
            Change::new("role_binding.delete", "RoleBinding", bid).before(binding_json(&deleted)),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Has the email or name of a user changed between two documents?
fn details_changed(before: &Map<String, Value>, after: &Map<String, Value>) -> bool {
    let keys = ["userName", "displayName", "name", "emails"];
    keys.iter().any(|k| before.get(*k) != after.get(*k))
}

/// The account's way back (R4/R8): an IdP-managed user who is a member of a reserved group —
/// adopted before such users were refused, or given the group before its name was reserved —
/// is released (made native, audited `user.release`) by the admin API's first change to it,
/// so an administrator that a SCIM token deactivated can be reactivated without disabling
/// SCIM; SCIM then never takes it over again.
async fn release_administrator(tx: &mut dyn Tx, caller: &Caller, user: &mut ResourceRow) -> Result<()> {
    let Some(group) = reserved_group_of(tx, caller.account_id, user.id).await? else {
        return Ok(());
    };
    if tx.release_user(caller.account_id, user.id).await? {
        audit::record(
            tx,
            caller,
            Change::new("user.release", "User", user.id)
                .delta(json!({"reserved_group": group, "source": user.source})),
        )
        .await?;
    }
    user.idp_managed = false;
    Ok(())
}

/// Has the userName or an email of a user changed between two documents?
fn identity_changed(before: &Map<String, Value>, after: &Map<String, Value>) -> bool {
    ["userName", "emails"]
        .iter()
        .any(|k| before.get(*k) != after.get(*k))
}

/// R4/R8: the members of a reserved group (e.g. `Administrators`) stay native, so no SCIM
/// token can rename, deactivate or delete the account's administrators. An IdP-managed user
/// is not added to one (403); SCIM never adopts a native member of one (see `users.rs`).
async fn check_reserved_members_native(
    tx: &mut dyn Tx,
    account: Uuid,
    group: &ResourceRow,
    ids: &[Uuid],
) -> Result<()> {
    let name = display_name(&group.doc);
    if ids.is_empty() || !settings::profile(tx, account).await?.is_reserved(name) {
        return Ok(());
    }
    let mut managed = Vec::new();
    for id in ids {
        if let Some(user) = tx.get_resource(ResourceKind::User, account, *id).await?
            && user.idp_managed
        {
            managed.push(id.to_string());
        }
    }
    if managed.is_empty() {
        return Ok(());
    }
    managed.truncate(20);
    Err(super::Error::LockedByIdp(format!(
        "Cannot add a user provisioned through SCIM to the reserved group {name:?} ({}): members of \
             reserved groups stay native, so that no provisioning token can rename, deactivate or \
             delete them; add a native user instead (the identity provider's user stays as it is)",
        managed.join(", ")
    )))
}

/// R3: the group assignments of users who belong to an IdP-managed group are the IdP's.
async fn check_assignments_free(tx: &mut dyn Tx, account: Uuid, ids: &[Uuid]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut held = tx.in_idp_managed_groups(account, ids).await?;
    if held.is_empty() {
        return Ok(());
    }
    held.sort();
    held.truncate(20);
    let ids: Vec<String> = held.iter().map(Uuid::to_string).collect();
    Err(super::Error::LockedByIdp(format!(
        "Cannot change the group assignments of a user who belongs to a group imported from SCIM \
             ({}): assign them in the identity provider",
        ids.join(", ")
    )))
}

pub fn binding_json(b: &RoleBinding) -> Value {
    json!({
        "id": b.id,
        "group_id": b.group_id,
        "group_identifier": b.group_identifier,
        "role": b.role,
        "resource_group": b.resource_group,
        "created_at": b.created_at,
    })
}
