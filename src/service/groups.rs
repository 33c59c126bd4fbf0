//! SCIM Groups. Membership is a set of rows, changed set-based: adding one member to a group
//! of 100,000 reads and writes one row, never the member list — and so does its audit event,
//! which records only the ids that changed.
//!
//! Rules kept here for the SCIM surface: the identifier (R1), linking instead of duplicating
//! (R4), reserved names and the name-length limit (R8), the provisioning source (R9).

use std::collections::HashSet;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::audit::{self, Change, snapshot};
use super::identifier::{base_identifier, next_identifier};
use super::lists::{ListPage, by_owner, filter_error, list_query};
use super::ownership::{ensure_scim_sees_group, scim_may_write};
use super::schemas::check_unique_values;
use super::settings::{self, GroupNameConflict};
use super::{Caller, Error, Precondition, Result, Service, TokenKind, not_found, parse_id};
use crate::scim::list::ListRequest;
use crate::scim::patch::{self, MemberOp};
use crate::scim::{ScimError, resource};
use crate::store::{
    AdminFilter, GROUP_IDENTIFIER_KEY, MemberRef, NewResource, Origin, ResourceKind, ResourceRow, StoreError,
    Tx,
};

/// A group; `members` is `None` when the caller did not ask for them (they were never read).
#[derive(Debug, Clone)]
pub struct GroupView {
    pub row: ResourceRow,
    pub members: Option<Vec<MemberRef>>,
}

pub(crate) fn name_taken(err: StoreError, doc: &Map<String, Value>) -> Error {
    match err {
        StoreError::Unique(_) => ScimError::uniqueness(format!(
            "a group named {:?} already exists in this account",
            display_name(doc)
        ))
        .into(),
        other => other.into(),
    }
}

pub(crate) fn display_name(doc: &Map<String, Value>) -> &str {
    doc.get("displayName").and_then(Value::as_str).unwrap_or_default()
}

/// Member ids of a `members` value as the client sent it (already normalised: each element
/// has a string `value`).
fn member_values(members: Option<Value>) -> Option<Vec<String>> {
    let Value::Array(items) = members? else {
        return Some(Vec::new());
    };
    Some(
        items
            .iter()
            .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_string))
            .collect(),
    )
}

/// Checks that every id names a user of the account; 400 naming those that do not.
pub(crate) async fn existing_users(tx: &mut dyn Tx, account: Uuid, values: &[String]) -> Result<Vec<Uuid>> {
    let mut ids = Vec::with_capacity(values.len());
    let mut unknown = Vec::new();
    let mut seen = HashSet::new();
    for v in values {
        match parse_id(v) {
            Some(id) if seen.insert(id) => ids.push(id),
            Some(_) => {}
            None => unknown.push(v.clone()),
        }
    }
    if !ids.is_empty() {
        unknown.extend(tx.missing_users(account, &ids).await?.iter().map(Uuid::to_string));
    }
    if !unknown.is_empty() {
        unknown.truncate(20);
        return Err(ScimError::invalid_value(format!(
            "members must be users of this account (nested groups are not supported); \
             unknown member ids: {}",
            unknown.join(", ")
        ))
        .into());
    }
    Ok(ids)
}

/// Ids to remove: a value that is not a UUID cannot be a member, so it is simply not there.
fn removable(values: &[String]) -> Vec<Uuid> {
    values.iter().filter_map(|v| parse_id(v)).collect()
}

/// What a set of member operations changed: the ids added and removed.
#[derive(Debug, Default)]
pub(crate) struct MemberDelta {
    pub added: Vec<Uuid>,
    pub removed: Vec<Uuid>,
}

