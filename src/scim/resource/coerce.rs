//! Coercion of one attribute's value to its schema type, with the leniencies IdPs need
//! (string booleans, one object for an array; docs/idp-notes.md §5), and the bounds on values.
//! Shared by normalisation and the PATCH engine, which coerce the same way.

use crate::scim::error::ScimError;
use crate::scim::schema::{AttrDef, AttrType, Mutability};
use serde_json::{Map, Number, Value};

use super::json::{is_group_members, is_unassigned, non_empty_str};

/// Most values one multi-valued attribute of a document may hold (emails, roles, entitlements,
/// …; not a group's `members`, which live in a table of their own). A bound, so that neither a
/// POST nor a PATCH can make the server copy and compare an attribute without limit; far above
/// what any IdP sends for one user.
pub const MAX_VALUES: usize = 1000;

/// Coerce a value for `attr` as a client sent it: for a multi-valued attribute an array, or a
/// single element which becomes a one-element array; string booleans (`"True"`, `"false"`) for
/// booleans; sub-attribute names to canonical spelling; a bare string for a complex attribute
/// that has a `value` sub-attribute (Entra's `manager`) becomes `{"value": s}`. Nulls inside
/// complex values are dropped. `path` is used only in error details.
///
/// Also: `null` stays `null` (the caller decides what unassigning means); a single-valued
/// attribute accepts a one-element array (Entra's `manager` as `[{"value": …}]`) and reads an
/// empty one as `null`; elements of a multi-valued attribute that are null or end up empty
/// are dropped; unknown and readOnly sub-attributes are dropped (RFC 7644 §3.5.1: readOnly
/// values sent by a client are ignored); Group `members` lose `$ref` (scimd derives it) and
/// must each have a string `value`.
pub fn coerce_value(attr: &AttrDef, value: &Value, path: &str) -> Result<Value, ScimError> {
    match value {
        Value::Null => Ok(Value::Null),
        _ if attr.multi_valued => {
            let items: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                single => vec![single],
            };
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                if item.is_null() {
                    continue;
                }
                let coerced = coerce_single(attr, item, &format!("{path}[{i}]"))?;
                if !is_unassigned(&coerced) {
                    out.push(coerced);
                }
            }
            Ok(Value::Array(out))
        }
        Value::Array(items) => match items.as_slice() {
            [] => Ok(Value::Null),
            [only] => coerce_single(attr, only, path),
            _ => Err(ScimError::invalid_value(format!(
                "\"{path}\" is single-valued: send one value, not an array of {}",
                items.len()
            ))),
        },
        single => coerce_single(attr, single, path),
    }
}

/// The longest string value scimd keeps, in bytes of UTF-8. Every value is indexed for
/// filters, and a Postgres index entry cannot exceed about 2.7 kB (with the account id and
/// the attribute's name beside the value); one limit for both stores keeps them alike.
pub const MAX_STRING_BYTES: usize = 2048;

