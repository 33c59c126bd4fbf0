//! Fixtures and helpers shared by the unit tests of the PATCH engine's parts.

pub(super) use super::{GroupPatch, MAX_PATCH_OPERATIONS, MemberOp, apply, parse_patch, split_group_ops};
pub(super) use crate::scim::PATCH_OP_URN;
pub(super) use crate::scim::error::{ScimError, ScimType};
pub(super) use crate::scim::schema::{
    AttrType, ENTERPRISE_USER_URN, GROUP, ResourceType, Returned, Schema, USER, Uniqueness,
};
pub(super) use proptest::prelude::*;
pub(super) use serde_json::{Map, Value, json};

pub(super) const ENT: &str = ENTERPRISE_USER_URN;

pub(super) fn body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP_URN], "Operations": ops})
}

pub(super) fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

pub(super) fn user() -> Map<String, Value> {
    obj(json!({
        "userName": "bjensen@example.com",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs Jensen",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ]
    }))
}

pub(super) fn group() -> Map<String, Value> {
    obj(json!({"displayName": "Test SCIMv2", "externalId": "8aa1a0c0"}))
}

/// Parse and apply to a copy, as the service does; the copy on success.
pub(super) fn patch(
    rt: &ResourceType,
    doc: &Map<String, Value>,
    ops: Value,
) -> Result<(Map<String, Value>, bool), ScimError> {
    let ops = parse_patch(&body(ops))?;
    let mut copy = doc.clone();
    let changed = apply(rt, &mut copy, &ops)?;
    Ok((copy, changed))
}

pub(super) fn patch_user(ops: Value) -> Map<String, Value> {
    patch_user_from(&user(), ops)
}

pub(super) fn patch_user_from(doc: &Map<String, Value>, ops: Value) -> Map<String, Value> {
    match patch(&USER, doc, ops) {
        Ok((d, _)) => d,
        Err(e) => panic!("patch failed: {e}"),
    }
}

pub(super) fn user_err(ops: Value) -> ScimError {
    user_err_from(&user(), ops)
}

pub(super) fn user_err_from(doc: &Map<String, Value>, ops: Value) -> ScimError {
    match patch(&USER, doc, ops) {
        Ok((d, _)) => panic!("expected an error, got {}", Value::Object(d)),
        Err(e) => e,
    }
}

pub(super) fn assert_err(e: &ScimError, status: u16, ty: Option<ScimType>, needle: &str) {
    assert_eq!((e.status, e.scim_type), (status, ty), "{e}");
    assert!(
        e.detail.contains(needle),
        "detail {:?} lacks {:?}",
        e.detail,
        needle
    );
}

pub(super) fn parse_err(b: Value) -> ScimError {
    parse_patch(&b).expect_err("expected a parse error")
}

pub(super) fn split(ops: Value) -> Result<GroupPatch, ScimError> {
    split_group_ops(parse_patch(&body(ops))?)
}

pub(super) fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}
