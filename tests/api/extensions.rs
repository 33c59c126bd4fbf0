//! Extension schemas per account (docs/extensions.md): declared through the admin API and the
//! CLI, advertised in /Schemas and /ResourceTypes, validated, stored, filtered through an
//! index, patched by URN path and by URN keys — and undeclared extension data kept or refused
//! as the account chose, never dropped.

use serde_json::{Value, json};

use crate::adminkit::Admin;
use crate::harness::{TestApp, Wire};
use scimd::service::Idp;

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
const GROUP_EXT: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:Group";

fn ops(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

fn custom_schema() -> Value {
    json!({
        "id": CUSTOM,
        "name": "CustomExtension",
        "description": "What the IdP's custom attribute mappings send",
        "attributes": [
            {"name": "costCenter", "type": "string", "uniqueness": "server"},
            {"name": "level", "type": "integer"},
            {"name": "badges", "type": "string", "multiValued": true, "canonicalValues": ["gold", "silver"]},
            {"name": "office", "type": "complex", "subAttributes": [
                {"name": "building", "type": "string"}, {"name": "floor", "type": "integer"}
            ]},
            {"name": "secret", "type": "string", "returned": "never"},
            {"name": "hired", "type": "dateTime"}
        ]
    })
}

async fn declare(admin: &Admin<'_>, resource_type: &str, schema: Value) {
    let res = admin
        .post("/schemas", json!({"resource_type": resource_type, "schema": schema}))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
}

fn okta_wire() -> Wire {
    Wire {
        headers: vec![("Accept", "application/scim+json"), ("User-Agent", "Okta SCIM Client 1.0.0")],
        body_type: Some("application/scim+json; charset=utf-8"),
        bodiless_type: Some("application/scim+json; charset=utf-8"),
    }
}

fn entra_wire() -> Wire {
    Wire {
        headers: vec![],
        body_type: Some("application/scim+json; charset=utf-8"),
        bodiless_type: None,
    }
}

fn ids(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_okta_custom_attribute_round_trips_once_declared() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    declare(&admin, "User", custom_schema()).await;
    let okta = app.idp(Idp::Okta, okta_wire()).await;

    // Okta's profile-editor attributes arrive under the extension's URN.
    let res = okta
        .post(
            "/Users",
            &json!({
                "schemas": [USER, CUSTOM],
                "userName": "cc@example.com",
                "name": {"givenName": "Cost", "familyName": "Center"},
                "emails": [{"value": "cc@example.com", "primary": true, "type": "work"}],
                "active": true,
                CUSTOM: {"costCenter": "CC-42", "level": "3", "badges": ["Gold"],
                         "office": {"building": "B1", "floor": 2}, "secret": "s",
                         "hired": "2024-01-31T12:00:00+01:00"}
            }),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let id = res.body["id"].as_str().unwrap().to_string();
    assert_eq!(res.body["schemas"], json!([USER, CUSTOM]));
    let ext = &res.body[CUSTOM];
    assert_eq!(ext["costCenter"], "CC-42");
    assert_eq!(ext["level"], 3, "coerced to the declared integer: {}", res.text);
    assert_eq!(ext["badges"], json!(["Gold"]));
    assert_eq!(ext["office"], json!({"building": "B1", "floor": 2}));
    assert!(ext.get("secret").is_none(), "returned: never: {}", res.text);

    // GET, a filter on the declared attribute, and the projections.
    let got = okta.get(&format!("/Users/{id}")).await;
    assert_eq!(got.body[CUSTOM]["costCenter"], "CC-42");
    let found = okta
        .get(&format!("/Users?filter={CUSTOM}:costCenter%20eq%20%22cc-42%22"))
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(ids(&found.body), vec![id.clone()]);
    // Without its URN a name is looked up in the core schema, then the extensions in order
    // (the enterprise extension has a costCenter of its own, so `badges` here).
    let found = okta
        .get(&format!("/Users?filter=badges%20eq%20%22gold%22%20and%20{CUSTOM}:office.building%20eq%20%22B1%22%20and%20{CUSTOM}:costCenter%20sw%20%22cc%22"))
        .await;
    assert_eq!(ids(&found.body), vec![id.clone()], "{}", found.text);
    let picked = okta
        .get(&format!("/Users/{id}?attributes={CUSTOM}:costCenter"))
        .await;
    assert_eq!(picked.body[CUSTOM], json!({"costCenter": "CC-42"}), "{}", picked.text);
    let without = okta.get(&format!("/Users/{id}?excludedAttributes={CUSTOM}")).await;
    assert!(without.body.get(CUSTOM).is_none());
    assert_eq!(without.body["schemas"], json!([USER]));

    // A search at the service root takes the account's extension attributes too.
    let res = app
        .post(
            "/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                   "filter": format!("{CUSTOM}:costCenter eq \"CC-42\"")}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(ids(&res.body), vec![id.clone()]);

    // Numbers compare as numbers (an integer filter is a range of the same index).
    for (filter, expected) in [("gt%202", 1), ("gt%203", 0), ("ge%203", 1), ("lt%2010", 1), ("eq%203", 1), ("eq%20%223%22", 1)] {
        let res = okta.get(&format!("/Users?filter={CUSTOM}:level%20{filter}")).await;
        assert_eq!(res.body["totalResults"], expected, "level {filter}: {}", res.text);
    }
    let res = okta.get(&format!("/Users?filter={CUSTOM}:level%20sw%20%223%22")).await;
    res.assert_error(400, Some("invalidFilter"));
    // Date-times compare as instants, whatever offset they were written with.
    for (filter, expected) in [
        ("eq%20%222024-01-31T11:00:00Z%22", 1),
        ("gt%20%222024-01-31T10:59:59.5Z%22", 1),
        ("lt%20%222024-01-31T12:30:00%2B01:00%22", 1),
        ("gt%20%222024-01-31T11:00:00.001Z%22", 0),
    ] {
        let res = okta.get(&format!("/Users?filter={CUSTOM}:hired%20{filter}")).await;
        assert_eq!(res.body["totalResults"], expected, "hired {filter}: {}", res.text);
    }

    // Okta's PUT replaces the whole user: a new value, the old one no longer found.
    let mut put = got.body.clone();
    put[CUSTOM]["costCenter"] = json!("CC-43");
    let res = okta.put(&format!("/Users/{id}"), &put).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body[CUSTOM]["costCenter"], "CC-43");
    assert_ne!(res.body["meta"]["version"], got.body["meta"]["version"]);
    let old = okta
        .get(&format!("/Users?filter={CUSTOM}:costCenter%20eq%20%22CC-42%22"))
        .await;
    assert_eq!(old.body["totalResults"], 0);

    // The export and the audit log carry it.
    let export = admin.get("/export").await;
    assert!(export.text.contains("CC-43"), "{}", export.text);
    let audit = admin.get("/audit").await;
    assert!(audit.text.contains("CC-42") && audit.text.contains("CC-43"));
}

