//! Test harness: each test gets a fresh database, a real scimd server on 127.0.0.1:0, an
//! account and a SCIM token; everything is torn down when the `TestApp` drops. The server's
//! rules read the time from a manual clock that stands still until a test advances it
//! (`TestApp::advance`), so expiry and rate-limit windows are tested without waiting.
//!
//! The suite is compiled twice (Cargo.toml declares `api_postgres` and `api_sqlite` on this
//! same source), and the binary's name picks the store, so every test runs against both:
//! - Postgres: a fresh database `scimd_test_*` on the server `TEST_DATABASE_URL` names
//!   (default postgres://postgres@127.0.0.1:5432/postgres), dropped afterwards;
//! - SQLite: a fresh file in a temporary directory of its own, removed afterwards.

use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

use scimd::clock::ManualClock;
use scimd::config::Config;
use scimd::server::{self, App};
use scimd::service::{Idp, TokenKind};
use scimd::store::Backend;

/// The store this test binary runs against, from its name.
pub fn backend() -> Backend {
    match env!("CARGO_CRATE_NAME") {
        "api_sqlite" => Backend::Sqlite,
        "api_postgres" => Backend::Postgres,
        other => panic!("test binary {other:?}: name it api_postgres or api_sqlite in Cargo.toml"),
    }
}

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

/// Where a test's database lives, removed when the test ends.
pub enum Scratch {
    /// A database on the Postgres test server.
    Postgres(String),
    /// A temporary directory holding the SQLite file.
    Sqlite(PathBuf),
}

impl Scratch {
    /// The test's unique name (`scimd_test_…`): the database's, or the directory's.
    pub fn name(&self) -> String {
        match self {
            Scratch::Postgres(name) => name.clone(),
            Scratch::Sqlite(dir) => dir.file_name().unwrap().to_string_lossy().to_string(),
        }
    }

