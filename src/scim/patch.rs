//! The PATCH engine (RFC 7644 §3.5.2) with the IdP dialects of docs/idp-notes.md: parse a
//! PatchOp message and apply it to a canonical document held in memory. Group membership is
//! not part of the document: `split_group_ops` turns member operations into `MemberOp`s that
//! the store applies set-based, so a 100,000-member group is never loaded to change one member.
//!
//! Dialect decisions (each one is what an IdP sends, or what keeps one request meaning one thing):
//! - `op` and the message keys (`Operations`, `op`, `path`, `value`, `schemas`) are
//!   case-insensitive; a missing `schemas` is accepted, a wrong one is not.
//! - A no-path `add`/`replace` treats each key of its value as a path (plain, dotted,
//!   URN-qualified, a whole extension, the core schema URN, or a value path such as
//!   `emails[type eq "work"].value`, applied as that `path` would be). Keys naming readOnly attributes
//!   (`id`, `meta`, `schemas`, `groups`, `manager.displayName`) and unknown keys (including
//!   `password`, which scimd never stores) are ignored, as POST/PUT normalisation drops them.
//!   With an explicit path, a readOnly target is a `mutability` error and an unknown one
//!   `invalidPath`, except `password`, which is ignored so that IdPs with password sync on keep
//!   working.
//! - `add`/`replace` with a `null` value removes the target (RFC 7643 §2.5: null is unassigned).
//! - A value filter that matches nothing is an upsert for `add`/`replace` when the filter is
//!   `eq` terms joined by `and` (Entra expects `emails[type eq "work"].value` to create the
//!   work email); otherwise `replace` (and `add` of a sub-attribute) answers `noTarget`.
//! - `remove` with a filter that matches nothing succeeds without change: IdPs retry removals.
//! - `remove` of a multi-valued attribute with a `value` list removes only the listed elements,
//!   compared by their `value` sub-attribute (Entra's default dialect), never the whole attribute.
//! - Setting a complex attribute whose `value` (a reference id, as in `manager`) changes
//!   replaces the object rather than merging, so the old referent's `displayName`/`$ref` go.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::scim::PATCH_OP_URN;
use crate::scim::error::ScimError;
use crate::scim::filter::{self, CompValue, CompareOp, Filter};
use crate::scim::path::{self, AttrPath, PatchPath};
use crate::scim::resource;
use crate::scim::schema::{AttrDef, AttrType, GROUP_URN, Mutability, Resolved, ResourceType};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

impl OpKind {
    /// The RFC 7644 spelling (`"add"`, `"remove"`, `"replace"`), for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Remove => "remove",
            OpKind::Replace => "replace",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: OpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// A change to a group's member set, by member id (the `value` of a member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberOp {
    Add(Vec<String>),
    Remove(Vec<String>),
    RemoveAll,
    Replace(Vec<String>),
}

/// A group PATCH split into what touches the document and what touches the member set.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPatch {
    pub doc_ops: Vec<PatchOperation>,
    pub member_ops: Vec<MemberOp>,
}

// ---------------------------------------------------------------------------------------------
// Parsing

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

