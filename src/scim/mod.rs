//! The SCIM protocol, pure and I/O-free: errors, attribute paths, the filter grammar, the
//! schema catalogue, resource normalisation, the PATCH engine and discovery documents.
//! Nothing here knows about HTTP or SQL, so all of it is unit-tested and fuzzed on its own.

pub mod attr_path;
pub mod bulk;
pub mod compare;
pub mod cursor;
pub mod discovery;
pub mod error;
pub mod filter;
pub mod list;
pub mod lookalike;
pub mod patch;
pub mod path;
pub mod render;
pub mod resource;
pub mod schema;
pub mod search;

pub use error::{ScimError, ScimType};

/// Schema URNs of the protocol messages (RFC 7644 §3).
pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SEARCH_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const BULK_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
