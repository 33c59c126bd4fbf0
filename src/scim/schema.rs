//! The schema catalogue (RFC 7643 §4, §7, §8.7): what scimd implements, described once and
//! used for `/Schemas`, input normalisation, path resolution, filtering and projection.
//!
//! The characteristics follow RFC 7643 §8.7.1, with these deliberate differences:
//! - User `password` is absent: scimd stores no passwords, so it neither serves nor accepts one.
//! - `addresses` has a `primary` sub-attribute (RFC 7643 §2.4 gives every multi-valued
//!   attribute one, and the RFC's own examples send it; §8.7.1 forgot it).
//! - Group `displayName` is required (RFC 7643 §4.2 says REQUIRED; §8.7.1 says false).
//! - Group `members` has a `display` sub-attribute (RFC 7643 §8.4 uses it; Okta sends it).
//! - Characteristics the RFC leaves out for booleans and complex attributes (`caseExact`,
//!   `uniqueness`) take their RFC 7643 §2.2 defaults (false, none), so every attribute has all.
//!
//! The common attributes (`id`, `externalId`, `meta`; RFC 7643 §3.1) and `schemas` are not part
//! of any schema's `attributes` (so `/Schemas` does not list them), but `resolve` finds them for
//! every resource type: they live in [`COMMON_ATTRIBUTES`] and resolve with the core schema as
//! their `schema` and a one-level `doc_path` (`["meta", "lastModified"]`), i.e. the key in the
//! rendered resource. `schemas` is modelled as a multi-valued, readOnly, `returned: always`
//! reference to URIs, `caseExact: false` (URNs are compared case-insensitively throughout).

use crate::scim::error::ScimError;
use crate::scim::path::AttrPath;

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

/// A resource type (RFC 7643 §6) with its core schema and extensions.
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

impl Resolved {
    /// The most specific definition: the sub-attribute if any, else the attribute.
    pub fn leaf(&self) -> Option<&'static AttrDef> {
        self.sub.or(self.attr)
    }

    /// Whether the path names one of [`COMMON_ATTRIBUTES`] (`id`, `externalId`, `meta`,
    /// `schemas`), which live beside the canonical document rather than in it (except
    /// `externalId`, which the document holds).
    pub fn is_common(&self) -> bool {
        self.attr
            .is_some_and(|a| COMMON_ATTRIBUTES.iter().any(|c| std::ptr::eq(a, c)))
    }

    /// Whether the path names an attribute of an extension schema (or the whole extension).
    pub fn is_extension(&self) -> bool {
        self.doc_path.first() == Some(&self.schema.id)
    }
}

/// The attribute called `name` in `attrs`, compared case-insensitively (RFC 7643 §2.1).
pub fn find_attr(attrs: &'static [AttrDef], name: &str) -> Option<&'static AttrDef> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

// ---------------------------------------------------------------------------------------------
// Building blocks. Every attribute starts from RFC 7643 §2.2's defaults and overrides what
// §8.7.1 says differs, which keeps the tables below readable.

const fn base(name: &'static str, ty: AttrType, description: &'static str) -> AttrDef {
    AttrDef {
        name,
        ty,
        multi_valued: false,
        description,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
    }
}

const fn string(name: &'static str, description: &'static str) -> AttrDef {
    base(name, AttrType::String, description)
}

const fn boolean(name: &'static str, description: &'static str) -> AttrDef {
    base(name, AttrType::Boolean, description)
}

const fn reference(
    name: &'static str,
    reference_types: &'static [&'static str],
    description: &'static str,
) -> AttrDef {
    AttrDef {
        reference_types,
        ..base(name, AttrType::Reference, description)
    }
}

const fn complex(
    name: &'static str,
    sub_attributes: &'static [AttrDef],
    description: &'static str,
) -> AttrDef {
    AttrDef {
        sub_attributes,
        ..base(name, AttrType::Complex, description)
    }
}

