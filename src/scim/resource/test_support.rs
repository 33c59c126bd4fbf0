//! Fixtures and helpers shared by the unit tests of the resource parts.

pub(super) use super::{MAX_VALUES, normalize, project, validate};
pub(super) use crate::scim::attr_path::AttrPath;
pub(super) use crate::scim::error::{ScimError, ScimType};
pub(super) use crate::scim::schema::{AttrDef, ENTERPRISE_USER_URN, GROUP, ResourceType, USER, USER_URN};
pub(super) use serde_json::{Map, Value, json};

pub(super) fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

pub(super) fn norm(rt: &ResourceType, v: Value) -> Value {
    Value::Object(normalize(rt, &v).unwrap())
}

pub(super) fn err(rt: &ResourceType, v: Value) -> ScimError {
    normalize(rt, &v).unwrap_err()
}

pub(super) fn p(s: &str) -> AttrPath {
    // A tiny stand-in for path::parse_attr_path (owned by someone else), enough for tests.
    let (urn, rest) = if s.to_ascii_lowercase().starts_with("urn:") {
        let i = s.rfind(':').unwrap();
        (Some(s[..i].to_string()), &s[i + 1..])
    } else {
        (None, s)
    };
    let (name, sub) = match rest.split_once('.') {
        Some((n, sub)) => (n.to_string(), Some(sub.to_string())),
        None => (rest.to_string(), None),
    };
    AttrPath { urn, name, sub }
}

pub(super) fn clone_def(a: &'static AttrDef) -> AttrDef {
    AttrDef {
        name: a.name,
        ty: a.ty,
        multi_valued: a.multi_valued,
        description: a.description,
        required: a.required,
        case_exact: a.case_exact,
        mutability: a.mutability,
        returned: a.returned,
        uniqueness: a.uniqueness,
        canonical_values: a.canonical_values,
        reference_types: a.reference_types,
        sub_attributes: a.sub_attributes,
    }
}
