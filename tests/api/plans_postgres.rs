//! Postgres answers `sw` (starts with) from an index, whatever collation the database was
//! created with: this project's Postgres is C.UTF-8, under which a default btree on text cannot
//! serve a prefix, so before migration 0006 `userName sw "…"` read every user of the account.
//! The plans are read with the store's own EXPLAIN of the list query, on an account big enough
//! (3,000 users and groups, analysed) that a sequential scan would be the planner's choice if no
//! index could answer.

use scimd::scim::filter::parse_filter;
use scimd::store::{ListQuery, Lookup, ResourceKind};
use sqlx::Connection;

use crate::adminkit::Admin;
use crate::harness::TestApp;

#[tokio::test]
async fn starts_with_filters_use_an_index_whatever_the_database_collation() {
    let app = TestApp::spawn().await;
    let mut db = sqlx::PgConnection::connect(&app.config.database_url)
        .await
        .unwrap();
    for sql in [
        "INSERT INTO users (account_id, id, user_name, user_name_ci, external_id, display_name, display_name_ci,
                            active, doc, source, idp_managed, created_at, last_modified, primary_email_ci)
         SELECT $1, gen_random_uuid(), 'user' || i || '@plan.example', 'user' || i || '@plan.example', 'ext' || i,
                'Name ' || i, 'name ' || i, true, jsonb_build_object('userName', 'user' || i || '@plan.example'),
                'okta', true, now(), now(), 'user' || i || '@plan.example'
         FROM generate_series(1, 3000) AS i",
        "INSERT INTO user_values (account_id, user_id, attr, ord, value, value_ci, type_ci, is_primary)
         SELECT account_id, id, 'emails', 0, user_name, user_name_ci, 'work', true FROM users WHERE account_id = $1",
        "INSERT INTO groups (account_id, id, display_name, display_name_ci, external_id, doc, source, idp_managed,
                             identifier, created_at, last_modified)
         SELECT $1, gen_random_uuid(), 'Group ' || i, 'group ' || i, 'gx' || i,
                jsonb_build_object('displayName', 'Group ' || i), 'okta', true, 'group_' || i, now(), now()
         FROM generate_series(1, 3000) AS i",
    ] {
        sqlx::query(sql).bind(app.account).execute(&mut db).await.unwrap();
    }
    sqlx::query("ANALYZE").execute(&mut db).await.unwrap();
    let cases = [
        (ResourceKind::User, r#"userName sw "user123""#),
        (ResourceKind::User, r#"externalId sw "ext123""#),
        (ResourceKind::User, r#"displayName sw "NAME 123""#),
        (ResourceKind::User, r#"emails.value sw "user123""#),
        (ResourceKind::Group, r#"displayName sw "group 123""#),
        (ResourceKind::Group, r#"externalId sw "gx123""#),
    ];
    for (kind, filter) in cases {
        let query = ListQuery {
            filter: Some(parse_filter(filter).unwrap()),
            sort: None,
            start_index: 1,
            count: 100,
            keyset: None,
            resume: None,
            resource_type: None,
        };
        let plan = app
            .app
            .store
            .explain_list(kind, app.account, &query)
            .await
            .unwrap();
        assert!(!plan.contains("Seq Scan"), "{filter}: a sequential scan\n{plan}");
        assert!(plan.contains("Index"), "{filter}: no index\n{plan}");
    }
    // And the answers are right: the range is exactly the strings with the prefix.
    let res = app
        .get("/Users?filter=userName%20sw%20%22user123%22&count=0")
        .await;
    assert_eq!(res.body["totalResults"], 11, "{}", res.text); // 123 and 1230–1239
    let res = app
        .get("/Groups?filter=displayName%20sw%20%22GROUP%2029%22&count=0")
        .await;
    assert_eq!(res.body["totalResults"], 111, "{}", res.text); // 29, 290–299, 2900–2999
}

/// A deep page by position skips rows reading ids from the primary key only (no row of the
/// table is read for a skipped position), a resumed page is a range on that key, and the total
/// of an unfiltered list is the kept count: none of them reads the account's rows in bulk.
#[tokio::test]
async fn deep_and_resumed_pages_read_the_page_not_what_comes_before() {
    let app = TestApp::spawn().await;
    let mut db = sqlx::PgConnection::connect(&app.config.database_url)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO users (account_id, id, user_name, user_name_ci, active, doc, source, idp_managed,
                            created_at, last_modified)
         SELECT $1, gen_random_uuid(), 'deep' || i, 'deep' || i, true,
                jsonb_build_object('userName', 'deep' || i), 'okta', true, now(), now()
         FROM generate_series(1, 5000) AS i",
    )
    .bind(app.account)
    .execute(&mut db)
    .await
    .unwrap();
    // As autovacuum leaves a table that was written: visible to index-only scans.
    sqlx::query("VACUUM ANALYZE users")
        .execute(&mut db)
        .await
        .unwrap();
    let explain = |query: ListQuery| {
        let app = &app;
        async move {
            app.app
                .store
                .explain_list(ResourceKind::User, app.account, &query)
                .await
                .unwrap()
        }
    };
    let page = |start_index, resume| ListQuery {
        filter: None,
        sort: None,
        start_index,
        count: 100,
        keyset: None,
        resume,
        resource_type: None,
    };
    let deep = explain(page(4001, None)).await;
    assert!(deep.contains("Index Only Scan"), "{deep}");
    assert!(!deep.contains("Seq Scan"), "{deep}");
    // The kept count: resource_counts, not a count over users.
    assert!(deep.contains("resource_counts"), "{deep}");
    assert_eq!(
        deep.matches("Aggregate").count(),
        1,
        "only the counts are summed\n{deep}"
    );

    let row: (uuid::Uuid,) =
        sqlx::query_as("SELECT id FROM users WHERE account_id = $1 ORDER BY id OFFSET 3999 LIMIT 1")
            .bind(app.account)
            .fetch_one(&mut db)
            .await
            .unwrap();
    let resumed = explain(page(4001, Some(scimd::store::Keyset { key: None, id: row.0 }))).await;
    assert!(!resumed.contains("Seq Scan"), "{resumed}");
    // A range on the key: no node of the plan handles more than the page's rows, where an
    // OFFSET reads the 4,000 rows before it.
    assert!(resumed.contains("users_pkey"), "{resumed}");
    assert!(most_rows(&resumed).is_some_and(|n| n <= 100), "{resumed}");
    assert_eq!(
        most_rows(&deep),
        Some(4100),
        "the deep page skips by index: {deep}"
    );
}

/// The most rows any node of an `EXPLAIN ANALYZE` plan handled.
fn most_rows(plan: &str) -> Option<u64> {
    plan.split("rows=")
        .skip(1)
        .filter_map(|s| s.split(|c: char| !c.is_ascii_digit()).next()?.parse::<u64>().ok())
        .max()
}

/// A filter on an attribute of a declared extension schema is answered from the `user_values`
/// index like a core attribute without a column, at 100,000 users: an index scan for `eq` and
/// `sw`, never a sequential scan of the account's users or values (issue 18).
#[tokio::test]
async fn declared_extension_filters_use_the_value_index_at_100000_users() {
    use scimd::service::Caller;
    let app = TestApp::spawn().await;
    let urn = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
    let operator = Caller::operator(app.account, "test");
    app.app
        .service
        .declare_schema(
            &operator,
            &serde_json::json!({"id": urn, "attributes": [{"name": "costCenter", "type": "string"}]}),
            scimd::scim::schema::declare::Extends::User,
            false,
        )
        .await
        .unwrap();
    let mut db = sqlx::PgConnection::connect(&app.config.database_url)
        .await
        .unwrap();
    // Rows as the server writes them: the document under the URN, and the filter rows keyed by
    // the lower-cased path (store::derived::value_key).
    for sql in [
        "INSERT INTO users (account_id, id, user_name, user_name_ci, active, doc, source, idp_managed,
                            created_at, last_modified)
         SELECT $1, gen_random_uuid(), 'ext' || i, 'ext' || i, true,
                jsonb_build_object('userName', 'ext' || i, $2::text, jsonb_build_object('costCenter', 'CC-' || i)),
                'okta', true, now(), now()
         FROM generate_series(1, 100000) AS i",
        "INSERT INTO user_values (account_id, user_id, attr, ord, value, value_ci, type_ci, is_primary)
         SELECT account_id, id, lower($2 || '.costCenter'), 0, doc -> $2 ->> 'costCenter',
                lower(doc -> $2 ->> 'costCenter'), NULL, false
         FROM users WHERE account_id = $1",
        "INSERT INTO user_values (account_id, user_id, attr, ord, value, value_ci, type_ci, is_primary)
         SELECT account_id, id, 'emails', 0, user_name || '@example.com', user_name || '@example.com', 'work', true
         FROM users WHERE account_id = $1",
    ] {
        sqlx::query(sql)
            .bind(app.account)
            .bind(urn)
            .execute(&mut db)
            .await
            .unwrap();
    }
    sqlx::query("VACUUM ANALYZE").execute(&mut db).await.unwrap();
    let types = app.app.service.types(&operator).await.unwrap();
    for filter in [
        format!(r#"{urn}:costCenter eq "cc-4242""#),
        format!(r#"{urn}:costCenter sw "CC-4242""#),
    ] {
        let query = ListQuery {
            filter: Some(parse_filter(&filter).unwrap()),
            sort: None,
            start_index: 1,
            count: 100,
            keyset: None,
            resume: None,
            resource_type: Some(types.user),
        };
        let plan = app
            .app
            .store
            .explain_list(ResourceKind::User, app.account, &query)
            .await
            .unwrap();
        println!("{filter}\n{plan}\n");
        assert!(!plan.contains("Seq Scan"), "{filter}: a sequential scan\n{plan}");
        assert!(
            plan.contains("Index Scan using user_values_value_ci"),
            "{filter}: not the value index\n{plan}"
        );
    }
    // Sorting by it reads the users in the value index's order, joined to their rows by
    // primary key: a page costs its own rows — the first in either direction, and a cursor
    // page half-way through — not the account's.
    let halfway = scimd::store::KeysetPage {
        after: Some(scimd::store::Keyset {
            key: Some("cc-5".to_string()),
            id: uuid::Uuid::nil(),
        }),
    };
    for (keyset, descending) in [(None, false), (None, true), (Some(halfway), false)] {
        let query = ListQuery {
            filter: None,
            sort: Some(scimd::store::Sort {
                by: scimd::scim::path::parse_attr_path(&format!("{urn}:costCenter")).unwrap(),
                descending,
            }),
            start_index: 1,
            count: 100,
            keyset,
            resume: None,
            resource_type: Some(types.user),
        };
        let plan = app
            .app
            .store
            .explain_list(ResourceKind::User, app.account, &query)
            .await
            .unwrap();
        println!("sortBy {urn}:costCenter, descending {descending}\n{plan}\n");
        // (resource_counts, a row per account and store process, is read whole: the total.)
        assert!(
            !plan.contains("Seq Scan on users") && !plan.contains("Seq Scan on user_values"),
            "a sequential scan\n{plan}"
        );
        assert!(
            plan.contains("Index Scan using user_values_value_ci_idx on user_values s")
                || plan.contains("Index Scan Backward using user_values_value_ci_idx on user_values s"),
            "not read in the value index's order\n{plan}"
        );
        assert!(plan.contains("Index Scan using users_pkey on users t"), "{plan}");
        if let Some(halfway) = &query.keyset {
            assert!(
                halfway.after.is_some() && plan.contains("(value_ci >= 'cc-5'::text))"),
                "not a range\n{plan}"
            );
        }
    }
    let res = app
        .get(&format!(
            "/Users?sortBy={urn}:costCenter&sortOrder=descending&count=2"
        ))
        .await;
    assert_eq!(res.body["totalResults"], 100000, "{}", res.text);
    // Text order of the lower-cased keys: "cc-99999" is the greatest.
    assert_eq!(
        res.body["Resources"][0][urn]["costCenter"], "CC-99999",
        "{}",
        res.text
    );
    assert_eq!(
        res.body["Resources"][1][urn]["costCenter"], "CC-99998",
        "{}",
        res.text
    );

    // And through HTTP, the answers.
    let res = app
        .get(&format!("/Users?filter={urn}:costCenter%20eq%20%22cc-4242%22"))
        .await;
    assert_eq!(res.body["totalResults"], 1, "{}", res.text);
    assert_eq!(res.body["Resources"][0][urn]["costCenter"], "CC-4242");
    let res = app
        .get(&format!(
            "/Users?filter={urn}:costCenter%20sw%20%22CC-4242%22&count=0"
        ))
        .await;
    assert_eq!(res.body["totalResults"], 11, "{}", res.text); // 4242 and 42420–42429
}

/// A user's groups are found from the user's side even by the generic plan of the prepared
/// statement, and even when the statistics are those of a nearly empty database (as right
/// after a bulk load, before autovacuum analyses it): before, that plan walked every member of
/// the account's groups to find one user's (a `userName eq` lookup for a member of a
/// 5,000-member group ran at a third of the rate of a GET by id).
#[tokio::test]
async fn a_users_groups_are_read_from_the_member_index_by_the_generic_plan() {
    let app = TestApp::spawn().await;
    let mut db = sqlx::PgConnection::connect(&app.config.database_url)
        .await
        .unwrap();
    for sql in [
        // No statistics (the tables of a new database were never analysed), and none while
        // the test runs: what a bulk load into a new database has until autovacuum's analyse.
        "ALTER TABLE groups SET (autovacuum_enabled = false)",
        "ALTER TABLE group_members SET (autovacuum_enabled = false)",
        "ALTER TABLE users SET (autovacuum_enabled = false)",
        "INSERT INTO users (account_id, id, user_name, user_name_ci, active, doc, source, idp_managed,
                            created_at, last_modified)
         SELECT $1, gen_random_uuid(), 'm' || i, 'm' || i, true, jsonb_build_object('userName', 'm' || i),
                'okta', true, now(), now()
         FROM generate_series(1, 3000) AS i",
        "INSERT INTO groups (account_id, id, display_name, display_name_ci, doc, source, idp_managed,
                             identifier, created_at, last_modified)
         VALUES ($1, gen_random_uuid(), 'Everyone', 'everyone', '{\"displayName\": \"Everyone\"}', 'okta', true,
                 'everyone', now(), now())",
        "INSERT INTO group_members (account_id, group_id, member_id, member_type, origin)
         SELECT $1, g.id, u.id, 'User', 'idp' FROM groups g, users u
         WHERE g.account_id = $1 AND u.account_id = $1",
    ] {
        sqlx::query(sql).bind(app.account).execute(&mut db).await.unwrap();
    }
    let user: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM users WHERE account_id = $1 AND user_name_ci = 'm777'")
            .bind(app.account)
            .fetch_one(&mut db)
            .await
            .unwrap();
    let plan = app
        .app
        .store
        .explain_lookup(app.account, Lookup::GroupsOf(&[user]))
        .await
        .unwrap();
    assert!(
        plan.contains("group_members_member_idx"),
        "not from the member index:\n{plan}"
    );
    assert!(
        most_rows(&plan).is_some_and(|n| n <= 10) && !plan.contains("Rows Removed by Filter"),
        "read more than the user's own memberships:\n{plan}"
    );
    // And the answer through SCIM is the user with its group.
    let res = app.get("/Users?filter=userName%20eq%20%22m777%22").await;
    assert_eq!(
        res.body["Resources"][0]["groups"][0]["display"], "Everyone",
        "{}",
        res.text
    );
}

/// R4's adoption lookup, which every `POST /Users` makes before it inserts, probes the two
/// unique-key indexes even by the generic plan of its prepared statement on tables that were
/// never analysed (an IdP's first import into a new database). Before, that plan read every
/// user of the account to find none: 1.3 ms a create at 9,000 users, growing with the account.
#[tokio::test]
async fn the_adoption_lookup_probes_the_key_indexes_by_the_generic_plan() {
    let app = TestApp::spawn().await;
    let mut db = sqlx::PgConnection::connect(&app.config.database_url)
        .await
        .unwrap();
    for sql in [
        "ALTER TABLE users SET (autovacuum_enabled = false)",
        "INSERT INTO users (account_id, id, user_name, user_name_ci, active, doc, source, idp_managed,
                            primary_email_ci, created_at, last_modified)
         SELECT $1, gen_random_uuid(), 'm' || i, 'm' || i, true, jsonb_build_object('userName', 'm' || i),
                'okta', true, 'm' || i || '@example.com', now(), now()
         FROM generate_series(1, 3000) AS i",
    ] {
        sqlx::query(sql).bind(app.account).execute(&mut db).await.unwrap();
    }
    let keys = [
        "m777".to_string(),
        "m778@example.com".to_string(),
        "nobody's@example.com".to_string(),
    ];
    let plan = app
        .app
        .store
        .explain_lookup(app.account, Lookup::UsersByNameOrEmail(&keys))
        .await
        .unwrap();
    assert!(
        plan.contains("users_user_name_ci_key") && plan.contains("users_primary_email_ci_idx"),
        "not from the key indexes:\n{plan}"
    );
    assert!(
        most_rows(&plan).is_some_and(|n| n <= 3) && !plan.contains("Rows Removed by Filter"),
        "read more users than the keys name:\n{plan}"
    );
    // Through SCIM: a native user found by its primary email is adopted, not duplicated.
    let native = Admin::new(&app).await.user("jane", "Jane.Doe@Example.com").await;
    let res = app
        .post(
            "/Users",
            serde_json::json!({"userName": "jane.doe",
                               "emails": [{"value": "jane.doe@example.com", "primary": true}]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["id"], native.as_str(), "{}", res.text);
}