const fn multi_complex(
    name: &'static str,
    sub_attributes: &'static [AttrDef],
    description: &'static str,
) -> AttrDef {
    AttrDef {
        multi_valued: true,
        ..complex(name, sub_attributes, description)
    }
}

const fn type_sub(canonical_values: &'static [&'static str], description: &'static str) -> AttrDef {
    AttrDef {
        canonical_values,
        ..string("type", description)
    }
}

const DISPLAY_SUB: AttrDef = string(
    "display",
    "A human-readable name, primarily used for display purposes.",
);

const PRIMARY_SUB: AttrDef = boolean(
    "primary",
    "A Boolean value indicating the 'primary' or preferred attribute value for this attribute. \
     The primary attribute value 'true' MUST appear no more than once.",
);

// ---------------------------------------------------------------------------------------------
// Common attributes (RFC 7643 §3, §3.1).

pub static COMMON_ATTRIBUTES: [AttrDef; 4] = [
    AttrDef {
        multi_valued: true,
        required: true,
        mutability: Mutability::ReadOnly,
        returned: Returned::Always,
        ..reference(
            "schemas",
            &["uri"],
            "The schema URIs that define the attributes present in this representation.",
        )
    },
    AttrDef {
        case_exact: true,
        mutability: Mutability::ReadOnly,
        returned: Returned::Always,
        uniqueness: Uniqueness::Server,
        ..string(
            "id",
            "A unique identifier for a SCIM resource as defined by the service provider.",
        )
    },
    AttrDef {
        case_exact: true,
        ..string(
            "externalId",
            "A String that is an identifier for the resource as defined by the provisioning client.",
        )
    },
    AttrDef {
        mutability: Mutability::ReadOnly,
        ..complex(
            "meta",
            &[
                AttrDef {
                    case_exact: true,
                    mutability: Mutability::ReadOnly,
                    ..string("resourceType", "The name of the resource type of the resource.")
                },
                AttrDef {
                    mutability: Mutability::ReadOnly,
                    ..base(
                        "created",
                        AttrType::DateTime,
                        "The DateTime that the resource was added to the service provider.",
                    )
                },
                AttrDef {
                    mutability: Mutability::ReadOnly,
                    ..base(
                        "lastModified",
                        AttrType::DateTime,
                        "The most recent DateTime that the details of this resource were updated.",
                    )
                },
                AttrDef {
                    mutability: Mutability::ReadOnly,
                    ..reference("location", &["uri"], "The URI of the resource being returned.")
                },
                AttrDef {
                    case_exact: true,
                    mutability: Mutability::ReadOnly,
                    ..string("version", "The version (ETag) of the resource being returned.")
                },
            ],
            "A complex attribute containing resource metadata.",
        )
    },
];

// ---------------------------------------------------------------------------------------------
// Core User (RFC 7643 §4.1, §8.7.1).