fn names_patch_op(schemas: &Value) -> bool {
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

fn parse_operation(op: &Value) -> Result<PatchOperation, ScimError> {
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
fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Result<Option<&'a Value>, ScimError> {
    let mut found = map.iter().filter(|(k, _)| k.eq_ignore_ascii_case(key));
    let first = found.next();
    if let (Some((a, _)), Some((b, _))) = (first, found.next()) {
        return Err(ScimError::invalid_syntax(format!(
            "\"{a}\" and \"{b}\" both appear; keys are case-insensitive, so send \"{key}\" once"
        )));
    }
    Ok(first.map(|(_, v)| v))
}

fn at_operation(index: usize, e: ScimError) -> ScimError {
    ScimError {
        detail: format!("operation {}: {}", index + 1, e.detail),
        ..e
    }
}

// ---------------------------------------------------------------------------------------------
// Applying

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

fn apply_op(rt: &ResourceType, doc: &mut Map<String, Value>, op: &PatchOperation) -> Result<(), ScimError> {
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
fn apply_key(
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
fn apply_value_path_key(
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
fn apply_schema_object(
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

fn apply_path(
    rt: &ResourceType,
    doc: &mut Map<String, Value>,
    kind: OpKind,
    path: &PatchPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    if is_password(rt, &path.attr) {
        return Ok(());
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

fn is_read_only(resolved: &Resolved) -> bool {
    [resolved.attr, resolved.sub]
        .iter()
        .flatten()
        .any(|d| d.mutability == Mutability::ReadOnly)
}

/// scimd stores no password (the catalogue has none), yet Okta's password sync sends one.
fn is_password(rt: &ResourceType, p: &AttrPath) -> bool {
    p.name.eq_ignore_ascii_case("password")
        && p.urn
            .as_deref()
            .is_none_or(|u| u.eq_ignore_ascii_case(rt.schema.id))
}

fn is_group_members(rt: &ResourceType, attr: &AttrDef) -> bool {
    rt.schema.id == GROUP_URN && attr.name == "members"
}

fn missing_value(kind: OpKind) -> ScimError {
    ScimError::invalid_value(format!("{} needs a \"value\"", kind.as_str()))
}

/// Where an operation writes: attribute `attr` (optionally its sub-attribute `sub`) inside the
/// object found by following `parent` (empty for core attributes, `[urn]` for an extension).
struct Target {
    attr: &'static AttrDef,
    sub: Option<&'static AttrDef>,
    parent: Vec<&'static str>,
}

impl Target {
    fn new(resolved: &Resolved, attr: &'static AttrDef) -> Self {
        let depth = 1 + usize::from(resolved.sub.is_some());
        let parent = resolved
            .doc_path
            .len()
            .checked_sub(depth)
            .and_then(|n| resolved.doc_path.get(..n))
            .map(<[_]>::to_vec)
            .unwrap_or_default();
        Target {
            attr,
            sub: resolved.sub,
            parent,
        }
    }

    /// The attribute as a client would write its path, for error details.
    fn label(&self) -> String {
        let mut s = String::new();
        for p in &self.parent {
            s.push_str(p);
            s.push(':');
        }
        s.push_str(self.attr.name);
        if let Some(sub) = self.sub {
            s.push('.');
            s.push_str(sub.name);
        }
        s
    }

    fn attr_label(&self) -> String {
        Target {
            attr: self.attr,
            sub: None,
            parent: self.parent.clone(),
        }
        .label()
    }

    /// Moves the current value out of `doc` (which is a scratch copy: see `apply`), so an
    /// operation never copies a large attribute; `store` puts the new value back.
    fn take(&self, doc: &mut Map<String, Value>) -> Option<Value> {
        let mut map = doc;
        for key in &self.parent {
            let found = key_ci(map, key)?;
            map = map.get_mut(&found)?.as_object_mut()?;
        }
        let found = key_ci(map, self.attr.name)?;
        map.shift_remove(&found).filter(|v| !v.is_null())
    }

    /// `store`, refusing a multi-valued attribute grown past `resource::MAX_VALUES`, checked
    /// after every operation so a PatchOp cannot grow one without bound on its way.
    fn store_checked(&self, doc: &mut Map<String, Value>, new: Option<Value>) -> Result<(), ScimError> {
        if let Some(Value::Array(items)) = &new {
            resource::check_value_count(self.attr, items.len(), &self.attr_label())?;
        }
        self.store(doc, new);
        Ok(())
    }

    fn store(&self, doc: &mut Map<String, Value>, new: Option<Value>) {
        let mut map = doc;
        for key in &self.parent {
            remove_variants(map, key);
            let slot = map
                .entry(key.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            let Value::Object(inner) = slot else { return };
            map = inner;
        }
        remove_ci(map, self.attr.name);
        if let Some(v) = new {
            map.insert(self.attr.name.to_string(), v);
        }
    }
}

/// Dispatch one operation on one resolved target.
fn write(
    doc: &mut Map<String, Value>,
    kind: OpKind,
    t: &Target,
    filter: Option<&Filter>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    // RFC 7643 §2.5: null means unassigned, so setting null is removing.
    let (kind, value) = match value {
        Some(Value::Null) => (OpKind::Remove, None),
        _ if kind == OpKind::Remove && filter.is_some() => (kind, None),
        _ => (kind, value),
    };
    if kind != OpKind::Remove && value.is_none() {
        return Err(missing_value(kind));
    }
    match (filter, t.sub) {
        (Some(f), _) => write_filtered(doc, kind, t, f, value),
        (None, Some(sub)) => write_sub(doc, kind, t, sub, value),
        (None, None) => write_attr(doc, kind, t, value),
    }
}

/// A whole attribute, no filter.
fn write_attr(
    doc: &mut Map<String, Value>,
    kind: OpKind,
    t: &Target,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let attr = t.attr;
    let label = t.label();
    let old = t.take(doc);
    // Kept only where it is compared afterwards, so a large attribute is copied once, not twice.
    let immutable_old = (attr.mutability == Mutability::Immutable)
        .then(|| old.clone())
        .flatten();
    let new = match (kind, value) {
        (OpKind::Remove, None) => None,
        (OpKind::Remove, Some(listed)) => remove_listed(attr, old, listed, &label)?,
        (_, None) => return Err(missing_value(kind)),
        (OpKind::Add, Some(v)) if attr.multi_valued => Some(append_elements(attr, old, v, &label)?),
        (_, Some(v)) => match resource::coerce_value(attr, v, &label)? {
            // `[]` or `[null]` for a single-valued attribute: unassigned.
            Value::Null => None,
            Value::Object(given) if attr.is_complex() && !attr.multi_valued => {
                Some(merge_complex(attr, old.as_ref(), given, single_of(v)))
            }
            coerced => Some(coerced),
        },
    };
    check_immutable(attr, immutable_old.as_ref(), new.as_ref(), &label)?;
    t.store_checked(doc, new)
}

/// `add` to a multi-valued attribute: append what is not already there.
fn append_elements(
    attr: &AttrDef,
    old: Option<Value>,
    value: &Value,
    label: &str,
) -> Result<Value, ScimError> {
    let added = as_array(resource::coerce_value(attr, value, label)?);
    let Value::Array(added) = added else {
        unreachable!("as_array returns an array")
    };
    let mut elems = into_elements(old);
    // Elements by their `value`, so that appending n values to m is O(n + m), not O(n·m).
    // For one added value a scan is cheaper than building the map.
    let mut by_value: HashMap<String, Vec<usize>> = HashMap::new();
    let indexed = added.len() > 1;
    if indexed {
        for (i, e) in elems.iter().enumerate() {
            if let Some(key) = value_key(attr, e) {
                by_value.entry(key).or_default().push(i);
            }
        }
    }
    let mut winners = Vec::new();
    for e in added {
        let found = match value_key(attr, &e).filter(|_| indexed) {
            Some(key) => by_value.get(&key).and_then(|candidates| {
                candidates
                    .iter()
                    .copied()
                    .find(|&i| contains_element(attr, &elems[i], &e))
            }),
            // No `value` to look up by (rare): compare with every element.
            None => elems.iter().position(|x| contains_element(attr, x, &e)),
        };
        let idx = match found {
            Some(i) => i,
            None => {
                if let Some(key) = value_key(attr, &e).filter(|_| indexed) {
                    by_value.entry(key).or_default().push(elems.len());
                }
                elems.push(e);
                elems.len() - 1
            }
        };
        if is_primary(&elems[idx]) {
            winners.push(idx);
        }
    }
    enforce_single_primary(attr, &mut elems, &winners);
    Ok(Value::Array(elems))
}

/// `add`/`replace` on a complex single-valued attribute: the given sub-attributes replace
/// theirs, the others stay (RFC 7644 §3.5.2.1, §3.5.2.3). `raw` is the value as sent.
fn merge_complex(attr: &AttrDef, old: Option<&Value>, given: Map<String, Value>, raw: &Value) -> Value {
    let mut merged = match old {
        Some(Value::Object(m)) if !changes_referent(attr, m, &given) => m.clone(),
        _ => Map::new(),
    };
    for name in null_sub_attributes(attr, raw) {
        remove_ci(&mut merged, name);
    }
    for (k, v) in given {
        remove_ci(&mut merged, &k);
        merged.insert(k, v);
    }
    Value::Object(merged)
}

/// A complex value whose `value` is an id (Entra's `manager`) describes whatever that id names;
/// when the id changes, the old `displayName` and `$ref` describe someone else.
fn changes_referent(attr: &AttrDef, old: &Map<String, Value>, given: &Map<String, Value>) -> bool {
    let Some(value_def) = attr.sub_attr("value") else {
        return false;
    };
    match (get_key(old, value_def.name), get_key(given, value_def.name)) {
        (Some(a), Some(b)) => !scalar_eq(value_def.case_exact, a, b),
        _ => false,
    }
}

/// Sub-attributes the client set to null in a complex value: coercion drops nulls, but in a
/// merge they mean "unassign this one".
fn null_sub_attributes(attr: &AttrDef, raw: &Value) -> Vec<&'static str> {
    let Value::Object(raw) = raw else {
        return Vec::new();
    };
    raw.iter()
        .filter(|(_, v)| v.is_null())
        .filter_map(|(k, _)| attr.sub_attr(k).map(|d| d.name))
        .collect()
}

/// `remove` with a value: for a multi-valued attribute, remove the listed elements only
/// (Entra's `{"op":"Remove","path":"emails","value":[{"value":"a@x"}]}`); for a complex
/// single-valued one, remove it only if it is the listed one. A simple single-valued attribute
/// is removed whatever the value says (RFC 7644 §3.5.2.2 gives `value` no meaning there).
fn remove_listed(
    attr: &AttrDef,
    old: Option<Value>,
    listed: &Value,
    label: &str,
) -> Result<Option<Value>, ScimError> {
    if attr.multi_valued {
        let listed = as_array(resource::coerce_value(attr, listed, label)?);
        let Value::Array(listed) = listed else {
            unreachable!("as_array returns an array")
        };
        let Some(old) = old else { return Ok(None) };
        let kept: Vec<Value> = into_elements(Some(old))
            .into_iter()
            .filter(|e| !listed.iter().any(|l| listed_matches(attr, e, l)))
            .collect();
        return Ok(Some(Value::Array(kept)));
    }
    if attr.is_complex() {
        let listed = resource::coerce_value(attr, listed, label)?;
        return Ok(old.filter(|o| listed.is_null() || !listed_matches(attr, o, &listed)));
    }
    Ok(None)
}

/// Does element `e` match `listed`, an element named in a `remove` value? By `value` when the
/// listed element has one; otherwise every listed sub-attribute must match. An empty listed
/// element (`{"$ref": null}` after dropping nulls) matches nothing rather than everything.
fn listed_matches(attr: &AttrDef, e: &Value, listed: &Value) -> bool {
    match (e, listed) {
        (Value::Object(em), Value::Object(lm)) => {
            let value_def = attr.sub_attr("value");
            if let Some((vd, lv)) = value_def.and_then(|d| get_key(lm, d.name).map(|v| (d, v))) {
                return get_key(em, vd.name).is_some_and(|ev| scalar_eq(vd.case_exact, ev, lv));
            }
            !lm.is_empty()
                && lm.iter().all(|(k, lv)| {
                    get_key(em, k).is_some_and(|ev| scalar_eq(sub_case_exact(attr, k), ev, lv))
                })
        }
        _ => scalar_eq(attr.case_exact, e, listed),
    }
}

/// A sub-attribute without filter: `name.givenName`, or `emails.type` (every element).
fn write_sub(
    doc: &mut Map<String, Value>,
    kind: OpKind,
    t: &Target,
    sub: &'static AttrDef,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let attr = t.attr;
    let label = t.label();
    let old = t.take(doc);
    let immutable_old = (attr.mutability == Mutability::Immutable)
        .then(|| old.clone())
        .flatten();
    // `None` removes: a remove, or a value that coerces to nothing (`[]`).
    let coerced = match value {
        Some(v) if kind != OpKind::Remove => {
            Some(resource::coerce_value(sub, v, &label)?).filter(|c| !c.is_null())
        }
        _ => None,
    };
    let new = if attr.multi_valued {
        let mut elems = into_elements(old);
        match &coerced {
            None => {
                for e in &mut elems {
                    set_sub(e, sub, None, &label)?;
                }
            }
            // Every element, as an absent filter selects all; with none, the value makes one.
            Some(v) if elems.is_empty() => elems.push(element_with(sub, v.clone())),
            Some(v) => {
                for e in &mut elems {
                    set_sub(e, sub, Some(v.clone()), &label)?;
                }
            }
        }
        let winners: Vec<usize> = (0..elems.len()).filter(|&i| is_primary(&elems[i])).collect();
        if sub.name == "primary" {
            enforce_single_primary(attr, &mut elems, &winners);
        }
        Some(Value::Array(elems))
    } else {
        let mut obj = match old {
            Some(Value::Object(m)) => Value::Object(m),
            _ => Value::Object(Map::new()),
        };
        set_sub(&mut obj, sub, coerced, &label)?;
        Some(obj)
    };
    check_immutable(attr, immutable_old.as_ref(), new.as_ref(), &t.attr_label())?;
    t.store_checked(doc, new)
}

/// `attr[filter]` or `attr[filter].sub`.
fn write_filtered(
    doc: &mut Map<String, Value>,
    kind: OpKind,
    t: &Target,
    filter: &Filter,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let attr = t.attr;
    let label = t.label();
    if !attr.is_complex() && !attr.multi_valued {
        return Err(ScimError::invalid_path(format!(
            "\"{}\" is single-valued and not complex: a [filter] cannot select from it",
            t.attr_label()
        )));
    }
    let filter = prepare_filter(attr, filter, &t.attr_label())?;
    // What to write: a sub-attribute value, or one element. Coercing to nothing (`[]`) removes.
    let given = match (kind, value) {
        (OpKind::Remove, _) => None,
        (_, None) => return Err(missing_value(kind)),
        (_, Some(v)) => {
            let coerced = match t.sub {
                Some(sub) => resource::coerce_value(sub, v, &label)?,
                None => resource::coerce_single(attr, single_of(v), &label)?,
            };
            Some(coerced).filter(|c| !c.is_null())
        }
    };
    let old = t.take(doc);
    let immutable_old = (attr.mutability == Mutability::Immutable)
        .then(|| old.clone())
        .flatten();
    let mut elems = into_elements(old);
    let case_exact = |p: &AttrPath| filter_case_exact(attr, p);
    let matched: Vec<usize> = (0..elems.len())
        .filter(|&i| {
            // A complex element is matched as it is; only a simple one needs wrapping.
            if attr.is_complex() {
                filter::matches(&filter, &elems[i], &case_exact)
            } else {
                filter::matches(&filter, &filterable(attr, &elems[i]), &case_exact)
            }
        })
        .collect();
    let mut winners = Vec::new();
    match (given, t.sub) {
        (None, None) => {
            let mut i = 0;
            elems.retain(|_| {
                i += 1;
                !matched.contains(&(i - 1))
            });
        }
        (None, Some(sub)) => {
            for &i in &matched {
                set_sub(&mut elems[i], sub, None, &label)?;
            }
        }
        (Some(nv), Some(sub)) if !matched.is_empty() => {
            for &i in &matched {
                set_sub(&mut elems[i], sub, Some(nv.clone()), &label)?;
                if is_primary(&elems[i]) {
                    winners.push(i);
                }
            }
        }
        (Some(nv), None) if !matched.is_empty() => {
            let raw = value.map(single_of).unwrap_or(&Value::Null);
            for &i in &matched {
                let new_elem = if kind == OpKind::Add {
                    merge_element(attr, &elems[i], &nv, raw)
                } else {
                    nv.clone()
                };
                check_element_immutables(attr, &elems[i], &new_elem, &label)?;
                elems[i] = new_elem;
                if is_primary(&elems[i]) {
                    winners.push(i);
                }
            }
        }
        (Some(nv), sub) => {
            let created = match (element_from_filter(attr, &filter, &label)?, sub) {
                (Some(mut elem), Some(sub)) => {
                    set_sub(&mut elem, sub, Some(nv), &label)?;
                    elem
                }
                (Some(elem), None) => {
                    merge_element(attr, &elem, &nv, value.map(single_of).unwrap_or(&Value::Null))
                }
                // RFC 7644 §3.5.2.1: `add` of a value to a multi-valued attribute appends it.
                (None, None) if kind == OpKind::Add => nv,
                (None, _) => {
                    return Err(ScimError::no_target(format!(
                        "no value of \"{}\" matches the filter, and a new one can only be made \
                         from a filter of `eq` terms joined by `and` (e.g. type eq \"work\")",
                        t.attr_label()
                    )));
                }
            };
            if !attr.multi_valued {
                elems.clear();
            }
            elems.push(created);
            if is_primary(&elems[elems.len() - 1]) {
                winners.push(elems.len() - 1);
            }
        }
    }
    enforce_single_primary(attr, &mut elems, &winners);
    let new = if attr.multi_valued {
        Some(Value::Array(elems))
    } else {
        elems.into_iter().next()
    };
    check_immutable(attr, immutable_old.as_ref(), new.as_ref(), &t.attr_label())?;
    t.store_checked(doc, new)
}

/// Check and normalise a value filter against the attribute's sub-attributes: unknown names are
/// `invalidFilter` (silently matching nothing would hide a typo), paths become relative
/// canonical names, and literals take the sub-attribute's type, since Entra writes booleans as
/// `primary eq "True"`.
fn prepare_filter(attr: &'static AttrDef, f: &Filter, label: &str) -> Result<Filter, ScimError> {
    Ok(match f {
        Filter::And(a, b) => Filter::And(
            Box::new(prepare_filter(attr, a, label)?),
            Box::new(prepare_filter(attr, b, label)?),
        ),
        Filter::Or(a, b) => Filter::Or(
            Box::new(prepare_filter(attr, a, label)?),
            Box::new(prepare_filter(attr, b, label)?),
        ),
        Filter::Not(a) => Filter::Not(Box::new(prepare_filter(attr, a, label)?)),
        Filter::Compare { path, op, value } => {
            let def = filter_sub_def(attr, path, label)?;
            Filter::Compare {
                path: relative(def),
                op: *op,
                value: coerce_literal(def, value),
            }
        }
        Filter::Present(path) => Filter::Present(relative(filter_sub_def(attr, path, label)?)),
        Filter::ValuePath { .. } => {
            return Err(ScimError::invalid_filter(format!(
                "the filter on \"{label}\" cannot contain another [filter]"
            )));
        }
    })
}

/// What a name inside `attr[…]` refers to. For a simple multi-valued attribute, `value` is the
/// element itself (RFC 7644 §3.4.2.2).
fn filter_sub_def(attr: &'static AttrDef, p: &AttrPath, label: &str) -> Result<&'static AttrDef, ScimError> {
    let name = match &p.sub {
        Some(sub) if p.name.eq_ignore_ascii_case(attr.name) => sub.as_str(),
        Some(_) => "",
        None => p.name.as_str(),
    };
    let found = if attr.is_complex() {
        attr.sub_attr(name)
    } else {
        name.eq_ignore_ascii_case("value").then_some(attr)
    };
    found.ok_or_else(|| {
        let known: Vec<&str> = if attr.is_complex() {
            attr.sub_attributes.iter().map(|s| s.name).collect()
        } else {
            vec!["value"]
        };
        ScimError::invalid_filter(format!(
            "\"{label}\" has no sub-attribute \"{}\" to filter on; it has: {}",
            p,
            known.join(", ")
        ))
    })
}

/// The filter path that `matches` should look up in an element: the sub-attribute's own name,
/// or `value` for the elements of a simple multi-valued attribute (see `filterable`).
fn relative(def: &AttrDef) -> AttrPath {
    let name = if def.sub_attributes.is_empty() && !def.multi_valued {
        def.name
    } else {
        "value"
    };
    AttrPath {
        urn: None,
        name: name.to_string(),
        sub: None,
    }
}

fn coerce_literal(def: &AttrDef, value: &CompValue) -> CompValue {
    match (def.ty, value) {
        (AttrType::Boolean, CompValue::Str(s)) if s.eq_ignore_ascii_case("true") => CompValue::Bool(true),
        (AttrType::Boolean, CompValue::Str(s)) if s.eq_ignore_ascii_case("false") => CompValue::Bool(false),
        (AttrType::Integer | AttrType::Decimal, CompValue::Str(s)) => {
            match s.trim().parse::<serde_json::Number>() {
                Ok(n) => CompValue::Num(n),
                Err(_) => value.clone(),
            }
        }
        _ => value.clone(),
    }
}

fn filter_case_exact(attr: &AttrDef, p: &AttrPath) -> bool {
    if attr.is_complex() {
        attr.sub_attr(&p.name).is_some_and(|d| d.case_exact)
    } else {
        attr.case_exact
    }
}

/// The element as the filter sees it: simple values answer to `value`.
fn filterable(attr: &AttrDef, e: &Value) -> Value {
    if attr.is_complex() {
        e.clone()
    } else {
        let mut m = Map::new();
        m.insert("value".into(), e.clone());
        Value::Object(m)
    }
}

/// The element an upsert creates from a filter of `eq` terms joined by `and`
/// (`type eq "work"` → `{"type": "work"}`), or `None` when the filter says no such thing.
fn element_from_filter(attr: &AttrDef, f: &Filter, label: &str) -> Result<Option<Value>, ScimError> {
    let mut terms = Vec::new();
    if !collect_eq_terms(f, &mut terms) {
        return Ok(None);
    }
    let mut elem = Map::new();
    for (name, lit) in terms {
        let v = match lit {
            CompValue::Str(s) => Value::String(s.clone()),
            CompValue::Bool(b) => Value::Bool(*b),
            CompValue::Num(n) => Value::Number(n.clone()),
            CompValue::Null => return Ok(None),
        };
        match elem.get(name) {
            Some(existing) if *existing != v => return Ok(None),
            _ => {
                elem.insert(name.to_string(), v);
            }
        }
    }
    if !attr.is_complex() {
        return match elem.remove("value") {
            Some(v) if elem.is_empty() => Ok(Some(resource::coerce_single(attr, &v, label)?)),
            _ => Ok(None),
        };
    }
    Ok(Some(resource::coerce_single(attr, &Value::Object(elem), label)?))
}

fn collect_eq_terms<'f>(f: &'f Filter, out: &mut Vec<(&'f str, &'f CompValue)>) -> bool {
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } => {
            out.push((path.name.as_str(), value));
            true
        }
        Filter::And(a, b) => collect_eq_terms(a, out) && collect_eq_terms(b, out),
        _ => false,
    }
}

/// `add` of an element onto a matched one: the given sub-attributes replace theirs; nulls in
/// the raw value unassign.
fn merge_element(attr: &AttrDef, old: &Value, given: &Value, raw: &Value) -> Value {
    match (old, given) {
        (Value::Object(o), Value::Object(g)) => {
            let mut merged = o.clone();
            for name in null_sub_attributes(attr, single_of(raw)) {
                remove_ci(&mut merged, name);
            }
            for (k, v) in g {
                remove_ci(&mut merged, k);
                merged.insert(k.clone(), v.clone());
            }
            Value::Object(merged)
        }
        _ => given.clone(),
    }
}

/// Set (or, with `None`, remove) sub-attribute `sub` of element `e`, honouring `immutable`.
fn set_sub(e: &mut Value, sub: &AttrDef, new: Option<Value>, label: &str) -> Result<(), ScimError> {
    if !e.is_object() {
        *e = Value::Object(Map::new());
    }
    let Value::Object(m) = e else { return Ok(()) };
    let old = get_key(m, sub.name).cloned();
    check_immutable(sub, old.as_ref(), new.as_ref(), label)?;
    remove_ci(m, sub.name);
    if let Some(v) = new {
        m.insert(sub.name.to_string(), v);
    }
    Ok(())
}

fn element_with(sub: &AttrDef, v: Value) -> Value {
    let mut m = Map::new();
    m.insert(sub.name.to_string(), v);
    Value::Object(m)
}

fn check_immutable(
    def: &AttrDef,
    old: Option<&Value>,
    new: Option<&Value>,
    label: &str,
) -> Result<(), ScimError> {
    if def.mutability == Mutability::Immutable && old.is_some() && old != new {
        return Err(ScimError::mutability(format!(
            "\"{label}\" is immutable: it can be set when it has no value, but not changed or removed"
        )));
    }
    Ok(())
}

fn check_element_immutables(attr: &AttrDef, old: &Value, new: &Value, label: &str) -> Result<(), ScimError> {
    let (Value::Object(o), Value::Object(n)) = (old, new) else {
        return Ok(());
    };
    for sub in attr
        .sub_attributes
        .iter()
        .filter(|s| s.mutability == Mutability::Immutable)
    {
        check_immutable(
            sub,
            get_key(o, sub.name),
            get_key(n, sub.name),
            &format!("{label}.{}", sub.name),
        )?;
    }
    Ok(())
}

fn is_primary(e: &Value) -> bool {
    e.get("primary") == Some(&Value::Bool(true))
}

/// RFC 7643 §2.4: at most one `primary: true`. When exactly one element was just made primary,
/// the others give way; several at once is the client's contradiction, left for `validate`.
fn enforce_single_primary(attr: &AttrDef, elems: &mut [Value], winners: &[usize]) {
    let ([winner], Some(primary)) = (winners, attr.sub_attr("primary")) else {
        return;
    };
    for (i, e) in elems.iter_mut().enumerate() {
        if i != *winner
            && is_primary(e)
            && let Value::Object(m) = e
        {
            m.insert(primary.name.to_string(), Value::Bool(false));
        }
    }
}

/// The `value` of an element (the element itself for a simple multi-valued attribute) as a
/// lookup key: equal keys whenever `scalar_eq` would call the values equal. `None` for an
/// element without a string or boolean `value`.
fn value_key(attr: &AttrDef, e: &Value) -> Option<String> {
    let (v, case_exact) = match e {
        Value::Object(m) => {
            let def = attr.sub_attr("value")?;
            (get_key(m, def.name)?, def.case_exact)
        }
        scalar => (scalar, attr.case_exact),
    };
    match v {
        Value::String(s) if case_exact => Some(format!("s{s}")),
        Value::String(s) => Some(format!("s{}", s.to_lowercase())),
        Value::Bool(b) => Some(b.to_string()),
        // Numbers compare as serde_json does (0.0 equals -0.0), so they are not keyed.
        _ => None,
    }
}

/// Does stored element `have` already hold everything `added` says? Then adding it is no
/// change (RFC 7644 §3.5.2.1), even if the stored one says more (`primary`, `display`).
/// Strings compare per their `caseExact`.
fn contains_element(attr: &AttrDef, have: &Value, added: &Value) -> bool {
    match (have, added) {
        (Value::Object(h), Value::Object(a)) => {
            !a.is_empty()
                && a.iter()
                    .all(|(k, va)| get_key(h, k).is_some_and(|vh| scalar_eq(sub_case_exact(attr, k), vh, va)))
        }
        _ => scalar_eq(attr.case_exact, have, added),
    }
}

fn sub_case_exact(attr: &AttrDef, name: &str) -> bool {
    attr.sub_attr(name).is_some_and(|d| d.case_exact)
}

fn scalar_eq(case_exact: bool, a: &Value, b: &Value) -> bool {
    match (a, b) {
        // ASCII first: the same answer as Unicode lower-casing, without allocating.
        (Value::String(x), Value::String(y)) if !case_exact && x.is_ascii() && y.is_ascii() => {
            x.eq_ignore_ascii_case(y)
        }
        (Value::String(x), Value::String(y)) if !case_exact => x.to_lowercase() == y.to_lowercase(),
        _ => a == b,
    }
}

fn into_elements(v: Option<Value>) -> Vec<Value> {
    match v {
        Some(Value::Array(a)) => a,
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

fn as_array(v: Value) -> Value {
    match v {
        Value::Array(_) => v,
        other => Value::Array(vec![other]),
    }
}

/// A one-element array where one element is expected (`"value": [{"value": "id"}]`).
fn single_of(v: &Value) -> &Value {
    match v {
        Value::Array(a) if a.len() == 1 => &a[0],
        _ => v,
    }
}

/// The spelling of `key` in `map`: the exact one if present, else any case variant (as
/// `get_key` looks it up).
fn key_ci(map: &Map<String, Value>, key: &str) -> Option<String> {
    if map.contains_key(key) {
        return Some(key.to_string());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}

fn get_key<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Remove `key` in every spelling, so the canonical one can be written alone.
fn remove_ci(map: &mut Map<String, Value>, key: &str) {
    map.retain(|k, _| !k.eq_ignore_ascii_case(key));
}

/// Rename a case variant of `key` to `key`, keeping its value.
fn remove_variants(map: &mut Map<String, Value>, key: &str) {
    if map.contains_key(key) {
        return;
    }
    let variant = map.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned();
    if let Some(v) = variant.and_then(|k| map.remove(&k)) {
        map.insert(key.to_string(), v);
    }
}

/// Drop nulls, empty arrays and empty objects, recursively: all mean unassigned
/// (RFC 7643 §2.5), and the canonical document holds none of them.
fn prune_map(map: &mut Map<String, Value>) {
    map.retain(|_, v| {
        prune(v);
        !is_unassigned(v)
    });
}

fn prune(v: &mut Value) {
    match v {
        Value::Object(m) => prune_map(m),
        Value::Array(a) => a.retain_mut(|e| {
            prune(e);
            !is_unassigned(e)
        }),
        _ => {}
    }
}

fn is_unassigned(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Group membership

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

fn split_one(op: PatchOperation, out: &mut GroupPatch) -> Result<(), ScimError> {
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
fn is_members_path(p: &AttrPath) -> bool {
    p.name.eq_ignore_ascii_case("members")
        && p.urn.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(GROUP_URN))
}

/// A member's sub-attributes cannot be written (RFC 7643 §4.2, §8.7.1: `value`, `$ref` and
/// `type` are immutable; `display` is derived, so readOnly here): a member is added or removed
/// whole, never edited in place.
fn members_sub_error(written: &str) -> ScimError {
    ScimError::mutability(format!(
        "\"{written}\": a member's sub-attributes cannot be changed (value, $ref and type are \
         immutable, display is readOnly); members are added or removed as a whole (path \"members\") \
         or selected by value (members[value eq \"<id>\"]), not changed by sub-attribute"
    ))
}

fn member_op_for_path(kind: OpKind, p: &PatchPath, value: Option<&Value>) -> Result<MemberOp, ScimError> {
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

fn member_op_whole(kind: OpKind, value: Option<&Value>) -> Result<MemberOp, ScimError> {
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
fn member_ids(v: &Value) -> Result<Vec<String>, ScimError> {
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
fn ids_from_filter(f: &Filter) -> Result<Vec<String>, ScimError> {
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

fn members_filter_error() -> ScimError {
    ScimError::invalid_filter(
        "members can only be selected by value: members[value eq \"<id>\"], \
         optionally several joined with or",
    )
}

/// Drops repeated ids, keeping first occurrences in order; linear, since a member list can
/// hold tens of thousands of ids.
fn dedup(ids: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.into_iter().filter(|id| seen.insert(id.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::schema::{ENTERPRISE_USER_URN, GROUP, Returned, Schema, USER, Uniqueness};
    use proptest::prelude::*;
    use serde_json::json;

    const ENT: &str = ENTERPRISE_USER_URN;

    fn body(ops: Value) -> Value {
        json!({"schemas": [PATCH_OP_URN], "Operations": ops})
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    fn user() -> Map<String, Value> {
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

    fn group() -> Map<String, Value> {
        obj(json!({"displayName": "Test SCIMv2", "externalId": "8aa1a0c0"}))
    }

    /// Parse and apply to a copy, as the service does; the copy on success.
    fn patch(
        rt: &ResourceType,
        doc: &Map<String, Value>,
        ops: Value,
    ) -> Result<(Map<String, Value>, bool), ScimError> {
        let ops = parse_patch(&body(ops))?;
        let mut copy = doc.clone();
        let changed = apply(rt, &mut copy, &ops)?;
        Ok((copy, changed))
    }

    fn patch_user(ops: Value) -> Map<String, Value> {
        patch_user_from(&user(), ops)
    }

    fn patch_user_from(doc: &Map<String, Value>, ops: Value) -> Map<String, Value> {
        match patch(&USER, doc, ops) {
            Ok((d, _)) => d,
            Err(e) => panic!("patch failed: {e}"),
        }
    }

    fn user_err(ops: Value) -> ScimError {
        user_err_from(&user(), ops)
    }

    fn user_err_from(doc: &Map<String, Value>, ops: Value) -> ScimError {
        match patch(&USER, doc, ops) {
            Ok((d, _)) => panic!("expected an error, got {}", Value::Object(d)),
            Err(e) => e,
        }
    }

    fn assert_err(e: &ScimError, status: u16, ty: Option<ScimType>, needle: &str) {
        assert_eq!((e.status, e.scim_type), (status, ty), "{e}");
        assert!(
            e.detail.contains(needle),
            "detail {:?} lacks {:?}",
            e.detail,
            needle
        );
    }

    fn parse_err(b: Value) -> ScimError {
        parse_patch(&b).expect_err("expected a parse error")
    }

    fn split(ops: Value) -> Result<GroupPatch, ScimError> {
        split_group_ops(parse_patch(&body(ops))?)
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

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

    // ---- Okta -------------------------------------------------------------------------------

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

    // ---- Entra §2.5 -------------------------------------------------------------------------

    #[test]
    fn entra_default_dialect_update() {
        let mut doc = user();
        doc.insert(
            "addresses".into(),
            json!([{"type": "home", "formatted": "1 Home St"}]),
        );
        let d = patch_user_from(
            &doc,
            json!([
                {"op": "Replace", "path": "displayName", "value": "Pvlo"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
                {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
                {"op": "Replace", "path": "externalId", "value": "Eqpj"},
                {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Eqpj"},
                {"op": "Replace", "path": "addresses[type eq \"work\"].formatted", "value": "18/2111"},
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Retail"},
                {"op": "Add", "path": "nickName", "value": "Babs"}
            ]),
        );
        assert_eq!(
            Value::Object(d),
            json!({
                "userName": "bjensen@example.com",
                "externalId": "Eqpj",
                "name": {"givenName": "Gtfd", "familyName": "Jensen"},
                "displayName": "Pvlo",
                "nickName": "Babs",
                "active": true,
                "emails": [
                    {"value": "TestBcwqnm@test.microsoft.com", "type": "work", "primary": true},
                    {"value": "babs@jensen.org", "type": "home"}
                ],
                "addresses": [{"type": "home", "formatted": "1 Home St"}, {"type": "work", "formatted": "18/2111"}],
                ENT: {"employeeNumber": "Eqpj", "department": "Retail"}
            })
        );
    }

    #[test]
    fn entra_flag_merged_no_path_op_with_dotted_and_urn_keys() {
        let d = patch_user(json!([
            {"op": "replace", "value": {"displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"}},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "w@x.org"}
        ]));
        assert_eq!(d["displayName"], json!("Bjfe"));
        assert_eq!(d["name"], json!({"givenName": "Kkom", "familyName": "Unua"}));
        assert_eq!(d[ENT], json!({"employeeNumber": "Aklq"}));
        assert_eq!(d["emails"][0]["value"], json!("w@x.org"));
    }

    #[test]
    fn entra_work_email_is_created_when_missing() {
        let mut doc = user();
        doc.remove("emails");
        for op in ["Add", "Replace", "add", "replace"] {
            let d = patch_user_from(
                &doc,
                json!([{"op": op, "path": "emails[type eq \"work\"].value", "value": "new@x.org"}]),
            );
            assert_eq!(
                d["emails"],
                json!([{"type": "work", "value": "new@x.org"}]),
                "{op}"
            );
        }
        // Beside an existing home email, too.
        doc.insert("emails".into(), json!([{"value": "h@x.org", "type": "home"}]));
        let d = patch_user_from(
            &doc,
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "w@x.org"}]),
        );
        assert_eq!(
            d["emails"],
            json!([{"value": "h@x.org", "type": "home"}, {"type": "work", "value": "w@x.org"}])
        );
    }

    #[test]
    fn entra_sub_attribute_names_are_case_insensitive() {
        let d =
            patch_user(json!([{"op": "Add", "path": "emails[type eq \"other\"].Value", "value": "o@x.org"}]));
        assert_eq!(d["emails"][2], json!({"type": "other", "value": "o@x.org"}));
        let d = patch_user(
            json!([{"op": "Replace", "path": "EMAILS[TYPE eq \"work\"].VALUE", "value": "w@x.org"}]),
        );
        assert_eq!(d["emails"][0]["value"], json!("w@x.org"));
        assert_eq!(d["emails"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn entra_phone_numbers_by_type() {
        let d = patch_user(json!([
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
            {"op": "Add", "path": "phoneNumbers[type eq \"fax\"].value", "value": "+1 555 0101"},
            {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0199"},
            {"op": "Add", "path": "addresses[type eq \"work\"].postalCode", "value": "91608"}
        ]));
        assert_eq!(
            d["phoneNumbers"],
            json!([{"type": "mobile", "value": "+1 555 0199"}, {"type": "fax", "value": "+1 555 0101"}])
        );
        assert_eq!(d["addresses"], json!([{"type": "work", "postalCode": "91608"}]));
    }

    #[test]
    fn entra_roles_primary_true_as_a_quoted_string() {
        let mut doc = user();
        doc.insert(
            "roles".into(),
            json!([{"value": "Admin", "primary": true}, {"value": "User"}]),
        );
        let d = patch_user_from(
            &doc,
            json!([{"op": "Replace", "path": "roles[primary eq \"True\"].display", "value": "Administrator"}]),
        );
        assert_eq!(
            d["roles"],
            json!([{"value": "Admin", "primary": true, "display": "Administrator"}, {"value": "User"}])
        );
        // No primary role yet: the filter's terms make one.
        let d = patch_user(
            json!([{"op": "Add", "path": "roles[primary eq \"True\"].display", "value": "Reader"}]),
        );
        assert_eq!(d["roles"], json!([{"primary": true, "display": "Reader"}]));
    }

    #[test]
    fn entra_app_role_assignments_complex_value_is_kept_verbatim() {
        let v = "{\"id\":\"1\",\"value\":\"Admin\",\"displayName\":\"Admin\"}";
        let d = patch_user(json!([{"op": "Add", "path": "roles", "value": [{"value": v}]}]));
        assert_eq!(d["roles"], json!([{"value": v}]));
    }

    #[test]
    fn entra_manager_bare_string_and_filtered_removal() {
        let d = patch_user(
            json!([{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "m-1"}]),
        );
        assert_eq!(d[ENT], json!({"manager": {"value": "m-1"}}));
        // The doc's array form.
        let d2 = patch_user(
            json!([{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "value": [{"$ref": "../Users/m-1", "value": "m-1"}]}]),
        );
        assert_eq!(d2[ENT]["manager"]["value"], json!("m-1"));

        // Removal of another manager changes nothing; of this one removes it (and the emptied extension).
        let (same, changed) = patch(
            &USER,
            &d,
            json!([{"op": "remove", "path": "manager[value eq \"m-2\"]"}]),
        )
        .unwrap();
        assert_eq!(same, d);
        assert!(!changed);
        let gone = patch_user_from(&d, json!([{"op": "remove", "path": "manager[value eq \"m-1\"]"}]));
        assert_eq!(gone, user());
        let gone = patch_user_from(
            &d,
            json!([{"op": "remove",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq \"m-1\"]"}]),
        );
        assert_eq!(gone, user());
        // Entra's value-list removal of a single-valued complex attribute.
        let gone = patch_user_from(
            &d,
            json!([{"op": "Remove", "path": "manager", "value": [{"value": "m-1"}]}]),
        );
        assert_eq!(gone, user());
        let kept = patch_user_from(
            &d,
            json!([{"op": "Remove", "path": "manager", "value": [{"value": "m-9"}]}]),
        );
        assert_eq!(kept, d);
    }

    #[test]
    fn a_new_manager_drops_the_old_managers_display_name() {
        let mut doc = user();
        doc.insert(
            ENT.into(),
            json!({"manager": {"value": "m-1", "displayName": "Old Boss"}}),
        );
        let d = patch_user_from(&doc, json!([{"op": "Add", "path": "manager", "value": "m-2"}]));
        assert_eq!(d[ENT], json!({"manager": {"value": "m-2"}}));
        // Same referent: a merge.
        let d = patch_user_from(
            &doc,
            json!([{"op": "replace", "path": "manager", "value": {"value": "m-1", "$ref": "../Users/m-1"}}]),
        );
        assert_eq!(
            d[ENT]["manager"],
            json!({"value": "m-1", "displayName": "Old Boss", "$ref": "../Users/m-1"})
        );
    }

    #[test]
    fn entra_remove_with_a_value_list_removes_only_those() {
        let d = patch_user(
            json!([{"op": "Remove", "path": "emails", "value": [{"value": "BABS@jensen.org", "$ref": null}]}]),
        );
        assert_eq!(
            d["emails"],
            json!([{"value": "bjensen@example.com", "type": "work", "primary": true}])
        );
        // An element naming nothing removes nothing.
        let (d, changed) = patch(
            &USER,
            &user(),
            json!([{"op": "Remove", "path": "emails", "value": [{"$ref": null}]}]),
        )
        .unwrap();
        assert_eq!(d, user());
        assert!(!changed);
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

    // ---- RFC 7644 §3.5.2 examples ---------------------------------------------------------

    #[test]
    fn rfc_group_examples() {
        let gp = split(
            json!([{"op": "add", "path": "members", "value": [{"display": "Babs Jensen",
            "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
            "value": "2819c223-7f76-453a-919d-413861904646"}]}]),
        )
        .unwrap();
        assert_eq!(
            gp.member_ops,
            vec![MemberOp::Add(ids(&["2819c223-7f76-453a-919d-413861904646"]))]
        );
        let gp = split(json!([
            {"op": "remove", "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"},
            {"op": "remove", "path": "members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"]"},
            {"op": "add", "path": "members", "value": [{"display": "James Smith", "value": "08e1d05d-121c-4561-8b96-473d93df9210"}]}
        ]))
        .unwrap();
        assert_eq!(gp.member_ops.len(), 3);
        let gp = split(json!([{"op": "remove", "path": "members"}, {"op": "add", "path": "members", "value": [{"value": "a"}]}])).unwrap();
        assert_eq!(
            gp.member_ops,
            vec![MemberOp::RemoveAll, MemberOp::Add(ids(&["a"]))]
        );
    }

    #[test]
    fn rfc_add_without_path() {
        let d = patch_user(
            json!([{"op": "add", "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}, {"value": "b2@x.org", "type": "other"}],
            "nickname": "Babs"}}]),
        );
        assert_eq!(d["nickName"], json!("Babs"));
        // The home email was already there: not added twice.
        assert_eq!(d["emails"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn rfc_replace_without_path_replaces_arrays() {
        let d = patch_user(json!([{"op": "replace", "value": {"emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}], "nickname": "Babs"}}]));
        assert_eq!(d["emails"], user()["emails"]);
        assert_eq!(d["nickName"], json!("Babs"));
    }

    #[test]
    fn rfc_remove_with_a_compound_filter() {
        let mut doc = user();
        doc.insert(
            "emails".into(),
            json!([
            {"value": "a@example.com", "type": "work"},
            {"value": "b@other.org", "type": "work"},
            {"value": "c@example.com", "type": "home"}]),
        );
        let d = patch_user_from(
            &doc,
            json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]),
        );
        assert_eq!(
            d["emails"],
            json!([{"value": "b@other.org", "type": "work"}, {"value": "c@example.com", "type": "home"}])
        );
    }

    #[test]
    fn rfc_replace_a_filtered_element_and_its_sub_attribute() {
        let mut doc = user();
        doc.insert(
            "addresses".into(),
            json!([{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood"},
            {"type": "home", "streetAddress": "456 Hollywood Blvd", "primary": true}]),
        );
        let d = patch_user_from(
            &doc,
            json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": {
            "type": "work", "streetAddress": "911 Universal City Plaza", "postalCode": "91608", "primary": true}}]),
        );
        // Replaced whole (locality gone), and the home address is no longer primary.
        assert_eq!(
            d["addresses"],
            json!([
            {"type": "work", "streetAddress": "911 Universal City Plaza", "postalCode": "91608", "primary": true},
            {"type": "home", "streetAddress": "456 Hollywood Blvd", "primary": false}])
        );
        let d = patch_user_from(
            &d,
            json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}]),
        );
        assert_eq!(d["addresses"][0]["streetAddress"], json!("1010 Broadway Ave"));
        assert_eq!(d["addresses"][0]["postalCode"], json!("91608"));
    }

    #[test]
    fn add_to_a_filtered_element_merges() {
        let d = patch_user(
            json!([{"op": "add", "path": "emails[type eq \"home\"]", "value": {"display": "Home"}}]),
        );
        assert_eq!(
            d["emails"][1],
            json!({"value": "babs@jensen.org", "type": "home", "display": "Home"})
        );
    }

    // ---- Single- and multi-valued semantics ----------------------------------------------------

    #[test]
    fn complex_single_valued_add_and_replace_merge() {
        for op in ["add", "replace"] {
            let d = patch_user(
                json!([{"op": op, "path": "name", "value": {"givenName": "Babs", "middleName": "J"}}]),
            );
            assert_eq!(
                d["name"],
                json!({"givenName": "Babs", "familyName": "Jensen", "middleName": "J"}),
                "{op}"
            );
            let d = patch_user(json!([{"op": op, "value": {"name": {"GIVENNAME": "Babs"}}}]));
            assert_eq!(
                d["name"],
                json!({"givenName": "Babs", "familyName": "Jensen"}),
                "{op}"
            );
        }
        let d = patch_user(
            json!([{"op": "replace", "path": "name", "value": {"givenName": null, "formatted": "Ms. Jensen"}}]),
        );
        assert_eq!(
            d["name"],
            json!({"familyName": "Jensen", "formatted": "Ms. Jensen"})
        );
    }

    #[test]
    fn multi_valued_add_appends_once_and_keeps_one_primary() {
        let d = patch_user(
            json!([{"op": "add", "path": "emails", "value": {"value": "BJENSEN@example.com", "type": "work", "primary": true}}]),
        );
        assert_eq!(
            d["emails"],
            user()["emails"],
            "case-insensitive duplicate is not added"
        );
        let d = patch_user(
            json!([{"op": "add", "path": "emails", "value": [{"value": "new@x.org", "type": "other", "primary": true}]}]),
        );
        assert_eq!(
            d["emails"],
            json!([
            {"value": "bjensen@example.com", "type": "work", "primary": false},
            {"value": "babs@jensen.org", "type": "home"},
            {"value": "new@x.org", "type": "other", "primary": true}])
        );
        let d = patch_user(
            json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": "True"}]),
        );
        assert_eq!(d["emails"][0]["primary"], json!(false));
        assert_eq!(d["emails"][1]["primary"], json!(true));
    }

    #[test]
    fn adding_an_element_already_contained_changes_nothing() {
        let (d, changed) = patch(
            &USER,
            &user(),
            json!([{"op": "Add", "path": "emails", "value": [{"value": "BJensen@example.com", "type": "work"}]},
                {"op": "add", "value": {"urn:ietf:params:scim:schemas:core:2.0:User": null}}]),
        )
        .unwrap();
        assert_eq!(d, user());
        assert!(!changed);
        // Same address, another type: a different element.
        let d = patch_user(
            json!([{"op": "add", "path": "emails", "value": {"value": "babs@jensen.org", "type": "other"}}]),
        );
        assert_eq!(d["emails"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn adding_many_values_finds_the_contained_ones_by_value() {
        // Several values at once go through the lookup by `value`: case-insensitive for
        // emails, and a repeat inside the added list is added once.
        let (d, changed) = patch(
            &USER,
            &user(),
            json!([{"op": "add", "path": "emails", "value": [
                {"value": "BJENSEN@example.com", "type": "work"},
                {"value": "bjensen@EXAMPLE.com"},
                {"value": "new@example.com", "type": "home"},
                {"value": "NEW@example.com", "type": "home"}]}]),
        )
        .unwrap();
        assert!(changed);
        let emails = d["emails"].as_array().unwrap();
        assert_eq!(emails.len(), user()["emails"].as_array().unwrap().len() + 1);
        assert_eq!(
            emails.last().unwrap(),
            &json!({"value": "new@example.com", "type": "home"})
        );
        // A value of another type is another element, even with the lookup.
        let d = patch_user(json!([{"op": "add", "path": "emails", "value": [
            {"value": "bjensen@example.com", "type": "other"}, {"value": "x@example.com"}]}]));
        assert_eq!(d["emails"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn operations_and_values_are_bounded() {
        let op = json!({"op": "replace", "path": "title", "value": "t"});
        assert!(parse_patch(&body(Value::Array(vec![op.clone(); MAX_PATCH_OPERATIONS]))).is_ok());
        let e = parse_err(body(Value::Array(vec![op; MAX_PATCH_OPERATIONS + 1])));
        assert_err(&e, 400, Some(ScimType::InvalidValue), "at most 1000 are accepted");

        let emails = |from: usize, n: usize| -> Value {
            (from..from + n)
                .map(|i| json!({"value": format!("u{i}@example.com")}))
                .collect()
        };
        let e = user_err(json!([{"op": "add", "path": "emails", "value": emails(0, resource::MAX_VALUES)}]));
        assert_err(
            &e,
            400,
            Some(ScimType::InvalidValue),
            "\"emails\" has 1002 values; at most 1000",
        );
        // Checked after every operation, so no operation works on an attribute past the bound.
        let e = user_err(json!([
            {"op": "add", "path": "emails", "value": emails(0, 600)},
            {"op": "add", "path": "emails", "value": emails(600, 600)},
            {"op": "remove", "path": "emails"}
        ]));
        assert_err(
            &e,
            400,
            Some(ScimType::InvalidValue),
            "operation 2: \"emails\" has",
        );
        let d = patch_user(
            json!([{"op": "replace", "path": "emails", "value": emails(0, resource::MAX_VALUES)}]),
        );
        assert_eq!(d["emails"].as_array().unwrap().len(), resource::MAX_VALUES);
    }

    #[test]
    fn two_primaries_in_one_replace_are_refused_by_validation() {
        let e = user_err(json!([{"op": "replace", "path": "emails", "value": [
            {"value": "a@x", "primary": true}, {"value": "b@x", "primary": true}]}]));
        assert_err(&e, 400, Some(ScimType::InvalidValue), "");
    }

    #[test]
    fn multi_valued_replace_without_filter_replaces_all() {
        let d = patch_user(json!([{"op": "replace", "path": "emails", "value": {"value": "only@x.org"}}]));
        assert_eq!(d["emails"], json!([{"value": "only@x.org"}]));
    }

    #[test]
    fn null_values_remove() {
        let d = patch_user(json!([{"op": "replace", "path": "displayName", "value": null},
            {"op": "add", "value": {"name.givenName": null}},
            {"op": "Replace", "path": "emails[type eq \"home\"]", "value": null}]));
        assert!(!d.contains_key("displayName"));
        assert_eq!(d["name"], json!({"familyName": "Jensen"}));
        assert_eq!(d["emails"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn removals() {
        let d = patch_user(
            json!([{"op": "remove", "path": "name.givenName"}, {"op": "remove", "path": "displayName"}]),
        );
        assert_eq!(d["name"], json!({"familyName": "Jensen"}));
        assert!(!d.contains_key("displayName"));
        // Removing the last sub-attribute leaves no empty object.
        let d = patch_user_from(&d, json!([{"op": "remove", "path": "name.familyName"}]));
        assert!(!d.contains_key("name"));
        let d = patch_user(json!([{"op": "remove", "path": "emails"}]));
        assert!(!d.contains_key("emails"));
        let d = patch_user(json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]));
        assert_eq!(
            d["emails"][0],
            json!({"value": "bjensen@example.com", "type": "work"})
        );
        let d = patch_user(json!([{"op": "remove", "path": "emails.type"}]));
        assert_eq!(
            d["emails"],
            json!([{"value": "bjensen@example.com", "primary": true}, {"value": "babs@jensen.org"}])
        );
    }

    #[test]
    fn removal_matching_nothing_succeeds_unchanged() {
        for path in [
            "emails[type eq \"fax\"]",
            "phoneNumbers[type eq \"work\"]",
            "nickName",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ] {
            let (d, changed) = patch(&USER, &user(), json!([{"op": "remove", "path": path}])).unwrap();
            assert_eq!(d, user(), "{path}");
            assert!(!changed, "{path}");
        }
    }

    #[test]
    fn unchanged_values_report_no_change() {
        let (_, changed) = patch(&USER, &user(), json!([{"op": "replace", "path": "displayName", "value": "Babs Jensen"},
            {"op": "Replace", "path": "active", "value": "True"}, {"op": "add", "path": "name.givenName", "value": "Barbara"}]))
        .unwrap();
        assert!(!changed);
    }

    #[test]
    fn sub_attribute_without_filter_on_multi_valued_sets_every_element() {
        let d = patch_user(json!([{"op": "replace", "path": "emails.display", "value": "E"}]));
        assert!(
            d["emails"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["display"] == json!("E"))
        );
        let mut doc = user();
        doc.remove("emails");
        let d = patch_user_from(
            &doc,
            json!([{"op": "add", "path": "emails.value", "value": "only@x.org"}]),
        );
        assert_eq!(d["emails"], json!([{"value": "only@x.org"}]));
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
        assert_eq!(d, user());
        assert!(!changed);
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

    // ---- Never panics -----------------------------------------------------------------------

    fn arb_json() -> impl Strategy<Value = Value> {
        let names = prop::sample::select(vec![
            "value",
            "Value",
            "type",
            "primary",
            "display",
            "$ref",
            "givenName",
            "name",
            "name.givenName",
            "emails",
            "active",
            "members",
            "Members",
            "id",
            "meta",
            "groups",
            "userName",
            "displayName",
            "manager",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "roles",
            "x",
        ])
        .prop_map(str::to_string);
        let key = prop_oneof![names, "[a-zA-Z.:$\\[\\] ]{0,12}"];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            prop::sample::select(vec!["True", "false", "work", "a@x", "m-1", ""]).prop_map(|s| json!(s)),
            "[ -~]{0,10}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 40, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn arb_path() -> impl Strategy<Value = Value> {
        prop_oneof![
            prop::sample::select(vec![
                "active",
                "name",
                "name.givenName",
                "emails",
                "emails[type eq \"work\"]",
                "emails[type eq \"work\"].value",
                "emails[primary eq \"True\"].display",
                "emails[value co \"x\" or not (type pr)]",
                "roles[primary eq true]",
                "addresses[type eq \"work\"].formatted",
                "manager",
                "manager[value eq \"m-1\"]",
                "manager.value",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq \"m-1\"]",
                "members",
                "members[value eq \"a\"]",
                "members[value eq \"a\" or value eq \"b\"]",
                "displayName",
                "id",
                "meta.created",
                "groups",
                "userName",
                "phoneNumbers.type",
                "emails.value",
                "x509Certificates",
            ])
            .prop_map(|s| json!(s)),
            "[a-zA-Z.:\\[\\]\" ]{0,20}".prop_map(Value::String),
            arb_json(),
        ]
    }

    fn arb_operation() -> impl Strategy<Value = Value> {
        let op = prop_oneof![
            prop::sample::select(vec![
                "add", "Add", "remove", "Remove", "replace", "REPLACE", "move"
            ])
            .prop_map(|s| json!(s)),
            arb_json(),
        ];
        (
            op,
            prop::option::of(arb_path()),
            prop::option::of(arb_json()),
            any::<bool>(),
        )
            .prop_map(|(op, path, value, wrap)| {
                let mut m = Map::new();
                m.insert("op".into(), op);
                if let Some(p) = path {
                    m.insert("path".into(), p);
                }
                if let Some(v) = value {
                    m.insert("value".into(), v);
                }
                if wrap {
                    Value::Object(m)
                } else {
                    Value::Array(vec![Value::Object(m)])
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn parse_and_apply_never_panic(ops in prop::collection::vec(arb_operation(), 0..5), raw in arb_json()) {
            let _ = parse_patch(&raw);
            let message = body(Value::Array(ops));
            if let Ok(parsed) = parse_patch(&message) {
                let mut doc = user();
                doc.insert(ENT.into(), json!({"manager": {"value": "m-1", "displayName": "B"}}));
                doc.insert("roles".into(), json!([{"value": "r", "primary": true}]));
                if apply(&USER, &mut doc, &parsed).is_ok() {
                    let mut pruned = doc.clone();
                    prune_map(&mut pruned);
                    prop_assert_eq!(&pruned, &doc, "apply leaves no empty values");
                    // What a PATCH leaves, a PUT of the same document accepts (fuzz/patch checks
                    // the same on arbitrary JSON).
                    let put = resource::normalize(&USER, &Value::Object(doc.clone()));
                    prop_assert!(put.is_ok(), "{:?}", put);
                }
                if let Ok(gp) = split_group_ops(parsed) {
                    let _ = apply(&GROUP, &mut group(), &gp.doc_ops);
                }
            }
        }
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
