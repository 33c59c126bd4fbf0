//! Resource documents: client JSON → canonical stored document, validation, and projection.
//!
//! The canonical document is the resource's SCIM JSON without `schemas`, `id`, `meta` and the
//! derived `groups`: attribute names in canonical spelling, values coerced to their schema
//! type, multi-valued attributes always arrays, extension attributes nested under their
//! schema URN (`{"urn:…:enterprise:2.0:User": {"employeeNumber": "1"}}`), no nulls.
//!
//! Input is read leniently because real IdPs break the RFC in predictable ways (see
//! docs/idp-notes.md §5): readOnly and unknown keys are dropped rather than refused, names match
//! case-insensitively, one object is accepted where an array is expected, and string booleans
//! are read as booleans. What cannot be given a clear meaning (an object for a string, `"yes"`
//! for a boolean) is refused with 400 `invalidValue` naming the attribute.

use serde_json::{Map, Number, Value};

use crate::scim::error::ScimError;
use crate::scim::path::AttrPath;
use crate::scim::schema::{AttrDef, AttrType, GROUP_SCHEMA, Mutability, ResourceType, Returned, Schema};

/// Most values one multi-valued attribute of a document may hold (emails, roles, entitlements,
/// …; not a group's `members`, which live in a table of their own). A bound, so that neither a
/// POST nor a PATCH can make the server copy and compare an attribute without limit; far above
/// what any IdP sends for one user.
pub const MAX_VALUES: usize = 1000;

/// Turn a POST or PUT body into a canonical document. Accepts and drops what IdPs send but
/// scimd does not keep (readOnly `id`, `meta`, `groups`, `schemas`, `password`, unknown keys and
/// unknown schema URNs, nulls). Errors: 400 `invalidSyntax` for a body that is not an object,
/// 400 `invalidValue` for a value that cannot be coerced, naming the attribute.
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
    for (key, value) in qualified {
        if let Some((schema, attr, sub)) = split_qualified(rt, key) {
            put(rt, &mut doc, schema, attr, sub, value)?;
        }
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

/// Coerce a value for `attr` as a client sent it: for a multi-valued attribute an array, or a
/// single element which becomes a one-element array; string booleans (`"True"`, `"false"`) for
/// booleans; sub-attribute names to canonical spelling; a bare string for a complex attribute
/// that has a `value` sub-attribute (Entra's `manager`) becomes `{"value": s}`. Nulls inside
/// complex values are dropped. `path` is used only in error details.
///
/// Also: `null` stays `null` (the caller decides what unassigning means); a single-valued
/// attribute accepts a one-element array (Entra's `manager` as `[{"value": …}]`) and reads an
/// empty one as `null`; elements of a multi-valued attribute that are null or end up empty
/// are dropped; unknown and readOnly sub-attributes are dropped (RFC 7644 §3.5.1: readOnly
/// values sent by a client are ignored); Group `members` lose `$ref` (scimd derives it) and
/// must each have a string `value`.
pub fn coerce_value(attr: &AttrDef, value: &Value, path: &str) -> Result<Value, ScimError> {
    match value {
        Value::Null => Ok(Value::Null),
        _ if attr.multi_valued => {
            let items: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                single => vec![single],
            };
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                if item.is_null() {
                    continue;
                }
                let coerced = coerce_single(attr, item, &format!("{path}[{i}]"))?;
                if !is_unassigned(&coerced) {
                    out.push(coerced);
                }
            }
            Ok(Value::Array(out))
        }
        Value::Array(items) => match items.as_slice() {
            [] => Ok(Value::Null),
            [only] => coerce_single(attr, only, path),
            _ => Err(ScimError::invalid_value(format!(
                "\"{path}\" is single-valued: send one value, not an array of {}",
                items.len()
            ))),
        },
        single => coerce_single(attr, single, path),
    }
}

/// The longest string value scimd keeps, in bytes of UTF-8. Every value is indexed for
/// filters, and a Postgres index entry cannot exceed about 2.7 kB (with the account id and
/// the attribute's name beside the value); one limit for both stores keeps them alike.
pub const MAX_STRING_BYTES: usize = 2048;