static USER_ATTRIBUTES: [AttrDef; 20] = [
    AttrDef {
        required: true,
        uniqueness: Uniqueness::Server,
        ..string(
            "userName",
            "Unique identifier for the User, typically used by the user to directly authenticate \
             to the service provider. Each User MUST include a non-empty userName value. This \
             identifier MUST be unique across the service provider's entire set of Users. REQUIRED.",
        )
    },
    complex(
        "name",
        &[
            string(
                "formatted",
                "The full name, including all middle names, titles, and suffixes as appropriate, \
                 formatted for display (e.g., 'Ms. Barbara J Jensen, III').",
            ),
            string(
                "familyName",
                "The family name of the User, or last name in most Western languages.",
            ),
            string(
                "givenName",
                "The given name of the User, or first name in most Western languages.",
            ),
            string("middleName", "The middle name(s) of the User."),
            string(
                "honorificPrefix",
                "The honorific prefix(es) of the User, or title in most Western languages.",
            ),
            string(
                "honorificSuffix",
                "The honorific suffix(es) of the User, or suffix in most Western languages.",
            ),
        ],
        "The components of the user's real name.",
    ),
    string(
        "displayName",
        "The name of the User, suitable for display to end-users.",
    ),
    string(
        "nickName",
        "The casual way to address the user in real life, e.g., 'Bob' instead of 'Robert'.",
    ),
    reference(
        "profileUrl",
        &["external"],
        "A fully qualified URL pointing to a page representing the User's online profile.",
    ),
    string("title", "The user's title, such as \"Vice President.\""),
    string(
        "userType",
        "Used to identify the relationship between the organization and the user, e.g., \
         'Contractor', 'Employee', 'Intern'.",
    ),
    string(
        "preferredLanguage",
        "Indicates the User's preferred written or spoken language, e.g., 'en-US'.",
    ),
    string(
        "locale",
        "Used to indicate the User's default location for purposes of localizing items such as \
         currency, date time format, or numerical representations.",
    ),
    string(
        "timezone",
        "The User's time zone in the 'Olson' time zone database format, e.g., 'America/Los_Angeles'.",
    ),
    boolean(
        "active",
        "A Boolean value indicating the User's administrative status.",
    ),
    multi_complex(
        "emails",
        &[
            string("value", "Email address for the User."),
            DISPLAY_SUB,
            type_sub(
                &["work", "home", "other"],
                "A label indicating the attribute's function, e.g., 'work' or 'home'.",
            ),
            PRIMARY_SUB,
        ],
        "Email addresses for the user. Canonical type values of 'work', 'home', and 'other'.",
    ),
    multi_complex(
        "phoneNumbers",
        &[
            string("value", "Phone number of the User."),
            DISPLAY_SUB,
            type_sub(
                &["work", "home", "mobile", "fax", "pager", "other"],
                "A label indicating the attribute's function, e.g., 'work', 'home', 'mobile'.",
            ),
            PRIMARY_SUB,
        ],
        "Phone numbers for the User.",
    ),
    multi_complex(
        "ims",
        &[
            string("value", "Instant messaging address for the User."),
            DISPLAY_SUB,
            type_sub(
                &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
                "A label indicating the attribute's function, e.g., 'aim', 'gtalk', 'xmpp'.",
            ),
            PRIMARY_SUB,
        ],
        "Instant messaging addresses for the User.",
    ),
    multi_complex(
        "photos",
        &[
            reference("value", &["external"], "URL of a photo of the User."),
            DISPLAY_SUB,
            type_sub(
                &["photo", "thumbnail"],
                "A label indicating the attribute's function, i.e., 'photo' or 'thumbnail'.",
            ),
            PRIMARY_SUB,
        ],
        "URLs of photos of the User.",
    ),
    multi_complex(
        "addresses",
        &[
            string(
                "formatted",
                "The full mailing address, formatted for display or use with a mailing label.",
            ),
            string(
                "streetAddress",
                "The full street address component, which may include house number, street name, \
                 P.O. box, and multi-line extended street address information.",
            ),
            string("locality", "The city or locality component."),
            string("region", "The state or region component."),
            string("postalCode", "The zip code or postal code component."),
            string("country", "The country name component."),
            type_sub(
                &["work", "home", "other"],
                "A label indicating the attribute's function, e.g., 'work' or 'home'.",
            ),
            PRIMARY_SUB,
        ],
        "A physical mailing address for this User. Canonical type values of 'work', 'home', and 'other'.",
    ),
    AttrDef {
        mutability: Mutability::ReadOnly,
        ..multi_complex(
            "groups",
            &[
                AttrDef {
                    mutability: Mutability::ReadOnly,
                    ..string("value", "The identifier of the User's group.")
                },
                AttrDef {
                    mutability: Mutability::ReadOnly,
                    ..reference(
                        "$ref",
                        &["User", "Group"],
                        "The URI of the corresponding 'Group' resource to which the user belongs.",
                    )
                },
                AttrDef {
                    mutability: Mutability::ReadOnly,
                    ..DISPLAY_SUB
                },
                AttrDef {
                    mutability: Mutability::ReadOnly,
                    ..type_sub(
                        &["direct", "indirect"],
                        "A label indicating the attribute's function, e.g., 'direct' or 'indirect'.",
                    )
                },
            ],
            "A list of groups to which the user belongs, either through direct membership, \
             through nested groups, or dynamically calculated.",
        )
    },
    multi_complex(
        "entitlements",
        &[
            string("value", "The value of an entitlement."),
            DISPLAY_SUB,
            string("type", "A label indicating the attribute's function."),
            PRIMARY_SUB,
        ],
        "A list of entitlements for the User that represent a thing the User has.",
    ),
    multi_complex(
        "roles",
        &[
            string("value", "The value of a role."),
            DISPLAY_SUB,
            string("type", "A label indicating the attribute's function."),
            PRIMARY_SUB,
        ],
        "A list of roles for the User that collectively represent who the User is, e.g., 'Student', 'Faculty'.",
    ),
    multi_complex(
        "x509Certificates",
        &[
            base("value", AttrType::Binary, "The value of an X.509 certificate."),
            DISPLAY_SUB,
            string("type", "A label indicating the attribute's function."),
            PRIMARY_SUB,
        ],
        "A list of certificates issued to the User.",
    ),
];

