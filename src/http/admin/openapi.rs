//! The admin API's OpenAPI document: utoipa builds it from the handlers' annotations, and
//! `finish` adds in one place what holds for every operation, so no handler has to repeat it
//! and none can forget it:
//!
//! - the error answers every operation can give, with the error body's schema (RFC 9457
//!   problem details, `application/problem+json`): 401 (token),
//!   429 (rate limit), 503 (database unavailable); 400 where the operation reads a query or a
//!   body; 404 where the path names a resource; 413 and 415 where it reads a body. Errors a
//!   handler declares itself (403 of the IdP-managed lock, 409, 412) get the same body schema;
//! - two rules of every request string: it never contains U+0000 (no store can keep it, so
//!   the server refuses it), and `minLength: 1` means "not blank", as the server checks it
//!   (Rust's `trim`, so the pattern lists Unicode's `White_Space` characters exactly);
//! - links from each creating operation to those that use what it created, which the fuzzer's
//!   stateful phase follows (and a reader can too).
//!
//! It works on the JSON form of the document, which is what is served.

use serde_json::{Map, Value, json};

use crate::http::error::{PROBLEM_CODES, PROBLEM_CONTENT_TYPE};

/// No U+0000 anywhere in the string.
pub const NO_NUL: &str = "^[^\\u0000]*$";
/// No U+0000, and one character that is neither U+0000 nor whitespace (`char::is_whitespace`).
pub const NOT_BLANK: &str = "^[^\\u0000]*[^\\u0000\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$";

const ERROR_SCHEMA: &str = "#/components/schemas/Problem";

/// Adds the common answers, the string rules and the links to a generated document.
pub fn finish(doc: &mut Value) {
    describe_extension_data(doc);
    add_error_components(doc);
    let mut request_refs = Vec::new();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for op in item.values_mut() {
                if let Some(op) = op.as_object_mut() {
                    add_common_errors(op);
                    collect_refs(op.get("requestBody").unwrap_or(&Value::Null), &mut request_refs);
                    for param in op
                        .get_mut("parameters")
                        .and_then(Value::as_array_mut)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(schema) = param.get_mut("schema") {
                            collect_refs(schema, &mut request_refs);
                            restrict_strings(schema);
                        }
                    }
                    if let Some(body) = op.get_mut("requestBody") {
                        optional_body_is_absent_not_null(body);
                        if let Some(content) = body.get_mut("content") {
                            restrict_strings(content);
                        }
                    }
                }
            }
        }
    }
    // Schemas that requests use, and those they use in turn.
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = request_refs.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = doc.pointer_mut(&format!("/components/schemas/{name}")) {
            collect_refs(schema, &mut request_refs);
            restrict_strings(schema);
        }
    }
    restrict_identifiers(doc);
    add_links(doc);
}

