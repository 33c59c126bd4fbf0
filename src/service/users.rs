//! SCIM Users: create, read, list, replace, patch, delete.

use serde_json::Value;
use uuid::Uuid;

use super::lists::{ListPage, filter_error, list_query};
use super::{Caller, Error, ListParams, Precondition, Result, Service, not_found, parse_id};
use crate::scim::{ScimError, patch, resource, schema};
use crate::store::{GroupRef, NewResource, ResourceKind, ResourceRow, StoreError};

/// A user and the groups it belongs to (the derived, read-only `groups` attribute).
#[derive(Debug, Clone)]
pub struct UserView {
    pub row: ResourceRow,
    pub groups: Vec<GroupRef>,
}

fn user_name_taken(err: StoreError, doc: &serde_json::Map<String, Value>) -> Error {
    match err {
        StoreError::Unique(_) => ScimError::uniqueness(format!(
            "a user with userName {:?} already exists (userName is unique per account, ignoring case)",
            doc.get("userName").and_then(Value::as_str).unwrap_or_default()
        ))
        .into(),
        other => other.into(),
    }
}

impl Service {
    pub async fn create_user(&self, caller: &Caller, body: &Value) -> Result<UserView> {
        let mut doc = resource::normalize(&schema::USER, body)?;
        doc.entry("active").or_insert(Value::Bool(true));
        resource::validate(&schema::USER, &doc)?;
        let new = NewResource {
            id: Uuid::now_v7(),
            doc,
            source: caller.source().to_string(),
            idp_managed: true,
        };
        let mut tx = self.store.begin().await?;
        let row = tx
            .insert_resource(ResourceKind::User, caller.account_id, &new)
            .await
            .map_err(|e| user_name_taken(e, &new.doc))?;
        tx.commit().await?;
        Ok(UserView {
            row,
            groups: Vec::new(),
        })
    }

    pub async fn get_user(&self, caller: &Caller, id: &str) -> Result<UserView> {
        let uid = parse_id(id).ok_or_else(|| not_found("User", id))?;
        let mut conn = self.store.reader().await?;
        let row = conn
            .get_resource(ResourceKind::User, caller.account_id, uid, false)
            .await?
            .ok_or_else(|| not_found("User", id))?;
        let groups = conn.groups_of(caller.account_id, &[uid]).await?;
        Ok(UserView { row, groups })
    }

    pub async fn list_users(&self, caller: &Caller, params: &ListParams) -> Result<ListPage<UserView>> {
        let list = list_query(ResourceKind::User, params, &self.settings)?;
        let mut conn = self.store.reader().await?;
        let page = conn
            .list_resources(ResourceKind::User, caller.account_id, &list.query)
            .await
            .map_err(filter_error)?;
        let ids: Vec<Uuid> = page.items.iter().map(|r| r.id).collect();
        let mut groups = if ids.is_empty() {
            Vec::new()
        } else {
            conn.groups_of(caller.account_id, &ids).await?
        };
        Ok(list.page(page, |row| {
            let mine = groups.extract_if(.., |g| g.user_id == row.id).collect();
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
        let mut doc = resource::normalize(&schema::USER, body)?;
        let mut tx = self.store.begin().await?;
        let current = tx
            .get_resource(ResourceKind::User, caller.account_id, uid, true)
            .await?
            .ok_or_else(|| not_found("User", id))?;
        pre.check(current.version)?;
        if !doc.contains_key("active") {
            doc.insert(
                "active".into(),
                current.doc.get("active").cloned().unwrap_or(Value::Bool(true)),
            );
        }
        resource::validate(&schema::USER, &doc)?;
        let row = tx
            .update_resource(ResourceKind::User, caller.account_id, uid, &doc)
            .await
            .map_err(|e| user_name_taken(e, &doc))?;
        let groups = tx.groups_of(caller.account_id, &[uid]).await?;
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
        let mut tx = self.store.begin().await?;
        let current = tx
            .get_resource(ResourceKind::User, caller.account_id, uid, true)
            .await?
            .ok_or_else(|| not_found("User", id))?;
        pre.check(current.version)?;
        let mut doc = current.doc.clone();
        let changed = patch::apply(&schema::USER, &mut doc, &ops)?;
        let row = if changed {
            tx.update_resource(ResourceKind::User, caller.account_id, uid, &doc)
                .await
                .map_err(|e| user_name_taken(e, &doc))?
        } else {
            current
        };
        let groups = tx.groups_of(caller.account_id, &[uid]).await?;
        tx.commit().await?;
        Ok(UserView { row, groups })
    }

    /// DELETE: the user and its memberships go; the groups stay.
    pub async fn delete_user(&self, caller: &Caller, id: &str, pre: &Precondition) -> Result<()> {
        self.delete_resource(ResourceKind::User, caller, id, pre).await
    }

    /// DELETE of a user or group: the row and its memberships (ON DELETE CASCADE), after the
    /// `If-Match` check when there is one.
    pub(crate) async fn delete_resource(
        &self,
        kind: ResourceKind,
        caller: &Caller,
        id: &str,
        pre: &Precondition,
    ) -> Result<()> {
        let label = match kind {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        };
        let rid = parse_id(id).ok_or_else(|| not_found(label, id))?;
        let mut tx = self.store.begin().await?;
        if pre.if_match.is_some() {
            let current = tx
                .get_resource(kind, caller.account_id, rid, true)
                .await?
                .ok_or_else(|| not_found(label, id))?;
            pre.check(current.version)?;
        }
        if !tx.delete_resource(kind, caller.account_id, rid).await? {
            return Err(not_found(label, id));
        }
        tx.commit().await?;
        Ok(())
    }
}
