//! Data under an extension URN the resource type does not declare (docs/decisions.md): kept
//! verbatim under its URN, or refused, as the account chose ([`Undeclared`]). Never dropped:
//! an Okta or Entra custom attribute mapped before the application declared its schema must
//! not vanish between the IdP and the application.
//!
//! Without a schema, only the data says where a key's value belongs. A key that is a URN listed
//! beside it (the body's `schemas`, an extension already kept) or whose value is an object names
//! a whole extension (`"urn:…:2.0:User": {"costCenter": "A"}`); any other key names one
//! attribute after the URN's last colon (`"urn:…:2.0:User:costCenter": "A"`, Entra's form), or
//! a sub-attribute after a dot.

use serde_json::{Map, Value};

use crate::scim::error::ScimError;
use crate::scim::schema::{ENTERPRISE_USER_URN, ResourceType, Undeclared};

/// Where undeclared data goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place<'a> {
    /// The whole extension object under this URN.
    Whole(&'a str),
    /// One attribute (`name`, or `name.sub`) of the extension under `urn`.
    Attr { urn: &'a str, name: &'a str },
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
}

/// Whether `key` is a URN that no schema of `rt` accounts for and that can hold extension data.
/// URNs of SCIM itself (the core schemas, the API messages, and the enterprise extension on a
/// resource type without it) are protocol, not data, and stay ignored as before.
pub fn is_undeclared_urn(rt: &ResourceType, key: &str) -> bool {
    if !starts_with_ci(key, "urn:") {
        return false;
    }
    let known = rt.schema_urns().into_iter().any(|urn| {
        starts_with_ci(key, urn) && (key.len() == urn.len() || key.as_bytes().get(urn.len()) == Some(&b':'))
    });
    let reserved = ["urn:ietf:params:scim:api:", "urn:ietf:params:scim:schemas:core:"]
        .iter()
        .any(|p| starts_with_ci(key, p))
        || starts_with_ci(key, ENTERPRISE_USER_URN);
    !known && !reserved
}

/// Whether `key` is an attribute of one of the extensions `urns` (`urn:…:User:costCenter`).
pub fn is_under(key: &str, urns: &[&str]) -> bool {
    urns.iter()
        .any(|u| key.len() > u.len() + 1 && starts_with_ci(key, u) && key.as_bytes()[u.len()] == b':')
}

/// Where `key`'s `value` goes (see the module doc). `beside`: URNs that name whole extensions
/// here (the body's `schemas`, extensions the document already keeps).
pub fn locate<'a>(key: &'a str, value: &Value, beside: &[&str]) -> Place<'a> {
    if beside.iter().any(|u| u.eq_ignore_ascii_case(key)) {
        return Place::Whole(key);
    }
    if let Some(u) = beside
        .iter()
        .filter(|u| key.len() > u.len() + 1 && starts_with_ci(key, u) && key.as_bytes()[u.len()] == b':')
        .max_by_key(|u| u.len())
    {
        return Place::Attr {
            urn: &key[..u.len()],
            name: &key[u.len() + 1..],
        };
    }
    if value.is_object() {
        return Place::Whole(key);
    }
    match key.rfind(':') {
        Some(colon) if colon > 4 && colon + 1 < key.len() => Place::Attr {
            urn: &key[..colon],
            name: &key[colon + 1..],
        },
        _ => Place::Whole(key),
    }
}

/// The kept extensions of a document: its top-level keys that are URNs.
pub fn kept_urns(doc: &Map<String, Value>) -> Vec<&str> {
    doc.keys()
        .filter(|k| starts_with_ci(k, "urn:"))
        .map(String::as_str)
        .collect()
}

/// The key under which `doc` keeps `urn` (URNs compare ignoring case), or `urn` itself.
fn doc_key(doc: &Map<String, Value>, urn: &str) -> String {
    doc.keys()
        .find(|k| k.eq_ignore_ascii_case(urn))
        .cloned()
        .unwrap_or_else(|| urn.to_string())
}

fn refused(rt: &ResourceType, urn: &str, attr: Option<&str>) -> ScimError {
    let what = match attr {
        Some(attr) => format!("its attribute \"{attr}\""),
        None => "its data".to_string(),
    };
    ScimError::invalid_value(format!(
        "\"{urn}\" is not an extension schema of this account's {}s, and the account refuses \
         undeclared extension data, so {what} cannot be stored: an account admin can declare the \
         schema (POST /api/accounts/{{accountId}}/schemas) or set undeclared_extensions to \"keep\"",
        rt.name
    ))
}

