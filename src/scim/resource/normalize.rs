//! Client JSON → canonical document (POST / PUT bodies): keys resolved case-insensitively,
//! qualified, dotted and nested forms merged, readOnly and unknown keys dropped.

use crate::scim::attr_path::AttrPath;
use crate::scim::error::ScimError;
use crate::scim::schema::{AttrDef, Mutability, ResourceType, Schema};
use serde_json::{Map, Value};

use super::coerce::{coerce_value, kind};
use super::json::{is_unassigned, prune, remove_key, shown_path};
use super::undeclared;

/// Turn a POST or PUT body into a canonical document. Accepts and drops what IdPs send but
/// scimd does not keep (readOnly `id`, `meta`, `groups`, `schemas`, `password`, unknown keys
/// without a URN, nulls). Data under an extension URN the resource type does not declare is
/// kept verbatim or refused, as `rt.undeclared` says (`undeclared`). Errors: 400
/// `invalidSyntax` for a body that is not an object, 400 `invalidValue` for a value that cannot
/// be coerced, naming the attribute.
///
/// Besides the RFC shape it reads extension attributes given as top-level URN-qualified keys
/// (`"urn:…:enterprise:2.0:User:department"`), dotted keys (`"name.givenName"`), extension
/// attributes without their URN (`"department"`, resolved as a path would be), and core
/// attributes nested under the core schema URN.
pub fn normalize(rt: &ResourceType, body: &Value) -> Result<Map<String, Value>, ScimError> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax(format!(
            "a {} must be a JSON object, but {} was sent",
            rt.name,
            kind(body)
        )));
    };
    let mut doc = Map::new();
    // Whole attributes go first, so that a qualified or dotted key refines what a nested form
    // set instead of being overwritten by it.
    let mut qualified = Vec::new();
    for (key, value) in body {
        if value.is_null() {
            continue;
        }
        if let Some(schema) = rt.schema_by_urn(key) {
            normalize_schema_object(rt, schema, value, &mut doc)?;
        } else if key.contains(':') || key.contains('.') {
            qualified.push((key, value));
        } else if let Some((schema, attr)) = rt.find_unqualified(key) {
            put(rt, &mut doc, schema, attr, None, value)?;
        }
    }
    // URNs the body names as whole extensions: what its `schemas` lists, and URN keys holding
    // objects. They tell an undeclared extension's own key from one of its attributes.
    let mut beside: Vec<&str> = match body.iter().find(|(k, _)| k.eq_ignore_ascii_case("schemas")) {
        Some((_, Value::Array(items))) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let listed = beside.clone();
    beside.extend(
        qualified
            .iter()
            .filter(|(k, v)| v.is_object() && undeclared::is_undeclared_urn(rt, k))
            .filter(|(k, _)| !undeclared::is_under(k, &listed))
            .map(|(k, _)| k.as_str()),
    );
    let mut kept = Vec::new();
    for (key, value) in qualified {
        if let Some((schema, attr, sub)) = split_qualified(rt, key) {
            put(rt, &mut doc, schema, attr, sub, value)?;
        } else if undeclared::is_undeclared_urn(rt, key) {
            kept.push((undeclared::locate(key, value, &beside), value));
        }
    }
    // Whole extensions first, so a qualified key refines what an object set.
    kept.sort_by_key(|(place, _)| !matches!(place, undeclared::Place::Whole(_)));
    for (place, value) in kept {
        undeclared::put(rt, &mut doc, &place, value)?;
    }
    prune(&mut doc);
    for (ext, _) in rt.extensions {
        let emptied = match doc.get_mut(ext.id) {
            Some(Value::Object(inner)) => {
                prune(inner);
                inner.is_empty()
            }
            _ => false,
        };
        if emptied {
            remove_key(&mut doc, ext.id);
        }
    }
    Ok(doc)
}

