//! What a store derives from a user document to answer filters: the rows of `user_values`.
//! Both stores call this, so both index exactly the same values.
//!
//! Every attribute of a user that has no column of its own gets rows here, keyed by its
//! canonical document path joined with `.` (see [`value_key`]):
//!
//! - a single-valued simple attribute (`title`, the enterprise `employeeNumber`): one row;
//! - a sub-attribute of a single-valued complex one (`name.givenName`, enterprise
//!   `manager.value`): one row;
//! - each element of a multi-valued complex attribute (`emails`, `addresses`, …): an *anchor*
//!   row keyed by the attribute's name holding the element's `value` (empty when it has none),
//!   its `type` and `primary`; and one row per other sub-attribute (`emails.display`,
//!   `addresses.locality`) with the same `ord`, so a value filter can correlate sub-attributes
//!   of one element (`addresses[type eq "work" and locality eq "Paris"]`).
//!
//! Values are kept twice, as written and as their comparison key (`scim::compare`, computed
//! in Rust), so case-insensitive matching
//! is identical on every database and per-attribute `caseExact` picks the column.

use serde_json::{Map, Value};

use crate::scim::compare;
use crate::scim::schema::{self, AttrDef, AttrType};

/// The derivation the rows follow. Bump it whenever [`user_value_rows`] changes what it
/// derives: stores rebuild rows written by an older version at start-up.
pub const USER_VALUES_VERSION: i32 = 3;

/// One row of `user_values` (without account and user id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueRow {
    pub attr: String,
    pub ord: i32,
    pub value: String,
    pub value_ci: String,
    pub type_ci: Option<String>,
    pub is_primary: bool,
}

/// Attributes of a user that have a column of their own (or are not data at all).
const COLUMN_ATTRS: &[&str] = &["userName", "displayName", "active", "groups", "password"];

/// The `user_values.attr` of a canonical document path. Under an account's own extension
/// (any URN but the enterprise one) the key is in lower case: such data may have been kept
/// before its schema was declared, spelled as the IdP spelled it, and names compare ignoring
/// case (RFC 7643 §2.1), so a declaration makes it filterable whatever its spelling.
pub fn value_key(doc_path: &[&str]) -> String {
    let key = doc_path.join(".");
    match doc_path.first() {
        Some(first) if is_account_extension(first) => key.to_lowercase(),
        _ => key,
    }
}

/// A document key that holds an account's own extension: a URN other than the enterprise one.
pub fn is_account_extension(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        && !key.eq_ignore_ascii_case(schema::ENTERPRISE_USER_URN)
}

/// The rows of `user_values` for a canonical user document.
pub fn user_value_rows(doc: &Map<String, Value>) -> Vec<ValueRow> {
    let mut rows = Vec::new();
    for attr in schema::USER_SCHEMA.attributes {
        if COLUMN_ATTRS.contains(&attr.name) {
            continue;
        }
        if let Some(value) = doc.get(attr.name) {
            attribute_rows(&[], attr, value, &mut rows);
        }
    }
    for (ext, _) in schema::USER.extensions {
        let Some(Value::Object(ext_doc)) = doc.get(ext.id) else {
            continue;
        };
        for attr in ext.attributes {
            if let Some(value) = ext_doc.get(attr.name) {
                attribute_rows(&[ext.id], attr, value, &mut rows);
            }
        }
    }
    extension_rows(doc, &mut rows);
    rows
}

/// The rows of `group_values` for a canonical group document: its account extensions only
/// (every core Group attribute a filter names has a column or the membership table).
pub fn group_value_rows(doc: &Map<String, Value>) -> Vec<ValueRow> {
    let mut rows = Vec::new();
    extension_rows(doc, &mut rows);
    rows
}

/// The account's own extensions, declared or kept undeclared: derived from the data's shape,
/// which is all a kept extension has. For a declared one the shape is the schema's (writes were
/// validated against it), so the rows are those `attribute_rows` would make, and data kept
/// before its declaration is filterable the moment the schema exists.
fn extension_rows(doc: &Map<String, Value>, rows: &mut Vec<ValueRow>) {
    for (urn, value) in doc {
        if !is_account_extension(urn) {
            continue;
        }
        let Value::Object(ext_doc) = value else { continue };
        for (name, value) in ext_doc {
            shape_rows(&[urn, name], value, rows);
        }
    }
}

