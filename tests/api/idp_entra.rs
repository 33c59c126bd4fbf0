//! Microsoft Entra ID, as it really talks to a SCIM server (docs/idp-notes.md §2): GETs with
//! no Accept or Content-Type, matching on userName, externalId and the work email, the default
//! PATCH dialect (capitalised ops, string booleans) and the `aadOptscim062020` one (dotted and
//! URN keys in a no-path value), the manager as a bare string, groups without members.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::harness::{IdpClient, Resp, TestApp, Wire};
use scimd::service::Idp;

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const MS_GROUP: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// Entra's provisioning service: a Content-Type on writes only, no Accept, no User-Agent that
/// anyone documented (§0, §2.1).
fn entra_wire() -> Wire {
    Wire {
        headers: vec![],
        body_type: Some("application/scim+json; charset=utf-8"),
        bodiless_type: None,
    }
}

fn ops(ops: Value) -> Value {
    json!({"schemas":[PATCH],"Operations":ops})
}

fn id_of(res: &Resp) -> String {
    res.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {}", res.text))
        .to_string()
}

#[track_caller]
fn assert_empty_list(res: &Resp) {
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["schemas"], json!([LIST]), "{}", res.text);
    assert_eq!(res.body["totalResults"], 0, "{}", res.text);
    assert_eq!(res.body["Resources"], json!([]), "{}", res.text);
}

#[track_caller]
fn assert_one(res: &Resp, id: &str) {
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["totalResults"], 1, "{}", res.text);
    assert_eq!(res.body["Resources"][0]["id"], id, "{}", res.text);
}

/// The create body of the Entra docs (§2.4).
fn entra_user(user_name: &str, external_id: &str, email: &str) -> Value {
    json!({"schemas":[USER,ENTERPRISE],
        "externalId":external_id,"userName":user_name,"active":true,
        "emails":[{"primary":true,"type":"work","value":email}],
        "meta":{"resourceType":"User"},
        "name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},
        "roles":[]})
}

async fn create(entra: &IdpClient<'_>, user_name: &str, external_id: &str, email: &str) -> String {
    let res = entra
        .post("/Users", &entra_user(user_name, external_id, email))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    id_of(&res)
}

#[tokio::test]
async fn test_connection_with_a_random_guid_and_no_accept_header() {
    let app = TestApp::spawn().await;
    let entra = app.idp(Idp::Entra, entra_wire()).await;
    let res = entra
        .get("/Users?filter=userName+eq+%223e59e27b-68ad-41f5-bb0e-dadf130e2ac8%22")
        .await;
    assert_empty_list(&res);
    assert!(
        res.header("content-type")
            .is_some_and(|ct| ct.starts_with("application/scim+json")),
        "{:?}",
        res.header("content-type")
    );
    // "It also fetches a random user and group."
    assert_eq!(entra.get("/Users?startIndex=1&count=1").await.status, 200);
    assert_eq!(
        entra
            .get("/Groups?excludedAttributes=members&startIndex=1&count=1")
            .await
            .status,
        200
    );
}

/// Gallery apps read /Schemas when provisioning is saved: a ListResponse, no nulls anywhere
/// (Entra's parser rejects them), camelCase names.
#[tokio::test]
async fn schemas_discovery_is_a_list_response_without_nulls() {
    fn nulls(v: &Value, at: &str, out: &mut Vec<String>) {
        match v {
            Value::Null => out.push(at.to_string()),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, e)| nulls(e, &format!("{at}[{i}]"), out)),
            Value::Object(m) => m.iter().for_each(|(k, e)| nulls(e, &format!("{at}.{k}"), out)),
            _ => {}
        }
    }
    let app = TestApp::spawn().await;
    let entra = app.idp(Idp::Entra, entra_wire()).await;
    for path in ["/Schemas", "/ResourceTypes"] {
        let res = entra.get(path).await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(res.body["schemas"], json!([LIST]));
        assert!(res.body["totalResults"].as_u64().unwrap() >= 2);
        let mut found = Vec::new();
        nulls(&res.body, "", &mut found);
        assert!(found.is_empty(), "{path} has nulls at {found:?}");
    }
    let res = entra.get("/Schemas").await;
    let user = res.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == USER)
        .expect("the core User schema");
    for attr in user["attributes"].as_array().unwrap() {
        let name = attr["name"].as_str().unwrap();
        assert!(name.chars().next().unwrap().is_ascii_lowercase(), "{name}");
        assert!(!name.contains('_'), "{name}");
    }
}