/// The object under a schema URN key: an extension's attributes, or (leniently) the core
/// attributes nested under the core URN.
pub(super) fn normalize_schema_object(
    rt: &ResourceType,
    schema: &'static Schema,
    value: &Value,
    doc: &mut Map<String, Value>,
) -> Result<(), ScimError> {
    let Value::Object(inner) = value else {
        return Err(ScimError::invalid_value(format!(
            "\"{}\" must be an object holding {} attributes, but {} was sent",
            schema.id,
            schema.name,
            kind(value)
        )));
    };
    for (key, value) in inner {
        if value.is_null() {
            continue;
        }
        let (name, sub) = match key.split_once('.') {
            Some((name, sub)) => (name, Some(sub)),
            None => (key.as_str(), None),
        };
        let path = AttrPath {
            urn: Some(schema.id.to_string()),
            name: name.to_string(),
            sub: sub.map(str::to_string),
        };
        if let Ok(resolved) = rt.resolve(&path)
            && let Some(attr) = resolved.attr
        {
            put(rt, doc, resolved.schema, attr, resolved.sub, value)?;
        }
    }
    Ok(())
}

/// A top-level key with a URN prefix or a dot: `urn:…:User:department`, `name.givenName`.
/// `None` for what names nothing known (including attributes of schemas scimd does not serve,
/// such as OneLogin's `urn:scim:schemas:extension:enterprise:1.0`).
pub(super) fn split_qualified(
    rt: &ResourceType,
    key: &str,
) -> Option<(&'static Schema, &'static AttrDef, Option<&'static AttrDef>)> {
    let qualified = rt.schema_urns().into_iter().find_map(|urn| {
        let prefix = key.get(..urn.len())?;
        let rest = key.get(urn.len()..)?.strip_prefix(':')?;
        prefix.eq_ignore_ascii_case(urn).then_some((urn, rest))
    });
    let (urn, rest) = match qualified {
        Some((urn, rest)) => (Some(urn), rest),
        None if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) => return None,
        None => (None, key),
    };
    let (name, sub) = match rest.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (rest, None),
    };
    let path = AttrPath {
        urn: urn.map(str::to_string),
        name: name.to_string(),
        sub: sub.map(str::to_string),
    };
    let resolved = rt.resolve(&path).ok()?;
    Some((resolved.schema, resolved.attr?, resolved.sub))
}

/// Coerce `value` for `attr` (or its `sub`) and store it at its canonical place in `doc`.
/// ReadOnly targets are dropped silently: IdPs echo them back (Okta PUTs `id`, `meta`, `groups`).
pub(super) fn put(
    rt: &ResourceType,
    doc: &mut Map<String, Value>,
    schema: &'static Schema,
    attr: &'static AttrDef,
    sub: Option<&'static AttrDef>,
    value: &Value,
) -> Result<(), ScimError> {
    if attr.mutability == Mutability::ReadOnly || sub.is_some_and(|s| s.mutability == Mutability::ReadOnly) {
        return Ok(());
    }
    let shown = shown_path(rt, schema, attr);
    let coerced = match sub {
        None => coerce_value(attr, value, &shown)?,
        Some(sub) if attr.multi_valued => {
            return Err(ScimError::invalid_value(format!(
                "\"{shown}.{}\" cannot be set on its own because \"{shown}\" is multi-valued; \
                 send \"{}\": [{{\"{}\": …}}]",
                sub.name, attr.name, sub.name
            )));
        }
        Some(sub) => coerce_value(sub, value, &format!("{shown}.{}", sub.name))?,
    };
    if is_unassigned(&coerced) {
        return Ok(());
    }
    let container = if std::ptr::eq(schema, rt.schema) {
        doc
    } else {
        object_entry(doc, schema.id)
    };
    match sub {
        None => {
            container.insert(attr.name.to_string(), coerced);
        }
        Some(sub) => {
            object_entry(container, attr.name).insert(sub.name.to_string(), coerced);
        }
    }
    Ok(())
}

