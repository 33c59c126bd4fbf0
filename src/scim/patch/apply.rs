//! Applying parsed operations to a canonical document: dispatch by path, pathless values whose
//! keys are paths (docs/idp-notes.md), whole extensions, and the mutability and password rules.
//! The writing itself is done by `write` and `filtered`.

use crate::scim::error::ScimError;
use crate::scim::path::{self, AttrPath, PatchPath};
use crate::scim::resource::{self, undeclared};
use crate::scim::schema::{AttrDef, GROUP_URN, Mutability, Resolved, ResourceType};
use serde_json::{Map, Value};

use super::op::{OpKind, PatchOperation};
use super::parse::at_operation;
use super::target::{Target, missing_value};
use super::values::{prune_map, remove_ci};
use super::write::write;

/// Apply operations in order to a canonical document. On error the document may be partly
/// changed: callers apply to a copy and keep it only on success (one request, one write).
/// Returns whether anything changed.
pub fn apply(
    rt: &ResourceType,
    doc: &mut Map<String, Value>,
    ops: &[PatchOperation],
) -> Result<bool, ScimError> {
    // Compared in pruned form, so a stored `[]` that the prune below drops is not a change.
    let mut before = doc.clone();
    prune_map(&mut before);
    for (i, op) in ops.iter().enumerate() {
        apply_op(rt, doc, op).map_err(|e| at_operation(i, e))?;
    }
    prune_map(doc);
    resource::validate(rt, doc)?;
    Ok(*doc != before)
}

pub(super) fn apply_op(
    rt: &ResourceType,
    doc: &mut Map<String, Value>,
    op: &PatchOperation,
) -> Result<(), ScimError> {
    match &op.path {
        Some(path) => apply_path(rt, doc, op.op, path, op.value.as_ref()),
        None => {
            if op.op == OpKind::Remove {
                return Err(ScimError::no_target(
                    "remove needs a \"path\" naming what to remove",
                ));
            }
            match &op.value {
                Some(Value::Object(attrs)) => {
                    for (key, value) in attrs {
                        apply_key(rt, doc, op.op, key, value)?;
                    }
                    Ok(())
                }
                _ => Err(ScimError::invalid_value(format!(
                    "{} without a path needs an object value whose keys are attributes, \
                     e.g. {{\"active\": false}}",
                    op.op.as_str()
                ))),
            }
        }
    }
}

/// One key of a no-path value object. Whatever it cannot name is ignored (see the module doc).
pub(super) fn apply_key(
    rt: &ResourceType,
    doc: &mut Map<String, Value>,
    kind: OpKind,
    key: &str,
    value: &Value,
) -> Result<(), ScimError> {
    // `{"urn:…:core:2.0:User": {...}}` wraps core attributes the way extensions are wrapped.
    if key.trim().eq_ignore_ascii_case(rt.schema.id) {
        return apply_schema_object(rt, doc, kind, rt.schema.id, key, value);
    }
    let Ok(attr_path) = path::parse_attr_path(key) else {
        // A value-path key (`emails[type eq "work"].value`) names its target as clearly as the
        // same string in `path` does; dropping it would silently lose the change.
        return match path::parse_patch_path(key) {
            Ok(value_path) if value_path.filter.is_some() => {
                apply_value_path_key(rt, doc, kind, &value_path, value)
            }
            _ => Ok(()),
        };
    };
    let Ok(resolved) = rt.resolve(&attr_path) else {
        if undeclared::is_undeclared_urn(rt, key) {
            let place = undeclared::locate(key, value, &undeclared::kept_urns(doc));
            return undeclared::put(rt, doc, &place, value);
        }
        return Ok(());
    };
    let Some(attr) = resolved.attr else {
        return apply_schema_object(rt, doc, kind, resolved.schema.id, key, value);
    };
    if is_read_only(&resolved) || is_group_members(rt, attr) {
        return Ok(());
    }
    let target = Target::new(&resolved, attr);
    write(doc, kind, &target, None, Some(value))
}

