//! The catalogue itself: every attribute of the core User, Enterprise User and Group schemas
//! and the common attributes, built from RFC 7643 §2.2's defaults (see the `schema` module docs
//! for where scimd deliberately differs from RFC 7643 §8.7.1), and the resource types.

use super::types::{
    AttrDef, AttrType, ENTERPRISE_USER_URN, GROUP_URN, Mutability, ResourceType, Returned, Schema, USER_URN,
    Undeclared, Uniqueness,
};

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
    undeclared: Undeclared::Keep,
};

pub static GROUP: ResourceType = ResourceType {
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    schema: &GROUP_SCHEMA,
    extensions: &[],
    undeclared: Undeclared::Keep,
};

/// Every resource type scimd serves, in `/ResourceTypes` order.
pub fn resource_types() -> [&'static ResourceType; 2] {
    [&USER, &GROUP]
}

/// Every schema scimd serves under `/Schemas`.
pub fn all_schemas() -> Vec<&'static Schema> {
    vec![&USER_SCHEMA, &ENTERPRISE_USER_SCHEMA, &GROUP_SCHEMA]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::find_attr;

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
}