/// Store `value` at `place` (add/replace semantics of a whole value; `null` removes), or refuse
/// it when the resource type says so.
pub fn put(
    rt: &ResourceType,
    doc: &mut Map<String, Value>,
    place: &Place,
    value: &Value,
) -> Result<(), ScimError> {
    let Some(value) = assigned(value) else {
        remove(doc, place);
        return Ok(());
    };
    let value = &value;
    if let Place::Attr { urn, name } = place
        && !rfc_shape(value, u8::from(name.contains('.')))
    {
        return Err(ScimError::invalid_value(format!(
            "\"{urn}:{name}\" nests deeper than SCIM attributes do (RFC 7643 §2.3.8: a complex \
             attribute's sub-attributes are simple): send a value, an object of values, or an array \
             of values or of such objects"
        )));
    }
    match place {
        Place::Whole(urn) => {
            let Value::Object(attrs) = value else {
                return Err(ScimError::invalid_value(format!(
                    "\"{urn}\" names an extension schema, so its value must be an object of its attributes"
                )));
            };
            if rt.undeclared == Undeclared::Refuse {
                return Err(refused(rt, urn, attrs.keys().next().map(String::as_str)));
            }
            for (name, v) in attrs {
                put(rt, doc, &Place::Attr { urn, name }, v)?;
            }
            Ok(())
        }
        Place::Attr { urn, name } => {
            if rt.undeclared == Undeclared::Refuse {
                return Err(refused(rt, urn, Some(name)));
            }
            let key = doc_key(doc, urn);
            let ext = doc.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if !ext.is_object() {
                *ext = Value::Object(Map::new());
            }
            let Value::Object(ext) = ext else {
                unreachable!("made an object above")
            };
            let (name, sub) = match name.split_once('.') {
                Some((n, s)) => (n, Some(s)),
                None => (*name, None),
            };
            let name = doc_key(ext, name);
            match sub {
                None => {
                    ext.insert(name, value.clone());
                }
                Some(sub) => {
                    let inner = ext.entry(name).or_insert_with(|| Value::Object(Map::new()));
                    if !inner.is_object() {
                        *inner = Value::Object(Map::new());
                    }
                    if let Value::Object(inner) = inner {
                        let sub = doc_key(inner, sub);
                        inner.insert(sub, value.clone());
                    }
                }
            }
            Ok(())
        }
    }
}

/// Whether an attribute's value has a shape SCIM attributes have: a simple value, an object of
/// simple values (complex), or an array of simple values or of such objects (multi-valued).
/// `depth` 0 is the attribute itself; a `name.sub` key writes at depth 1.
fn rfc_shape(value: &Value, depth: u8) -> bool {
    let simple = |v: &Value| !v.is_object() && !v.is_array();
    match value {
        Value::Object(m) => depth == 0 && m.values().all(simple),
        Value::Array(items) => {
            depth == 0
                && items
                    .iter()
                    .all(|i| simple(i) || i.as_object().is_some_and(|m| m.values().all(simple)))
        }
        _ => true,
    }
}

