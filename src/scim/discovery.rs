//! Discovery documents (RFC 7644 §4): ServiceProviderConfig, ResourceTypes and Schemas,
//! generated from the schema catalogue and from what the server is configured to do, so they
//! describe exactly what is implemented.
//!
//! Entra reads `/Schemas` with a strict deserializer: camelCase values and no `null` anywhere,
//! so optional members are left out rather than set to null or (for `canonicalValues`,
//! `referenceTypes`, `subAttributes`) to an empty array.

use serde_json::{Map, Value, json};

use crate::scim::schema::{AttrDef, ResourceType, Schema};

pub const SERVICE_PROVIDER_CONFIG_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// What this server supports; the HTTP layer fills it from configuration.
#[derive(Debug, Clone)]
pub struct Capabilities {
    /// Most resources one list page returns (`filter.maxResults`).
    pub max_results: usize,
    /// Page size when a client asks for none (`pagination.defaultPageSize`).
    pub default_count: usize,
    /// RFC 9865 `pagination.cursorTimeout`, in seconds.
    pub cursor_timeout_secs: u64,
    pub patch: bool,
    pub sort: bool,
    pub etag: bool,
    /// `Some((maxOperations, maxPayloadSize))` when /Bulk is served.
    pub bulk: Option<(usize, usize)>,
    pub documentation_uri: Option<String>,
}

/// `GET /ServiceProviderConfig`. `base_url` is the account's SCIM base URL, without a trailing
/// slash; it is used for `meta.location`.
pub fn service_provider_config(base_url: &str, caps: &Capabilities) -> Value {
    // RFC 7643 §5 makes maxOperations/maxPayloadSize REQUIRED even when bulk is off.
    let (bulk_supported, max_operations, max_payload_size) = match caps.bulk {
        Some((ops, size)) => (true, ops, size),
        None => (false, 0, 0),
    };
    let mut scheme = Map::new();
    scheme.insert("type".into(), json!("oauthbearertoken"));
    scheme.insert("name".into(), json!("OAuth Bearer Token"));
    scheme.insert("description".into(), json!("Bearer token issued by scimd (JWT)"));
    scheme.insert("specUri".into(), json!("https://www.rfc-editor.org/info/rfc6750"));
    if let Some(uri) = &caps.documentation_uri {
        scheme.insert("documentationUri".into(), json!(uri));
    }
    scheme.insert("primary".into(), json!(true));

    let mut out = Map::new();
    out.insert("schemas".into(), json!([SERVICE_PROVIDER_CONFIG_URN]));
    if let Some(uri) = &caps.documentation_uri {
        out.insert("documentationUri".into(), json!(uri));
    }
    out.insert("patch".into(), json!({"supported": caps.patch}));
    out.insert(
        "bulk".into(),
        json!({"supported": bulk_supported, "maxOperations": max_operations, "maxPayloadSize": max_payload_size}),
    );
    out.insert(
        "filter".into(),
        json!({"supported": true, "maxResults": caps.max_results}),
    );
    // RFC 9865 §4: both paging methods are served; index paging stays the default because
    // every IdP of docs/idp-notes.md pages with startIndex.
    out.insert(
        "pagination".into(),
        json!({
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": caps.default_count,
            "maxPageSize": caps.max_results,
            "cursorTimeout": caps.cursor_timeout_secs,
        }),
    );
    out.insert("changePassword".into(), json!({"supported": false}));
    out.insert("sort".into(), json!({"supported": caps.sort}));
    out.insert("etag".into(), json!({"supported": caps.etag}));
    out.insert("authenticationSchemes".into(), json!([scheme]));
    out.insert(
        "meta".into(),
        json!({"resourceType": "ServiceProviderConfig", "location": format!("{base_url}/ServiceProviderConfig")}),
    );
    Value::Object(out)
}

/// Every resource type, as in `GET /ResourceTypes`' `Resources`: `types` are an account's
/// (`schema::declare::AccountTypes::resource_types`), or the built-in `schema::resource_types()`.
pub fn resource_types(base_url: &str, types: &[&ResourceType]) -> Vec<Value> {
    types.iter().map(|rt| resource_type(base_url, rt)).collect()
}