impl MemberDelta {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Applies member operations in order; returns what changed.
pub(crate) async fn apply_member_ops(
    tx: &mut dyn Tx,
    account: Uuid,
    group: Uuid,
    ops: &[MemberOp],
    origin: Origin,
) -> Result<MemberDelta> {
    let mut delta = MemberDelta::default();
    for op in ops {
        match op {
            MemberOp::Add(values) => {
                let ids = existing_users(tx, account, values).await?;
                delta
                    .added
                    .extend(tx.add_members(account, group, &ids, origin).await?);
            }
            MemberOp::Remove(values) => {
                delta
                    .removed
                    .extend(tx.remove_members(account, group, &removable(values)).await?);
            }
            MemberOp::RemoveAll => delta
                .removed
                .extend(tx.retain_members(account, group, &[]).await?),
            MemberOp::Replace(values) => {
                let ids = existing_users(tx, account, values).await?;
                delta
                    .removed
                    .extend(tx.retain_members(account, group, &ids).await?);
                delta
                    .added
                    .extend(tx.add_members(account, group, &ids, origin).await?);
            }
        }
    }
    // An id added then removed (or the reverse) in one request is no net change.
    let added: HashSet<Uuid> = delta.added.iter().copied().collect();
    let removed: HashSet<Uuid> = delta.removed.iter().copied().collect();
    delta.added.retain(|id| !removed.contains(id));
    delta.removed.retain(|id| !added.contains(id));
    Ok(delta)
}

/// R1: inserts a group under the first free identifier made from its displayName. The unique
/// index decides; a candidate taken by a concurrent creation costs one more try.
pub(crate) async fn insert_group(
    tx: &mut dyn Tx,
    account: Uuid,
    doc: Map<String, Value>,
    source: &str,
    idp_managed: bool,
) -> Result<ResourceRow> {
    let base = base_identifier(display_name(&doc));
    let mut new = NewResource {
        id: Uuid::now_v7(),
        doc,
        source: source.to_string(),
        idp_managed,
        identifier: None,
    };
    for _ in 0..16 {
        let taken = tx.identifiers_with_base(account, &base).await?;
        new.identifier = Some(next_identifier(&base, &taken));
        match tx.insert_resource(ResourceKind::Group, account, &new).await {
            Ok(row) => return Ok(row),
            Err(StoreError::Unique(c)) if c == GROUP_IDENTIFIER_KEY => continue,
            Err(e) => return Err(name_taken(e, &new.doc)),
        }
    }
    Err(Error::Unavailable(format!(
        "could not find a free identifier for {base:?} under concurrent creations; retry"
    )))
}

impl Service {
    /// POST /Groups. A displayName that a native group has exactly links to that group when the
    /// account's `group_name_conflict` is `link` (R4): same id, identifier and role bindings,
    /// now IdP-managed. With `keep_both` a second, IdP-managed group is created beside it.
    pub async fn create_group(&self, caller: &Caller, body: &Value) -> Result<GroupView> {
        let rt = self.types(caller).await?.group;
        let mut doc = resource::normalize(rt, body)?;
        let members = member_values(doc.remove("members")).unwrap_or_default();
        resource::validate(rt, &doc)?;
        let account = caller.account_id;
        let mut tx = self.store.begin().await?;
        let profile = settings::profile(tx.as_mut(), account).await?;
        profile.check_scim_group_name(display_name(&doc))?;
        let same_name = tx
            .find_groups_by_display_name(account, display_name(&doc))
            .await?;
        if let Some(managed) = same_name.iter().find(|g| g.idp_managed) {
            scim_may_write(caller, managed, "group")?;
            return Err(ScimError::uniqueness(format!(
                "a group named {:?} is already provisioned (id {}); update it with PUT or PATCH /Groups/{}",
                display_name(&doc),
                managed.id,
                managed.id
            ))
            .into());
        }
        let native = same_name.into_iter().find(|g| !g.idp_managed);
        let linked = native
            .as_ref()
            .filter(|_| profile.group_name_conflict == GroupNameConflict::Link)
            .map(|n| n.id);
        check_unique_values(tx.as_mut(), ResourceKind::Group, rt, account, &doc, linked).await?;
        let row = match native {
            Some(native) if profile.group_name_conflict == GroupNameConflict::Link => {
                let locked = tx
                    .lock_resource(ResourceKind::Group, account, native.id)
                    .await?
                    .ok_or_else(|| not_found("Group", &native.id.to_string()))?;
                link_group(tx.as_mut(), caller, &locked, &doc).await?
            }
            _ => {
                let row = insert_group(tx.as_mut(), account, doc, caller.source(), true).await?;
                audit::record(
                    tx.as_mut(),
                    caller,
                    Change::new("group.create", "Group", row.id).after(snapshot(&row)),
                )
                .await?;
                row
            }
        };
        if !members.is_empty() {
            let delta = apply_member_ops(
                tx.as_mut(),
                account,
                row.id,
                &[MemberOp::Add(members)],
                Origin::Idp,
            )
            .await?;
            record_members(tx.as_mut(), caller, row.id, &delta).await?;
        }
        // A linked group keeps its native members, so the answer lists what is there now.
        let listed = tx.members_of(account, &[row.id]).await?;
        tx.commit().await?;
        Ok(GroupView {
            row,
            members: Some(listed),
        })
    }

