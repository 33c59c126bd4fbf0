//! Reading a PatchOp message (RFC 7644 §3.5.2) into operations: case-insensitive keys and `op`
//! values, the `schemas` check and the operation limit. Nothing here looks at a document.

use crate::scim::PATCH_OP_URN;
use crate::scim::error::ScimError;
use crate::scim::path;
use serde_json::{Map, Value};

use super::op::{OpKind, PatchOperation};

/// Most operations one PatchOp may hold. IdPs send a handful (membership changes go in one
/// operation's value list); the bound keeps the cost of one request proportional to its size.
pub const MAX_PATCH_OPERATIONS: usize = 1000;

/// Parse a PatchOp body: `schemas` must hold the PatchOp URN, `Operations` a non-empty array;
/// `op` is case-insensitive. 400 `invalidSyntax` / `invalidPath` / `invalidValue` otherwise.
pub fn parse_patch(body: &Value) -> Result<Vec<PatchOperation>, ScimError> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax(
            "a PATCH body must be a JSON object: a PatchOp message with \"schemas\" and \"Operations\"",
        ));
    };
    if let Some(schemas) = get_ci(body, "schemas")?
        && !names_patch_op(schemas)
    {
        return Err(ScimError::invalid_syntax(format!(
            "\"schemas\" must contain \"{PATCH_OP_URN}\""
        )));
    }
    let ops = match get_ci(body, "Operations")? {
        Some(Value::Array(ops)) if !ops.is_empty() => ops,
        Some(Value::Array(_)) => {
            return Err(ScimError::invalid_syntax(
                "\"Operations\" is empty: a PatchOp needs at least one operation",
            ));
        }
        Some(_) => {
            return Err(ScimError::invalid_syntax(
                "\"Operations\" must be an array of operations such as \
                 {\"op\":\"replace\",\"path\":\"active\",\"value\":false}",
            ));
        }
        None => {
            return Err(ScimError::invalid_syntax(
                "a PatchOp needs \"Operations\": a non-empty array of operations",
            ));
        }
    };
    if ops.len() > MAX_PATCH_OPERATIONS {
        return Err(ScimError::invalid_value(format!(
            "the PatchOp has {} operations; at most {MAX_PATCH_OPERATIONS} are accepted in one request",
            ops.len()
        )));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_operation(op).map_err(|e| at_operation(i, e)))
        .collect()
}

pub(super) fn names_patch_op(schemas: &Value) -> bool {
    match schemas {
        Value::Array(urns) => urns.iter().any(|u| {
            u.as_str()
                .is_some_and(|u| u.trim().eq_ignore_ascii_case(PATCH_OP_URN))
        }),
        // A bare string instead of a one-element array still says what the message is.
        Value::String(u) => u.trim().eq_ignore_ascii_case(PATCH_OP_URN),
        _ => false,
    }
}

pub(super) fn parse_operation(op: &Value) -> Result<PatchOperation, ScimError> {
    let Value::Object(op) = op else {
        return Err(ScimError::invalid_syntax(
            "must be an object with \"op\" and, as needed, \"path\" and \"value\"",
        ));
    };
    let kind = match get_ci(op, "op")? {
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "add" => OpKind::Add,
            "remove" => OpKind::Remove,
            "replace" => OpKind::Replace,
            _ => {
                return Err(ScimError::invalid_syntax(format!(
                    "op \"{s}\" is not supported; use \"add\", \"remove\" or \"replace\""
                )));
            }
        },
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "\"op\" must be a string (\"add\", \"remove\" or \"replace\"), not {other}"
            )));
        }
        None => {
            return Err(ScimError::invalid_syntax(
                "\"op\" is missing; use \"add\", \"remove\" or \"replace\"",
            ));
        }
    };
    let path = match get_ci(op, "path")? {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(path::parse_patch_path(s.trim())?),
        Some(other) => {
            return Err(ScimError::invalid_path(format!(
                "\"path\" must be a string such as \"name.givenName\" or \
                 \"emails[type eq \\\"work\\\"].value\", not {other}"
            )));
        }
    };
    let value = get_ci(op, "value")?.cloned();
    match kind {
        OpKind::Remove if path.is_none() => Err(ScimError::no_target(
            "remove needs a \"path\" naming what to remove",
        )),
        OpKind::Add | OpKind::Replace if value.is_none() => Err(ScimError::invalid_value(format!(
            "{} needs a \"value\"",
            kind.as_str()
        ))),
        _ => Ok(PatchOperation {
            op: kind,
            path,
            value,
        }),
    }
}

/// The value under `key`, compared case-insensitively (clients write `Operations`,
/// `operations`, `Op`). Two spellings of one key are ambiguous, so they are refused.
pub(super) fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Result<Option<&'a Value>, ScimError> {
    let mut found = map.iter().filter(|(k, _)| k.eq_ignore_ascii_case(key));
    let first = found.next();
    if let (Some((a, _)), Some((b, _))) = (first, found.next()) {
        return Err(ScimError::invalid_syntax(format!(
            "\"{a}\" and \"{b}\" both appear; keys are case-insensitive, so send \"{key}\" once"
        )));
    }
    Ok(first.map(|(_, v)| v))
}

