//! Resource → SCIM JSON: `schemas`, `id`, the document, derived attributes, `meta`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::scim::schema::{AttrDef, COMMON_ATTRIBUTES, ResourceType};

/// What `meta` says of a resource.
#[derive(Debug, Clone)]
pub struct Meta {
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub version: i64,
    /// The resource's URL.
    pub location: String,
}

/// The weak ETag of a version: `W/"3"`.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// One entry of a reference list (`groups` of a user, `members` of a group).
pub fn reference(id: &str, location: &str, display: Option<&str>, ty: &str) -> Value {
    let mut entry = Map::with_capacity(4);
    entry.insert("value".into(), json!(id));
    entry.insert("$ref".into(), json!(location));
    if let Some(display) = display {
        entry.insert("display".into(), json!(display));
    }
    entry.insert("type".into(), json!(ty));
    Value::Object(entry)
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Renders a resource from its stored document, which it takes apart: each value moves into
/// the answer instead of being copied, so a page of 100 resources allocates its documents once.
/// `derived` holds read-only attributes computed elsewhere (`groups`, `members`).
pub fn render(
    rt: &ResourceType,
    id: &str,
    mut doc: Map<String, Value>,
    derived: Vec<(&str, Value)>,
    meta: &Meta,
) -> Map<String, Value> {
    let mut schemas = vec![json!(rt.schema.id)];
    // The extensions, taken out of the document, in the order the resource type lists them.
    let mut extensions = Vec::new();
    for (ext, _) in rt.extensions {
        if let Some(value) = doc.shift_remove(ext.id) {
            schemas.push(json!(ext.id));
            extensions.push((ext, value));
        }
    }
    // Extensions kept without a declaration (`resource::undeclared`) are named too: `schemas`
    // lists the schemas of what the representation holds (RFC 7643 §3).
    let kept_keys: Vec<String> = doc
        .keys()
        .filter(|k| crate::scim::resource::undeclared::is_undeclared_urn(rt, k))
        .cloned()
        .collect();
    let mut kept = Vec::with_capacity(kept_keys.len());
    for k in kept_keys {
        schemas.push(json!(k));
        let value = doc.shift_remove(&k).unwrap_or(Value::Null);
        kept.push((k, value));
    }
    // Sized once: `schemas`, `id`, the attributes, the extensions, what is derived, `meta`.
    let mut out = Map::with_capacity(doc.len() + extensions.len() + kept.len() + derived.len() + 3);
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), json!(id));
    out.extend(sorted_entries(&[&COMMON_ATTRIBUTES, rt.schema.attributes], doc));
    // Extensions after the core attributes (a declared extension's value is an object; the
    // schemas name anything else, but it has no attributes to show).
    for (ext, value) in extensions {
        if let Value::Object(inner) = value {
            out.insert(
                ext.id.to_string(),
                Value::Object(in_schema_order(&[ext.attributes], inner)),
            );
        }
    }
    // Kept data has no schema to order it: by name, so both stores answer alike (Postgres's
    // jsonb keeps keys by length, SQLite as written).
    for (k, value) in kept {
        out.insert(k, keys_by_name(&value));
    }
    for (k, v) in derived {
        out.insert(k.to_string(), v);
    }
    let mut m = Map::with_capacity(5);
    m.insert("resourceType".into(), json!(rt.name));
    m.insert("created".into(), json!(timestamp(meta.created)));
    m.insert("lastModified".into(), json!(timestamp(meta.last_modified)));
    m.insert("location".into(), json!(meta.location));
    m.insert("version".into(), json!(etag(meta.version)));
    out.insert("meta".into(), Value::Object(m));
    out
}

/// `obj`'s attributes in the order the schema lists them, sub-attributes and the elements of
/// multi-valued attributes too, then any others as they were. A response reads the same
/// whichever order the client wrote the attributes in and whichever store kept them (Postgres's
/// jsonb orders keys by length, SQLite keeps them as written). The entries are moved, keys
/// included, and sorted by their place in the schema: a page of 100 resources renders without
/// looking up every attribute the schema has in every object it holds.
fn in_schema_order(defs: &[&[AttrDef]], obj: Map<String, Value>) -> Map<String, Value> {
    sorted_entries(defs, obj).into_iter().collect()
}