/// Like `coerce_value`, but for one element of a multi-valued attribute (or the value of a
/// single-valued one): never wraps in an array.
pub fn coerce_single(attr: &AttrDef, value: &Value, path: &str) -> Result<Value, ScimError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    match attr.ty {
        AttrType::Complex => coerce_complex(attr, value, path),
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            // Postgres text cannot hold U+0000; refusing it everywhere keeps the stores alike
            // and the answer a 400 rather than a database error.
            Value::String(s) if s.contains('\0') => Err(ScimError::invalid_value(format!(
                "\"{path}\" contains the NUL character (U+0000), which scimd does not store"
            ))),
            Value::String(s) if s.len() > MAX_STRING_BYTES => Err(ScimError::invalid_value(format!(
                "\"{path}\" is {} bytes long; scimd keeps values of at most {MAX_STRING_BYTES} bytes",
                s.len()
            ))),
            Value::String(_) => Ok(value.clone()),
            // Templates render numbers unquoted (`"employeeNumber": 123`); the meaning is clear.
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(wrong_type(path, "a string", value)),
        },
        AttrType::Boolean => match value {
            Value::Bool(_) => Ok(value.clone()),
            // Entra sends "True"/"False" (and sometimes "false") unless its RFC flag is set.
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(wrong_type(path, "a boolean (true or false)", value)),
        },
        AttrType::Integer => coerce_integer(value).ok_or_else(|| wrong_type(path, "an integer", value)),
        AttrType::Decimal => coerce_decimal(value).ok_or_else(|| wrong_type(path, "a decimal number", value)),
        AttrType::DateTime => match value {
            // Server-assigned dates (meta.created) are never parsed from clients: Okta echoes
            // them in a non-ISO form, and they are dropped anyway.
            Value::String(_) if attr.mutability == Mutability::ReadOnly => Ok(value.clone()),
            Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => Ok(value.clone()),
            _ => Err(wrong_type(
                path,
                "an RFC 3339 date-time such as \"2024-01-31T12:00:00Z\"",
                value,
            )),
        },
    }
}

/// Check a whole canonical document after all edits: required attributes present and
/// non-empty, at most one `primary: true` per multi-valued attribute, identifiers without
/// invisible or control characters. 400 `invalidValue`.
pub fn validate(rt: &ResourceType, doc: &Map<String, Value>) -> Result<(), ScimError> {
    check_identifiers(doc)?;
    let schemas = std::iter::once((rt.schema, true)).chain(rt.extensions.iter().copied());
    for (schema, schema_required) in schemas {
        let is_core = std::ptr::eq(schema, rt.schema);
        let container = if is_core {
            Some(doc)
        } else {
            doc.get(schema.id).and_then(Value::as_object)
        };
        let Some(container) = container else {
            if schema_required {
                return Err(ScimError::invalid_value(format!(
                    "the extension \"{}\" is required on a {}: send its attributes under that key",
                    schema.id, rt.name
                )));
            }
            continue;
        };
        for attr in schema.attributes {
            let shown = shown_path(rt, schema, attr);
            let value = container.get(attr.name);
            if attr.required {
                check_required(rt, attr, &shown, value)?;
            }
            if let Some(Value::Array(items)) = value {
                check_value_count(attr, items.len(), &shown)?;
                if attr.sub_attr("primary").is_some() {
                    let primaries = items
                        .iter()
                        .filter(|i| i.get("primary") == Some(&Value::Bool(true)))
                        .count();
                    if primaries > 1 {
                        return Err(ScimError::invalid_value(format!(
                            "\"{shown}\" has {primaries} values with \"primary\": true; \
                             at most one may be primary"
                        )));
                    }
                }
                if is_group_members(attr) {
                    check_members(items)?;
                }
            }
        }
    }
    Ok(())
}

/// userName, a group's displayName and every email address: no control character and no
/// invisible one (zero-width, soft hyphen, bidirectional control), which would let two
/// identifiers that look the same differ (`scim::lookalike`).
fn check_identifiers(doc: &Map<String, Value>) -> Result<(), ScimError> {
    let mut identifiers: Vec<(&str, &str)> = Vec::new();
    for key in ["userName", "displayName"] {
        if let Some(Value::String(s)) = doc.get(key) {
            identifiers.push((key, s));
        }
    }
    // displayName is an identifier of groups only; a user's may be any text.
    if doc.contains_key("userName") {
        identifiers.retain(|(k, _)| *k == "userName");
    }
    if let Some(Value::Array(emails)) = doc.get("emails") {
        for e in emails {
            if let Some(Value::String(v)) = e.get("value") {
                identifiers.push(("emails.value", v));
            }
        }
    }
    for (path, value) in identifiers {
        if let Some(c) = crate::scim::lookalike::forbidden_char(value) {
            return Err(ScimError::invalid_value(format!(
                "\"{path}\" contains the invisible or control character U+{:04X}, which identifiers may not \
                 contain (it would make names that look the same differ): remove it",
                c as u32
            )));
        }
    }
    Ok(())
}

