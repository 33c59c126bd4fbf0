//! Small helpers over JSON values shared by the writers: element merging and comparison,
//! the single-primary rule, case-insensitive keys and pruning of empty values.

use crate::scim::error::ScimError;
use crate::scim::schema::{AttrDef, Mutability};
use serde_json::{Map, Value};

/// Sub-attributes the client set to null in a complex value: coercion drops nulls, but in a
/// merge they mean "unassign this one".
pub(super) fn null_sub_attributes(attr: &AttrDef, raw: &Value) -> Vec<&'static str> {
    let Value::Object(raw) = raw else {
        return Vec::new();
    };
    raw.iter()
        .filter(|(_, v)| v.is_null())
        .filter_map(|(k, _)| attr.sub_attr(k).map(|d| d.name))
        .collect()
}

/// `add` of an element onto a matched one: the given sub-attributes replace theirs; nulls in
/// the raw value unassign.
pub(super) fn merge_element(attr: &AttrDef, old: &Value, given: &Value, raw: &Value) -> Value {
    match (old, given) {
        (Value::Object(o), Value::Object(g)) => {
            let mut merged = o.clone();
            for name in null_sub_attributes(attr, single_of(raw)) {
                remove_ci(&mut merged, name);
            }
            for (k, v) in g {
                remove_ci(&mut merged, k);
                merged.insert(k.clone(), v.clone());
            }
            Value::Object(merged)
        }
        _ => given.clone(),
    }
}

/// Set (or, with `None`, remove) sub-attribute `sub` of element `e`, honouring `immutable`.
pub(super) fn set_sub(
    e: &mut Value,
    sub: &AttrDef,
    new: Option<Value>,
    label: &str,
) -> Result<(), ScimError> {
    if !e.is_object() {
        *e = Value::Object(Map::new());
    }
    let Value::Object(m) = e else { return Ok(()) };
    let old = get_key(m, sub.name).cloned();
    check_immutable(sub, old.as_ref(), new.as_ref(), label)?;
    remove_ci(m, sub.name);
    if let Some(v) = new {
        m.insert(sub.name.to_string(), v);
    }
    Ok(())
}

pub(super) fn element_with(sub: &AttrDef, v: Value) -> Value {
    let mut m = Map::new();
    m.insert(sub.name.to_string(), v);
    Value::Object(m)
}

pub(super) fn check_immutable(
    def: &AttrDef,
    old: Option<&Value>,
    new: Option<&Value>,
    label: &str,
) -> Result<(), ScimError> {
    if def.mutability == Mutability::Immutable && old.is_some() && old != new {
        return Err(ScimError::mutability(format!(
            "\"{label}\" is immutable: it can be set when it has no value, but not changed or removed"
        )));
    }
    Ok(())
}

pub(super) fn check_element_immutables(
    attr: &AttrDef,
    old: &Value,
    new: &Value,
    label: &str,
) -> Result<(), ScimError> {
    let (Value::Object(o), Value::Object(n)) = (old, new) else {
        return Ok(());
    };
    for sub in attr
        .sub_attributes
        .iter()
        .filter(|s| s.mutability == Mutability::Immutable)
    {
        check_immutable(
            sub,
            get_key(o, sub.name),
            get_key(n, sub.name),
            &format!("{label}.{}", sub.name),
        )?;
    }
    Ok(())
}

pub(super) fn is_primary(e: &Value) -> bool {
    e.get("primary") == Some(&Value::Bool(true))
}

/// RFC 7643 §2.4: at most one `primary: true`. When exactly one element was just made primary,
/// the others give way; several at once is the client's contradiction, left for `validate`.
pub(super) fn enforce_single_primary(attr: &AttrDef, elems: &mut [Value], winners: &[usize]) {
    let ([winner], Some(primary)) = (winners, attr.sub_attr("primary")) else {
        return;
    };
    for (i, e) in elems.iter_mut().enumerate() {
        if i != *winner
            && is_primary(e)
            && let Value::Object(m) = e
        {
            m.insert(primary.name.to_string(), Value::Bool(false));
        }
    }
}