pub(super) fn at_operation(index: usize, e: ScimError) -> ScimError {
    ScimError {
        detail: format!("operation {}: {}", index + 1, e.detail),
        ..e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::patch::test_support::*;

    // ---- parse_patch ------------------------------------------------------------------------

    #[test]
    fn parses_okta_deactivate_without_path() {
        let ops = parse_patch(&body(json!([{"op": "replace", "value": {"active": false}}]))).unwrap();
        assert_eq!(
            ops,
            vec![PatchOperation {
                op: OpKind::Replace,
                path: None,
                value: Some(json!({"active": false}))
            }]
        );
    }

    #[test]
    fn parses_entra_capitalised_ops_and_keys_in_any_case() {
        let b = json!({"SCHEMAS": [PATCH_OP_URN.to_lowercase()], "operations": [
            {"Op": "Add", "Path": "nickName", "Value": "Babs"},
            {"OP": "Replace", "path": "active", "value": "False"},
            {"op": "Remove", "path": "title"}
        ]});
        let ops = parse_patch(&b).unwrap();
        assert_eq!(
            ops.iter().map(|o| o.op).collect::<Vec<_>>(),
            [OpKind::Add, OpKind::Replace, OpKind::Remove]
        );
        assert_eq!(ops[0].path.as_ref().unwrap().attr.name, "nickName");
        assert_eq!(ops[1].value, Some(json!("False")));
        assert_eq!(ops[2].value, None);
    }

    #[test]
    fn schemas_may_be_missing_and_empty_path_means_no_path() {
        let ops =
            parse_patch(&json!({"Operations": [{"op": "add", "path": "", "value": {"nickName": "B"}}]}))
                .unwrap();
        assert_eq!(ops[0].path, None);
        let ops =
            parse_patch(&json!({"Operations": [{"op": "add", "path": null, "value": {"nickName": "B"}}]}))
                .unwrap();
        assert_eq!(ops[0].path, None);
    }

    #[test]
    fn parses_filtered_paths() {
        let ops = parse_patch(&body(
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "x@y"}]),
        ))
        .unwrap();
        let p = ops[0].path.as_ref().unwrap();
        assert_eq!(
            (p.attr.name.as_str(), p.attr.sub.as_deref()),
            ("emails", Some("value"))
        );
        assert!(p.filter.is_some());
    }

    #[test]
    fn parse_errors_say_what_is_wrong() {
        use ScimType::*;
        let cases: Vec<(Value, ScimType, &str)> = vec![
            (json!([1]), InvalidSyntax, "must be a JSON object"),
            (json!("x"), InvalidSyntax, "must be a JSON object"),
            (
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": [{"op": "add", "value": {}}]}),
                InvalidSyntax,
                PATCH_OP_URN,
            ),
            (
                json!({"schemas": 5, "Operations": [{"op": "add", "value": {}}]}),
                InvalidSyntax,
                "must contain",
            ),
            (
                json!({"schemas": [PATCH_OP_URN]}),
                InvalidSyntax,
                "needs \"Operations\"",
            ),
            (body(json!([])), InvalidSyntax, "is empty"),
            (body(json!({"op": "add"})), InvalidSyntax, "must be an array"),
            (
                body(json!([{"op": "add", "value": {}}, 7])),
                InvalidSyntax,
                "operation 2: must be an object",
            ),
            (
                body(json!([{"path": "x", "value": 1}])),
                InvalidSyntax,
                "operation 1: \"op\" is missing",
            ),
            (
                body(json!([{"op": "move", "path": "x"}])),
                InvalidSyntax,
                "op \"move\" is not supported; use \"add\", \"remove\" or \"replace\"",
            ),
            (
                body(json!([{"op": true}])),
                InvalidSyntax,
                "\"op\" must be a string",
            ),
            (
                body(json!([{"op": "add", "Op": "remove", "path": "x", "value": 1}])),
                InvalidSyntax,
                "both appear",
            ),
            (
                body(json!([{"op": "remove", "path": 3}])),
                InvalidPath,
                "\"path\" must be a string",
            ),
            (
                body(json!([{"op": "replace", "path": "name givenName", "value": 1}])),
                InvalidPath,
                "operation 1:",
            ),
            (
                body(json!([{"op": "remove"}])),
                NoTarget,
                "remove needs a \"path\"",
            ),
            (
                body(json!([{"op": "remove", "path": "  "}])),
                NoTarget,
                "remove needs a \"path\"",
            ),
            (
                body(json!([{"op": "add", "path": "x", "value": 1}, {"op": "add", "path": "nickName"}])),
                InvalidValue,
                "operation 2: add needs a \"value\"",
            ),
            (
                body(json!([{"op": "Replace", "path": "nickName"}])),
                InvalidValue,
                "replace needs a \"value\"",
            ),
        ];
        for (b, ty, needle) in cases {
            let e = parse_err(b.clone());
            assert_err(&e, 400, Some(ty), needle);
        }
    }

    #[test]
    fn a_syntax_error_inside_a_path_filter_passes_through() {
        let e = parse_err(body(json!([{"op": "remove", "path": "emails[type eq]"}])));
        assert_eq!(e.status, 400);
        assert!(
            matches!(e.scim_type, Some(ScimType::InvalidFilter | ScimType::InvalidPath)),
            "{e}"
        );
        assert!(e.detail.starts_with("operation 1: "), "{e}");
    }
}
