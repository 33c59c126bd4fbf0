//! Scale benchmark: does changing one member cost the same for a group of 10 and of 100,000,
//! and is a userName lookup in an account of 100,000 users an index lookup?
//!
//! Runs a real scimd (release build) on 127.0.0.1:0 against a fresh database and drives it over
//! HTTP. `cargo bench --bench scale` (env: BENCH_STORE=postgres (default) or sqlite,
//! TEST_DATABASE_URL as for the tests, BENCH_USERS, BENCH_ROUNDS). Exits non-zero when a claim
//! does not hold. See docs/benchmarks.md.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::Connection;
use uuid::Uuid;

use scimd::config::Config;
use scimd::scim::filter::parse_filter;
use scimd::server::{self, App};
use scimd::service::{Idp, TokenKind};
use scimd::store::{ListQuery, ResourceKind};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A direct connection for seeding, in each store's SQL.
enum Seed {
    Postgres(sqlx::PgConnection),
    Sqlite(sqlx::SqliteConnection),
}

impl Seed {
    async fn open(url: &str) -> Seed {
        if url.starts_with("sqlite:") {
            Seed::Sqlite(sqlx::SqliteConnection::connect(url).await.unwrap())
        } else {
            Seed::Postgres(sqlx::PgConnection::connect(url).await.unwrap())
        }
    }

    /// `n` users `user{i}@bench.example`, each with a familyName indexed in user_values as
    /// the store would write it.
    async fn users(&mut self, account: Uuid, n: usize) {
        match self {
            Seed::Postgres(conn) => {
                sqlx::query(
                    "INSERT INTO users (account_id, id, user_name, user_name_ci, active, doc, source, idp_managed, created_at, last_modified)
                     SELECT $1, gen_random_uuid(), 'user' || i || '@bench.example', 'user' || i || '@bench.example', true,
                            jsonb_build_object('userName', 'user' || i || '@bench.example', 'active', true), 'okta', true, now(), now()
                     FROM generate_series(1, $2) AS i",
                )
                .bind(account)
                .bind(n as i64)
                .execute(&mut *conn)
                .await
                .unwrap();
                sqlx::query(
                    "INSERT INTO user_values (account_id, user_id, attr, ord, value, value_ci)
                     SELECT account_id, id, 'name.familyName', 0, 'Family' || split_part(user_name, '@', 1),
                            'family' || split_part(user_name, '@', 1)
                     FROM users WHERE account_id = $1",
                )
                .bind(account)
                .execute(&mut *conn)
                .await
                .unwrap();
            }
            Seed::Sqlite(conn) => {
                // Ids: random 128-bit values in UUID text form; times in the store's form.
                sqlx::query(
                    "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?2)
                     INSERT INTO users (account_id, id, user_name, user_name_ci, active, doc, source, idp_managed, created_at, last_modified)
                     SELECT ?1, lower(substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-' ||
                                      substr(h, 17, 4) || '-' || substr(h, 21, 12)),
                            'user' || i || '@bench.example', 'user' || i || '@bench.example', 1,
                            json_object('userName', 'user' || i || '@bench.example', 'active', json('true')), 'okta', 1,
                            strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z', strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'
                     FROM (SELECT i, hex(randomblob(16)) AS h FROM s)",
                )
                .bind(account.hyphenated())
                .bind(n as i64)
                .execute(&mut *conn)
                .await
                .unwrap();
                sqlx::query(
                    "INSERT INTO user_values (account_id, user_id, attr, ord, value, value_ci)
                     SELECT account_id, id, 'name.familyName', 0,
                            'Family' || substr(user_name, 1, instr(user_name, '@') - 1),
                            'family' || substr(user_name, 1, instr(user_name, '@') - 1)
                     FROM users WHERE account_id = ?1",
                )
                .bind(account.hyphenated())
                .execute(&mut *conn)
                .await
                .unwrap();
            }
        }
    }