/// Like `coerce_value`, but for one element of a multi-valued attribute (or the value of a
/// single-valued one): never wraps in an array.
pub fn coerce_single(attr: &AttrDef, value: &Value, path: &str) -> Result<Value, ScimError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    match attr.ty {
        AttrType::Complex => coerce_complex(attr, value, path),
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            // Postgres text cannot hold U+0000; refusing it everywhere keeps the stores alike
            // and the answer a 400 rather than a database error.
            Value::String(s) if s.contains('\0') => Err(ScimError::invalid_value(format!(
                "\"{path}\" contains the NUL character (U+0000), which scimd does not store"
            ))),
            Value::String(s) if s.len() > MAX_STRING_BYTES => Err(ScimError::invalid_value(format!(
                "\"{path}\" is {} bytes long; scimd keeps values of at most {MAX_STRING_BYTES} bytes",
                s.len()
            ))),
            Value::String(_) => Ok(value.clone()),
            // Templates render numbers unquoted (`"employeeNumber": 123`); the meaning is clear.
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(wrong_type(path, "a string", value)),
        },
        AttrType::Boolean => match value {
            Value::Bool(_) => Ok(value.clone()),
            // Entra sends "True"/"False" (and sometimes "false") unless its RFC flag is set.
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(wrong_type(path, "a boolean (true or false)", value)),
        },
        AttrType::Integer => coerce_integer(value).ok_or_else(|| wrong_type(path, "an integer", value)),
        AttrType::Decimal => coerce_decimal(value).ok_or_else(|| wrong_type(path, "a decimal number", value)),
        AttrType::DateTime => match value {
            // Server-assigned dates (meta.created) are never parsed from clients: Okta echoes
            // them in a non-ISO form, and they are dropped anyway.
            Value::String(_) if attr.mutability == Mutability::ReadOnly => Ok(value.clone()),
            Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => Ok(value.clone()),
            _ => Err(wrong_type(
                path,
                "an RFC 3339 date-time such as \"2024-01-31T12:00:00Z\"",
                value,
            )),
        },
    }
}

pub(super) fn coerce_complex(attr: &AttrDef, value: &Value, path: &str) -> Result<Value, ScimError> {
    let members = is_group_members(attr);
    let out = match value {
        Value::Object(given) => {
            let mut out = Map::new();
            for (key, v) in given {
                let Some(sub) = attr.sub_attr(key) else {
                    continue;
                };
                if v.is_null() || sub.mutability == Mutability::ReadOnly || (members && sub.name == "$ref") {
                    continue;
                }
                let coerced = coerce_value(sub, v, &format!("{path}.{}", sub.name))?;
                if !is_unassigned(&coerced) {
                    out.insert(sub.name.to_string(), coerced);
                }
            }
            out
        }
        // Entra sends the manager (and some clients a member) as a bare id.
        Value::String(_) | Value::Number(_) | Value::Bool(_) => match attr.sub_attr("value") {
            Some(value_sub) if value_sub.mutability != Mutability::ReadOnly => {
                let coerced = coerce_single(value_sub, value, &format!("{path}.value"))?;
                Map::from_iter([("value".to_string(), coerced)])
            }
            _ => return Err(wrong_type(path, "an object", value)),
        },
        _ => return Err(wrong_type(path, "an object", value)),
    };
    if members && non_empty_str(out.get("value")).is_none() {
        return Err(ScimError::invalid_value(format!(
            "\"{path}\" has no \"value\": each member needs the id of a User or Group as a \
             string \"value\", e.g. {{\"value\": \"2819c223-…\"}}"
        )));
    }
    Ok(Value::Object(out))
}

pub(super) fn coerce_integer(value: &Value) -> Option<Value> {
    match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(value.clone()),
        Value::Number(n) => {
            let f = n.as_f64()?;
            // Only integral floats that an i64 holds exactly (2^53).
            (f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0).then(|| Value::from(f as i64))
        }
        Value::String(s) => s.trim().parse::<i64>().ok().map(Value::from),
        _ => None,
    }
}

pub(super) fn coerce_decimal(value: &Value) -> Option<Value> {
    match value {
        Value::Number(_) => Some(value.clone()),
        Value::String(s) => {
            let f = s.trim().parse::<f64>().ok().filter(|f| f.is_finite())?;
            Number::from_f64(f).map(Value::Number)
        }
        _ => None,
    }
}

/// `MAX_VALUES`, for every multi-valued attribute but a group's `members`.
pub fn check_value_count(attr: &AttrDef, count: usize, shown: &str) -> Result<(), ScimError> {
    if count > MAX_VALUES && !is_group_members(attr) {
        return Err(ScimError::invalid_value(format!(
            "\"{shown}\" has {count} values; at most {MAX_VALUES} are accepted"
        )));
    }
    Ok(())
}

pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(super) fn wrong_type(path: &str, expected: &str, got: &Value) -> ScimError {
    let shown = match got {
        Value::String(s) if s.chars().count() <= 40 => format!("the string \"{s}\""),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        other => kind(other).to_string(),
    };
    ScimError::invalid_value(format!("\"{path}\" must be {expected}, but {shown} was sent"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::resource::test_support::*;

    #[test]
    fn scalar_coercions_and_type_errors() {
        let doc = norm(
            &USER,
            json!({"userName": 42, "title": true, "emails": [{"value": 1.5}]}),
        );
        assert_eq!(
            doc,
            json!({"userName": "42", "title": "true", "emails": [{"value": "1.5"}]})
        );
        let cases = [
            (json!({"displayName": {"a": 1}}), "\"displayName\""),
            (json!({"displayName": ["a", "b"]}), "\"displayName\""),
            (json!({"name": {"givenName": ["x", "y"]}}), "\"name.givenName\""),
            (json!({"name": "just a string"}), "\"name\""),
            (json!({"emails": [{"value": {"x": 1}}]}), "\"emails[0].value\""),
            (json!({"emails": [["a"]]}), "\"emails[0]\""),
            (
                json!({ENTERPRISE_USER_URN: {"department": {"x": 1}}}),
                "enterprise:2.0:User:department\"",
            ),
        ];
        for (body, needle) in cases {
            let e = err(&USER, body.clone());
            assert_eq!(
                (e.status, e.scim_type),
                (400, Some(ScimType::InvalidValue)),
                "{body}"
            );
            assert!(e.detail.contains(needle), "{body}: {}", e.detail);
        }
        // A one-element array for a single-valued attribute reads as that element.
        assert_eq!(
            norm(&USER, json!({"displayName": ["only"]})),
            json!({"displayName": "only"})
        );
        let e = normalize(&USER, &json!(["not", "an", "object"])).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
    }

    #[test]
    fn coerce_building_blocks() {
        let integer = AttrDef {
            ty: AttrType::Integer,
            ..clone_def(USER.schema.attr("title").unwrap())
        };
        assert_eq!(coerce_single(&integer, &json!("12"), "n").unwrap(), json!(12));
        assert_eq!(coerce_single(&integer, &json!(3.0), "n").unwrap(), json!(3));
        assert!(coerce_single(&integer, &json!(3.5), "n").is_err());
        let decimal = AttrDef {
            ty: AttrType::Decimal,
            ..clone_def(USER.schema.attr("title").unwrap())
        };
        assert_eq!(coerce_single(&decimal, &json!("2.5"), "d").unwrap(), json!(2.5));
        assert!(coerce_single(&decimal, &json!("NaN"), "d").is_err());
        let date = AttrDef {
            ty: AttrType::DateTime,
            ..clone_def(USER.schema.attr("title").unwrap())
        };
        assert!(coerce_single(&date, &json!("2024-01-31T12:00:00Z"), "d").is_ok());
        let e = coerce_single(&date, &json!("04-12-2018 00:00:00"), "d").unwrap_err();
        assert!(e.detail.contains("RFC 3339"));
        let emails = USER.schema.attr("emails").unwrap();
        assert_eq!(
            coerce_value(emails, &json!({"value": "a"}), "emails").unwrap(),
            json!([{"value": "a"}])
        );
        assert_eq!(
            coerce_value(emails, &json!([null, {}, {"value": null}]), "emails").unwrap(),
            json!([])
        );
        assert_eq!(
            coerce_single(emails, &json!({"VALUE": "a"}), "emails").unwrap(),
            json!({"value": "a"})
        );
        assert_eq!(coerce_value(emails, &Value::Null, "emails").unwrap(), Value::Null);
        let active = USER.schema.attr("active").unwrap();
        assert_eq!(
            coerce_value(active, &json!(["False"]), "active").unwrap(),
            json!(false)
        );
        assert_eq!(coerce_value(active, &json!([]), "active").unwrap(), Value::Null);
    }
}
