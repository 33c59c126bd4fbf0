//! Writing one operation's value on a target without a value filter: single-valued and
//! multi-valued `add` / `replace` / `remove`, merges of complex values, and removal of listed
//! elements (Entra's `remove` with a `value` list, docs/idp-notes.md).

use crate::scim::error::ScimError;
use crate::scim::filter::Filter;
use crate::scim::resource;
use crate::scim::schema::{AttrDef, Mutability};
use serde_json::{Map, Value};
use std::collections::HashMap;

use super::filtered::write_filtered;
use super::op::OpKind;
use super::target::{Target, missing_value};
use super::values::{
    as_array, check_immutable, contains_element, element_with, enforce_single_primary, get_key,
    into_elements, is_primary, null_sub_attributes, remove_ci, scalar_eq, set_sub, single_of, sub_case_exact,
    value_key,
};

/// Dispatch one operation on one resolved target.
pub(super) fn write(
    doc: &mut Map<String, Value>,
    kind: OpKind,
    t: &Target,
    filter: Option<&Filter>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    // RFC 7643 §2.5: null means unassigned, so setting null is removing.
    let (kind, value) = match value {
        Some(Value::Null) => (OpKind::Remove, None),
        _ if kind == OpKind::Remove && filter.is_some() => (kind, None),
        _ => (kind, value),
    };
    if kind != OpKind::Remove && value.is_none() {
        return Err(missing_value(kind));
    }
    match (filter, t.sub) {
        (Some(f), _) => write_filtered(doc, kind, t, f, value),
        (None, Some(sub)) => write_sub(doc, kind, t, sub, value),
        (None, None) => write_attr(doc, kind, t, value),
    }
}

/// A whole attribute, no filter.
pub(super) fn write_attr(
    doc: &mut Map<String, Value>,
    kind: OpKind,
    t: &Target,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let attr = t.attr;
    let label = t.label();
    let old = t.take(doc);
    // Kept only where it is compared afterwards, so a large attribute is copied once, not twice.
    let immutable_old = (attr.mutability == Mutability::Immutable)
        .then(|| old.clone())
        .flatten();
    let new = match (kind, value) {
        (OpKind::Remove, None) => None,
        (OpKind::Remove, Some(listed)) => remove_listed(attr, old, listed, &label)?,
        (_, None) => return Err(missing_value(kind)),
        (OpKind::Add, Some(v)) if attr.multi_valued => Some(append_elements(attr, old, v, &label)?),
        (_, Some(v)) => match resource::coerce_value(attr, v, &label)? {
            // `[]` or `[null]` for a single-valued attribute: unassigned.
            Value::Null => None,
            Value::Object(given) if attr.is_complex() && !attr.multi_valued => {
                Some(merge_complex(attr, old.as_ref(), given, single_of(v)))
            }
            coerced => Some(coerced),
        },
    };
    check_immutable(attr, immutable_old.as_ref(), new.as_ref(), &label)?;
    t.store_checked(doc, new)
}

/// `add` to a multi-valued attribute: append what is not already there.
pub(super) fn append_elements(
    attr: &AttrDef,
    old: Option<Value>,
    value: &Value,
    label: &str,
) -> Result<Value, ScimError> {
    let added = as_array(resource::coerce_value(attr, value, label)?);
    let Value::Array(added) = added else {
        unreachable!("as_array returns an array")
    };
    let mut elems = into_elements(old);
    // Elements by their `value`, so that appending n values to m is O(n + m), not O(n·m).
    // For one added value a scan is cheaper than building the map.
    let mut by_value: HashMap<String, Vec<usize>> = HashMap::new();
    let indexed = added.len() > 1;
    if indexed {
        for (i, e) in elems.iter().enumerate() {
            if let Some(key) = value_key(attr, e) {
                by_value.entry(key).or_default().push(i);
            }
        }
    }
    let mut winners = Vec::new();
    for e in added {
        let found = match value_key(attr, &e).filter(|_| indexed) {
            Some(key) => by_value.get(&key).and_then(|candidates| {
                candidates
                    .iter()
                    .copied()
                    .find(|&i| contains_element(attr, &elems[i], &e))
            }),
            // No `value` to look up by (rare): compare with every element.
            None => elems.iter().position(|x| contains_element(attr, x, &e)),
        };
        let idx = match found {
            Some(i) => i,
            None => {
                if let Some(key) = value_key(attr, &e).filter(|_| indexed) {
                    by_value.entry(key).or_default().push(elems.len());
                }
                elems.push(e);
                elems.len() - 1
            }
        };
        if is_primary(&elems[idx]) {
            winners.push(idx);
        }
    }
    enforce_single_primary(attr, &mut elems, &winners);
    Ok(Value::Array(elems))
}

