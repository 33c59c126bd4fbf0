//! What a page of 100 resources costs scimd itself once the database has answered: each stored
//! document parsed and the ListResponse written by `scim::render::list_body` (which projects a
//! resource only where the projection removes something from it) — the CPU that dominates `GET /Users?count=100` and `GET /Groups`
//! in `benches/load.sh`'s profiles, measured here without HTTP, a database or the machine's
//! other load. `cargo bench --bench render`; prints the median and the fastest of 300 pages.
//! See docs/benchmarks.md.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use serde_json::json;
use uuid::Uuid;

use scimd::scim::attr_path::AttrPath;
use scimd::scim::render::{self, Derived, PageAt, Reference, Representation};
use scimd::scim::schema::{GROUP, ResourceType, USER};

const BASE: &str = "http://127.0.0.1:8080/scim/account/00000000-0000-0000-0000-000000000001";
const PAGE: usize = 100;
const ROUNDS: usize = 300;

/// The page's documents as the store keeps them (JSON text), with each one's id and derived
/// references (a user's groups).
struct Stored {
    id: Uuid,
    doc: String,
    refs: Vec<(Uuid, String)>,
}

fn users() -> Vec<Stored> {
    (0..PAGE as u128)
        .map(|i| Stored {
            id: Uuid::from_u128(0x5f0c6a5e_1b2c_4d3e_8f40_000000000000 + i),
            // What benches/load.sh provisions, plus what Okta and Entra send with a user.
            doc: json!({
                "userName": format!("u{i}@example.com"),
                "name": {"givenName": "Given", "familyName": format!("Family{i}")},
                "displayName": format!("Given Family{i}"),
                "active": true,
                "emails": [{"value": format!("u{i}@example.com"), "type": "work", "primary": true}],
                "externalId": format!("00u{i:017}"),
            })
            .to_string(),
            refs: vec![
                (
                    Uuid::from_u128(0x7a1d2c3b_0000_4000_8000_000000000000 + i),
                    "small".to_string(),
                ),
                (
                    Uuid::from_u128(0x7a1d2c3b_0000_4000_8000_000000000001 + i),
                    "big".to_string(),
                ),
            ],
        })
        .collect()
}

fn groups() -> Vec<Stored> {
    (0..PAGE as u128)
        .map(|i| Stored {
            id: Uuid::from_u128(0x7a1d2c3b_0000_4000_8000_000000000000 + i),
            doc: json!({"displayName": format!("g{i}")}).to_string(),
            refs: Vec::new(),
        })
        .collect()
}

/// One page, as `http::resources::list_response` writes it; its size in bytes.
fn page(rt: &ResourceType, stored: &[Stored], excluded: &[AttrPath]) -> usize {
    let at = Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
    let items = stored.iter().map(|s| Representation {
        rt,
        base: BASE,
        id: s.id,
        doc: serde_json::from_str(&s.doc).unwrap(),
        derived: (!s.refs.is_empty()).then(|| Derived {
            name: "groups",
            endpoint: "/Groups",
            refs: s
                .refs
                .iter()
                .map(|(id, name)| Reference {
                    id: *id,
                    display: Some(name.clone()),
                    ty: Cow::Borrowed("direct"),
                })
                .collect(),
        }),
        created: at,
        last_modified: at,
        version: 1,
    });
    render::list_body(5100, PageAt::Index(1), items, &[], excluded).len()
}

fn measure(label: &str, rt: &ResourceType, stored: &[Stored], excluded: &[AttrPath]) {
    let bytes = page(rt, stored, excluded);
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(page(rt, stored, excluded));
            start.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "{label:<48} {bytes:>7} bytes  median {:>6} µs  fastest {:>6} µs",
        times[ROUNDS / 2].as_micros(),
        times[0].as_micros()
    );
}

fn main() {
    let members = AttrPath {
        urn: None,
        name: "members".to_string(),
        sub: None,
    };
    measure("page of 100 users (each in 2 groups)", &USER, &users(), &[]);
    measure(
        "page of 100 groups, excludedAttributes=members",
        &GROUP,
        &groups(),
        &[members],
    );
}
