//! Group membership: member operations are split off into `MemberOp`s the store applies
//! set-based, so a large group is never loaded to change one member (docs/decisions.md).

use crate::scim::error::ScimError;
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::path::{self, AttrPath, PatchPath};
use crate::scim::schema::GROUP_URN;
use serde_json::Value;
use std::collections::HashSet;

use super::op::{GroupPatch, MemberOp, OpKind, PatchOperation};
use super::parse::{at_operation, get_ci};

/// Split a group's operations into document operations and member-set operations.
pub fn split_group_ops(ops: Vec<PatchOperation>) -> Result<GroupPatch, ScimError> {
    let mut out = GroupPatch {
        doc_ops: Vec::new(),
        member_ops: Vec::new(),
    };
    for (i, op) in ops.into_iter().enumerate() {
        split_one(op, &mut out).map_err(|e| at_operation(i, e))?;
    }
    Ok(out)
}

/// Merges runs of adds and runs of removes into one operation each: a push of 200 single-member
/// `remove` operations (Okta sends one per member) becomes one set-based statement instead of
/// 200, with the same outcome, because adds (or removes) in a row commute.
pub fn coalesce_member_ops(ops: Vec<MemberOp>) -> Vec<MemberOp> {
    let mut out: Vec<MemberOp> = Vec::with_capacity(ops.len());
    for op in ops {
        match (out.last_mut(), op) {
            (Some(MemberOp::Add(run)), MemberOp::Add(more)) => run.extend(more),
            (Some(MemberOp::Remove(run)), MemberOp::Remove(more)) => run.extend(more),
            (_, op) => out.push(op),
        }
    }
    out
}

pub(super) fn split_one(op: PatchOperation, out: &mut GroupPatch) -> Result<(), ScimError> {
    let PatchOperation {
        op: kind,
        path,
        value,
    } = op;
    match path {
        Some(p) if is_members_path(&p.attr) => {
            out.member_ops.push(member_op_for_path(kind, &p, value.as_ref())?);
        }
        Some(p) => out.doc_ops.push(PatchOperation {
            op: kind,
            path: Some(p),
            value,
        }),
        None => match value {
            Some(Value::Object(mut attrs)) if kind != OpKind::Remove => {
                let member_keys: Vec<String> = attrs
                    .keys()
                    .filter(|k| path::parse_attr_path(k).is_ok_and(|p| is_members_path(&p)))
                    .cloned()
                    .collect();
                for key in &member_keys {
                    let member_path = path::parse_attr_path(key)?;
                    if member_path.sub.is_some() {
                        return Err(members_sub_error(key));
                    }
                    let v = attrs.remove(key);
                    out.member_ops.push(member_op_whole(kind, v.as_ref())?);
                }
                if member_keys.is_empty() || !attrs.is_empty() {
                    out.doc_ops.push(PatchOperation {
                        op: kind,
                        path: None,
                        value: Some(Value::Object(attrs)),
                    });
                }
            }
            value => out.doc_ops.push(PatchOperation {
                op: kind,
                path: None,
                value,
            }),
        },
    }
    Ok(())
}

/// `members`, in any case, optionally qualified with the Group URN.
pub(super) fn is_members_path(p: &AttrPath) -> bool {
    p.name.eq_ignore_ascii_case("members")
        && p.urn.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(GROUP_URN))
}

/// A member's sub-attributes cannot be written (RFC 7643 §4.2, §8.7.1: `value`, `$ref` and
/// `type` are immutable; `display` is derived, so readOnly here): a member is added or removed
/// whole, never edited in place.
pub(super) fn members_sub_error(written: &str) -> ScimError {
    ScimError::mutability(format!(
        "\"{written}\": a member's sub-attributes cannot be changed (value, $ref and type are \
         immutable, display is readOnly); members are added or removed as a whole (path \"members\") \
         or selected by value (members[value eq \"<id>\"]), not changed by sub-attribute"
    ))
}

