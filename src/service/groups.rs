//! SCIM Groups. Membership is a set of rows, changed set-based: adding one member to a group
//! of 100,000 reads and writes one row, never the member list.

use std::collections::HashSet;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::lists::{ListPage, filter_error, list_query};
use super::{Caller, Error, ListParams, Precondition, Result, Service, not_found, parse_id};
use crate::scim::patch::{self, MemberOp};
use crate::scim::{ScimError, resource, schema};
use crate::store::{MemberRef, NewResource, Origin, ResourceKind, ResourceRow, StoreError, Tx};

/// A group; `members` is `None` when the caller did not ask for them (they were never read).
#[derive(Debug, Clone)]
pub struct GroupView {
    pub row: ResourceRow,
    pub members: Option<Vec<MemberRef>>,
}

fn name_taken(err: StoreError, doc: &Map<String, Value>) -> Error {
    match err {
        StoreError::Unique(_) => ScimError::uniqueness(format!(
            "a group named {:?} already exists in this account",
            doc.get("displayName").and_then(Value::as_str).unwrap_or_default()
        ))
        .into(),
        other => other.into(),
    }
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
async fn existing_users(tx: &mut dyn Tx, account: Uuid, values: &[String]) -> Result<Vec<Uuid>> {
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

/// Applies member operations in order; returns whether the member set changed.
async fn apply_member_ops(tx: &mut dyn Tx, account: Uuid, group: Uuid, ops: &[MemberOp]) -> Result<bool> {
    let mut changed = false;
    for op in ops {
        let n = match op {
            MemberOp::Add(values) => {
                let ids = existing_users(tx, account, values).await?;
                tx.add_members(account, group, &ids, Origin::Idp).await?
            }
            MemberOp::Remove(values) => tx.remove_members(account, group, &removable(values)).await?,
            MemberOp::RemoveAll => tx.retain_members(account, group, &[]).await?,
            MemberOp::Replace(values) => {
                let ids = existing_users(tx, account, values).await?;
                tx.retain_members(account, group, &ids).await?
                    + tx.add_members(account, group, &ids, Origin::Idp).await?
            }
        };
        changed |= n > 0;
    }
    Ok(changed)
}

impl Service {
    pub async fn create_group(&self, caller: &Caller, body: &Value) -> Result<GroupView> {
        let mut doc = resource::normalize(&schema::GROUP, body)?;
        let members = member_values(doc.remove("members")).unwrap_or_default();
        resource::validate(&schema::GROUP, &doc)?;
        let new = NewResource {
            id: Uuid::now_v7(),
            doc,
            source: caller.source().to_string(),
            idp_managed: true,
        };
        let mut tx = self.store.begin().await?;
        let row = tx
            .insert_resource(ResourceKind::Group, caller.account_id, &new)
            .await
            .map_err(|e| name_taken(e, &new.doc))?;
        let mut listed = Vec::new();
        if !members.is_empty() {
            apply_member_ops(tx.as_mut(), caller.account_id, row.id, &[MemberOp::Add(members)]).await?;
            listed = tx.members_of(caller.account_id, &[row.id]).await?;
        }
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
            .get_resource(ResourceKind::Group, caller.account_id, gid, false)
            .await?
            .ok_or_else(|| not_found("Group", id))?;
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
        params: &ListParams,
        with_members: bool,
    ) -> Result<ListPage<GroupView>> {
        let list = list_query(ResourceKind::Group, params, &self.settings)?;
        let mut conn = self.store.reader().await?;
        let page = conn
            .list_resources(ResourceKind::Group, caller.account_id, &list.query)
            .await
            .map_err(filter_error)?;
        let ids: Vec<Uuid> = page.items.iter().map(|r| r.id).collect();
        let mut members = if with_members && !ids.is_empty() {
            Some(conn.members_of(caller.account_id, &ids).await?)
        } else {
            None
        };
        Ok(list.page(page, |row| {
            let mine = members
                .as_mut()
                .map(|all| all.extract_if(.., |m| m.group_id == row.id).collect());
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
        let mut doc = resource::normalize(&schema::GROUP, body)?;
        let members = member_values(doc.remove("members"));
        resource::validate(&schema::GROUP, &doc)?;
        let mut tx = self.store.begin().await?;
        let current = tx
            .get_resource(ResourceKind::Group, caller.account_id, gid, true)
            .await?
            .ok_or_else(|| not_found("Group", id))?;
        pre.check(current.version)?;
        let row = tx
            .update_resource(ResourceKind::Group, caller.account_id, gid, &doc)
            .await
            .map_err(|e| name_taken(e, &doc))?;
        if let Some(values) = members {
            apply_member_ops(tx.as_mut(), caller.account_id, gid, &[MemberOp::Replace(values)]).await?;
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
    /// first, so concurrent PATCHes of one group serialise instead of losing updates.
    pub async fn patch_group(
        &self,
        caller: &Caller,
        id: &str,
        body: &Value,
        pre: &Precondition,
        with_members: bool,
    ) -> Result<GroupView> {
        let gid = parse_id(id).ok_or_else(|| not_found("Group", id))?;
        let ops = patch::split_group_ops(patch::parse_patch(body)?)?;
        let mut tx = self.store.begin().await?;
        let current = tx
            .get_resource(ResourceKind::Group, caller.account_id, gid, true)
            .await?
            .ok_or_else(|| not_found("Group", id))?;
        pre.check(current.version)?;
        let mut doc = current.doc.clone();
        let doc_changed = !ops.doc_ops.is_empty() && patch::apply(&schema::GROUP, &mut doc, &ops.doc_ops)?;
        let members_changed = apply_member_ops(tx.as_mut(), caller.account_id, gid, &ops.member_ops).await?;
        let row = if doc_changed {
            tx.update_resource(ResourceKind::Group, caller.account_id, gid, &doc)
                .await
                .map_err(|e| name_taken(e, &doc))?
        } else if members_changed {
            tx.touch_resource(ResourceKind::Group, caller.account_id, gid)
                .await?
                .ok_or_else(|| not_found("Group", id))?
        } else {
            current
        };
        let members = if with_members {
            Some(tx.members_of(caller.account_id, &[gid]).await?)
        } else {
            None
        };
        tx.commit().await?;
        Ok(GroupView { row, members })
    }

    /// DELETE: the group and its memberships go, never the member users.
    pub async fn delete_group(&self, caller: &Caller, id: &str, pre: &Precondition) -> Result<()> {
        self.delete_resource(ResourceKind::Group, caller, id, pre).await
    }
}
