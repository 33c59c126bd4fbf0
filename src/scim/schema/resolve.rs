//! Path resolution against a resource type: which schema and attribute an `AttrPath` names,
//! case-insensitively, including the common attributes and whole extensions. The one place
//! where the schema-free path grammar meets the catalogue.

use crate::scim::attr_path::AttrPath;
use crate::scim::error::ScimError;

use super::catalogue::COMMON_ATTRIBUTES;
use super::types::{AttrDef, Resolved, ResourceType, Schema, find_attr};

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
    use crate::scim::schema::*;

    fn p(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: urn.map(str::to_string),
            name: name.to_string(),
            sub: sub.map(str::to_string),
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