pub(super) fn member_op_for_path(
    kind: OpKind,
    p: &PatchPath,
    value: Option<&Value>,
) -> Result<MemberOp, ScimError> {
    if p.attr.sub.is_some() {
        return Err(members_sub_error(&p.to_string()));
    }
    match (&p.filter, kind) {
        (None, _) => member_op_whole(kind, value),
        (Some(f), OpKind::Remove) => Ok(MemberOp::Remove(dedup(ids_from_filter(f)?))),
        (Some(_), _) => Err(ScimError::invalid_path(format!(
            "{} cannot target members through a filter; send \
             {{\"op\":\"{}\",\"path\":\"members\",\"value\":[{{\"value\":\"<id>\"}}]}}",
            kind.as_str(),
            kind.as_str()
        ))),
    }
}

pub(super) fn member_op_whole(kind: OpKind, value: Option<&Value>) -> Result<MemberOp, ScimError> {
    let value = value.filter(|v| !v.is_null());
    Ok(match (kind, value) {
        // An add of nothing is more likely a client bug than a wish to empty the group.
        (OpKind::Add, None) => {
            return Err(ScimError::invalid_value(
                "add of members needs a value: a list of {\"value\": \"<member id>\"}",
            ));
        }
        (OpKind::Add, Some(v)) => MemberOp::Add(member_ids(v)?),
        (OpKind::Replace, None) => MemberOp::Replace(Vec::new()),
        (OpKind::Replace, Some(v)) => MemberOp::Replace(member_ids(v)?),
        (OpKind::Remove, None) => MemberOp::RemoveAll,
        (OpKind::Remove, Some(v)) => MemberOp::Remove(member_ids(v)?),
    })
}

/// The ids in a members value: an array of `{"value": id}` (or one such object). `$ref`,
/// `display` and `type` are ignored: the id alone names the member. A bare id string is
/// accepted too, its meaning being clear.
pub(super) fn member_ids(v: &Value) -> Result<Vec<String>, ScimError> {
    let elems: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut ids = Vec::with_capacity(elems.len());
    for (i, e) in elems.into_iter().enumerate() {
        let id = match e {
            Value::Object(m) => match get_ci(m, "value").map_err(|e| ScimError::invalid_value(e.detail))? {
                Some(Value::String(s)) => s.as_str(),
                Some(other) => {
                    return Err(ScimError::invalid_value(format!(
                        "member {}: \"value\" must be the member's id as a string, not {other}",
                        i + 1
                    )));
                }
                None => {
                    return Err(ScimError::invalid_value(format!(
                        "member {} has no \"value\"; each member is {{\"value\": \"<member id>\"}}",
                        i + 1
                    )));
                }
            },
            Value::String(s) => s.as_str(),
            other => {
                return Err(ScimError::invalid_value(format!(
                    "member {} must be an object {{\"value\": \"<member id>\"}}, not {other}",
                    i + 1
                )));
            }
        };
        if id.trim().is_empty() {
            return Err(ScimError::invalid_value(format!(
                "member {}: \"value\" is empty",
                i + 1
            )));
        }
        ids.push(id.to_string());
    }
    Ok(dedup(ids))
}