    pub async fn get_group(&self, caller: &Caller, id: &str, with_members: bool) -> Result<GroupView> {
        let gid = parse_id(id).ok_or_else(|| not_found("Group", id))?;
        let mut conn = self.store.reader().await?;
        let row = conn
            .get_resource(ResourceKind::Group, caller.account_id, gid)
            .await?
            .ok_or_else(|| not_found("Group", id))?;
        ensure_scim_sees_group(conn.as_mut(), caller, &row).await?;
        let members = if with_members {
            Some(conn.members_of(caller.account_id, &[gid]).await?)
        } else {
            None
        };
        Ok(GroupView { row, members })
    }

    pub async fn list_groups(
        &self,
        caller: &Caller,
        params: &ListRequest,
        with_members: bool,
    ) -> Result<ListPage<GroupView>> {
        let rt = self.types(caller).await?.group;
        // One connection for the profile and the page: each connection taken from the pool
        // and given back is a round trip of its own (sqlx tests it on return).
        let mut conn = self.store.reader().await?;
        let mut scope = AdminFilter::default();
        if caller.kind == TokenKind::Scim {
            let profile = settings::profile(conn.as_mut(), caller.account_id).await?;
            if profile.group_name_conflict == GroupNameConflict::KeepBoth {
                scope.idp_managed = Some(true);
            }
        }
        self.list_groups_on(conn, rt, caller, params, with_members, &scope)
            .await
    }

    /// A list with the admin API's extra conditions (R9: by source, by IdP management).
    pub async fn list_groups_where(
        &self,
        caller: &Caller,
        params: &ListRequest,
        with_members: bool,
        extra: &AdminFilter,
    ) -> Result<ListPage<GroupView>> {
        let rt = self.types(caller).await?.group;
        let conn = self.store.reader().await?;
        self.list_groups_on(conn, rt, caller, params, with_members, extra)
            .await
    }

    /// The page on `conn`. The types are read before the connection is taken: a request holds
    /// one pooled connection at a time, so a full pool cannot deadlock on itself.
    async fn list_groups_on(
        &self,
        mut conn: Box<dyn crate::store::ReadTx>,
        rt: &'static crate::scim::schema::ResourceType,
        caller: &Caller,
        params: &ListRequest,
        with_members: bool,
        extra: &AdminFilter,
    ) -> Result<ListPage<GroupView>> {
        let mut list = list_query(
            ResourceKind::Group,
            rt,
            caller.account_id,
            params,
            &self.settings,
            self.signing_key.cursor_key(),
        )?;
        let now = self.clock().monotonic();
        self.resumes.resume(&mut list, caller, extra, now);
        let page = conn
            .list_resources(ResourceKind::Group, caller.account_id, &list.query, extra)
            .await
            .map_err(filter_error)?;
        self.resumes.remember(&list, &page, caller, extra, now);
        let ids: Vec<Uuid> = page.items.iter().map(|r| r.id).collect();
        let mut members = if with_members && !ids.is_empty() {
            Some(by_owner(conn.members_of(caller.account_id, &ids).await?, |m| {
                m.group_id
            }))
        } else {
            None
        };
        Ok(list.page(page, |row| {
            let mine = members
                .as_mut()
                .map(|all| all.remove(&row.id).unwrap_or_default());
            GroupView { row, members: mine }
        }))
    }

    /// PUT: replaces displayName, externalId and — when the body has `members` — the member
    /// set. A body without `members` leaves membership alone rather than emptying the group.
    pub async fn replace_group(
        &self,
        caller: &Caller,
        id: &str,
        body: &Value,
        pre: &Precondition,
    ) -> Result<GroupView> {
        let gid = parse_id(id).ok_or_else(|| not_found("Group", id))?;
        let rt = self.types(caller).await?.group;
        let mut doc = resource::normalize(rt, body)?;
        let members = member_values(doc.remove("members"));
        resource::validate(rt, &doc)?;
        let mut tx = self.store.begin().await?;
        let current = tx
            .lock_resource(ResourceKind::Group, caller.account_id, gid)
            .await?
            .ok_or_else(|| not_found("Group", id))?;
        ensure_scim_sees_group(tx.as_mut(), caller, &current).await?;
        pre.check(current.version)?;
        check_unique_values(
            tx.as_mut(),
            ResourceKind::Group,
            rt,
            caller.account_id,
            &doc,
            Some(gid),
        )
        .await?;
        let row = write_group(tx.as_mut(), caller, &current, Some(doc), "group.replace").await?;
        if let Some(values) = members {
            let delta = apply_member_ops(
                tx.as_mut(),
                caller.account_id,
                gid,
                &[MemberOp::Replace(values)],
                Origin::Idp,
            )
            .await?;
            record_members(tx.as_mut(), caller, gid, &delta).await?;
        }
        let listed = tx.members_of(caller.account_id, &[gid]).await?;
        tx.commit().await?;
        Ok(GroupView {
            row,
            members: Some(listed),
        })
    }

