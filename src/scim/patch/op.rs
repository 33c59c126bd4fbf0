//! The PATCH engine's vocabulary: parsed operations and the group-membership operations split
//! off for the store. Every other part speaks in these types, so they sit at the bottom.

use crate::scim::path::PatchPath;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

impl OpKind {
    /// The RFC 7644 spelling (`"add"`, `"remove"`, `"replace"`), for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Remove => "remove",
            OpKind::Replace => "replace",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: OpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// A change to a group's member set, by member id (the `value` of a member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberOp {
    Add(Vec<String>),
    Remove(Vec<String>),
    RemoveAll,
    Replace(Vec<String>),
}

/// A group PATCH split into what touches the document and what touches the member set.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPatch {
    pub doc_ops: Vec<PatchOperation>,
    pub member_ops: Vec<MemberOp>,
}
