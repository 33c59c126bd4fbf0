//! Writing through a value filter (`emails[type eq "work"].value`): the filter is checked
//! against the schema and typed, matched elements are changed, and an `eq` filter that matches
//! nothing creates the element (the upsert Entra expects, docs/idp-notes.md §2).

use crate::scim::error::ScimError;
use crate::scim::filter::{self, CompValue, CompareOp, Filter};
use crate::scim::path::AttrPath;
use crate::scim::resource;
use crate::scim::schema::{AttrDef, AttrType, Mutability};
use serde_json::{Map, Value};

use super::op::OpKind;
use super::target::{Target, missing_value};
use super::values::{
    check_element_immutables, check_immutable, enforce_single_primary, into_elements, is_primary,
    merge_element, set_sub, single_of,
};

/// `attr[filter]` or `attr[filter].sub`.
pub(super) fn write_filtered(
    doc: &mut Map<String, Value>,
    kind: OpKind,
    t: &Target,
    filter: &Filter,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let attr = t.attr;
    let label = t.label();
    if !attr.is_complex() && !attr.multi_valued {
        return Err(ScimError::invalid_path(format!(
            "\"{}\" is single-valued and not complex: a [filter] cannot select from it",
            t.attr_label()
        )));
    }
    let filter = prepare_filter(attr, filter, &t.attr_label())?;
    // What to write: a sub-attribute value, or one element. Coercing to nothing (`[]`) removes.
    let given = match (kind, value) {
        (OpKind::Remove, _) => None,
        (_, None) => return Err(missing_value(kind)),
        (_, Some(v)) => {
            let coerced = match t.sub {
                Some(sub) => resource::coerce_value(sub, v, &label)?,
                None => resource::coerce_single(attr, single_of(v), &label)?,
            };
            Some(coerced).filter(|c| !c.is_null())
        }
    };
    let old = t.take(doc);
    let immutable_old = (attr.mutability == Mutability::Immutable)
        .then(|| old.clone())
        .flatten();
    let mut elems = into_elements(old);
    let case_exact = |p: &AttrPath| filter_case_exact(attr, p);
    let matched: Vec<usize> = (0..elems.len())
        .filter(|&i| {
            // A complex element is matched as it is; only a simple one needs wrapping.
            if attr.is_complex() {
                filter::matches(&filter, &elems[i], &case_exact)
            } else {
                filter::matches(&filter, &filterable(attr, &elems[i]), &case_exact)
            }
        })
        .collect();
    let mut winners = Vec::new();
    match (given, t.sub) {
        (None, None) => {
            let mut i = 0;
            elems.retain(|_| {
                i += 1;
                !matched.contains(&(i - 1))
            });
        }
        (None, Some(sub)) => {
            for &i in &matched {
                set_sub(&mut elems[i], sub, None, &label)?;
            }
        }
        (Some(nv), Some(sub)) if !matched.is_empty() => {
            for &i in &matched {
                set_sub(&mut elems[i], sub, Some(nv.clone()), &label)?;
                if is_primary(&elems[i]) {
                    winners.push(i);
                }
            }
        }
        (Some(nv), None) if !matched.is_empty() => {
            let raw = value.map(single_of).unwrap_or(&Value::Null);
            for &i in &matched {
                let new_elem = if kind == OpKind::Add {
                    merge_element(attr, &elems[i], &nv, raw)
                } else {
                    nv.clone()
                };
                check_element_immutables(attr, &elems[i], &new_elem, &label)?;
                elems[i] = new_elem;
                if is_primary(&elems[i]) {
                    winners.push(i);
                }
            }
        }
        (Some(nv), sub) => {
            let created = match (element_from_filter(attr, &filter, &label)?, sub) {
                (Some(mut elem), Some(sub)) => {
                    set_sub(&mut elem, sub, Some(nv), &label)?;
                    elem
                }
                (Some(elem), None) => {
                    merge_element(attr, &elem, &nv, value.map(single_of).unwrap_or(&Value::Null))
                }
                // RFC 7644 §3.5.2.1: `add` of a value to a multi-valued attribute appends it.
                (None, None) if kind == OpKind::Add => nv,
                (None, _) => {
                    return Err(ScimError::no_target(format!(
                        "no value of \"{}\" matches the filter, and a new one can only be made \
                         from a filter of `eq` terms joined by `and` (e.g. type eq \"work\")",
                        t.attr_label()
                    )));
                }
            };
            if !attr.multi_valued {
                elems.clear();
            }
            elems.push(created);
            if is_primary(&elems[elems.len() - 1]) {
                winners.push(elems.len() - 1);
            }
        }
    }
    enforce_single_primary(attr, &mut elems, &winners);
    let new = if attr.multi_valued {
        Some(Value::Array(elems))
    } else {
        elems.into_iter().next()
    };
    check_immutable(attr, immutable_old.as_ref(), new.as_ref(), &t.attr_label())?;
    t.store_checked(doc, new)
}

