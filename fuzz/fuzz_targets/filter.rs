//! The filter grammar: any input either parses or is refused with a SCIM error, never a panic;
//! what parses prints in a canonical form that parses back to the same AST; the in-memory
//! evaluator and the root-search specialisation take whatever the parser accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimd::scim::filter::{MAX_FILTER_LEN, matches, parse_filter};
use scimd::scim::schema::{GROUP, USER};
use scimd::scim::search::specialize_all;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let filter = match parse_filter(input) {
        Ok(f) => f,
        Err(e) => {
            assert_eq!(e.status, 400, "{e}");
            return;
        }
    };
    let printed = filter.to_string();
    // Quoting bare words can lengthen a filter past the limit; only then may it not re-parse.
    if printed.len() <= MAX_FILTER_LEN {
        let reparsed = parse_filter(&printed)
            .unwrap_or_else(|e| panic!("{input:?} prints as {printed:?}, which does not parse: {e}"));
        assert_eq!(reparsed, filter, "{input:?} prints as {printed:?}");
    }
    let doc = json!({
        "userName": "Jane", "active": true, "emails": [{"value": "j@x.com", "type": "work", "primary": true}],
        "name": {"givenName": "J"}, "meta": {"created": "2020-01-01T00:00:00Z"}, "x": 1.5,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "m"}}
    });
    let _ = matches(&filter, &doc, &|p| p.name.len() % 2 == 0);
    let _ = specialize_all(&filter, &[&USER, &GROUP]);
});
