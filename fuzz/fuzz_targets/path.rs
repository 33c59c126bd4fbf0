//! Attribute paths, PATCH paths and `attributes` lists: never a panic; what parses prints back
//! to itself; the schema catalogue resolves or refuses every parsed path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimd::scim::path::{parse_attr_list, parse_attr_path, parse_patch_path};
use scimd::scim::schema::{GROUP, USER};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = parse_attr_path(input) {
        let printed = p.to_string();
        let again = parse_attr_path(&printed)
            .unwrap_or_else(|e| panic!("{input:?} prints as {printed:?}, which does not parse: {e}"));
        assert_eq!(again, p, "{input:?}");
        let _ = USER.resolve(&p);
        let _ = GROUP.resolve(&p);
    }
    if let Ok(p) = parse_patch_path(input) {
        let printed = p.to_string();
        if printed.len() <= scimd::scim::filter::MAX_FILTER_LEN {
            let again = parse_patch_path(&printed)
                .unwrap_or_else(|e| panic!("{input:?} prints as {printed:?}, which does not parse: {e}"));
            assert_eq!(again, p, "{input:?}");
        }
        let _ = USER.resolve(&p.attr);
    }
    if let Ok(list) = parse_attr_list(input) {
        for p in &list {
            let _ = USER.resolve(p);
        }
    }
});