/// Check and normalise a value filter against the attribute's sub-attributes: unknown names are
/// `invalidFilter` (silently matching nothing would hide a typo), paths become relative
/// canonical names, and literals take the sub-attribute's type, since Entra writes booleans as
/// `primary eq "True"`.
pub(super) fn prepare_filter(attr: &'static AttrDef, f: &Filter, label: &str) -> Result<Filter, ScimError> {
    Ok(match f {
        Filter::And(a, b) => Filter::And(
            Box::new(prepare_filter(attr, a, label)?),
            Box::new(prepare_filter(attr, b, label)?),
        ),
        Filter::Or(a, b) => Filter::Or(
            Box::new(prepare_filter(attr, a, label)?),
            Box::new(prepare_filter(attr, b, label)?),
        ),
        Filter::Not(a) => Filter::Not(Box::new(prepare_filter(attr, a, label)?)),
        Filter::Compare { path, op, value } => {
            let def = filter_sub_def(attr, path, label)?;
            Filter::Compare {
                path: relative(def),
                op: *op,
                value: coerce_literal(def, value),
            }
        }
        Filter::Present(path) => Filter::Present(relative(filter_sub_def(attr, path, label)?)),
        Filter::ValuePath { .. } => {
            return Err(ScimError::invalid_filter(format!(
                "the filter on \"{label}\" cannot contain another [filter]"
            )));
        }
    })
}

/// What a name inside `attr[…]` refers to. For a simple multi-valued attribute, `value` is the
/// element itself (RFC 7644 §3.4.2.2).
pub(super) fn filter_sub_def(
    attr: &'static AttrDef,
    p: &AttrPath,
    label: &str,
) -> Result<&'static AttrDef, ScimError> {
    let name = match &p.sub {
        Some(sub) if p.name.eq_ignore_ascii_case(attr.name) => sub.as_str(),
        Some(_) => "",
        None => p.name.as_str(),
    };
    let found = if attr.is_complex() {
        attr.sub_attr(name)
    } else {
        name.eq_ignore_ascii_case("value").then_some(attr)
    };
    found.ok_or_else(|| {
        let known: Vec<&str> = if attr.is_complex() {
            attr.sub_attributes.iter().map(|s| s.name).collect()
        } else {
            vec!["value"]
        };
        ScimError::invalid_filter(format!(
            "\"{label}\" has no sub-attribute \"{}\" to filter on; it has: {}",
            p,
            known.join(", ")
        ))
    })
}

/// The filter path that `matches` should look up in an element: the sub-attribute's own name,
/// or `value` for the elements of a simple multi-valued attribute (see `filterable`).
pub(super) fn relative(def: &AttrDef) -> AttrPath {
    let name = if def.sub_attributes.is_empty() && !def.multi_valued {
        def.name
    } else {
        "value"
    };
    AttrPath {
        urn: None,
        name: name.to_string(),
        sub: None,
    }
}

pub(super) fn coerce_literal(def: &AttrDef, value: &CompValue) -> CompValue {
    match (def.ty, value) {
        (AttrType::Boolean, CompValue::Str(s)) if s.eq_ignore_ascii_case("true") => CompValue::Bool(true),
        (AttrType::Boolean, CompValue::Str(s)) if s.eq_ignore_ascii_case("false") => CompValue::Bool(false),
        (AttrType::Integer | AttrType::Decimal, CompValue::Str(s)) => {
            match s.trim().parse::<serde_json::Number>() {
                Ok(n) => CompValue::Num(n),
                Err(_) => value.clone(),
            }
        }
        _ => value.clone(),
    }
}

pub(super) fn filter_case_exact(attr: &AttrDef, p: &AttrPath) -> bool {
    if attr.is_complex() {
        attr.sub_attr(&p.name).is_some_and(|d| d.case_exact)
    } else {
        attr.case_exact
    }
}

/// The element as the filter sees it: simple values answer to `value`.
pub(super) fn filterable(attr: &AttrDef, e: &Value) -> Value {
    if attr.is_complex() {
        e.clone()
    } else {
        let mut m = Map::new();
        m.insert("value".into(), e.clone());
        Value::Object(m)
    }
}

