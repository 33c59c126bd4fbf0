//! The filter evaluator: does a JSON document held in memory match a filter? PATCH uses it for
//! value filters (`emails[type eq "work"]`); the store never does, as it turns the tree into SQL.
//! Its leniencies are listed on [`matches`].

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

use crate::scim::attr_path::AttrPath;

use super::ast::{CompValue, CompareOp, Filter};

/// Does `value` (a resource, or one element of a multi-valued attribute) match `filter`?
/// Attribute names are looked up case-insensitively. `case_exact(path)` tells whether string
/// comparisons on that attribute are case-sensitive.
///
/// Semantics:
/// * A path with a URN looks under the top-level key equal to that URN (extension attributes
///   are nested there); for a core-schema URN (`urn:ietf:params:scim:schemas:core:…`) without
///   such a key, at the top level. `urn:…:2.0` + `User` also finds a whole extension object.
///   A path without URN looks at the top level, then inside every `urn:…` extension object
///   (Entra filters on `manager` unqualified).
/// * Multi-valued attributes match if any element does (`emails.value eq "x"`). A complex value
///   compared without sub-attribute is compared through its `value` (`emails co "example.com"`,
///   `manager eq "id"`).
/// * `ValuePath`: some element matches the inner filter. Its paths reach `case_exact` qualified
///   by the parent (`emails.type`); a caller evaluating a bare value filter on one element (a
///   PATCH `emails[type eq "work"]`) qualifies them in its own `case_exact`.
/// * `ne x` is `not (eq x)`: true when no value equals `x`, including when the attribute is
///   absent. `eq null` is "not present", `ne null` is "present"; other operators on `null` are
///   false.
/// * `pr`: present, not null, not `""`, not `[]`, not `{}`.
/// * Strings: `eq ne co sw ew` honour `case_exact` (otherwise Unicode lowercase on both sides);
///   `eq ne gt ge lt le` compare instants when both sides parse as RFC 3339 date-times,
///   otherwise strings lexicographically (case-folded unless case-exact).
/// * Numbers numerically; booleans by `eq` / `ne` only, a string literal `"True"` / `"false"`
///   (any case) matching a JSON boolean and vice versa. Other type mixes are false.
pub fn matches(filter: &Filter, value: &serde_json::Value, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
    match filter {
        Filter::And(a, b) => matches(a, value, case_exact) && matches(b, value, case_exact),
        Filter::Or(a, b) => matches(a, value, case_exact) || matches(b, value, case_exact),
        Filter::Not(inner) => !matches(inner, value, case_exact),
        Filter::Present(path) => attr_values(value, path).into_iter().any(is_present),
        Filter::Compare {
            path,
            op,
            value: literal,
        } => {
            let values = attr_values(value, path);
            let exact = || case_exact(path);
            match (op, literal) {
                (CompareOp::Eq, CompValue::Null) => !values.into_iter().any(is_present),
                (CompareOp::Ne, CompValue::Null) => values.into_iter().any(is_present),
                (_, CompValue::Null) => false,
                (CompareOp::Ne, _) => {
                    let exact = exact();
                    !values
                        .into_iter()
                        .any(|v| compare(v, CompareOp::Eq, literal, exact))
                }
                (op, _) => {
                    let exact = exact();
                    values.into_iter().any(|v| compare(v, *op, literal, exact))
                }
            }
        }
        Filter::ValuePath { attr, filter } => {
            let qualified = |p: &AttrPath| {
                if p.urn.is_some() || p.sub.is_some() {
                    return case_exact(p);
                }
                case_exact(&AttrPath {
                    urn: attr.urn.clone(),
                    name: attr.name.clone(),
                    sub: Some(p.name.clone()),
                })
            };
            attr_values(value, attr)
                .into_iter()
                .any(|element| matches(filter, element, &qualified))
        }
    }
}

const CORE_URN_PREFIX: &str = "urn:ietf:params:scim:schemas:core:";

/// A key of `obj` equal to `key` ignoring ASCII case (names and URNs are ASCII).
fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// The attribute itself (before multi-value flattening), per the lookup rules of `matches`.
fn lookup<'a>(obj: &'a Map<String, Value>, path: &AttrPath) -> Option<&'a Value> {
    match &path.urn {
        Some(urn) => {
            if let Some(ext) = get_ci(obj, urn) {
                return ext.as_object().and_then(|ext| get_ci(ext, &path.name));
            }
            if starts_with_ci(urn, CORE_URN_PREFIX) {
                return get_ci(obj, &path.name);
            }
            get_ci(obj, &format!("{urn}:{}", path.name))
        }
        None => get_ci(obj, &path.name).or_else(|| {
            obj.iter()
                .filter(|(k, _)| starts_with_ci(k, "urn:"))
                .find_map(|(_, ext)| ext.as_object().and_then(|ext| get_ci(ext, &path.name)))
        }),
    }
}

/// Every value `path` reaches in `root`, multi-valued attributes flattened.
fn attr_values<'a>(root: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let Some(found) = root.as_object().and_then(|obj| lookup(obj, path)) else {
        return Vec::new();
    };
    let elements = flatten(found);
    match &path.sub {
        None => elements.collect(),
        Some(sub) => elements
            .filter_map(|e| e.as_object().and_then(|o| get_ci(o, sub)))
            .flat_map(flatten)
            .collect(),
    }
}