#[tokio::test]
async fn matching_on_user_name_external_id_and_work_email() {
    let app = TestApp::spawn().await;
    let entra = app.idp(Idp::Entra, entra_wire()).await;
    let user_name = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee@contoso.com";
    let ext = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef";
    let email = "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com";
    let by_user_name =
        "/Users?filter=userName+eq+%22Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee%40contoso.com%22";
    let by_external_id = "/Users?filter=externalId+eq+%220a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef%22";
    let by_work_email = "/Users?filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff%40testuser.com%22";

    // Before the create, every match query is an empty ListResponse (a wrong "nothing" makes
    // Entra POST a duplicate, a wrong 404 quarantines the job).
    for query in [by_user_name, by_external_id, by_work_email] {
        assert_empty_list(&entra.get(query).await);
    }

    let id = create(&entra, user_name, ext, email).await;
    for query in [by_user_name, by_external_id, by_work_email] {
        assert_one(&entra.get(query).await, &id);
    }
    // The docs' unquoted form.
    let res = entra
        .post(
            "/Users",
            &entra_user("jyoung@contoso.com", "jyoung", "jyoung@contoso.com"),
        )
        .await;
    let jyoung = id_of(&res);
    assert_one(&entra.get("/Users?filter=externalId+eq+jyoung").await, &jyoung);
    assert_one(
        &entra.get("/Users?filter=externalId%20eq%20jyoung").await,
        &jyoung,
    );
    // externalId is caseExact; email and userName are not.
    assert_empty_list(&entra.get("/Users?filter=externalId+eq+%22JYOUNG%22").await);
    assert_one(
        &entra
            .get("/Users?filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22JYOUNG%40CONTOSO.COM%22")
            .await,
        &jyoung,
    );
    // The manager check of the docs' Example 4: id and manager, only the id returned.
    let res = entra
        .get(&format!(
            "/Users?filter=id+eq+%22{id}%22+and+manager+eq+%22{jyoung}%22&attributes=id"
        ))
        .await;
    assert_empty_list(&res);
    let res = entra
        .patch(
            &format!("/Users/{id}"),
            &ops(json!([{"op":"Add","path":format!("{ENTERPRISE}:manager"),"value":jyoung}])),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let res = entra
        .get(&format!(
            "/Users?filter=id+eq+%22{id}%22+and+manager+eq+%22{jyoung}%22&attributes=id"
        ))
        .await;
    assert_one(&res, &id);
    let only = res.body["Resources"][0].as_object().unwrap();
    assert!(
        only.keys().all(|k| k == "id" || k == "schemas"),
        "attributes=id returns the id (and schemas): {only:?}"
    );
}

#[tokio::test]
async fn create_returns_the_user_verbatim_with_id_and_meta() {
    let app = TestApp::spawn().await;
    let entra = app.idp(Idp::Entra, entra_wire()).await;
    let body = entra_user(
        "Test_User_00aa00aa@contoso.com",
        "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "Test_User_11bb@testuser.com",
    );
    let res = entra.post("/Users", &body).await;
    assert_eq!(res.status, 201, "{}", res.text);
    let user = &res.body;
    assert!(user["id"].as_str().is_some_and(|s| !s.is_empty()));
    // Values are stored as sent, not normalised (no lower-casing of userName or email).
    assert_eq!(user["userName"], "Test_User_00aa00aa@contoso.com");
    assert_eq!(user["emails"][0]["value"], "Test_User_11bb@testuser.com");
    assert_eq!(user["externalId"], "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef");
    assert_eq!(user["name"]["formatted"], "givenName familyName");
    assert_eq!(user["active"], true);
    assert_eq!(user["meta"]["resourceType"], "User");
    assert!(user["meta"]["created"].is_string());
    assert!(user["meta"]["lastModified"].is_string());
    assert!(user["meta"]["location"].is_string());
    // `roles: []` is no role.
    assert!(user["roles"].as_array().is_none_or(Vec::is_empty), "{user}");
}

#[tokio::test]
async fn default_dialect_patch_capitalised_ops_value_paths_and_urn_paths() {
    let app = TestApp::spawn().await;
    // These updates change the work (primary) email, which R2 refuses unless the account
    // allows it (rules::r2_* test the refusal).
    crate::adminkit::allow_identity_changes(&app).await;
    let entra = app.idp(Idp::Entra, entra_wire()).await;
    let id = create(&entra, "pvlo@contoso.com", "ext-1", "old@contoso.com").await;
    let path = format!("/Users/{id}");

    // The docs' default-dialect update, verbatim in shape (§2.5). The user has no work address,
    // so `addresses[type eq "work"].formatted` creates one.
    let res = entra
        .patch(
            &path,
            &ops(json!([
                {"op":"Replace","path":"displayName","value":"Pvlo"},
                {"op":"Replace","path":"emails[type eq \"work\"].value","value":"TestBcwqnm@test.microsoft.com"},
                {"op":"Replace","path":"name.givenName","value":"Gtfd"},
                {"op":"Replace","path":"name.familyName","value":"Vwro"},
                {"op":"Replace","path":"externalId","value":"Eqpj"},
                {"op":"Replace","path":format!("{ENTERPRISE}:employeeNumber"),"value":"Eqpj"},
                {"op":"Replace","path":"addresses[type eq \"work\"].formatted","value":"18/2111"},
                {"op":"Add","path":format!("{ENTERPRISE}:department"),"value":"Retail"},
                {"op":"Add","path":"nickName","value":"Babs"}
            ])),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let user = entra.get(&path).await.body;
    assert_eq!(user["displayName"], "Pvlo");
    assert_eq!(user["emails"].as_array().unwrap().len(), 1, "{user}");
    assert_eq!(user["emails"][0]["value"], "TestBcwqnm@test.microsoft.com");
    assert_eq!(user["emails"][0]["type"], "work");
    assert_eq!(user["emails"][0]["primary"], true);
    assert_eq!(user["name"]["givenName"], "Gtfd");
    assert_eq!(user["name"]["familyName"], "Vwro");
    assert_eq!(user["externalId"], "Eqpj");
    assert_eq!(user[ENTERPRISE]["employeeNumber"], "Eqpj");
    assert_eq!(user[ENTERPRISE]["department"], "Retail");
    assert_eq!(user["addresses"][0]["type"], "work");
    assert_eq!(user["addresses"][0]["formatted"], "18/2111");
    assert_eq!(user["nickName"], "Babs");
    assert!(
        user["schemas"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == ENTERPRISE),
        "{user}"
    );
    // The new externalId is what Entra matches on from now on.
    assert_one(&entra.get("/Users?filter=externalId+eq+%22Eqpj%22").await, &id);

    // Phone numbers and the postal code by type; the docs' capital-V `.Value`.
    let res = entra
        .patch(
            &path,
            &ops(json!([
                {"op":"Add","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 555 0100"},
                {"op":"Add","path":"phoneNumbers[type eq \"fax\"].value","value":"+1 555 0199"},
                {"op":"Replace","path":"addresses[type eq \"work\"].postalCode","value":"98052"},
                {"op":"Add","path":"emails[type eq \"other\"].Value","value":"other@contoso.com"}
            ])),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let user = entra.get(&path).await.body;
    let phones: HashSet<(String, String)> = user["phoneNumbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["type"].as_str().unwrap().to_string(),
                p["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        phones,
        HashSet::from([
            ("mobile".to_string(), "+1 555 0100".to_string()),
            ("fax".to_string(), "+1 555 0199".to_string())
        ])
    );
    assert_eq!(user["addresses"].as_array().unwrap().len(), 1, "{user}");
    assert_eq!(user["addresses"][0]["postalCode"], "98052");
    assert_eq!(user["addresses"][0]["formatted"], "18/2111");
    let other: Vec<&Value> = user["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "other")
        .collect();
    assert_eq!(other.len(), 1, "{user}");
    assert_eq!(other[0]["value"], "other@contoso.com");

    // Replacing the mobile number changes that element only.
    let res = entra
        .patch(
            &path,
            &ops(json!([{"op":"Replace","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 555 0111"}])),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let user = entra.get(&path).await.body;
    let phones: Vec<&Value> = user["phoneNumbers"].as_array().unwrap().iter().collect();
    assert_eq!(phones.len(), 2, "{user}");
    assert!(
        phones
            .iter()
            .any(|p| p["type"] == "mobile" && p["value"] == "+1 555 0111")
    );
    assert!(
        phones
            .iter()
            .any(|p| p["type"] == "fax" && p["value"] == "+1 555 0199")
    );

    // Roles: the primary one's display, with the boolean quoted and capitalised in the filter;
    // and AppRoleAssignmentsComplex, whose value is a JSON string.
    let res = entra
        .patch(
            &path,
            &ops(json!([{"op":"Add","path":"roles","value":[
                {"value":"{\"id\":\"7a3c\",\"value\":\"Admin\",\"displayName\":\"Admin\"}","primary":true}]}])),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let res = entra
        .patch(
            &path,
            &ops(
                json!([{"op":"Replace","path":"roles[primary eq \"True\"].display","value":"Administrator"}]),
            ),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let user = entra.get(&path).await.body;
    assert_eq!(user["roles"].as_array().unwrap().len(), 1, "{user}");
    assert_eq!(
        user["roles"][0]["value"],
        "{\"id\":\"7a3c\",\"value\":\"Admin\",\"displayName\":\"Admin\"}"
    );
    assert_eq!(user["roles"][0]["display"], "Administrator");
}

#[tokio::test]
async fn flagged_dialect_patch_merges_dotted_and_urn_keys_into_one_no_path_op() {
    let app = TestApp::spawn().await;
    // These updates change the work (primary) email, which R2 refuses unless the account
    // allows it (rules::r2_* test the refusal).
    crate::adminkit::allow_identity_changes(&app).await;
    let entra = app.idp(Idp::Entra, entra_wire()).await;
    let id = create(&entra, "bjfe@contoso.com", "ext-2", "bjfe@contoso.com").await;
    // The flag is appended to the tenant URL; whether it reaches us as a query parameter is
    // unknown, so an unknown parameter must not change anything.
    let path = format!("/Users/{id}?aadOptscim062020");
    let res = entra
        .patch(
            &path,
            &ops(json!([
                {"op":"replace","value":{
                    "displayName":"Bjfe",
                    "name.givenName":"Kkom",
                    "name.familyName":"Unua",
                    format!("{ENTERPRISE}:employeeNumber"):"Aklq",
                    format!("{ENTERPRISE}:manager"):{"value":"mgr-1"},
                    "active":false}},
                {"op":"replace","path":"emails[type eq \"work\"].value","value":"bjfe.new@contoso.com"}
            ])),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let user = entra.get(&format!("/Users/{id}")).await.body;
    assert_eq!(user["displayName"], "Bjfe");
    assert_eq!(user["name"]["givenName"], "Kkom");
    assert_eq!(user["name"]["familyName"], "Unua");
    // The dotted keys set sub-attributes; they do not become attributes named "name.givenName".
    assert!(user.get("name.givenName").is_none(), "{user}");
    assert_eq!(user["name"]["formatted"], "givenName familyName");
    assert_eq!(user[ENTERPRISE]["employeeNumber"], "Aklq");
    assert_eq!(user[ENTERPRISE]["manager"]["value"], "mgr-1");
    assert_eq!(user["active"], false);
    assert_eq!(user["emails"][0]["value"], "bjfe.new@contoso.com");
    assert_eq!(user["emails"].as_array().unwrap().len(), 1);

    // Flagged disable and re-enable: lowercase op, JSON boolean.
    for active in [true, false, true] {
        let res = entra
            .patch(
                &path,
                &ops(json!([{"op":"replace","path":"active","value":active}])),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(entra.get(&format!("/Users/{id}")).await.body["active"], active);
    }
}

#[tokio::test]
async fn manager_bare_string_is_returned_as_an_object_and_removed_by_value_filter() {
    let app = TestApp::spawn().await;
    let entra = app.idp(Idp::Entra, entra_wire()).await;
    let boss = create(&entra, "boss@contoso.com", "ext-boss", "boss@contoso.com").await;
    let id = create(&entra, "report@contoso.com", "ext-rep", "report@contoso.com").await;
    let path = format!("/Users/{id}");

    // After the create, a further PATCH sets the manager — as a bare string.
    let res = entra
        .patch(
            &path,
            &ops(json!([{"op":"Add","path":format!("{ENTERPRISE}:manager"),"value":boss}])),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    // Echoing the bare string breaks Entra's deserializer: always an object.
    assert!(res.body[ENTERPRISE]["manager"].is_object(), "{}", res.text);
    assert_eq!(res.body[ENTERPRISE]["manager"]["value"], boss.as_str());
    let user = entra.get(&path).await.body;
    assert_eq!(user[ENTERPRISE]["manager"]["value"], boss.as_str(), "{user}");
    // Also in list responses.
    let res = entra
        .get("/Users?filter=userName+eq+%22report%40contoso.com%22")
        .await;
    assert_eq!(
        res.body["Resources"][0][ENTERPRISE]["manager"]["value"],
        boss.as_str()
    );

    // The docs' array form of the same thing.
    let res = entra
        .patch(
            &path,
            &ops(json!([{"op":"Replace","path":format!("{ENTERPRISE}:manager"),
                "value":[{"$ref":format!("../Users/{boss}"),"value":boss}]}])),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let user = entra.get(&path).await.body;
    assert!(user[ENTERPRISE]["manager"].is_object(), "{user}");
    assert_eq!(user[ENTERPRISE]["manager"]["value"], boss.as_str());

    // Removal by a value filter on the manager.
    let res = entra
        .patch(
            &path,
            &ops(json!([{"op":"remove","path":format!("manager[value eq \"{boss}\"]")}])),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let user = entra.get(&path).await.body;
    assert!(
        user.get(ENTERPRISE).is_none_or(|e| e.get("manager").is_none()),
        "{user}"
    );
}

#[tokio::test]
async fn add_or_replace_of_a_missing_work_email_creates_it() {
    let app = TestApp::spawn().await;
    let entra = app.idp(Idp::Entra, entra_wire()).await;
    for op in ["Add", "Replace"] {
        let res = entra
            .post(
                "/Users",
                &json!({"schemas":[USER],"userName":format!("noemail.{op}@contoso.com"),
                    "externalId":format!("ext-{op}"),"active":true}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
        let id = id_of(&res);
        let res = entra
            .patch(
                &format!("/Users/{id}"),
                &ops(json!([{"op":op,"path":"emails[type eq \"work\"].value","value":format!("{op}@contoso.com")}])),
            )
            .await;
        // Entra does not expect noTarget here.
        assert_eq!(res.status, 200, "{op}: {}", res.text);
        let user = entra.get(&format!("/Users/{id}")).await.body;
        assert_eq!(user["emails"].as_array().unwrap().len(), 1, "{user}");
        assert_eq!(user["emails"][0]["type"], "work");
        assert_eq!(user["emails"][0]["value"], format!("{op}@contoso.com"));
        // And Entra's email match finds it.
        let res = entra
            .get(&format!(
                "/Users?filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22{op}%40contoso.com%22"
            ))
            .await;
        assert_one(&res, &id);
    }
}

#[tokio::test]
async fn disable_and_reenable_with_every_boolean_spelling() {
    let app = TestApp::spawn().await;
    let entra = app.idp(Idp::Entra, entra_wire()).await;
    let id = create(&entra, "cycle@contoso.com", "ext-cycle", "cycle@contoso.com").await;
    let path = format!("/Users/{id}");
    let spellings = [
        ("Replace", json!("False"), false),
        ("Replace", json!("True"), true),
        ("Replace", json!("false"), false),
        ("Replace", json!("true"), true),
        // The docs' "Disable User" example mixes the two dialects.
        ("Replace", json!(false), false),
        ("replace", json!(true), true),
    ];
    for (op, value, expected) in spellings {
        let res = entra
            .patch(&path, &ops(json!([{"op":op,"path":"active","value":value}])))
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(res.body["active"], expected, "{}", res.text);
        // Still retrievable while inactive, by id and by the matching filter.
        let user = entra.get(&path).await;
        assert_eq!(user.status, 200);
        assert_eq!(user.body["active"], expected);
        assert_one(
            &entra
                .get("/Users?filter=userName+eq+%22cycle%40contoso.com%22")
                .await,
            &id,
        );
    }
    // A boolean that is not one: a SCIM error naming the attribute, nothing changed.
    let res = entra
        .patch(
            &path,
            &ops(json!([{"op":"Replace","path":"active","value":"Maybe"}])),
        )
        .await;
    res.assert_error(400, Some("invalidValue"));
    assert!(
        res.body["detail"].as_str().unwrap().contains("active"),
        "{}",
        res.text
    );
    assert_eq!(entra.get(&path).await.body["active"], true);

    // Hard delete after the soft-delete period: 204, then gone.
    let res = entra.delete(&path).await;
    assert_eq!(res.status, 204, "{}", res.text);
    entra.get(&path).await.assert_error(404, None);
    assert_empty_list(
        &entra
            .get("/Users?filter=userName+eq+%22cycle%40contoso.com%22")
            .await,
    );
}

#[tokio::test]
async fn groups_without_members_then_membership_in_both_dialects() {
    let app = TestApp::spawn().await;
    let entra = app.idp(Idp::Entra, entra_wire()).await;
    let mut users = Vec::new();
    for n in 0..4 {
        users.push(
            create(
                &entra,
                &format!("g{n}@contoso.com"),
                &format!("ext-g{n}"),
                &format!("g{n}@contoso.com"),
            )
            .await,
        );
    }

    // Match on displayName without members.
    let res = entra
        .get("/Groups?excludedAttributes=members&filter=displayName+eq+%22displayName%22")
        .await;
    assert_empty_list(&res);

    // Create with Entra's non-standard schema URN and no members: 201, id, members [].
    let res = entra
        .post(
            "/Groups",
            &json!({"schemas":[GROUP,MS_GROUP],
                "externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                "displayName":"displayName","meta":{"resourceType":"Group"}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let gid = id_of(&res);
    assert_eq!(res.body["members"], json!([]), "{}", res.text);
    assert_eq!(res.body["externalId"], "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");
    assert_eq!(res.body["displayName"], "displayName");
    let gpath = format!("/Groups/{gid}");

    // The match now finds it, without members even when it has some.
    let res = entra
        .get("/Groups?excludedAttributes=members&filter=displayName+eq+%22displayName%22")
        .await;
    assert_one(&res, &gid);

    // displayName is unique: a second create with the same name is 409.
    let res = entra
        .post(
            "/Groups",
            &json!({"schemas":[GROUP,MS_GROUP],"externalId":"other","displayName":"displayName"}),
        )
        .await;
    res.assert_error(409, Some("uniqueness"));

    // Rename: 204.
    let res = entra
        .patch(
            &gpath,
            &ops(json!([{"op":"Replace","path":"displayName","value":"1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}])),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    assert!(res.text.is_empty());

    // Add several members in one op, with `$ref: null`: 204.
    let res = entra
        .patch(
            &gpath,
            &ops(json!([{"op":"Add","path":"members","value":[
                {"$ref":null,"value":users[0]},
                {"$ref":null,"value":users[1]},
                {"$ref":null,"value":users[2]},
                {"$ref":null,"value":users[3]}]}])),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);

    // Adding members already there changes nothing and is no error (Entra re-sends them).
    let res = entra
        .patch(
            &gpath,
            &ops(json!([{"op":"Add","path":"members","value":[{"$ref":null,"value":users[0]}]}])),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    assert_eq!(member_ids(&entra, &gpath).await.len(), 4);

    // Nested groups arrive as a group's id among the members. They are not supported: the
    // whole request is refused with a detail that says so, and nothing of it is applied.
    let other = entra
        .post(
            "/Groups",
            &json!({"schemas":[GROUP,MS_GROUP],"externalId":"nested","displayName":"Nested"}),
        )
        .await;
    let nested = id_of(&other);
    let res = entra
        .patch(
            &gpath,
            &ops(json!([
                {"op":"Remove","path":"members","value":[{"$ref":null,"value":users[3]}]},
                {"op":"Add","path":"members","value":[{"$ref":null,"value":nested}]}])),
        )
        .await;
    res.assert_error(400, Some("invalidValue"));
    let detail = res.body["detail"].as_str().unwrap();
    assert!(
        detail.contains(&nested) && detail.contains("nested groups"),
        "{detail}"
    );
    assert_eq!(member_ids(&entra, &gpath).await.len(), 4);

    // Get without members: no `members` key at all.
    let res = entra.get(&format!("{gpath}?excludedAttributes=members")).await;
    assert_eq!(res.status, 200);
    assert!(res.body.get("members").is_none(), "{}", res.text);
    assert_eq!(
        res.body["displayName"],
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    );
    let res = entra
        .get("/Groups?excludedAttributes=members&filter=displayName+eq+%221879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName%22")
        .await;
    assert_one(&res, &gid);
    assert!(res.body["Resources"][0].get("members").is_none(), "{}", res.text);

    // Remove, default dialect: `path: members` with a value list removes exactly those.
    let res = entra
        .patch(
            &gpath,
            &ops(json!([{"op":"Remove","path":"members","value":[{"$ref":null,"value":users[0]}]}])),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    let members = member_ids(&entra, &gpath).await;
    assert_eq!(
        members,
        HashSet::from([users[1].clone(), users[2].clone(), users[3].clone()])
    );

    // Remove, flagged dialect: a filtered path.
    let res = entra
        .patch(
            &gpath,
            &ops(json!([{"op":"remove","path":format!("members[value eq \"{}\"]", users[1])}])),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    let members = member_ids(&entra, &gpath).await;
    assert_eq!(members, HashSet::from([users[2].clone(), users[3].clone()]));

    // Removing one who is not a member removes nobody else.
    let res = entra
        .patch(
            &gpath,
            &ops(json!([{"op":"Remove","path":"members","value":[{"$ref":null,"value":users[0]}]}])),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    assert_eq!(member_ids(&entra, &gpath).await.len(), 2);

    // Delete: 204, then 404; the member users remain.
    assert_eq!(entra.delete(&gpath).await.status, 204);
    entra.get(&gpath).await.assert_error(404, None);
    assert_eq!(entra.get(&format!("/Users/{}", users[2])).await.status, 200);
}

async fn member_ids(entra: &IdpClient<'_>, gpath: &str) -> HashSet<String> {
    let res = entra.get(gpath).await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn list_with_pagination() {
    let app = TestApp::spawn().await;
    let entra = app.idp(Idp::Entra, entra_wire()).await;
    for n in 0..25 {
        create(
            &entra,
            &format!("page{n}@contoso.com"),
            &format!("ext-p{n}"),
            &format!("page{n}@contoso.com"),
        )
        .await;
    }
    let first = entra.get("/Users?startIndex=1&count=20").await;
    assert_eq!(first.body["totalResults"], 25);
    assert_eq!(first.body["itemsPerPage"], 20);
    let second = entra.get("/Users?startIndex=21&count=20").await;
    assert_eq!(second.body["itemsPerPage"], 5);
    assert_eq!(second.body["startIndex"], 21);
    let ids: HashSet<&str> = first.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second.body["Resources"].as_array().unwrap())
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 25);
}

/// Entra exports in parallel and retries what timed out, so the same create and membership
/// changes can race. Every racer gets a clean answer (201 once and 409 for the rest; 204 for
/// every member add), never a 5xx, and the result is as if they had run one after another.
#[tokio::test]
async fn parallel_creates_and_member_adds_race_cleanly() {
    let app = TestApp::spawn().await;
    let entra = app.idp(Idp::Entra, entra_wire()).await;
    let body = entra_user("race@contoso.com", "ext-race", "race@contoso.com");
    let post = || entra.post("/Users", &body);
    let r = tokio::join!(post(), post(), post(), post(), post(), post(), post(), post());
    let all = [r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7];
    let created: Vec<&Resp> = all.iter().filter(|r| r.status == 201).collect();
    assert_eq!(
        created.len(),
        1,
        "{:?}",
        all.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for res in all.iter().filter(|r| r.status != 201) {
        res.assert_error(409, Some("uniqueness"));
    }
    let res = entra
        .get("/Users?filter=userName+eq+%22race%40contoso.com%22")
        .await;
    assert_one(&res, created[0].body["id"].as_str().unwrap());

    // Eight members added to one group at once, each in its own PATCH.
    let mut users = Vec::new();
    for n in 0..8 {
        users.push(
            create(
                &entra,
                &format!("racer{n}@contoso.com"),
                &format!("ext-r{n}"),
                &format!("racer{n}@contoso.com"),
            )
            .await,
        );
    }
    let res = entra
        .post(
            "/Groups",
            &json!({"schemas":[GROUP],"displayName":"Racers","externalId":"racers"}),
        )
        .await;
    let gid = id_of(&res);
    let gpath = format!("/Groups/{gid}");
    let bodies: Vec<Value> = users
        .iter()
        .map(|u| ops(json!([{"op":"Add","path":"members","value":[{"$ref":null,"value":u}]}])))
        .collect();
    let add = |n: usize| entra.patch(&gpath, &bodies[n]);
    let r = tokio::join!(add(0), add(1), add(2), add(3), add(4), add(5), add(6), add(7));
    for res in [r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7] {
        assert_eq!(res.status, 204, "{}", res.text);
    }
    let members = member_ids(&entra, &gpath).await;
    assert_eq!(members, users.iter().cloned().collect::<HashSet<_>>());
    // Each change bumped the version once.
    let res = entra.get(&gpath).await;
    assert_eq!(res.body["meta"]["version"], "W/\"9\"", "{}", res.text);

    // The same group created twice at once: one 201, one 409.
    let group = json!({"schemas":[GROUP],"displayName":"Twice","externalId":"twice"});
    let (a, b) = tokio::join!(entra.post("/Groups", &group), entra.post("/Groups", &group));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{} / {}", a.text, b.text);
}
