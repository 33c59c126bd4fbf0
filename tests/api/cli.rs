//! The `scimd` binary: accounts and tokens from the command line, and start-up errors.

use std::process::Command;

use reqwest::Method;
use serde_json::Value;

use crate::harness::{TestApp, admin_url};

/// Runs the CLI, blocking this thread: tests that call it while their in-process server runs
/// are multi-threaded, so the server keeps answering (and releases SQLite's write lock) meanwhile.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
    assert!(
        !ok && out.contains("use okta, entra, onelogin, or scim for any other SCIM client"),
        "{out}"
    );
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

    // A bad value of a known key stays an error, naming the key.
    let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["config"])
        .env("SCIMD_MAX_RESULTS", "many")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.starts_with("error: ") && stderr.contains("MAX_RESULTS") && stderr.contains("\"many\""),
        "{stderr}"
    );

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

/// `scimd` run with only `env`, in `dir`: (exit code, stdout, stderr).
fn run_in(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .env_clear()
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .expect("scimd runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Does the database `url` names exist?
async fn database_exists(url: &str) -> bool {
    match crate::harness::backend() {
        scimd::store::Backend::Sqlite => std::path::Path::new(url.trim_start_matches("sqlite://")).exists(),
        scimd::store::Backend::Postgres => {
            use sqlx::Connection;
            let name = url.rsplit('/').next().unwrap();
            let mut conn = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
            sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(name)
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_need_an_existing_database_and_say_where_they_looked() {
    let (scratch, url) = crate::harness::Scratch::new();
    let dir = std::env::temp_dir().join(format!("{}_cwd", scratch.name()));
    std::fs::create_dir_all(&dir).unwrap();
    // Run elsewhere with the default database_url: nothing is created in that directory.
    let (code, _, stderr) = run_in(&dir, &["account", "list"], &[]);
    assert_eq!(code, Some(1), "{stderr}");
    let expected = format!("error: no database at {}", dir.join("scimd.db").display());
    assert!(stderr.starts_with(&expected), "{stderr}");
    assert!(
        stderr.contains("scimd migrate") && stderr.contains("scimd serve") && stderr.contains("DATABASE_URL"),
        "{stderr}"
    );
    assert!(std::fs::read_dir(&dir).unwrap().next().is_none(), "nothing created in {dir:?}");
    let _ = std::fs::remove_dir_all(&dir);

    // The same on this store's database, for every command that reads or writes it.
    let id = uuid::Uuid::new_v4().to_string();
    for args in [
        vec!["account", "list"],
        vec!["account", "create", "--name", "Acme"],
        vec!["token", "list", "--account", &id],
        vec!["export", "--account", &id],
        vec!["user", "delete", "--account", &id, "--user", &id],
        vec!["group", "delete", "--account", &id, "--group", &id],
    ] {
        let (code, _, stderr) = run_in(std::env::temp_dir().as_path(), &args, &[("DATABASE_URL", &url)]);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: no database "), "{args:?}: {stderr}");
        assert!(stderr.contains("scimd migrate"), "{stderr}");
        assert!(!stderr.contains("secret"), "{stderr}");
        assert!(!database_exists(&url).await, "{args:?} created the database");
    }
    // `migrate` creates it; then the commands work.
    let (code, _, stderr) = run_in(std::env::temp_dir().as_path(), &["migrate"], &[("DATABASE_URL", &url)]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, out, stderr) = run_in(
        std::env::temp_dir().as_path(),
        &["--json", "account", "list"],
        &[("DATABASE_URL", &url)],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(out.trim(), "[]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serve_that_cannot_listen_leaves_no_database_behind() {
    let (_scratch, url) = crate::harness::Scratch::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, _, stderr) = run_in(
        std::env::temp_dir().as_path(),
        &["serve", "--listen", &addr],
        &[("DATABASE_URL", &url)],
    );
    assert_eq!(code, Some(1), "{stderr}");
    let last = stderr.trim_end().lines().last().unwrap_or_default();
    assert!(last.starts_with(&format!("error: cannot listen on {addr}")), "{stderr}");
    assert!(!database_exists(&url).await, "the failed start left {url}");
}

// Two workers: `scimd()` blocks one while the CLI runs, and the server in this process must
// finish what it began (a token's last-use write holds SQLite's writer lock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_kinds_idps_and_sources_agree() {
    let app = TestApp::spawn().await;
    let id = app.account.to_string();
    // An admin token has no IdP: the combination is refused, and nothing is issued.
    let (ok, _, out) = scimd(&app, &["token", "create", "--account", &id, "--kind", "admin", "--idp", "okta"]);
    assert!(!ok, "{out}");
    assert!(out.starts_with("error: an admin token has no IdP"), "{out}");
    let (_, before, _) = scimd(&app, &["--json", "token", "list", "--account", &id]);
    assert_eq!(before.as_array().unwrap().len(), 1, "{before}");
    let (ok, admin, out) = scimd(&app, &["--json", "token", "create", "--account", &id, "--kind", "admin"]);
    assert!(ok, "{out}");
    assert_eq!(admin["idp"], Value::Null);

    // The label of any other SCIM client is `scim`, the source it records; `other`, its
    // former name, means the same. A SCIM token without --idp is one too.
    let mut created = Vec::new();
    for (idp, label) in [(Some("scim"), "scim"), (Some("other"), "scim"), (None, "scim"), (Some("onelogin"), "onelogin")] {
        let mut args = vec!["--json", "token", "create", "--account", &id];
        if let Some(idp) = idp {
            args.extend(["--idp", idp]);
        }
        let (ok, token, out) = scimd(&app, &args);
        assert!(ok, "{out}");
        assert_eq!(token["idp"], label, "{idp:?}");
        let user_name = format!("{}-{label}@example.com", idp.unwrap_or("none"));
        let res = app
            .send(
                Method::POST,
                &format!("{}/Users", token["scim_base_url"].as_str().unwrap()),
                Some(token["token"].as_str().unwrap()),
                Some(&serde_json::json!({"userName": user_name})),
                &[],
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
        created.push((idp, label, user_name));
    }
    let mut conn = app.sql().await;
    for (idp, label, user_name) in created {
        let source: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT source FROM users WHERE user_name = '{user_name}'"
        )))
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(source, label, "{idp:?}: the token's label is the source");
    }
    drop(conn);
    let (_, tokens, _) = scimd(&app, &["--json", "token", "list", "--account", &id]);
    let labels: Vec<&str> = tokens
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["idp"].as_str())
        .collect();
    assert!(!labels.contains(&"other"), "{labels:?}");
    // `--help` names the labels as they are recorded.
    let (_, _, help) = scimd(&app, &["token", "create", "--help"]);
    assert!(help.contains("okta, entra, onelogin, or scim"), "{help}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_line_starts_with_error() {
    let app = TestApp::spawn().await;
    let id = app.account.to_string();
    let nobody = uuid::Uuid::new_v4().to_string();
    let missing = std::env::temp_dir().join(format!("{}_missing.json", app.db_name));
    let missing = missing.to_str().unwrap();
    let failing: Vec<Vec<&str>> = vec![
        vec!["no-such-command"],
        vec!["token", "create"],
        vec!["token", "create", "--account", "not-a-uuid"],
        vec!["token", "create", "--account", &id, "--idp", "myspace"],
        vec!["token", "create", "--account", &id, "--ttl", "0s"],
        vec!["token", "revoke", "--account", &id, "--token", &nobody],
        vec!["token", "rotate", "--account", &id, "--token", &nobody],
        vec!["user", "delete", "--account", &id, "--user", &nobody],
        vec!["group", "delete", "--account", &id, "--group", &nobody],
        vec!["export", "--account", &id, "--format", "xml"],
        vec!["compare", missing, missing],
        vec!["--config", missing, "account", "list"],
        vec!["healthcheck", "--url", "http://127.0.0.1:1"],
        vec!["healthcheck", "--url", "https://example.com"],
        vec!["serve", "--listen", "nowhere"],
        vec!["man", "nothing"],
        vec!["completions", "tcsh"],
    ];
    for args in failing {
        let (ok, _, out) = scimd(&app, &args);
        assert!(!ok, "{args:?} succeeded: {out}");
        assert!(out.starts_with("error: "), "{args:?}: {out}");
        assert!(!out.contains("panicked"), "{args:?}: {out}");
    }
}

#[test]
fn version_names_the_commit_and_the_build_date() {
    let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let prefix = format!("scimd {} (commit {commit}, built ", env!("CARGO_PKG_VERSION"));
    let built = text
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{text:?} does not start with {prefix:?}"));
    let date = built.strip_suffix(')').unwrap();
    let parts: Vec<&str> = date.split('-').collect();
    assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [4, 2, 2], "{date}");
    assert!(parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())), "{date}");
    let year: i32 = parts[0].parse().unwrap();
    assert!((2024..2200).contains(&year), "{date}");
    assert!(("01".."13").contains(&parts[1]) && ("01".."32").contains(&parts[2]), "{date}");
}

