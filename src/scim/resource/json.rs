//! Small helpers over JSON maps and values shared by the other parts: unassigned values,
//! pruning, case-insensitive and order-keeping key handling, attribute labels for messages.

use crate::scim::schema::{AttrDef, GROUP_SCHEMA, ResourceType, Schema};
use serde_json::{Map, Value};

pub(super) fn is_unassigned(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// RFC 7643 §2.5: null, `[]` and (for us) `{}` all mean "unassigned", stored as absent.
pub(super) fn prune(map: &mut Map<String, Value>) {
    map.retain(|_, v| !is_unassigned(v));
}

pub(super) fn non_empty_str(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str).filter(|s| !s.is_empty())
}

pub(super) fn is_group_members(attr: &AttrDef) -> bool {
    GROUP_SCHEMA
        .attr("members")
        .is_some_and(|m| std::ptr::eq(m, attr))
}

pub(super) fn shown_path(rt: &ResourceType, schema: &Schema, attr: &AttrDef) -> String {
    if std::ptr::eq(schema, rt.schema) {
        attr.name.to_string()
    } else {
        format!("{}:{}", schema.id, attr.name)
    }
}

/// Removes `key` keeping the order of the rest (`Map::remove` swaps entries when serde_json
/// preserves order, which would shuffle a response's attributes).
pub(super) fn remove_key(map: &mut Map<String, Value>, key: &str) {
    map.retain(|k, _| k != key);
}

/// The actual key in `map` that equals `name` case-insensitively (exact match first).
pub(super) fn key_ci(map: &Map<String, Value>, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_string());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}