pub static USER_SCHEMA: Schema = Schema {
    id: USER_URN,
    name: "User",
    description: "User Account",
    attributes: &USER_ATTRIBUTES,
};

// ---------------------------------------------------------------------------------------------
// Enterprise User extension (RFC 7643 §4.3, §8.7.1).

static ENTERPRISE_USER_ATTRIBUTES: [AttrDef; 6] = [
    string(
        "employeeNumber",
        "Numeric or alphanumeric identifier assigned to a person, typically based on order of \
         hire or association with an organization.",
    ),
    string("costCenter", "Identifies the name of a cost center."),
    string("organization", "Identifies the name of an organization."),
    string("division", "Identifies the name of a division."),
    string("department", "Identifies the name of a department."),
    complex(
        "manager",
        &[
            string(
                "value",
                "The id of the SCIM resource representing the User's manager.",
            ),
            reference(
                "$ref",
                &["User"],
                "The URI of the SCIM resource representing the User's manager.",
            ),
            AttrDef {
                mutability: Mutability::ReadOnly,
                ..string(
                    "displayName",
                    "The displayName of the User's manager. OPTIONAL and READ-ONLY.",
                )
            },
        ],
        "The User's manager. A complex type that optionally allows service providers to represent \
         organizational hierarchy by referencing the 'id' attribute of another User.",
    ),
];

pub static ENTERPRISE_USER_SCHEMA: Schema = Schema {
    id: ENTERPRISE_USER_URN,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: &ENTERPRISE_USER_ATTRIBUTES,
};

// ---------------------------------------------------------------------------------------------
// Core Group (RFC 7643 §4.2, §8.7.1).

static GROUP_ATTRIBUTES: [AttrDef; 2] = [
    AttrDef {
        required: true,
        ..string("displayName", "A human-readable name for the Group. REQUIRED.")
    },
    multi_complex(
        "members",
        &[
            AttrDef {
                mutability: Mutability::Immutable,
                ..string("value", "Identifier of the member of this Group.")
            },
            AttrDef {
                mutability: Mutability::Immutable,
                ..reference(
                    "$ref",
                    &["User", "Group"],
                    "The URI corresponding to a SCIM resource that is a member of this Group.",
                )
            },
            AttrDef {
                mutability: Mutability::Immutable,
                ..type_sub(
                    &["User", "Group"],
                    "A label indicating the type of resource, e.g., 'User' or 'Group'.",
                )
            },
            // Derived from the member (its displayName, else its userName) when read, so it
            // never goes stale after a rename; what a client sends is not kept.
            AttrDef {
                mutability: Mutability::ReadOnly,
                ..string(
                    "display",
                    "A human-readable name of the member, derived by the server from the member.",
                )
            },
        ],
        "A list of members of the Group.",
    ),
];

pub static GROUP_SCHEMA: Schema = Schema {
    id: GROUP_URN,
    name: "Group",
    description: "Group",
    attributes: &GROUP_ATTRIBUTES,
};

