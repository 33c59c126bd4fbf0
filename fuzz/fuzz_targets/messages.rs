//! BulkRequest and SearchRequest (as a list request) messages: never a panic; a bulk plan
//! runs every operation or marks it cyclic, exactly once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimd::scim::bulk::{parse_bulk_request, plan, substitute};
use scimd::scim::list::ListRequest;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // The SearchRequest parser, then the list request's own checks (filter, sort, paging).
    let _ = ListRequest::from_search_body(&body, 1000);
    let Ok(request) = parse_bulk_request(&body, 1000) else {
        return;
    };
    let plan = plan(&request.operations);
    let mut all: Vec<usize> = plan.order.iter().chain(&plan.cyclic).copied().collect();
    all.sort_unstable();
    assert!(all.iter().copied().eq(0..request.operations.len()));
    for op in &request.operations {
        if let Ok(op) = &op.operation
            && let Some(mut data) = op.data.clone()
        {
            substitute(&mut data, &|b| Some(format!("id-{b}")));
        }
    }
});