/// The `extensions` of an exported user or group: by URN, by attribute, a value of the shapes
/// extension data has (RFC 7643 §2.3.8: complex attributes one level deep; what
/// `scim::resource::undeclared` keeps too): a scalar, an object of scalars, or an array of
/// scalars and such objects. utoipa cannot say this from the Rust type (a `serde_json::Value`);
/// the string rules are added by `restrict_strings` like everywhere else.
fn describe_extension_data(doc: &mut Value) {
    let scalar = json!({"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]});
    let object_of_scalars = json!({
        "type": "object", "propertyNames": {"type": "string"}, "additionalProperties": scalar
    });
    let value = json!({"anyOf": [
        scalar,
        object_of_scalars,
        {"type": "array", "items": {"anyOf": [scalar, object_of_scalars]}}
    ]});
    let schema = json!({
        "type": ["object", "null"],
        "description": "Data under the account's own extension schemas, by URN, then by attribute; null when there is none.",
        "propertyNames": {"type": "string"},
        "additionalProperties": {
            "type": "object", "propertyNames": {"type": "string"}, "additionalProperties": value
        }
    });
    for name in ["ExportUser", "ExportGroup"] {
        if let Some(props) = doc
            .pointer_mut(&format!("/components/schemas/{name}/properties"))
            .and_then(Value::as_object_mut)
        {
            props.insert("extensions".into(), schema.clone());
        }
    }
}

/// A handler's `Option<T>` body is optional (`required` absent): no body means the default. A
/// `null` body is still refused, so the schema is `T`, not utoipa's `oneOf [T, null]`.
fn optional_body_is_absent_not_null(body: &mut Value) {
    if body.get("required") == Some(&Value::Bool(true)) {
        return;
    }
    let Some(content) = body.get_mut("content").and_then(Value::as_object_mut) else {
        return;
    };
    for media in content.values_mut() {
        let Some(one_of) = media.pointer("/schema/oneOf").and_then(Value::as_array) else {
            continue;
        };
        let not_null: Vec<Value> = one_of
            .iter()
            .filter(|s| s.get("type") != Some(&json!("null")))
            .cloned()
            .collect();
        if let [only] = not_null.as_slice() {
            media["schema"] = only.clone();
        }
    }
}

fn error_response(description: &str, headers: Value) -> Value {
    let mut res = json!({
        "description": description,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": ERROR_SCHEMA}}}
    });
    if headers.as_object().is_some_and(|h| !h.is_empty()) {
        res["headers"] = headers;
    }
    res
}

fn add_error_components(doc: &mut Value) {
    let components = doc
        .as_object_mut()
        .map(|d| d.entry("components").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut);
    let Some(components) = components else { return };
    let schemas = components.entry("schemas").or_insert_with(|| json!({}));
    schemas["Problem"] = json!({
        "type": "object",
        "description": "Problem details (RFC 9457), served as application/problem+json.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {
                "type": "string",
                "enum": ["about:blank"],
                "description": "Always about:blank: the status and its title say what kind of problem it is."
            },
            "title": {"type": "string", "description": "The HTTP status's reason phrase."},
            "status": {"type": "integer", "minimum": 400, "maximum": 599, "description": "The HTTP status."},
            "detail": {"type": "string", "description": "What was wrong and how to fix it."},
            "code": {
                "type": "string",
                "enum": PROBLEM_CODES,
                "description": "A finer kind of problem, when there is one (e.g. `invalidValue` of a \
                                400, `uniqueness` of a 409)."
            }
        }
    });
    let retry_after = json!({"Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 0}
    }});
    let responses = components.entry("responses").or_insert_with(|| json!({}));
    for (name, description, headers) in [
        (
            "BadRequest",
            "A query parameter or the body does not fit this document; `detail` names it and \
             says what it takes (`code` `invalidValue`, `invalidSyntax` or `invalidFilter`).",
            json!({}),
        ),
        (
            "Unauthorized",
            "No bearer token, or not a valid admin token of this account.",
            json!({"WWW-Authenticate": {"schema": {"type": "string"}}}),
        ),
        (
            "NotFound",
            "The account has no such resource (an id that is not a UUID names none).",
            json!({}),
        ),
        (
            "PayloadTooLarge",
            "The body is larger than the server's `max_body_bytes`.",
            json!({}),
        ),
        (
            "UnsupportedMediaType",
            "The body's Content-Type is not JSON (send application/json).",
            json!({}),
        ),
        (
            "TooManyRequests",
            "The account's request budget is spent (`rate_limit_per_second`).",
            retry_after.clone(),
        ),
        ("Unavailable", "The database is unavailable.", retry_after),
    ] {
        responses[name] = error_response(description, headers);
    }
}

fn add_common_errors(op: &mut Map<String, Value>) {
    let params = op
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let is_in = |place: &str, p: &Value| p.get("in").and_then(Value::as_str) == Some(place);
    let reads_query = params.iter().any(|p| is_in("query", p));
    let names_resource = params
        .iter()
        .any(|p| is_in("path", p) && p.get("name").and_then(Value::as_str) != Some("account_id"));
    let reads_body = op.contains_key("requestBody");
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    let mut common = vec![
        ("401", "Unauthorized"),
        ("429", "TooManyRequests"),
        ("503", "Unavailable"),
    ];
    if reads_query || reads_body {
        common.push(("400", "BadRequest"));
    }
    if names_resource {
        common.push(("404", "NotFound"));
    }
    if reads_body {
        common.push(("413", "PayloadTooLarge"));
        common.push(("415", "UnsupportedMediaType"));
    }
    for (status, name) in common {
        responses
            .entry(status)
            .or_insert_with(|| json!({"$ref": format!("#/components/responses/{name}")}));
    }
    for (status, res) in responses.iter_mut() {
        // OpenAPI requires a description; utoipa leaves it out where a handler gave none.
        if let Some(res) = res.as_object_mut()
            && !res.contains_key("$ref")
            && !res.contains_key("description")
        {
            let reason = status
                .parse::<u16>()
                .ok()
                .and_then(|s| axum::http::StatusCode::from_u16(s).ok())
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Answer");
            res.insert("description".into(), json!(reason));
        }
        // Errors the handler declares itself carry the same body.
        if status.starts_with(['4', '5'])
            && let Some(res) = res.as_object_mut()
            && !res.contains_key("$ref")
            && !res.contains_key("content")
        {
            res.insert(
                "content".into(),
                json!({PROBLEM_CONTENT_TYPE: {"schema": {"$ref": ERROR_SCHEMA}}}),
            );
        }
    }
    // Keep the responses in status order, as a reader expects.
    let mut sorted: Vec<(String, Value)> = std::mem::take(responses).into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    responses.extend(sorted);
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                out.push(name.to_string());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn is_string_schema(map: &Map<String, Value>) -> bool {
    match map.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
        _ => false,
    }
}