#[tokio::test]
async fn an_entra_custom_extension_is_written_by_urn_path_and_urn_keys() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    declare(&admin, "User", custom_schema()).await;
    let entra = app.idp(Idp::Entra, entra_wire()).await;
    let res = entra
        .post(
            "/Users",
            &json!({
                "schemas": [USER, CUSTOM],
                "externalId": "e1",
                "userName": "entra@example.com",
                "active": true,
                "emails": [{"primary": true, "type": "work", "value": "entra@example.com"}],
                CUSTOM: {"costCenter": "E-1"}
            }),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let url = format!("/Users/{}", res.body["id"].as_str().unwrap());

    // The default dialect: one attribute per operation, by full URN path.
    let res = entra
        .patch(
            &url,
            &ops(json!([
                {"op": "Replace", "path": format!("{CUSTOM}:costCenter"), "value": "E-2"},
                {"op": "Add", "path": format!("{CUSTOM}:office.building"), "value": "North"}
            ])),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body[CUSTOM]["costCenter"], "E-2");
    assert_eq!(res.body[CUSTOM]["office"]["building"], "North");

    // aadOptscim062020: a no-path replace whose keys are URN-qualified attributes.
    let res = entra
        .patch(
            &url,
            &ops(json!([{"op": "replace", "value": {
                format!("{CUSTOM}:costCenter"): "E-3",
                format!("{CUSTOM}:level"): 7,
                "displayName": "Entra User"
            }}])),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body[CUSTOM]["costCenter"], "E-3");
    assert_eq!(res.body[CUSTOM]["level"], 7);
    assert_eq!(res.body["displayName"], "Entra User");

    let found = entra
        .get(&format!("/Users?filter={CUSTOM}:costCenter+eq+%22E-3%22"))
        .await;
    assert_eq!(found.body["totalResults"], 1, "{}", found.text);

    // Removal by path.
    let res = entra
        .patch(&url, &ops(json!([{"op": "Remove", "path": format!("{CUSTOM}:costCenter")}])))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert!(res.body[CUSTOM].get("costCenter").is_none(), "{}", res.text);
    let found = entra
        .get(&format!("/Users?filter={CUSTOM}:costCenter+pr"))
        .await;
    assert_eq!(found.body["totalResults"], 0, "{}", found.text);
}

