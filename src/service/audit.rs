//! The audit log (docs/rules.md, "Audit log"): every change by every surface — SCIM, admin API,
//! CLI — recorded in the transaction of the change, so a change and its record commit or roll
//! back together; so are its events for the change feed (`service/events.rs`). Writing it stays cheap: a membership change records the ids that changed,
//! never the member list.

use serde_json::{Value, json};
use uuid::Uuid;

use super::{Caller, Result, Service, TokenKind};
use crate::scim::{ScimError, render};
use crate::store::{AuditQuery, AuditRecord, ResourceRow, Tx};

pub(crate) use super::change::{Change, canonical};

/// What the log keeps of a user or group: its document and the ownership fields beside it.
pub(crate) fn snapshot(row: &ResourceRow) -> Value {
    let mut out = row.doc.clone();
    out.insert("source".into(), json!(row.source));
    out.insert("idp_managed".into(), json!(row.idp_managed));
    if let Some(identifier) = &row.identifier {
        out.insert("identifier".into(), json!(identifier));
    }
    Value::Object(out)
}

/// Puts the keys of an event's documents in an order of their own: Postgres's jsonb keeps
/// keys ordered by length and SQLite as written, and the log must read the same on both.
fn in_canonical_order(event: &mut AuditRecord) {
    for doc in [&mut event.before, &mut event.after] {
        *doc = doc.take().map(|value| canonical(&event.resource_type, value));
    }
    event.delta = event.delta.take().map(|d| render::keys_by_name(&d));
}

/// Writes `change` as done by `caller`, inside `tx`.
pub(crate) async fn record(tx: &mut dyn Tx, caller: &Caller, change: Change) -> Result<()> {
    let (kind, token, idp, name) = match (&caller.operator, caller.kind) {
        (Some(name), _) => ("operator", None, None, Some(name.clone())),
        (None, TokenKind::Scim) => (
            "scim",
            Some(caller.token_id),
            caller.idp.map(|i| i.as_str().to_string()),
            None,
        ),
        (None, TokenKind::Admin) => ("admin", Some(caller.token_id), None, None),
    };
    // The change feed's events of this change, written beside it (service/events.rs).
    let typed = super::events::derive(&change);
    let event = AuditRecord {
        id: Uuid::now_v7(),
        at: None,
        actor_kind: kind.to_string(),
        actor_token_id: token,
        actor_idp: idp,
        actor_name: name,
        action: change.action.to_string(),
        resource_type: change.resource_type.to_string(),
        resource_id: change.resource_id,
        before: change.before,
        after: change.after,
        delta: change.delta,
    };
    tx.insert_audit(caller.account_id, &event, &typed).await?;
    Ok(())
}

/// A page of the log, newest first, and the cursor of the next (older) page.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub events: Vec<AuditRecord>,
    pub next: Option<Uuid>,
}

/// Most events one page returns.
pub const MAX_AUDIT_PAGE: i64 = 500;

/// Which events of the log to list (all when empty).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// `scim`, `admin` or `operator`.
    pub actor_kind: Option<String>,
    /// Events at or after this time…
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// …and before this one.
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

/// The smallest UUIDv7 of the millisecond `t`: event ids are UUIDv7, so `id >= floor(t)` is
/// "at or after t", a range of the primary key rather than a scan of the `at` column.
pub(crate) fn v7_floor(t: chrono::DateTime<chrono::Utc>) -> Uuid {
    let ms = t.timestamp_millis().max(0) as u128 & ((1 << 48) - 1);
    Uuid::from_u128((ms << 80) | (0x7 << 76) | (0b10 << 62))
}

impl Service {
    /// The account's audit log, newest first. `before` is the `next` of the previous page.
    pub async fn list_audit(
        &self,
        caller: &Caller,
        filter: AuditFilter,
        before: Option<&str>,
        limit: Option<i64>,
    ) -> Result<AuditPage> {
        let before = match before.map(str::trim).filter(|b| !b.is_empty()) {
            Some(raw) => Some(Uuid::parse_str(raw).map_err(|_| {
                ScimError::invalid_value(format!(
                    "before must be the `next` value of a previous page, not {raw:?}"
                ))
            })?),
            None => None,
        };
        let limit = limit.unwrap_or(100);
        if !(1..=MAX_AUDIT_PAGE).contains(&limit) {
            return Err(
                ScimError::invalid_value(format!("limit must be between 1 and {MAX_AUDIT_PAGE}")).into(),
            );
        }
        if let Some(kind) = &filter.actor_kind
            && !["scim", "admin", "operator"].contains(&kind.as_str())
        {
            return Err(ScimError::invalid_value(format!(
                "the actor kind is scim, admin or operator, not {kind:?}"
            ))
            .into());
        }
        let until = filter.until.map(v7_floor);
        let query = AuditQuery {
            resource_type: filter.resource_type,
            resource_id: filter.resource_id,
            actor_kind: filter.actor_kind,
            before: match (before, until) {
                (Some(b), Some(u)) => Some(b.min(u)),
                (b, u) => b.or(u),
            },
            from: filter.from.map(v7_floor),
            // One more than asked, to know whether an older page exists.
            limit: limit + 1,
        };
        let mut events = self
            .store
            .reader()
            .await?
            .list_audit(caller.account_id, &query)
            .await?;
        let next = if events.len() as i64 > limit {
            events.truncate(limit as usize);
            events.last().map(|e| e.id)
        } else {
            None
        };
        for event in &mut events {
            in_canonical_order(event);
        }
        Ok(AuditPage { events, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event made at `t` sorts at or after `v7_floor(t)` and before `v7_floor(t + 1 ms)`:
    /// a time range is a range of ids.
    #[test]
    fn a_time_bound_is_an_id_bound() {
        let t = chrono::Utc::now();
        let ms = t.timestamp_millis() as u64;
        let made = Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            ms / 1000,
            ((ms % 1000) * 1_000_000) as u32,
        ));
        assert!(v7_floor(t) <= made, "{} > {made}", v7_floor(t));
        assert!(made < v7_floor(t + chrono::TimeDelta::milliseconds(1)));
        assert_eq!(v7_floor(t).get_version_num(), 7);
        assert!(v7_floor(t - chrono::TimeDelta::days(1)) < v7_floor(t));
    }
}
