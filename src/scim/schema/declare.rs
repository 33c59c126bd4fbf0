//! Extension schemas declared per account (RFC 7643 §7): a schema document checked and turned
//! into the catalogue's own types, and the resource types of an account that declares some.
//!
//! The catalogue's types are `'static` (the built-in schemas are tables in the binary), and
//! every part of the protocol core reads them by reference. A declared schema is built once per
//! process and kept for the process's life: [`declare`] and [`account_types`] intern what they
//! build, so the same declaration, read again on every request or by every account that
//! declares it, costs nothing after the first time. What a process keeps is bounded by the
//! distinct schema documents ever declared while it runs (a few kilobytes each), not by
//! requests (docs/decisions.md).

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use serde_json::{Map, Value};

use crate::scim::attr_path::{self, AttrPath};
use crate::scim::error::ScimError;

use super::catalogue::{GROUP, USER};
use super::types::{
    AttrDef, AttrType, ENTERPRISE_USER_URN, GROUP_URN, Mutability, ResourceType, Returned, Schema, USER_URN,
    Undeclared, Uniqueness,
};

/// At most this many attributes in one declared schema, and sub-attributes in one attribute:
/// enough for any IdP's custom attribute set, small enough that a schema stays a small thing.
pub const MAX_ATTRIBUTES: usize = 100;
/// At most this many canonical values per attribute.
pub const MAX_CANONICAL_VALUES: usize = 100;
/// At most this many characters in a URN, a name or a description.
const MAX_URN: usize = 200;
const MAX_DESCRIPTION: usize = 1_000;

/// Which resource type a declared schema extends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Extends {
    User,
    Group,
}

impl Extends {
    pub fn as_str(self) -> &'static str {
        match self {
            Extends::User => "User",
            Extends::Group => "Group",
        }
    }

    /// `User` / `Group`, case-insensitively (`/Users` and `/Groups` too).
    pub fn parse(s: &str) -> Option<Extends> {
        let s = s.trim().trim_start_matches('/');
        if s.eq_ignore_ascii_case("User") || s.eq_ignore_ascii_case("Users") {
            Some(Extends::User)
        } else if s.eq_ignore_ascii_case("Group") || s.eq_ignore_ascii_case("Groups") {
            Some(Extends::Group)
        } else {
            None
        }
    }

    fn base(self) -> &'static ResourceType {
        match self {
            Extends::User => &USER,
            Extends::Group => &GROUP,
        }
    }
}

/// One declared extension of an account: the schema, what it extends, and whether a resource
/// must carry it (`schemaExtensions[].required`).
#[derive(Debug, Clone, Copy)]
pub struct Declared {
    pub schema: &'static Schema,
    pub extends: Extends,
    pub required: bool,
}

/// An account's resource types: the built-in ones with the account's extensions appended and
/// its choice for undeclared extension data.
#[derive(Debug, Clone, Copy)]
pub struct AccountTypes {
    pub user: &'static ResourceType,
    pub group: &'static ResourceType,
}

impl Default for AccountTypes {
    fn default() -> Self {
        AccountTypes {
            user: &USER,
            group: &GROUP,
        }
    }
}

impl AccountTypes {
    /// Every schema these types serve, for `/Schemas`: core User, its extensions, core Group,
    /// its extensions.
    pub fn schemas(&self) -> Vec<&'static Schema> {
        let mut out = Vec::new();
        for rt in [self.user, self.group] {
            out.push(rt.schema);
            out.extend(rt.extensions.iter().map(|(s, _)| *s));
        }
        out
    }

    pub fn resource_types(&self) -> [&'static ResourceType; 2] {
        [self.user, self.group]
    }
}

static SCHEMAS: LazyLock<Mutex<HashMap<String, &'static Schema>>> = LazyLock::new(Default::default);