#[tokio::test]
async fn discovery_lists_the_account_s_extensions_and_no_other_account_s() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    declare(&admin, "User", custom_schema()).await;
    let group_schema = json!({"id": GROUP_EXT, "name": "AcmeGroup",
                              "attributes": [{"name": "costCode", "type": "string", "uniqueness": "server"},
                                             {"name": "tags", "type": "string", "multiValued": true}]});
    declare(&admin, "Group", group_schema).await;

    let schemas = app.get("/Schemas").await;
    let urns: Vec<&str> = schemas.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(urns.contains(&CUSTOM) && urns.contains(&GROUP_EXT), "{urns:?}");
    let one = app.get(&format!("/Schemas/{CUSTOM}")).await;
    assert_eq!(one.status, 200, "{}", one.text);
    let cc = &one.body["attributes"][0];
    assert_eq!(cc["name"], "costCenter");
    assert_eq!(cc["uniqueness"], "server");
    assert_eq!(cc["mutability"], "readWrite");
    assert_eq!(one.body["attributes"][3]["subAttributes"][1]["type"], "integer");

    let user = app.get("/ResourceTypes/User").await;
    let exts = user.body["schemaExtensions"].as_array().unwrap();
    assert!(exts.iter().any(|e| e["schema"] == CUSTOM && e["required"] == false), "{}", user.text);
    let group = app.get("/ResourceTypes/Group").await;
    assert_eq!(group.body["schemaExtensions"], json!([{"schema": GROUP_EXT, "required": false}]));

    // A group carries its extension too.
    let res = app
        .post("/Groups", json!({"displayName": "Finance", GROUP_EXT: {"costCode": "F-1"}}))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body[GROUP_EXT]["costCode"], "F-1");
    assert!(res.body["schemas"].as_array().unwrap().contains(&json!(GROUP_EXT)));
    let finance = res.body["id"].as_str().unwrap().to_string();

    // Filtered through group_values, unique within the account.
    let found = app
        .get(&format!("/Groups?filter={GROUP_EXT}:costCode%20eq%20%22f-1%22"))
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(ids(&found.body), vec![finance.clone()]);
    let res = app
        .post("/Groups", json!({"displayName": "Finance 2", GROUP_EXT: {"costCode": "F-1"}}))
        .await;
    res.assert_error(409, Some("uniqueness"));
    let res = app
        .patch(
            &format!("/Groups/{finance}"),
            ops(json!([{"op": "replace", "path": format!("{GROUP_EXT}:costCode"), "value": "F-2"},
                       {"op": "add", "path": format!("{GROUP_EXT}:tags"), "value": ["money"]}])),
        )
        .await;
    assert!(res.status < 300, "{}", res.text);
    let found = app
        .get(&format!("/Groups?filter={GROUP_EXT}:tags%20eq%20%22money%22%20and%20{GROUP_EXT}:costCode%20sw%20%22F-2%22"))
        .await;
    assert_eq!(ids(&found.body), vec![finance.clone()], "{}", found.text);
    let gone = app
        .get(&format!("/Groups?filter={GROUP_EXT}:costCode%20eq%20%22F-1%22"))
        .await;
    assert_eq!(gone.body["totalResults"], 0, "{}", gone.text);

    // Another account sees none of it.
    let (other, other_token) = app.other_account().await;
    let other = app
        .send(
            reqwest::Method::GET,
            &format!("{}/scim/account/{other}/Schemas", app.origin),
            Some(&other_token),
            None,
            &[],
        )
        .await;
    assert_eq!(other.status, 200, "{}", other.text);
    assert!(!other.text.contains(CUSTOM) && !other.text.contains(GROUP_EXT));
}