/// The element an upsert creates from a filter of `eq` terms joined by `and`
/// (`type eq "work"` → `{"type": "work"}`), or `None` when the filter says no such thing.
pub(super) fn element_from_filter(
    attr: &AttrDef,
    f: &Filter,
    label: &str,
) -> Result<Option<Value>, ScimError> {
    let mut terms = Vec::new();
    if !collect_eq_terms(f, &mut terms) {
        return Ok(None);
    }
    let mut elem = Map::new();
    for (name, lit) in terms {
        let v = match lit {
            CompValue::Str(s) => Value::String(s.clone()),
            CompValue::Bool(b) => Value::Bool(*b),
            CompValue::Num(n) => Value::Number(n.clone()),
            CompValue::Null => return Ok(None),
        };
        match elem.get(name) {
            Some(existing) if *existing != v => return Ok(None),
            _ => {
                elem.insert(name.to_string(), v);
            }
        }
    }
    if !attr.is_complex() {
        return match elem.remove("value") {
            Some(v) if elem.is_empty() => Ok(Some(resource::coerce_single(attr, &v, label)?)),
            _ => Ok(None),
        };
    }
    Ok(Some(resource::coerce_single(attr, &Value::Object(elem), label)?))
}

pub(super) fn collect_eq_terms<'f>(f: &'f Filter, out: &mut Vec<(&'f str, &'f CompValue)>) -> bool {
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } => {
            out.push((path.name.as_str(), value));
            true
        }
        Filter::And(a, b) => collect_eq_terms(a, out) && collect_eq_terms(b, out),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::patch::test_support::*;

    // ---- Entra §2.5 -------------------------------------------------------------------------

    #[test]
    fn entra_default_dialect_update() {
        let mut doc = user();
        doc.insert(
            "addresses".into(),
            json!([{"type": "home", "formatted": "1 Home St"}]),
        );
        let d = patch_user_from(
            &doc,
            json!([
                {"op": "Replace", "path": "displayName", "value": "Pvlo"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
                {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
                {"op": "Replace", "path": "externalId", "value": "Eqpj"},
                {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Eqpj"},
                {"op": "Replace", "path": "addresses[type eq \"work\"].formatted", "value": "18/2111"},
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Retail"},
                {"op": "Add", "path": "nickName", "value": "Babs"}
            ]),
        );
        assert_eq!(
            Value::Object(d),
            json!({
                "userName": "bjensen@example.com",
                "externalId": "Eqpj",
                "name": {"givenName": "Gtfd", "familyName": "Jensen"},
                "displayName": "Pvlo",
                "nickName": "Babs",
                "active": true,
                "emails": [
                    {"value": "TestBcwqnm@test.microsoft.com", "type": "work", "primary": true},
                    {"value": "babs@jensen.org", "type": "home"}
                ],
                "addresses": [{"type": "home", "formatted": "1 Home St"}, {"type": "work", "formatted": "18/2111"}],
                ENT: {"employeeNumber": "Eqpj", "department": "Retail"}
            })
        );
    }

    #[test]
    fn entra_flag_merged_no_path_op_with_dotted_and_urn_keys() {
        let d = patch_user(json!([
            {"op": "replace", "value": {"displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"}},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "w@x.org"}
        ]));
        assert_eq!(d["displayName"], json!("Bjfe"));
        assert_eq!(d["name"], json!({"givenName": "Kkom", "familyName": "Unua"}));
        assert_eq!(d[ENT], json!({"employeeNumber": "Aklq"}));
        assert_eq!(d["emails"][0]["value"], json!("w@x.org"));
    }

    #[test]
    fn entra_work_email_is_created_when_missing() {
        let mut doc = user();
        doc.remove("emails");
        for op in ["Add", "Replace", "add", "replace"] {
            let d = patch_user_from(
                &doc,
                json!([{"op": op, "path": "emails[type eq \"work\"].value", "value": "new@x.org"}]),
            );
            assert_eq!(
                d["emails"],
                json!([{"type": "work", "value": "new@x.org"}]),
                "{op}"
            );
        }
        // Beside an existing home email, too.
        doc.insert("emails".into(), json!([{"value": "h@x.org", "type": "home"}]));
        let d = patch_user_from(
            &doc,
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "w@x.org"}]),
        );
        assert_eq!(
            d["emails"],
            json!([{"value": "h@x.org", "type": "home"}, {"type": "work", "value": "w@x.org"}])
        );
    }

    #[test]
    fn entra_sub_attribute_names_are_case_insensitive() {
        let d =
            patch_user(json!([{"op": "Add", "path": "emails[type eq \"other\"].Value", "value": "o@x.org"}]));
        assert_eq!(d["emails"][2], json!({"type": "other", "value": "o@x.org"}));
        let d = patch_user(
            json!([{"op": "Replace", "path": "EMAILS[TYPE eq \"work\"].VALUE", "value": "w@x.org"}]),
        );
        assert_eq!(d["emails"][0]["value"], json!("w@x.org"));
        assert_eq!(d["emails"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn entra_phone_numbers_by_type() {
        let d = patch_user(json!([
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
            {"op": "Add", "path": "phoneNumbers[type eq \"fax\"].value", "value": "+1 555 0101"},
            {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0199"},
            {"op": "Add", "path": "addresses[type eq \"work\"].postalCode", "value": "91608"}
        ]));
        assert_eq!(
            d["phoneNumbers"],
            json!([{"type": "mobile", "value": "+1 555 0199"}, {"type": "fax", "value": "+1 555 0101"}])
        );
        assert_eq!(d["addresses"], json!([{"type": "work", "postalCode": "91608"}]));
    }

    #[test]
    fn entra_roles_primary_true_as_a_quoted_string() {
        let mut doc = user();
        doc.insert(
            "roles".into(),
            json!([{"value": "Admin", "primary": true}, {"value": "User"}]),
        );
        let d = patch_user_from(
            &doc,
            json!([{"op": "Replace", "path": "roles[primary eq \"True\"].display", "value": "Administrator"}]),
        );
        assert_eq!(
            d["roles"],
            json!([{"value": "Admin", "primary": true, "display": "Administrator"}, {"value": "User"}])
        );
        // No primary role yet: the filter's terms make one.
        let d = patch_user(
            json!([{"op": "Add", "path": "roles[primary eq \"True\"].display", "value": "Reader"}]),
        );
        assert_eq!(d["roles"], json!([{"primary": true, "display": "Reader"}]));
    }

    #[test]
    fn entra_app_role_assignments_complex_value_is_kept_verbatim() {
        let v = "{\"id\":\"1\",\"value\":\"Admin\",\"displayName\":\"Admin\"}";
        let d = patch_user(json!([{"op": "Add", "path": "roles", "value": [{"value": v}]}]));
        assert_eq!(d["roles"], json!([{"value": v}]));
    }

    #[test]
    fn entra_manager_bare_string_and_filtered_removal() {
        let d = patch_user(
            json!([{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "m-1"}]),
        );
        assert_eq!(d[ENT], json!({"manager": {"value": "m-1"}}));
        // The doc's array form.
        let d2 = patch_user(
            json!([{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "value": [{"$ref": "../Users/m-1", "value": "m-1"}]}]),
        );
        assert_eq!(d2[ENT]["manager"]["value"], json!("m-1"));

        // Removal of another manager changes nothing; of this one removes it (and the emptied extension).
        let (same, changed) = patch(
            &USER,
            &d,
            json!([{"op": "remove", "path": "manager[value eq \"m-2\"]"}]),
        )
        .unwrap();
        assert_eq!(same, d);
        assert!(!changed);
        let gone = patch_user_from(&d, json!([{"op": "remove", "path": "manager[value eq \"m-1\"]"}]));
        assert_eq!(gone, user());
        let gone = patch_user_from(
            &d,
            json!([{"op": "remove",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq \"m-1\"]"}]),
        );
        assert_eq!(gone, user());
        // Entra's value-list removal of a single-valued complex attribute.
        let gone = patch_user_from(
            &d,
            json!([{"op": "Remove", "path": "manager", "value": [{"value": "m-1"}]}]),
        );
        assert_eq!(gone, user());
        let kept = patch_user_from(
            &d,
            json!([{"op": "Remove", "path": "manager", "value": [{"value": "m-9"}]}]),
        );
        assert_eq!(kept, d);
    }

    #[test]
    fn a_new_manager_drops_the_old_managers_display_name() {
        let mut doc = user();
        doc.insert(
            ENT.into(),
            json!({"manager": {"value": "m-1", "displayName": "Old Boss"}}),
        );
        let d = patch_user_from(&doc, json!([{"op": "Add", "path": "manager", "value": "m-2"}]));
        assert_eq!(d[ENT], json!({"manager": {"value": "m-2"}}));
        // Same referent: a merge.
        let d = patch_user_from(
            &doc,
            json!([{"op": "replace", "path": "manager", "value": {"value": "m-1", "$ref": "../Users/m-1"}}]),
        );
        assert_eq!(
            d[ENT]["manager"],
            json!({"value": "m-1", "displayName": "Old Boss", "$ref": "../Users/m-1"})
        );
    }

    #[test]
    fn entra_remove_with_a_value_list_removes_only_those() {
        let d = patch_user(
            json!([{"op": "Remove", "path": "emails", "value": [{"value": "BABS@jensen.org", "$ref": null}]}]),
        );
        assert_eq!(
            d["emails"],
            json!([{"value": "bjensen@example.com", "type": "work", "primary": true}])
        );
        // An element naming nothing removes nothing.
        let (d, changed) = patch(
            &USER,
            &user(),
            json!([{"op": "Remove", "path": "emails", "value": [{"$ref": null}]}]),
        )
        .unwrap();
        assert_eq!(d, user());
        assert!(!changed);
    }

    // ---- RFC 7644 §3.5.2 examples ---------------------------------------------------------

    #[test]
    fn rfc_group_examples() {
        let gp = split(
            json!([{"op": "add", "path": "members", "value": [{"display": "Babs Jensen",
            "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
            "value": "2819c223-7f76-453a-919d-413861904646"}]}]),
        )
        .unwrap();
        assert_eq!(
            gp.member_ops,
            vec![MemberOp::Add(ids(&["2819c223-7f76-453a-919d-413861904646"]))]
        );
        let gp = split(json!([
            {"op": "remove", "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"},
            {"op": "remove", "path": "members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"]"},
            {"op": "add", "path": "members", "value": [{"display": "James Smith", "value": "08e1d05d-121c-4561-8b96-473d93df9210"}]}
        ]))
        .unwrap();
        assert_eq!(gp.member_ops.len(), 3);
        let gp = split(json!([{"op": "remove", "path": "members"}, {"op": "add", "path": "members", "value": [{"value": "a"}]}])).unwrap();
        assert_eq!(
            gp.member_ops,
            vec![MemberOp::RemoveAll, MemberOp::Add(ids(&["a"]))]
        );
    }

    #[test]
    fn rfc_add_without_path() {
        let d = patch_user(
            json!([{"op": "add", "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}, {"value": "b2@x.org", "type": "other"}],
            "nickname": "Babs"}}]),
        );
        assert_eq!(d["nickName"], json!("Babs"));
        // The home email was already there: not added twice.
        assert_eq!(d["emails"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn rfc_replace_without_path_replaces_arrays() {
        let d = patch_user(json!([{"op": "replace", "value": {"emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}], "nickname": "Babs"}}]));
        assert_eq!(d["emails"], user()["emails"]);
        assert_eq!(d["nickName"], json!("Babs"));
    }

    #[test]
    fn rfc_remove_with_a_compound_filter() {
        let mut doc = user();
        doc.insert(
            "emails".into(),
            json!([
            {"value": "a@example.com", "type": "work"},
            {"value": "b@other.org", "type": "work"},
            {"value": "c@example.com", "type": "home"}]),
        );
        let d = patch_user_from(
            &doc,
            json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]),
        );
        assert_eq!(
            d["emails"],
            json!([{"value": "b@other.org", "type": "work"}, {"value": "c@example.com", "type": "home"}])
        );
    }

    #[test]
    fn rfc_replace_a_filtered_element_and_its_sub_attribute() {
        let mut doc = user();
        doc.insert(
            "addresses".into(),
            json!([{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood"},
            {"type": "home", "streetAddress": "456 Hollywood Blvd", "primary": true}]),
        );
        let d = patch_user_from(
            &doc,
            json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": {
            "type": "work", "streetAddress": "911 Universal City Plaza", "postalCode": "91608", "primary": true}}]),
        );
        // Replaced whole (locality gone), and the home address is no longer primary.
        assert_eq!(
            d["addresses"],
            json!([
            {"type": "work", "streetAddress": "911 Universal City Plaza", "postalCode": "91608", "primary": true},
            {"type": "home", "streetAddress": "456 Hollywood Blvd", "primary": false}])
        );
        let d = patch_user_from(
            &d,
            json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}]),
        );
        assert_eq!(d["addresses"][0]["streetAddress"], json!("1010 Broadway Ave"));
        assert_eq!(d["addresses"][0]["postalCode"], json!("91608"));
    }

    #[test]
    fn add_to_a_filtered_element_merges() {
        let d = patch_user(
            json!([{"op": "add", "path": "emails[type eq \"home\"]", "value": {"display": "Home"}}]),
        );
        assert_eq!(
            d["emails"][1],
            json!({"value": "babs@jensen.org", "type": "home", "display": "Home"})
        );
    }
}