// ---------------------------------------------------------------------------------------------
// Resource types (RFC 7643 §6).

pub static USER: ResourceType = ResourceType {
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: &USER_SCHEMA,
    extensions: &[(&ENTERPRISE_USER_SCHEMA, false)],
};

pub static GROUP: ResourceType = ResourceType {
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    schema: &GROUP_SCHEMA,
    extensions: &[],
};

/// Every resource type scimd serves, in `/ResourceTypes` order.
pub fn resource_types() -> [&'static ResourceType; 2] {
    [&USER, &GROUP]
}

/// Every schema scimd serves under `/Schemas`.
pub fn all_schemas() -> Vec<&'static Schema> {
    vec![&USER_SCHEMA, &ENTERPRISE_USER_SCHEMA, &GROUP_SCHEMA]
}

impl ResourceType {
    /// Resolve a path against this resource type. Names and URNs match case-insensitively; a
    /// path without URN is looked up in the core schema first, then in the extensions.
    /// A sub-attribute on an attribute without sub-attributes, or an unknown name, is an error
    /// 400 `invalidPath` (callers that parse filters re-type it as `invalidFilter`).
    pub fn resolve(&self, path: &AttrPath) -> Result<Resolved, ScimError> {
        let (schema, attr) = match &path.urn {
            Some(urn) => {
                // The parser cannot tell `urn:…:2.0:User` (a whole extension) from
                // `urn:…:2.0` + attribute `User`; only the catalogue can.
                let whole = format!("{urn}:{}", path.name);
                if let Some(ext) = self.extension(&whole) {
                    if let Some(sub) = &path.sub {
                        return Err(ScimError::invalid_path(format!(
                            "\"{whole}.{sub}\": a schema URN cannot take a sub-attribute; \
                             write \"{whole}:attributeName\""
                        )));
                    }
                    return Ok(Resolved {
                        schema: ext,
                        attr: None,
                        sub: None,
                        doc_path: vec![ext.id],
                    });
                }
                if whole.eq_ignore_ascii_case(self.schema.id) {
                    return Err(ScimError::invalid_path(format!(
                        "\"{whole}\" names the whole core schema; name one of its attributes, \
                         e.g. \"{}:{}\"",
                        self.schema.id, self.schema.attributes[0].name
                    )));
                }
                let schema = self.schema_by_urn(urn).ok_or_else(|| self.unknown_urn(urn))?;
                let attr = schema
                    .attr(&path.name)
                    .or_else(|| {
                        // The core URN may prefix a common attribute (`urn:…:User:id`).
                        std::ptr::eq(schema, self.schema)
                            .then(|| find_attr(&COMMON_ATTRIBUTES, &path.name))
                            .flatten()
                    })
                    .ok_or_else(|| {
                        ScimError::invalid_path(format!(
                            "unknown attribute \"{}\" in schema \"{}\" of {}",
                            path.name, schema.id, self.name
                        ))
                    })?;
                (schema, attr)
            }
            None => self.find_unqualified(&path.name).ok_or_else(|| {
                ScimError::invalid_path(format!("unknown attribute \"{}\" on {}", path.name, self.name))
            })?,
        };

        let is_ext = !std::ptr::eq(schema, self.schema);
        let mut doc_path = Vec::with_capacity(3);
        if is_ext {
            doc_path.push(schema.id);
        }
        doc_path.push(attr.name);

        let sub = match &path.sub {
            None => None,
            Some(sub_name) => {
                if attr.sub_attributes.is_empty() {
                    return Err(ScimError::invalid_path(format!(
                        "\"{}\" is a {} and has no sub-attributes, so \"{}.{}\" names nothing",
                        attr.name,
                        attr.ty.as_str(),
                        attr.name,
                        sub_name
                    )));
                }
                let sub = attr.sub_attr(sub_name).ok_or_else(|| {
                    let known: Vec<&str> = attr.sub_attributes.iter().map(|s| s.name).collect();
                    ScimError::invalid_path(format!(
                        "unknown sub-attribute \"{sub_name}\" of \"{}\"; it has: {}",
                        attr.name,
                        known.join(", ")
                    ))
                })?;
                doc_path.push(sub.name);
                Some(sub)
            }
        };

        Ok(Resolved {
            schema,
            attr: Some(attr),
            sub,
            doc_path,
        })
    }