#[tokio::test]
async fn undeclared_extension_data_is_kept_and_becomes_filterable_when_declared() {
    let app = TestApp::spawn().await;
    let res = app
        .post(
            "/Users",
            json!({
                "schemas": [USER, CUSTOM],
                "userName": "kept@example.com",
                CUSTOM: {"costCenter": "K-1", "office": {"floor": 3}}
            }),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let url = format!("/Users/{}", res.body["id"].as_str().unwrap());
    assert_eq!(res.body[CUSTOM], json!({"costCenter": "K-1", "office": {"floor": 3}}));
    assert_eq!(res.body["schemas"], json!([USER, CUSTOM]));

    // Entra's PATCH by URN path works on kept data as on declared data.
    let res = app
        .patch(&url, ops(json!([{"op": "replace", "path": format!("{CUSTOM}:costCenter"), "value": "K-2"}])))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body[CUSTOM]["costCenter"], "K-2");
    let res = app
        .patch(&url, ops(json!([{"op": "add", "value": {format!("{CUSTOM}:title2"): "x"}}])))
        .await;
    assert_eq!(res.body[CUSTOM]["title2"], "x", "{}", res.text);

    // Not filterable while undeclared: the error says how to make it so.
    let res = app
        .get(&format!("/Users?filter={CUSTOM}:costCenter%20eq%20%22K-2%22"))
        .await;
    res.assert_error(400, Some("invalidFilter"));

    // Declared later: the value already stored is found at once.
    let admin = Admin::new(&app).await;
    declare(&admin, "User", custom_schema()).await;
    let res = app
        .get(&format!("/Users?filter={CUSTOM}:costCenter%20eq%20%22k-2%22"))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["totalResults"], 1, "{}", res.text);
}