/// `add`/`replace` on a complex single-valued attribute: the given sub-attributes replace
/// theirs, the others stay (RFC 7644 §3.5.2.1, §3.5.2.3). `raw` is the value as sent.
pub(super) fn merge_complex(
    attr: &AttrDef,
    old: Option<&Value>,
    given: Map<String, Value>,
    raw: &Value,
) -> Value {
    let mut merged = match old {
        Some(Value::Object(m)) if !changes_referent(attr, m, &given) => m.clone(),
        _ => Map::new(),
    };
    for name in null_sub_attributes(attr, raw) {
        remove_ci(&mut merged, name);
    }
    for (k, v) in given {
        remove_ci(&mut merged, &k);
        merged.insert(k, v);
    }
    Value::Object(merged)
}

/// A complex value whose `value` is an id (Entra's `manager`) describes whatever that id names;
/// when the id changes, the old `displayName` and `$ref` describe someone else.
pub(super) fn changes_referent(attr: &AttrDef, old: &Map<String, Value>, given: &Map<String, Value>) -> bool {
    let Some(value_def) = attr.sub_attr("value") else {
        return false;
    };
    match (get_key(old, value_def.name), get_key(given, value_def.name)) {
        (Some(a), Some(b)) => !scalar_eq(value_def.case_exact, a, b),
        _ => false,
    }
}

/// `remove` with a value: for a multi-valued attribute, remove the listed elements only
/// (Entra's `{"op":"Remove","path":"emails","value":[{"value":"a@x"}]}`); for a complex
/// single-valued one, remove it only if it is the listed one. A simple single-valued attribute
/// is removed whatever the value says (RFC 7644 §3.5.2.2 gives `value` no meaning there).
pub(super) fn remove_listed(
    attr: &AttrDef,
    old: Option<Value>,
    listed: &Value,
    label: &str,
) -> Result<Option<Value>, ScimError> {
    if attr.multi_valued {
        let listed = as_array(resource::coerce_value(attr, listed, label)?);
        let Value::Array(listed) = listed else {
            unreachable!("as_array returns an array")
        };
        let Some(old) = old else { return Ok(None) };
        let kept: Vec<Value> = into_elements(Some(old))
            .into_iter()
            .filter(|e| !listed.iter().any(|l| listed_matches(attr, e, l)))
            .collect();
        return Ok(Some(Value::Array(kept)));
    }
    if attr.is_complex() {
        let listed = resource::coerce_value(attr, listed, label)?;
        return Ok(old.filter(|o| listed.is_null() || !listed_matches(attr, o, &listed)));
    }
    Ok(None)
}

/// Does element `e` match `listed`, an element named in a `remove` value? By `value` when the
/// listed element has one; otherwise every listed sub-attribute must match. An empty listed
/// element (`{"$ref": null}` after dropping nulls) matches nothing rather than everything.
pub(super) fn listed_matches(attr: &AttrDef, e: &Value, listed: &Value) -> bool {
    match (e, listed) {
        (Value::Object(em), Value::Object(lm)) => {
            let value_def = attr.sub_attr("value");
            if let Some((vd, lv)) = value_def.and_then(|d| get_key(lm, d.name).map(|v| (d, v))) {
                return get_key(em, vd.name).is_some_and(|ev| scalar_eq(vd.case_exact, ev, lv));
            }
            !lm.is_empty()
                && lm.iter().all(|(k, lv)| {
                    get_key(em, k).is_some_and(|ev| scalar_eq(sub_case_exact(attr, k), ev, lv))
                })
        }
        _ => scalar_eq(attr.case_exact, e, listed),
    }
}

