//! `/Bulk` (RFC 7644 §3.7), the pure part: parse a BulkRequest, find the `bulkId:`
//! references of each operation, order the operations so that a POST runs before the
//! operations that reference what it creates, and substitute the created ids.
//!
//! Decisions (docs/decisions.md has the why):
//! - A path names `/Users`, `/Users/{id}`, `/Groups` or `/Groups/{id}` relative to the caller's
//!   own SCIM base URL, nothing else: no other account, no absolute URL, no query string.
//! - A reference is a whole JSON string `"bulkId:<id>"`, anywhere in `data` (a member's
//!   `value`, the enterprise `manager.value`, …) or as the id of the path
//!   (`/Users/bulkId:u1`). Only a POST's `bulkId` can be referenced, because only a POST
//!   creates an id.
//! - Operations run in request order, except that an operation waits for the POSTs it
//!   references (a stable topological order). Operations left over are in, or depend on, a
//!   reference cycle: they are not run and answer 409 (RFC 7644 §3.7.1 allows stopping there).
//! - What is wrong with one operation is that operation's error, not the request's; what is
//!   wrong with the request as a whole (not an object, wrong `schemas`, `Operations` missing,
//!   a `bulkId` used twice, too many operations) fails the request.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use serde_json::{Map, Value};

use crate::scim::error::ScimError;
use crate::scim::{BULK_REQUEST_URN, PATCH_OP_URN};

/// The prefix of a reference to the resource a POST of the same request creates.
pub const BULK_ID_PREFIX: &str = "bulkId:";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// The resource endpoints a bulk operation may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Users,
    Groups,
}

impl Endpoint {
    /// `/Users` or `/Groups`.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Users => "/Users",
            Endpoint::Groups => "/Groups",
        }
    }

    /// `User` or `Group`.
    pub fn resource_type(self) -> &'static str {
        match self {
            Endpoint::Users => "User",
            Endpoint::Groups => "Group",
        }
    }
}

/// The id in an operation's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathId {
    Id(String),
    /// `bulkId:xyz`: the resource created by the POST whose `bulkId` is `xyz`.
    BulkId(String),
}

/// One well-formed operation.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkOperation {
    pub method: Method,
    pub endpoint: Endpoint,
    /// `None` exactly when `method` is POST.
    pub id: Option<PathId>,
    /// `If-Match` for PUT, PATCH and DELETE.
    pub version: Option<String>,
    /// Absent only for DELETE.
    pub data: Option<Value>,
    /// The bulkIds this operation references (path first, then `data`), each once.
    pub references: Vec<String>,
}

/// One operation of the request as far as it could be read: its method and `bulkId` are
/// echoed in the response even when the rest is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedOperation {
    /// The method as the client spelt it, upper-cased; `None` if it sent none readable.
    pub method: Option<String>,
    pub bulk_id: Option<String>,
    pub operation: Result<BulkOperation, ScimError>,
}

