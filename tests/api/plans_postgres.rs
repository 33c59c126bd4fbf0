//! Postgres answers `sw` (starts with) from an index, whatever collation the database was
//! created with: this project's Postgres is C.UTF-8, under which a default btree on text cannot
//! serve a prefix, so before migration 0006 `userName sw "…"` read every user of the account.
//! The plans are read with the store's own EXPLAIN of the list query, on an account big enough
//! (3,000 users and groups, analysed) that a sequential scan would be the planner's choice if no
//! index could answer.

use scimd::scim::filter::parse_filter;
use scimd::store::{ListQuery, ResourceKind};
use sqlx::Connection;

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