/// `value eq "a"`, or such terms joined by `or`: the only way to pick members without loading them.
pub(super) fn ids_from_filter(f: &Filter) -> Result<Vec<String>, ScimError> {
    match f {
        Filter::Or(a, b) => {
            let mut ids = ids_from_filter(a)?;
            ids.extend(ids_from_filter(b)?);
            Ok(ids)
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.name.eq_ignore_ascii_case("value") && path.sub.is_none() && path.urn.is_none() => {
            match value {
                CompValue::Str(s) if !s.is_empty() => Ok(vec![s.clone()]),
                CompValue::Num(n) => Ok(vec![n.to_string()]),
                _ => Err(members_filter_error()),
            }
        }
        _ => Err(members_filter_error()),
    }
}

pub(super) fn members_filter_error() -> ScimError {
    ScimError::invalid_filter(
        "members can only be selected by value: members[value eq \"<id>\"], \
         optionally several joined with or",
    )
}

/// Drops repeated ids, keeping first occurrences in order; linear, since a member list can
/// hold tens of thousands of ids.
pub(super) fn dedup(ids: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.into_iter().filter(|id| seen.insert(id.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::patch::test_support::*;

    #[test]
    fn okta_membership_remove_and_add() {
        let gp = split(json!([
            {"op": "remove", "path": "members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"},
            {"op": "remove", "path": "members[value eq \"second\"]"},
            {"op": "add", "path": "members", "value": [{"value": "23a35c27", "display": "test.user@okta.local"}]}
        ]))
        .unwrap();
        assert!(gp.doc_ops.is_empty());
        assert_eq!(
            gp.member_ops,
            vec![
                MemberOp::Remove(ids(&["89bb1940-b905-4575-9e7f-6f887cfb368e"])),
                MemberOp::Remove(ids(&["second"])),
                MemberOp::Add(ids(&["23a35c27"])),
            ]
        );
    }

    #[test]
    fn okta_full_push_replaces_members() {
        let gp = split(json!([{"op": "replace", "path": "members", "value": [{"value": "a", "display": "A"}, {"value": "b"}]}]))
            .unwrap();
        assert_eq!(gp.member_ops, vec![MemberOp::Replace(ids(&["a", "b"]))]);
        let gp = split(json!([{"op": "replace", "path": "members", "value": []}])).unwrap();
        assert_eq!(gp.member_ops, vec![MemberOp::Replace(vec![])]);
    }

    // ---- Entra §2.7 -------------------------------------------------------------------------

    #[test]
    fn entra_group_members_both_dialects() {
        let gp = split(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}, {"$ref": null, "value": "second"}]}]))
            .unwrap();
        assert_eq!(
            gp.member_ops,
            vec![MemberOp::Add(ids(&["f648f8d5ea4e4cd38e9c", "second"]))]
        );
        // Default dialect: only the listed members go, never all of them.
        let gp = split(json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}]))
            .unwrap();
        assert_eq!(
            gp.member_ops,
            vec![MemberOp::Remove(ids(&["f648f8d5ea4e4cd38e9c"]))]
        );
        // aadOptscim062020.
        let gp = split(json!([{"op": "remove", "path": "members[value eq \"7f4bc1a3-aa\"]"}])).unwrap();
        assert_eq!(gp.member_ops, vec![MemberOp::Remove(ids(&["7f4bc1a3-aa"]))]);
        let gp = split(json!([{"op": "Replace", "path": "displayName", "value": "renamed"}])).unwrap();
        assert!(gp.member_ops.is_empty());
        let mut doc = group();
        apply(&GROUP, &mut doc, &gp.doc_ops).unwrap();
        assert_eq!(doc["displayName"], json!("renamed"));
    }

    #[test]
    fn member_paths_in_every_spelling() {
        let gp = split(json!([
            {"op": "remove", "path": "Members"},
            {"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:members", "value": {"value": "x"}},
            {"op": "remove", "path": "MEMBERS[VALUE eq \"a\" or value eq \"b\"]"},
            {"op": "remove", "path": "members", "value": []},
            {"op": "add", "path": "members", "value": ["bare", "bare"]}
        ]))
        .unwrap();
        assert_eq!(
            gp.member_ops,
            vec![
                MemberOp::RemoveAll,
                MemberOp::Add(ids(&["x"])),
                MemberOp::Remove(ids(&["a", "b"])),
                MemberOp::Remove(vec![]),
                MemberOp::Add(ids(&["bare"])),
            ]
        );
    }

    #[test]
    fn no_path_value_with_members_splits_in_two() {
        let gp = split(
            json!([{"op": "replace", "value": {"displayName": "New", "Members": [{"value": "a"}]}},
            {"op": "add", "value": {"members": [{"value": "b"}]}}]),
        )
        .unwrap();
        assert_eq!(
            gp.member_ops,
            vec![MemberOp::Replace(ids(&["a"])), MemberOp::Add(ids(&["b"]))]
        );
        assert_eq!(
            gp.doc_ops,
            vec![PatchOperation {
                op: OpKind::Replace,
                path: None,
                value: Some(json!({"displayName": "New"}))
            }]
        );
    }

    #[test]
    fn member_errors() {
        use ScimType::*;
        let cases: Vec<(Value, ScimType, &str)> = vec![
            (
                json!([{"op": "remove", "path": "members[display eq \"x\"]"}]),
                InvalidFilter,
                "members can only be selected by value",
            ),
            (
                json!([{"op": "remove", "path": "members[value co \"x\"]"}]),
                InvalidFilter,
                "by value",
            ),
            (
                json!([{"op": "remove", "path": "members[value eq \"a\" and value eq \"b\"]"}]),
                InvalidFilter,
                "by value",
            ),
            (
                json!([{"op": "add", "path": "members[value eq \"x\"]", "value": {"value": "x"}}]),
                InvalidPath,
                "cannot target members through a filter",
            ),
            (
                json!([{"op": "replace", "path": "members[value eq \"x\"]", "value": {"value": "x"}}]),
                InvalidPath,
                "filter",
            ),
            (
                json!([{"op": "replace", "path": "displayName", "value": "n"}, {"op": "add", "path": "members", "value": [{"display": "x"}]}]),
                InvalidValue,
                "operation 2: member 1 has no \"value\"",
            ),
            (
                json!([{"op": "add", "path": "members", "value": [{"value": 5}]}]),
                InvalidValue,
                "must be the member's id as a string",
            ),
            (
                json!([{"op": "add", "path": "members", "value": [{"value": ""}]}]),
                InvalidValue,
                "is empty",
            ),
            (
                json!([{"op": "add", "path": "members", "value": [7]}]),
                InvalidValue,
                "must be an object",
            ),
            (
                json!([{"op": "add", "path": "members", "value": null}]),
                InvalidValue,
                "needs a value",
            ),
            (
                json!([{"op": "remove", "path": "members.value"}]),
                Mutability,
                "are immutable",
            ),
            (
                json!([{"op": "replace", "path": "members[value eq \"x\"].display", "value": "y"}]),
                Mutability,
                "display is readOnly",
            ),
            (
                json!([{"op": "add", "value": {"members.value": "x"}}]),
                Mutability,
                "not changed by sub-attribute",
            ),
        ];
        for (ops, ty, needle) in cases {
            let e = split(ops.clone()).expect_err(&ops.to_string());
            assert_err(&e, 400, Some(ty), needle);
        }
    }

    #[test]
    fn apply_refuses_member_paths_that_were_not_split() {
        let ops = parse_patch(&body(
            json!([{"op": "add", "path": "members", "value": [{"value": "a"}]}]),
        ))
        .unwrap();
        let e = apply(&GROUP, &mut group(), &ops).unwrap_err();
        assert_eq!(e.status, 500);
    }

    #[test]
    fn runs_of_member_adds_and_removes_become_one_operation_each() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ops = vec![
            MemberOp::Remove(ids(&["a"])),
            MemberOp::Remove(ids(&["b"])),
            MemberOp::Add(ids(&["c"])),
            MemberOp::Add(ids(&["d", "e"])),
            MemberOp::Remove(ids(&["c"])),
            MemberOp::RemoveAll,
            MemberOp::RemoveAll,
            MemberOp::Replace(ids(&["f"])),
            MemberOp::Replace(ids(&["g"])),
        ];
        assert_eq!(
            coalesce_member_ops(ops),
            vec![
                MemberOp::Remove(ids(&["a", "b"])),
                MemberOp::Add(ids(&["c", "d", "e"])),
                MemberOp::Remove(ids(&["c"])),
                MemberOp::RemoveAll,
                MemberOp::RemoveAll,
                MemberOp::Replace(ids(&["f"])),
                MemberOp::Replace(ids(&["g"])),
            ]
        );
    }
}