/// A filtered key of a no-path value, applied as that path would be. Keys naming what a no-path
/// value never changes (readOnly attributes, group members) are ignored like their plain forms.
pub(super) fn apply_value_path_key(
    rt: &ResourceType,
    doc: &mut Map<String, Value>,
    kind: OpKind,
    value_path: &PatchPath,
    value: &Value,
) -> Result<(), ScimError> {
    let Ok(resolved) = rt.resolve(&value_path.attr) else {
        return Ok(());
    };
    let Some(attr) = resolved.attr else {
        return Ok(());
    };
    if is_read_only(&resolved) || is_group_members(rt, attr) {
        return Ok(());
    }
    let target = Target::new(&resolved, attr);
    write(doc, kind, &target, value_path.filter.as_ref(), Some(value))
}

/// A whole schema as the key or path of an `add`/`replace`: each of its keys is an attribute of
/// that schema. A null removes the whole extension.
pub(super) fn apply_schema_object(
    rt: &ResourceType,
    doc: &mut Map<String, Value>,
    kind: OpKind,
    schema_id: &'static str,
    written: &str,
    value: &Value,
) -> Result<(), ScimError> {
    match value {
        Value::Object(attrs) => {
            for (key, v) in attrs {
                apply_key(rt, doc, kind, &format!("{schema_id}:{key}"), v)?;
            }
            Ok(())
        }
        Value::Null => {
            if schema_id != rt.schema.id {
                remove_ci(doc, schema_id);
            }
            Ok(())
        }
        _ => Err(ScimError::invalid_value(format!(
            "\"{written}\" names a whole schema, so its value must be an object of its attributes"
        ))),
    }
}

pub(super) fn apply_path(
    rt: &ResourceType,
    doc: &mut Map<String, Value>,
    kind: OpKind,
    path: &PatchPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    if is_password(rt, &path.attr) {
        return Ok(());
    }
    let written = path.attr.to_string();
    if undeclared::is_undeclared_urn(rt, &written) {
        return apply_undeclared(rt, doc, kind, path, &written, value);
    }
    let resolved = rt.resolve(&path.attr)?;
    let Some(attr) = resolved.attr else {
        let urn = resolved.schema.id;
        if path.filter.is_some() {
            return Err(ScimError::invalid_path(format!(
                "\"{urn}\" is a whole extension; a [filter] can only follow a multi-valued attribute"
            )));
        }
        return match (kind, value) {
            (OpKind::Remove, _) | (_, Some(Value::Null)) => {
                remove_ci(doc, urn);
                Ok(())
            }
            (_, Some(v)) => apply_schema_object(rt, doc, kind, urn, urn, v),
            (_, None) => Err(missing_value(kind)),
        };
    };
    if is_read_only(&resolved) {
        let label = Target::new(&resolved, attr).label();
        return Err(ScimError::mutability(format!(
            "\"{label}\" is readOnly: the server sets it and a PATCH cannot change it"
        )));
    }
    if is_group_members(rt, attr) {
        // A programming error, not a client one: the service must split member operations off.
        return Err(ScimError::new(
            500,
            None,
            "group member operations must be split off with split_group_ops before apply",
        ));
    }
    let target = Target::new(&resolved, attr);
    write(doc, kind, &target, path.filter.as_ref(), value)
}

/// A path into an extension the resource type does not declare: kept data is written as the
/// path says, or the write is refused (`resource::undeclared`). Value filters need a schema.
fn apply_undeclared(
    rt: &ResourceType,
    doc: &mut Map<String, Value>,
    kind: OpKind,
    path: &PatchPath,
    written: &str,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    if path.filter.is_some() {
        return Err(ScimError::invalid_path(format!(
            "\"{written}\" belongs to an extension this account has not declared; a [filter] needs \
             the attribute's schema: an account admin can declare it (POST /api/accounts/{{accountId}}/schemas)"
        )));
    }
    match (kind, value) {
        (OpKind::Remove, _) => {
            let place = undeclared::locate(written, &Value::Null, &undeclared::kept_urns(doc));
            undeclared::remove(doc, &place);
            Ok(())
        }
        (_, Some(v)) => {
            let place = undeclared::locate(written, v, &undeclared::kept_urns(doc));
            if kind == OpKind::Add
                && let (undeclared::Place::Whole(_), Value::Object(_)) = (&place, v)
            {
                // `add` of a whole extension merges its attributes (RFC 7644 §3.5.2.1).
                return undeclared::put(rt, doc, &place, v);
            }
            if let undeclared::Place::Whole(_) = place {
                undeclared::remove(doc, &place);
            }
            undeclared::put(rt, doc, &place, v)
        }
        (_, None) => Err(missing_value(kind)),
    }
}