/// A sub-attribute without filter: `name.givenName`, or `emails.type` (every element).
pub(super) fn write_sub(
    doc: &mut Map<String, Value>,
    kind: OpKind,
    t: &Target,
    sub: &'static AttrDef,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let attr = t.attr;
    let label = t.label();
    let old = t.take(doc);
    let immutable_old = (attr.mutability == Mutability::Immutable)
        .then(|| old.clone())
        .flatten();
    // `None` removes: a remove, or a value that coerces to nothing (`[]`).
    let coerced = match value {
        Some(v) if kind != OpKind::Remove => {
            Some(resource::coerce_value(sub, v, &label)?).filter(|c| !c.is_null())
        }
        _ => None,
    };
    let new = if attr.multi_valued {
        let mut elems = into_elements(old);
        match &coerced {
            None => {
                for e in &mut elems {
                    set_sub(e, sub, None, &label)?;
                }
            }
            // Every element, as an absent filter selects all; with none, the value makes one.
            Some(v) if elems.is_empty() => elems.push(element_with(sub, v.clone())),
            Some(v) => {
                for e in &mut elems {
                    set_sub(e, sub, Some(v.clone()), &label)?;
                }
            }
        }
        let winners: Vec<usize> = (0..elems.len()).filter(|&i| is_primary(&elems[i])).collect();
        if sub.name == "primary" {
            enforce_single_primary(attr, &mut elems, &winners);
        }
        Some(Value::Array(elems))
    } else {
        let mut obj = match old {
            Some(Value::Object(m)) => Value::Object(m),
            _ => Value::Object(Map::new()),
        };
        set_sub(&mut obj, sub, coerced, &label)?;
        Some(obj)
    };
    check_immutable(attr, immutable_old.as_ref(), new.as_ref(), &t.attr_label())?;
    t.store_checked(doc, new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::patch::test_support::*;

    // ---- Single- and multi-valued semantics ----------------------------------------------------

    #[test]
    fn complex_single_valued_add_and_replace_merge() {
        for op in ["add", "replace"] {
            let d = patch_user(
                json!([{"op": op, "path": "name", "value": {"givenName": "Babs", "middleName": "J"}}]),
            );
            assert_eq!(
                d["name"],
                json!({"givenName": "Babs", "familyName": "Jensen", "middleName": "J"}),
                "{op}"
            );
            let d = patch_user(json!([{"op": op, "value": {"name": {"GIVENNAME": "Babs"}}}]));
            assert_eq!(
                d["name"],
                json!({"givenName": "Babs", "familyName": "Jensen"}),
                "{op}"
            );
        }
        let d = patch_user(
            json!([{"op": "replace", "path": "name", "value": {"givenName": null, "formatted": "Ms. Jensen"}}]),
        );
        assert_eq!(
            d["name"],
            json!({"familyName": "Jensen", "formatted": "Ms. Jensen"})
        );
    }

    #[test]
    fn multi_valued_add_appends_once_and_keeps_one_primary() {
        let d = patch_user(
            json!([{"op": "add", "path": "emails", "value": {"value": "BJENSEN@example.com", "type": "work", "primary": true}}]),
        );
        assert_eq!(
            d["emails"],
            user()["emails"],
            "case-insensitive duplicate is not added"
        );
        let d = patch_user(
            json!([{"op": "add", "path": "emails", "value": [{"value": "new@x.org", "type": "other", "primary": true}]}]),
        );
        assert_eq!(
            d["emails"],
            json!([
            {"value": "bjensen@example.com", "type": "work", "primary": false},
            {"value": "babs@jensen.org", "type": "home"},
            {"value": "new@x.org", "type": "other", "primary": true}])
        );
        let d = patch_user(
            json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": "True"}]),
        );
        assert_eq!(d["emails"][0]["primary"], json!(false));
        assert_eq!(d["emails"][1]["primary"], json!(true));
    }

    #[test]
    fn adding_an_element_already_contained_changes_nothing() {
        let (d, changed) = patch(
            &USER,
            &user(),
            json!([{"op": "Add", "path": "emails", "value": [{"value": "BJensen@example.com", "type": "work"}]},
                {"op": "add", "value": {"urn:ietf:params:scim:schemas:core:2.0:User": null}}]),
        )
        .unwrap();
        assert_eq!(d, user());
        assert!(!changed);
        // Same address, another type: a different element.
        let d = patch_user(
            json!([{"op": "add", "path": "emails", "value": {"value": "babs@jensen.org", "type": "other"}}]),
        );
        assert_eq!(d["emails"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn adding_many_values_finds_the_contained_ones_by_value() {
        // Several values at once go through the lookup by `value`: case-insensitive for
        // emails, and a repeat inside the added list is added once.
        let (d, changed) = patch(
            &USER,
            &user(),
            json!([{"op": "add", "path": "emails", "value": [
                {"value": "BJENSEN@example.com", "type": "work"},
                {"value": "bjensen@EXAMPLE.com"},
                {"value": "new@example.com", "type": "home"},
                {"value": "NEW@example.com", "type": "home"}]}]),
        )
        .unwrap();
        assert!(changed);
        let emails = d["emails"].as_array().unwrap();
        assert_eq!(emails.len(), user()["emails"].as_array().unwrap().len() + 1);
        assert_eq!(
            emails.last().unwrap(),
            &json!({"value": "new@example.com", "type": "home"})
        );
        // A value of another type is another element, even with the lookup.
        let d = patch_user(json!([{"op": "add", "path": "emails", "value": [
            {"value": "bjensen@example.com", "type": "other"}, {"value": "x@example.com"}]}]));
        assert_eq!(d["emails"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn operations_and_values_are_bounded() {
        let op = json!({"op": "replace", "path": "title", "value": "t"});
        assert!(parse_patch(&body(Value::Array(vec![op.clone(); MAX_PATCH_OPERATIONS]))).is_ok());
        let e = parse_err(body(Value::Array(vec![op; MAX_PATCH_OPERATIONS + 1])));
        assert_err(&e, 400, Some(ScimType::InvalidValue), "at most 1000 are accepted");

        let emails = |from: usize, n: usize| -> Value {
            (from..from + n)
                .map(|i| json!({"value": format!("u{i}@example.com")}))
                .collect()
        };
        let e = user_err(json!([{"op": "add", "path": "emails", "value": emails(0, resource::MAX_VALUES)}]));
        assert_err(
            &e,
            400,
            Some(ScimType::InvalidValue),
            "\"emails\" has 1002 values; at most 1000",
        );
        // Checked after every operation, so no operation works on an attribute past the bound.
        let e = user_err(json!([
            {"op": "add", "path": "emails", "value": emails(0, 600)},
            {"op": "add", "path": "emails", "value": emails(600, 600)},
            {"op": "remove", "path": "emails"}
        ]));
        assert_err(
            &e,
            400,
            Some(ScimType::InvalidValue),
            "operation 2: \"emails\" has",
        );
        let d = patch_user(
            json!([{"op": "replace", "path": "emails", "value": emails(0, resource::MAX_VALUES)}]),
        );
        assert_eq!(d["emails"].as_array().unwrap().len(), resource::MAX_VALUES);
    }

    #[test]
    fn two_primaries_in_one_replace_are_refused_by_validation() {
        let e = user_err(json!([{"op": "replace", "path": "emails", "value": [
            {"value": "a@x", "primary": true}, {"value": "b@x", "primary": true}]}]));
        assert_err(&e, 400, Some(ScimType::InvalidValue), "");
    }

    #[test]
    fn multi_valued_replace_without_filter_replaces_all() {
        let d = patch_user(json!([{"op": "replace", "path": "emails", "value": {"value": "only@x.org"}}]));
        assert_eq!(d["emails"], json!([{"value": "only@x.org"}]));
    }

    #[test]
    fn null_values_remove() {
        let d = patch_user(json!([{"op": "replace", "path": "displayName", "value": null},
            {"op": "add", "value": {"name.givenName": null}},
            {"op": "Replace", "path": "emails[type eq \"home\"]", "value": null}]));
        assert!(!d.contains_key("displayName"));
        assert_eq!(d["name"], json!({"familyName": "Jensen"}));
        assert_eq!(d["emails"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn removals() {
        let d = patch_user(
            json!([{"op": "remove", "path": "name.givenName"}, {"op": "remove", "path": "displayName"}]),
        );
        assert_eq!(d["name"], json!({"familyName": "Jensen"}));
        assert!(!d.contains_key("displayName"));
        // Removing the last sub-attribute leaves no empty object.
        let d = patch_user_from(&d, json!([{"op": "remove", "path": "name.familyName"}]));
        assert!(!d.contains_key("name"));
        let d = patch_user(json!([{"op": "remove", "path": "emails"}]));
        assert!(!d.contains_key("emails"));
        let d = patch_user(json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]));
        assert_eq!(
            d["emails"][0],
            json!({"value": "bjensen@example.com", "type": "work"})
        );
        let d = patch_user(json!([{"op": "remove", "path": "emails.type"}]));
        assert_eq!(
            d["emails"],
            json!([{"value": "bjensen@example.com", "primary": true}, {"value": "babs@jensen.org"}])
        );
    }

    #[test]
    fn removal_matching_nothing_succeeds_unchanged() {
        for path in [
            "emails[type eq \"fax\"]",
            "phoneNumbers[type eq \"work\"]",
            "nickName",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ] {
            let (d, changed) = patch(&USER, &user(), json!([{"op": "remove", "path": path}])).unwrap();
            assert_eq!(d, user(), "{path}");
            assert!(!changed, "{path}");
        }
    }

    #[test]
    fn unchanged_values_report_no_change() {
        let (_, changed) = patch(&USER, &user(), json!([{"op": "replace", "path": "displayName", "value": "Babs Jensen"},
            {"op": "Replace", "path": "active", "value": "True"}, {"op": "add", "path": "name.givenName", "value": "Barbara"}]))
        .unwrap();
        assert!(!changed);
    }

    #[test]
    fn sub_attribute_without_filter_on_multi_valued_sets_every_element() {
        let d = patch_user(json!([{"op": "replace", "path": "emails.display", "value": "E"}]));
        assert!(
            d["emails"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["display"] == json!("E"))
        );
        let mut doc = user();
        doc.remove("emails");
        let d = patch_user_from(
            &doc,
            json!([{"op": "add", "path": "emails.value", "value": "only@x.org"}]),
        );
        assert_eq!(d["emails"], json!([{"value": "only@x.org"}]));
    }
}