/// The object under `key`, created (or replacing a non-object) if need be.
pub(super) fn object_entry<'m>(map: &'m mut Map<String, Value>, key: &str) -> &'m mut Map<String, Value> {
    let entry = map
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    match entry {
        Value::Object(inner) => inner,
        _ => unreachable!("just made an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::resource::test_support::*;

    // docs/idp-notes.md §1.3
    #[test]
    fn multi_valued_attributes_are_bounded_but_members_are_not() {
        let roles: Vec<Value> = (0..=MAX_VALUES)
            .map(|i| json!({"value": format!("r{i}")}))
            .collect();
        let doc = normalize(&USER, &json!({"userName": "a", "roles": roles})).unwrap();
        let e = validate(&USER, &doc).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(
            e.detail.contains("\"roles\" has 1001 values; at most 1000"),
            "{}",
            e.detail
        );
        let members: Vec<Value> = (0..=MAX_VALUES)
            .map(|i| json!({"value": format!("00000000-0000-7000-8000-{i:012}")}))
            .collect();
        let doc = normalize(&GROUP, &json!({"displayName": "g", "members": members})).unwrap();
        validate(&GROUP, &doc).unwrap();
    }

    #[test]
    fn okta_create_user() {
        let body = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local",
            "name":{"givenName":"Test","familyName":"User"},
            "emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],
            "displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7",
            "groups":[],"password":"1mz050nq","active":true});
        let doc = norm(&USER, body);
        assert_eq!(
            doc,
            json!({"userName":"test.user@okta.local",
                "name":{"givenName":"Test","familyName":"User"},
                "emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],
                "displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7",
                "active":true})
        );
        validate(&USER, doc.as_object().unwrap()).unwrap();
    }

    // docs/idp-notes.md §1.4: the fetched object echoed back, with a non-ISO meta.created.
    #[test]
    fn okta_put_with_readonly_fields() {
        let body = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id":"5b0f4c9a-6a0e-4d0f-9a39-08b3c8f0e1a2","userName":"test.user@okta.local",
            "name":{"givenName":"Test","familyName":"Changed"},
            "emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],
            "displayName":"Test User","locale":"en_US","externalId":"00ujl29u0le5T6Aj10h7",
            "groups":[],"password":"1mz050nq","active":true,
            "meta":{"resourceType":"User","created":"04-12-2018 00:00:00","lastModified":"04-12-2018 00:00:00","version":"v1.0"}});
        let doc = norm(&USER, body);
        let m = doc.as_object().unwrap();
        for gone in ["id", "meta", "groups", "password", "schemas"] {
            assert!(!m.contains_key(gone), "{gone} kept");
        }
        assert_eq!(m["locale"], "en_US", "values are stored verbatim");
        assert_eq!(m["name"]["familyName"], "Changed");
    }

    // docs/idp-notes.md §2.4
    #[test]
    fn entra_create_user() {
        let body = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee","active":true,
            "emails":[{"primary":true,"type":"work","value":"Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
            "meta":{"resourceType":"User"},
            "name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[]});
        let doc = norm(&USER, body);
        assert_eq!(
            doc,
            json!({"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee","active":true,
                "emails":[{"primary":true,"type":"work","value":"Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
                "name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"}})
        );
    }

    #[test]
    fn entra_string_booleans_and_nulls() {
        for (given, want) in [
            ("True", true),
            ("False", false),
            ("false", false),
            ("TRUE", true),
            (" true ", true),
        ] {
            let doc = norm(
                &USER,
                json!({"userName": "a", "active": given, "title": null, "addresses": null}),
            );
            assert_eq!(doc, json!({"userName": "a", "active": want}), "{given}");
        }
        let e = err(&USER, json!({"userName": "a", "active": "yes"}));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(
            e.detail.contains("\"active\"") && e.detail.contains("boolean"),
            "{}",
            e.detail
        );
        assert!(err(&USER, json!({"active": 1})).detail.contains("\"active\""));
        let doc = norm(
            &USER,
            json!({"emails": [{"value": "a@b", "primary": "True"}, {"value": "c@d", "primary": "false"}]}),
        );
        assert_eq!(doc["emails"][0]["primary"], true);
        assert_eq!(doc["emails"][1]["primary"], false);
    }

    // docs/idp-notes.md §2.7
    #[test]
    fn entra_create_group() {
        let body = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName","meta":{"resourceType":"Group"}});
        let doc = norm(&GROUP, body);
        assert_eq!(
            doc,
            json!({"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName"})
        );
        validate(&GROUP, doc.as_object().unwrap()).unwrap();
    }

    #[test]
    fn group_members_keep_value_and_type_and_drop_ref_and_display() {
        let body = json!({"displayName": "Test SCIMv2", "members": [
            {"$ref": null, "value": "f648f8d5ea4e4cd38e9c"},
            {"value": "23a35c27", "display": "test.user@okta.local", "$ref": "https://x/Users/23a35c27", "type": "User"},
            "bare-id"]});
        let doc = norm(&GROUP, body);
        assert_eq!(
            doc["members"],
            json!([{"value": "f648f8d5ea4e4cd38e9c"},
                   {"value": "23a35c27", "type": "User"},
                   {"value": "bare-id"}])
        );
        assert_eq!(
            norm(&GROUP, json!({"displayName": "g", "members": []})),
            json!({"displayName": "g"})
        );
        for bad in [
            json!([{"$ref": null}]),
            json!([{"display": "x"}]),
            json!([{"value": ""}]),
            json!([{"value": {"a": 1}}]),
        ] {
            let e = err(&GROUP, json!({"displayName": "g", "members": bad}));
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{bad}");
            assert!(e.detail.contains("members[0]"), "{}", e.detail);
        }
    }

    // docs/idp-notes.md §3: legacy templates.
    #[test]
    fn onelogin_single_object_emails_custom_keys_and_1_0_schemas() {
        let body = json!({"schemas":["urn:scim:schemas:core:1.0","urn:scim:schemas:extension:enterprise:1.0"],
            "userName":"jdoe@example.com","id":null,"meta":{"resourceType":"User"},
            "name":{"givenName":"Jane","familyName":"Doe"},
            "emails":{"value":"jdoe@example.com","type":"work","primary":true},
            "active":"true","user_name":"jdoe","department_code":"X1",
            "urn:scim:schemas:extension:enterprise:1.0":{"department":"Sales"},
            "manager":{"managerId":"123","displayName":"Boss"}});
        let doc = norm(&USER, body);
        assert_eq!(
            doc,
            json!({"userName":"jdoe@example.com","name":{"givenName":"Jane","familyName":"Doe"},
                "emails":[{"value":"jdoe@example.com","type":"work","primary":true}],"active":true,
                // The 1.0 enterprise extension is not one scimd serves: kept as sent
                // (resource::undeclared), unknown keys without a URN dropped.
                "urn:scim:schemas:extension:enterprise:1.0":{"department":"Sales"}})
        );
    }

    #[test]
    fn onelogin_common_template() {
        let body = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u@example.com",
            "name":{"givenName":"U","familyName":"Ser"},
            "emails":[{"value":"u@example.com","type":"work","primary":true}]});
        let doc = norm(&USER, body);
        assert_eq!(doc["emails"][0]["value"], "u@example.com");
        validate(&USER, doc.as_object().unwrap()).unwrap();
    }

    #[test]
    fn keys_are_case_insensitive_and_canonicalised() {
        let doc = norm(
            &USER,
            json!({"UserName": "a", "Emails": [{"Value": "a@b", "TYPE": "work"}], "NAME": {"GIVENNAME": "G"},
                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Department": "D"}}),
        );
        assert_eq!(
            doc,
            json!({"userName": "a", "emails": [{"value": "a@b", "type": "work"}], "name": {"givenName": "G"},
                   ENTERPRISE_USER_URN: {"department": "D"}})
        );
    }

    #[test]
    fn extension_attributes_nested_qualified_and_bare() {
        let doc = norm(
            &USER,
            json!({"userName": "a",
                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": 123, "manager": "boss-id"},
                   "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:department": "x",
                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName": "ignored",
                   "costCenter": "cc"}),
        );
        assert_eq!(
            doc[ENTERPRISE_USER_URN],
            json!({"employeeNumber": "123", "manager": {"value": "boss-id"}, "department": "x", "costCenter": "cc"})
        );
        // Manager as Entra's doc example: an array of one object, $ref kept (readWrite).
        let doc = norm(
            &USER,
            json!({ENTERPRISE_USER_URN: {"manager": [{"$ref": "../Users/m", "value": "m", "displayName": "M"}]}}),
        );
        assert_eq!(
            doc[ENTERPRISE_USER_URN]["manager"],
            json!({"$ref": "../Users/m", "value": "m"})
        );
        // An extension object that ends empty disappears.
        let doc = norm(
            &USER,
            json!({"userName": "a", ENTERPRISE_USER_URN: {"manager": {"displayName": "x"}, "division": null}}),
        );
        assert_eq!(doc, json!({"userName": "a"}));
        let e = err(&USER, json!({ENTERPRISE_USER_URN: "x"}));
        assert!(e.detail.contains(ENTERPRISE_USER_URN));
        // Group has no enterprise extension: dropped like any unknown URN.
        assert_eq!(
            norm(
                &GROUP,
                json!({"displayName": "g", ENTERPRISE_USER_URN: {"department": "x"}})
            ),
            json!({"displayName": "g"})
        );
    }

    #[test]
    fn dotted_and_core_urn_keys() {
        let doc = norm(
            &USER,
            json!({"name": {"givenName": "G", "familyName": "F"}, "name.givenName": "G2",
                                     "urn:ietf:params:scim:schemas:core:2.0:User:nickName": "N",
                                     USER_URN: {"title": "T"}}),
        );
        assert_eq!(
            doc,
            json!({"name": {"givenName": "G2", "familyName": "F"}, "nickName": "N", "title": "T"})
        );
        let e = err(&USER, json!({"emails.value": "a@b"}));
        assert!(e.detail.contains("multi-valued"), "{}", e.detail);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn key() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(vec![
                    "userName",
                    "USERNAME",
                    "name",
                    "emails",
                    "active",
                    "members",
                    "displayName",
                    "value",
                    "primary",
                    "type",
                    "$ref",
                    "givenName",
                    "manager",
                    "department",
                    "id",
                    "meta",
                    "groups",
                    "password",
                    "externalId",
                    "schemas",
                    "name.givenName",
                    "emails.value",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                    "urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:",
                    "URN:x:",
                    "é",
                    "",
                ])
                .prop_map(str::to_string),
                ".{0,12}",
            ]
        }

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                prop::sample::select(vec!["True", "false", "x", "", "2024-01-31T12:00:00Z"])
                    .prop_map(Value::from),
                ".{0,8}".prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::vec((key(), inner), 0..6)
                        .prop_map(|kv| Value::Object(kv.into_iter().collect())),
                ]
            })
        }

        /// Objects shaped like resources (known keys, shallow values), so that most bodies
        /// normalize and the success paths get exercised too.
        fn resource_like() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                (-5i64..5).prop_map(Value::from),
                prop::sample::select(vec!["True", "false", "x", "", "work", "a@b"]).prop_map(Value::from),
            ];
            let element = prop::collection::vec((key(), leaf.clone()), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect()))
                .boxed();
            let value = prop_oneof![
                3 => leaf,
                2 => element.clone(),
                2 => prop::collection::vec(element, 0..3).prop_map(Value::Array),
            ];
            prop::collection::vec((key(), value), 0..8).prop_map(|kv| Value::Object(kv.into_iter().collect()))
        }

        fn check(body: &Value) -> Result<(), TestCaseError> {
            for rt in [&USER, &GROUP] {
                if let Ok(doc) = normalize(rt, body) {
                    let again =
                        normalize(rt, &Value::Object(doc.clone())).expect("canonical doc re-normalizes");
                    prop_assert_eq!(&again, &doc);
                    prop_assert!(!has_null(&Value::Object(doc.clone())));
                    let _ = validate(rt, &doc);
                    let mut rendered = doc.clone();
                    project(
                        rt,
                        &mut rendered,
                        &[p("emails.value"), p("members")],
                        &[p("name")],
                    );
                }
            }
            Ok(())
        }

        fn has_null(v: &Value) -> bool {
            match v {
                Value::Null => true,
                Value::Array(items) => items.iter().any(has_null),
                Value::Object(map) => map.values().any(has_null),
                _ => false,
            }
        }

        proptest! {
            #[test]
            fn normalize_never_panics_and_is_a_fixed_point(body in json_value()) {
                check(&body)?;
            }

            #[test]
            fn normalize_resource_like_bodies(body in resource_like()) {
                check(&body)?;
            }
        }
    }
}