/// The request properties that are identifiers (`scim::lookalike`): no control or invisible
/// character. A user's display_name is free text; a group's is its name.
const IDENTIFIER_FIELDS: [(&str, &[&str]); 4] = [
    ("UserCreate", &["user_name", "email"]),
    ("UserUpdate", &["user_name", "email"]),
    ("GroupCreate", &["display_name"]),
    ("GroupUpdate", &["display_name"]),
];

/// Narrows the identifier properties' patterns to what the server accepts.
fn restrict_identifiers(doc: &mut Value) {
    for (component, fields) in IDENTIFIER_FIELDS {
        let Some(props) = doc
            .pointer_mut(&format!("/components/schemas/{component}/properties"))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        for field in fields {
            if let Some(Value::Object(s)) = props.get_mut(*field)
                && is_string_schema(s)
                && !["format", "enum", "const"].iter().any(|k| s.contains_key(*k))
            {
                let not_blank = s.get("minLength").and_then(Value::as_u64) == Some(1)
                    || s.get("pattern").and_then(Value::as_str) == Some(NOT_BLANK);
                s.insert("pattern".into(), json!(identifier_pattern(not_blank)));
            }
        }
    }
}

/// The pattern of an identifier: no forbidden character, and when `not_blank`, one that is not
/// whitespace either.
fn identifier_pattern(not_blank: bool) -> String {
    let class = crate::scim::lookalike::forbidden_class();
    if not_blank {
        format!(
            "^[^{class}]*[^{class} \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^{class}]*$"
        )
    } else {
        format!("^[^{class}]*$")
    }
}

/// Gives every free-text string schema under `value` its pattern.
fn restrict_strings(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let free_text = is_string_schema(map)
                && !["format", "enum", "const", "pattern"]
                    .iter()
                    .any(|k| map.contains_key(*k));
            if free_text {
                let not_blank = map.get("minLength").and_then(Value::as_u64) == Some(1);
                let pattern = if not_blank { NOT_BLANK } else { NO_NUL };
                map.insert("pattern".into(), json!(pattern));
            }
            map.values_mut().for_each(restrict_strings);
        }
        Value::Array(items) => items.iter_mut().for_each(restrict_strings),
        _ => {}
    }
}

/// A link from a response of one operation to another operation, its parameters given as
/// OpenAPI runtime expressions.
struct Link {
    from: &'static str,
    status: &'static str,
    name: &'static str,
    to: &'static str,
    params: &'static [(&'static str, &'static str)],
}

const fn link(
    from: &'static str,
    status: &'static str,
    name: &'static str,
    to: &'static str,
    params: &'static [(&'static str, &'static str)],
) -> Link {
    Link {
        from,
        status,
        name,
        to,
        params,
    }
}

const USER_ID: &[(&str, &str)] = &[("user_id", "$response.body#/id")];
const GROUP_ID: &[(&str, &str)] = &[("group_id", "$response.body#/id")];
const TOKEN_ID: &[(&str, &str)] = &[("token_id", "$response.body#/id")];