/// `scimd <path> --help`, and the commands it lists.
fn help(path: &[String]) -> (String, Vec<String>) {
    let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(path)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{path:?}");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let commands = text
        .split("Commands:\n")
        .nth(1)
        .map(|rest| {
            rest.lines()
                .take_while(|l| l.starts_with("  "))
                .filter_map(|l| l.split_whitespace().next())
                .filter(|c| *c != "help")
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    (text, commands)
}

#[test]
fn every_command_has_help_with_an_example() {
    let mut queue = vec![Vec::<String>::new()];
    let mut seen = 0;
    while let Some(path) = queue.pop() {
        let (text, commands) = help(&path);
        assert!(text.contains("\nExample"), "`scimd {} --help` has no example:\n{text}", path.join(" "));
        seen += 1;
        for c in commands {
            let mut next = path.clone();
            next.push(c);
            queue.push(next);
        }
    }
    // scimd, its 12 commands, and the 8 below account, token, user and group.
    assert!(seen >= 21, "{seen}");
}

#[test]
fn completions_and_man_pages() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_scimd")).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    for shell in ["bash", "zsh", "fish"] {
        let script = run(&["completions", shell]);
        for word in ["serve", "token", "rotate", "operator"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    // The bash script is valid bash, and completes the commands.
    let script = run(&["completions", "bash"]);
    let path = std::env::temp_dir().join(format!("scimd_completion_{}.bash", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, &script).unwrap();
    let probe = format!(
        "source {}; COMP_WORDS=(scimd tok); COMP_CWORD=1; _scimd scimd tok scimd; echo \"${{COMPREPLY[@]}}\"",
        path.display()
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "token");

    let page = run(&["man"]);
    assert!(page.contains(".TH scimd 1"), "{page}");
    assert!(page.contains("completions") && page.contains("SUBCOMMANDS"), "{page}");
    let page = run(&["man", "token", "create"]);
    assert!(page.contains(".TH scimd-token-create 1"), "{page}");
    assert!(page.contains("\\-\\-idp"), "{page}");
    assert!(page.contains(env!("CARGO_PKG_VERSION")), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setup_link_from_the_cli_opens_the_console_once() {
    let app = TestApp::spawn().await;
    let account = app.account.to_string();
    let (ok, link, out) = scimd(
        &app,
        &["--json", "account", "setup-link", "--account", &account, "--ttl", "2h"],
    );
    assert!(ok, "{out}");
    let url = link["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{}/ui/setup?code=scimd_sl_", app.origin)), "{url}");
    let code = url.split("code=").nth(1).unwrap().to_string();
    let client = crate::harness::http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = || {
        client
            .post(format!("{}/ui/setup", app.origin))
            .header("sec-fetch-site", "same-origin")
            .form(&[("code", code.as_str())])
            .send()
    };
    let res = post().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        format!("/ui/a/{account}/").as_str()
    );
    assert_eq!(post().await.unwrap().status(), 401, "a setup link works once");
    // A lifetime past the bound is refused, naming it.
    let (ok, _, out) = scimd(&app, &["account", "setup-link", "--account", &account, "--ttl", "40d"]);
    assert!(!ok && out.contains("30 days"), "{out}");
}

/// A Postgres that never analyses its tables (autovacuum off) is named at start-up, with the
/// fix: list pages planned without statistics read whole accounts. The test reads the server's
/// own setting, so it checks the warning where autovacuum is off and its absence where it is on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_says_when_postgres_never_analyses_tables() {
    let app = TestApp::spawn().await;
    let autovacuum_off = match crate::harness::backend() {
        scimd::store::Backend::Sqlite => false,
        scimd::store::Backend::Postgres => {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&app.config.database_url)
                .await
                .unwrap();
            !sqlx::query_scalar::<_, bool>("SELECT current_setting('autovacuum')::boolean")
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
    };
    let (ok, _, out) = scimd(&app, &["migrate"]);
    assert!(ok, "{out}");
    assert_eq!(out.contains("autovacuum off"), autovacuum_off, "{out}");
    if autovacuum_off {
        assert!(out.contains("ANALYZE"), "the warning names the fix: {out}");
    }
}
