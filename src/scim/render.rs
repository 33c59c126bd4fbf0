//! Resource → SCIM JSON: `schemas`, `id`, the document, derived attributes, `meta`.
//!
//! One representation, two forms. [`Representation::write`] writes its JSON text straight from
//! the stored document: what a response sends when `attributes` and `excludedAttributes` cut
//! nothing from it, so a page of 100 resources is written without building, and then dropping,
//! a tree of small maps for each. [`Representation::into_map`] builds it as a map, for a
//! projection to cut. Both give the same bytes; a property test below holds them to it.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::scim::LIST_RESPONSE_URN;
use crate::scim::attr_path::AttrPath;
use crate::scim::resource::undeclared::is_undeclared_urn;
use crate::scim::resource::{excluded_keys, leaves_whole, project};
use crate::scim::schema::{AttrDef, COMMON_ATTRIBUTES, ResourceType, Schema};

/// The weak ETag of a version: `W/"3"`.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// One entry of a reference list (`groups` of a user, `members` of a group).
#[derive(Debug, Clone)]
pub struct Reference {
    pub id: Uuid,
    pub display: Option<String>,
    /// `type`: "direct" for a user's groups, the member's resource type for a group's members.
    pub ty: Cow<'static, str>,
}

/// A read-only attribute computed beside the document: a list of references.
#[derive(Debug, Clone)]
pub struct Derived {
    /// "groups" or "members".
    pub name: &'static str,
    /// Where its references point (`/Groups`, `/Users`), under the account's base URL.
    pub endpoint: &'static str,
    pub refs: Vec<Reference>,
}

/// What a resource's representation is made of: its stored document, what is derived beside
/// it, and what `meta` says.
#[derive(Debug, Clone)]
pub struct Representation<'a> {
    pub rt: &'a ResourceType,
    /// The account's SCIM base URL, which `meta.location` and every `$ref` start with.
    pub base: &'a str,
    pub id: Uuid,
    pub doc: Map<String, Value>,
    pub derived: Option<Derived>,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub version: i64,
}

/// The keys the server writes itself. A document's own keys of these names (which the
/// normaliser never keeps) are not shown, so a representation holds each key once.
const SERVER_KEYS: [&str; 3] = ["schemas", "id", "meta"];

/// Where a key of the document goes in the representation of `rt` (with the derived attribute
/// `derived`, if any).
fn part(rt: &ResourceType, derived: Option<&str>, key: &str) -> Part {
    if SERVER_KEYS.contains(&key) || derived == Some(key) {
        return Part::Shadowed;
    }
    if let Some((ext, _)) = rt.extensions.iter().find(|(ext, _)| ext.id == key) {
        return Part::Extension(ext);
    }
    if is_undeclared_urn(rt, key) {
        return Part::Kept;
    }
    Part::Core
}

/// Where a key of a stored document goes in its representation ([`part`]).
enum Part {
    /// Not shown: a key the server writes itself.
    Shadowed,
    /// A declared extension of the resource type.
    Extension(&'static Schema),
    /// An extension kept without a declaration (`resource::undeclared`).
    Kept,
    /// An attribute of the core schema, or one no schema declares.
    Core,
}

impl Representation<'_> {
    /// The resource's URL, `meta.location`.
    pub fn location(&self) -> String {
        format!("{}{}/{}", self.base, self.rt.endpoint, self.id)
    }

    fn part(&self, key: &str) -> Part {
        part(self.rt, self.derived.as_ref().map(|d| d.name), key)
    }

    /// Every top-level key the representation may show: a projection that can remove none of
    /// them leaves it whole.
    fn top_keys(&self) -> impl Iterator<Item = &str> {
        SERVER_KEYS
            .into_iter()
            .chain(self.derived.as_ref().map(|d| d.name))
            .chain(self.doc.keys().map(String::as_str))
    }