/// Rows of one attribute of an account extension, by the shape of its value: a scalar, an
/// object of scalars (a complex attribute), an array of scalars, or an array of objects (a
/// multi-valued complex attribute: an anchor row with `value`, `type` and `primary`, and a row
/// per other sub-attribute with the same `ord`).
fn shape_rows(path: &[&str], value: &Value, rows: &mut Vec<ValueRow>) {
    let key = value_key(path);
    match value {
        Value::Object(obj) => {
            for (sub, v) in obj {
                let mut sub_path = path.to_vec();
                sub_path.push(sub);
                push_extension(rows, value_key(&sub_path), 0, v, None, false);
            }
        }
        Value::Array(items) => {
            for (ord, item) in items.iter().enumerate() {
                let ord = ord as i32;
                let Value::Object(element) = item else {
                    push_extension(rows, key.clone(), ord, item, None, false);
                    continue;
                };
                let get = |name: &str| {
                    element
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v)
                };
                let type_ci = get("type").and_then(Value::as_str).map(compare::key);
                let primary = get("primary").and_then(Value::as_bool).unwrap_or(false);
                let value = get("value").and_then(scalar_text).unwrap_or_default();
                rows.push(ValueRow {
                    attr: key.clone(),
                    ord,
                    value_ci: get("value")
                        .and_then(extension_key)
                        .unwrap_or_else(|| compare::key(&value)),
                    value,
                    type_ci: type_ci.clone(),
                    is_primary: primary,
                });
                for (sub, v) in element {
                    if ["value", "type", "primary"]
                        .iter()
                        .any(|n| n.eq_ignore_ascii_case(sub))
                    {
                        continue;
                    }
                    let mut sub_path = path.to_vec();
                    sub_path.push(sub);
                    push_extension(rows, value_key(&sub_path), ord, v, type_ci.clone(), primary);
                }
            }
        }
        scalar => push_extension(rows, key, 0, scalar, None, false),
    }
}

fn attribute_rows(prefix: &[&str], attr: &'static AttrDef, value: &Value, rows: &mut Vec<ValueRow>) {
    let mut path: Vec<&str> = prefix.to_vec();
    path.push(attr.name);
    match (attr.multi_valued, attr.is_complex()) {
        (false, false) => push_scalar(rows, value_key(&path), 0, value, None, false),
        (false, true) => {
            let Value::Object(obj) = value else { return };
            for sub in attr.sub_attributes {
                if let Some(v) = obj.get(sub.name) {
                    let mut sub_path = path.clone();
                    sub_path.push(sub.name);
                    push_scalar(rows, value_key(&sub_path), 0, v, None, false);
                }
            }
        }
        (true, false) => {
            let Value::Array(items) = value else { return };
            for (ord, item) in items.iter().enumerate() {
                push_scalar(rows, value_key(&path), ord as i32, item, None, false);
            }
        }
        (true, true) => {
            let Value::Array(items) = value else { return };
            let key = value_key(&path);
            for (ord, item) in items.iter().enumerate() {
                let Value::Object(element) = item else { continue };
                let ord = ord as i32;
                let type_ci = element.get("type").and_then(Value::as_str).map(compare::key);
                let primary = element.get("primary").and_then(Value::as_bool).unwrap_or(false);
                let value = element.get("value").and_then(scalar_text).unwrap_or_default();
                rows.push(ValueRow {
                    attr: key.clone(),
                    ord,
                    value_ci: compare::key(&value),
                    value,
                    type_ci: type_ci.clone(),
                    is_primary: primary,
                });
                for sub in attr.sub_attributes {
                    if matches!(sub.name, "value" | "type" | "primary") {
                        continue;
                    }
                    if let Some(v) = element.get(sub.name) {
                        let mut sub_path = path.clone();
                        sub_path.push(sub.name);
                        push_scalar(rows, value_key(&sub_path), ord, v, type_ci.clone(), primary);
                    }
                }
            }
        }
    }
}