    /// A new, empty place for a database, and the `database_url` that names it.
    pub fn new() -> (Scratch, String) {
        let name = format!("scimd_test_{}", Uuid::new_v4().simple());
        match backend() {
            Backend::Postgres => {
                let url = database_url(&name);
                (Scratch::Postgres(name), url)
            }
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(name);
                std::fs::create_dir_all(&dir).expect("creates a temporary directory");
                let url = format!("sqlite://{}", dir.join("scimd.db").display());
                (Scratch::Sqlite(dir), url)
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        match self {
            Scratch::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Scratch::Postgres(name) => {
                let name = name.clone();
                // The test's runtime cannot be blocked on from here: drop the database from a
                // thread of its own. FORCE ends the connections the server's pool still holds.
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
    }
}

/// How often [`eventually`] looks again.
const POLL: Duration = Duration::from_millis(20);

/// Polls `probe` every 20 ms until it yields `Ok`, and fails at `deadline` with `what` and what
/// the probe saw last. Only for what happens on wall time outside the test's control (a child
/// process, a socket, a connection pool, a background write, a fault proxy, a collector): what
/// scimd decides by its own clock is tested with [`TestApp::advance`] instead, without waiting.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(seen) if tokio::time::Instant::now() >= until => {
                panic!("{what}: not so after {deadline:?}; last seen: {seen}")
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// An HTTP client for a test: scimd's rustls provider installed first (`scimd::install_tls_provider`),
/// which every reqwest client of the process needs.
pub fn http_client() -> reqwest::Client {
    http_client_builder().build().expect("an HTTP client builds")
}

pub fn http_client_builder() -> reqwest::ClientBuilder {
    scimd::install_tls_provider();
    reqwest::Client::builder()
}

pub struct TestApp {
    pub origin: String,
    pub account: Uuid,
    pub token: String,
    pub token_id: Uuid,
    /// Unique per test (`scimd_test_…`), for names of files a test writes.
    pub db_name: String,
    pub config: Config,
    pub app: App,
    /// The time the server's rules read: still until advanced.
    pub clock: ManualClock,
    client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// Last, so the database goes after the server has been told to stop.
    _scratch: Scratch,
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
        let (scratch, url) = Scratch::new();
        let mut config = Config::load(None).expect("default configuration loads");
        config.database_url = url;
        config.listen = "127.0.0.1:0".into();
        config.database_max_connections = 8;
        configure(&mut config);
        // The clock stands still until a test advances it, and so does the rate limiter's
        // refill: a test that sends more than `rate_limit_burst` (1,000) requests of one
        // account turns limiting off (`c.rate_limit_per_second = 0`), as the load tests do.
        let clock = ManualClock::new();
        let app = App::open_with_clock(&config, clock.clock())
            .await
            .expect("test database opens");
        let listener = server::bind(&config.listen).await.expect("binds 127.0.0.1:0");
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let router = app.router(&config);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let limits = server::Limits::from_config(&config);
        tokio::spawn(server::serve_with(
            listener,
            router,
            async {
                let _ = rx.await;
            },
            Duration::from_secs(1),
            limits,
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
            db_name: scratch.name(),
            config,
            app,
            clock,
            client: http_client(),
            shutdown: Some(tx),
            _scratch: scratch,
        }
    }

    /// Moves the server's clock forward by `by`: what expires in that time has expired.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
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

    /// A client that sends exactly the headers of one IdP, with a token labelled for it.
    pub async fn idp(&self, idp: Idp, wire: Wire) -> IdpClient<'_> {
        let issued = self
            .app
            .service
            .create_token(self.account, TokenKind::Scim, Some(idp), None, None)
            .await
            .unwrap();
        IdpClient {
            app: self,
            token: issued.token,
            wire,
        }
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

    /// One HTTP/1.1 request with exactly these headers (plus `Host` and, with a body,
    /// `Content-Length`), on a fresh connection; `target` is the path and query, sent verbatim.
    pub async fn exact(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Resp {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let addr = self.origin.trim_start_matches("http://");
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(body) = body {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connects");
        stream.write_all(head.as_bytes()).await.unwrap();
        if let Some(body) = body {
            stream.write_all(body).await.unwrap();
        }

        // Read the head, then exactly the body it announces (the connection may stay open).
        let mut buf = Vec::new();
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await.expect("reads the response");
            assert!(n > 0, "connection closed before the response head");
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let mut map = reqwest::header::HeaderMap::new();
        for line in lines.filter(|l| !l.is_empty()) {
            let (k, v) = line.split_once(':').expect("a header line");
            map.append(
                reqwest::header::HeaderName::from_bytes(k.trim().as_bytes()).unwrap(),
                reqwest::header::HeaderValue::from_str(v.trim()).unwrap(),
            );
        }
        let mut rest = buf[head_end..].to_vec();
        let chunked = map
            .get("transfer-encoding")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"));
        let length: Option<usize> = map
            .get("content-length")
            .and_then(|v| v.to_str().ok()?.parse().ok());
        let no_body = status == 204 || status == 304 || method == "HEAD";
        let body = if no_body {
            Vec::new()
        } else if let Some(len) = length {
            while rest.len() < len {
                let mut chunk = [0u8; 8192];
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "connection closed inside the body");
                rest.extend_from_slice(&chunk[..n]);
            }
            rest.truncate(len);
            rest
        } else if chunked {
            loop {
                if let Some(decoded) = dechunk(&rest) {
                    break decoded;
                }
                let mut chunk = [0u8; 8192];
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "connection closed inside a chunked body");
                rest.extend_from_slice(&chunk[..n]);
            }
        } else {
            stream.read_to_end(&mut rest).await.unwrap();
            rest
        };
        let text = String::from_utf8_lossy(&body).to_string();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers: map,
            text,
            body,
        }
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

    /// A connection to this test's database, for checks a client cannot make. It is store
    /// neutral (`sqlx::Any`), so write SQL both stores read: `$1` placeholders, ids compared
    /// as text (`CAST(id AS TEXT) = $1`), `true`/`false` for booleans.
    pub async fn sql(&self) -> sqlx::AnyConnection {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        use sqlx::Connection;
        sqlx::AnyConnection::connect(&self.config.database_url)
            .await
            .unwrap()
    }

    /// Every row of `table`, each as one line of text holding all its columns.
    pub async fn table_text(&self, table: &str) -> Vec<String> {
        use sqlx::Row;
        let mut conn = self.sql().await;
        let select = match backend() {
            Backend::Postgres => format!("SELECT row_to_json(t)::text FROM {table} t"),
            Backend::Sqlite => {
                let columns: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT name FROM pragma_table_info('{table}')"
                )))
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .map(|r| format!("quote({})", r.get::<String, _>(0)))
                .collect();
                format!("SELECT {} FROM {table}", columns.join(" || ' ' || "))
            }
        };
        sqlx::query(sqlx::AssertSqlSafe(select))
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect()
    }
}