/// [`in_schema_order`]'s entries, for a caller that puts them into a map of its own.
fn sorted_entries(defs: &[&[AttrDef]], obj: Map<String, Value>) -> Vec<(String, Value)> {
    let mut entries: Vec<(usize, String, Value)> = obj
        .into_iter()
        .map(|(key, value)| {
            let found = defs
                .iter()
                .flat_map(|d| d.iter())
                .enumerate()
                .find(|(_, def)| def.name == key);
            match found {
                Some((place, def)) => (place, key, with_subs_in_order(def, value)),
                None => (usize::MAX, key, value),
            }
        })
        .collect();
    // Stable: the attributes the schema does not list keep their order.
    entries.sort_by_key(|(place, _, _)| *place);
    entries.into_iter().map(|(_, key, value)| (key, value)).collect()
}

/// `value` of the attribute `def` with its sub-attributes in schema order.
fn with_subs_in_order(def: &AttrDef, value: Value) -> Value {
    if def.sub_attributes.is_empty() {
        return value;
    }
    match value {
        Value::Object(inner) => Value::Object(in_schema_order(&[def.sub_attributes], inner)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(inner) => Value::Object(in_schema_order(&[def.sub_attributes], inner)),
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}

/// A stored document of `rt` with what the server keeps beside it (the audit log's
/// snapshots), in an order that depends on neither the client nor the store: the schema's
/// attributes in schema order, then its extensions, then every other key by name.
pub fn in_canonical_order(rt: &ResourceType, doc: &Map<String, Value>) -> Map<String, Value> {
    let core: Vec<&str> = COMMON_ATTRIBUTES
        .iter()
        .chain(rt.schema.attributes)
        .map(|d| d.name)
        .collect();
    let mut out: Map<String, Value> =
        in_schema_order(&[&COMMON_ATTRIBUTES, rt.schema.attributes], doc.clone())
            .into_iter()
            .filter(|(k, _)| core.contains(&k.as_str()))
            .collect();
    for (ext, _) in rt.extensions {
        if let Some(Value::Object(inner)) = doc.get(ext.id) {
            out.insert(
                ext.id.to_string(),
                Value::Object(in_schema_order(&[ext.attributes], inner.clone())),
            );
        }
    }
    let mut rest: Vec<(&String, &Value)> = doc.iter().filter(|(k, _)| !out.contains_key(*k)).collect();
    rest.sort_by_key(|(k, _)| *k);
    for (k, v) in rest {
        out.insert(k.clone(), keys_by_name(v));
    }
    out
}

/// `value` with the keys of every object in it sorted by name (arrays keep their order).
pub fn keys_by_name(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), keys_by_name(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(keys_by_name).collect()),
        other => other.clone(),
    }
}

/// Does an `If-Match` / `If-None-Match` header value name `version`? `*` names any version;
/// tags compare weakly (`W/"3"` and `"3"` are the same), as SCIM's versions are weak ETags.
pub fn etag_matches(header: &str, version: i64) -> bool {
    let current = version.to_string();
    header.split(',').map(str::trim).any(|tag| {
        if tag == "*" {
            return true;
        }
        let opaque = tag.strip_prefix("W/").unwrap_or(tag);
        opaque.strip_prefix('"').and_then(|t| t.strip_suffix('"')) == Some(current.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::USER;

    #[test]
    fn attributes_come_in_schema_order_and_unknown_ones_keep_theirs() {
        let doc: Map<String, Value> = serde_json::from_value(json!({
            "zeta": 1,
            "emails": [{"primary": true, "value": "a@example.com", "type": "work"}, "odd"],
            "name": {"givenName": "A", "familyName": "B", "nickname": "x"},
            "alpha": 2,
            "userName": "a@example.com",
            "externalId": "e",
        }))
        .unwrap();
        let out = in_schema_order(&[&COMMON_ATTRIBUTES, USER.schema.attributes], doc);
        let keys: Vec<&str> = out.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["externalId", "userName", "name", "emails", "zeta", "alpha"]
        );
        let name: Vec<&str> = out["name"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(name, ["familyName", "givenName", "nickname"]);
        let email: Vec<&str> = out["emails"][0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(email, ["value", "type", "primary"]);
        assert_eq!(out["emails"][1], json!("odd"));
    }

    #[test]
    fn etags_compare_weakly_and_star_matches_all() {
        assert_eq!(etag(3), "W/\"3\"");
        assert!(etag_matches("W/\"3\"", 3));
        assert!(etag_matches("\"3\"", 3));
        assert!(etag_matches("W/\"1\", W/\"3\"", 3));
        assert!(etag_matches("*", 9));
        assert!(!etag_matches("W/\"4\"", 3));
        assert!(!etag_matches("3", 3), "an ETag is a quoted string");
        assert!(!etag_matches("", 3));
    }
}
