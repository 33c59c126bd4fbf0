//! The change feed (docs/events.md): every change recorded in the audit log (`audit::record`)
//! also yields typed events, written by the same transaction, which an application reads in
//! order through `GET /api/accounts/{id}/events`.
//!
//! What the events of a change are is decided here, from the change alone ([`derive`]): one
//! event per resource changed, typed by what happened to it (a user whose `active` turned false
//! is `user.deactivated`, not `user.updated`), and one per member added or removed.

use std::time::Duration;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::change::Change;
use super::{Caller, Result, Service};
use crate::scim::ScimError;
use crate::store::{EventQuery, EventRecord, NewEvent};

/// Every event type, for the `types` filter's check and the docs.
pub const EVENT_TYPES: &[&str] = &[
    "user.created",
    "user.updated",
    "user.deactivated",
    "user.reactivated",
    "user.deleted",
    "group.created",
    "group.updated",
    "group.renamed",
    "group.deleted",
    "group.member_added",
    "group.member_removed",
    "scim.enabled",
    "scim.disabled",
    "account.updated",
    "token.created",
    "token.revoked",
    "token.regenerated",
    "oauth_client.created",
    "oauth_client.revoked",
    "role_binding.created",
    "role_binding.deleted",
    "schema.declared",
    "schema.removed",
    "webhook.created",
    "webhook.updated",
    "webhook.deleted",
    "webhook.disabled",
];

/// Most events one page returns.
pub const MAX_EVENT_PAGE: i64 = 1000;
/// Longest a request may wait for an event (`wait`).
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// How often a waiting request looks for new events: the delay an application sees at most
/// (other processes' writes included), for one indexed read per waiting request per period.
const POLL: Duration = Duration::from_millis(200);

fn event(kind: &'static str, change: &Change) -> NewEvent {
    NewEvent {
        kind,
        resource_type: change.resource_type,
        resource_id: change.resource_id.clone(),
        external_id: None,
        member_id: None,
        changed: None,
    }
}