const LINKS: &[Link] = &[
    link("create_user", "201", "GetUser", "get_user", USER_ID),
    link("create_user", "201", "UpdateUser", "update_user", USER_ID),
    link("create_user", "201", "DeleteUser", "delete_user", USER_ID),
    link("create_group", "201", "GetGroup", "get_group", GROUP_ID),
    link("create_group", "201", "UpdateGroup", "update_group", GROUP_ID),
    link("create_group", "201", "DeleteGroup", "delete_group", GROUP_ID),
    link("create_group", "201", "ListMembers", "list_members", GROUP_ID),
    link("create_group", "201", "AddMembers", "add_members", GROUP_ID),
    link(
        "create_group",
        "201",
        "ListGroupBindings",
        "list_group_bindings",
        GROUP_ID,
    ),
    link("create_group", "201", "AddBinding", "add_binding", GROUP_ID),
    link(
        "add_members",
        "200",
        "RemoveMember",
        "remove_member",
        &[
            ("group_id", "$request.path.group_id"),
            ("user_id", "$request.body#/user_ids/0"),
        ],
    ),
    link(
        "add_binding",
        "201",
        "DeleteBinding",
        "delete_binding",
        &[
            ("group_id", "$response.body#/group_id"),
            ("binding_id", "$response.body#/id"),
        ],
    ),
    link("create_token", "201", "RevokeToken", "revoke_token", TOKEN_ID),
    link(
        "create_token",
        "201",
        "RegenerateToken",
        "regenerate_token",
        TOKEN_ID,
    ),
    link("regenerate_token", "201", "RevokeToken", "revoke_token", TOKEN_ID),
    link(
        "regenerate_token",
        "201",
        "RegenerateToken",
        "regenerate_token",
        TOKEN_ID,
    ),
];

fn add_links(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in item.values_mut().filter_map(Value::as_object_mut) {
            let id = op
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            for l in LINKS.iter().filter(|l| l.from == id) {
                let Some(res) = op
                    .get_mut("responses")
                    .and_then(|r| r.get_mut(l.status))
                    .and_then(Value::as_object_mut)
                else {
                    continue;
                };
                let mut parameters = Map::new();
                parameters.insert("account_id".into(), json!("$request.path.account_id"));
                for (param, expr) in l.params {
                    parameters.insert((*param).into(), json!(expr));
                }
                let links = res.entry("links").or_insert_with(|| json!({}));
                links[l.name] = json!({"operationId": l.to, "parameters": parameters});
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NOT_BLANK's class must be exactly what `str::trim` removes, or the document and the
    /// server would disagree on what "blank" is.
    #[test]
    fn not_blank_lists_exactly_rusts_whitespace() {
        let rust: Vec<u32> = (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace())
            .map(u32::from)
            .collect();
        let listed: Vec<u32> = [
            0x09..=0x0D,
            0x20..=0x20,
            0x85..=0x85,
            0xA0..=0xA0,
            0x1680..=0x1680,
        ]
        .into_iter()
        .chain([0x2000..=0x200A, 0x2028..=0x2029, 0x202F..=0x202F, 0x205F..=0x205F])
        .chain([0x3000..=0x3000])
        .flatten()
        .collect();
        assert_eq!(rust, listed);
        assert!(
            NOT_BLANK
                .contains("\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]")
        );
    }

    #[test]
    fn common_errors_follow_what_an_operation_reads() {
        let mut doc = json!({"paths": {
            "/a/{account_id}/x/{id}": {"patch": {
                "operationId": "x",
                "parameters": [{"name": "account_id", "in": "path"}, {"name": "id", "in": "path"}],
                "requestBody": {"content": {"application/json": {"schema": {"type": "object",
                    "properties": {"n": {"type": "string", "minLength": 1}, "e": {"type": ["string", "null"]},
                                   "u": {"type": "string", "format": "uuid"}}}}}},
                "responses": {"200": {}, "409": {"description": "taken"}}
            }},
            "/a/{account_id}/y": {"get": {
                "parameters": [{"name": "account_id", "in": "path"}],
                "responses": {"200": {"description": "ok"}}
            }}
        }});
        finish(&mut doc);
        let x = &doc["paths"]["/a/{account_id}/x/{id}"]["patch"];
        let statuses: Vec<&String> = x["responses"].as_object().unwrap().keys().collect();
        assert_eq!(
            statuses,
            ["200", "400", "401", "404", "409", "413", "415", "429", "503"]
        );
        assert_eq!(x["responses"]["200"]["description"], "OK");
        assert_eq!(
            x["responses"]["409"]["content"][PROBLEM_CONTENT_TYPE]["schema"]["$ref"],
            ERROR_SCHEMA
        );
        let props = &x["requestBody"]["content"]["application/json"]["schema"]["properties"];
        assert_eq!(props["n"]["pattern"], NOT_BLANK);
        assert_eq!(props["e"]["pattern"], NO_NUL);
        assert!(props["u"].get("pattern").is_none());
        let y = &doc["paths"]["/a/{account_id}/y"]["get"];
        let statuses: Vec<&String> = y["responses"].as_object().unwrap().keys().collect();
        assert_eq!(statuses, ["200", "401", "429", "503"]);
        assert!(doc["components"]["responses"]["NotFound"]["content"].is_object());
    }
}