/// A user's primary email: the element of `emails` marked `primary`, else the first one
/// (an IdP that sends a single address rarely marks it). What adoption matches on (rule R4, docs/rules.md)
/// and what R2 protects.
pub fn primary_email(doc: &Map<String, Value>) -> Option<&str> {
    fn value(e: &Value) -> Option<&str> {
        e.get("value")
            .and_then(Value::as_str)
            .filter(|v| !v.trim().is_empty())
    }
    let emails = doc.get("emails")?.as_array()?;
    emails
        .iter()
        .find(|e| e.get("primary") == Some(&Value::Bool(true)))
        .and_then(value)
        .or_else(|| emails.iter().find_map(value))
}

/// Apply `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5) to a rendered resource in
/// place, honouring `returned` (`always` attributes — `id`, `schemas`, … — stay; `never` ones
/// never appear). Paths that name nothing known are ignored.
///
/// `meta` is `returned: default` (RFC 7643 §3.1), so `attributes=userName` leaves it out, as
/// RFC 7644 §3.9's example does. An extension object left empty by the projection is removed
/// together with its URN in `schemas`, since `schemas` lists the schemas of what the
/// representation contains (RFC 7643 §3). Both parameters may be given: `attributes` is
/// applied first, then `excludedAttributes`.
pub fn project(
    rt: &ResourceType,
    resource: &mut Map<String, Value>,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
) {
    let exts_before: Vec<&'static str> = rt
        .extensions
        .iter()
        .map(|(s, _)| s.id)
        .filter(|urn| key_ci(resource, urn).is_some())
        .collect();

    if !attributes.is_empty() {
        let selection = Selection::new(rt, attributes);
        let old = std::mem::take(resource);
        for (key, value) in old {
            if let Some(ext) = rt.extension(&key) {
                let kept = if selection.whole_extensions.contains(&ext.id) {
                    Some(value)
                } else {
                    select_in_extension(ext, value, &selection)
                };
                if let Some(kept) = kept {
                    resource.insert(key, kept);
                }
                continue;
            }
            let Some((schema, attr)) = rt.find_unqualified(&key) else {
                continue;
            };
            if !std::ptr::eq(schema, rt.schema) {
                continue;
            }
            if let Some(kept) = select_attr(schema, true, attr, value, &selection) {
                resource.insert(key, kept);
            }
        }
    }

    for path in excluded {
        exclude(rt, resource, path);
    }

    strip_unreturnable(rt, resource, attributes.is_empty());

    let emptied: Vec<&str> = exts_before
        .into_iter()
        .filter(|urn| key_ci(resource, urn).is_none())
        .collect();
    if !emptied.is_empty()
        && let Some(Value::Array(schemas)) = resource.get_mut("schemas")
    {
        schemas.retain(|s| {
            !s.as_str()
                .is_some_and(|s| emptied.iter().any(|u| u.eq_ignore_ascii_case(s)))
        });
    }
}

// ---------------------------------------------------------------------------------------------
// normalize helpers

