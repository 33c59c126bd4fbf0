//! BulkRequest and SearchRequest messages: never a panic; a bulk plan runs every operation or
//! marks it cyclic, exactly once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimd::scim::bulk::{parse_bulk_request, plan, substitute};
use scimd::scim::search::parse_search_request;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let _ = parse_search_request(&body);
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
