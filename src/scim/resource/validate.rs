//! Whole-document checks run after every edit (required attributes, one primary, clean
//! identifiers) and the primary email that adoption matches on (rule R4, docs/rules.md).

use crate::scim::error::ScimError;
use crate::scim::schema::{AttrDef, AttrType, ResourceType};
use serde_json::{Map, Value};

use super::coerce::check_value_count;
use super::json::{is_group_members, is_unassigned, non_empty_str, shown_path};

/// Check a whole canonical document after all edits: required attributes present and
/// non-empty, at most one `primary: true` per multi-valued attribute, identifiers without
/// invisible or control characters. 400 `invalidValue`.
pub fn validate(rt: &ResourceType, doc: &Map<String, Value>) -> Result<(), ScimError> {
    check_identifiers(doc)?;
    let schemas = std::iter::once((rt.schema, true)).chain(rt.extensions.iter().copied());
    for (schema, schema_required) in schemas {
        let is_core = std::ptr::eq(schema, rt.schema);
        let container = if is_core {
            Some(doc)
        } else {
            doc.get(schema.id).and_then(Value::as_object)
        };
        let Some(container) = container else {
            if schema_required {
                return Err(ScimError::invalid_value(format!(
                    "the extension \"{}\" is required on a {}: send its attributes under that key",
                    schema.id, rt.name
                )));
            }
            continue;
        };
        for attr in schema.attributes {
            let shown = shown_path(rt, schema, attr);
            let value = container.get(attr.name);
            if attr.required {
                check_required(rt, attr, &shown, value)?;
            }
            if !is_core && let Some(value) = value {
                check_canonical(attr, value, &shown)?;
            }
            if let Some(Value::Array(items)) = value {
                check_value_count(attr, items.len(), &shown)?;
                if attr.sub_attr("primary").is_some() {
                    let primaries = items
                        .iter()
                        .filter(|i| i.get("primary") == Some(&Value::Bool(true)))
                        .count();
                    if primaries > 1 {
                        return Err(ScimError::invalid_value(format!(
                            "\"{shown}\" has {primaries} values with \"primary\": true; \
                             at most one may be primary"
                        )));
                    }
                }
                if is_group_members(attr) {
                    check_members(items)?;
                }
            }
        }
    }
    Ok(())
}

/// An extension attribute that declares `canonicalValues` takes only those (compared ignoring
/// case unless `caseExact`). The core schemas' canonical values (`emails.type` "work", …) stay
/// suggestions, as RFC 7643 §2.3.1 allows, because IdPs send others; an account that declares
/// them for its own attributes means them as a closed list.
fn check_canonical(attr: &AttrDef, value: &Value, shown: &str) -> Result<(), ScimError> {
    let check = |def: &AttrDef, v: &Value, shown: &str| -> Result<(), ScimError> {
        if def.canonical_values.is_empty() {
            return Ok(());
        }
        let Value::String(s) = v else { return Ok(()) };
        let known = def.canonical_values.iter().any(|c| {
            if def.case_exact {
                c == s
            } else {
                c.eq_ignore_ascii_case(s) || crate::scim::compare::eq(c, s)
            }
        });
        if known {
            return Ok(());
        }
        Err(ScimError::invalid_value(format!(
            "\"{shown}\" is {s:?}, which is not one of its canonical values: {}",
            def.canonical_values.join(", ")
        )))
    };
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    for item in items {
        match item {
            Value::Object(obj) => {
                for sub in attr.sub_attributes {
                    if let Some(v) = obj.get(sub.name) {
                        check(sub, v, &format!("{shown}.{}", sub.name))?;
                    }
                }
            }
            other => check(attr, other, shown)?,
        }
    }
    Ok(())
}

