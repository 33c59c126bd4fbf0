//! A change, as the rule that made it describes it: what the audit log records
//! (`service/audit.rs`) and what the change feed's events are derived from
//! (`service/events.rs`).

use serde_json::{Map, Value, json};
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
