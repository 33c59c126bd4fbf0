//! What a page of 100 resources costs scimd itself once the database has answered: each stored
//! document parsed, rendered (`scim::render`), projected (`scim::resource::project`) and the
//! ListResponse written out — the CPU that dominates `GET /Users?count=100` and `GET /Groups`
//! in `benches/load.sh`'s profiles, measured here without HTTP, a database or the machine's
//! other load. `cargo bench --bench render`; prints the median and the fastest of 300 pages.
//! See docs/benchmarks.md.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use serde_json::{Map, Value, json};

use scimd::scim::attr_path::AttrPath;
use scimd::scim::render::{self, Meta};
use scimd::scim::resource::{hides_attributes, project};
use scimd::scim::schema::{GROUP, ResourceType, USER};

const BASE: &str = "http://127.0.0.1:8080/scim/account/00000000-0000-0000-0000-000000000001";
const PAGE: usize = 100;
const ROUNDS: usize = 300;

/// The page's documents as the store keeps them (JSON text), with each one's id and derived
/// references (a user's groups).
struct Stored {
    id: String,
    doc: String,
    refs: Vec<(String, String)>,
}

fn users() -> Vec<Stored> {
    (0..PAGE)
        .map(|i| Stored {
            id: format!("5f0c6a5e-1b2c-4d3e-8f40-{i:012}"),
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
                (format!("7a1d2c3b-0000-4000-8000-{i:012}"), "small".to_string()),
                (
                    format!("7a1d2c3b-0000-4000-8000-{:012}", i + 1),
                    "big".to_string(),
                ),
            ],
        })
        .collect()
}

fn groups() -> Vec<Stored> {
    (0..PAGE)
        .map(|i| Stored {
            id: format!("7a1d2c3b-0000-4000-8000-{i:012}"),
            doc: json!({"displayName": format!("g{i}")}).to_string(),
            refs: Vec::new(),
        })
        .collect()
}

/// One page, as `http::resources::list_response` builds it; its size in bytes.
fn page(rt: &ResourceType, stored: &[Stored], excluded: &[AttrPath]) -> usize {
    let at = Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
    let path = if std::ptr::eq(rt, &USER) {
        "Users"
    } else {
        "Groups"
    };
    let resources: Vec<Value> = stored
        .iter()
        .map(|s| {
            let doc: Map<String, Value> = serde_json::from_str(&s.doc).unwrap();
            let mut derived = Vec::new();
            if !s.refs.is_empty() {
                let refs = s
                    .refs
                    .iter()
                    .map(|(id, name)| {
                        render::reference(id, &format!("{BASE}/Groups/{id}"), Some(name), "direct")
                    })
                    .collect();
                derived.push(("groups", Value::Array(refs)));
            }
            let meta = Meta {
                created: at,
                last_modified: at,
                version: 1,
                location: format!("{BASE}/{path}/{}", s.id),
            };
            let mut body = render::render(rt, &s.id, doc, derived, &meta);
            if !excluded.is_empty() || hides_attributes(rt) {
                project(rt, &mut body, &[], excluded);
            }
            Value::Object(body)
        })
        .collect();
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 5100,
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "Resources": resources,
    });
    serde_json::to_vec(&body).unwrap().len()
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