#[tokio::test]
async fn an_account_that_refuses_undeclared_data_names_the_schema_and_attribute() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let res = admin.patch("/settings", json!({"undeclared_extensions": "refuse"})).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["undeclared_extensions"], "refuse");

    let res = app
        .post(
            "/Users",
            json!({"userName": "refused@example.com", CUSTOM: {"costCenter": "R-1"}}),
        )
        .await;
    res.assert_error(400, Some("invalidValue"));
    let detail = res.body["detail"].as_str().unwrap();
    assert!(detail.contains(CUSTOM) && detail.contains("costCenter"), "{detail}");
    assert_eq!(app.get("/Users").await.body["totalResults"], 0, "nothing was created");

    let id = app.user("plain@example.com").await;
    let res = app
        .patch(
            &format!("/Users/{id}"),
            ops(json!([{"op": "add", "path": format!("{CUSTOM}:costCenter"), "value": "R-2"}])),
        )
        .await;
    res.assert_error(400, Some("invalidValue"));

    // Declaring the schema lets the same request through.
    declare(&admin, "User", custom_schema()).await;
    let res = app
        .post(
            "/Users",
            json!({"userName": "refused@example.com", CUSTOM: {"costCenter": "R-1"}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
}

#[tokio::test]
async fn declared_attributes_are_validated_and_unique_within_the_account() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    declare(&admin, "User", custom_schema()).await;
    let first = app
        .post("/Users", json!({"userName": "u1@example.com", CUSTOM: {"costCenter": "U-1"}}))
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let res = app
        .post("/Users", json!({"userName": "u2@example.com", CUSTOM: {"costCenter": "u-1"}}))
        .await;
    res.assert_error(409, Some("uniqueness"));
    assert!(res.body["detail"].as_str().unwrap().contains("costCenter"), "{}", res.text);
    // The holder itself may write its value again.
    let url = format!("/Users/{}", first.body["id"].as_str().unwrap());
    let again = app
        .patch(&url, ops(json!([{"op": "replace", "path": format!("{CUSTOM}:costCenter"), "value": "U-1"}])))
        .await;
    assert_eq!(again.status, 200, "{}", again.text);

    for (value, needle) in [
        (json!({"level": "high"}), "level"),
        (json!({"badges": ["bronze"]}), "canonical values"),
        (json!({"office": {"floor": "x"}}), "floor"),
        (json!("flat"), "must be an object"),
    ] {
        let res = app
            .post("/Users", json!({"userName": "bad@example.com", CUSTOM: value}))
            .await;
        res.assert_error(400, Some("invalidValue"));
        assert!(res.body["detail"].as_str().unwrap().contains(needle), "{needle}: {}", res.text);
    }
}

#[tokio::test]
async fn bad_declarations_are_refused_and_removal_with_data_needs_force() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    for (schema, needle) in [
        (json!({"id": USER, "attributes": [{"name": "a", "type": "string"}]}), "URN of SCIM itself"),
        (json!({"id": CUSTOM, "attributes": [{"name": "a", "type": "text"}]}), "\"text\" is not one of"),
        (json!({"id": CUSTOM, "attributes": []}), "at least one attribute"),
        (json!({"id": "custom", "attributes": [{"name": "a", "type": "string"}]}), "is not a URN"),
    ] {
        let res = admin
            .post("/schemas", json!({"resource_type": "User", "schema": schema}))
            .await;
        res.assert_problem(400);
        assert!(res.body["detail"].as_str().unwrap().contains(needle), "{needle}: {}", res.text);
    }
    declare(&admin, "User", custom_schema()).await;
    let res = admin
        .post("/schemas", json!({"resource_type": "User", "schema": custom_schema()}))
        .await;
    res.assert_problem(409);
    let listed = admin.get("/schemas").await;
    assert_eq!(listed.body["items"][0]["id"], CUSTOM, "{}", listed.text);

    let id = app.user("holder@example.com").await;
    let url = format!("/Users/{id}");
    let res = app
        .patch(&url, ops(json!([{"op": "add", "path": format!("{CUSTOM}:costCenter"), "value": "H-1"}])))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let version = res.body["meta"]["version"].clone();

    let res = admin.delete(&format!("/schemas/{CUSTOM}")).await;
    res.assert_problem(409);
    assert!(res.body["detail"].as_str().unwrap().contains("1 users"), "{}", res.text);
    assert_eq!(app.get(&url).await.body[CUSTOM]["costCenter"], "H-1", "nothing removed");

    let res = admin.delete(&format!("/schemas/{}?force=true", CUSTOM.to_lowercase())).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["resources_changed"], 1);
    let after = app.get(&url).await;
    assert!(after.body.get(CUSTOM).is_none(), "{}", after.text);
    assert_ne!(after.body["meta"]["version"], version);
    assert!(!app.get("/Schemas").await.text.contains(CUSTOM));
    admin.delete(&format!("/schemas/{CUSTOM}")).await.assert_problem(404);
}