impl ParsedOperation {
    /// Is this a POST that declares `bulkId`, so that other operations may reference it?
    pub fn defines(&self) -> Option<&str> {
        (self.method.as_deref() == Some("POST"))
            .then_some(self.bulk_id.as_deref())
            .flatten()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BulkRequest {
    /// Stop after this many failed operations; `None` runs every operation.
    pub fail_on_errors: Option<usize>,
    pub operations: Vec<ParsedOperation>,
}

/// Parses a BulkRequest. More than `max_operations` operations is 413, naming the limit.
pub fn parse_bulk_request(body: &Value, max_operations: usize) -> Result<BulkRequest, ScimError> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax(format!(
            "a bulk body must be a JSON object: a BulkRequest with \"schemas\": [\"{BULK_REQUEST_URN}\"] \
             and \"Operations\""
        )));
    };
    let members = Members::read(
        body,
        &["schemas", "failOnErrors", "Operations"],
        "the BulkRequest",
    )?;
    if let Some(schemas) = members.get("schemas")
        && !names_urn(schemas, BULK_REQUEST_URN)
    {
        return Err(ScimError::invalid_syntax(format!(
            "\"schemas\" must be [\"{BULK_REQUEST_URN}\"], not {schemas}"
        )));
    }
    let fail_on_errors = match members.get("failOnErrors") {
        None => None,
        Some(v) => Some(positive_integer(v).ok_or_else(|| {
            ScimError::invalid_value(format!(
                "\"failOnErrors\" must be an integer of at least 1 (the number of failed operations \
                 after which processing stops), not {v}"
            ))
        })?),
    };
    let ops = match members.get("Operations") {
        Some(Value::Array(ops)) => ops,
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "\"Operations\" must be an array of operations such as \
                 {{\"method\":\"POST\",\"path\":\"/Users\",\"bulkId\":\"u1\",\"data\":{{…}}}}, not {}",
                kind_of(other)
            )));
        }
        None => {
            return Err(ScimError::invalid_syntax(
                "a BulkRequest needs \"Operations\": an array of operations",
            ));
        }
    };
    if ops.len() > max_operations {
        return Err(ScimError::new(
            413,
            None,
            format!(
                "the request has {} operations; maxOperations is {max_operations} \
                 (see /ServiceProviderConfig): split it into several requests",
                ops.len()
            ),
        ));
    }
    let operations: Vec<ParsedOperation> = ops.iter().map(parse_operation).collect();
    let mut first_use: HashMap<&str, usize> = HashMap::new();
    for (i, op) in operations.iter().enumerate() {
        if let Some(id) = op.bulk_id.as_deref()
            && let Some(first) = first_use.insert(id, i)
        {
            return Err(ScimError::invalid_value(format!(
                "bulkId \"{id}\" is used by operations {} and {}; a bulkId must be unique within a \
                 request",
                first + 1,
                i + 1
            )));
        }
    }
    Ok(BulkRequest {
        fail_on_errors,
        operations,
    })
}

/// The members of a JSON object, matched case-insensitively; unknown or repeated ones refused.
struct Members<'a>(Vec<(&'static str, &'a Value)>);