/// userName, a group's displayName and every email address: no control character and no
/// invisible one (zero-width, soft hyphen, bidirectional control), which would let two
/// identifiers that look the same differ (`scim::lookalike`).
pub(super) fn check_identifiers(doc: &Map<String, Value>) -> Result<(), ScimError> {
    let mut identifiers: Vec<(&str, &str)> = Vec::new();
    for key in ["userName", "displayName"] {
        if let Some(Value::String(s)) = doc.get(key) {
            identifiers.push((key, s));
        }
    }
    // displayName is an identifier of groups only; a user's may be any text.
    if doc.contains_key("userName") {
        identifiers.retain(|(k, _)| *k == "userName");
    }
    if let Some(Value::Array(emails)) = doc.get("emails") {
        for e in emails {
            if let Some(Value::String(v)) = e.get("value") {
                identifiers.push(("emails.value", v));
            }
        }
    }
    for (path, value) in identifiers {
        if let Some(c) = crate::scim::lookalike::forbidden_char(value) {
            return Err(ScimError::invalid_value(format!(
                "\"{path}\" contains the invisible or control character U+{:04X}, which identifiers may not \
                 contain (it would make names that look the same differ): remove it",
                c as u32
            )));
        }
    }
    Ok(())
}

/// A user's primary email: the element of `emails` marked `primary`, else the first one
/// (an IdP that sends a single address rarely marks it). What adoption matches on (rule R4, docs/rules.md)
/// and what R2 protects.
pub fn primary_email(doc: &Map<String, Value>) -> Option<&str> {
    fn value(e: &Value) -> Option<&str> {
        e.get("value")
            .and_then(Value::as_str)
            .filter(|v| !v.trim().is_empty())
    }
    let emails = doc.get("emails")?.as_array()?;
    emails
        .iter()
        .find(|e| e.get("primary") == Some(&Value::Bool(true)))
        .and_then(value)
        .or_else(|| emails.iter().find_map(value))
}

pub(super) fn check_required(
    rt: &ResourceType,
    attr: &AttrDef,
    shown: &str,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let ok = match value {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(other) => attr.ty != AttrType::String && !is_unassigned(other),
    };
    if ok {
        return Ok(());
    }
    let expected = match attr.ty {
        AttrType::String => "a non-empty string",
        AttrType::Boolean => "a boolean",
        AttrType::Complex => "an object",
        _ => "a value",
    };
    Err(ScimError::invalid_value(format!(
        "\"{shown}\" is required on a {}: send {expected}",
        rt.name
    )))
}

pub(super) fn check_members(items: &[Value]) -> Result<(), ScimError> {
    for (i, member) in items.iter().enumerate() {
        if non_empty_str(member.get("value")).is_none() {
            return Err(ScimError::invalid_value(format!(
                "\"members[{i}]\" has no \"value\": each member needs the id of a User or Group \
                 as a string \"value\""
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::resource::test_support::*;

    #[test]
    fn validate_required_primary_and_members() {
        let e = validate(&USER, &obj(json!({"displayName": "x"}))).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(e.detail.contains("\"userName\" is required"), "{}", e.detail);
        assert!(validate(&USER, &obj(json!({"userName": "  "}))).is_err());
        assert!(validate(&USER, &obj(json!({"userName": 5}))).is_err());
        let e = validate(&GROUP, &obj(json!({"members": []}))).unwrap_err();
        assert!(
            e.detail.contains("\"displayName\" is required on a Group"),
            "{}",
            e.detail
        );
        let two = obj(
            json!({"userName": "a", "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}),
        );
        let e = validate(&USER, &two).unwrap_err();
        assert!(
            e.detail
                .contains("\"emails\" has 2 values with \"primary\": true"),
            "{}",
            e.detail
        );
        let one = obj(
            json!({"userName": "a", "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": false}]}),
        );
        validate(&USER, &one).unwrap();
        let e = validate(
            &GROUP,
            &obj(json!({"displayName": "g", "members": [{"value": "a"}, {"display": "b"}]})),
        )
        .unwrap_err();
        assert!(e.detail.contains("members[1]"), "{}", e.detail);
    }

    #[test]
    fn primary_email_is_the_marked_one_else_the_first() {
        let doc = |v: Value| v.as_object().unwrap().clone();
        let marked = doc(serde_json::json!({"emails": [
            {"value": "home@x.org", "type": "home"},
            {"value": "work@x.org", "type": "work", "primary": true}
        ]}));
        assert_eq!(primary_email(&marked), Some("work@x.org"));
        let unmarked = doc(serde_json::json!({"emails": [{"value": "a@x.org"}, {"value": "b@x.org"}]}));
        assert_eq!(primary_email(&unmarked), Some("a@x.org"));
        assert_eq!(primary_email(&doc(serde_json::json!({"userName": "u"}))), None);
    }
}
