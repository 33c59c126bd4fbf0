//! The cost of one PATCH body in the engine alone (no HTTP, no database): the largest
//! documents and operation counts the bounds allow (`MAX_PATCH_OPERATIONS`, `MAX_VALUES`).
//! `cargo bench --bench patch_bounds`. Exits non-zero if the worst case takes a second or more.
//! See docs/benchmarks.md.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use scimd::scim::patch::{MAX_PATCH_OPERATIONS, apply, parse_patch, split_group_ops};
use scimd::scim::resource::MAX_VALUES;
use scimd::scim::schema::USER;

/// Parses and applies `ops` to a copy of `doc`; returns the time and whether it was accepted.
fn run(label: &str, ops: Vec<Value>, doc: &Map<String, Value>) -> Duration {
    let body = json!({"Operations": ops});
    let bytes = body.to_string().len();
    let start = Instant::now();
    let outcome = parse_patch(&body).and_then(|ops| apply(&USER, &mut doc.clone(), &ops));
    let took = start.elapsed();
    let outcome = match outcome {
        Ok(_) => "applied".to_string(),
        Err(e) => format!("refused ({})", e.scim_type.map(|t| t.as_str()).unwrap_or("-")),
    };
    println!("{label:<55} {bytes:>8} bytes {took:>12.2?}  {outcome}");
    took
}

fn emails(from: usize, n: usize) -> Vec<Value> {
    (from..from + n)
        .map(|i| json!({"value": format!("user{i}@example.com"), "type": "work"}))
        .collect()
}

fn main() {
    let mut base = Map::new();
    base.insert("userName".into(), json!("bench@example.com"));
    let mut full = base.clone();
    full.insert("emails".into(), Value::Array(emails(0, MAX_VALUES - 1)));

    run(
        "one op adding 1000 emails",
        vec![json!({"op": "add", "path": "emails", "value": emails(0, 1000)})],
        &base,
    );
    run(
        "one op adding 20000 emails (past MAX_VALUES)",
        vec![json!({"op": "add", "path": "emails", "value": emails(0, 20_000)})],
        &base,
    );
    run(
        "1000 ops adding one email each",
        (0..MAX_PATCH_OPERATIONS)
            .map(|i| json!({"op": "add", "path": "emails", "value": [{"value": format!("u{i}@x.com")}]}))
            .collect(),
        &base,
    );
    run(
        "1001 ops (past MAX_PATCH_OPERATIONS)",
        vec![json!({"op": "replace", "path": "title", "value": "t"}); MAX_PATCH_OPERATIONS + 1],
        &base,
    );
    let worst = run(
        "1000 filtered replaces on a 999-value attribute",
        (0..MAX_PATCH_OPERATIONS)
            .map(|i| json!({"op": "replace", "path": "emails[value eq \"user5@example.com\"].type", "value": format!("t{i}")}))
            .collect(),
        &full,
    );
    run(
        "1000 re-adds on a 999-value attribute",
        (0..MAX_PATCH_OPERATIONS)
            .map(|i| json!({"op": "add", "path": "emails", "value": [{"value": format!("user{}@example.com", i % 999)}]}))
            .collect(),
        &full,
    );

    let members: Vec<Value> = (0..100_000)
        .map(|i| json!({"value": format!("00000000-0000-7000-8000-{i:012}")}))
        .collect();
    let body = json!({"Operations": [{"op": "add", "path": "members", "value": members}]});
    let start = Instant::now();
    let split = parse_patch(&body).and_then(split_group_ops);
    println!(
        "{:<55} {:>8} bytes {:>12.2?}  {}",
        "group: one op adding 100000 member ids",
        body.to_string().len(),
        start.elapsed(),
        if split.is_ok() { "split" } else { "refused" }
    );

    if worst >= Duration::from_secs(1) {
        eprintln!("the worst case within the bounds took {worst:?}; expected well under a second");
        std::process::exit(1);
    }
}