    /// The representation as a map, for a projection to cut. The document is taken apart: each
    /// value moves into the answer instead of being copied.
    pub fn into_map(self) -> Map<String, Value> {
        let location = self.location();
        let Representation {
            rt,
            base,
            id,
            doc,
            derived,
            created,
            last_modified,
            version,
        } = self;
        let derived_name = derived.as_ref().map(|d| d.name);
        let mut schemas = vec![json!(rt.schema.id)];
        for (ext, _) in rt.extensions {
            if doc.contains_key(ext.id) {
                schemas.push(json!(ext.id));
            }
        }
        let mut core = Vec::with_capacity(doc.len());
        let mut extensions = Vec::new();
        let mut kept = Vec::new();
        for (key, value) in doc {
            match part(rt, derived_name, &key) {
                Part::Shadowed => {}
                Part::Extension(ext) => extensions.push((ext, value)),
                // `schemas` lists the schemas of what the representation holds (RFC 7643 §3).
                Part::Kept => {
                    schemas.push(json!(key));
                    kept.push((key, value));
                }
                Part::Core => core.push((key, value)),
            }
        }
        // Declared extensions in the order the resource type lists them.
        extensions.sort_by_key(|(ext, _)| rt.extensions.iter().position(|(e, _)| std::ptr::eq(*e, *ext)));

        // Sized once: `schemas`, `id`, the attributes, the extensions, what is derived, `meta`.
        let mut out = Map::with_capacity(core.len() + extensions.len() + kept.len() + 4);
        out.insert("schemas".into(), Value::Array(schemas));
        out.insert("id".into(), json!(id.to_string()));
        out.extend(sorted_entries(&[&COMMON_ATTRIBUTES, rt.schema.attributes], core));
        // Extensions after the core attributes (a declared extension's value is an object; the
        // schemas name anything else, but it has no attributes to show).
        for (ext, value) in extensions {
            if let Value::Object(inner) = value {
                out.insert(
                    ext.id.to_string(),
                    Value::Object(in_schema_order(&[ext.attributes], inner)),
                );
            }
        }
        // Kept data has no schema to order it: by name, so both stores answer alike (Postgres's
        // jsonb keeps keys by length, SQLite as written).
        for (k, value) in kept {
            out.insert(k, keys_by_name(&value));
        }
        if let Some(d) = derived {
            let refs = d
                .refs
                .into_iter()
                .map(|r| {
                    let mut entry = Map::with_capacity(4);
                    entry.insert("value".into(), json!(r.id.to_string()));
                    entry.insert("$ref".into(), json!(format!("{base}{}/{}", d.endpoint, r.id)));
                    if let Some(display) = r.display {
                        entry.insert("display".into(), json!(display));
                    }
                    entry.insert("type".into(), json!(r.ty));
                    Value::Object(entry)
                })
                .collect();
            out.insert(d.name.to_string(), Value::Array(refs));
        }
        let mut m = Map::with_capacity(5);
        m.insert("resourceType".into(), json!(rt.name));
        m.insert("created".into(), json!(timestamp(created)));
        m.insert("lastModified".into(), json!(timestamp(last_modified)));
        m.insert("location".into(), json!(location));
        m.insert("version".into(), json!(etag(version)));
        out.insert("meta".into(), Value::Object(m));
        out
    }