impl<'a> Members<'a> {
    fn read(map: &'a Map<String, Value>, known: &[&'static str], what: &str) -> Result<Self, ScimError> {
        let mut found = Vec::new();
        for (key, value) in map {
            let Some(name) = known.iter().find(|k| k.eq_ignore_ascii_case(key)) else {
                return Err(ScimError::invalid_syntax(format!(
                    "unknown member \"{key}\" in {what}; its members are {}",
                    known.join(", ")
                )));
            };
            if found.iter().any(|(n, _)| n == name) {
                return Err(ScimError::invalid_syntax(format!(
                    "\"{name}\" appears twice in {what} (member names are case-insensitive)"
                )));
            }
            if !value.is_null() {
                found.push((*name, value));
            }
        }
        Ok(Members(found))
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

fn names_urn(schemas: &Value, urn: &str) -> bool {
    let is = |u: &Value| u.as_str().is_some_and(|u| u.trim().eq_ignore_ascii_case(urn));
    match schemas {
        Value::Array(urns) => urns.iter().any(is),
        single => is(single),
    }
}

fn positive_integer(v: &Value) -> Option<usize> {
    let n = match v {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse::<u64>().ok()?,
        _ => return None,
    };
    (n >= 1).then(|| usize::try_from(n).unwrap_or(usize::MAX))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_operation(op: &Value) -> ParsedOperation {
    let Value::Object(map) = op else {
        return ParsedOperation {
            method: None,
            bulk_id: None,
            operation: Err(ScimError::invalid_syntax(format!(
                "an operation must be an object with \"method\", \"path\" and, as needed, \"bulkId\", \
                 \"version\" and \"data\", not {}",
                kind_of(op)
            ))),
        };
    };
    // Read method and bulkId first, whatever else is wrong, so the response can echo them.
    let lookup = |name: &str| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let method = lookup("method")
        .and_then(Value::as_str)
        .map(|m| m.trim().to_ascii_uppercase());
    let bulk_id = lookup("bulkId")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_string);
    let operation = parse_operation_fields(map);
    ParsedOperation {
        method,
        bulk_id,
        operation,
    }
}

fn parse_operation_fields(map: &Map<String, Value>) -> Result<BulkOperation, ScimError> {
    let m = Members::read(
        map,
        &["method", "bulkId", "version", "path", "data"],
        "a bulk operation",
    )?;
    let method = match m.get("method") {
        Some(Value::String(s)) => match s.trim().to_ascii_uppercase().as_str() {
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "method \"{s}\" cannot be used in a bulk operation; use POST, PUT, PATCH or DELETE"
                )));
            }
        },
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "\"method\" must be a string (POST, PUT, PATCH or DELETE), not {}",
                kind_of(other)
            )));
        }
        None => {
            return Err(ScimError::invalid_syntax(
                "\"method\" is missing; use POST, PUT, PATCH or DELETE",
            ));
        }
    };
    match m.get("bulkId") {
        None => {}
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        Some(other) => {
            return Err(ScimError::invalid_value(format!(
                "\"bulkId\" must be a non-empty string, not {other}"
            )));
        }
    }
    let version = match m.get("version") {
        None => None,
        Some(Value::String(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Some(other) => {
            return Err(ScimError::invalid_value(format!(
                "\"version\" must be the resource's ETag as a string (such as \"W/\\\"3\\\"\"), not {other}"
            )));
        }
    };
    let (endpoint, id) = match m.get("path") {
        Some(Value::String(p)) => parse_path(p)?,
        Some(other) => {
            return Err(ScimError::invalid_value(format!(
                "\"path\" must be a string such as \"/Users\" or \"/Groups/{{id}}\", not {}",
                kind_of(other)
            )));
        }
        None => {
            return Err(ScimError::invalid_value(
                "\"path\" is missing: \"/Users\" or \"/Groups\" for a POST, \"/Users/{id}\" or \
                 \"/Groups/{id}\" otherwise",
            ));
        }
    };
    match (method, &id) {
        (Method::Post, Some(_)) => {
            return Err(ScimError::invalid_value(format!(
                "a POST creates a resource, so its path is \"{}\" without an id",
                endpoint.path()
            )));
        }
        (Method::Put | Method::Patch | Method::Delete, None) => {
            return Err(ScimError::invalid_value(format!(
                "a {} needs the resource's id in its path: \"{}/{{id}}\" or \"{}/bulkId:<bulkId>\"",
                method.as_str(),
                endpoint.path(),
                endpoint.path()
            )));
        }
        _ => {}
    }
    let data = match (method, m.get("data")) {
        // RFC 7644 §3.7: DELETE has no data; whatever was sent is not looked at.
        (Method::Delete, _) => None,
        (_, Some(d @ Value::Object(_))) => Some(d.clone()),
        (_, Some(other)) => {
            return Err(ScimError::invalid_syntax(format!(
                "\"data\" of a {} must be a JSON object, not {}",
                method.as_str(),
                kind_of(other)
            )));
        }
        (_, None) => {
            return Err(ScimError::invalid_syntax(format!(
                "a {} needs \"data\": {}",
                method.as_str(),
                match method {
                    Method::Patch => format!("a PatchOp message (\"schemas\": [\"{PATCH_OP_URN}\"])"),
                    _ => format!("the {} to write", endpoint.resource_type()),
                }
            )));
        }
    };
    let mut references = Vec::new();
    if let Some(PathId::BulkId(b)) = &id {
        references.push(b.clone());
    }
    if let Some(d) = &data {
        let mut seen: HashSet<String> = references.iter().cloned().collect();
        collect_references(d, &mut references, &mut seen);
    }
    Ok(BulkOperation {
        method,
        endpoint,
        id,
        version,
        data,
        references,
    })
}

/// `/Users`, `/Users/{id}`, `/Groups`, `/Groups/{id}`; the endpoint's name in any case.
fn parse_path(raw: &str) -> Result<(Endpoint, Option<PathId>), ScimError> {
    let wrong = || {
        ScimError::invalid_value(format!(
            "path {raw:?} is not one a bulk operation can use: it must be \"/Users\", \"/Users/{{id}}\", \
             \"/Groups\" or \"/Groups/{{id}}\", relative to this account's SCIM base URL"
        ))
    };
    let path = raw.trim();
    let rest = path.strip_prefix('/').ok_or_else(wrong)?;
    let (name, id) = match rest.split_once('/') {
        Some((name, id)) => (name, Some(id)),
        None => (name_only(rest), None),
    };
    let endpoint = if name.eq_ignore_ascii_case("Users") {
        Endpoint::Users
    } else if name.eq_ignore_ascii_case("Groups") {
        Endpoint::Groups
    } else {
        return Err(wrong());
    };
    let id = match id {
        None => None,
        Some(id) if id.is_empty() || id.contains(['/', '?', '#']) || id.trim() != id => {
            return Err(wrong());
        }
        Some(id) => Some(match id.strip_prefix(BULK_ID_PREFIX) {
            Some(b) if !b.is_empty() => PathId::BulkId(b.to_string()),
            Some(_) => return Err(wrong()),
            None => PathId::Id(id.to_string()),
        }),
    };
    Ok((endpoint, id))
}

fn name_only(s: &str) -> &str {
    // "/Users?x" must not pass as "/Users".
    if s.contains(['?', '#']) { "" } else { s }
}

/// The bulkIds referenced by string values equal to `bulkId:<id>`, in order, each once (a
/// set beside the list, since one group's members may reference thousands).
fn collect_references(v: &Value, out: &mut Vec<String>, seen: &mut HashSet<String>) {
    match v {
        Value::String(s) => {
            if let Some(b) = s.strip_prefix(BULK_ID_PREFIX)
                && !b.is_empty()
                && seen.insert(b.to_string())
            {
                out.push(b.to_string());
            }
        }
        Value::Array(items) => items.iter().for_each(|x| collect_references(x, out, seen)),
        Value::Object(map) => map.values().for_each(|x| collect_references(x, out, seen)),
        _ => {}
    }
}

/// Replaces every reference in `v` by the id `resolve` gives for its bulkId.
pub fn substitute(v: &mut Value, resolve: &dyn Fn(&str) -> Option<String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(BULK_ID_PREFIX).and_then(resolve) {
                *s = id;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|x| substitute(x, resolve)),
        Value::Object(map) => map.values_mut().for_each(|x| substitute(x, resolve)),
        _ => {}
    }
}