    /// Every schema URN this resource type knows (core first).
    pub fn schema_urns(&self) -> Vec<&'static str> {
        std::iter::once(self.schema.id)
            .chain(self.extensions.iter().map(|(s, _)| s.id))
            .collect()
    }

    /// The core schema or an extension by URN, case-insensitively.
    pub fn schema_by_urn(&self, urn: &str) -> Option<&'static Schema> {
        if self.schema.id.eq_ignore_ascii_case(urn) {
            return Some(self.schema);
        }
        self.extension(urn)
    }

    /// An extension of this resource type by URN, case-insensitively.
    pub fn extension(&self, urn: &str) -> Option<&'static Schema> {
        self.extensions
            .iter()
            .map(|(s, _)| *s)
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// An attribute name without URN: the core schema, then the common attributes, then the
    /// extensions in order (RFC 7644 §3.10 lets clients omit the URN of any attribute whose name
    /// is unambiguous).
    pub fn find_unqualified(&self, name: &str) -> Option<(&'static Schema, &'static AttrDef)> {
        if let Some(a) = self.schema.attr(name) {
            return Some((self.schema, a));
        }
        if let Some(a) = find_attr(&COMMON_ATTRIBUTES, name) {
            return Some((self.schema, a));
        }
        self.extensions
            .iter()
            .find_map(|(s, _)| s.attr(name).map(|a| (*s, a)))
    }

    fn unknown_urn(&self, urn: &str) -> ScimError {
        ScimError::invalid_path(format!(
            "unknown schema URN \"{urn}\" for {}; known: {}",
            self.name,
            self.schema_urns().join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;

    fn p(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: urn.map(str::to_string),
            name: name.to_string(),
            sub: sub.map(str::to_string),
        }
    }

    fn every_attr(f: &mut dyn FnMut(&str, &'static AttrDef, bool)) {
        for schema in all_schemas() {
            for a in schema.attributes {
                f(schema.id, a, false);
                for s in a.sub_attributes {
                    f(schema.id, s, true);
                }
            }
        }
        for a in &COMMON_ATTRIBUTES {
            f("common", a, false);
            for s in a.sub_attributes {
                f("common", s, true);
            }
        }
    }

    #[test]
    fn catalogue_is_self_consistent() {
        every_attr(&mut |schema, a, is_sub| {
            assert!(
                !a.name.is_empty() && !a.description.is_empty(),
                "{schema} {}",
                a.name
            );
            if a.ty == AttrType::Complex {
                assert!(
                    !a.sub_attributes.is_empty(),
                    "complex {schema}:{} has no sub-attributes",
                    a.name
                );
                assert!(!is_sub, "complex inside complex: {schema}:{}", a.name);
            } else {
                assert!(
                    a.sub_attributes.is_empty(),
                    "{schema}:{} is not complex but has subs",
                    a.name
                );
            }
            if a.ty == AttrType::Reference {
                assert!(
                    !a.reference_types.is_empty(),
                    "{schema}:{} lacks referenceTypes",
                    a.name
                );
            } else {
                assert!(a.reference_types.is_empty(), "{schema}:{}", a.name);
            }
            if is_sub {
                assert!(!a.multi_valued, "multi-valued sub-attribute {schema}:{}", a.name);
            }
            // Names must stay unique case-insensitively, or lookups would be ambiguous.
            let mut names: Vec<String> = a
                .sub_attributes
                .iter()
                .map(|s| s.name.to_ascii_lowercase())
                .collect();
            names.sort();
            names.dedup();
            assert_eq!(
                names.len(),
                a.sub_attributes.len(),
                "duplicate sub-attribute in {schema}:{}",
                a.name
            );
        });
        for rt in resource_types() {
            let mut names: Vec<String> = rt
                .schema
                .attributes
                .iter()
                .chain(COMMON_ATTRIBUTES.iter())
                .chain(rt.extensions.iter().flat_map(|(s, _)| s.attributes.iter()))
                .map(|a| a.name.to_ascii_lowercase())
                .collect();
            let n = names.len();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), n, "attribute names of {} collide", rt.name);
        }
    }

    #[test]
    fn catalogue_matches_rfc_characteristics() {
        let user_name = USER_SCHEMA.attr("username").unwrap();
        assert!(user_name.required && !user_name.case_exact);
        assert_eq!(user_name.uniqueness, Uniqueness::Server);
        assert!(USER_SCHEMA.attr("password").is_none(), "scimd serves no password");
        let groups = USER_SCHEMA.attr("groups").unwrap();
        assert_eq!(groups.mutability, Mutability::ReadOnly);
        assert!(groups.multi_valued);
        assert!(
            groups
                .sub_attributes
                .iter()
                .all(|s| s.mutability == Mutability::ReadOnly)
        );
        assert_eq!(
            groups.sub_attr("type").unwrap().canonical_values,
            ["direct", "indirect"]
        );
        let id = find_attr(&COMMON_ATTRIBUTES, "id").unwrap();
        assert!(id.case_exact);
        assert_eq!(
            (id.mutability, id.returned),
            (Mutability::ReadOnly, Returned::Always)
        );
        assert!(find_attr(&COMMON_ATTRIBUTES, "externalId").unwrap().case_exact);
        let display_name = GROUP_SCHEMA.attr("displayName").unwrap();
        assert!(display_name.required);
        let members = GROUP_SCHEMA.attr("members").unwrap();
        assert_eq!(
            members.sub_attr("type").unwrap().canonical_values,
            ["User", "Group"]
        );
        assert_eq!(
            members.sub_attr("$ref").unwrap().reference_types,
            ["User", "Group"]
        );
        let manager = ENTERPRISE_USER_SCHEMA.attr("manager").unwrap();
        assert_eq!(
            manager.sub_attr("displayname").unwrap().mutability,
            Mutability::ReadOnly
        );
        assert_eq!(manager.sub_attr("$REF").unwrap().reference_types, ["User"]);
        // Common attributes are resolvable but not listed in any schema.
        for s in all_schemas() {
            for c in ["id", "externalId", "meta", "schemas"] {
                assert!(s.attr(c).is_none(), "{c} listed in {}", s.id);
            }
        }
    }

    #[test]
    fn resource_types_and_urns() {
        assert_eq!(USER.schema_urns(), vec![USER_URN, ENTERPRISE_USER_URN]);
        assert_eq!(GROUP.schema_urns(), vec![GROUP_URN]);
        assert_eq!(all_schemas().len(), 3);
        assert!(USER.extension(&ENTERPRISE_USER_URN.to_uppercase()).is_some());
        assert!(GROUP.extension(ENTERPRISE_USER_URN).is_none());
    }

    #[test]
    fn resolve_plain_and_case_insensitive() {
        let r = USER.resolve(&p(None, "USERNAME", None)).unwrap();
        assert_eq!(r.doc_path, vec!["userName"]);
        assert!(std::ptr::eq(r.schema, &USER_SCHEMA));
        let r = USER.resolve(&p(None, "emails", Some("VALUE"))).unwrap();
        assert_eq!(r.doc_path, vec!["emails", "value"]);
        assert_eq!(r.leaf().unwrap().name, "value");
        assert_eq!(r.attr.unwrap().name, "emails");
        let r = USER.resolve(&p(None, "name", Some("givenname"))).unwrap();
        assert_eq!(r.doc_path, vec!["name", "givenName"]);
    }

    #[test]
    fn resolve_common_attributes() {
        for rt in resource_types() {
            let r = rt.resolve(&p(None, "id", None)).unwrap();
            assert!(r.is_common() && r.attr.unwrap().case_exact);
            assert_eq!(r.doc_path, vec!["id"]);
            let r = rt.resolve(&p(None, "meta", Some("lastmodified"))).unwrap();
            assert_eq!(r.doc_path, vec!["meta", "lastModified"]);
            assert_eq!(r.leaf().unwrap().ty, AttrType::DateTime);
            let r = rt.resolve(&p(None, "EXTERNALID", None)).unwrap();
            assert_eq!(r.doc_path, vec!["externalId"]);
            let r = rt.resolve(&p(None, "schemas", None)).unwrap();
            assert!(r.attr.unwrap().multi_valued);
            let r = rt.resolve(&p(Some(rt.schema.id), "id", None)).unwrap();
            assert_eq!(r.doc_path, vec!["id"]);
        }
        assert!(!USER.resolve(&p(None, "userName", None)).unwrap().is_common());
    }

    #[test]
    fn resolve_extension_shapes() {
        let r = USER.resolve(&p(None, "department", None)).unwrap();
        assert_eq!(r.doc_path, vec![ENTERPRISE_USER_URN, "department"]);
        assert!(r.is_extension());
        let upper = "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:user";
        let r = USER.resolve(&p(Some(upper), "Department", None)).unwrap();
        assert_eq!(r.doc_path, vec![ENTERPRISE_USER_URN, "department"]);
        let r = USER
            .resolve(&p(Some(ENTERPRISE_USER_URN), "manager", Some("value")))
            .unwrap();
        assert_eq!(r.doc_path, vec![ENTERPRISE_USER_URN, "manager", "value"]);
        // A whole extension, as the schema-free parser splits it.
        let r = USER
            .resolve(&p(
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0"),
                "user",
                None,
            ))
            .unwrap();
        assert!(r.attr.is_none() && r.sub.is_none() && r.leaf().is_none());
        assert_eq!(r.doc_path, vec![ENTERPRISE_USER_URN]);
        assert!(std::ptr::eq(r.schema, &ENTERPRISE_USER_SCHEMA));
        // Core URN prefix on a core attribute.
        let r = USER
            .resolve(&p(Some(USER_URN), "name", Some("familyName")))
            .unwrap();
        assert_eq!(r.doc_path, vec!["name", "familyName"]);
        let r = GROUP
            .resolve(&p(Some(&GROUP_URN.to_lowercase()), "MEMBERS", Some("value")))
            .unwrap();
        assert_eq!(r.doc_path, vec!["members", "value"]);
    }

    #[test]
    fn resolve_errors_are_invalid_path_with_detail() {
        let cases: Vec<(AttrPath, &str)> = vec![
            (p(None, "fooBar", None), "unknown attribute \"fooBar\" on User"),
            (p(None, "userName", Some("x")), "has no sub-attributes"),
            (
                p(None, "emails", Some("nope")),
                "unknown sub-attribute \"nope\" of \"emails\"",
            ),
            (p(Some("urn:example:custom"), "x", None), "unknown schema URN"),
            (
                p(Some(USER_URN), "department", None),
                "unknown attribute \"department\"",
            ),
            (
                p(Some("urn:ietf:params:scim:schemas:core:2.0"), "User", None),
                "whole core schema",
            ),
            (
                p(
                    Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0"),
                    "User",
                    Some("x"),
                ),
                "cannot take a sub-attribute",
            ),
            (p(None, "password", None), "unknown attribute \"password\""),
        ];
        for (path, needle) in cases {
            let e = USER.resolve(&path).unwrap_err();
            assert_eq!(e.status, 400);
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
            assert!(e.detail.contains(needle), "{:?}: {}", path, e.detail);
        }
        // Group has no enterprise extension and no User attributes.
        assert!(GROUP.resolve(&p(None, "userName", None)).is_err());
        assert!(
            GROUP
                .resolve(&p(Some(ENTERPRISE_USER_URN), "department", None))
                .is_err()
        );
        assert!(
            GROUP
                .resolve(&p(
                    Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0"),
                    "User",
                    None
                ))
                .is_err()
        );
    }
}