fn push_scalar(
    rows: &mut Vec<ValueRow>,
    attr: String,
    ord: i32,
    value: &Value,
    type_ci: Option<String>,
    is_primary: bool,
) {
    let Some(text) = scalar_text(value) else { return };
    rows.push(ValueRow {
        attr,
        ord,
        value_ci: compare::key(&text),
        value: text,
        type_ci,
        is_primary,
    });
}

/// A row of an account extension's scalar: its comparison key by [`extension_key`].
fn push_extension(
    rows: &mut Vec<ValueRow>,
    attr: String,
    ord: i32,
    value: &Value,
    type_ci: Option<String>,
    is_primary: bool,
) {
    let (Some(text), Some(value_ci)) = (scalar_text(value), extension_key(value)) else {
        return;
    };
    rows.push(ValueRow {
        attr,
        ord,
        value_ci,
        value: text,
        type_ci,
        is_primary,
    });
}

/// The comparison key of a scalar of an account extension, which has no schema when it is
/// written (it may be kept undeclared): a number's orders as numbers do ([`number_key`]), a
/// string that is an RFC 3339 date-time's as instants do ([`date_key`]), so `gt`/`lt` on a
/// declared integer, decimal or dateTime attribute are ranges of the index; other text is
/// compared by `compare::key`, booleans by their spelling. The filter side computes a
/// literal's key with the same functions (`extension_text_key` for text).
pub fn extension_key(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => number_key(n).or_else(|| Some(n.to_string())),
        Value::String(s) => Some(extension_text_key(s)),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The key of a text value of an account extension (see [`extension_key`]).
pub fn extension_text_key(s: &str) -> String {
    date_key(s).unwrap_or_else(|| compare::key(s))
}

/// The key of an RFC 3339 date-time: the instant in UTC with nine fraction digits, in lower
/// case (`2024-01-31t11:00:00.000000000z` for `2024-01-31T12:00:00+01:00`), a fixed width, so
/// text order is time order, and a prefix of it still starts like the date written in UTC.
pub fn date_key(s: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(s.trim()).ok()?;
    Some(
        t.with_timezone(&chrono::Utc)
            .format("%Y-%m-%dt%H:%M:%S%.9fz")
            .to_string(),
    )
}

/// The comparison key of a number: 16 hexadecimal digits whose text order is the numbers'
/// order (the IEEE 754 bits of the value as an `f64`, the sign bit flipped for positives and
/// every bit for negatives). Integers beyond 2^53 lose precision, as they do in JSON readers.
pub fn number_key(n: &serde_json::Number) -> Option<String> {
    let f = n.as_f64()?;
    if !f.is_finite() {
        return None;
    }
    let bits = if f == 0.0 { 0.0f64.to_bits() } else { f.to_bits() };
    let ordered = if bits >> 63 == 1 { !bits } else { bits | (1 << 63) };
    Some(format!("{ordered:016x}"))
}

/// Strings as they are; booleans and numbers in their JSON spelling (`true`, `42`), which is
/// what the filter translator compares them with.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether attributes of this type can be answered from the value rows: text (compared as
/// text or by comparison key) and booleans; numbers and date-times only under an account's
/// extension (`ext`), whose rows key them by [`extension_key`] (no core attribute without a
/// column has those types).
pub fn text_comparable(ty: AttrType, ext: bool) -> bool {
    match ty {
        AttrType::String | AttrType::Reference | AttrType::Binary | AttrType::Boolean => true,
        AttrType::Integer | AttrType::Decimal | AttrType::DateTime => ext,
        AttrType::Complex => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows(doc: Value) -> Vec<(String, i32, String, Option<String>, bool)> {
        let Value::Object(doc) = doc else { unreachable!() };
        user_value_rows(&doc)
            .into_iter()
            .map(|r| (r.attr, r.ord, r.value, r.type_ci, r.is_primary))
            .collect()
    }

    #[test]
    fn every_leaf_without_a_column_gets_a_row() {
        let got = rows(json!({
            "userName": "bjensen",
            "displayName": "Babs",
            "active": true,
            "externalId": "x1",
            "title": "Tour Guide",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "B@example.com", "type": "Work", "primary": true, "display": "work mail"},
                {"value": "b@home.example", "type": "home"}
            ],
            "addresses": [{"type": "work", "locality": "Paris"}],
            schema::ENTERPRISE_USER_URN: {"employeeNumber": "701984", "manager": {"value": "m1"}}
        }));
        let expected = vec![
            ("name.familyName".into(), 0, "Jensen".into(), None, false),
            ("name.givenName".into(), 0, "Barbara".into(), None, false),
            ("title".into(), 0, "Tour Guide".into(), None, false),
            (
                "emails".into(),
                0,
                "B@example.com".into(),
                Some("work".into()),
                true,
            ),
            (
                "emails.display".into(),
                0,
                "work mail".into(),
                Some("work".into()),
                true,
            ),
            (
                "emails".into(),
                1,
                "b@home.example".into(),
                Some("home".into()),
                false,
            ),
            ("addresses".into(), 0, "".into(), Some("work".into()), false),
            (
                "addresses.locality".into(),
                0,
                "Paris".into(),
                Some("work".into()),
                false,
            ),
            (
                format!("{}.employeeNumber", schema::ENTERPRISE_USER_URN),
                0,
                "701984".into(),
                None,
                false,
            ),
            (
                format!("{}.manager.value", schema::ENTERPRISE_USER_URN),
                0,
                "m1".into(),
                None,
                false,
            ),
        ];
        let mut got_sorted = got.clone();
        got_sorted.sort();
        let mut expected_sorted = expected;
        expected_sorted.sort();
        assert_eq!(got_sorted, expected_sorted, "{got:#?}");
    }

    proptest::proptest! {
        /// The keys of numbers order as the numbers do, whatever their sign or size.
        #[test]
        fn number_keys_order_as_the_numbers(a in proptest::num::f64::NORMAL | proptest::num::f64::ZERO,
                                            b in proptest::num::f64::NORMAL | proptest::num::f64::ZERO) {
            let key = |f: f64| number_key(&serde_json::Number::from_f64(f).unwrap()).unwrap();
            proptest::prop_assert_eq!(a.partial_cmp(&b).unwrap(), key(a).cmp(&key(b)), "{} {}", a, b);
        }
    }

    #[test]
    fn date_keys_order_as_instants_and_text_keys_keep_other_text() {
        let ordered = [
            "1999-12-31T23:59:59.999999999Z",
            "2024-01-31T12:00:00+01:00",
            "2024-01-31T11:00:00.000000001Z",
            "2024-01-31T12:00:00Z",
        ];
        for w in ordered.windows(2) {
            assert!(
                date_key(w[0]).unwrap() < date_key(w[1]).unwrap(),
                "{} < {}",
                w[0],
                w[1]
            );
        }
        assert_eq!(
            date_key("2024-01-31T12:00:00+01:00"),
            date_key("2024-01-31t11:00:00z")
        );
        assert_eq!(
            date_key("2024-01-31T11:00:00Z").unwrap(),
            "2024-01-31t11:00:00.000000000z"
        );
        assert_eq!(date_key("2024-01-31"), None);
        assert_eq!(extension_text_key("Ünïcode ABC"), compare::key("Ünïcode ABC"));
        assert!(extension_text_key("2024-01-31T11:00:00Z").starts_with("2024-01-31t11"));
    }

    #[test]
    fn integers_and_decimals_share_one_order() {
        let key = |v: Value| match v {
            Value::Number(n) => number_key(&n).unwrap(),
            _ => unreachable!(),
        };
        let ordered = [
            json!(-1e300),
            json!(-3),
            json!(-2.5),
            json!(0),
            json!(1),
            json!(2.5),
            json!(3),
            json!(10),
            json!(1e300),
        ];
        for w in ordered.windows(2) {
            assert!(key(w[0].clone()) < key(w[1].clone()), "{} < {}", w[0], w[1]);
        }
        assert_eq!(key(json!(3)), key(json!(3.0)));
        assert_eq!(key(json!(0.0)), key(json!(-0.0)));
    }

    #[test]
    fn columns_and_unknown_shapes_get_no_rows() {
        assert!(rows(json!({"userName": "u", "active": false, "displayName": "d", "groups": []})).is_empty());
        // Wrong shapes (already rejected by validation) are skipped rather than panicking.
        assert!(rows(json!({"name": "x", "emails": {"value": "y"}, "title": {"a": 1}})).is_empty());
    }
}
