//! `/Bulk` (RFC 7644 §3.7): runs each operation of a BulkRequest through the very service
//! function its single-resource endpoint calls (`create_user`, `patch_group`, …), so every
//! rule that holds for `POST /Users` holds for a POST in a bulk request. This module only
//! orders the operations, resolves `bulkId:` references and counts failures.
//!
//! Bulk is not atomic (RFC 7644 §3.7 does not ask it to be): each operation is its own
//! transaction, exactly as if it had been sent alone, and one operation's failure leaves the
//! others' effects in place.

use std::collections::HashMap;

use serde_json::Value;

use super::{Caller, Error, Precondition, Result, Service};
use crate::scim::ScimError;
use crate::scim::bulk::{BulkRequest, Endpoint, Method, ParsedOperation, PathId, plan, substitute};

/// What happened to one operation, for the BulkResponse.
#[derive(Debug)]
pub struct BulkResult {
    /// Position in the request (0-based).
    pub index: usize,
    /// The method as sent (upper-cased), when readable.
    pub method: Option<String>,
    pub bulk_id: Option<String>,
    /// The resource acted on, when known: its endpoint and id (for `location`).
    pub resource: Option<(Endpoint, String)>,
    /// The resource's version after the operation.
    pub version: Option<i64>,
    /// The HTTP status the operation would have had on its own, or its error.
    pub outcome: Result<u16>,
}

/// The resource a POST created, or the index of the operation that failed to create it.
type Created = std::result::Result<(Endpoint, String), usize>;

impl Service {
    /// Runs a bulk request. Results come back in request order; operations not run because
    /// `failOnErrors` was reached are left out (RFC 7644 §3.7.3).
    pub async fn bulk(&self, caller: &Caller, request: &BulkRequest) -> Vec<BulkResult> {
        let ops = &request.operations;
        let plan = plan(ops);
        let cyclic_ids: Vec<&str> = plan.cyclic.iter().filter_map(|&i| ops[i].defines()).collect();
        let mut results: Vec<Option<BulkResult>> = ops.iter().map(|_| None).collect();
        let mut created: HashMap<String, Created> = HashMap::new();
        let mut failures = 0;
        let fail_on_errors = request.fail_on_errors.unwrap_or(usize::MAX);
        let sequence = plan
            .order
            .iter()
            .map(|&i| (i, false))
            .chain(plan.cyclic.iter().map(|&i| (i, true)));
        for (i, in_cycle) in sequence {
            if failures >= fail_on_errors {
                break;
            }
            let op = &ops[i];
            let mut result = BulkResult {
                index: i,
                method: op.method.clone(),
                bulk_id: op.bulk_id.clone(),
                resource: None,
                version: None,
                outcome: Ok(0),
            };
            result.outcome = if in_cycle {
                Err(cycle_error(&cyclic_ids))
            } else {
                self.run_operation(caller, op, &created, &mut result).await
            };
            if let Some(bulk_id) = op.defines() {
                let made = match (&result.outcome, &result.resource) {
                    (Ok(_), Some(resource)) => Ok(resource.clone()),
                    _ => Err(i),
                };
                created.insert(bulk_id.to_string(), made);
            }
            if result.outcome.is_err() {
                failures += 1;
            }
            results[i] = Some(result);
        }
        results.into_iter().flatten().collect()
    }

    async fn run_operation(
        &self,
        caller: &Caller,
        op: &ParsedOperation,
        created: &HashMap<String, Created>,
        result: &mut BulkResult,
    ) -> Result<u16> {
        let parsed = op.operation.as_ref().map_err(|e| Error::Scim(e.clone()))?;
        let endpoint = parsed.endpoint;
        for bulk_id in &parsed.references {
            match created.get(bulk_id) {
                Some(Ok(_)) => {}
                Some(Err(failed)) => {
                    return Err(Error::Conflict(format!(
                        "bulkId \"{bulk_id}\" was not created: operation {} failed, and this \
                         operation depends on it",
                        failed + 1
                    )));
                }
                None => {
                    return Err(ScimError::invalid_value(format!(
                        "bulkId \"{bulk_id}\" is not the bulkId of any POST in this request"
                    ))
                    .into());
                }
            }
        }
        let created_id = |bulk_id: &str| {
            created
                .get(bulk_id)
                .and_then(|c| c.as_ref().ok())
                .map(|(_, id)| id.clone())
        };
        let id = match &parsed.id {
            None => None,
            Some(PathId::Id(id)) => Some(id.clone()),
            Some(PathId::BulkId(bulk_id)) => match created.get(bulk_id) {
                Some(Ok((made, id))) if *made == endpoint => Some(id.clone()),
                Some(Ok((made, _))) => {
                    return Err(ScimError::invalid_value(format!(
                        "bulkId \"{bulk_id}\" names a {}, but the path is {}/…",
                        made.resource_type(),
                        endpoint.path()
                    ))
                    .into());
                }
                _ => None,
            },
        };
        if let Some(id) = &id {
            result.resource = Some((endpoint, id.clone()));
        }
        let mut data = parsed.data.clone().unwrap_or(Value::Null);
        substitute(&mut data, &created_id);
        let pre = Precondition {
            if_match: parsed.version.clone(),
        };
        let id = id.as_deref().unwrap_or_default();
        let (row, status) = match (parsed.method, endpoint) {
            (Method::Post, Endpoint::Users) => (Some(self.create_user(caller, &data).await?.row), 201),
            (Method::Post, Endpoint::Groups) => (Some(self.create_group(caller, &data).await?.row), 201),
            (Method::Put, Endpoint::Users) => {
                (Some(self.replace_user(caller, id, &data, &pre).await?.row), 200)
            }
            (Method::Put, Endpoint::Groups) => {
                (Some(self.replace_group(caller, id, &data, &pre).await?.row), 200)
            }
            (Method::Patch, Endpoint::Users) => {
                (Some(self.patch_user(caller, id, &data, &pre).await?.row), 200)
            }
            // As on PATCH /Groups/{id}: 204, and the member list is never read back.
            (Method::Patch, Endpoint::Groups) => (
                Some(self.patch_group(caller, id, &data, &pre, false).await?.row),
                204,
            ),
            (Method::Delete, Endpoint::Users) => {
                self.delete_user(caller, id, &pre).await?;
                (None, 204)
            }
            (Method::Delete, Endpoint::Groups) => {
                self.delete_group(caller, id, &pre).await?;
                (None, 204)
            }
        };
        if let Some(row) = row {
            result.resource = Some((endpoint, row.id.to_string()));
            result.version = Some(row.version);
        }
        Ok(status)
    }
}

fn cycle_error(cyclic_ids: &[&str]) -> Error {
    Error::Conflict(format!(
        "this operation is in, or depends on, a cycle of bulkId references (among bulkIds {}); \
             create the resources without the circular references, then link them with a PATCH in \
             another operation",
        cyclic_ids
            .iter()
            .map(|b| format!("\"{b}\""))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}
