//! The `scimd` binary: accounts and tokens from the command line, and start-up errors.

use std::process::Command;

use reqwest::Method;
use serde_json::Value;

use crate::harness::{TestApp, admin_url};

fn scimd(app: &TestApp, args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(args)
        .env("DATABASE_URL", &app.config.database_url)
        .env("SCIMD_PUBLIC_URL", &app.origin)
        .output()
        .expect("scimd runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (
        out.status.success(),
        serde_json::from_str(stdout.trim()).unwrap_or(Value::Null),
        format!("{stdout}{stderr}"),
    )
}

#[tokio::test]
async fn accounts_and_tokens_from_the_cli_work_against_the_server() {
    let app = TestApp::spawn().await;
    let (ok, account, out) = scimd(&app, &["--json", "account", "create", "--name", "Acme"]);
    assert!(ok, "{out}");
    let id = account["id"].as_str().unwrap().to_string();
    assert_eq!(
        account["scim_base_url"],
        format!("{}/scim/account/{id}", app.origin)
    );

    let (ok, list, out) = scimd(&app, &["--json", "account", "list"]);
    assert!(ok, "{out}");
    assert!(list.as_array().unwrap().iter().any(|a| a["id"] == id.as_str()));

    let (ok, token, out) = scimd(
        &app,
        &[
            "--json",
            "token",
            "create",
            "--account",
            &id,
            "--kind",
            "scim",
            "--idp",
            "entra",
            "--ttl",
            "30d",
        ],
    );
    assert!(ok, "{out}");
    let secret = token["token"].as_str().unwrap().to_string();
    let token_id = token["token_id"].as_str().unwrap().to_string();
    let base = token["scim_base_url"].as_str().unwrap().to_string();
    assert_eq!(token["idp"], "entra");
    let res = app
        .send(Method::GET, &format!("{base}/Users"), Some(&secret), None, &[])
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    // Created through this token, a user records the IdP as its source.
    let res = app
        .send(
            Method::POST,
            &format!("{base}/Users"),
            Some(&secret),
            Some(&serde_json::json!({"userName": "cli@example.com"})),
            &[],
        )
        .await;
    assert_eq!(res.status, 201);
    let mut conn = app.sql().await;
    let source: String = sqlx::query_scalar("SELECT source FROM users WHERE user_name = 'cli@example.com'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(source, "entra");

    // The human output shows the base URL and the token once.
    let (ok, _, out) = scimd(&app, &["token", "create", "--account", &id, "--idp", "okta"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("SCIM base URL:") && out.contains("Token:") && out.contains("shown only this once"),
        "{out}"
    );

    let (ok, tokens, out) = scimd(&app, &["--json", "token", "list", "--account", &id]);
    assert!(ok, "{out}");
    assert_eq!(tokens.as_array().unwrap().len(), 2);
    assert!(!out.contains(&secret), "token list never shows secrets");

    let (ok, rotated, out) = scimd(
        &app,
        &[
            "--json",
            "token",
            "rotate",
            "--account",
            &id,
            "--token",
            &token_id,
        ],
    );
    assert!(ok, "{out}");
    let new_secret = rotated["token"].as_str().unwrap();
    assert_eq!(
        app.send(Method::GET, &format!("{base}/Users"), Some(&secret), None, &[])
            .await
            .status,
        401
    );
    assert_eq!(
        app.send(Method::GET, &format!("{base}/Users"), Some(new_secret), None, &[])
            .await
            .status,
        200
    );

    let new_id = rotated["token_id"].as_str().unwrap();
    let (ok, _, out) = scimd(&app, &["token", "revoke", "--account", &id, "--token", new_id]);
    assert!(ok, "{out}");
    assert_eq!(
        app.send(Method::GET, &format!("{base}/Users"), Some(new_secret), None, &[])
            .await
            .status,
        401
    );

    let (ok, _, out) = scimd(&app, &["token", "revoke", "--account", &id, "--token", new_id]);
    assert!(!ok && out.contains("no active token"), "{out}");
    let (ok, _, out) = scimd(&app, &["token", "create", "--account", &id, "--idp", "myspace"]);
    assert!(!ok && out.contains("okta, entra, onelogin or other"), "{out}");
}

#[test]
fn bad_configuration_is_a_clear_error_not_a_panic() {
    let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["migrate"])
        .env("SCIMD_LISTEN", "not-an-address")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("listen must be an address"), "{stderr}");
    assert!(!stderr.contains("panicked"));

    let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["migrate"])
        .env("SCIMD_NO_SUCH_SETTING", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("no_such_setting"), "{stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["--config", "/nonexistent/scimd.toml", "migrate"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}

#[test]
fn unreachable_database_is_a_clear_error_not_a_panic() {
    let _ = admin_url();
    let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["serve"])
        .env("DATABASE_URL", "postgres://nobody:secret@127.0.0.1:1/scimd")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot reach the database"), "{stderr}");
    assert!(
        !stderr.contains("secret"),
        "the password is not printed: {stderr}"
    );
    assert!(!stderr.contains("panicked"));
}
