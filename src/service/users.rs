//! SCIM Users: create, read, list, replace, patch, delete — with the rules the SCIM surface
//! keeps: adoption instead of duplication (R4), userName and primary-email immutability (R2),
//! the provisioning source (R9) and the audit log.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::audit::{self, Change, snapshot};
use super::lists::{ListPage, by_owner, filter_error, list_query};
use super::ownership::{ensure_scim_sees_group, scim_may_write};
use super::schemas::check_unique_values;
use super::settings::{self, GroupNameConflict, Profile};
use super::{Caller, Error, Precondition, Result, Service, TokenKind, not_found, parse_id};
use crate::scim::list::ListRequest;
use crate::scim::schema::ResourceType;
use crate::scim::{ScimError, compare, patch, resource};
use crate::store::{GroupRef, NewResource, ReadTx, ResourceKind, ResourceRow, StoreError, Tx};

/// A user and the groups it belongs to (the derived, read-only `groups` attribute).
#[derive(Debug, Clone)]
pub struct UserView {
    pub row: ResourceRow,
    pub groups: Vec<GroupRef>,
}

pub(crate) fn user_name_taken(err: StoreError, doc: &Map<String, Value>) -> Error {
    match err {
        StoreError::Unique(_) => ScimError::uniqueness(format!(
            "a user with userName {:?} already exists (userName is unique per account, ignoring case)",
            doc.get("userName").and_then(Value::as_str).unwrap_or_default()
        ))
        .into(),
        other => other.into(),
    }
}

fn user_name(doc: &Map<String, Value>) -> &str {
    doc.get("userName").and_then(Value::as_str).unwrap_or_default()
}

/// The lower-cased keys R4 matches an incoming user on: its userName and primary email.
fn match_keys(doc: &Map<String, Value>) -> Vec<String> {
    let mut keys = vec![compare::key(user_name(doc))];
    if let Some(email) = resource::primary_email(doc).map(compare::key)
        && !keys.contains(&email)
    {
        keys.push(email);
    }
    keys
}