pub(super) fn is_read_only(resolved: &Resolved) -> bool {
    [resolved.attr, resolved.sub]
        .iter()
        .flatten()
        .any(|d| d.mutability == Mutability::ReadOnly)
}

/// scimd stores no password (the catalogue has none), yet Okta's password sync sends one.
pub(super) fn is_password(rt: &ResourceType, p: &AttrPath) -> bool {
    p.name.eq_ignore_ascii_case("password")
        && p.urn
            .as_deref()
            .is_none_or(|u| u.eq_ignore_ascii_case(rt.schema.id))
}

pub(super) fn is_group_members(rt: &ResourceType, attr: &AttrDef) -> bool {
    rt.schema.id == GROUP_URN && attr.name == "members"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::patch::test_support::*;

    #[test]
    fn okta_deactivate_and_reactivate_without_path() {
        let (d, changed) = patch(
            &USER,
            &user(),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .unwrap();
        assert_eq!(d["active"], json!(false));
        assert!(changed);
        let (d, changed) = patch(&USER, &d, json!([{"op": "replace", "value": {"active": true}}])).unwrap();
        assert_eq!(d, user());
        assert!(changed);
    }

    #[test]
    fn okta_password_sync_is_accepted_and_stores_nothing() {
        let (d, changed) = patch(
            &USER,
            &user(),
            json!([{"op": "replace", "value": {"password": "1mz050nq"}}]),
        )
        .unwrap();
        assert_eq!(d, user());
        assert!(!changed);
        let (d, _) = patch(
            &USER,
            &user(),
            json!([{"op": "replace", "path": "password", "value": "x"}]),
        )
        .unwrap();
        assert_eq!(d, user());
    }

    #[test]
    fn okta_group_rename_carries_id_which_is_ignored() {
        let gp = split(json!([{"op": "replace", "value": {"id": "abf4dd94-1", "displayName": "Renamed"}}]))
            .unwrap();
        assert!(gp.member_ops.is_empty());
        assert_eq!(gp.doc_ops.len(), 1);
        let mut doc = group();
        assert!(apply(&GROUP, &mut doc, &gp.doc_ops).unwrap());
        assert_eq!(
            doc,
            obj(json!({"displayName": "Renamed", "externalId": "8aa1a0c0"}))
        );
    }

    // ---- Entra §2.6 -------------------------------------------------------------------------

    #[test]
    fn entra_active_as_string_or_bool() {
        for (v, expected) in [
            (json!("False"), false),
            (json!("false"), false),
            (json!(false), false),
            (json!("True"), true),
            (json!("true"), true),
            (json!(true), true),
        ] {
            for op in ["Replace", "replace"] {
                let d = patch_user(json!([{"op": op, "path": "active", "value": v}]));
                assert_eq!(d["active"], json!(expected), "{op} {v}");
            }
        }
        let d = patch_user(json!([{"op": "Replace", "value": {"active": "False"}}]));
        assert_eq!(d["active"], json!(false));
    }

    // ---- Extensions -------------------------------------------------------------------------

    #[test]
    fn whole_extension_paths_and_keys() {
        let d = patch_user(
            json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "value": {"department": "R&D", "manager": "m-1"}}]),
        );
        assert_eq!(d[ENT], json!({"department": "R&D", "manager": {"value": "m-1"}}));
        let d = patch_user_from(
            &d,
            json!([{"op": "replace", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
            {"costCenter": "42", "Department": "Sales"}}}]),
        );
        assert_eq!(
            d[ENT],
            json!({"department": "Sales", "costCenter": "42", "manager": {"value": "m-1"}})
        );
        let d = patch_user_from(
            &d,
            json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"}]),
        );
        assert_eq!(d, user());
        // Unqualified extension names resolve too.
        let d = patch_user(
            json!([{"op": "add", "value": {"employeeNumber": "7", "urn:ietf:params:scim:schemas:core:2.0:User": {"title": "VP"}}}]),
        );
        assert_eq!(d[ENT], json!({"employeeNumber": "7"}));
        assert_eq!(d["title"], json!("VP"));
    }

    // ---- Ignored keys and mutability ---------------------------------------------------------

    #[test]
    fn no_path_values_ignore_read_only_and_unknown_keys() {
        let (d, changed) = patch(&USER, &user(), json!([{"op": "replace", "value": {
            "id": "x", "meta": {"created": "04-12-2018 00:00:00"}, "schemas": ["urn:x"], "groups": [{"value": "g"}],
            "user_name": "custom", "urn:example:custom:1.0:User:foo": 1, "not a path!": 2, "meta.created": "x",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName": "Boss"}}]))
        .unwrap();
        // Data under an undeclared extension URN is kept (resource::undeclared); the rest is ignored.
        let mut expected = user();
        expected.insert("urn:example:custom:1.0:User".into(), json!({"foo": 1}));
        assert_eq!(d, expected);
        assert!(changed);
    }

    #[test]
    fn no_path_value_path_keys_apply_like_paths() {
        // The work email exists: its value is replaced, the home email is untouched.
        let d = patch_user(json!([{"op": "replace", "value": {
            "displayName": "B", "emails[type eq \"work\"].value": "new@example.com"}}]));
        assert_eq!(d["displayName"], json!("B"));
        assert_eq!(
            d["emails"],
            json!([{"value": "new@example.com", "type": "work", "primary": true},
                   {"value": "babs@jensen.org", "type": "home"}])
        );
        // Missing: created, as the same path would be (Entra's upsert).
        let d =
            patch_user(json!([{"op": "add", "value": {"phoneNumbers[type eq \"mobile\"].value": "+1 555"}}]));
        assert_eq!(d["phoneNumbers"], json!([{"type": "mobile", "value": "+1 555"}]));
        // A readOnly target stays ignored, as its plain form is.
        let (d, changed) = patch(
            &USER,
            &user(),
            json!([{"op": "replace", "value": {
            "groups[value eq \"g\"].display": "x"}}]),
        )
        .unwrap();
        assert_eq!(d, user());
        assert!(!changed);
    }

    #[test]
    fn read_only_paths_are_mutability_errors() {
        for path in [
            "id",
            "meta",
            "meta.created",
            "groups",
            "schemas",
            "urn:ietf:params:scim:schemas:core:2.0:User:id",
            "manager.displayName",
            "groups[value eq \"g\"]",
        ] {
            for op in ["add", "replace", "remove"] {
                let e = user_err(json!([{"op": op, "path": path, "value": "x"}]));
                assert_err(&e, 400, Some(ScimType::Mutability), "readOnly");
            }
        }
        let e = user_err(json!([{"op": "replace", "path": "meta.created", "value": "x"}]));
        assert!(e.detail.contains("meta.created"), "{e}");
    }

    static FROZEN_SUBS: [AttrDef; 2] = [
        AttrDef {
            name: "value",
            ty: AttrType::String,
            multi_valued: false,
            description: "v",
            required: false,
            case_exact: true,
            mutability: Mutability::Immutable,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
        },
        AttrDef {
            name: "label",
            ty: AttrType::String,
            multi_valued: false,
            description: "l",
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
        },
    ];
    static FROZEN_ATTRS: [AttrDef; 2] = [
        AttrDef {
            name: "badge",
            ty: AttrType::String,
            multi_valued: false,
            description: "b",
            required: false,
            case_exact: true,
            mutability: Mutability::Immutable,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
        },
        AttrDef {
            name: "tags",
            ty: AttrType::Complex,
            multi_valued: true,
            description: "t",
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &FROZEN_SUBS,
        },
    ];
    static FROZEN_SCHEMA: Schema = Schema {
        id: "urn:example:frozen",
        name: "Frozen",
        description: "d",
        attributes: &FROZEN_ATTRS,
    };
    static FROZEN: ResourceType = ResourceType {
        name: "Frozen",
        endpoint: "/Frozen",
        description: "d",
        schema: &FROZEN_SCHEMA,
        extensions: &[],
        undeclared: crate::scim::schema::Undeclared::Keep,
    };

    #[test]
    fn immutable_attributes_can_be_set_once() {
        let empty = Map::new();
        let (d, _) = patch(
            &FROZEN,
            &empty,
            json!([{"op": "add", "path": "badge", "value": "B1"},
            {"op": "add", "path": "tags", "value": [{"value": "t1"}]}]),
        )
        .unwrap();
        // Same value again: fine.
        patch(
            &FROZEN,
            &d,
            json!([{"op": "replace", "path": "badge", "value": "B1"}]),
        )
        .unwrap();
        for ops in [
            json!([{"op": "replace", "path": "badge", "value": "B2"}]),
            json!([{"op": "remove", "path": "badge"}]),
            json!([{"op": "replace", "path": "tags[value eq \"t1\"].value", "value": "t2"}]),
            json!([{"op": "replace", "path": "tags[value eq \"t1\"]", "value": {"value": "t3"}}]),
        ] {
            let e = patch(&FROZEN, &d, ops.clone()).expect_err(&ops.to_string());
            assert_err(&e, 400, Some(ScimType::Mutability), "immutable");
        }
        // Other sub-attributes of the element stay writable, and new elements may be added.
        let (d2, _) = patch(
            &FROZEN,
            &d,
            json!([{"op": "add", "path": "tags[value eq \"t1\"].label", "value": "L"},
            {"op": "add", "path": "tags", "value": {"value": "t9"}}]),
        )
        .unwrap();
        assert_eq!(
            d2["tags"],
            json!([{"value": "t1", "label": "L"}, {"value": "t9"}])
        );
    }

    // ---- Error paths of apply -------------------------------------------------------------------

    #[test]
    fn apply_errors() {
        use ScimType::*;
        let cases: Vec<(Value, ScimType, &str)> = vec![
            (
                json!([{"op": "add", "value": "x"}]),
                InvalidValue,
                "needs an object value",
            ),
            (
                json!([{"op": "replace", "value": [{"active": false}]}]),
                InvalidValue,
                "needs an object value",
            ),
            (
                json!([{"op": "replace", "path": "fooBar", "value": 1}]),
                InvalidPath,
                "fooBar",
            ),
            (
                json!([{"op": "replace", "path": "name.nope", "value": 1}]),
                InvalidPath,
                "nope",
            ),
            (
                json!([{"op": "replace", "path": "emails[value co \"zzz\"].type", "value": "work"}]),
                NoTarget,
                "no value of \"emails\" matches",
            ),
            (
                json!([{"op": "replace", "path": "emails[type eq \"a\" or type eq \"b\"]", "value": {"value": "x"}}]),
                NoTarget,
                "eq",
            ),
            (
                json!([{"op": "add", "path": "emails[type ne \"work\" and type ne \"home\"].value", "value": "x"}]),
                NoTarget,
                "matches",
            ),
            (
                json!([{"op": "replace", "path": "emails[kind eq \"work\"].value", "value": "x"}]),
                InvalidFilter,
                "no sub-attribute \"kind\"",
            ),
            (
                json!([{"op": "replace", "path": "userName[value eq \"x\"]", "value": "y"}]),
                InvalidPath,
                "cannot select",
            ),
            (
                json!([{"op": "replace", "path": "active", "value": "maybe"}]),
                InvalidValue,
                "",
            ),
            (
                json!([{"op": "replace", "path": "displayName", "value": "ok"}, {"op": "remove", "path": "userName"}]),
                InvalidValue,
                "",
            ),
            (
                json!([{"op": "replace", "path": "displayName", "value": "ok"}, {"op": "replace", "path": "nope", "value": 1}]),
                InvalidPath,
                "operation 2:",
            ),
            (
                json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value": "x"}]),
                InvalidValue,
                "whole schema",
            ),
            (
                json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User[department eq \"x\"]", "value": {}}]),
                InvalidPath,
                "",
            ),
        ];
        for (ops, ty, needle) in cases {
            let e = user_err(ops.clone());
            assert_err(&e, 400, Some(ty), needle);
        }
    }

    #[test]
    fn apply_rejects_a_pathless_remove_built_by_hand() {
        let ops = [PatchOperation {
            op: OpKind::Remove,
            path: None,
            value: None,
        }];
        let e = apply(&USER, &mut user(), &ops).unwrap_err();
        assert_err(&e, 400, Some(ScimType::NoTarget), "operation 1");
    }
}