    /// Appends the representation's JSON to `out`: the same text as [`Self::into_map`]'s map
    /// serialised, written from the document as it is.
    pub fn write(&self, out: &mut Vec<u8>) {
        let rt = self.rt;
        out.extend_from_slice(b"{\"schemas\":[");
        write_str(out, rt.schema.id);
        for (ext, _) in rt.extensions {
            if self.doc.contains_key(ext.id) {
                out.push(b',');
                write_str(out, ext.id);
            }
        }
        for key in self.doc.keys() {
            if let Part::Kept = self.part(key) {
                out.push(b',');
                write_str(out, key);
            }
        }
        out.extend_from_slice(b"],\"id\":");
        write_uuid(out, &self.id);
        let core = placed(
            &[&COMMON_ATTRIBUTES, rt.schema.attributes],
            self.doc
                .iter()
                .filter(|(k, _)| matches!(self.part(k), Part::Core)),
        );
        for (def, key, value) in core {
            out.push(b',');
            write_str(out, key);
            out.push(b':');
            write_attr(out, def, value);
        }
        for (ext, _) in rt.extensions {
            if let Some(Value::Object(inner)) = self.doc.get(ext.id) {
                out.push(b',');
                write_str(out, ext.id);
                out.push(b':');
                write_in_order(out, &[ext.attributes], inner);
            }
        }
        for (key, value) in &self.doc {
            if let Part::Kept = self.part(key) {
                out.push(b',');
                write_str(out, key);
                out.push(b':');
                write_by_name(out, value);
            }
        }
        if let Some(d) = &self.derived {
            out.push(b',');
            write_str(out, d.name);
            out.extend_from_slice(b":[");
            for (i, r) in d.refs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"value\":");
                write_uuid(out, &r.id);
                out.extend_from_slice(b",\"$ref\":");
                write_url(out, self.base, d.endpoint, &r.id);
                if let Some(display) = &r.display {
                    out.extend_from_slice(b",\"display\":");
                    write_str(out, display);
                }
                out.extend_from_slice(b",\"type\":");
                write_str(out, &r.ty);
                out.push(b'}');
            }
            out.push(b']');
        }
        out.extend_from_slice(b",\"meta\":{\"resourceType\":");
        write_str(out, rt.name);
        out.extend_from_slice(b",\"created\":");
        write_timestamp(out, self.created);
        out.extend_from_slice(b",\"lastModified\":");
        write_timestamp(out, self.last_modified);
        out.extend_from_slice(b",\"location\":");
        write_url(out, self.base, rt.endpoint, &self.id);
        // `W/"3"`, its quotes escaped.
        out.extend_from_slice(b",\"version\":\"W/\\\"");
        write_json(out, &self.version);
        out.extend_from_slice(b"\\\"\"}}");
    }

    /// Appends the representation cut by `attributes` and `excludedAttributes` (`excluded`
    /// given as [`excluded_keys`]'s names) to `out`: written straight from the document when the
    /// projection removes nothing from it, else built as a map and cut.
    pub fn write_projected(
        self,
        out: &mut Vec<u8>,
        attributes: &[AttrPath],
        excluded: &[AttrPath],
        cut: &[String],
    ) {
        if leaves_whole(self.rt, self.top_keys(), attributes, cut) {
            self.write(out);
        } else {
            let rt = self.rt;
            let mut map = self.into_map();
            project(rt, &mut map, attributes, excluded);
            write_json(out, &map);
        }
    }
}

/// The JSON of one resource, projected.
pub fn resource_body(rep: Representation<'_>, attributes: &[AttrPath], excluded: &[AttrPath]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    rep.write_projected(&mut out, attributes, excluded, &excluded_keys(excluded));
    out
}

/// What a ListResponse says of where its page is.
#[derive(Debug, Clone, Copy)]
pub enum PageAt<'c> {
    /// Paged by index: `startIndex`.
    Index(i64),
    /// Paged by cursor (RFC 9865 §3): `nextCursor` while more remain; `startIndex` means nothing.
    Cursor(Option<&'c str>),
}

