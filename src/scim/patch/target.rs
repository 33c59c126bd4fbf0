//! Where one operation writes: the resolved attribute, its sub-attribute and the object that
//! holds it (core or an extension), with reading and storing through that path. Shared by the
//! plain and the value-filtered writers.

use crate::scim::error::ScimError;
use crate::scim::resource;
use crate::scim::schema::{AttrDef, Resolved};
use serde_json::{Map, Value};

use super::op::OpKind;
use super::values::{key_ci, remove_ci, remove_variants};

pub(super) fn missing_value(kind: OpKind) -> ScimError {
    ScimError::invalid_value(format!("{} needs a \"value\"", kind.as_str()))
}

/// Where an operation writes: attribute `attr` (optionally its sub-attribute `sub`) inside the
/// object found by following `parent` (empty for core attributes, `[urn]` for an extension).
pub(super) struct Target {
    pub(super) attr: &'static AttrDef,
    pub(super) sub: Option<&'static AttrDef>,
    pub(super) parent: Vec<&'static str>,
}

impl Target {
    pub(super) fn new(resolved: &Resolved, attr: &'static AttrDef) -> Self {
        let depth = 1 + usize::from(resolved.sub.is_some());
        let parent = resolved
            .doc_path
            .len()
            .checked_sub(depth)
            .and_then(|n| resolved.doc_path.get(..n))
            .map(<[_]>::to_vec)
            .unwrap_or_default();
        Target {
            attr,
            sub: resolved.sub,
            parent,
        }
    }

    /// The attribute as a client would write its path, for error details.
    pub(super) fn label(&self) -> String {
        let mut s = String::new();
        for p in &self.parent {
            s.push_str(p);
            s.push(':');
        }
        s.push_str(self.attr.name);
        if let Some(sub) = self.sub {
            s.push('.');
            s.push_str(sub.name);
        }
        s
    }

    pub(super) fn attr_label(&self) -> String {
        Target {
            attr: self.attr,
            sub: None,
            parent: self.parent.clone(),
        }
        .label()
    }

    /// Moves the current value out of `doc` (which is a scratch copy: see `apply`), so an
    /// operation never copies a large attribute; `store` puts the new value back.
    pub(super) fn take(&self, doc: &mut Map<String, Value>) -> Option<Value> {
        let mut map = doc;
        for key in &self.parent {
            let found = key_ci(map, key)?;
            map = map.get_mut(&found)?.as_object_mut()?;
        }
        let found = key_ci(map, self.attr.name)?;
        map.shift_remove(&found).filter(|v| !v.is_null())
    }

    /// `store`, refusing a multi-valued attribute grown past `resource::MAX_VALUES`, checked
    /// after every operation so a PatchOp cannot grow one without bound on its way.
    pub(super) fn store_checked(
        &self,
        doc: &mut Map<String, Value>,
        new: Option<Value>,
    ) -> Result<(), ScimError> {
        if let Some(Value::Array(items)) = &new {
            resource::check_value_count(self.attr, items.len(), &self.attr_label())?;
        }
        self.store(doc, new);
        Ok(())
    }

    pub(super) fn store(&self, doc: &mut Map<String, Value>, new: Option<Value>) {
        let mut map = doc;
        for key in &self.parent {
            remove_variants(map, key);
            let slot = map
                .entry(key.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            let Value::Object(inner) = slot else { return };
            map = inner;
        }
        remove_ci(map, self.attr.name);
        if let Some(v) = new {
            map.insert(self.attr.name.to_string(), v);
        }
    }
}