type TypesKey = (&'static str, Vec<(usize, bool)>, Undeclared);
static TYPES: LazyLock<Mutex<HashMap<TypesKey, &'static ResourceType>>> = LazyLock::new(Default::default);

/// The resource types of an account with these extensions (in declaration order) and this
/// choice for undeclared data. Interned: the same inputs give the same references.
pub fn account_types(declared: &[Declared], undeclared: Undeclared) -> AccountTypes {
    let build = |extends: Extends| -> &'static ResourceType {
        let base = extends.base();
        let mut extensions: Vec<(&'static Schema, bool)> = base.extensions.to_vec();
        extensions.extend(
            declared
                .iter()
                .filter(|d| d.extends == extends)
                .map(|d| (d.schema, d.required)),
        );
        if extensions.len() == base.extensions.len() && undeclared == base.undeclared {
            return base;
        }
        let key: TypesKey = (
            base.name,
            extensions
                .iter()
                .map(|(s, r)| (*s as *const Schema as usize, *r))
                .collect(),
            undeclared,
        );
        let mut types = TYPES.lock().unwrap_or_else(|e| e.into_inner());
        types.entry(key).or_insert_with(|| {
            Box::leak(Box::new(ResourceType {
                name: base.name,
                endpoint: base.endpoint,
                description: base.description,
                schema: base.schema,
                extensions: Box::leak(extensions.into_boxed_slice()),
                undeclared,
            }))
        })
    };
    AccountTypes {
        user: build(Extends::User),
        group: build(Extends::Group),
    }
}

/// Check a schema document (RFC 7643 §7) declared as an extension and build it.
/// Errors are 400 `invalidValue` (`invalidSyntax` for a document that is not an object) and
/// name what is wrong and where. Interned by content.
pub fn declare(doc: &Value) -> Result<&'static Schema, ScimError> {
    let Value::Object(doc) = doc else {
        return Err(ScimError::invalid_syntax(
            "a schema must be a JSON object with \"id\", \"name\" and \"attributes\" (RFC 7643 §7)",
        ));
    };
    let built = build_schema(doc)?;
    let key = serde_json::to_string(&schema_json(&built)).unwrap_or_default();
    let mut schemas = SCHEMAS.lock().unwrap_or_else(|e| e.into_inner());
    Ok(*schemas.entry(key).or_insert_with(|| Box::leak(Box::new(built))))
}

/// A schema as it is stored and served: id, name, description and every attribute with all of
/// its characteristics (what `/Schemas` shows, without `meta`).
pub fn schema_json(schema: &Schema) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), Value::from(schema.id));
    out.insert("name".into(), Value::from(schema.name));
    out.insert("description".into(), Value::from(schema.description));
    out.insert(
        "attributes".into(),
        Value::Array(schema.attributes.iter().map(AttrDef::to_json).collect()),
    );
    Value::Object(out)
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

fn bad(detail: impl Into<String>) -> ScimError {
    ScimError::invalid_value(detail)
}

/// The value of `key` in `obj`, compared case-insensitively (RFC 7643 §2.1: attribute names,
/// these included, are case-insensitive).
fn get<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

fn check_keys(obj: &Map<String, Value>, allowed: &[&str], at: &str) -> Result<(), ScimError> {
    for key in obj.keys() {
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(key)) {
            return Err(bad(format!(
                "{at}: unknown key \"{key}\"; a schema {} may have: {}",
                if at.starts_with("schema") {
                    "document"
                } else {
                    "attribute"
                },
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

fn text(obj: &Map<String, Value>, key: &str, at: &str, max: usize) -> Result<Option<String>, ScimError> {
    match get(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(bad(format!("{at}: \"{key}\" is longer than {max} characters"))),
        Some(other) => Err(bad(format!("{at}: \"{key}\" must be a string, not {other}"))),
    }
}

/// One of `options` by its RFC 7643 spelling (case-sensitive, as the RFC's values are); `None`
/// when the key is absent.
fn choice<T: Copy>(
    obj: &Map<String, Value>,
    key: &str,
    at: &str,
    options: &[(&str, T)],
) -> Result<Option<T>, ScimError> {
    let Some(given) = text(obj, key, at, 20)? else {
        return Ok(None);
    };
    options
        .iter()
        .find(|(name, _)| *name == given)
        .map(|(_, v)| Some(*v))
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            bad(format!(
                "{at}: \"{key}\" {given:?} is not one of {}",
                names.join(", ")
            ))
        })
}

fn flag(obj: &Map<String, Value>, key: &str, at: &str) -> Result<bool, ScimError> {
    match get(obj, key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(bad(format!("{at}: \"{key}\" must be true or false, not {other}"))),
    }
}

fn build_schema(doc: &Map<String, Value>) -> Result<Schema, ScimError> {
    check_keys(
        doc,
        &["id", "name", "description", "attributes", "schemas", "meta"],
        "schema",
    )?;
    let id = text(doc, "id", "schema", MAX_URN)?
        .ok_or_else(|| bad("schema: \"id\" is required: the extension's URN, e.g. \"urn:ietf:params:scim:schemas:extension:acme:2.0:User\""))?;
    check_urn(&id)?;
    let at = format!("schema \"{id}\"");
    let name = text(doc, "name", &at, MAX_URN)?
        .unwrap_or_else(|| id.rsplit(':').next().unwrap_or_default().to_string());
    let description = text(doc, "description", &at, MAX_DESCRIPTION)?.unwrap_or_default();
    let attributes = match get(doc, "attributes") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) | None => {
            return Err(bad(format!(
                "{at}: \"attributes\" must list at least one attribute"
            )));
        }
        Some(other) => return Err(bad(format!("{at}: \"attributes\" must be an array, not {other}"))),
    };
    let attributes = build_attributes(attributes, &at, true)?;
    Ok(Schema {
        id: leak(&id),
        name: leak(&name),
        description: leak(&description),
        attributes,
    })
}

/// A declared URN must be a URN the path grammar splits back into itself: `urn:` and at least
/// two more segments of URN characters, the last one a valid attribute name (so that
/// `urn:…:2.0:User:costCenter` reads as that URN and `costCenter`). The URNs of RFC 7643's own
/// schemas and of SCIM's messages cannot be declared.
fn check_urn(id: &str) -> Result<(), ScimError> {
    let how = "an extension URN looks like \"urn:ietf:params:scim:schemas:extension:acme:2.0:User\"";
    // `urn:…:2.0:User.x` would read as attribute `User` and sub-attribute `x`.
    let well_formed = matches!(
        attr_path::parse_attr_path_core(id),
        Ok(AttrPath { urn: Some(urn), sub: None, .. }) if urn.contains(':')
    );
    if !well_formed {
        return Err(bad(format!(
            "schema: \"id\" {id:?} is not a URN scimd can address: {how} (letters, digits and \
             -._~%!$&'*+=;@/ in its segments, the last segment a name of letters, digits, - and _)"
        )));
    }
    let reserved = [USER_URN, GROUP_URN, ENTERPRISE_USER_URN]
        .iter()
        .any(|u| u.eq_ignore_ascii_case(id))
        || ["urn:ietf:params:scim:api:", "urn:ietf:params:scim:schemas:core:"]
            .iter()
            .any(|p| id.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)));
    if reserved {
        return Err(bad(format!(
            "schema: \"id\" {id:?} is a URN of SCIM itself (RFC 7643/7644) and cannot be declared; {how}"
        )));
    }
    Ok(())
}