/// The JSON of a ListResponse of `items`, each projected.
pub fn list_body<'a>(
    total: i64,
    at: PageAt<'_>,
    items: impl ExactSizeIterator<Item = Representation<'a>>,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
) -> Vec<u8> {
    let cut = excluded_keys(excluded);
    let count = items.len();
    // Room for a page of small groups (about 400 bytes each); once the first resource is
    // written, room for the rest at a quarter more than its size, so a page grows at most once.
    let mut out = Vec::with_capacity(160 + count * 400);
    out.extend_from_slice(b"{\"schemas\":[");
    write_str(&mut out, LIST_RESPONSE_URN);
    out.extend_from_slice(b"],\"totalResults\":");
    write_json(&mut out, &total);
    out.extend_from_slice(b",\"itemsPerPage\":");
    write_json(&mut out, &count);
    match at {
        PageAt::Index(start) => {
            out.extend_from_slice(b",\"startIndex\":");
            write_json(&mut out, &start);
        }
        PageAt::Cursor(Some(next)) => {
            out.extend_from_slice(b",\"nextCursor\":");
            write_str(&mut out, next);
        }
        PageAt::Cursor(None) => {}
    }
    out.extend_from_slice(b",\"Resources\":[");
    for (i, rep) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let before = out.len();
        rep.write_projected(&mut out, attributes, excluded, &cut);
        if i == 0 {
            out.reserve((out.len() - before) * 5 / 4 * (count - 1) + 2);
        }
    }
    out.extend_from_slice(b"]}");
    out
}

/// `value`'s JSON, appended. Writing into a `Vec` cannot fail, nor can serialising a string, a
/// number or a `serde_json` value (its keys are strings).
fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let _ = serde_json::to_writer(out, value);
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    write_json(out, s);
}

/// A UUID as a JSON string, hyphenated and lower case as `Uuid`'s `Display` writes it.
fn write_uuid(out: &mut Vec<u8>, id: &Uuid) {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    out.push(b'"');
    out.extend_from_slice(id.hyphenated().encode_lower(&mut buf).as_bytes());
    out.push(b'"');
}

/// `<base><endpoint>/<id>` as a JSON string. The base URL comes from the request; in the rare
/// case it holds a character JSON escapes, the URL is assembled first and escaped whole.
fn write_url(out: &mut Vec<u8>, base: &str, endpoint: &str, id: &Uuid) {
    // serde_json escapes `"`, `\` and the control characters, nothing else.
    let plain = |s: &str| !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
    if plain(base) && plain(endpoint) {
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        out.push(b'"');
        out.extend_from_slice(base.as_bytes());
        out.extend_from_slice(endpoint.as_bytes());
        out.push(b'/');
        out.extend_from_slice(id.hyphenated().encode_lower(&mut buf).as_bytes());
        out.push(b'"');
    } else {
        write_str(out, &format!("{base}{endpoint}/{id}"));
    }
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// [`timestamp`] as a JSON string, without the formatting machinery for the years it covers
/// (0–9999, no leap second); any other instant goes through chrono.
fn write_timestamp(out: &mut Vec<u8>, t: DateTime<Utc>) {
    let (year, nanos) = (t.year(), t.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        write_str(out, &timestamp(t));
        return;
    }
    let digits = |out: &mut Vec<u8>, n: u32, width: u32| {
        for place in (0..width).rev() {
            out.push(b'0' + (n / 10u32.pow(place) % 10) as u8);
        }
    };
    out.push(b'"');
    digits(out, year as u32, 4);
    out.push(b'-');
    digits(out, t.month(), 2);
    out.push(b'-');
    digits(out, t.day(), 2);
    out.push(b'T');
    digits(out, t.hour(), 2);
    out.push(b':');
    digits(out, t.minute(), 2);
    out.push(b':');
    digits(out, t.second(), 2);
    out.push(b'.');
    digits(out, nanos / 1_000_000, 3);
    out.extend_from_slice(b"Z\"");
}

/// The place of the attribute named `key` among `defs` (listed one after the other), and its
/// definition; an attribute they do not list comes after all of them.
fn place<'d>(defs: &[&'d [AttrDef]], key: &str) -> (usize, Option<&'d AttrDef>) {
    defs.iter()
        .flat_map(|d| d.iter())
        .enumerate()
        .find(|(_, def)| def.name == key)
        .map_or((usize::MAX, None), |(place, def)| (place, Some(def)))
}

