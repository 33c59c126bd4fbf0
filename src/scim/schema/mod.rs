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
//!
//! Parts: `types` (the descriptions), `catalogue` (the data) and `resolve` (paths against a
//! resource type).

mod catalogue;
pub mod declare;
mod resolve;
mod types;

pub use catalogue::{
    COMMON_ATTRIBUTES, ENTERPRISE_USER_SCHEMA, GROUP, GROUP_SCHEMA, USER, USER_SCHEMA, all_schemas,
    resource_types,
};
pub use types::{
    AttrDef, AttrType, ENTERPRISE_USER_URN, GROUP_URN, Mutability, Resolved, ResourceType, Returned, Schema,
    USER_URN, Undeclared, Uniqueness, find_attr,
};