/// R2: once provisioned, a user's userName and primary email do not change over SCIM unless
/// the account allows it. Compared ignoring case, as both are matched ignoring case.
fn check_identity_kept(
    profile: &Profile,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Result<()> {
    if profile.update_emails_via_scim {
        return Ok(());
    }
    let how = "an account admin can allow such changes with the setting update_emails_via_scim \
               (PATCH /api/accounts/{accountId}/settings {\"update_emails_via_scim\": true})";
    let (old, new) = (user_name(before), user_name(after));
    if !compare::eq(old, new) {
        return Err(ScimError::mutability(format!(
            "userName cannot change once the user is provisioned: it is {old:?} and the request would \
             make it {new:?}; {how}"
        ))
        .into());
    }
    if let Some(old) = resource::primary_email(before) {
        let new = resource::primary_email(after);
        if !new.is_some_and(|new| compare::eq(old, new)) {
            return Err(ScimError::mutability(format!(
                "the primary email (emails[primary eq true].value) cannot change once the user is \
                 provisioned: it is {old:?} and the request would make it {}; {how}",
                new.map(|n| format!("{n:?}")).unwrap_or_else(|| "empty".into())
            ))
            .into());
        }
    }
    Ok(())
}

/// The `groups` attribute as the caller may see it: under `keep_both` SCIM does not see native
/// groups (R4), so they are left out of a user's groups as they are out of `/Groups`. The
/// profile is read only when a native group is there to hide.
pub(crate) async fn visible_groups(
    tx: &mut dyn ReadTx,
    caller: &Caller,
    mut groups: Vec<GroupRef>,
) -> Result<Vec<GroupRef>> {
    if caller.kind != TokenKind::Scim || groups.iter().all(|g| g.idp_managed) {
        return Ok(groups);
    }
    if settings::profile(tx, caller.account_id)
        .await?
        .group_name_conflict
        == GroupNameConflict::KeepBoth
    {
        groups.retain(|g| g.idp_managed);
    }
    Ok(groups)
}

/// The groups of `users`, as the caller may see them.
async fn groups_seen(tx: &mut dyn ReadTx, caller: &Caller, users: &[Uuid]) -> Result<Vec<GroupRef>> {
    let groups = tx.groups_of(caller.account_id, users).await?;
    visible_groups(tx, caller, groups).await
}

impl Service {
    /// POST /Users. A user matching a native one by userName or primary email (ignoring case)
    /// adopts it (R4): same id and memberships, now IdP-managed with the token's source.
    pub async fn create_user(&self, caller: &Caller, body: &Value) -> Result<UserView> {
        let rt = self.types(caller).await?.user;
        let mut doc = resource::normalize(rt, body)?;
        doc.entry("active").or_insert(Value::Bool(true));
        resource::validate(rt, &doc)?;
        let account = caller.account_id;
        let mut tx = self.store.begin().await?;
        let found = tx.find_users_by_name_or_email(account, &match_keys(&doc)).await?;
        let adopted = match found.as_slice() {
            [native] if !native.idp_managed => Some(native.id),
            _ => None,
        };
        check_unique_values(tx.as_mut(), ResourceKind::User, rt, account, &doc, adopted).await?;
        let (row, groups) = match found.as_slice() {
            [] => {
                let new = NewResource {
                    id: Uuid::now_v7(),
                    doc,
                    source: caller.source().to_string(),
                    idp_managed: true,
                    identifier: None,
                };
                let row = tx
                    .insert_resource(ResourceKind::User, account, &new)
                    .await
                    .map_err(|e| user_name_taken(e, &new.doc))?;
                audit::record(
                    tx.as_mut(),
                    caller,
                    Change::new("user.create", "User", row.id).after(snapshot(&row)),
                )
                .await?;
                (row, Vec::new())
            }
            [native] if !native.idp_managed => {
                let row = adopt_user(tx.as_mut(), caller, native, &doc).await?;
                let groups = groups_seen(tx.as_mut(), caller, &[row.id]).await?;
                (row, groups)
            }
            [managed] => {
                scim_may_write(caller, managed, "user")?;
                return Err(ScimError::uniqueness(format!(
                    "user {} already has the userName or primary email of this request ({:?}); it is \
                     already provisioned, so update it with PUT or PATCH /Users/{}",
                    managed.id,
                    user_name(&managed.doc),
                    managed.id
                ))
                .into());
            }
            several => {
                let ids: Vec<String> = several.iter().map(|r| r.id.to_string()).collect();
                return Err(ScimError::uniqueness(format!(
                    "the userName and primary email of this request match {} different users ({}); \
                     merge or fix them in the admin API before provisioning this user",
                    several.len(),
                    ids.join(", ")
                ))
                .into());
            }
        };
        tx.commit().await?;
        Ok(UserView { row, groups })
    }

    pub async fn get_user(&self, caller: &Caller, id: &str) -> Result<UserView> {
        let uid = parse_id(id).ok_or_else(|| not_found("User", id))?;
        let mut conn = self.store.reader().await?;
        let (row, groups) = conn
            .get_user_with_groups(caller.account_id, uid)
            .await?
            .ok_or_else(|| not_found("User", id))?;
        let groups = visible_groups(conn.as_mut(), caller, groups).await?;
        Ok(UserView { row, groups })
    }

    pub async fn list_users(&self, caller: &Caller, params: &ListRequest) -> Result<ListPage<UserView>> {
        let mut scope = crate::store::AdminFilter::default();
        // Only a filter on `groups` depends on the profile: the lookups IdPs make most
        // (`userName eq`) do not read it.
        let on_groups = params
            .filter
            .as_ref()
            .is_some_and(|f| f.filter.any_path(&|p| p.name.eq_ignore_ascii_case("groups")));
        if caller.kind == TokenKind::Scim && on_groups {
            let mut conn = self.store.reader().await?;
            let profile = settings::profile(conn.as_mut(), caller.account_id).await?;
            // A filter on `groups` must agree with the `groups` attribute (R4, keep_both).
            scope.idp_groups_only = profile.group_name_conflict == GroupNameConflict::KeepBoth;
        }
        self.list_users_where(caller, params, &scope).await
    }

    /// A list with the admin API's extra conditions (R9: by source, by IdP management).
    pub async fn list_users_where(
        &self,
        caller: &Caller,
        params: &ListRequest,
        extra: &crate::store::AdminFilter,
    ) -> Result<ListPage<UserView>> {
        let rt = self.types(caller).await?.user;
        let mut list = list_query(
            ResourceKind::User,
            rt,
            caller.account_id,
            params,
            &self.settings,
            self.signing_key.cursor_key(),
        )?;
        let now = self.clock().monotonic();
        self.resumes.resume(&mut list, caller, extra, now);
        let mut conn = self.store.reader().await?;
        let page = conn
            .list_resources(ResourceKind::User, caller.account_id, &list.query, extra)
            .await
            .map_err(filter_error)?;
        self.resumes.remember(&list, &page, caller, extra, now);
        let ids: Vec<Uuid> = page.items.iter().map(|r| r.id).collect();
        let mut groups = if ids.is_empty() {
            Default::default()
        } else {
            by_owner(groups_seen(conn.as_mut(), caller, &ids).await?, |g| g.user_id)
        };
        Ok(list.page(page, |row| {
            let mine = groups.remove(&row.id).unwrap_or_default();
            UserView { row, groups: mine }
        }))
    }

    /// PUT: the body replaces every writable attribute. `active` left out of the body keeps its
    /// value: a PUT that merely forgets `active` must not suspend the user.
    pub async fn replace_user(
        &self,
        caller: &Caller,
        id: &str,
        body: &Value,
        pre: &Precondition,
    ) -> Result<UserView> {
        let uid = parse_id(id).ok_or_else(|| not_found("User", id))?;
        let rt = self.types(caller).await?.user;
        let mut doc = resource::normalize(rt, body)?;
        let mut tx = self.store.begin().await?;
        let current = tx
            .lock_resource(ResourceKind::User, caller.account_id, uid)
            .await?
            .ok_or_else(|| not_found("User", id))?;
        pre.check(current.version)?;
        if !doc.contains_key("active") {
            doc.insert(
                "active".into(),
                current.doc.get("active").cloned().unwrap_or(Value::Bool(true)),
            );
        }
        resource::validate(rt, &doc)?;
        let row = self
            .write_user(tx.as_mut(), caller, &current, doc, "user.replace", rt)
            .await?;
        let groups = groups_seen(tx.as_mut(), caller, &[uid]).await?;
        tx.commit().await?;
        Ok(UserView { row, groups })
    }

    /// PATCH: applied to a copy of the stored document under a row lock; written only when
    /// every operation succeeded and something changed.
    pub async fn patch_user(
        &self,
        caller: &Caller,
        id: &str,
        body: &Value,
        pre: &Precondition,
    ) -> Result<UserView> {
        let uid = parse_id(id).ok_or_else(|| not_found("User", id))?;
        let ops = patch::parse_patch(body)?;
        let rt = self.types(caller).await?.user;
        let mut tx = self.store.begin().await?;
        let current = tx
            .lock_resource(ResourceKind::User, caller.account_id, uid)
            .await?
            .ok_or_else(|| not_found("User", id))?;
        pre.check(current.version)?;
        let mut doc = current.doc.clone();
        let changed = patch::apply(rt, &mut doc, &ops)?;
        let row = if changed || !current.idp_managed {
            self.write_user(tx.as_mut(), caller, &current, doc, "user.patch", rt)
                .await?
        } else {
            scim_may_write(caller, &current, "user")?;
            current
        };
        let groups = groups_seen(tx.as_mut(), caller, &[uid]).await?;
        tx.commit().await?;
        Ok(UserView { row, groups })
    }

    /// A SCIM write of a whole user document over the locked row `current`: the first SCIM
    /// write to a native user adopts it (R4); later ones keep userName and primary email (R2).
    async fn write_user(
        &self,
        tx: &mut dyn Tx,
        caller: &Caller,
        current: &ResourceRow,
        doc: Map<String, Value>,
        action: &'static str,
        rt: &ResourceType,
    ) -> Result<ResourceRow> {
        check_unique_values(
            tx,
            ResourceKind::User,
            rt,
            caller.account_id,
            &doc,
            Some(current.id),
        )
        .await?;
        if scim_may_write(caller, current, "user")? {
            return adopt_user(tx, caller, current, &doc).await;
        }
        let profile = settings::profile(tx, caller.account_id).await?;
        check_identity_kept(&profile, &current.doc, &doc)?;
        let row = tx
            .update_resource(ResourceKind::User, caller.account_id, current.id, &doc)
            .await
            .map_err(|e| user_name_taken(e, &doc))?;
        audit::record(
            tx,
            caller,
            Change::new(action, "User", row.id)
                .before(snapshot(current))
                .after(snapshot(&row)),
        )
        .await?;
        Ok(row)
    }

    /// DELETE: the user and its memberships go; the groups stay. The audit event keeps the
    /// user's document and the groups it was removed from (R5).
    pub async fn delete_user(&self, caller: &Caller, id: &str, pre: &Precondition) -> Result<()> {
        self.delete_resource(ResourceKind::User, caller, id, pre).await
    }

    /// DELETE of a user or group over SCIM: the row and its memberships (ON DELETE CASCADE),
    /// after the `If-Match` check when there is one. A resource managed under another IdP
    /// label is refused.
    pub(crate) async fn delete_resource(
        &self,
        kind: ResourceKind,
        caller: &Caller,
        id: &str,
        pre: &Precondition,
    ) -> Result<()> {
        let label = kind.resource_type();
        let rid = parse_id(id).ok_or_else(|| not_found(label, id))?;
        let mut tx = self.store.begin().await?;
        let current = tx
            .lock_resource(kind, caller.account_id, rid)
            .await?
            .ok_or_else(|| not_found(label, id))?;
        if kind == ResourceKind::Group {
            ensure_scim_sees_group(tx.as_mut(), caller, &current).await?;
        }
        pre.check(current.version)?;
        if kind == ResourceKind::Group && !current.idp_managed {
            let profile = settings::profile(tx.as_mut(), caller.account_id).await?;
            // R8: a native group with a reserved name is the application's; SCIM never takes
            // it over, deleting included.
            let name = current
                .doc
                .get("displayName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if profile.is_reserved(name) {
                return profile.check_scim_group_name(name);
            }
        }
        if kind == ResourceKind::User && !current.idp_managed {
            ensure_not_reserved_member(tx.as_mut(), caller, &current).await?;
        }
        scim_may_write(caller, &current, &label.to_lowercase())?;
        delete_row(tx.as_mut(), caller, kind, &current).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The name of a reserved group (R8) the user belongs to, if any.
pub(crate) async fn reserved_group_of(tx: &mut dyn Tx, account: Uuid, user: Uuid) -> Result<Option<String>> {
    let groups = tx.groups_of(account, &[user]).await?;
    if groups.is_empty() {
        return Ok(None);
    }
    let profile = settings::profile(tx, account).await?;
    Ok(groups
        .into_iter()
        .find(|g| profile.is_reserved(&g.display_name))
        .map(|g| g.display_name))
}

/// R4's exception: SCIM never takes over (adopts, or deletes) a native member of a reserved
/// group such as `Administrators`; otherwise a provisioning token (a leaked connector secret)
/// could adopt the account's administrators by their email, rename and deactivate them, and
/// R3 would then keep the admin API from undoing it. 409 `uniqueness`: the user exists and
/// is not the IdP's.
pub(crate) async fn ensure_not_reserved_member(
    tx: &mut dyn Tx,
    caller: &Caller,
    native: &ResourceRow,
) -> Result<()> {
    let Some(reserved) = reserved_group_of(tx, caller.account_id, native.id).await? else {
        return Ok(());
    };
    Err(ScimError::uniqueness(format!(
        "user {} ({:?}) already exists and is a member of the reserved group {:?}, whose members \
         SCIM never takes over; an account admin must release the user (remove it from {:?} in \
         the application, and the identity provider's next request adopts it) or give the \
         identity provider's user another userName and email",
        native.id,
        user_name(&native.doc),
        reserved,
        reserved
    ))
    .into())
}

/// R4: the native user `native` becomes IdP-managed with the caller's source, keeping its id
/// and memberships; the IdP's document replaces the native one.
pub(crate) async fn adopt_user(
    tx: &mut dyn Tx,
    caller: &Caller,
    native: &ResourceRow,
    doc: &Map<String, Value>,
) -> Result<ResourceRow> {
    ensure_not_reserved_member(tx, caller, native).await?;
    if !tx
        .claim_resource(ResourceKind::User, caller.account_id, native.id, caller.source())
        .await?
    {
        return Err(ScimError::uniqueness(format!(
            "user {} was provisioned by another request meanwhile; read it again",
            native.id
        ))
        .into());
    }
    let row = tx
        .update_resource(ResourceKind::User, caller.account_id, native.id, doc)
        .await
        .map_err(|e| user_name_taken(e, doc))?;
    audit::record(
        tx,
        caller,
        Change::new("user.adopt", "User", row.id)
            .before(snapshot(native))
            .after(snapshot(&row)),
    )
    .await?;
    Ok(row)
}

/// Deletes a user or group and records it: a user's event lists the groups it left; a
/// group's lists nothing of its members (it may have 100,000), only its own document.
pub(crate) async fn delete_row(
    tx: &mut dyn Tx,
    caller: &Caller,
    kind: ResourceKind,
    row: &ResourceRow,
) -> Result<()> {
    let mut change = Change::new(
        match kind {
            ResourceKind::User => "user.delete",
            ResourceKind::Group => "group.delete",
        },
        kind.resource_type(),
        row.id,
    )
    .before(snapshot(row));
    if kind == ResourceKind::User {
        let groups: Vec<Uuid> = tx
            .groups_of(caller.account_id, &[row.id])
            .await?
            .into_iter()
            .map(|g| g.group_id)
            .collect();
        if !groups.is_empty() {
            change = change.delta(serde_json::json!({ "removed_from_groups": groups }));
        }
    }
    if !tx.delete_resource(kind, caller.account_id, row.id).await? {
        return Err(not_found(kind.resource_type(), &row.id.to_string()));
    }
    audit::record(tx, caller, change).await
}