/// The order to run the operations in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Indexes of the operations to run, in order: request order, except that an operation
    /// comes after every POST whose bulkId it references.
    pub order: Vec<usize>,
    /// Operations that are in, or depend on, a reference cycle, in request order; they are
    /// not run.
    pub cyclic: Vec<usize>,
}

/// Orders the operations (Kahn's algorithm, always taking the earliest ready operation, so
/// a request without references runs exactly in request order). Never recursive, so a long
/// chain of references cannot exhaust the stack.
pub fn plan(operations: &[ParsedOperation]) -> Plan {
    let definer: HashMap<&str, usize> = operations
        .iter()
        .enumerate()
        .filter_map(|(i, op)| op.defines().map(|b| (b, i)))
        .collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); operations.len()];
    let mut waiting_on = vec![0usize; operations.len()];
    for (j, op) in operations.iter().enumerate() {
        let Ok(parsed) = &op.operation else { continue };
        let mut deps: Vec<usize> = parsed
            .references
            .iter()
            .filter_map(|b| definer.get(b.as_str()).copied())
            .collect();
        deps.sort_unstable();
        deps.dedup();
        for i in deps {
            // A POST referencing its own bulkId is a cycle of one: it never becomes ready.
            dependents[i].push(j);
            waiting_on[j] += 1;
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..operations.len())
        .filter(|&i| waiting_on[i] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(operations.len());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &j in &dependents[i] {
            waiting_on[j] -= 1;
            if waiting_on[j] == 0 {
                ready.push(Reverse(j));
            }
        }
    }
    let cyclic = (0..operations.len()).filter(|&i| waiting_on[i] > 0).collect();
    Plan { order, cyclic }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use proptest::prelude::*;
    use serde_json::json;

    fn parse(ops: Value) -> BulkRequest {
        parse_bulk_request(&json!({"schemas": [BULK_REQUEST_URN], "Operations": ops}), 100).unwrap()
    }

    fn op_err(op: Value) -> ScimError {
        parse(json!([op])).operations[0].operation.clone().unwrap_err()
    }

    fn user(name: &str) -> Value {
        json!({"userName": name})
    }

    #[test]
    fn parses_the_rfc_example() {
        let req = parse_bulk_request(
            &json!({
                "schemas": [BULK_REQUEST_URN], "failOnErrors": 1,
                "Operations": [
                    {"method": "POST", "path": "/Users", "bulkId": "qwerty", "data": user("Alice")},
                    {"method": "PUT", "path": "/Users/b7c14771-226c-4d05-8860-134711653041",
                     "version": "W/\"3694e05e9dff591\"", "data": user("Bob")},
                    {"method": "PATCH", "path": "/Users/5d8d29d3-342c-4b5f-8683-a3cb6763ffcc",
                     "version": "W/\"edac3253e2c0ef2\"",
                     "data": {"Operations": [{"op": "remove", "path": "nickName"}]}},
                    {"method": "DELETE", "path": "/Users/e9025315-6bea-44e1-899c-1e07454e468b",
                     "version": "W/\"0ee8add0a938e1a\""}
                ]
            }),
            10,
        )
        .unwrap();
        assert_eq!(req.fail_on_errors, Some(1));
        let ops: Vec<&BulkOperation> = req
            .operations
            .iter()
            .map(|o| o.operation.as_ref().unwrap())
            .collect();
        assert_eq!(ops[0].method, Method::Post);
        assert_eq!(ops[0].id, None);
        assert_eq!(req.operations[0].bulk_id.as_deref(), Some("qwerty"));
        assert_eq!(ops[1].version.as_deref(), Some("W/\"3694e05e9dff591\""));
        assert_eq!(
            ops[3].id,
            Some(PathId::Id("e9025315-6bea-44e1-899c-1e07454e468b".into()))
        );
        assert_eq!(ops[3].data, None);
        assert_eq!(plan(&req.operations).order, vec![0, 1, 2, 3]);
    }

    #[test]
    fn references_anywhere_in_data_and_in_the_path() {
        let req = parse(json!([
            {"method": "PATCH", "path": "/Groups/bulkId:g1", "data": {"Operations": [
                {"op": "add", "path": "members", "value": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]}]}},
            {"method": "post", "path": "/groups", "bulkId": "g1",
             "data": {"displayName": "G", "members": [{"value": "bulkId:u1"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u2", "data": {"userName": "b",
             "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "bulkId:u1"}}}},
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user("a")},
        ]));
        let refs: Vec<Vec<String>> = req
            .operations
            .iter()
            .map(|o| o.operation.as_ref().unwrap().references.clone())
            .collect();
        assert_eq!(refs[0], ["g1", "u1", "u2"]);
        assert_eq!(refs[1], ["u1"]);
        assert_eq!(refs[2], ["u1"]);
        assert!(refs[3].is_empty());
        assert_eq!(
            req.operations[1].operation.as_ref().unwrap().endpoint,
            Endpoint::Groups
        );
        // u1 first; then g1 and u2 (ready, in request order); the PATCH last.
        assert_eq!(
            plan(&req.operations),
            Plan {
                order: vec![3, 1, 2, 0],
                cyclic: vec![]
            }
        );

        let mut data = req.operations[0].operation.clone().unwrap().data.unwrap();
        substitute(&mut data, &|b| (b == "u1").then(|| "id-1".to_string()));
        assert_eq!(data["Operations"][0]["value"][0]["value"], "id-1");
        assert_eq!(data["Operations"][0]["value"][1]["value"], "bulkId:u2");
    }

    #[test]
    fn cycles_and_what_depends_on_them_are_left_out() {
        let req = parse(json!([
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "a", "title": "bulkId:b"}},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "b", "title": "bulkId:a"}},
            {"method": "POST", "path": "/Users", "bulkId": "self", "data": {"userName": "s", "title": "bulkId:self"}},
            {"method": "PATCH", "path": "/Users/bulkId:a", "data": {"Operations": []}},
            {"method": "POST", "path": "/Users", "bulkId": "free", "data": user("f")},
            {"method": "DELETE", "path": "/Users/bulkId:free"},
            {"method": "DELETE", "path": "/Users/bulkId:unknown"},
        ]));
        assert_eq!(
            plan(&req.operations),
            Plan {
                order: vec![4, 5, 6],
                cyclic: vec![0, 1, 2, 3]
            }
        );
    }

    #[test]
    fn a_failed_post_still_orders_its_dependents_after_it() {
        // The POST is invalid (no data), but it declares u1: the PATCH must run after it and
        // learn that u1 failed, rather than be told u1 does not exist.
        let req = parse(json!([
            {"method": "PATCH", "path": "/Users/bulkId:u1", "data": {"Operations": []}},
            {"method": "POST", "path": "/Users", "bulkId": "u1"},
        ]));
        assert!(req.operations[1].operation.is_err());
        assert_eq!(plan(&req.operations).order, vec![1, 0]);
    }

    #[test]
    fn request_level_errors() {
        let cases = [
            (
                json!("x"),
                400,
                Some(ScimType::InvalidSyntax),
                "must be a JSON object",
            ),
            (
                json!({"schemas": [PATCH_OP_URN], "Operations": []}),
                400,
                Some(ScimType::InvalidSyntax),
                "\"schemas\" must be",
            ),
            (
                json!({"schemas": [BULK_REQUEST_URN]}),
                400,
                Some(ScimType::InvalidSyntax),
                "needs \"Operations\"",
            ),
            (
                json!({"Operations": {}}),
                400,
                Some(ScimType::InvalidSyntax),
                "must be an array",
            ),
            (
                json!({"Operations": [], "failOnError": 1}),
                400,
                Some(ScimType::InvalidSyntax),
                "unknown member \"failOnError\"",
            ),
            (
                json!({"Operations": [], "failOnErrors": 0}),
                400,
                Some(ScimType::InvalidValue),
                "at least 1",
            ),
            (
                json!({"Operations": [], "failOnErrors": "x"}),
                400,
                Some(ScimType::InvalidValue),
                "failOnErrors",
            ),
            (
                json!({"Operations": [{"method": "POST", "bulkId": "a"}, {"method": "DELETE", "bulkId": "a"}]}),
                400,
                Some(ScimType::InvalidValue),
                "bulkId \"a\" is used by operations 1 and 2",
            ),
            (
                json!({"Operations": [{"method": "DELETE"}, {}, {}, {}]}),
                413,
                None,
                "the request has 4 operations; maxOperations is 3",
            ),
        ];
        for (body, status, ty, needle) in cases {
            let e = parse_bulk_request(&body, 3).expect_err(&body.to_string());
            assert_eq!((e.status, e.scim_type), (status, ty), "{body}: {}", e.detail);
            assert!(e.detail.contains(needle), "{body}: {}", e.detail);
        }
        // Leniencies: no schemas, keys in any case, failOnErrors as a string, no operations.
        let req = parse_bulk_request(&json!({"operations": [], "FailOnErrors": "2"}), 3).unwrap();
        assert_eq!(req.fail_on_errors, Some(2));
        assert!(req.operations.is_empty());
    }

    #[test]
    fn operation_errors_are_per_operation_and_keep_method_and_bulk_id() {
        let cases = [
            (json!(7), ScimType::InvalidSyntax, "must be an object"),
            (
                json!({"path": "/Users"}),
                ScimType::InvalidSyntax,
                "\"method\" is missing",
            ),
            (
                json!({"method": "GET", "path": "/Users"}),
                ScimType::InvalidValue,
                "method \"GET\"",
            ),
            (
                json!({"method": "POST", "path": "/Users", "data": {}, "extra": 1}),
                ScimType::InvalidSyntax,
                "unknown member \"extra\"",
            ),
            (
                json!({"method": "POST", "path": "/Users"}),
                ScimType::InvalidSyntax,
                "needs \"data\"",
            ),
            (
                json!({"method": "PATCH", "path": "/Users/x"}),
                ScimType::InvalidSyntax,
                "PatchOp",
            ),
            (
                json!({"method": "PUT", "path": "/Users/x", "data": []}),
                ScimType::InvalidSyntax,
                "must be a JSON object",
            ),
            (
                json!({"method": "POST", "path": "/Users/x", "data": {}}),
                ScimType::InvalidValue,
                "without an id",
            ),
            (
                json!({"method": "DELETE", "path": "/Users"}),
                ScimType::InvalidValue,
                "needs the resource's id",
            ),
            (
                json!({"method": "DELETE", "path": "/Users/x", "version": 3}),
                ScimType::InvalidValue,
                "\"version\"",
            ),
            (
                json!({"method": "DELETE", "path": "/Users/x", "bulkId": 3}),
                ScimType::InvalidValue,
                "\"bulkId\"",
            ),
            (
                json!({"method": "DELETE"}),
                ScimType::InvalidValue,
                "\"path\" is missing",
            ),
            (
                json!({"method": "DELETE", "path": 5}),
                ScimType::InvalidValue,
                "\"path\" must be a string",
            ),
        ];
        for (op, ty, needle) in cases {
            let e = op_err(op.clone());
            assert_eq!(e.scim_type, Some(ty), "{op}: {}", e.detail);
            assert!(e.detail.contains(needle), "{op}: {}", e.detail);
        }
        let req = parse(json!([{"method": "patch", "bulkId": "p1", "path": "/Schemas"}]));
        assert_eq!(req.operations[0].method.as_deref(), Some("PATCH"));
        assert_eq!(req.operations[0].bulk_id.as_deref(), Some("p1"));
        assert!(req.operations[0].operation.is_err());
    }

    #[test]
    fn paths_name_only_users_and_groups_of_the_callers_account() {
        for ok in ["/Users", "/Groups", " /users ", "/Users/abc", "/GROUPS/bulkId:g"] {
            assert!(parse_path(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            parse_path("/Groups/bulkId:g").unwrap(),
            (Endpoint::Groups, Some(PathId::BulkId("g".into())))
        );
        for bad in [
            "Users",
            "/",
            "",
            "/Schemas",
            "/ServiceProviderConfig",
            "/Bulk",
            "/Users/",
            "/Users/a/b",
            "/Users?filter=x",
            "/Users/a?x=1",
            "/Users/a#x",
            "/Users/bulkId:",
            "//Users",
            "/../Users",
            "/scim/account/5f0c8a1e-0000-7000-8000-000000000000/Users",
            "https://scim.example.com/scim/account/5f0c8a1e-0000-7000-8000-000000000000/Users/abc",
            "/Users/ abc",
        ] {
            let e = parse_path(bad).expect_err(bad);
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{bad}");
            assert!(e.detail.contains("relative to this account"), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn parse_and_plan_never_panic(ops in prop::collection::vec(arb_op(), 0..12)) {
            if let Ok(req) = parse_bulk_request(&json!({"Operations": ops}), 50) {
                let p = plan(&req.operations);
                let mut all: Vec<usize> = p.order.iter().chain(&p.cyclic).copied().collect();
                all.sort_unstable();
                prop_assert_eq!(all, (0..req.operations.len()).collect::<Vec<_>>());
                // Every operation runs after the POSTs it references.
                let pos: HashMap<usize, usize> = p.order.iter().enumerate().map(|(k, &i)| (i, k)).collect();
                for (j, op) in req.operations.iter().enumerate() {
                    let (Some(&pj), Ok(parsed)) = (pos.get(&j), &op.operation) else { continue };
                    for b in &parsed.references {
                        if let Some(i) = req.operations.iter().position(|o| o.defines() == Some(b.as_str())) {
                            prop_assert!(pos.get(&i).is_some_and(|&pi| pi < pj));
                        }
                    }
                }
            }
        }
    }

    fn arb_op() -> impl Strategy<Value = Value> {
        let id = prop_oneof![Just("a"), Just("b"), Just("c"), Just("d")];
        let method = prop_oneof![Just("POST"), Just("PATCH"), Just("DELETE"), Just("GET")];
        (
            method,
            proptest::option::of(id.clone()),
            proptest::option::of(id),
            any::<bool>(),
        )
            .prop_map(|(method, bulk_id, reference, with_data)| {
                let path = match (method, &reference) {
                    ("POST", _) => "/Users".to_string(),
                    (_, Some(r)) => format!("/Users/bulkId:{r}"),
                    _ => "/Users/x".to_string(),
                };
                let mut op = json!({"method": method, "path": path});
                if let Some(b) = bulk_id {
                    op["bulkId"] = json!(b);
                }
                if with_data {
                    op["data"] = json!({"title": reference.map(|r| format!("bulkId:{r}"))});
                }
                op
            })
    }
}
