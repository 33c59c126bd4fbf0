//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5) applied to a rendered resource,
//! honouring each attribute's `returned`. Separate because it works on output, not input.

use crate::scim::attr_path::AttrPath;
use crate::scim::schema::{AttrDef, ResourceType, Returned, Schema};
use serde_json::{Map, Value};

use super::json::{is_unassigned, key_ci, remove_key};

/// Apply `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5) to a rendered resource in
/// place, honouring `returned` (`always` attributes — `id`, `schemas`, … — stay; `never` ones
/// never appear). Paths that name nothing known are ignored.
///
/// `meta` is `returned: default` (RFC 7643 §3.1), so `attributes=userName` leaves it out, as
/// RFC 7644 §3.9's example does. An extension object left empty by the projection is removed
/// together with its URN in `schemas`, since `schemas` lists the schemas of what the
/// representation contains (RFC 7643 §3). Both parameters may be given: `attributes` is
/// applied first, then `excludedAttributes`.
pub fn project(
    rt: &ResourceType,
    resource: &mut Map<String, Value>,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
) {
    let mut exts_before: Vec<String> = rt
        .extensions
        .iter()
        .map(|(s, _)| s.id.to_string())
        .filter(|urn| key_ci(resource, urn).is_some())
        .collect();
    // Extensions kept without a declaration: returned by default, and when `attributes` names
    // them or one of their attributes, whole (there is no schema to select within).
    let kept: Vec<String> = resource
        .keys()
        .filter(|k| super::undeclared::is_undeclared_urn(rt, k))
        .cloned()
        .collect();
    exts_before.extend(kept.iter().cloned());

    if !attributes.is_empty() {
        let selection = Selection::new(rt, attributes);
        let old = std::mem::take(resource);
        for (key, value) in old {
            if kept.contains(&key) {
                let named = attributes.iter().any(|p| {
                    let p = p.to_string();
                    p.eq_ignore_ascii_case(&key) || super::undeclared::is_under(&p, &[key.as_str()])
                });
                if named {
                    resource.insert(key, value);
                }
                continue;
            }
            if let Some(ext) = rt.extension(&key) {
                let kept = if selection.whole_extensions.contains(&ext.id) {
                    Some(value)
                } else {
                    select_in_extension(ext, value, &selection)
                };
                if let Some(kept) = kept {
                    resource.insert(key, kept);
                }
                continue;
            }
            let Some((schema, attr)) = rt.find_unqualified(&key) else {
                continue;
            };
            if !std::ptr::eq(schema, rt.schema) {
                continue;
            }
            if let Some(kept) = select_attr(schema, true, attr, value, &selection) {
                resource.insert(key, kept);
            }
        }
    }

    for path in excluded {
        let written = path.to_string();
        if let Some(k) = kept.iter().find(|k| k.eq_ignore_ascii_case(&written)) {
            resource.remove(k);
            continue;
        }
        exclude(rt, resource, path);
    }

    strip_unreturnable(rt, resource, attributes.is_empty());

    let emptied: Vec<String> = exts_before
        .into_iter()
        .filter(|urn| key_ci(resource, urn).is_none())
        .collect();
    if !emptied.is_empty()
        && let Some(Value::Array(schemas)) = resource.get_mut("schemas")
    {
        schemas.retain(|s| {
            !s.as_str()
                .is_some_and(|s| emptied.iter().any(|u| u.eq_ignore_ascii_case(s)))
        });
    }
}

/// What `attributes` asks for, resolved against the catalogue.
pub(super) struct Selection {
    /// `urn:…:core:2.0:User` given as a whole.
    whole_core: bool,
    whole_extensions: Vec<&'static str>,
    /// (schema id, attribute, sub-attribute); `None` sub means the whole attribute.
    attrs: Vec<(&'static str, &'static str, Option<&'static str>)>,
}

pub(super) enum Wanted {
    Whole,
    Subs(Vec<&'static str>),
    Nothing,
}

impl Selection {
    fn new(rt: &ResourceType, paths: &[AttrPath]) -> Selection {
        let mut selection = Selection {
            whole_core: false,
            whole_extensions: Vec::new(),
            attrs: Vec::new(),
        };
        for path in paths {
            if path.sub.is_none()
                && path
                    .urn
                    .as_ref()
                    .is_some_and(|urn| format!("{urn}:{}", path.name).eq_ignore_ascii_case(rt.schema.id))
            {
                selection.whole_core = true;
                continue;
            }
            let Ok(resolved) = rt.resolve(path) else {
                continue;
            };
            match resolved.attr {
                None => selection.whole_extensions.push(resolved.schema.id),
                Some(attr) => {
                    selection
                        .attrs
                        .push((resolved.schema.id, attr.name, resolved.sub.map(|s| s.name)))
                }
            }
        }
        selection
    }

