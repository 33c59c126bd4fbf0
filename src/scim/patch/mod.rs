//! The PATCH engine (RFC 7644 §3.5.2) with the IdP dialects of docs/idp-notes.md: parse a
//! PatchOp message and apply it to a canonical document held in memory. Group membership is
//! not part of the document: `split_group_ops` turns member operations into `MemberOp`s that
//! the store applies set-based, so a 100,000-member group is never loaded to change one member.
//!
//! Dialect decisions (each one is what an IdP sends, or what keeps one request meaning one thing):
//! - `op` and the message keys (`Operations`, `op`, `path`, `value`, `schemas`) are
//!   case-insensitive; a missing `schemas` is accepted, a wrong one is not.
//! - A no-path `add`/`replace` treats each key of its value as a path (plain, dotted,
//!   URN-qualified, a whole extension, the core schema URN, or a value path such as
//!   `emails[type eq "work"].value`, applied as that `path` would be). Keys naming readOnly attributes
//!   (`id`, `meta`, `schemas`, `groups`, `manager.displayName`) and unknown keys (including
//!   `password`, which scimd never stores) are ignored, as POST/PUT normalisation drops them.
//!   With an explicit path, a readOnly target is a `mutability` error and an unknown one
//!   `invalidPath`, except `password`, which is ignored so that IdPs with password sync on keep
//!   working.
//! - `add`/`replace` with a `null` value removes the target (RFC 7643 §2.5: null is unassigned).
//! - A value filter that matches nothing is an upsert for `add`/`replace` when the filter is
//!   `eq` terms joined by `and` (Entra expects `emails[type eq "work"].value` to create the
//!   work email); otherwise `replace` (and `add` of a sub-attribute) answers `noTarget`.
//! - `remove` with a filter that matches nothing succeeds without change: IdPs retry removals.
//! - `remove` of a multi-valued attribute with a `value` list removes only the listed elements,
//!   compared by their `value` sub-attribute (Entra's default dialect), never the whole attribute.
//! - Setting a complex attribute whose `value` (a reference id, as in `manager`) changes
//!   replaces the object rather than merging, so the old referent's `displayName`/`$ref` go.
//!
//! Parts, bottom up: `op` (the types), `parse` (the message), `target` and `values` (shared
//! helpers), `filtered` and `write` (writing one operation), `apply` (the document), and
//! `members` (group membership).

mod apply;
mod filtered;
mod members;
mod op;
mod parse;
mod target;
#[cfg(test)]
mod test_support;
mod values;
mod write;

pub use apply::apply;
pub use members::{coalesce_member_ops, split_group_ops};
pub use op::{GroupPatch, MemberOp, OpKind, PatchOperation};
pub use parse::{MAX_PATCH_OPERATIONS, parse_patch};

/// Property tests of the whole engine: parse, apply and split never panic, and what apply
/// leaves is pruned and accepted by PUT normalisation.
#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::values::prune_map;
    use crate::scim::resource;

    // ---- Never panics -----------------------------------------------------------------------

    fn arb_json() -> impl Strategy<Value = Value> {
        let names = prop::sample::select(vec![
            "value",
            "Value",
            "type",
            "primary",
            "display",
            "$ref",
            "givenName",
            "name",
            "name.givenName",
            "emails",
            "active",
            "members",
            "Members",
            "id",
            "meta",
            "groups",
            "userName",
            "displayName",
            "manager",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "roles",
            "x",
        ])
        .prop_map(str::to_string);
        let key = prop_oneof![names, "[a-zA-Z.:$\\[\\] ]{0,12}"];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            prop::sample::select(vec!["True", "false", "work", "a@x", "m-1", ""]).prop_map(|s| json!(s)),
            "[ -~]{0,10}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 40, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn arb_path() -> impl Strategy<Value = Value> {
        prop_oneof![
            prop::sample::select(vec![
                "active",
                "name",
                "name.givenName",
                "emails",
                "emails[type eq \"work\"]",
                "emails[type eq \"work\"].value",
                "emails[primary eq \"True\"].display",
                "emails[value co \"x\" or not (type pr)]",
                "roles[primary eq true]",
                "addresses[type eq \"work\"].formatted",
                "manager",
                "manager[value eq \"m-1\"]",
                "manager.value",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq \"m-1\"]",
                "members",
                "members[value eq \"a\"]",
                "members[value eq \"a\" or value eq \"b\"]",
                "displayName",
                "id",
                "meta.created",
                "groups",
                "userName",
                "phoneNumbers.type",
                "emails.value",
                "x509Certificates",
            ])
            .prop_map(|s| json!(s)),
            "[a-zA-Z.:\\[\\]\" ]{0,20}".prop_map(Value::String),
            arb_json(),
        ]
    }

    fn arb_operation() -> impl Strategy<Value = Value> {
        let op = prop_oneof![
            prop::sample::select(vec![
                "add", "Add", "remove", "Remove", "replace", "REPLACE", "move"
            ])
            .prop_map(|s| json!(s)),
            arb_json(),
        ];
        (
            op,
            prop::option::of(arb_path()),
            prop::option::of(arb_json()),
            any::<bool>(),
        )
            .prop_map(|(op, path, value, wrap)| {
                let mut m = Map::new();
                m.insert("op".into(), op);
                if let Some(p) = path {
                    m.insert("path".into(), p);
                }
                if let Some(v) = value {
                    m.insert("value".into(), v);
                }
                if wrap {
                    Value::Object(m)
                } else {
                    Value::Array(vec![Value::Object(m)])
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn parse_and_apply_never_panic(ops in prop::collection::vec(arb_operation(), 0..5), raw in arb_json()) {
            let _ = parse_patch(&raw);
            let message = body(Value::Array(ops));
            if let Ok(parsed) = parse_patch(&message) {
                let mut doc = user();
                doc.insert(ENT.into(), json!({"manager": {"value": "m-1", "displayName": "B"}}));
                doc.insert("roles".into(), json!([{"value": "r", "primary": true}]));
                if apply(&USER, &mut doc, &parsed).is_ok() {
                    let mut pruned = doc.clone();
                    prune_map(&mut pruned);
                    prop_assert_eq!(&pruned, &doc, "apply leaves no empty values");
                    // What a PATCH leaves, a PUT of the same document accepts (fuzz/patch checks
                    // the same on arbitrary JSON).
                    let put = resource::normalize(&USER, &Value::Object(doc.clone()));
                    prop_assert!(put.is_ok(), "{:?}", put);
                }
                if let Ok(gp) = split_group_ops(parsed) {
                    let _ = apply(&GROUP, &mut group(), &gp.doc_ops);
                }
            }
        }
    }
}