    /// The first `size` users (in id order) become members of `group`.
    async fn members(&mut self, account: Uuid, group: Uuid, size: i64) {
        match self {
            Seed::Postgres(conn) => {
                sqlx::query(
                    "INSERT INTO group_members (account_id, group_id, member_id, origin)
                     SELECT $1, $2, id, 'idp' FROM users WHERE account_id = $1 ORDER BY id LIMIT $3",
                )
                .bind(account)
                .bind(group)
                .bind(size)
                .execute(&mut *conn)
                .await
                .unwrap();
            }
            Seed::Sqlite(conn) => {
                sqlx::query(
                    "INSERT INTO group_members (account_id, group_id, member_id, origin)
                     SELECT ?1, ?2, id, 'idp' FROM users WHERE account_id = ?1 ORDER BY id LIMIT ?3",
                )
                .bind(account.hyphenated())
                .bind(group.hyphenated())
                .bind(size)
                .execute(&mut *conn)
                .await
                .unwrap();
            }
        }
    }

    /// Postgres plans from fresh statistics; the SQLite store pins its own (see
    /// src/store/sqlite.rs), which an ANALYZE here would replace.
    async fn analyze(&mut self) {
        if let Seed::Postgres(conn) = self {
            sqlx::query("ANALYZE").execute(&mut *conn).await.unwrap();
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let users = env_usize("BENCH_USERS", 100_000);
    let rounds = env_usize("BENCH_ROUNDS", 300);
    let store = std::env::var("BENCH_STORE").unwrap_or_else(|_| "postgres".into());
    let admin = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db = format!("scimd_bench_{}", Uuid::new_v4().simple());
    let dir = std::env::temp_dir().join(&db);
    let mut config = Config::load(None).expect("configuration");
    config.database_url = match store.as_str() {
        "postgres" => format!("{}/{db}", admin.rsplit_once('/').unwrap().0),
        "sqlite" => {
            std::fs::create_dir_all(&dir).unwrap();
            format!("sqlite://{}/scimd.db", dir.display())
        }
        other => panic!("BENCH_STORE must be postgres or sqlite, not {other:?}"),
    };
    config.listen = "127.0.0.1:0".into();
    config.log_level = "warn".into();
    println!("store: {store}");
    // The benchmark measures request cost, not the overload guard.
    config.rate_limit_per_second = 0;

    let app = App::open(&config).await.expect("database");
    let listener = server::bind(&config.listen).await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::serve(
        listener,
        app.router(&config),
        async {
            let _ = stopped.await;
        },
        Duration::from_secs(1),
    ));
    let account = app.service.create_account("bench").await.unwrap().id;
    let token = app
        .service
        .create_token(account, TokenKind::Scim, Some(Idp::Okta), None, None)
        .await
        .unwrap()
        .token;
    let base = format!("{origin}/scim/account/{account}");
    scimd::install_tls_provider();
    let client = reqwest::Client::new();
    let auth = format!("Bearer {token}");

    // Seed with set-based SQL: the benchmark measures requests, not the seeding.
    let t = Instant::now();
    let mut seed = Seed::open(&config.database_url).await;
    seed.users(account, users).await;
    let mut group_ids = Vec::new();
    for (name, size) in [("small", 10i64), ("big", users as i64)] {
        let res = client
            .post(format!("{base}/Groups"))
            .header("Authorization", &auth)
            .header("Content-Type", "application/scim+json")
            .body(json!({"displayName": name}).to_string())
            .send()
            .await
            .unwrap();
        let id: Uuid = res.json::<serde_json::Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        seed.members(account, id, size).await;
        group_ids.push((name, id, size));
    }
    seed.analyze().await;
    let probe: String = client
        .post(format!("{base}/Users"))
        .header("Authorization", &auth)
        .header("Content-Type", "application/scim+json")
        .body(json!({"userName": "probe@bench.example"}).to_string())
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    println!(
        "seeded {users} users, groups of 10 and {users} members in {:.1?}",
        t.elapsed()
    );

    // Add the probe to a group, then take it out again; only the add is timed. Rounds
    // alternate between the groups so both see the same machine conditions.
    let patch = |group: Uuid, op: serde_json::Value| {
        client
            .patch(format!("{base}/Groups/{group}"))
            .header("Authorization", &auth)
            .header("Content-Type", "application/scim+json")
            .body(json!({"schemas": [PATCH], "Operations": [op]}).to_string())
            .send()
    };
    let mut timings: Vec<Vec<Duration>> = vec![Vec::new(), Vec::new()];
    for round in 0..rounds + 30 {
        for (i, (_, group, _)) in group_ids.iter().enumerate() {
            let start = Instant::now();
            let res = patch(
                *group,
                json!({"op": "add", "path": "members", "value": [{"value": probe}]}),
            )
            .await
            .unwrap();
            let took = start.elapsed();
            assert_eq!(res.status(), 204);
            let res = patch(
                *group,
                json!({"op": "remove", "path": format!("members[value eq \"{probe}\"]")}),
            )
            .await
            .unwrap();
            assert_eq!(res.status(), 204);
            if round >= 30 {
                timings[i].push(took);
            }
        }
    }
    let mut medians = Vec::new();
    println!("\n| group size | PATCH add one member: median | p95 | rounds |\n|---|---|---|---|");
    for (i, (_, _, size)) in group_ids.iter().enumerate() {
        timings[i].sort();
        let median = percentile(&timings[i], 0.5);
        medians.push(median);
        println!(
            "| {size} | {:.2?} | {:.2?} | {rounds} |",
            median,
            percentile(&timings[i], 0.95)
        );
    }
    let ratio = medians[1].as_secs_f64() / medians[0].as_secs_f64();
    println!("\nratio big/small (median): {ratio:.2}");

    // The userName lookup an IdP makes before every create.
    let mut lookups = Vec::new();
    for i in 0..rounds {
        let start = Instant::now();
        let res = client
            .get(format!(
                "{base}/Users?filter=userName%20eq%20%22USER{}%40bench.example%22&startIndex=1&count=100",
                i * 7 + 1
            ))
            .header("Authorization", &auth)
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = res.json().await.unwrap();
        lookups.push(start.elapsed());
        assert_eq!(body["totalResults"], 1);
    }
    lookups.sort();
    println!(
        "GET /Users?filter=userName eq (account of {users}): median {:.2?}, p95 {:.2?}",
        percentile(&lookups, 0.5),
        percentile(&lookups, 0.95)
    );
    let query = ListQuery {
        filter: Some(parse_filter(r#"userName eq "user4242@bench.example""#).unwrap()),
        sort: None,
        start_index: 1,
        count: 100,
        keyset: None,
        resume: None,
        resource_type: None,
    };
    let plan = app
        .store
        .explain_list(ResourceKind::User, account, &query)
        .await
        .unwrap();
    println!("\nplan of that list query:\n{plan}");

    // A filter on an attribute without a column of its own goes through user_values.
    let mut eav_lookups = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let n = (i * 7919) % users + 1;
        let start = Instant::now();
        let res = client
            .get(format!(
                "{base}/Users?filter=name.familyName%20eq%20%22familyuser{n}%22"
            ))
            .header("Authorization", &auth)
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = res.json().await.unwrap();
        eav_lookups.push(start.elapsed());
        assert_eq!(body["totalResults"], 1, "{body}");
    }
    eav_lookups.sort();
    println!(
        "GET /Users?filter=name.familyName eq (account of {users}): median {:.2?}, p95 {:.2?}",
        percentile(&eav_lookups, 0.5),
        percentile(&eav_lookups, 0.95)
    );
    let eav_query = ListQuery {
        filter: Some(parse_filter(r#"name.familyName eq "FamilyUser4242""#).unwrap()),
        sort: None,
        start_index: 1,
        count: 100,
        keyset: None,
        resume: None,
        resource_type: None,
    };
    let eav_plan = app
        .store
        .explain_list(ResourceKind::User, account, &eav_query)
        .await
        .unwrap();
    println!("\nplan of that list query:\n{eav_plan}");

    let _ = stop.send(());
    app.store.close().await;
    drop(seed);
    if store == "postgres"
        && let Ok(mut admin_conn) = sqlx::PgConnection::connect(&admin).await
    {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"
        )))
        .execute(&mut admin_conn)
        .await;
    }
    let _ = std::fs::remove_dir_all(&dir);

    let mut failed = false;
    if ratio > 2.0 {
        println!(
            "FAIL: adding a member to the {users}-member group costs {ratio:.2}x the 10-member group (limit 2x)"
        );
        failed = true;
    }
    if !plan.contains("users_user_name_ci_key") {
        println!("FAIL: the userName lookup does not use the users_user_name_ci_key index");
        failed = true;
    }
    if !eav_plan.contains("user_values_value_ci") {
        println!("FAIL: the name.familyName lookup does not use the user_values index");
        failed = true;
    }
    if failed {
        std::process::exit(1);
    }
    println!(
        "\nOK: membership cost is independent of group size; userName and name.familyName lookups are index scans"
    );
}