/// One resource type (`GET /ResourceTypes/User`).
pub fn resource_type(base_url: &str, rt: &ResourceType) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([RESOURCE_TYPE_URN]));
    out.insert("id".into(), json!(rt.name));
    out.insert("name".into(), json!(rt.name));
    out.insert("endpoint".into(), json!(rt.endpoint));
    out.insert("description".into(), json!(rt.description));
    out.insert("schema".into(), json!(rt.schema.id));
    // RFC 7643 §6's Group example omits the member instead of sending an empty list.
    if !rt.extensions.is_empty() {
        let extensions: Vec<Value> = rt
            .extensions
            .iter()
            .map(|(ext, required)| json!({"schema": ext.id, "required": required}))
            .collect();
        out.insert("schemaExtensions".into(), Value::Array(extensions));
    }
    out.insert(
        "meta".into(),
        json!({"resourceType": "ResourceType", "location": format!("{base_url}/ResourceTypes/{}", rt.name)}),
    );
    Value::Object(out)
}

/// Every schema, as in `GET /Schemas`' `Resources` (RFC 7643 §7 representation): an
/// account's (`AccountTypes::schemas`), or the built-in `schema::all_schemas()`.
pub fn schemas(base_url: &str, schemas: &[&Schema]) -> Vec<Value> {
    schemas.iter().map(|s| schema_document(base_url, s)).collect()
}