/// The headers one IdP puts on the wire. Nothing else is added (no default Accept or
/// Content-Type), so a test sees exactly what the server gets from that IdP.
#[derive(Debug, Clone, Default)]
pub struct Wire {
    /// On every request.
    pub headers: Vec<(&'static str, &'static str)>,
    /// Content-Type of a request with a body (`None`: none is sent).
    pub body_type: Option<&'static str>,
    /// Content-Type also sent on requests without a body (Okta sends one even on DELETE).
    pub bodiless_type: Option<&'static str>,
}

/// Sends requests as one IdP does: its headers, its token, bodies as raw text.
pub struct IdpClient<'a> {
    pub app: &'a TestApp,
    pub token: String,
    pub wire: Wire,
}

impl IdpClient<'_> {
    /// `path` is below the account's SCIM base URL and may carry a query string, sent as given
    /// (so `+` and `%20` reach the server as the IdP encoded them). Written on a socket of its
    /// own rather than through reqwest, which would add `Accept: */*` to every request: Entra's
    /// GETs carry no Accept at all, and that is what the server must see.
    pub async fn request(&self, method: Method, path: &str, body: Option<String>) -> Resp {
        let auth = format!("Bearer {}", self.token);
        let mut headers: Vec<(&str, &str)> = vec![("Authorization", &auth)];
        headers.extend(self.wire.headers.iter().copied());
        let content_type = if body.is_some() {
            self.wire.body_type
        } else {
            self.wire.bodiless_type
        };
        if let Some(ct) = content_type {
            headers.push(("Content-Type", ct));
        }
        let target = format!("/scim/account/{}{}", self.app.account, path);
        self.app
            .exact(
                method.as_str(),
                &target,
                &headers,
                body.as_deref().map(str::as_bytes),
            )
            .await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.request(Method::POST, path, Some(body.to_string())).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.request(Method::PUT, path, Some(body.to_string())).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.request(Method::PATCH, path, Some(body.to_string())).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.request(Method::DELETE, path, None).await
    }
}

/// A complete chunked body decoded, or `None` while more bytes are needed.
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&raw[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if raw.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
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
    }
}

impl Resp {
    /// Asserts an admin-API error: RFC 9457 problem details (`application/problem+json`).
    #[track_caller]
    pub fn assert_problem(&self, status: u16) {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        assert_eq!(self.body["status"], status, "{}", self.text);
        assert_eq!(self.body["type"], "about:blank", "{}", self.text);
        let reason = reqwest::StatusCode::from_u16(status)
            .unwrap()
            .canonical_reason()
            .unwrap();
        assert_eq!(self.body["title"], reason, "{}", self.text);
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{}",
            self.text
        );
        assert!(self.body.get("schemas").is_none(), "not a SCIM error: {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text
        );
    }
}
