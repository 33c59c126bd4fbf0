//! Resource documents: client JSON → canonical stored document, validation, and projection.
//!
//! The canonical document is the resource's SCIM JSON without `schemas`, `id`, `meta` and the
//! derived `groups`: attribute names in canonical spelling, values coerced to their schema
//! type, multi-valued attributes always arrays, extension attributes nested under their
//! schema URN (`{"urn:…:enterprise:2.0:User": {"employeeNumber": "1"}}`), no nulls.
//!
//! Input is read leniently because real IdPs break the RFC in predictable ways (see
//! docs/idp-notes.md §5): readOnly and unknown keys are dropped rather than refused, names match
//! case-insensitively, one object is accepted where an array is expected, and string booleans
//! are read as booleans. What cannot be given a clear meaning (an object for a string, `"yes"`
//! for a boolean) is refused with 400 `invalidValue` naming the attribute.
//!
//! Parts: `coerce` (one value to its type), `normalize` (a whole body), `validate` (a whole
//! document), `project` (`attributes` / `excludedAttributes` on output) and `json` (shared
//! helpers).

mod coerce;
mod json;
mod normalize;
mod project;
#[cfg(test)]
mod test_support;
pub mod undeclared;
mod validate;

pub use coerce::{MAX_STRING_BYTES, MAX_VALUES, check_value_count, coerce_single, coerce_value};
pub use normalize::normalize;
pub use project::{excluded_keys, hides_attributes, leaves_whole, project};
pub use validate::{primary_email, validate};