fn flatten(value: &Value) -> impl Iterator<Item = &Value> {
    match value {
        Value::Array(items) => items.iter().collect::<Vec<_>>().into_iter(),
        other => vec![other].into_iter(),
    }
}

fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare(value: &Value, op: CompareOp, literal: &CompValue, case_exact: bool) -> bool {
    // A complex value stands for its `value` sub-attribute (RFC 7644 §3.4.2.2 `emails co …`).
    let value = match value {
        Value::Object(o) => match get_ci(o, "value") {
            Some(inner @ (Value::String(_) | Value::Bool(_) | Value::Number(_))) => inner,
            _ => return false,
        },
        v => v,
    };
    match (value, literal) {
        (Value::String(a), CompValue::Str(b)) => compare_strings(a, op, b, case_exact),
        (Value::Bool(a), CompValue::Bool(b)) => equality_only(op, *a == *b),
        (Value::Bool(a), CompValue::Str(b)) => parse_bool(b).is_some_and(|b| equality_only(op, *a == b)),
        (Value::String(a), CompValue::Bool(b)) => parse_bool(a).is_some_and(|a| equality_only(op, a == *b)),
        (Value::Number(a), CompValue::Num(b)) => {
            compare_numbers(a, b).is_some_and(|ord| ordering_matches(op, ord))
        }
        _ => false,
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn equality_only(op: CompareOp, equal: bool) -> bool {
    match op {
        CompareOp::Eq => equal,
        CompareOp::Ne => !equal,
        _ => false,
    }
}

fn ordering_matches(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn compare_strings(a: &str, op: CompareOp, b: &str, case_exact: bool) -> bool {
    let fold = |s| fold_case(s, case_exact);
    match op {
        CompareOp::Co => fold(a).contains(&*fold(b)),
        CompareOp::Sw => fold(a).starts_with(&*fold(b)),
        CompareOp::Ew => fold(a).ends_with(&*fold(b)),
        _ => {
            let ord = match (parse_datetime(a), parse_datetime(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                _ => fold(a).cmp(&fold(b)),
            };
            ordering_matches(op, ord)
        }
    }
}

fn fold_case(s: &str, case_exact: bool) -> Cow<'_, str> {
    // Most values compared (emails, ids) are already lower-case ASCII: no copy for them.
    if case_exact || (s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase())) {
        Cow::Borrowed(s)
    } else {
        // The comparison key the stores index (docs/rules.md, "Comparing names").
        Cow::Owned(crate::scim::compare::key(s))
    }
}

fn parse_datetime(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    // Cheap pre-check: most strings compared are not dates.
    if !s.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    chrono::DateTime::parse_from_rfc3339(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::test_support::*;
    use serde_json::json;
    use std::cell::RefCell;

    fn check(input: &str) -> bool {
        matches(&parse(input), &user(), &case_exact)
    }

    #[test]
    fn matches_rfc_examples_on_a_user() {
        for (input, want) in [
            (r#"userName eq "bjensen@example.com""#, true),
            (r#"userName eq "BJENSEN@EXAMPLE.COM""#, true),
            (r#"name.familyName co "o'malley""#, true),
            (r#"userName sw "J""#, false),
            (r#"userName sw "b""#, true),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "B""#,
                true,
            ),
            ("title pr", true),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
            (r#"meta.lastModified gt "2011-05-13T04:42:33Z""#, true),
            (r#"meta.lastModified lt "2011-05-13T04:42:34.5Z""#, true),
            (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
            // Same instant in another offset: compared as date-times, not as strings.
            (r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true),
            (r#"meta.lastModified lt "2011-05-13T05:42:34+02:00""#, false),
            (r#"title pr and userType eq "Employee""#, true),
            (r#"title pr or userType eq "Intern""#, true),
            (
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                true,
            ),
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                true,
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                false,
            ),
            (r#"userType eq "Employee" and (emails.type eq "work")"#, true),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                true,
            ),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                true,
            ),
        ] {
            assert_eq!(check(input), want, "{input}");
        }
    }

    #[test]
    fn value_paths_match_within_one_element() {
        // No single email is both home and @example.com …
        assert!(!check(r#"emails[type eq "home" and value co "@example.com"]"#));
        // … though across elements both hold.
        assert!(check(
            r#"emails.type eq "home" and emails.value co "@example.com""#
        ));
        assert!(check(r#"emails[type eq "home" or value co "nothing"]"#));
        assert!(check(r#"emails[not (type eq "work")]"#));
        assert!(!check(r#"addresses[type pr]"#));
        assert!(!check(r#"nosuch[type pr]"#));
        // Entra's shapes.
        assert!(check(r#"emails[type eq "work"].value eq "BJENSEN@example.com""#));
        assert!(!check(r#"emails[type eq "home"].value eq "bjensen@example.com""#));
        assert!(check(r#"roles[primary eq "True"].display eq "admin""#));
        assert!(check(
            r#"manager[value eq "26118915-6090-4610-87e4-49d8ca9f808d"]"#
        ));
    }

    #[test]
    fn matches_extension_attributes() {
        assert!(check(&format!(r#"{ENT}:employeeNumber eq "701984""#)));
        assert!(check(&format!(
            r#"{}:employeeNumber eq "701984""#,
            ENT.to_uppercase()
        )));
        assert!(check(&format!(
            r#"{ENT}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#
        )));
        assert!(check(&format!(
            r#"{ENT}:manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#
        )));
        // Unqualified names fall back to the extensions (Entra's `manager eq`).
        assert!(check(r#"manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#));
        assert!(check(
            r#"id eq "2819c223-7f76-453a-919d-413861904646" and manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#
        ));
        assert!(check(r#"employeeNumber eq "701984""#));
        // The whole extension, parsed as URN `…:2.0` + name `User`.
        assert!(check(&format!("{ENT} pr")));
        assert!(!check(r#"urn:example:other:userName eq "bjensen@example.com""#));
        assert!(!check(&format!(r#"{ENT}:userName eq "bjensen@example.com""#)));
    }

    #[test]
    fn matches_case_exactness() {
        assert!(check(r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#));
        assert!(!check(r#"externalId eq "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF""#));
        assert!(check(r#"externalId ne "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF""#));
        assert!(!check(r#"id sw "2819C""#));
        assert!(check(r#"emails.value sw "BJENSEN""#));
        assert!(check(r#"emails.value ew ".ORG""#));
        assert!(check(r#"name.givenName eq "BARBARA""#));
        let doc = json!({"name": {"givenName": "Émile"}});
        assert!(matches(&parse(r#"name.givenName eq "éMILE""#), &doc, &|_| false));
        assert!(!matches(&parse(r#"name.givenName eq "éMILE""#), &doc, &|_| true));
        // Ordering folds case unless case-exact.
        assert!(check(r#"userName gt "a""#));
        assert!(!matches(&parse(r#"userName gt "a""#), &user(), &|_| true));
    }

    #[test]
    fn value_path_qualifies_paths_for_case_exact() {
        let seen = RefCell::new(Vec::new());
        let record = |p: &AttrPath| {
            seen.borrow_mut().push(p.to_string());
            false
        };
        let f = parse(r#"emails[type eq "work"].value eq "x""#);
        matches(&f, &user(), &record);
        assert!(
            seen.borrow()
                .iter()
                .all(|p| p == "emails.type" || p == "emails.value"),
            "{:?}",
            seen.borrow()
        );
        assert!(seen.borrow().contains(&"emails.type".to_string()));
    }

    #[test]
    fn matches_booleans_numbers_null_and_presence() {
        for (input, want) in [
            ("active eq true", true),
            (r#"active eq "True""#, true),
            (r#"active eq "FALSE""#, false),
            (r#"active ne "False""#, true),
            ("active ne false", true),
            ("active gt false", false),
            ("active eq 1", false),
            (r#"active eq "yes""#, false),
            ("loginCount eq 5", true),
            ("loginCount eq 5.0", true),
            ("loginCount gt 4", true),
            ("loginCount ge 5", true),
            ("loginCount lt 5", false),
            ("loginCount le -1", false),
            (r#"loginCount eq "5""#, false),
            ("loginCount co 5", false),
            ("userName gt 5", false),
            ("nosuch eq null", true),
            ("nickName eq null", true),
            ("userName eq null", false),
            ("userName ne null", true),
            ("nosuch ne null", false),
            ("userName gt null", false),
            (r#"nosuch ne "x""#, true),
            (r#"userType ne "Intern""#, true),
            (r#"nosuch eq "x""#, false),
            (r#"nosuch co "x""#, false),
            ("nickName pr", false),
            ("addresses pr", false),
            ("emails pr", true),
            ("emails.value pr", true),
            ("meta pr", true),
            ("name.middleName pr", false),
            (r#"phoneNumbers.value eq "+1 555 555 5555""#, true),
        ] {
            assert_eq!(check(input), want, "{input}");
        }
        let doc = json!({"a": "", "b": [], "c": {}, "d": null, "e": false, "f": 0, "g": [null], "h": [""]});
        for (name, want) in [
            ("a", false),
            ("b", false),
            ("c", false),
            ("d", false),
            ("e", true),
            ("f", true),
            ("g", false),
            ("h", false),
        ] {
            assert_eq!(matches(&pr(name), &doc, &|_| false), want, "{name}");
        }
    }

    #[test]
    fn matches_never_panics_on_odd_documents() {
        let f = parse(r#"emails[type eq "work"].value eq "x" or name.givenName pr or userName gt 1"#);
        for doc in [
            json!(null),
            json!("x"),
            json!(1),
            json!([1, 2]),
            json!({"emails": "x"}),
            json!({"emails": [1, [2], null]}),
            json!({"name": [[{"givenName": "x"}]]}),
        ] {
            let _ = matches(&f, &doc, &|_| false);
        }
        assert!(!matches(
            &parse("name.givenName pr"),
            &json!({"name": "plain"}),
            &|_| false
        ));
    }
}
