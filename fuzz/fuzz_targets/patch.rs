//! The PATCH engine: any JSON body is parsed and applied to a user and to a group without a
//! panic; a successful PATCH leaves a document that is valid and that a PUT would accept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimd::scim::patch::{apply, parse_patch, split_group_ops};
use scimd::scim::resource::{normalize, validate};
use scimd::scim::schema::{GROUP, USER};
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(ops) = parse_patch(&body) else {
        return;
    };
    let mut user = normalize(
        &USER,
        &json!({
            "userName": "jane@example.com", "displayName": "Jane", "active": true, "title": "T",
            "name": {"givenName": "Jane", "familyName": "Doe"},
            "emails": [{"value": "jane@example.com", "type": "work", "primary": true},
                       {"value": "j@home.example", "type": "home"}],
            "phoneNumbers": [{"value": "+1 555", "type": "mobile"}],
            "roles": [{"value": "admin", "primary": "True"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "7", "manager": {"value": "m-1", "displayName": "Boss"}}
        }),
    )
    .expect("the sample user is valid");
    if apply(&USER, &mut user, &ops).is_ok() {
        validate(&USER, &user).expect("a patched user is valid");
        normalize(&USER, &Value::Object(user.clone())).expect("a patched user can be PUT back");
    }
    if let Ok(split) = split_group_ops(ops) {
        let mut group = normalize(&GROUP, &json!({"displayName": "Team", "externalId": "e"}))
            .expect("the sample group is valid");
        if apply(&GROUP, &mut group, &split.doc_ops).is_ok() {
            normalize(&GROUP, &Value::Object(group)).expect("a patched group can be PUT back");
        }
    }
});