/// `scimd schema add|list|remove` against the running server's database: what the CLI declares
/// the server advertises and validates on its next request (its schema version changed), and a
/// removal that would lose data says so and changes nothing without --force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_declares_lists_and_removes_schemas() {
    let app = TestApp::spawn().await;
    let account = app.account.to_string();
    let dir = std::env::temp_dir().join(format!("scimd-schema-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("schema.json");
    std::fs::write(&file, custom_schema().to_string()).unwrap();
    let scimd = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_scimd"))
            .args(args)
            .env("DATABASE_URL", &app.config.database_url)
            .output()
            .expect("scimd runs");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    // Warm this process's copy of the account's types, so the test sees it replaced.
    assert!(!app.get("/Schemas").await.text.contains(CUSTOM));

    let (ok, out) = scimd(&["--json", "schema", "add", "--account", &account, "--file", file.to_str().unwrap()]);
    assert!(ok, "{out}");
    let added: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(added["id"], CUSTOM);
    let (ok, out) = scimd(&["schema", "list", "--account", &account]);
    assert!(ok && out.contains(CUSTOM) && out.contains("costCenter"), "{out}");
    assert!(app.get("/Schemas").await.text.contains(CUSTOM));
    let res = app
        .post("/Users", json!({"userName": "cli@example.com", CUSTOM: {"level": "x"}}))
        .await;
    res.assert_error(400, Some("invalidValue"));

    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"id": "nope", "attributes": []}"#).unwrap();
    let (ok, out) = scimd(&["schema", "add", "--account", &account, "--file", bad.to_str().unwrap()]);
    assert!(!ok && out.contains("is not a URN"), "{out}");

    let res = app
        .post("/Users", json!({"userName": "cli@example.com", CUSTOM: {"costCenter": "X"}}))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let (ok, out) = scimd(&["schema", "remove", "--account", &account, "--urn", CUSTOM]);
    assert!(!ok && out.contains("1 users") && out.contains("force"), "{out}");
    let (ok, out) = scimd(&["schema", "remove", "--account", &account, "--urn", CUSTOM, "--force"]);
    assert!(ok && out.contains("1 resources"), "{out}");
    assert!(!app.get("/Schemas").await.text.contains(CUSTOM));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `sortBy` on an attribute kept in the value rows: an extension's integer sorts as numbers,
/// a date-time as instants, users without a value last, in both directions and across cursor
/// and index pages; and so does a core attribute without a column (`name.familyName`).
#[tokio::test]
async fn lists_sort_by_extension_attributes() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    declare(&admin, "User", custom_schema()).await;
    let mut by_name = std::collections::HashMap::new();
    for (name, level, family) in [("a", Some(10), "Zeta"), ("b", Some(9), "alpha"), ("c", None, "Mu"), ("d", Some(-1), "beta")] {
        let mut body = json!({"userName": name, "name": {"familyName": family}});
        if let Some(level) = level {
            body[CUSTOM] = json!({"level": level});
        }
        let res = app.post("/Users", body).await;
        assert_eq!(res.status, 201, "{}", res.text);
        by_name.insert(res.body["id"].as_str().unwrap().to_string(), name);
    }
    let names = |list: &Value| -> Vec<&str> { ids(list).iter().map(|id| by_name[id]).collect() };

    let res = app.get(&format!("/Users?sortBy={CUSTOM}:level")).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(names(&res.body), vec!["d", "b", "a", "c"], "numbers, not text; no value last");
    let res = app.get(&format!("/Users?sortBy={CUSTOM}:level&sortOrder=descending")).await;
    assert_eq!(names(&res.body), vec!["a", "b", "d", "c"]);
    let res = app.get("/Users?sortBy=name.familyName").await;
    assert_eq!(names(&res.body), vec!["b", "d", "c", "a"], "ignoring case: {}", res.text);

    // Cursor pages of two, then index pages of two, give the same order.
    let mut seen = Vec::new();
    let mut url = format!("/Users?sortBy={CUSTOM}:level&count=2&cursor");
    loop {
        let res = app.get(&url).await;
        assert_eq!(res.status, 200, "{}", res.text);
        seen.extend(names(&res.body));
        match res.body["nextCursor"].as_str() {
            Some(next) => url = format!("/Users?sortBy={CUSTOM}:level&count=2&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, vec!["d", "b", "a", "c"]);
    let page2 = app.get(&format!("/Users?sortBy={CUSTOM}:level&count=2&startIndex=3")).await;
    assert_eq!(names(&page2.body), vec!["a", "c"]);

    let res = app.get(&format!("/Users?sortBy={CUSTOM}:office")).await;
    res.assert_error(400, Some("invalidValue"));
}

/// A list sorted by a single-valued value-row attribute is read in the value index's order,
/// and the resources without a value follow in id order: every way of paging through it —
/// pages by position of every size (including pages that straddle the two halves and pages
/// wholly past the resources with a value), cursor pages, either direction, with a filter —
/// gives the one order, and a group extension sorts the same way.
#[tokio::test]
async fn value_row_sorts_page_through_resources_with_and_without_a_value() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    declare(&admin, "User", custom_schema()).await;
    declare(
        &admin,
        "Group",
        json!({"id": GROUP_EXT, "attributes": [{"name": "rank", "type": "integer"}]}),
    )
    .await;
    let mut names = std::collections::HashMap::new();
    let mut created = Vec::new();
    for (name, level) in [
        ("u1", Some(5)), ("u2", None), ("u3", Some(3)), ("u4", None), ("u5", Some(5)),
        ("u6", None), ("u7", Some(1)), ("x8", Some(0)), ("x9", None),
    ] {
        let mut body = json!({"userName": name});
        if let Some(level) = level {
            body[CUSTOM] = json!({"level": level});
        }
        let res = app.post("/Users", body).await;
        assert_eq!(res.status, 201, "{}", res.text);
        let id = res.body["id"].as_str().unwrap().to_string();
        names.insert(id.clone(), name);
        created.push(id);
    }
    let named = |ids: Vec<String>| -> Vec<&str> { ids.iter().map(|id| names[id]).collect() };
    let by = format!("sortBy={CUSTOM}:level");
    for (query, expected) in [
        (by.clone(), vec!["x8", "u7", "u3", "u1", "u5", "u2", "u4", "u6", "x9"]),
        (format!("{by}&sortOrder=descending"), vec!["u1", "u5", "u3", "u7", "x8", "u2", "u4", "u6", "x9"]),
        (format!("{by}&filter=userName%20sw%20%22u%22"), vec!["u7", "u3", "u1", "u5", "u2", "u4", "u6"]),
    ] {
        let res = app.get(&format!("/Users?{query}")).await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(named(ids(&res.body)), expected, "{query}");
        assert_eq!(res.body["totalResults"], expected.len(), "{query}");
        for count in 1..=4 {
            let mut seen = Vec::new();
            let mut start = 1;
            loop {
                let res = app.get(&format!("/Users?{query}&count={count}&startIndex={start}")).await;
                assert_eq!(res.status, 200, "{}", res.text);
                assert_eq!(res.body["totalResults"], expected.len(), "{query} from {start}");
                let page = ids(&res.body);
                if page.is_empty() {
                    break;
                }
                start += page.len();
                seen.extend(page);
            }
            assert_eq!(named(seen), expected, "{query}, pages of {count} by position");
            let mut seen = Vec::new();
            let mut url = format!("/Users?{query}&count={count}&cursor");
            loop {
                let res = app.get(&url).await;
                assert_eq!(res.status, 200, "{}", res.text);
                seen.extend(ids(&res.body));
                match res.body["nextCursor"].as_str() {
                    Some(next) => url = format!("/Users?{query}&count={count}&cursor={next}"),
                    None => break,
                }
            }
            assert_eq!(named(seen), expected, "{query}, cursor pages of {count}");
        }
    }
    // A page wholly past the resources with a value skips them by their count.
    let res = app.get(&format!("/Users?{by}&startIndex=7&count=2")).await;
    assert_eq!(named(ids(&res.body)), vec!["u4", "u6"], "{}", res.text);
    assert_eq!(res.body["totalResults"], 9);

    let mut group_names = std::collections::HashMap::new();
    for (name, rank) in [("g1", Some(2)), ("g2", None), ("g3", Some(1))] {
        let mut body = json!({"displayName": name});
        if let Some(rank) = rank {
            body[GROUP_EXT] = json!({"rank": rank});
        }
        let res = app.post("/Groups", body).await;
        assert_eq!(res.status, 201, "{}", res.text);
        group_names.insert(res.body["id"].as_str().unwrap().to_string(), name);
    }
    let res = app.get(&format!("/Groups?sortBy={GROUP_EXT}:rank&count=2&startIndex=2")).await;
    assert_eq!(res.status, 200, "{}", res.text);
    let got: Vec<&str> = ids(&res.body).iter().map(|id| group_names[id]).collect();
    assert_eq!(got, vec!["g1", "g2"]);
    assert_eq!(res.body["totalResults"], 3);
}

/// The characteristics a schema declares bind SCIM writes: a `required` attribute must be sent
/// with its extension, an `immutable` one set once, a `readOnly` one never written by a client
/// (dropped from a body as core readOnly attributes are; a PATCH path to it is `mutability`).
#[tokio::test]
async fn declared_required_immutable_and_read_only_attributes_are_enforced() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    let urn = "urn:example:hr:2.0:User";
    declare(
        &admin,
        "User",
        json!({"id": urn, "attributes": [
            {"name": "employeeId", "type": "string", "required": true},
            {"name": "badge", "type": "string", "mutability": "immutable"},
            {"name": "computed", "type": "string", "mutability": "readOnly"}
        ]}),
    )
    .await;
    let res = app
        .post("/Users", json!({"userName": "r1", urn: {"badge": "B1"}}))
        .await;
    res.assert_error(400, Some("invalidValue"));
    assert!(res.text.contains("employeeId"), "{}", res.text);

    let res = app
        .post(
            "/Users",
            json!({"userName": "r1", urn: {"employeeId": "E1", "badge": "B1", "computed": "x"}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body[urn], json!({"employeeId": "E1", "badge": "B1"}), "readOnly dropped");
    let url = format!("/Users/{}", res.body["id"].as_str().unwrap());

    let res = app
        .patch(&url, ops(json!([{"op": "replace", "path": format!("{urn}:badge"), "value": "B2"}])))
        .await;
    res.assert_error(400, Some("mutability"));
    let res = app
        .patch(&url, ops(json!([{"op": "replace", "path": format!("{urn}:computed"), "value": "y"}])))
        .await;
    res.assert_error(400, Some("mutability"));
    let res = app
        .patch(&url, ops(json!([{"op": "remove", "path": format!("{urn}:employeeId")}])))
        .await;
    res.assert_error(400, Some("invalidValue"));
    assert_eq!(app.get(&url).await.body[urn]["badge"], "B1", "nothing changed");
}

/// `/Bulk` carries extension data like the single endpoints: validated (a bad value fails its
/// operation with the same error), unique within the account across operations of one request.
#[tokio::test]
async fn bulk_operations_carry_extension_data() {
    let app = TestApp::spawn().await;
    let admin = Admin::new(&app).await;
    declare(&admin, "User", custom_schema()).await;
    let res = app
        .post(
            "/Bulk",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "a",
                 "data": {"userName": "b1", CUSTOM: {"costCenter": "BK-1", "level": 1}}},
                {"method": "POST", "path": "/Users", "bulkId": "b",
                 "data": {"userName": "b2", CUSTOM: {"costCenter": "bk-1"}}},
                {"method": "POST", "path": "/Users", "bulkId": "c",
                 "data": {"userName": "b3", CUSTOM: {"level": "many"}}},
                {"method": "PATCH", "path": "/Users/bulkId:a",
                 "data": {"schemas": [PATCH], "Operations": [
                     {"op": "replace", "path": format!("{CUSTOM}:level"), "value": 2}]}}
            ]}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let statuses: Vec<&str> = res.body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["201", "409", "400", "200"], "{}", res.text);
    let found = app
        .get(&format!("/Users?filter={CUSTOM}:level%20eq%202"))
        .await;
    assert_eq!(found.body["totalResults"], 1, "{}", found.text);
    assert_eq!(found.body["Resources"][0][CUSTOM]["costCenter"], "BK-1");
}