/// The object under a schema URN key: an extension's attributes, or (leniently) the core
/// attributes nested under the core URN.
fn normalize_schema_object(
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
fn split_qualified(
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
fn put(
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
fn object_entry<'m>(map: &'m mut Map<String, Value>, key: &str) -> &'m mut Map<String, Value> {
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

fn coerce_complex(attr: &AttrDef, value: &Value, path: &str) -> Result<Value, ScimError> {
    let members = is_group_members(attr);
    let out = match value {
        Value::Object(given) => {
            let mut out = Map::new();
            for (key, v) in given {
                let Some(sub) = attr.sub_attr(key) else {
                    continue;
                };
                if v.is_null() || sub.mutability == Mutability::ReadOnly || (members && sub.name == "$ref") {
                    continue;
                }
                let coerced = coerce_value(sub, v, &format!("{path}.{}", sub.name))?;
                if !is_unassigned(&coerced) {
                    out.insert(sub.name.to_string(), coerced);
                }
            }
            out
        }
        // Entra sends the manager (and some clients a member) as a bare id.
        Value::String(_) | Value::Number(_) | Value::Bool(_) => match attr.sub_attr("value") {
            Some(value_sub) if value_sub.mutability != Mutability::ReadOnly => {
                let coerced = coerce_single(value_sub, value, &format!("{path}.value"))?;
                Map::from_iter([("value".to_string(), coerced)])
            }
            _ => return Err(wrong_type(path, "an object", value)),
        },
        _ => return Err(wrong_type(path, "an object", value)),
    };
    if members && non_empty_str(out.get("value")).is_none() {
        return Err(ScimError::invalid_value(format!(
            "\"{path}\" has no \"value\": each member needs the id of a User or Group as a \
             string \"value\", e.g. {{\"value\": \"2819c223-…\"}}"
        )));
    }
    Ok(Value::Object(out))
}

fn coerce_integer(value: &Value) -> Option<Value> {
    match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(value.clone()),
        Value::Number(n) => {
            let f = n.as_f64()?;
            // Only integral floats that an i64 holds exactly (2^53).
            (f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0).then(|| Value::from(f as i64))
        }
        Value::String(s) => s.trim().parse::<i64>().ok().map(Value::from),
        _ => None,
    }
}

fn coerce_decimal(value: &Value) -> Option<Value> {
    match value {
        Value::Number(_) => Some(value.clone()),
        Value::String(s) => {
            let f = s.trim().parse::<f64>().ok().filter(|f| f.is_finite())?;
            Number::from_f64(f).map(Value::Number)
        }
        _ => None,
    }
}

fn is_unassigned(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// RFC 7643 §2.5: null, `[]` and (for us) `{}` all mean "unassigned", stored as absent.
fn prune(map: &mut Map<String, Value>) {
    map.retain(|_, v| !is_unassigned(v));
}

fn non_empty_str(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// `MAX_VALUES`, for every multi-valued attribute but a group's `members`.
pub fn check_value_count(attr: &AttrDef, count: usize, shown: &str) -> Result<(), ScimError> {
    if count > MAX_VALUES && !is_group_members(attr) {
        return Err(ScimError::invalid_value(format!(
            "\"{shown}\" has {count} values; at most {MAX_VALUES} are accepted"
        )));
    }
    Ok(())
}

fn is_group_members(attr: &AttrDef) -> bool {
    GROUP_SCHEMA
        .attr("members")
        .is_some_and(|m| std::ptr::eq(m, attr))
}

fn shown_path(rt: &ResourceType, schema: &Schema, attr: &AttrDef) -> String {
    if std::ptr::eq(schema, rt.schema) {
        attr.name.to_string()
    } else {
        format!("{}:{}", schema.id, attr.name)
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(path: &str, expected: &str, got: &Value) -> ScimError {
    let shown = match got {
        Value::String(s) if s.chars().count() <= 40 => format!("the string \"{s}\""),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        other => kind(other).to_string(),
    };
    ScimError::invalid_value(format!("\"{path}\" must be {expected}, but {shown} was sent"))
}

// ---------------------------------------------------------------------------------------------
// validate helpers

fn check_required(
    rt: &ResourceType,
    attr: &AttrDef,
    shown: &str,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let ok = match value {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(other) => attr.ty != AttrType::String && !is_unassigned(other),
    };
    if ok {
        return Ok(());
    }
    let expected = match attr.ty {
        AttrType::String => "a non-empty string",
        AttrType::Boolean => "a boolean",
        AttrType::Complex => "an object",
        _ => "a value",
    };
    Err(ScimError::invalid_value(format!(
        "\"{shown}\" is required on a {}: send {expected}",
        rt.name
    )))
}

fn check_members(items: &[Value]) -> Result<(), ScimError> {
    for (i, member) in items.iter().enumerate() {
        if non_empty_str(member.get("value")).is_none() {
            return Err(ScimError::invalid_value(format!(
                "\"members[{i}]\" has no \"value\": each member needs the id of a User or Group \
                 as a string \"value\""
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// project helpers

/// What `attributes` asks for, resolved against the catalogue.
struct Selection {
    /// `urn:…:core:2.0:User` given as a whole.
    whole_core: bool,
    whole_extensions: Vec<&'static str>,
    /// (schema id, attribute, sub-attribute); `None` sub means the whole attribute.
    attrs: Vec<(&'static str, &'static str, Option<&'static str>)>,
}

enum Wanted {
    Whole,
    Subs(Vec<&'static str>),
    Nothing,
}

impl Selection {
    fn new(rt: &ResourceType, paths: &[AttrPath]) -> Selection {
        let mut selection = Selection {
            whole_core: false,
            whole_extensions: Vec::new(),
            attrs: Vec::new(),
        };
        for path in paths {
            if path.sub.is_none()
                && path
                    .urn
                    .as_ref()
                    .is_some_and(|urn| format!("{urn}:{}", path.name).eq_ignore_ascii_case(rt.schema.id))
            {
                selection.whole_core = true;
                continue;
            }
            let Ok(resolved) = rt.resolve(path) else {
                continue;
            };
            match resolved.attr {
                None => selection.whole_extensions.push(resolved.schema.id),
                Some(attr) => {
                    selection
                        .attrs
                        .push((resolved.schema.id, attr.name, resolved.sub.map(|s| s.name)))
                }
            }
        }
        selection
    }

    fn wanted(&self, schema: &Schema, attr: &AttrDef, is_core: bool) -> Wanted {
        if is_core && self.whole_core {
            return Wanted::Whole;
        }
        let mut subs = Vec::new();
        for (schema_id, name, sub) in &self.attrs {
            if *schema_id != schema.id || *name != attr.name {
                continue;
            }
            match sub {
                None => return Wanted::Whole,
                Some(sub) => subs.push(*sub),
            }
        }
        if subs.is_empty() {
            Wanted::Nothing
        } else {
            Wanted::Subs(subs)
        }
    }
}

fn select_attr(
    schema: &Schema,
    is_core: bool,
    attr: &AttrDef,
    value: Value,
    selection: &Selection,
) -> Option<Value> {
    match attr.returned {
        Returned::Never => return None,
        Returned::Always => return Some(value),
        Returned::Default | Returned::Request => {}
    }
    match selection.wanted(schema, attr, is_core) {
        Wanted::Whole => Some(value),
        Wanted::Subs(subs) => keep_subs(attr, value, &subs),
        Wanted::Nothing => None,
    }
}

fn select_in_extension(ext: &Schema, value: Value, selection: &Selection) -> Option<Value> {
    let Value::Object(inner) = value else {
        return None;
    };
    let mut kept = Map::new();
    for (key, v) in inner {
        let Some(attr) = ext.attr(&key) else { continue };
        if let Some(v) = select_attr(ext, false, attr, v, selection) {
            kept.insert(key, v);
        }
    }
    (!kept.is_empty()).then_some(Value::Object(kept))
}

/// Keeps only the named sub-attributes (plus `returned: always` ones) of a complex value, or of
/// each element of a multi-valued one; what ends up empty is dropped.
fn keep_subs(attr: &AttrDef, value: Value, subs: &[&str]) -> Option<Value> {
    match value {
        Value::Object(map) => {
            let kept: Map<String, Value> = map
                .into_iter()
                .filter(|(k, _)| {
                    subs.iter().any(|s| s.eq_ignore_ascii_case(k))
                        || attr.sub_attr(k).is_some_and(|s| s.returned == Returned::Always)
                })
                .collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .into_iter()
                .filter_map(|i| keep_subs(attr, i, subs))
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        _ => None,
    }
}

fn exclude(rt: &ResourceType, resource: &mut Map<String, Value>, path: &AttrPath) {
    let Ok(resolved) = rt.resolve(path) else {
        return;
    };
    let Some(attr) = resolved.attr else {
        if let Some(key) = key_ci(resource, resolved.schema.id) {
            remove_key(resource, &key);
        }
        return;
    };
    if attr.returned == Returned::Always || resolved.sub.is_some_and(|s| s.returned == Returned::Always) {
        return;
    }
    if std::ptr::eq(resolved.schema, rt.schema) {
        remove_attr(resource, attr, resolved.sub);
        return;
    }
    let Some(ext_key) = key_ci(resource, resolved.schema.id) else {
        return;
    };
    if let Some(Value::Object(inner)) = resource.get_mut(&ext_key) {
        remove_attr(inner, attr, resolved.sub);
        if inner.is_empty() {
            remove_key(resource, &ext_key);
        }
    }
}

fn remove_attr(container: &mut Map<String, Value>, attr: &AttrDef, sub: Option<&AttrDef>) {
    let Some(key) = key_ci(container, attr.name) else {
        return;
    };
    match sub {
        None => {
            remove_key(container, &key);
        }
        Some(sub) => {
            if let Some(v) = container.get_mut(&key) {
                remove_sub(v, sub.name);
                if is_unassigned(v) {
                    remove_key(container, &key);
                }
            }
        }
    }
}

fn remove_sub(value: &mut Value, sub: &str) {
    match value {
        Value::Object(map) => {
            if let Some(k) = key_ci(map, sub) {
                remove_key(map, &k);
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                remove_sub(item, sub);
            }
            items.retain(|i| !is_unassigned(i));
        }
        _ => {}
    }
}

/// Removes `returned: never` attributes always, and `returned: request` ones when the client
/// did not name any attributes.
fn strip_unreturnable(rt: &ResourceType, resource: &mut Map<String, Value>, no_attributes: bool) {
    let hidden = |r: Returned| r == Returned::Never || (no_attributes && r == Returned::Request);
    let strip = |container: &mut Map<String, Value>, schema: &Schema| {
        for attr in schema.attributes {
            let Some(key) = key_ci(container, attr.name) else {
                continue;
            };
            if hidden(attr.returned) {
                remove_key(container, &key);
                continue;
            }
            for sub in attr.sub_attributes.iter().filter(|s| hidden(s.returned)) {
                if let Some(v) = container.get_mut(&key) {
                    remove_sub(v, sub.name);
                }
            }
        }
    };
    strip(resource, rt.schema);
    for (ext, _) in rt.extensions {
        if let Some(key) = key_ci(resource, ext.id)
            && let Some(Value::Object(inner)) = resource.get_mut(&key)
        {
            strip(inner, ext);
        }
    }
}

/// Removes `key` keeping the order of the rest (`Map::remove` swaps entries when serde_json
/// preserves order, which would shuffle a response's attributes).
fn remove_key(map: &mut Map<String, Value>, key: &str) {
    map.retain(|k, _| k != key);
}

/// The actual key in `map` that equals `name` case-insensitively (exact match first).
fn key_ci(map: &Map<String, Value>, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_string());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::schema::{ENTERPRISE_USER_URN, GROUP, USER, USER_URN};
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn norm(rt: &ResourceType, v: Value) -> Value {
        Value::Object(normalize(rt, &v).unwrap())
    }

    fn err(rt: &ResourceType, v: Value) -> ScimError {
        normalize(rt, &v).unwrap_err()
    }

    fn p(s: &str) -> AttrPath {
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
                "emails":[{"value":"jdoe@example.com","type":"work","primary":true}],"active":true})
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

    #[test]
    fn scalar_coercions_and_type_errors() {
        let doc = norm(
            &USER,
            json!({"userName": 42, "title": true, "emails": [{"value": 1.5}]}),
        );
        assert_eq!(
            doc,
            json!({"userName": "42", "title": "true", "emails": [{"value": "1.5"}]})
        );
        let cases = [
            (json!({"displayName": {"a": 1}}), "\"displayName\""),
            (json!({"displayName": ["a", "b"]}), "\"displayName\""),
            (json!({"name": {"givenName": ["x", "y"]}}), "\"name.givenName\""),
            (json!({"name": "just a string"}), "\"name\""),
            (json!({"emails": [{"value": {"x": 1}}]}), "\"emails[0].value\""),
            (json!({"emails": [["a"]]}), "\"emails[0]\""),
            (
                json!({ENTERPRISE_USER_URN: {"department": {"x": 1}}}),
                "enterprise:2.0:User:department\"",
            ),
        ];
        for (body, needle) in cases {
            let e = err(&USER, body.clone());
            assert_eq!(
                (e.status, e.scim_type),
                (400, Some(ScimType::InvalidValue)),
                "{body}"
            );
            assert!(e.detail.contains(needle), "{body}: {}", e.detail);
        }
        // A one-element array for a single-valued attribute reads as that element.
        assert_eq!(
            norm(&USER, json!({"displayName": ["only"]})),
            json!({"displayName": "only"})
        );
        let e = normalize(&USER, &json!(["not", "an", "object"])).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
    }

    #[test]
    fn coerce_building_blocks() {
        let integer = AttrDef {
            ty: AttrType::Integer,
            ..clone_def(USER.schema.attr("title").unwrap())
        };
        assert_eq!(coerce_single(&integer, &json!("12"), "n").unwrap(), json!(12));
        assert_eq!(coerce_single(&integer, &json!(3.0), "n").unwrap(), json!(3));
        assert!(coerce_single(&integer, &json!(3.5), "n").is_err());
        let decimal = AttrDef {
            ty: AttrType::Decimal,
            ..clone_def(USER.schema.attr("title").unwrap())
        };
        assert_eq!(coerce_single(&decimal, &json!("2.5"), "d").unwrap(), json!(2.5));
        assert!(coerce_single(&decimal, &json!("NaN"), "d").is_err());
        let date = AttrDef {
            ty: AttrType::DateTime,
            ..clone_def(USER.schema.attr("title").unwrap())
        };
        assert!(coerce_single(&date, &json!("2024-01-31T12:00:00Z"), "d").is_ok());
        let e = coerce_single(&date, &json!("04-12-2018 00:00:00"), "d").unwrap_err();
        assert!(e.detail.contains("RFC 3339"));
        let emails = USER.schema.attr("emails").unwrap();
        assert_eq!(
            coerce_value(emails, &json!({"value": "a"}), "emails").unwrap(),
            json!([{"value": "a"}])
        );
        assert_eq!(
            coerce_value(emails, &json!([null, {}, {"value": null}]), "emails").unwrap(),
            json!([])
        );
        assert_eq!(
            coerce_single(emails, &json!({"VALUE": "a"}), "emails").unwrap(),
            json!({"value": "a"})
        );
        assert_eq!(coerce_value(emails, &Value::Null, "emails").unwrap(), Value::Null);
        let active = USER.schema.attr("active").unwrap();
        assert_eq!(
            coerce_value(active, &json!(["False"]), "active").unwrap(),
            json!(false)
        );
        assert_eq!(coerce_value(active, &json!([]), "active").unwrap(), Value::Null);
    }

    fn clone_def(a: &'static AttrDef) -> AttrDef {
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

    #[test]
    fn validate_required_primary_and_members() {
        let e = validate(&USER, &obj(json!({"displayName": "x"}))).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(e.detail.contains("\"userName\" is required"), "{}", e.detail);
        assert!(validate(&USER, &obj(json!({"userName": "  "}))).is_err());
        assert!(validate(&USER, &obj(json!({"userName": 5}))).is_err());
        let e = validate(&GROUP, &obj(json!({"members": []}))).unwrap_err();
        assert!(
            e.detail.contains("\"displayName\" is required on a Group"),
            "{}",
            e.detail
        );
        let two = obj(
            json!({"userName": "a", "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}),
        );
        let e = validate(&USER, &two).unwrap_err();
        assert!(
            e.detail
                .contains("\"emails\" has 2 values with \"primary\": true"),
            "{}",
            e.detail
        );
        let one = obj(
            json!({"userName": "a", "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": false}]}),
        );
        validate(&USER, &one).unwrap();
        let e = validate(
            &GROUP,
            &obj(json!({"displayName": "g", "members": [{"value": "a"}, {"display": "b"}]})),
        )
        .unwrap_err();
        assert!(e.detail.contains("members[1]"), "{}", e.detail);
    }

    fn rendered_user() -> Map<String, Value> {
        obj(json!({
            "schemas": [USER_URN, ENTERPRISE_USER_URN],
            "id": "u1",
            "externalId": "ext",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@x", "type": "work", "primary": true}, {"value": "h@x", "type": "home"}],
            "active": true,
            "groups": [{"value": "g1", "$ref": "https://h/Groups/g1", "display": "G", "type": "direct"}],
            ENTERPRISE_USER_URN: {"department": "Tour", "manager": {"value": "m1"}},
            "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z", "lastModified": "2024-01-02T00:00:00Z",
                     "location": "https://h/Users/u1", "version": "W/\"1\""}
        }))
    }

    fn projected(attrs: &[&str], excl: &[&str]) -> Value {
        let mut r = rendered_user();
        let a: Vec<AttrPath> = attrs.iter().map(|s| p(s)).collect();
        let e: Vec<AttrPath> = excl.iter().map(|s| p(s)).collect();
        project(&USER, &mut r, &a, &e);
        Value::Object(r)
    }

    #[test]
    fn project_attributes() {
        assert_eq!(
            projected(&["userName"], &[]),
            json!({"schemas": [USER_URN], "id": "u1", "userName": "bjensen"})
        );
        assert_eq!(
            projected(&["name.givenName", "EMAILS.value", "meta.lastModified"], &[]),
            json!({"schemas": [USER_URN], "id": "u1", "name": {"givenName": "Barbara"},
                   "emails": [{"value": "b@x"}, {"value": "h@x"}], "meta": {"lastModified": "2024-01-02T00:00:00Z"}})
        );
        assert_eq!(
            projected(
                &["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"],
                &[]
            ),
            json!({"schemas": [USER_URN, ENTERPRISE_USER_URN], "id": "u1", ENTERPRISE_USER_URN: {"department": "Tour"}})
        );
        assert_eq!(
            projected(
                &["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "id"],
                &[]
            ),
            json!({"schemas": [USER_URN, ENTERPRISE_USER_URN], "id": "u1",
                   ENTERPRISE_USER_URN: {"department": "Tour", "manager": {"value": "m1"}}})
        );
        // Entra's manager check: `attributes=id`.
        assert_eq!(
            projected(&["id"], &[]),
            json!({"schemas": [USER_URN], "id": "u1"})
        );
        // Unknown paths are ignored; sub-attribute selection that matches nothing drops the attr.
        assert_eq!(
            projected(&["fooBar", "name.middleName"], &[]),
            json!({"schemas": [USER_URN], "id": "u1"})
        );
        let all = projected(&["urn:ietf:params:scim:schemas:core:2.0:User"], &[]);
        assert_eq!(all["userName"], "bjensen");
        assert!(all.get(ENTERPRISE_USER_URN).is_none());
    }

    #[test]
    fn project_excluded() {
        let r = projected(&[], &["emails", "id", "schemas", "name.familyName", "meta"]);
        let m = r.as_object().unwrap();
        assert!(m.get("emails").is_none() && m.get("meta").is_none());
        assert_eq!(m["id"], "u1");
        assert_eq!(m["schemas"], json!([USER_URN, ENTERPRISE_USER_URN]));
        assert_eq!(m["name"], json!({"givenName": "Barbara"}));
        let r = projected(
            &[],
            &[
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                "emails.type",
            ],
        );
        assert_eq!(r[ENTERPRISE_USER_URN], json!({"manager": {"value": "m1"}}));
        assert_eq!(
            r["emails"],
            json!([{"value": "b@x", "primary": true}, {"value": "h@x"}])
        );
        // Removing the last extension attribute removes the object and its URN.
        let r = projected(
            &[],
            &[
                "department",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            ],
        );
        assert!(r.get(ENTERPRISE_USER_URN).is_none());
        assert_eq!(r["schemas"], json!([USER_URN]));
        let r = projected(
            &[],
            &["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        );
        assert!(r.get(ENTERPRISE_USER_URN).is_none());
        assert_eq!(r["schemas"], json!([USER_URN]));
        // Unknown paths and no parameters change nothing.
        assert_eq!(
            projected(&[], &["nope", "emails.nope"]),
            Value::Object(rendered_user())
        );
        assert_eq!(projected(&[], &[]), Value::Object(rendered_user()));
    }

    #[test]
    fn project_group_excluding_members() {
        let mut g = obj(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1", "displayName": "G",
                               "members": [{"value": "u1", "$ref": "https://h/Users/u1", "type": "User"}],
                               "meta": {"resourceType": "Group"}}),
        );
        project(&GROUP, &mut g, &[], &[p("members")]);
        assert_eq!(
            Value::Object(g),
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1", "displayName": "G", "meta": {"resourceType": "Group"}})
        );
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

    #[test]
    fn primary_email_is_the_marked_one_else_the_first() {
        let doc = |v: Value| v.as_object().unwrap().clone();
        let marked = doc(serde_json::json!({"emails": [
            {"value": "home@x.org", "type": "home"},
            {"value": "work@x.org", "type": "work", "primary": true}
        ]}));
        assert_eq!(primary_email(&marked), Some("work@x.org"));
        let unmarked = doc(serde_json::json!({"emails": [{"value": "a@x.org"}, {"value": "b@x.org"}]}));
        assert_eq!(primary_email(&unmarked), Some("a@x.org"));
        assert_eq!(primary_email(&doc(serde_json::json!({"userName": "u"}))), None);
    }
}
