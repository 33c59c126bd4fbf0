//! The real `scimd` binary as an operator runs it: first start with `--bootstrap`, health
//! checks, SIGTERM letting in-flight requests finish, and start-up errors that are one line.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

use crate::harness::{Scratch, eventually};

const WAIT: Duration = Duration::from_secs(30);

/// A running `scimd serve`.
pub struct Scimd {
    child: tokio::process::Child,
    /// `http://127.0.0.1:PORT`, from the "scimd listening" log line.
    pub origin: String,
    pub addr: String,
    stdout: Lines<BufReader<ChildStdout>>,
    logs: Arc<Mutex<String>>,
}

impl Scimd {
    /// Starts the binary with `args`, in `dir`, with `env` added to this process's environment
    /// (or replacing it, with `clear_env`), and waits until it listens.
    pub async fn start(
        args: &[&str],
        env: &[(String, String)],
        clear_env: bool,
        dir: &std::path::Path,
    ) -> Scimd {
        let mut command = Command::new(env!("CARGO_BIN_EXE_scimd"));
        if clear_env {
            command.env_clear();
        }
        command
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("scimd starts");
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let logs = Arc::new(Mutex::new(String::new()));
        let (listening, addr) = tokio::sync::oneshot::channel::<String>();
        let sink = logs.clone();
        tokio::spawn(async move {
            let mut listening = Some(listening);
            while let Ok(Some(line)) = stderr.next_line().await {
                if line.contains("scimd listening")
                    && let Ok(entry) = serde_json::from_str::<Value>(&line)
                    && let (Some(addr), Some(tx)) = (entry["fields"]["addr"].as_str(), listening.take())
                {
                    let _ = tx.send(addr.to_string());
                }
                let mut logs = sink.lock().unwrap();
                logs.push_str(&line);
                logs.push('\n');
            }
        });
        let addr = match tokio::time::timeout(WAIT, addr).await {
            Ok(Ok(addr)) => addr,
            _ => panic!("scimd did not start: {}", logs.lock().unwrap()),
        };
        Scimd {
            child,
            origin: format!("http://{addr}"),
            addr,
            stdout,
            logs,
        }
    }