const ATTRIBUTE_KEYS: &[&str] = &[
    "name",
    "type",
    "multiValued",
    "description",
    "required",
    "caseExact",
    "mutability",
    "returned",
    "uniqueness",
    "canonicalValues",
    "referenceTypes",
    "subAttributes",
];

fn build_attributes(items: &[Value], at: &str, top: bool) -> Result<&'static [AttrDef], ScimError> {
    if items.len() > MAX_ATTRIBUTES {
        return Err(bad(format!(
            "{at}: {} attributes, more than the {MAX_ATTRIBUTES} a schema may declare",
            items.len()
        )));
    }
    let mut out: Vec<AttrDef> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(obj) = item else {
            return Err(bad(format!("{at}: attribute {i} must be an object, not {item}")));
        };
        let def = build_attribute(obj, &format!("{at}, attribute {i}"), top)?;
        if out.iter().any(|d| d.name.eq_ignore_ascii_case(def.name)) {
            return Err(bad(format!(
                "{at}: two attributes are named \"{}\" (names compare ignoring case)",
                def.name
            )));
        }
        out.push(def);
    }
    Ok(Box::leak(out.into_boxed_slice()))
}

fn build_attribute(obj: &Map<String, Value>, at: &str, top: bool) -> Result<AttrDef, ScimError> {
    check_keys(obj, ATTRIBUTE_KEYS, at)?;
    let name = text(obj, "name", at, MAX_URN)?.ok_or_else(|| bad(format!("{at}: \"name\" is required")))?;
    if name.eq_ignore_ascii_case("$ref") || attr_path::check_attr_name(&name, 0, "attribute name").is_err() {
        return Err(bad(format!(
            "{at}: \"name\" {name:?} is not a valid attribute name: a letter, then letters, digits, \
             \"-\" and \"_\" (RFC 7643 §2.1)"
        )));
    }
    let at = format!("{at} (\"{name}\")");
    let at = at.as_str();
    let ty = match text(obj, "type", at, 20)?.as_deref() {
        Some("string") => AttrType::String,
        Some("boolean") => AttrType::Boolean,
        Some("decimal") => AttrType::Decimal,
        Some("integer") => AttrType::Integer,
        Some("dateTime") => AttrType::DateTime,
        Some("reference") => AttrType::Reference,
        Some("complex") => AttrType::Complex,
        Some("binary") => {
            return Err(bad(format!(
                "{at}: \"binary\" attributes cannot be declared (scimd keeps no binary data); use a \
                 string or a reference to where the data lives"
            )));
        }
        Some(other) => {
            return Err(bad(format!(
                "{at}: \"type\" {other:?} is not one of string, boolean, decimal, integer, dateTime, \
                 reference, complex (RFC 7643 §2.3; the spelling is case-sensitive)"
            )));
        }
        None => return Err(bad(format!("{at}: \"type\" is required"))),
    };
    use Mutability as M;
    let mutability = choice(
        obj,
        "mutability",
        at,
        &[
            ("readWrite", M::ReadWrite),
            ("readOnly", M::ReadOnly),
            ("immutable", M::Immutable),
            ("writeOnly", M::WriteOnly),
        ],
    )?
    .unwrap_or(M::ReadWrite);
    use Returned as R;
    let returned = choice(
        obj,
        "returned",
        at,
        &[
            ("default", R::Default),
            ("always", R::Always),
            ("never", R::Never),
            ("request", R::Request),
        ],
    )?
    .unwrap_or(R::Default);
    use Uniqueness as U;
    let uniqueness = choice(
        obj,
        "uniqueness",
        at,
        &[("none", U::None), ("server", U::Server), ("global", U::Global)],
    )?
    .unwrap_or(U::None);
    let multi_valued = flag(obj, "multiValued", at)?;
    if uniqueness != Uniqueness::None && (multi_valued || ty == AttrType::Complex) {
        return Err(bad(format!(
            "{at}: \"uniqueness\" can only be declared on a single-valued simple attribute"
        )));
    }
    let canonical_values: &'static [&'static str] = match get(obj, "canonicalValues") {
        None => &[],
        Some(Value::Array(values)) if ty == AttrType::String => {
            if values.len() > MAX_CANONICAL_VALUES {
                return Err(bad(format!(
                    "{at}: more than {MAX_CANONICAL_VALUES} canonicalValues"
                )));
            }
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                match v {
                    Value::String(s) if !s.is_empty() && s.chars().count() <= MAX_URN => out.push(leak(s)),
                    other => {
                        return Err(bad(format!(
                            "{at}: every canonicalValue must be a non-empty string, not {other}"
                        )));
                    }
                }
            }
            Box::leak(out.into_boxed_slice())
        }
        Some(Value::Array(_)) => {
            return Err(bad(format!(
                "{at}: \"canonicalValues\" can only be declared on a string attribute"
            )));
        }
        Some(other) => {
            return Err(bad(format!(
                "{at}: \"canonicalValues\" must be an array, not {other}"
            )));
        }
    };
    let reference_types: &'static [&'static str] = match get(obj, "referenceTypes") {
        None if ty == AttrType::Reference => &["external"],
        None => &[],
        Some(Value::Array(values)) if ty == AttrType::Reference && !values.is_empty() => {
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                match v {
                    Value::String(s) if !s.is_empty() && s.chars().count() <= MAX_URN => out.push(leak(s)),
                    other => {
                        return Err(bad(format!(
                            "{at}: every referenceType must be a non-empty string (\"external\", \"uri\" \
                             or a resource type), not {other}"
                        )));
                    }
                }
            }
            Box::leak(out.into_boxed_slice())
        }
        Some(_) => {
            return Err(bad(format!(
                "{at}: \"referenceTypes\" must be a non-empty array, and only on a reference attribute"
            )));
        }
    };
    let sub_attributes: &'static [AttrDef] = match (ty, get(obj, "subAttributes")) {
        (AttrType::Complex, _) if !top => {
            return Err(bad(format!(
                "{at}: a sub-attribute cannot be complex (RFC 7643 §2.3.8: complex attributes are one level deep)"
            )));
        }
        (AttrType::Complex, Some(Value::Array(items))) if !items.is_empty() => {
            build_attributes(items, at, false)?
        }
        (AttrType::Complex, _) => {
            return Err(bad(format!(
                "{at}: a complex attribute needs \"subAttributes\", a non-empty array of attributes"
            )));
        }
        (_, None) => &[],
        (_, Some(_)) => {
            return Err(bad(format!(
                "{at}: only a complex attribute may have \"subAttributes\""
            )));
        }
    };
    Ok(AttrDef {
        name: leak(&name),
        ty,
        multi_valued,
        description: leak(&text(obj, "description", at, MAX_DESCRIPTION)?.unwrap_or_default()),
        required: flag(obj, "required", at)?,
        case_exact: flag(obj, "caseExact", at)?,
        mutability,
        returned,
        uniqueness,
        canonical_values,
        reference_types,
        sub_attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cost_center() -> Value {
        json!({
            "id": "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User",
            "name": "CustomExtension",
            "attributes": [
                {"name": "costCenter", "type": "string", "uniqueness": "server"},
                {"name": "level", "type": "integer"},
                {"name": "badges", "type": "string", "multiValued": true, "canonicalValues": ["gold", "silver"]},
                {"name": "office", "type": "complex", "subAttributes": [
                    {"name": "building", "type": "string"}, {"name": "floor", "type": "integer"}
                ]}
            ]
        })
    }

    #[test]
    fn a_schema_is_built_with_rfc_defaults_and_interned() {
        let s = declare(&cost_center()).unwrap();
        assert_eq!(s.name, "CustomExtension");
        let cc = s.attr("COSTCENTER").unwrap();
        assert_eq!(cc.uniqueness, Uniqueness::Server);
        assert_eq!(cc.mutability, Mutability::ReadWrite);
        assert_eq!(cc.returned, Returned::Default);
        assert!(!cc.case_exact && !cc.required && !cc.multi_valued);
        assert_eq!(
            s.attr("office").unwrap().sub_attr("floor").unwrap().ty,
            AttrType::Integer
        );
        assert_eq!(s.attr("badges").unwrap().canonical_values, &["gold", "silver"]);
        // The same document (even spelled differently) is the same schema.
        let again = declare(&cost_center()).unwrap();
        assert!(std::ptr::eq(s, again));
        let reparsed = declare(&schema_json(s)).unwrap();
        assert!(std::ptr::eq(s, reparsed));
    }

    #[test]
    fn account_types_append_extensions_and_are_interned() {
        let s = declare(&cost_center()).unwrap();
        let d = [Declared {
            schema: s,
            extends: Extends::User,
            required: true,
        }];
        let a = account_types(&d, Undeclared::Keep);
        let b = account_types(&d, Undeclared::Keep);
        assert!(std::ptr::eq(a.user, b.user));
        assert!(std::ptr::eq(a.group, &GROUP));
        assert_eq!(a.user.extensions.len(), 2);
        assert!(a.user.extensions[1].1);
        assert!(a.user.extension(&s.id.to_uppercase()).is_some());
        let r = account_types(&d, Undeclared::Refuse);
        assert!(!std::ptr::eq(a.user, r.user));
        assert_eq!(r.group.undeclared, Undeclared::Refuse);
        assert!(std::ptr::eq(account_types(&[], Undeclared::Keep).user, &USER));
        assert_eq!(a.schemas().len(), 4);
    }

    #[test]
    fn bad_schemas_are_refused_naming_the_problem() {
        let base = cost_center();
        let with = |f: &dyn Fn(&mut Value)| {
            let mut v = base.clone();
            f(&mut v);
            declare(&v).unwrap_err().detail
        };
        let cases: Vec<(String, &str)> = vec![
            (with(&|v| v["id"] = json!(USER_URN)), "URN of SCIM itself"),
            (with(&|v| v["id"] = json!("not-a-urn")), "is not a URN"),
            (with(&|v| v["id"] = json!("urn:acme:2.0:User.x")), "is not a URN"),
            (with(&|v| v["attributes"] = json!([])), "at least one attribute"),
            (
                with(&|v| v["attributes"][0]["type"] = json!("text")),
                "\"text\" is not one of",
            ),
            (with(&|v| v["attributes"][0]["type"] = json!("binary")), "binary"),
            (
                with(&|v| v["attributes"][1]["name"] = json!("costcenter")),
                "two attributes are named",
            ),
            (
                with(&|v| v["attributes"][0]["name"] = json!("1cost")),
                "not a valid attribute name",
            ),
            (
                with(&|v| v["attributes"][0]["multivalue"] = json!(true)),
                "unknown key \"multivalue\"",
            ),
            (
                with(&|v| v["attributes"][1]["canonicalValues"] = json!(["1"])),
                "only be declared on a string",
            ),
            (
                with(&|v| v["attributes"][3]["subAttributes"][0]["type"] = json!("complex")),
                "one level deep",
            ),
            (
                with(&|v| v["attributes"][3]["subAttributes"] = json!([])),
                "needs \"subAttributes\"",
            ),
            (
                with(&|v| v["attributes"][2]["uniqueness"] = json!("server")),
                "single-valued simple",
            ),
            (
                with(&|v| v["attributes"][0]["mutability"] = json!("rw")),
                "\"mutability\"",
            ),
        ];
        for (detail, needle) in cases {
            assert!(detail.contains(needle), "{needle:?} not in {detail:?}");
        }
        assert_eq!(
            declare(&json!([1])).unwrap_err().scim_type,
            Some(crate::scim::error::ScimType::InvalidSyntax)
        );
    }
}