    /// PATCH: document operations on a copy of the group document, member operations as set
    /// operations on the membership table, all in one transaction. The group row is locked
    /// first, so concurrent PATCHes of one group serialise instead of losing updates — except
    /// the IdP's member pushes, which [`patch_members_alongside`](Self::patch_members_alongside)
    /// runs side by side.
    pub async fn patch_group(
        &self,
        caller: &Caller,
        id: &str,
        body: &Value,
        pre: &Precondition,
        with_members: bool,
    ) -> Result<GroupView> {
        let gid = parse_id(id).ok_or_else(|| not_found("Group", id))?;
        let mut ops = patch::split_group_ops(patch::parse_patch(body)?)?;
        ops.member_ops = patch::coalesce_member_ops(ops.member_ops);
        // One add or one remove after merging runs: a mix could wait for another push's rows
        // in two orders (an add behind a remove's row, a remove ahead of an add's).
        let alongside = ops.doc_ops.is_empty()
            && pre.if_match.is_none()
            && matches!(
                ops.member_ops.as_slice(),
                [MemberOp::Add(_) | MemberOp::Remove(_)]
            );
        if alongside
            && let Some(view) = self
                .patch_members_alongside(caller, gid, &ops.member_ops, with_members)
                .await?
        {
            return Ok(view);
        }
        let rt = self.types(caller).await?.group;
        let mut tx = self.store.begin().await?;
        let current = tx
            .lock_resource(ResourceKind::Group, caller.account_id, gid)
            .await?
            .ok_or_else(|| not_found("Group", id))?;
        ensure_scim_sees_group(tx.as_mut(), caller, &current).await?;
        pre.check(current.version)?;
        let mut doc = current.doc.clone();
        let doc_changed = !ops.doc_ops.is_empty() && patch::apply(rt, &mut doc, &ops.doc_ops)?;
        if doc_changed {
            check_unique_values(
                tx.as_mut(),
                ResourceKind::Group,
                rt,
                caller.account_id,
                &doc,
                Some(gid),
            )
            .await?;
        }
        let mut row = write_group(
            tx.as_mut(),
            caller,
            &current,
            doc_changed.then_some(doc),
            "group.patch",
        )
        .await?;
        let delta =
            apply_member_ops(tx.as_mut(), caller.account_id, gid, &ops.member_ops, Origin::Idp).await?;
        if !delta.is_empty() {
            record_members(tx.as_mut(), caller, gid, &delta).await?;
            if row.version == current.version {
                row = tx
                    .touch_resource(ResourceKind::Group, caller.account_id, gid, None)
                    .await?
                    .ok_or_else(|| not_found("Group", id))?;
            }
        }
        let members = if with_members {
            Some(tx.members_of(caller.account_id, &[gid]).await?)
        } else {
            None
        };
        tx.commit().await?;
        Ok(GroupView { row, members })
    }