/// `entries` sorted by their place among `defs`, each with its definition. Stable: the
/// attributes the schema does not list keep their order.
fn placed<'d, 'v>(
    defs: &[&'d [AttrDef]],
    entries: impl Iterator<Item = (&'v String, &'v Value)>,
) -> Vec<(Option<&'d AttrDef>, &'v String, &'v Value)> {
    let mut out: Vec<(usize, Option<&AttrDef>, &String, &Value)> = entries
        .map(|(key, value)| {
            let (place, def) = place(defs, key);
            (place, def, key, value)
        })
        .collect();
    out.sort_by_key(|(place, ..)| *place);
    out.into_iter()
        .map(|(_, def, key, value)| (def, key, value))
        .collect()
}

/// `value` of the attribute `def`, its sub-attributes in schema order.
fn write_attr(out: &mut Vec<u8>, def: Option<&AttrDef>, value: &Value) {
    let subs = match def {
        Some(def) if !def.sub_attributes.is_empty() => def.sub_attributes,
        _ => return write_json(out, value),
    };
    match value {
        Value::Object(inner) => write_in_order(out, &[subs], inner),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match item {
                    Value::Object(inner) => write_in_order(out, &[subs], inner),
                    other => write_json(out, other),
                }
            }
            out.push(b']');
        }
        other => write_json(out, other),
    }
}

/// `obj` with its attributes in the order `defs` list them, then any others as they were.
fn write_in_order(out: &mut Vec<u8>, defs: &[&[AttrDef]], obj: &Map<String, Value>) {
    out.push(b'{');
    for (i, (def, key, value)) in placed(defs, obj.iter()).into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        write_attr(out, def, value);
    }
    out.push(b'}');
}

/// [`keys_by_name`]'s JSON, written from `value` as it is.
fn write_by_name(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by_key(|(k, _)| *k);
            out.push(b'{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                write_by_name(out, value);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_by_name(out, item);
            }
            out.push(b']');
        }
        other => write_json(out, other),
    }
}

/// `entries` (moved, keys included) sorted by their place among `defs`, sub-attributes and the
/// elements of multi-valued attributes too, then any others as they were. A response reads the
/// same whichever order the client wrote the attributes in and whichever store kept them
/// (Postgres's jsonb orders keys by length, SQLite keeps them as written).
fn sorted_entries(
    defs: &[&[AttrDef]],
    entries: impl IntoIterator<Item = (String, Value)>,
) -> Vec<(String, Value)> {
    let mut entries: Vec<(usize, String, Value)> = entries
        .into_iter()
        .map(|(key, value)| match place(defs, &key) {
            (place, Some(def)) => (place, key, with_subs_in_order(def, value)),
            (place, None) => (place, key, value),
        })
        .collect();
    // Stable: the attributes the schema does not list keep their order.
    entries.sort_by_key(|(place, _, _)| *place);
    entries.into_iter().map(|(_, key, value)| (key, value)).collect()
}

/// `obj`'s attributes in the order `defs` list them (see [`sorted_entries`]).
fn in_schema_order(defs: &[&[AttrDef]], obj: Map<String, Value>) -> Map<String, Value> {
    sorted_entries(defs, obj).into_iter().collect()
}