fn external_id(doc: Option<&Value>) -> Option<String> {
    doc.and_then(|d| d.get("externalId"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The top-level attributes whose values differ between two snapshots (ownership fields
/// included; `meta` and `schemas` follow from the others).
fn changed(before: &Map<String, Value>, after: &Map<String, Value>) -> Vec<String> {
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| !matches!(k.as_str(), "meta" | "schemas" | "id"))
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect()
}

fn active(doc: &Map<String, Value>) -> bool {
    doc.get("active").and_then(Value::as_bool).unwrap_or(true)
}

fn ids(delta: Option<&Value>, key: &str) -> Vec<Uuid> {
    delta
        .and_then(|d| d.get(key))
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(Value::as_str)
                .filter_map(|id| Uuid::parse_str(id).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The events of one change.
pub(crate) fn derive(change: &Change) -> Vec<NewEvent> {
    let ext = external_id(change.after.as_ref().or(change.before.as_ref()));
    let with_ext = |mut e: NewEvent| {
        e.external_id = ext.clone();
        e
    };
    let (before, after) = (
        change.before.as_ref().and_then(Value::as_object),
        change.after.as_ref().and_then(Value::as_object),
    );
    match (change.resource_type, change.action) {
        ("User", "user.create") => vec![with_ext(event("user.created", change))],
        ("Group", "group.create") => vec![with_ext(event("group.created", change))],
        ("User", "user.delete") => {
            let mut out = vec![with_ext(event("user.deleted", change))];
            // The groups it left: each group's membership changed too.
            let user = change
                .resource_id
                .as_deref()
                .and_then(|id| Uuid::parse_str(id).ok());
            for group in ids(change.delta.as_ref(), "removed_from_groups") {
                out.push(NewEvent {
                    kind: "group.member_removed",
                    resource_type: "Group",
                    resource_id: Some(group.to_string()),
                    external_id: None,
                    member_id: user,
                    changed: None,
                });
            }
            out
        }
        ("Group", "group.delete") => vec![with_ext(event("group.deleted", change))],
        ("Group", "group.members") => {
            let member = |kind, id| NewEvent {
                member_id: Some(id),
                ..event(kind, change)
            };
            let delta = change.delta.as_ref();
            ids(delta, "members_added")
                .into_iter()
                .map(|id| member("group.member_added", id))
                .chain(
                    ids(delta, "members_removed")
                        .into_iter()
                        .map(|id| member("group.member_removed", id)),
                )
                .collect()
        }
        // Every other write of a user or group document: replace, patch, the admin API's
        // update, adoption and release (R4), a forced update.
        (kind @ ("User" | "Group"), _) => {
            let (Some(before), Some(after)) = (before, after) else {
                return Vec::new();
            };
            let changed = changed(before, after);
            if changed.is_empty() {
                return Vec::new();
            }
            let kind = match kind {
                "User" if active(before) && !active(after) => "user.deactivated",
                "User" if !active(before) && active(after) => "user.reactivated",
                "User" => "user.updated",
                _ if changed.iter().any(|c| c == "displayName") => "group.renamed",
                _ => "group.updated",
            };
            vec![NewEvent {
                changed: Some(changed),
                ..with_ext(event(kind, change))
            }]
        }
        (_, action) => {
            let kind = match action {
                "scim.enable" => "scim.enabled",
                "scim.disable" => "scim.disabled",
                "settings.update" => "account.updated",
                "token.create" => "token.created",
                "token.revoke" => "token.revoked",
                "token.regenerate" => "token.regenerated",
                "oauth_client.create" => "oauth_client.created",
                "oauth_client.revoke" => "oauth_client.revoked",
                "role_binding.create" => "role_binding.created",
                "role_binding.delete" => "role_binding.deleted",
                "schema.declare" => "schema.declared",
                "schema.remove" => "schema.removed",
                "webhook.create" => "webhook.created",
                "webhook.update" | "webhook.redeliver" => "webhook.updated",
                "webhook.delete" => "webhook.deleted",
                "webhook.disable" => "webhook.disabled",
                // A lock override accompanies the deletion it allowed, which has its event.
                _ => return Vec::new(),
            };
            vec![event(kind, change)]
        }
    }
}

/// An event as the events API and webhooks show it (the admin API's `EventOut` has the same
/// fields; a test compares the two): position as `id`, type, time, actor, resource, member,
/// changed attributes and the state after.
pub fn event_json(e: &EventRecord) -> Value {
    let mut out = serde_json::json!({
        "id": e.seq.to_string(),
        "type": e.kind,
        "occurred_at": e.at,
        "actor": {
            "kind": e.actor_kind.clone().unwrap_or_default(),
            "token_id": e.actor_token_id,
            "idp": e.actor_idp,
            "name": e.actor_name,
        },
        "resource": {"type": e.resource_type, "id": e.resource_id, "external_id": e.external_id},
    });
    if let Some(member) = e.member_id {
        out["member"] = serde_json::json!({"type": "User", "id": member});
    }
    if let Some(changed) = &e.changed {
        out["changed"] = serde_json::json!(changed);
    }
    if let Some(data) = &e.data {
        out["data"] = super::change::canonical(&e.resource_type, data.clone());
    }
    out
}

/// A page of the feed, and where the next one starts.
#[derive(Debug, Clone)]
pub struct EventsPage {
    pub events: Vec<EventRecord>,
    /// The position to pass as `after` next: the last event returned, or, when the page holds
    /// every event there was, the feed's end (past events the `types` filter left out).
    pub next: i64,
    /// More events follow at once.
    pub has_more: bool,
}

/// Parses a cursor (`after`): a feed position as returned in `next_cursor` (decimal digits
/// only); `None` when absent.
pub fn parse_cursor(raw: Option<&str>) -> Result<Option<i64>> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let digits = !raw.is_empty() && raw.len() <= 18 && raw.bytes().all(|b| b.is_ascii_digit());
    match digits.then(|| raw.parse::<i64>().ok()).flatten() {
        Some(n) => Ok(Some(n)),
        None => Err(ScimError::invalid_value(format!(
            "after must be a next_cursor of an earlier page (or absent to start from the oldest event \
             kept), not {raw:?}"
        ))
        .into()),
    }
}

impl Service {
    /// The account's events after `after` (from the oldest kept when `None`), oldest first,
    /// waiting up to `wait` for one when there is none yet. A cursor behind what retention
    /// removed is 410: events may be missing after it, so the application must resynchronise
    /// from full lists.
    pub async fn list_events(
        &self,
        caller: &Caller,
        cursor: Option<i64>,
        types: Option<Vec<String>>,
        limit: Option<i64>,
        wait: Duration,
    ) -> Result<EventsPage> {
        let limit = limit.unwrap_or(100);
        if !(0..=MAX_EVENT_PAGE).contains(&limit) {
            return Err(
                ScimError::invalid_value(format!("limit must be between 0 and {MAX_EVENT_PAGE}")).into(),
            );
        }
        if let Some(types) = &types
            && let Some(unknown) = types.iter().find(|t| !EVENT_TYPES.contains(&t.as_str()))
        {
            return Err(ScimError::invalid_value(format!(
                "unknown event type {unknown:?}; the types are {}",
                EVENT_TYPES.join(", ")
            ))
            .into());
        }
        if wait > MAX_WAIT {
            return Err(ScimError::invalid_value(format!(
                "wait must be at most {} seconds",
                MAX_WAIT.as_secs()
            ))
            .into());
        }
        let after = cursor.unwrap_or(0);
        let query = EventQuery { after, limit, types };
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            self.store.sequence_events().await?;
            let mut page = self
                .store
                .reader()
                .await?
                .list_events(caller.account_id, &query)
                .await?;
            if cursor.is_some() && after < page.pruned_through {
                return Err(ScimError::new(
                    410,
                    None,
                    format!(
                        "events after position {after} are no longer kept (retention removed them through \
                         {}); resynchronise: read the full user and group lists again, then follow the \
                         feed from the next_cursor of a page read before those lists (limit=0 gives the current end)",
                        page.pruned_through
                    ),
                )
                .into());
            }
            let has_more = page.events.len() as i64 > limit;
            page.events.truncate(limit as usize);
            let next = match page.events.last() {
                Some(last) if has_more => last.seq,
                Some(last) => last.seq.max(page.head),
                None => after.max(page.head),
            };
            if !page.events.is_empty() || limit == 0 || tokio::time::Instant::now() >= deadline {
                return Ok(EventsPage {
                    events: page.events,
                    next,
                    has_more,
                });
            }
            tokio::time::sleep(POLL.min(deadline - tokio::time::Instant::now())).await;
        }
    }

    /// Removes events, and webhook delivery-log rows, older than `retention` (by the service's
    /// clock); how many events went.
    pub async fn prune_events(&self, retention: Duration) -> Result<u64> {
        let before = self.settings.clock.now()
            - chrono::TimeDelta::from_std(retention).unwrap_or(chrono::TimeDelta::MAX);
        let mut tx = self.store.begin().await?;
        let removed = tx.prune_events(before).await?;
        tx.prune_webhook_deliveries(before).await?;
        tx.commit().await?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn kinds(change: &Change) -> Vec<&'static str> {
        derive(change).iter().map(|e| e.kind).collect()
    }

    #[test]
    fn user_writes_are_typed_by_what_changed() {
        let before = json!({"userName": "a", "active": true, "title": "x", "externalId": "e1"});
        let off = json!({"userName": "a", "active": false, "title": "y", "externalId": "e1"});
        let change = Change::new("user.patch", "User", "u")
            .before(before.clone())
            .after(off.clone());
        let events = derive(&change);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "user.deactivated");
        assert_eq!(
            events[0].changed,
            Some(vec!["active".to_string(), "title".to_string()])
        );
        assert_eq!(events[0].external_id.as_deref(), Some("e1"));
        let back = Change::new("user.replace", "User", "u")
            .before(off)
            .after(before.clone());
        assert_eq!(kinds(&back), ["user.reactivated"]);
        // `active` absent means active.
        let plain = Change::new("user.patch", "User", "u")
            .before(json!({"userName": "a"}))
            .after(json!({"userName": "b", "meta": {"version": "2"}}));
        assert_eq!(kinds(&plain), ["user.updated"]);
        // A write that changed nothing (an IdP's repeated PATCH) is no event.
        let same = Change::new("user.patch", "User", "u")
            .before(before.clone())
            .after(before);
        assert!(derive(&same).is_empty());
    }

    #[test]
    fn groups_renames_members_and_deletions() {
        let renamed = Change::new("group.patch", "Group", "g")
            .before(json!({"displayName": "A"}))
            .after(json!({"displayName": "B"}));
        assert_eq!(kinds(&renamed), ["group.renamed"]);
        let linked = Change::new("group.link", "Group", "g")
            .before(json!({"displayName": "A", "source": "manual"}))
            .after(json!({"displayName": "A", "source": "okta"}));
        assert_eq!(kinds(&linked), ["group.updated"]);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let members = Change::new("group.members", "Group", "g").members(&[a, b], &[a]);
        let events = derive(&members);
        assert_eq!(
            events.iter().map(|e| (e.kind, e.member_id)).collect::<Vec<_>>(),
            vec![
                ("group.member_added", Some(a.min(b))),
                ("group.member_added", Some(a.max(b))),
                ("group.member_removed", Some(a))
            ]
        );
        let user = Uuid::now_v7();
        let deleted = Change::new("user.delete", "User", user)
            .before(json!({"userName": "a"}))
            .delta(json!({"removed_from_groups": [a]}));
        let events = derive(&deleted);
        assert_eq!(kinds(&deleted), ["user.deleted", "group.member_removed"]);
        assert_eq!(events[1].resource_id, Some(a.to_string()));
        assert_eq!(events[1].member_id, Some(user));
    }

    #[test]
    fn account_and_token_changes_and_cursors() {
        assert_eq!(
            kinds(&Change::new("scim.disable", "Account", "a")),
            ["scim.disabled"]
        );
        assert_eq!(
            kinds(&Change::new("token.revoke", "Token", "t")),
            ["token.revoked"]
        );
        assert!(kinds(&Change::new("lock.override", "User", "u")).is_empty());
        for kind in derive(&Change::new("schema.declare", "Schema", "urn:x")) {
            assert!(EVENT_TYPES.contains(&kind.kind));
        }
        assert_eq!(parse_cursor(None).unwrap(), None);
        assert_eq!(parse_cursor(Some("42")).unwrap(), Some(42));
        for bad in ["", " 42", "+4", "4.0", "1234567890123456789"] {
            assert!(parse_cursor(Some(bad)).is_err(), "{bad:?}");
        }
        assert!(parse_cursor(Some("-1")).is_err());
        assert!(parse_cursor(Some("abc")).is_err());
    }
}
