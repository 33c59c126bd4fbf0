//! Builders and fixtures shared by the unit tests of the filter's parts.

use serde_json::{Value, json};

pub(super) use super::{CompValue, CompareOp, Filter, parse_filter};
use crate::scim::attr_path::AttrPath;
use crate::scim::error::ScimType;

pub(super) const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub(super) const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

pub(super) fn parse(input: &str) -> Filter {
    parse_filter(input).unwrap_or_else(|e| panic!("{input:?}: {e}"))
}

pub(super) fn err(input: &str) -> String {
    let e = parse_filter(input).expect_err(input);
    assert_eq!(
        (e.status, e.scim_type),
        (400, Some(ScimType::InvalidFilter)),
        "{input}: {e}"
    );
    e.detail
}

pub(super) fn path(s: &str) -> AttrPath {
    crate::scim::attr_path::parse_attr_path_core(s).unwrap()
}

pub(super) fn str_(s: &str) -> CompValue {
    CompValue::Str(s.to_string())
}

pub(super) fn num(s: &str) -> CompValue {
    CompValue::Num(serde_json::from_str(s).unwrap())
}

pub(super) fn cmp(p: &str, op: CompareOp, value: CompValue) -> Filter {
    Filter::Compare {
        path: path(p),
        op,
        value,
    }
}

pub(super) fn eq(p: &str, v: &str) -> Filter {
    cmp(p, CompareOp::Eq, str_(v))
}

pub(super) fn pr(p: &str) -> Filter {
    Filter::Present(path(p))
}

pub(super) fn and(a: Filter, b: Filter) -> Filter {
    Filter::And(Box::new(a), Box::new(b))
}

pub(super) fn or(a: Filter, b: Filter) -> Filter {
    Filter::Or(Box::new(a), Box::new(b))
}

pub(super) fn not(a: Filter) -> Filter {
    Filter::Not(Box::new(a))
}

pub(super) fn vp(attr: &str, filter: Filter) -> Filter {
    Filter::ValuePath {
        attr: path(attr),
        filter: Box::new(filter),
    }
}

pub(super) fn rfc_examples() -> Vec<(&'static str, Filter)> {
    use CompareOp::*;
    vec![
        (r#"userName eq "bjensen""#, eq("userName", "bjensen")),
        (
            r#"name.familyName co "O'Malley""#,
            cmp("name.familyName", Co, str_("O'Malley")),
        ),
        (r#"userName sw "J""#, cmp("userName", Sw, str_("J"))),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            cmp(&format!("{CORE}:userName"), Sw, str_("J")),
        ),
        ("title pr", pr("title")),
        (
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            cmp("meta.lastModified", Gt, str_("2011-05-13T04:42:34Z")),
        ),
        (
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
            cmp("meta.lastModified", Ge, str_("2011-05-13T04:42:34Z")),
        ),
        (
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            cmp("meta.lastModified", Lt, str_("2011-05-13T04:42:34Z")),
        ),
        (
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
            cmp("meta.lastModified", Le, str_("2011-05-13T04:42:34Z")),
        ),
        (
            r#"title pr and userType eq "Employee""#,
            and(pr("title"), eq("userType", "Employee")),
        ),
        (
            r#"title pr or userType eq "Intern""#,
            or(pr("title"), eq("userType", "Intern")),
        ),
        (
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            eq("schemas", ENT),
        ),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            and(
                eq("userType", "Employee"),
                or(
                    cmp("emails", Co, str_("example.com")),
                    cmp("emails.value", Co, str_("example.org")),
                ),
            ),
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            and(
                cmp("userType", Ne, str_("Employee")),
                not(or(
                    cmp("emails", Co, str_("example.com")),
                    cmp("emails.value", Co, str_("example.org")),
                )),
            ),
        ),
        (
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            and(eq("userType", "Employee"), eq("emails.type", "work")),
        ),
        (
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            and(
                eq("userType", "Employee"),
                vp(
                    "emails",
                    and(eq("type", "work"), cmp("value", Co, str_("@example.com"))),
                ),
            ),
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            or(
                vp(
                    "emails",
                    and(eq("type", "work"), cmp("value", Co, str_("@example.com"))),
                ),
                vp("ims", and(eq("type", "xmpp"), cmp("value", Co, str_("@foo.com")))),
            ),
        ),
    ]
}

pub(super) fn user() -> Value {
    json!({
        "schemas": [CORE, ENT],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Bjensen@example.com",
        "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "O'Malley", "givenName": "Barbara"},
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "nickName": "",
        "active": true,
        "loginCount": 5,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "ims": [{"value": "babs@foo.com", "type": "xmpp"}],
        "phoneNumbers": [{"value": "+1 555 555 5555", "type": "work"}],
        "roles": [{"value": "admin", "display": "Admin", "primary": true}],
        "addresses": [],
        "meta": {"created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"},
        ENT: {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        }
    })
}

pub(super) fn case_exact(p: &AttrPath) -> bool {
    p.sub.is_none()
        && ["id", "externalId"]
            .iter()
            .any(|n| n.eq_ignore_ascii_case(&p.name))
}