/// `value` of the attribute `def` with its sub-attributes in schema order.
fn with_subs_in_order(def: &AttrDef, value: Value) -> Value {
    if def.sub_attributes.is_empty() {
        return value;
    }
    match value {
        Value::Object(inner) => Value::Object(in_schema_order(&[def.sub_attributes], inner)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(inner) => Value::Object(in_schema_order(&[def.sub_attributes], inner)),
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}

/// A stored document of `rt` with what the server keeps beside it (the audit log's
/// snapshots), in an order that depends on neither the client nor the store: the schema's
/// attributes in schema order, then its extensions, then every other key by name.
pub fn in_canonical_order(rt: &ResourceType, doc: &Map<String, Value>) -> Map<String, Value> {
    let core: Vec<&str> = COMMON_ATTRIBUTES
        .iter()
        .chain(rt.schema.attributes)
        .map(|d| d.name)
        .collect();
    let mut out: Map<String, Value> =
        in_schema_order(&[&COMMON_ATTRIBUTES, rt.schema.attributes], doc.clone())
            .into_iter()
            .filter(|(k, _)| core.contains(&k.as_str()))
            .collect();
    for (ext, _) in rt.extensions {
        if let Some(Value::Object(inner)) = doc.get(ext.id) {
            out.insert(
                ext.id.to_string(),
                Value::Object(in_schema_order(&[ext.attributes], inner.clone())),
            );
        }
    }
    let mut rest: Vec<(&String, &Value)> = doc.iter().filter(|(k, _)| !out.contains_key(*k)).collect();
    rest.sort_by_key(|(k, _)| *k);
    for (k, v) in rest {
        out.insert(k.clone(), keys_by_name(v));
    }
    out
}

/// `value` with the keys of every object in it sorted by name (arrays keep their order).
pub fn keys_by_name(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), keys_by_name(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(keys_by_name).collect()),
        other => other.clone(),
    }
}

