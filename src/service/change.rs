//! A change, as the rule that made it describes it: what the audit log records
//! (`service/audit.rs`) and what the change feed's events are derived from
//! (`service/events.rs`).

use serde_json::{Map, Value, json};

use crate::scim::{render, schema};
use uuid::Uuid;

/// One change, as the rule that made it describes it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Change {
    /// `user.create`, `group.link`, `scim.disable`, …
    pub action: &'static str,
    /// `User`, `Group`, `Account`, `Token`, `RoleBinding`.
    pub resource_type: &'static str,
    pub resource_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub delta: Option<Value>,
}

impl Change {
    pub fn new(action: &'static str, resource_type: &'static str, id: impl ToString) -> Change {
        Change {
            action,
            resource_type,
            resource_id: Some(id.to_string()),
            ..Change::default()
        }
    }

    pub fn before(mut self, v: Value) -> Change {
        self.before = Some(v);
        self
    }

    pub fn after(mut self, v: Value) -> Change {
        self.after = Some(v);
        self
    }

    /// Membership delta: only the ids that changed, and only when something did.
    pub fn members(mut self, added: &[Uuid], removed: &[Uuid]) -> Change {
        if added.is_empty() && removed.is_empty() {
            return self;
        }
        // Sorted: the stores return changed rows in the order they found them.
        let sorted = |ids: &[Uuid]| {
            let mut ids = ids.to_vec();
            ids.sort();
            ids
        };
        let mut d = Map::new();
        if !added.is_empty() {
            d.insert("members_added".into(), json!(sorted(added)));
        }
        if !removed.is_empty() {
            d.insert("members_removed".into(), json!(sorted(removed)));
        }
        self.delta = Some(Value::Object(d));
        self
    }

    pub fn delta(mut self, v: Value) -> Change {
        self.delta = Some(v);
        self
    }
}

/// A document of the log (`snapshot`, or another record) in the one key order both stores
/// read back: a user's or group's in its schema's order, anything else by name.
pub(crate) fn canonical(resource_type: &str, value: Value) -> Value {
    let rt = match resource_type {
        "User" => Some(&schema::USER),
        "Group" => Some(&schema::GROUP),
        _ => None,
    };
    match (rt, value) {
        (Some(rt), Value::Object(map)) => Value::Object(render::in_canonical_order(rt, &map)),
        (_, other) => render::keys_by_name(&other),
    }
}