/// One schema (`GET /Schemas/{urn}`).
pub fn schema_document(base_url: &str, schema: &Schema) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([SCHEMA_URN]));
    out.insert("id".into(), json!(schema.id));
    out.insert("name".into(), json!(schema.name));
    out.insert("description".into(), json!(schema.description));
    out.insert(
        "attributes".into(),
        Value::Array(schema.attributes.iter().map(AttrDef::to_json).collect()),
    );
    out.insert(
        "meta".into(),
        json!({"resourceType": "Schema", "location": format!("{base_url}/Schemas/{}", schema.id)}),
    );
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema;
    use crate::scim::schema::{ENTERPRISE_USER_URN, GROUP_URN, USER_URN};

    const BASE: &str = "https://scim.example.com/scim/account/42";

    fn caps() -> Capabilities {
        Capabilities {
            max_results: 200,
            default_count: 100,
            cursor_timeout_secs: 3600,
            patch: true,
            sort: false,
            etag: true,
            bulk: None,
            documentation_uri: None,
        }
    }

    fn assert_no_nulls(v: &Value, at: &str) {
        match v {
            Value::Null => panic!("null at {at}"),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .for_each(|(i, x)| assert_no_nulls(x, &format!("{at}[{i}]"))),
            Value::Object(m) => m
                .iter()
                .for_each(|(k, x)| assert_no_nulls(x, &format!("{at}.{k}"))),
            _ => {}
        }
    }

    #[test]
    fn service_provider_config_shape() {
        let spc = service_provider_config(BASE, &caps());
        assert_eq!(spc["schemas"], json!([SERVICE_PROVIDER_CONFIG_URN]));
        assert_eq!(spc["patch"], json!({"supported": true}));
        assert_eq!(
            spc["bulk"],
            json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 0})
        );
        assert_eq!(spc["filter"], json!({"supported": true, "maxResults": 200}));
        assert_eq!(spc["changePassword"], json!({"supported": false}));
        assert_eq!(spc["sort"], json!({"supported": false}));
        assert_eq!(spc["etag"], json!({"supported": true}));
        let scheme = &spc["authenticationSchemes"][0];
        assert_eq!(scheme["type"], "oauthbearertoken");
        assert_eq!(scheme["primary"], true);
        assert_eq!(scheme["name"], "OAuth Bearer Token");
        assert_eq!(scheme["description"], "Bearer token issued by scimd (JWT)");
        assert_eq!(spc["authenticationSchemes"].as_array().unwrap().len(), 1);
        assert!(spc.get("documentationUri").is_none());
        assert_eq!(
            spc["meta"],
            json!({"resourceType": "ServiceProviderConfig", "location": format!("{BASE}/ServiceProviderConfig")})
        );
        assert_no_nulls(&spc, "spc");

        let with = Capabilities {
            bulk: Some((1000, 1_048_576)),
            documentation_uri: Some("https://docs.example.com/scim".into()),
            ..caps()
        };
        let spc = service_provider_config(BASE, &with);
        assert_eq!(
            spc["bulk"],
            json!({"supported": true, "maxOperations": 1000, "maxPayloadSize": 1048576})
        );
        assert_eq!(spc["documentationUri"], "https://docs.example.com/scim");
        assert_eq!(
            spc["authenticationSchemes"][0]["documentationUri"],
            "https://docs.example.com/scim"
        );
    }

    #[test]
    fn resource_types_shape() {
        let rts = resource_types(BASE, &schema::resource_types());
        assert_eq!(rts.len(), 2);
        assert_eq!(
            rts[0],
            json!({"schemas": [RESOURCE_TYPE_URN], "id": "User", "name": "User", "endpoint": "/Users",
                   "description": "User Account", "schema": USER_URN,
                   "schemaExtensions": [{"schema": ENTERPRISE_USER_URN, "required": false}],
                   "meta": {"resourceType": "ResourceType", "location": format!("{BASE}/ResourceTypes/User")}})
        );
        assert_eq!(rts[1]["schema"], GROUP_URN);
        assert_eq!(rts[1]["endpoint"], "/Groups");
        assert!(rts[1].get("schemaExtensions").is_none());
        for rt in &rts {
            assert_no_nulls(rt, "resourceType");
        }
    }

    fn check_attribute(a: &Value, is_sub: bool) {
        let name = a["name"].as_str().unwrap();
        for key in [
            "name",
            "type",
            "multiValued",
            "description",
            "required",
            "caseExact",
            "mutability",
            "returned",
            "uniqueness",
        ] {
            assert!(a.get(key).is_some(), "{name} lacks {key}");
        }
        let ty = a["type"].as_str().unwrap();
        assert!(
            [
                "string",
                "boolean",
                "decimal",
                "integer",
                "dateTime",
                "binary",
                "reference",
                "complex"
            ]
            .contains(&ty),
            "{name}: {ty}"
        );
        assert!(
            ["readOnly", "readWrite", "immutable", "writeOnly"].contains(&a["mutability"].as_str().unwrap())
        );
        assert!(["always", "never", "default", "request"].contains(&a["returned"].as_str().unwrap()));
        assert!(["none", "server", "global"].contains(&a["uniqueness"].as_str().unwrap()));
        for optional in ["canonicalValues", "referenceTypes"] {
            if let Some(v) = a.get(optional) {
                assert!(!v.as_array().unwrap().is_empty(), "{name}: empty {optional}");
            }
        }
        assert_eq!(ty == "reference", a.get("referenceTypes").is_some(), "{name}");
        if ty == "complex" {
            assert!(!is_sub);
            let subs = a["subAttributes"].as_array().unwrap();
            assert!(!subs.is_empty());
            subs.iter().for_each(|s| check_attribute(s, true));
        } else {
            assert!(a.get("subAttributes").is_none(), "{name}");
        }
    }

    #[test]
    fn schemas_shape() {
        let all = schemas(BASE, &schema::all_schemas());
        let ids: Vec<&str> = all.iter().map(|s| s["id"].as_str().unwrap()).collect();
        assert_eq!(ids, vec![USER_URN, ENTERPRISE_USER_URN, GROUP_URN]);
        for s in &all {
            assert_no_nulls(s, s["id"].as_str().unwrap());
            assert_eq!(s["schemas"], json!([SCHEMA_URN]));
            assert_eq!(s["meta"]["resourceType"], "Schema");
            assert_eq!(
                s["meta"]["location"],
                format!("{BASE}/Schemas/{}", s["id"].as_str().unwrap())
            );
            assert!(s["name"].is_string() && s["description"].is_string());
            s["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .for_each(|a| check_attribute(a, false));
        }
        let user = &all[0];
        let user_name = user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "userName")
            .unwrap();
        assert_eq!(
            user_name,
            &json!({"name": "userName", "type": "string", "multiValued": false,
                    "description": user_name["description"], "required": true, "caseExact": false,
                    "mutability": "readWrite", "returned": "default", "uniqueness": "server"})
        );
        let names: Vec<&str> = user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert!(!names.contains(&"password") && !names.contains(&"id") && names.contains(&"groups"));
        let emails = user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "emails")
            .unwrap();
        let ty = emails["subAttributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "type")
            .unwrap();
        assert_eq!(ty["canonicalValues"], json!(["work", "home", "other"]));
        assert_eq!(all[1]["name"], "EnterpriseUser");
    }
}