    /// The IdP's push of members to its own group (only adds or only removes, no `If-Match`:
    /// what Okta and Entra send, often many at once for one group), with the group held only
    /// against the locking writers (`share_group`) until the last statement bumps its
    /// version. So pushes to one group overlap instead of queueing for its row lock through
    /// every statement; they meet only for that last update and the commit. Adds (or removes)
    /// of distinct users commute; two pushes touching the same user wait for each other at
    /// that membership row, in key order, and wait for nothing once they hold the group's row,
    /// so they cannot deadlock (docs/decisions.md, "An IdP's member pushes").
    ///
    /// `None` when the group is not (or no longer, at the last statement) the caller's own:
    /// nothing is kept, and [`patch_group`](Self::patch_group)'s locking path decides, with the
    /// rules for adopting a native group and the 404s.
    async fn patch_members_alongside(
        &self,
        caller: &Caller,
        gid: Uuid,
        member_ops: &[MemberOp],
        with_members: bool,
    ) -> Result<Option<GroupView>> {
        let account = caller.account_id;
        let mut tx = self.store.begin().await?;
        let Some(current) = tx.share_group(account, gid).await? else {
            return Ok(None);
        };
        // Adopting is false only for a group this caller's source already manages; anything
        // else (a native group, another source's) takes the locking path.
        if !matches!(scim_may_write(caller, &current, "group"), Ok(false)) {
            return Ok(None);
        }
        let delta = apply_member_ops(tx.as_mut(), account, gid, member_ops, Origin::Idp).await?;
        let row = if delta.is_empty() {
            current
        } else {
            record_members(tx.as_mut(), caller, gid, &delta).await?;
            match tx
                .touch_resource(ResourceKind::Group, account, gid, Some(caller.source()))
                .await?
            {
                Some(row) => row,
                None => return Ok(None),
            }
        };
        let members = if with_members {
            Some(tx.members_of(account, &[gid]).await?)
        } else {
            None
        };
        tx.commit().await?;
        Ok(Some(GroupView { row, members }))
    }

    /// DELETE: the group and its memberships go, never the member users.
    pub async fn delete_group(&self, caller: &Caller, id: &str, pre: &Precondition) -> Result<()> {
        self.delete_resource(ResourceKind::Group, caller, id, pre).await
    }
}

/// Records a membership change of `group` (the delta only).
pub(crate) async fn record_members(
    tx: &mut dyn Tx,
    caller: &Caller,
    group: Uuid,
    delta: &MemberDelta,
) -> Result<()> {
    if delta.is_empty() {
        return Ok(());
    }
    audit::record(
        tx,
        caller,
        Change::new("group.members", "Group", group).members(&delta.added, &delta.removed),
    )
    .await
}

/// A SCIM write to the locked group `current`: `doc` (when the document changes) replaces its
/// document. The first SCIM write to a native group links it (R4); a reserved name is never
/// taken over and a new name must fit the profile (R8). Without a document change and without
/// adoption the row is returned as it is.
async fn write_group(
    tx: &mut dyn Tx,
    caller: &Caller,
    current: &ResourceRow,
    doc: Option<Map<String, Value>>,
    action: &'static str,
) -> Result<ResourceRow> {
    let adopting = scim_may_write(caller, current, "group")?;
    let renamed = doc
        .as_ref()
        .filter(|doc| display_name(doc) != display_name(&current.doc));
    // The profile (R8) matters only for a name SCIM takes over or gives; a member push to the
    // IdP's own group skips the read.
    if adopting || renamed.is_some() {
        let profile = settings::profile(tx, caller.account_id).await?;
        if adopting {
            profile.check_scim_group_name(display_name(&current.doc))?;
        }
        if let Some(doc) = renamed {
            profile.check_scim_group_name(display_name(doc))?;
        }
    }
    if adopting {
        let doc = doc.unwrap_or_else(|| current.doc.clone());
        return link_group(tx, caller, current, &doc).await;
    }
    let Some(doc) = doc else {
        return Ok(current.clone());
    };
    let row = tx
        .update_resource(ResourceKind::Group, caller.account_id, current.id, &doc)
        .await
        .map_err(|e| name_taken(e, &doc))?;
    audit::record(
        tx,
        caller,
        Change::new(action, "Group", row.id)
            .before(snapshot(current))
            .after(snapshot(&row)),
    )
    .await?;
    Ok(row)
}

/// R4 link: the native group `native` (locked) becomes IdP-managed with the caller's source;
/// its id, identifier, members and role bindings stay; the IdP's document replaces its own.
async fn link_group(
    tx: &mut dyn Tx,
    caller: &Caller,
    native: &ResourceRow,
    doc: &Map<String, Value>,
) -> Result<ResourceRow> {
    if !tx
        .claim_resource(ResourceKind::Group, caller.account_id, native.id, caller.source())
        .await
        .map_err(|e| name_taken(e, doc))?
    {
        return Err(ScimError::uniqueness(format!(
            "group {} was linked by another request meanwhile; read it again",
            native.id
        ))
        .into());
    }
    let row = tx
        .update_resource(ResourceKind::Group, caller.account_id, native.id, doc)
        .await
        .map_err(|e| name_taken(e, doc))?;
    audit::record(
        tx,
        caller,
        Change::new("group.link", "Group", row.id)
            .before(snapshot(native))
            .after(snapshot(&row)),
    )
    .await?;
    Ok(row)
}