/// Does an `If-Match` / `If-None-Match` header value name `version`? `*` names any version;
/// tags compare weakly (`W/"3"` and `"3"` are the same), as SCIM's versions are weak ETags.
pub fn etag_matches(header: &str, version: i64) -> bool {
    let current = version.to_string();
    header.split(',').map(str::trim).any(|tag| {
        if tag == "*" {
            return true;
        }
        let opaque = tag.strip_prefix("W/").unwrap_or(tag);
        opaque.strip_prefix('"').and_then(|t| t.strip_suffix('"')) == Some(current.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::USER;

    #[test]
    fn attributes_come_in_schema_order_and_unknown_ones_keep_theirs() {
        let doc: Map<String, Value> = serde_json::from_value(json!({
            "zeta": 1,
            "emails": [{"primary": true, "value": "a@example.com", "type": "work"}, "odd"],
            "name": {"givenName": "A", "familyName": "B", "nickname": "x"},
            "alpha": 2,
            "userName": "a@example.com",
            "externalId": "e",
        }))
        .unwrap();
        let out = in_schema_order(&[&COMMON_ATTRIBUTES, USER.schema.attributes], doc);
        let keys: Vec<&str> = out.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["externalId", "userName", "name", "emails", "zeta", "alpha"]
        );
        let name: Vec<&str> = out["name"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(name, ["familyName", "givenName", "nickname"]);
        let email: Vec<&str> = out["emails"][0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(email, ["value", "type", "primary"]);
        assert_eq!(out["emails"][1], json!("odd"));
    }

    mod two_forms {
        use super::*;
        use crate::scim::path::parse_attr_list;
        use crate::scim::schema::declare::{Declared, Extends, account_types, declare};
        use crate::scim::schema::{GROUP, Undeclared};
        use chrono::TimeZone;
        use proptest::prelude::*;

        const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        const CUSTOM: &str = "urn:example:params:scim:schemas:extension:render:2.0:User";
        const KEPT: &str = "urn:example:kept:1.0:User";

        /// The account types the representations belong to: the built-in ones, and a user type
        /// with a declared extension holding an attribute returned only on request (so every
        /// response of it is projected).
        fn types() -> Vec<&'static ResourceType> {
            let custom = declare(&json!({
                "id": CUSTOM,
                "name": "Render",
                "attributes": [
                    {"name": "badge", "type": "string"},
                    {"name": "secret", "type": "string", "returned": "request"},
                    {"name": "office", "type": "complex", "subAttributes": [
                        {"name": "building", "type": "string"}, {"name": "floor", "type": "integer"}
                    ]}
                ]
            }))
            .unwrap();
            let declared = [Declared {
                schema: custom,
                extends: Extends::User,
                required: false,
            }];
            vec![&USER, &GROUP, account_types(&declared, Undeclared::Keep).user]
        }

        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                "[a-zA-Z0-9@. ]{0,12}",
                "\\PC{0,6}",
                Just("q\"u\\o\u{1}te\n".to_string())
            ]
        }

        fn leaf() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                (-1e12f64..1e12).prop_map(Value::from),
                text().prop_map(Value::from),
            ]
        }

        fn inner_key() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("value"),
                Just("type"),
                Just("primary"),
                Just("display"),
                Just("givenName"),
                Just("familyName"),
                Just("formatted"),
                Just("building"),
                Just("floor"),
                Just("manager"),
                Just("employeeNumber"),
                Just("badge"),
                Just("secret"),
                Just("office"),
                Just("zz"),
                Just("Aa"),
                Just("q\"k"),
            ]
            .prop_map(str::to_string)
        }

        fn value() -> impl Strategy<Value = Value> {
            leaf().prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::vec((inner_key(), inner), 0..5)
                        .prop_map(|entries| Value::Object(entries.into_iter().collect())),
                ]
            })
        }

        fn top_key() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("userName"),
                Just("name"),
                Just("displayName"),
                Just("emails"),
                Just("externalId"),
                Just("active"),
                Just("phoneNumbers"),
                Just("addresses"),
                Just("title"),
                Just("zeta"),
                Just("Alpha"),
                Just("id"),
                Just("schemas"),
                Just("meta"),
                Just("groups"),
                Just("members"),
                Just(ENTERPRISE),
                Just(CUSTOM),
                Just(KEPT),
                Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"),
            ]
            .prop_map(str::to_string)
        }

        fn instant() -> impl Strategy<Value = DateTime<Utc>> {
            // Years from about -250 to 11,500, any nanosecond (leap seconds included).
            (-70_000_000_000i64..300_000_000_000, 0u32..2_000_000_000).prop_map(|(secs, nanos)| {
                Utc.timestamp_opt(secs, nanos)
                    .single()
                    .unwrap_or_else(|| Utc.timestamp_opt(secs, nanos % 1_000_000_000).unwrap())
            })
        }

        fn derived() -> impl Strategy<Value = Option<Derived>> {
            let reference = (
                any::<u128>(),
                proptest::option::of(text()),
                prop_oneof![Just("direct"), Just("User")],
            )
                .prop_map(|(id, display, ty)| Reference {
                    id: Uuid::from_u128(id),
                    display,
                    ty: Cow::Borrowed(ty),
                });
            proptest::option::of((
                prop_oneof![Just(("groups", "/Groups")), Just(("members", "/Users"))],
                prop::collection::vec(reference, 0..3),
            ))
            .prop_map(|d| d.map(|((name, endpoint), refs)| Derived { name, endpoint, refs }))
        }

        prop_compose! {
            fn representation()(
                which in 0usize..3,
                base in prop_oneof![Just("http://127.0.0.1:8080/scim/account/a"), Just("https://h/\"x\\y")],
                id in any::<u128>(),
                doc in prop::collection::vec((top_key(), value()), 0..10),
                derived in derived(),
                created in instant(),
                last_modified in instant(),
                version in any::<i64>(),
            ) -> Representation<'static> {
                Representation {
                    rt: types()[which],
                    base,
                    id: Uuid::from_u128(id),
                    doc: doc.into_iter().collect(),
                    derived,
                    created,
                    last_modified,
                    version,
                }
            }
        }

        fn paths() -> impl Strategy<Value = String> {
            let one = prop_oneof![
                Just("members"),
                Just("groups"),
                Just("name.givenName"),
                Just("emails"),
                Just("displayName"),
                Just("id"),
                Just("meta"),
                Just("nothing"),
                Just("USERNAME"),
                Just(ENTERPRISE),
                Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"),
                Just(KEPT),
                Just(CUSTOM),
                Just("urn:example:params:scim:schemas:extension:render:2.0:User:badge"),
            ];
            prop::collection::vec(one, 0..3).prop_map(|p| p.join(","))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            /// The written form is the map's, byte for byte.
            #[test]
            fn written_is_the_maps_json(rep in representation()) {
                let mut written = Vec::new();
                rep.write(&mut written);
                let map = serde_json::to_vec(&rep.into_map()).unwrap();
                prop_assert_eq!(String::from_utf8(written).unwrap(), String::from_utf8(map).unwrap());
            }

            /// A response is what projecting the map gives, whether or not it was written
            /// straight from the document.
            #[test]
            fn projected_body_is_the_projected_maps(
                rep in representation(),
                attributes in prop_oneof![Just(String::new()), Just("userName".to_string()), paths()],
                excluded in paths(),
            ) {
                let attributes = if attributes.is_empty() { Vec::new() } else { parse_attr_list(&attributes).unwrap() };
                let excluded = if excluded.is_empty() { Vec::new() } else { parse_attr_list(&excluded).unwrap() };
                let rt = rep.rt;
                let mut map = rep.clone().into_map();
                project(rt, &mut map, &attributes, &excluded);
                let body = resource_body(rep, &attributes, &excluded);
                prop_assert_eq!(
                    String::from_utf8(body).unwrap(),
                    String::from_utf8(serde_json::to_vec(&map).unwrap()).unwrap()
                );
            }
        }

        #[test]
        fn a_list_is_written_whole_with_its_paging() {
            let at = Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
            let rep = |name: &str| Representation {
                rt: &GROUP,
                base: "http://h/scim/account/a",
                id: Uuid::from_u128(7),
                doc: serde_json::from_value(json!({"displayName": name})).unwrap(),
                derived: None,
                created: at,
                last_modified: at,
                version: 2,
            };
            let members = parse_attr_list("members").unwrap();
            let body = list_body(
                9,
                PageAt::Cursor(Some("c\"1")),
                [rep("a"), rep("b")].into_iter(),
                &[],
                &members,
            );
            let parsed: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                parsed,
                json!({
                    "schemas": [LIST_RESPONSE_URN],
                    "totalResults": 9,
                    "itemsPerPage": 2,
                    "nextCursor": "c\"1",
                    "Resources": [rep("a").into_map(), rep("b").into_map()],
                })
            );
            let body = list_body(9, PageAt::Index(3), std::iter::empty(), &[], &[]);
            assert_eq!(
                String::from_utf8(body).unwrap(),
                format!(
                    "{{\"schemas\":[\"{LIST_RESPONSE_URN}\"],\"totalResults\":9,\"itemsPerPage\":0,\"startIndex\":3,\"Resources\":[]}}"
                )
            );
            let written = String::from_utf8(resource_body(rep("a"), &[], &[])).unwrap();
            assert!(
                written.ends_with(
                    "\"meta\":{\"resourceType\":\"Group\",\"created\":\"2026-12-06T12:00:00.000Z\",\
                     \"lastModified\":\"2026-12-06T12:00:00.000Z\",\"location\":\
                     \"http://h/scim/account/a/Groups/00000000-0000-0000-0000-000000000007\",\
                     \"version\":\"W/\\\"2\\\"\"}}"
                ),
                "{written}"
            );
        }
    }

    #[test]
    fn etags_compare_weakly_and_star_matches_all() {
        assert_eq!(etag(3), "W/\"3\"");
        assert!(etag_matches("W/\"3\"", 3));
        assert!(etag_matches("\"3\"", 3));
        assert!(etag_matches("W/\"1\", W/\"3\"", 3));
        assert!(etag_matches("*", 9));
        assert!(!etag_matches("W/\"4\"", 3));
        assert!(!etag_matches("3", 3), "an ETag is a quoted string");
        assert!(!etag_matches("", 3));
    }
}
