//! Test harness: each test gets a fresh Postgres database, a real scimd server on
//! 127.0.0.1:0, an account and a SCIM token; everything is torn down when the `TestApp` drops.
//!
//! `TEST_DATABASE_URL` names the Postgres server to use (default
//! postgres://postgres@127.0.0.1:5432/postgres); test databases are created beside it.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

use scimd::config::Config;
use scimd::server::{self, App};
use scimd::service::{Idp, TokenKind};

pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The URL of database `name` on the test server.
pub fn database_url(name: &str) -> String {
    let admin = admin_url();
    let (base, _) = admin
        .rsplit_once('/')
        .expect("TEST_DATABASE_URL has a database name");
    format!("{base}/{name}")
}

pub struct TestApp {
    pub origin: String,
    pub account: Uuid,
    pub token: String,
    pub token_id: Uuid,
    pub config: Config,
    pub app: App,
    pub db_name: String,
    client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// A response, with the body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts this is a SCIM error with `status` (and `scim_type` when given).
    #[track_caller]
    pub fn assert_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        assert_eq!(
            self.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{}",
            self.text
        );
        assert_eq!(self.body["status"], status.to_string(), "{}", self.text);
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{}",
            self.text
        );
        assert!(
            self.header("content-type")
                .is_some_and(|ct| ct.starts_with("application/scim+json")),
            "content-type {:?}",
            self.header("content-type")
        );
        if let Some(t) = scim_type {
            assert_eq!(self.body["scimType"], t, "{}", self.text);
        }
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> TestApp {
        let db_name = format!("scimd_test_{}", Uuid::new_v4().simple());
        let mut config = Config::load(None).expect("default configuration loads");
        config.database_url = database_url(&db_name);
        config.listen = "127.0.0.1:0".into();
        config.database_max_connections = 8;
        configure(&mut config);
        let app = App::open(&config).await.expect("test database opens");
        let listener = server::bind(&config.listen).await.expect("binds 127.0.0.1:0");
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let router = app.router(&config);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server::serve(
            listener,
            router,
            async {
                let _ = rx.await;
            },
            Duration::from_secs(1),
        ));
        let account = app.service.create_account("Test account").await.unwrap();
        let issued = app
            .service
            .create_token(account.id, TokenKind::Scim, Some(Idp::Okta), None, None)
            .await
            .unwrap();
        TestApp {
            origin,
            account: account.id,
            token: issued.token,
            token_id: issued.record.id,
            config,
            app,
            db_name,
            client: reqwest::Client::new(),
            shutdown: Some(tx),
        }
    }

    /// Another account with its own SCIM token.
    pub async fn other_account(&self) -> (Uuid, String) {
        let account = self.app.service.create_account("Other account").await.unwrap();
        let issued = self
            .app
            .service
            .create_token(account.id, TokenKind::Scim, Some(Idp::Entra), None, None)
            .await
            .unwrap();
        (account.id, issued.token)
    }

    /// `/scim/account/{account}` + path.
    pub fn scim(&self, path: &str) -> String {
        format!("{}/scim/account/{}{}", self.origin, self.account, path)
    }

    pub async fn send(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self.client.request(method, url);
        if let Some(token) = token {
            req = req.header("Authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            req = req
                .header("Content-Type", "application/scim+json; charset=utf-8")
                .body(body.to_string());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        finish(req).await
    }

    pub async fn raw(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        let mut req = self.client.request(method, url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.body(body);
        }
        finish(req).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, &self.scim(path), Some(&self.token), None, &[])
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(
            Method::POST,
            &self.scim(path),
            Some(&self.token),
            Some(&body),
            &[],
        )
        .await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PUT, &self.scim(path), Some(&self.token), Some(&body), &[])
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(
            Method::PATCH,
            &self.scim(path),
            Some(&self.token),
            Some(&body),
            &[],
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, &self.scim(path), Some(&self.token), None, &[])
            .await
    }

    /// Creates a user from a minimal body and returns its id.
    pub async fn user(&self, user_name: &str) -> String {
        let res = self
            .post(
                "/Users",
                serde_json::json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": user_name,
                    "name": {"givenName": "Given", "familyName": "Family"},
                    "emails": [{"value": user_name, "type": "work", "primary": true}],
                    "active": true
                }),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
        res.body["id"].as_str().unwrap().to_string()
    }

    pub async fn group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|m| serde_json::json!({"value": m})).collect();
        let res = self
            .post(
                "/Groups",
                serde_json::json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": name,
                    "members": members
                }),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
        res.body["id"].as_str().unwrap().to_string()
    }

    /// Runs SQL against this test's database (for checks a client cannot make).
    pub async fn sql(&self) -> sqlx::PgConnection {
        use sqlx::Connection;
        sqlx::PgConnection::connect(&self.config.database_url)
            .await
            .unwrap()
    }
}

async fn finish(req: reqwest::RequestBuilder) -> Resp {
    let res = req.send().await.expect("request reaches the server");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        text,
        body,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let name = self.db_name.clone();
        // The test's runtime cannot be blocked on from here: drop the database from a thread of
        // its own. FORCE ends the connections the server's pool still holds.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url()).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            });
        })
        .join();
    }
}

impl Resp {
    /// Asserts an admin-API error: the SCIM error body, served as plain JSON.
    #[track_caller]
    pub fn assert_error_json(&self, status: u16) {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        assert_eq!(self.body["status"], status.to_string(), "{}", self.text);
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{}",
            self.text
        );
        assert!(
            self.header("content-type")
                .is_some_and(|ct| ct.starts_with("application/json")),
            "content-type {:?}",
            self.header("content-type")
        );
    }
}