/// The `value` of an element (the element itself for a simple multi-valued attribute) as a
/// lookup key: equal keys whenever `scalar_eq` would call the values equal. `None` for an
/// element without a string or boolean `value`.
pub(super) fn value_key(attr: &AttrDef, e: &Value) -> Option<String> {
    let (v, case_exact) = match e {
        Value::Object(m) => {
            let def = attr.sub_attr("value")?;
            (get_key(m, def.name)?, def.case_exact)
        }
        scalar => (scalar, attr.case_exact),
    };
    match v {
        Value::String(s) if case_exact => Some(format!("s{s}")),
        Value::String(s) => Some(format!("s{}", crate::scim::compare::key(s))),
        Value::Bool(b) => Some(b.to_string()),
        // Numbers compare as serde_json does (0.0 equals -0.0), so they are not keyed.
        _ => None,
    }
}

/// Does stored element `have` already hold everything `added` says? Then adding it is no
/// change (RFC 7644 §3.5.2.1), even if the stored one says more (`primary`, `display`).
/// Strings compare per their `caseExact`.
pub(super) fn contains_element(attr: &AttrDef, have: &Value, added: &Value) -> bool {
    match (have, added) {
        (Value::Object(h), Value::Object(a)) => {
            !a.is_empty()
                && a.iter()
                    .all(|(k, va)| get_key(h, k).is_some_and(|vh| scalar_eq(sub_case_exact(attr, k), vh, va)))
        }
        _ => scalar_eq(attr.case_exact, have, added),
    }
}

pub(super) fn sub_case_exact(attr: &AttrDef, name: &str) -> bool {
    attr.sub_attr(name).is_some_and(|d| d.case_exact)
}

pub(super) fn scalar_eq(case_exact: bool, a: &Value, b: &Value) -> bool {
    match (a, b) {
        // ASCII first: the same answer as the comparison key, without allocating.
        (Value::String(x), Value::String(y)) if !case_exact && x.is_ascii() && y.is_ascii() => {
            x.eq_ignore_ascii_case(y)
        }
        (Value::String(x), Value::String(y)) if !case_exact => crate::scim::compare::eq(x, y),
        _ => a == b,
    }
}

pub(super) fn into_elements(v: Option<Value>) -> Vec<Value> {
    match v {
        Some(Value::Array(a)) => a,
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

pub(super) fn as_array(v: Value) -> Value {
    match v {
        Value::Array(_) => v,
        other => Value::Array(vec![other]),
    }
}

/// A one-element array where one element is expected (`"value": [{"value": "id"}]`).
pub(super) fn single_of(v: &Value) -> &Value {
    match v {
        Value::Array(a) if a.len() == 1 => &a[0],
        _ => v,
    }
}

/// The spelling of `key` in `map`: the exact one if present, else any case variant (as
/// `get_key` looks it up).
pub(super) fn key_ci(map: &Map<String, Value>, key: &str) -> Option<String> {
    if map.contains_key(key) {
        return Some(key.to_string());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}

pub(super) fn get_key<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Remove `key` in every spelling, so the canonical one can be written alone.
pub(super) fn remove_ci(map: &mut Map<String, Value>, key: &str) {
    map.retain(|k, _| !k.eq_ignore_ascii_case(key));
}

/// Rename a case variant of `key` to `key`, keeping its value.
pub(super) fn remove_variants(map: &mut Map<String, Value>, key: &str) {
    if map.contains_key(key) {
        return;
    }
    let variant = map.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned();
    if let Some(v) = variant.and_then(|k| map.remove(&k)) {
        map.insert(key.to_string(), v);
    }
}

/// Drop nulls, empty arrays and empty objects, recursively: all mean unassigned
/// (RFC 7643 §2.5), and the canonical document holds none of them.
pub(super) fn prune_map(map: &mut Map<String, Value>) {
    map.retain(|_, v| {
        prune(v);
        !is_unassigned(v)
    });
}

pub(super) fn prune(v: &mut Value) {
    match v {
        Value::Object(m) => prune_map(m),
        Value::Array(a) => a.retain_mut(|e| {
            prune(e);
            !is_unassigned(e)
        }),
        _ => {}
    }
}

pub(super) fn is_unassigned(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}