/// `value` without what RFC 7643 §2.5 calls unassigned (null, `[]`, `{}`), at any depth, as
/// the core attributes are stored; `None` when nothing is left.
fn assigned(value: &Value) -> Option<Value> {
    let out = match value {
        Value::Null => return None,
        Value::Object(map) => Value::Object(
            map.iter()
                .filter_map(|(k, v)| assigned(v).map(|v| (k.clone(), v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().filter_map(assigned).collect()),
        other => other.clone(),
    };
    match &out {
        Value::Object(m) if m.is_empty() => None,
        Value::Array(a) if a.is_empty() => None,
        _ => Some(out),
    }
}

/// Remove what `place` names; removing what is not there is no change.
pub fn remove(doc: &mut Map<String, Value>, place: &Place) {
    match place {
        Place::Whole(urn) => {
            let key = doc_key(doc, urn);
            doc.remove(&key);
        }
        Place::Attr { urn, name } => {
            let key = doc_key(doc, urn);
            let Some(Value::Object(ext)) = doc.get_mut(&key) else {
                return;
            };
            match name.split_once('.') {
                None => {
                    let name = doc_key(ext, name);
                    ext.remove(&name);
                }
                Some((n, sub)) => {
                    let n = doc_key(ext, n);
                    if let Some(Value::Object(inner)) = ext.get_mut(&n) {
                        let sub = doc_key(inner, sub);
                        inner.remove(&sub);
                        if inner.is_empty() {
                            ext.remove(&n);
                        }
                    }
                }
            }
            if ext.is_empty() {
                doc.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{GROUP, USER};
    use serde_json::json;

    const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";

    #[test]
    fn which_urns_are_undeclared() {
        assert!(is_undeclared_urn(&USER, CUSTOM));
        assert!(is_undeclared_urn(&USER, &format!("{CUSTOM}:costCenter")));
        assert!(is_undeclared_urn(
            &USER,
            "urn:scim:schemas:extension:enterprise:1.0"
        ));
        assert!(!is_undeclared_urn(&USER, "userName"));
        assert!(!is_undeclared_urn(&USER, ENTERPRISE_USER_URN));
        assert!(!is_undeclared_urn(
            &USER,
            &format!("{ENTERPRISE_USER_URN}:department")
        ));
        assert!(!is_undeclared_urn(
            &USER,
            "urn:ietf:params:scim:schemas:core:2.0:User:userName"
        ));
        assert!(!is_undeclared_urn(
            &USER,
            "urn:ietf:params:scim:api:messages:2.0:PatchOp"
        ));
        // The enterprise extension is User's; on a Group it is protocol noise, not data.
        assert!(!is_undeclared_urn(&GROUP, ENTERPRISE_USER_URN));
    }

    #[test]
    fn keys_are_located_by_what_is_beside_them_and_their_value() {
        let attr = format!("{CUSTOM}:costCenter");
        assert_eq!(locate(CUSTOM, &json!({"a": 1}), &[]), Place::Whole(CUSTOM));
        assert_eq!(
            locate(&attr, &json!("x"), &[]),
            Place::Attr {
                urn: CUSTOM,
                name: "costCenter"
            }
        );
        // An object-valued attribute of an extension listed beside it.
        let office = format!("{CUSTOM}:office");
        assert_eq!(
            locate(&office, &json!({"floor": 2}), &[CUSTOM]),
            Place::Attr {
                urn: CUSTOM,
                name: "office"
            }
        );
        assert_eq!(
            locate(CUSTOM, &json!("x"), &[&CUSTOM.to_lowercase()]),
            Place::Whole(CUSTOM)
        );
    }

    #[test]
    fn kept_data_is_merged_ignoring_case_and_removed() {
        let mut doc = Map::new();
        put(
            &USER,
            &mut doc,
            &Place::Whole(CUSTOM),
            &json!({"costCenter": "A", "level": 3}),
        )
        .unwrap();
        let upper = CUSTOM.to_uppercase();
        put(
            &USER,
            &mut doc,
            &Place::Attr {
                urn: &upper,
                name: "COSTCENTER",
            },
            &json!("B"),
        )
        .unwrap();
        put(
            &USER,
            &mut doc,
            &Place::Attr {
                urn: CUSTOM,
                name: "office.floor",
            },
            &json!(2),
        )
        .unwrap();
        assert_eq!(
            Value::Object(doc.clone()),
            json!({CUSTOM: {"costCenter": "B", "level": 3, "office": {"floor": 2}}})
        );
        for name in ["costCenter", "level", "office.floor"] {
            remove(&mut doc, &Place::Attr { urn: CUSTOM, name });
        }
        assert!(doc.is_empty(), "{doc:?}");
    }

    #[test]
    fn a_refusing_type_names_the_urn_and_the_attribute() {
        let refusing = crate::scim::schema::declare::account_types(&[], Undeclared::Refuse);
        let mut doc = Map::new();
        let e = put(
            refusing.user,
            &mut doc,
            &Place::Whole(CUSTOM),
            &json!({"costCenter": "A"}),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(crate::scim::error::ScimType::InvalidValue));
        assert!(
            e.detail.contains(CUSTOM) && e.detail.contains("costCenter"),
            "{}",
            e.detail
        );
        assert!(doc.is_empty());
        let e = put(&USER, &mut doc, &Place::Whole(CUSTOM), &json!("x")).unwrap_err();
        assert!(e.detail.contains("must be an object"));
    }

    #[test]
    fn kept_data_has_the_shapes_scim_attributes_have() {
        let mut doc = Map::new();
        for ok in [
            json!({"a": 1, "b": "x", "c": [1, "y", {"d": true}], "e": {"f": 2}}),
            json!({"g": [{"value": "v", "type": "work"}]}),
        ] {
            put(&USER, &mut doc, &Place::Whole(CUSTOM), &ok).unwrap();
        }
        for deep in [
            json!({"a": {"b": {"c": 1}}}),
            json!({"a": [[1]]}),
            json!({"a": [{"b": [1]}]}),
        ] {
            let e = put(&USER, &mut doc, &Place::Whole(CUSTOM), &deep).unwrap_err();
            assert!(e.detail.contains("nests deeper"), "{deep}: {}", e.detail);
        }
        let e = put(
            &USER,
            &mut doc,
            &Place::Attr {
                urn: CUSTOM,
                name: "e.f",
            },
            &json!({"x": 1}),
        )
        .unwrap_err();
        assert!(e.detail.contains("nests deeper"));
    }
}