    /// The server's process id (to read its `/proc` entries).
    pub fn pid(&self) -> u32 {
        self.child.id().expect("still running")
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Waits until a log line contains `needle` (stderr is read on its own, so a log line
    /// written before a stdout line may arrive after it).
    pub async fn wait_for_log(&self, needle: &str) {
        // The child process writes when it writes: wall time is inherent.
        eventually(&format!("a log line with {needle:?}"), WAIT, || async {
            let logs = self.logs();
            if logs.contains(needle) { Ok(()) } else { Err(logs) }
        })
        .await
    }

    /// The next line the server prints on stdout.
    pub async fn stdout_line(&mut self) -> String {
        match tokio::time::timeout(WAIT, self.stdout.next_line()).await {
            Ok(Ok(Some(line))) => line,
            other => panic!("no line on stdout ({other:?}); logs: {}", self.logs()),
        }
    }

    /// Lines on stdout until a blank one (or the end).
    pub async fn stdout_block(&mut self) -> String {
        let mut block = String::new();
        while let Ok(Ok(Some(line))) = tokio::time::timeout(WAIT, self.stdout.next_line()).await {
            if line.is_empty() && !block.is_empty() {
                break;
            }
            block.push_str(&line);
            block.push('\n');
        }
        block
    }

    pub fn sigterm(&self) {
        let pid = self.child.id().expect("still running").to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub async fn wait(&mut self) -> ExitStatus {
        match tokio::time::timeout(WAIT, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!("scimd did not stop: {}", self.logs()),
        }
    }

    /// SIGTERM, then the exit status, which must be success: a clean stop.
    pub async fn stop(mut self) -> ExitStatus {
        self.sigterm();
        let status = self.wait().await;
        assert!(status.success(), "{status:?}; logs:\n{}", self.logs());
        status
    }
}

/// `scimd --json serve --bootstrap` on `url`, in `dir`: the server, the account's SCIM base URL
/// and its SCIM token.
// Not every test binary uses every helper.
#[allow(dead_code)]
pub async fn bootstrapped(url: &str, dir: &std::path::Path) -> (Scimd, String, String) {
    let mut server = Scimd::start(
        &["--json", "serve", "--bootstrap", "--listen", "127.0.0.1:0"],
        &database_env(url),
        false,
        dir,
    )
    .await;
    let first: Value = serde_json::from_str(&server.stdout_line().await).unwrap();
    let base = first["scim_base_url"].as_str().unwrap().to_string();
    let token = first["scim_token"].as_str().unwrap().to_string();
    (server, base, token)
}

/// POST `body` to `{base}/Users` with `token`; `Err` when no answer came (a cut connection).
#[allow(dead_code)]
pub async fn post_user(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    body: &Value,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!("{base}/Users"))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
}

/// A one-shot command (`scimd account list`, …) against `url`.
pub fn scimd_cli(url: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .expect("scimd runs")
}

pub fn database_env(url: &str) -> Vec<(String, String)> {
    vec![("DATABASE_URL".to_string(), url.to_string())]
}

#[tokio::test]
async fn bootstrap_creates_one_account_and_tokens_that_work_once() {
    let (_scratch, url) = Scratch::new();
    let dir = std::env::temp_dir();
    let mut server = Scimd::start(
        &["--json", "serve", "--bootstrap", "--listen", "127.0.0.1:0"],
        &database_env(&url),
        false,
        &dir,
    )
    .await;
    let first: Value = serde_json::from_str(&server.stdout_line().await).unwrap();
    let base = first["scim_base_url"].as_str().unwrap().to_string();
    assert_eq!(
        base,
        format!(
            "{}/scim/account/{}",
            server.origin,
            first["account_id"].as_str().unwrap()
        )
    );
    let client = crate::harness::http_client();
    let get = |token: &str| {
        client
            .get(format!("{base}/Users"))
            .header("Authorization", format!("Bearer {token}"))
            .send()
    };
    assert_eq!(
        get(first["scim_token"].as_str().unwrap()).await.unwrap().status(),
        200
    );
    // The admin token is a token of the same account, but not for the SCIM API.
    assert_eq!(
        get(first["admin_token"].as_str().unwrap())
            .await
            .unwrap()
            .status(),
        401
    );
    // The CLI works on the same database while the server runs.
    let out = scimd_cli(&url, &["--json", "account", "list"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let accounts: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(accounts.as_array().unwrap().len(), 1, "{accounts}");
    assert!(server.stop().await.success());

    // A second --bootstrap creates nothing and prints no token.
    let mut again = Scimd::start(
        &["serve", "--bootstrap", "--listen", "127.0.0.1:0"],
        &database_env(&url),
        false,
        &dir,
    )
    .await;
    let said = again.stdout_line().await;
    assert!(said.contains("created nothing"), "{said}");
    assert!(again.stop().await.success());
    let out = scimd_cli(&url, &["--json", "account", "list"]);
    let accounts: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(accounts.as_array().unwrap().len(), 1, "{accounts}");
}

#[tokio::test]
async fn first_start_without_an_account_says_how_to_make_one() {
    let (_scratch, url) = Scratch::new();
    let mut server = Scimd::start(
        &["serve", "--listen", "127.0.0.1:0"],
        &database_env(&url),
        false,
        &std::env::temp_dir(),
    )
    .await;
    let said = server.stdout_line().await;
    assert!(
        said.contains("scimd serve --bootstrap") && said.contains("scimd account create"),
        "{said}"
    );
    server.wait_for_log("no account yet").await;
    assert!(server.stop().await.success());
}

#[tokio::test]
async fn human_bootstrap_output_is_shell_lines_that_work() {
    let (_scratch, url) = Scratch::new();
    let mut server = Scimd::start(
        &["serve", "--bootstrap", "--listen", "127.0.0.1:0"],
        &database_env(&url),
        false,
        &std::env::temp_dir(),
    )
    .await;
    let block = server.stdout_block().await;
    let block = format!("{block}{}", server.stdout_block().await);
    let exported = |name: &str| {
        block
            .lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}=")))
            .unwrap_or_else(|| panic!("no {name} in {block}"))
            .to_string()
    };
    let res = crate::harness::http_client()
        .get(format!("{}/Users", exported("SCIM_BASE")))
        .header("Authorization", format!("Bearer {}", exported("SCIM_TOKEN")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(block.contains("shown only this once"), "{block}");
    // With the lines pasted, scimd's own commands still work, without a warning (an exported
    // SCIMD_* name would be read as an unknown setting).
    let vars: Vec<(String, String)> = block
        .lines()
        .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(vars.len(), 4, "{block}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args([
            "token",
            "create",
            "--account",
            &exported("ACCOUNT_ID"),
            "--idp",
            "okta",
            "-q",
        ])
        .env("DATABASE_URL", &url)
        .envs(vars)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("warning:"), "{stderr}");
    assert!(server.stop().await.success());
}

#[tokio::test]
async fn healthcheck_command_follows_readiness() {
    let (_scratch, url) = Scratch::new();
    let server = Scimd::start(
        &["serve", "--listen", "127.0.0.1:0"],
        &database_env(&url),
        false,
        &std::env::temp_dir(),
    )
    .await;
    let origin = server.origin.clone();
    let out = scimd_cli(&url, &["healthcheck", "--url", &origin]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(server.stop().await.success());
    let out = scimd_cli(&url, &["healthcheck", "--url", &origin]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("cannot reach"), "{stderr}");
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish_and_refuses_new_ones() {
    let (_scratch, url) = Scratch::new();
    let mut server = Scimd::start(
        &["--json", "serve", "--bootstrap", "--listen", "127.0.0.1:0"],
        &database_env(&url),
        false,
        &std::env::temp_dir(),
    )
    .await;
    let first: Value = serde_json::from_str(&server.stdout_line().await).unwrap();
    let path = first["scim_base_url"]
        .as_str()
        .unwrap()
        .strip_prefix(&server.origin)
        .unwrap()
        .to_string();
    let body = br#"{"userName": "in-flight@example.com"}"#;
    let (head, tail) = body.split_at(10);

    // A request whose body is still arriving when the signal comes.
    let mut conn = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    let headers = format!(
        "POST {path}/Users HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        server.addr,
        first["scim_token"].as_str().unwrap(),
        body.len()
    );
    conn.write_all(headers.as_bytes()).await.unwrap();
    conn.write_all(head).await.unwrap();
    // Until the server is answering it: two requests in flight, it and the scrape that asks.
    // The child process reads the request when it does: wall time is inherent.
    let client = crate::harness::http_client();
    eventually("the server is answering the request", WAIT, || async {
        let metrics = client
            .get(format!("{}/metrics", server.origin))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        match crate::observability::sample(&metrics, "scimd_http_requests_in_flight") {
            n if n >= 2.0 => Ok(()),
            n => Err(format!("{n} requests in flight")),
        }
    })
    .await;
    server.sigterm();
    server.wait_for_log("draining in-flight requests").await;
    // New connections are refused from now on.
    eventually("the listener closes", Duration::from_secs(5), || async {
        match tokio::net::TcpStream::connect(&server.addr).await {
            Ok(_) => Err("a connection was accepted".to_string()),
            Err(_) => Ok(()),
        }
    })
    .await;

    conn.write_all(tail).await.unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    assert!(response.contains("in-flight@example.com"), "{response}");
    let status = server.wait().await;
    assert!(status.success(), "{status:?}");
    server.wait_for_log("scimd stopped").await;
}

/// `scimd migrate` with `database_url`: exit status 1 and exactly one line on stderr.
fn one_line_error(database_url: &str) -> String {
    let out = scimd_cli(database_url, &["migrate"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{database_url}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{database_url}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn unusable_database_urls_are_one_line_errors() {
    let missing_dir = std::env::temp_dir().join("scimd_no_such_dir").join("scimd.db");
    let stderr = one_line_error(&format!("sqlite://{}", missing_dir.display()));
    assert!(
        stderr.contains("scimd_no_such_dir does not exist") && stderr.contains("database_url"),
        "{stderr}"
    );
    assert!(!missing_dir.parent().unwrap().exists(), "no directory is created");

    // A directory where the file should be, and a place nothing can be written.
    let stderr = one_line_error(&format!("sqlite://{}", std::env::temp_dir().display()));
    assert!(stderr.contains("is a directory; name a file in it"), "{stderr}");
    let stderr = one_line_error("sqlite:///proc/scimd.db");
    assert!(
        stderr.starts_with("error: cannot open the database at sqlite:///proc/scimd.db:")
            && stderr.contains("must be writable"),
        "{stderr}"
    );

    let stderr = one_line_error("mysql://scimd:secret@127.0.0.1/scimd");
    assert!(
        stderr.contains("sqlite://") && stderr.contains("postgres://") && !stderr.contains("secret"),
        "{stderr}"
    );
    let stderr = one_line_error("sqlite://scimd.db?mode=bogus");
    assert!(stderr.contains("bogus"), "{stderr}");
}

#[tokio::test]
async fn the_access_log_gives_the_latency_as_a_number_of_milliseconds() {
    let (_scratch, url) = Scratch::new();
    let server = Scimd::start(
        &["serve", "--listen", "127.0.0.1:0"],
        &database_env(&url),
        false,
        &std::env::temp_dir(),
    )
    .await;
    let res = reqwest::get(format!("{}/healthz", server.origin)).await.unwrap();
    assert_eq!(res.status(), 200);
    server.wait_for_log("finished processing request").await;
    let logs = server.logs();
    let line: Value = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["message"] == "finished processing request")
        .unwrap();
    let fields = &line["fields"];
    assert!(fields["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{line}");
    assert_eq!(fields["status"], 200, "{line}");
    assert!(fields.get("latency").is_none(), "{line}");
    assert_eq!(line["span"]["path"], "/healthz", "{line}");
    server.stop().await;
}

/// Waits until a write load has had more than `n` writes acknowledged (polled, with a
/// deadline): the load is under way, however fast or slow the machine.
pub async fn until_acknowledged(acknowledged: &Mutex<Vec<String>>, n: usize) {
    eventually(&format!("more than {n} writes acknowledged"), WAIT, || async {
        match acknowledged.lock().unwrap().len() {
            done if done > n => Ok(()),
            done => Err(format!("{done} acknowledged")),
        }
    })
    .await
}