    fn wanted(&self, schema: &Schema, attr: &AttrDef, is_core: bool) -> Wanted {
        if is_core && self.whole_core {
            return Wanted::Whole;
        }
        let mut subs = Vec::new();
        for (schema_id, name, sub) in &self.attrs {
            if *schema_id != schema.id || *name != attr.name {
                continue;
            }
            match sub {
                None => return Wanted::Whole,
                Some(sub) => subs.push(*sub),
            }
        }
        if subs.is_empty() {
            Wanted::Nothing
        } else {
            Wanted::Subs(subs)
        }
    }
}

pub(super) fn select_attr(
    schema: &Schema,
    is_core: bool,
    attr: &AttrDef,
    value: Value,
    selection: &Selection,
) -> Option<Value> {
    match attr.returned {
        Returned::Never => return None,
        Returned::Always => return Some(value),
        Returned::Default | Returned::Request => {}
    }
    match selection.wanted(schema, attr, is_core) {
        Wanted::Whole => Some(value),
        Wanted::Subs(subs) => keep_subs(attr, value, &subs),
        Wanted::Nothing => None,
    }
}

pub(super) fn select_in_extension(ext: &Schema, value: Value, selection: &Selection) -> Option<Value> {
    let Value::Object(inner) = value else {
        return None;
    };
    let mut kept = Map::new();
    for (key, v) in inner {
        let Some(attr) = ext.attr(&key) else { continue };
        if let Some(v) = select_attr(ext, false, attr, v, selection) {
            kept.insert(key, v);
        }
    }
    (!kept.is_empty()).then_some(Value::Object(kept))
}

/// Keeps only the named sub-attributes (plus `returned: always` ones) of a complex value, or of
/// each element of a multi-valued one; what ends up empty is dropped.
pub(super) fn keep_subs(attr: &AttrDef, value: Value, subs: &[&str]) -> Option<Value> {
    match value {
        Value::Object(map) => {
            let kept: Map<String, Value> = map
                .into_iter()
                .filter(|(k, _)| {
                    subs.iter().any(|s| s.eq_ignore_ascii_case(k))
                        || attr.sub_attr(k).is_some_and(|s| s.returned == Returned::Always)
                })
                .collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .into_iter()
                .filter_map(|i| keep_subs(attr, i, subs))
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        _ => None,
    }
}

pub(super) fn exclude(rt: &ResourceType, resource: &mut Map<String, Value>, path: &AttrPath) {
    let Ok(resolved) = rt.resolve(path) else {
        return;
    };
    let Some(attr) = resolved.attr else {
        if let Some(key) = key_ci(resource, resolved.schema.id) {
            remove_key(resource, &key);
        }
        return;
    };
    if attr.returned == Returned::Always || resolved.sub.is_some_and(|s| s.returned == Returned::Always) {
        return;
    }
    if std::ptr::eq(resolved.schema, rt.schema) {
        remove_attr(resource, attr, resolved.sub);
        return;
    }
    let Some(ext_key) = key_ci(resource, resolved.schema.id) else {
        return;
    };
    if let Some(Value::Object(inner)) = resource.get_mut(&ext_key) {
        remove_attr(inner, attr, resolved.sub);
        if inner.is_empty() {
            remove_key(resource, &ext_key);
        }
    }
}

pub(super) fn remove_attr(container: &mut Map<String, Value>, attr: &AttrDef, sub: Option<&AttrDef>) {
    let Some(key) = key_ci(container, attr.name) else {
        return;
    };
    match sub {
        None => {
            remove_key(container, &key);
        }
        Some(sub) => {
            if let Some(v) = container.get_mut(&key) {
                remove_sub(v, sub.name);
                if is_unassigned(v) {
                    remove_key(container, &key);
                }
            }
        }
    }
}

pub(super) fn remove_sub(value: &mut Value, sub: &str) {
    match value {
        Value::Object(map) => {
            if let Some(k) = key_ci(map, sub) {
                remove_key(map, &k);
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                remove_sub(item, sub);
            }
            items.retain(|i| !is_unassigned(i));
        }
        _ => {}
    }
}

/// The top-level keys `excludedAttributes` (`excluded`) can remove from a representation,
/// compared without case: each path's attribute name, the path as written (a kept extension's
/// key), and its URN with and without the name (an extension's, whole or for one of its
/// attributes). Whatever [`project`] removes is found under one of them.
pub fn excluded_keys(excluded: &[AttrPath]) -> Vec<String> {
    let mut keys = Vec::with_capacity(excluded.len() * 4);
    for path in excluded {
        keys.push(path.name.clone());
        keys.push(path.to_string());
        if let Some(urn) = &path.urn {
            keys.push(urn.clone());
            keys.push(format!("{urn}:{}", path.name));
        }
    }
    keys
}

/// Whether [`project`] leaves a representation of `rt` whose top-level keys are `keys` as it
/// is: no `attributes`, nothing of `rt` hidden by default, and none of the keys among what
/// `excludedAttributes` can remove (`cut`, from [`excluded_keys`]). Then the representation is
/// written as it is (`render::Representation::write`), and `excludedAttributes=members` on a
/// page of groups shown without members costs nothing.
pub fn leaves_whole<'k>(
    rt: &ResourceType,
    mut keys: impl Iterator<Item = &'k str>,
    attributes: &[AttrPath],
    cut: &[String],
) -> bool {
    attributes.is_empty()
        && !hides_attributes(rt)
        && (cut.is_empty() || keys.all(|k| !cut.iter().any(|c| c.eq_ignore_ascii_case(k))))
}

/// Whether a representation of `rt` can hold what is returned only on request or never: an
/// account's extension may declare such attributes (the built-in schemas hold none, since
/// scimd keeps no password), and then even a response without `attributes` must be projected.
pub fn hides_attributes(rt: &ResourceType) -> bool {
    rt.extensions.iter().any(|(ext, _)| {
        ext.attributes.iter().any(|a| {
            matches!(a.returned, Returned::Never | Returned::Request)
                || a.sub_attributes
                    .iter()
                    .any(|s| matches!(s.returned, Returned::Never | Returned::Request))
        })
    })
}

/// Removes `returned: never` attributes always, and `returned: request` ones when the client
/// did not name any attributes.
pub(super) fn strip_unreturnable(rt: &ResourceType, resource: &mut Map<String, Value>, no_attributes: bool) {
    let hidden = |r: Returned| r == Returned::Never || (no_attributes && r == Returned::Request);
    let strip = |container: &mut Map<String, Value>, schema: &Schema| {
        for attr in schema.attributes {
            let Some(key) = key_ci(container, attr.name) else {
                continue;
            };
            if hidden(attr.returned) {
                remove_key(container, &key);
                continue;
            }
            for sub in attr.sub_attributes.iter().filter(|s| hidden(s.returned)) {
                if let Some(v) = container.get_mut(&key) {
                    remove_sub(v, sub.name);
                }
            }
        }
    };
    strip(resource, rt.schema);
    for (ext, _) in rt.extensions {
        if let Some(key) = key_ci(resource, ext.id)
            && let Some(Value::Object(inner)) = resource.get_mut(&key)
        {
            strip(inner, ext);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::resource::test_support::*;

    fn rendered_user() -> Map<String, Value> {
        obj(json!({
            "schemas": [USER_URN, ENTERPRISE_USER_URN],
            "id": "u1",
            "externalId": "ext",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@x", "type": "work", "primary": true}, {"value": "h@x", "type": "home"}],
            "active": true,
            "groups": [{"value": "g1", "$ref": "https://h/Groups/g1", "display": "G", "type": "direct"}],
            ENTERPRISE_USER_URN: {"department": "Tour", "manager": {"value": "m1"}},
            "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z", "lastModified": "2024-01-02T00:00:00Z",
                     "location": "https://h/Users/u1", "version": "W/\"1\""}
        }))
    }

    fn projected(attrs: &[&str], excl: &[&str]) -> Value {
        let mut r = rendered_user();
        let a: Vec<AttrPath> = attrs.iter().map(|s| p(s)).collect();
        let e: Vec<AttrPath> = excl.iter().map(|s| p(s)).collect();
        project(&USER, &mut r, &a, &e);
        Value::Object(r)
    }

    #[test]
    fn project_attributes() {
        assert_eq!(
            projected(&["userName"], &[]),
            json!({"schemas": [USER_URN], "id": "u1", "userName": "bjensen"})
        );
        assert_eq!(
            projected(&["name.givenName", "EMAILS.value", "meta.lastModified"], &[]),
            json!({"schemas": [USER_URN], "id": "u1", "name": {"givenName": "Barbara"},
                   "emails": [{"value": "b@x"}, {"value": "h@x"}], "meta": {"lastModified": "2024-01-02T00:00:00Z"}})
        );
        assert_eq!(
            projected(
                &["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"],
                &[]
            ),
            json!({"schemas": [USER_URN, ENTERPRISE_USER_URN], "id": "u1", ENTERPRISE_USER_URN: {"department": "Tour"}})
        );
        assert_eq!(
            projected(
                &["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "id"],
                &[]
            ),
            json!({"schemas": [USER_URN, ENTERPRISE_USER_URN], "id": "u1",
                   ENTERPRISE_USER_URN: {"department": "Tour", "manager": {"value": "m1"}}})
        );
        // Entra's manager check: `attributes=id`.
        assert_eq!(
            projected(&["id"], &[]),
            json!({"schemas": [USER_URN], "id": "u1"})
        );
        // Unknown paths are ignored; sub-attribute selection that matches nothing drops the attr.
        assert_eq!(
            projected(&["fooBar", "name.middleName"], &[]),
            json!({"schemas": [USER_URN], "id": "u1"})
        );
        let all = projected(&["urn:ietf:params:scim:schemas:core:2.0:User"], &[]);
        assert_eq!(all["userName"], "bjensen");
        assert!(all.get(ENTERPRISE_USER_URN).is_none());
    }

    #[test]
    fn project_excluded() {
        let r = projected(&[], &["emails", "id", "schemas", "name.familyName", "meta"]);
        let m = r.as_object().unwrap();
        assert!(m.get("emails").is_none() && m.get("meta").is_none());
        assert_eq!(m["id"], "u1");
        assert_eq!(m["schemas"], json!([USER_URN, ENTERPRISE_USER_URN]));
        assert_eq!(m["name"], json!({"givenName": "Barbara"}));
        let r = projected(
            &[],
            &[
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                "emails.type",
            ],
        );
        assert_eq!(r[ENTERPRISE_USER_URN], json!({"manager": {"value": "m1"}}));
        assert_eq!(
            r["emails"],
            json!([{"value": "b@x", "primary": true}, {"value": "h@x"}])
        );
        // Removing the last extension attribute removes the object and its URN.
        let r = projected(
            &[],
            &[
                "department",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            ],
        );
        assert!(r.get(ENTERPRISE_USER_URN).is_none());
        assert_eq!(r["schemas"], json!([USER_URN]));
        let r = projected(
            &[],
            &["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        );
        assert!(r.get(ENTERPRISE_USER_URN).is_none());
        assert_eq!(r["schemas"], json!([USER_URN]));
        // Unknown paths and no parameters change nothing.
        assert_eq!(
            projected(&[], &["nope", "emails.nope"]),
            Value::Object(rendered_user())
        );
        assert_eq!(projected(&[], &[]), Value::Object(rendered_user()));
    }

    #[test]
    fn project_group_excluding_members() {
        let mut g = obj(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1", "displayName": "G",
                               "members": [{"value": "u1", "$ref": "https://h/Users/u1", "type": "User"}],
                               "meta": {"resourceType": "Group"}}),
        );
        project(&GROUP, &mut g, &[], &[p("members")]);
        assert_eq!(
            Value::Object(g),
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1", "displayName": "G", "meta": {"resourceType": "Group"}})
        );
    }
}
