//! The vocabulary of the catalogue (RFC 7643 §2, §7): attribute characteristics, attribute,
//! schema and resource-type descriptions, and what a resolved path points at. Kept apart from
//! the data so the tables in `catalogue` read as tables.

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    /// The RFC 7643 §7 spelling (`"dateTime"`, `"complex"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute definition (RFC 7643 §7 "attributes").
#[derive(Debug)]
pub struct AttrDef {
    /// Canonical spelling, as it appears in stored documents and responses.
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub description: &'static str,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [AttrDef],
}

impl AttrDef {
    /// The attribute with all of its characteristics, as `/Schemas` shows it (RFC 7643 §7).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{Map, Value, json};
        let mut out = Map::new();
        out.insert("name".into(), json!(self.name));
        out.insert("type".into(), json!(self.ty.as_str()));
        out.insert("multiValued".into(), json!(self.multi_valued));
        out.insert("description".into(), json!(self.description));
        out.insert("required".into(), json!(self.required));
        out.insert("caseExact".into(), json!(self.case_exact));
        out.insert("mutability".into(), json!(self.mutability.as_str()));
        out.insert("returned".into(), json!(self.returned.as_str()));
        out.insert("uniqueness".into(), json!(self.uniqueness.as_str()));
        if !self.canonical_values.is_empty() {
            out.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if !self.reference_types.is_empty() {
            out.insert("referenceTypes".into(), json!(self.reference_types));
        }
        if self.ty == AttrType::Complex {
            out.insert(
                "subAttributes".into(),
                Value::Array(self.sub_attributes.iter().map(AttrDef::to_json).collect()),
            );
        }
        Value::Object(out)
    }

    /// The sub-attribute called `name`, compared case-insensitively (RFC 7643 §2.1).
    pub fn sub_attr(&self, name: &str) -> Option<&'static AttrDef> {
        find_attr(self.sub_attributes, name)
    }

    pub fn is_complex(&self) -> bool {
        self.ty == AttrType::Complex
    }
}

/// A schema (RFC 7643 §7).
#[derive(Debug)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttrDef],
}

impl Schema {
    /// The top-level attribute called `name`, compared case-insensitively.
    pub fn attr(&self, name: &str) -> Option<&'static AttrDef> {
        find_attr(self.attributes, name)
    }
}

/// What happens to data under an extension URN that the resource type does not declare
/// (docs/decisions.md): kept verbatim (returned, not filterable until declared) or refused
/// with 400 `invalidValue` naming the URN and attribute. An account setting picks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Undeclared {
    #[default]
    Keep,
    Refuse,
}

impl Undeclared {
    pub fn as_str(self) -> &'static str {
        match self {
            Undeclared::Keep => "keep",
            Undeclared::Refuse => "refuse",
        }
    }

    pub fn parse(s: &str) -> Option<Undeclared> {
        match s {
            "keep" => Some(Undeclared::Keep),
            "refuse" => Some(Undeclared::Refuse),
            _ => None,
        }
    }
}

/// A resource type (RFC 7643 §6) with its core schema and extensions. The statics in
/// `catalogue` are what every account starts with; an account that declares extensions or
/// refuses undeclared ones gets its own (`declare::account_types`).
#[derive(Debug)]
pub struct ResourceType {
    /// "User" or "Group".
    pub name: &'static str,
    /// "/Users" or "/Groups".
    pub endpoint: &'static str,
    pub description: &'static str,
    pub schema: &'static Schema,
    /// (extension schema, required)
    pub extensions: &'static [(&'static Schema, bool)],
    pub undeclared: Undeclared,
}

/// What an `AttrPath` points at.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub schema: &'static Schema,
    /// `None` when the path names a whole extension (`urn:…:enterprise:2.0:User`).
    pub attr: Option<&'static AttrDef>,
    pub sub: Option<&'static AttrDef>,
    /// Keys in the canonical document, canonical spelling: `["name", "givenName"]`, or
    /// `[ENTERPRISE_USER_URN, "manager", "value"]` for an extension attribute.
    pub doc_path: Vec<&'static str>,
}

/// The attribute called `name` in `attrs`, compared case-insensitively (RFC 7643 §2.1).
pub fn find_attr(attrs: &'static [AttrDef], name: &str) -> Option<&'static AttrDef> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}
