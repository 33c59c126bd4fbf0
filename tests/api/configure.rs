//! Every documented way to configure scimd, through the real binary: the built-in defaults, a
//! file (`--config`, `SCIMD_CONFIG`), each `SCIMD_<KEY>`, `DATABASE_URL`, and their order; and
//! the variables that are not settings (Kubernetes service links, typos), which never stop it.
//! `scimd config` shows what a command would use and where each value came from; the tests
//! of `serve` show that the server runs on it.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::harness::Scratch;
use crate::ops::Scimd;

/// `scimd --json config` with exactly `env` (nothing inherited), in `dir`.
fn config(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .env_clear()
        .args(args)
        .args(["--json", "config"])
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .expect("scimd runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{args:?} {env:?}: {stderr}");
    (serde_json::from_slice(&out.stdout).expect("JSON"), stderr)
}

/// A fresh directory, removed at the end of the test.
struct Dir(std::path::PathBuf);

impl Dir {
    fn new() -> Dir {
        let dir = std::env::temp_dir().join(format!("scimd_cfg_{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A valid value, other than the default, for each setting; and how `scimd config` shows it.
fn sample(key: &str) -> (&'static str, Value) {
    let n = |raw: &'static str| (raw, serde_json::json!(raw.parse::<u64>().unwrap()));
    let s = |raw: &'static str| (raw, Value::String(raw.into()));
    match key {
        "listen" => s("127.0.0.1:9090"),
        "public_url" => s("https://scim.example.com"),
        "database_url" => ("postgres://scimd:secret@db.example.com/scimd", "postgres://scimd:***@db.example.com/scimd".into()),
        "database_max_connections" => n("3"),
        "database_acquire_timeout_ms" => n("1500"),
        "header_read_timeout_seconds" => n("5"),
        "request_body_timeout_seconds" => n("20"),
        "max_connections" => n("100"),
        "database_allow_readable_by_others" => ("true", Value::Bool(true)),
        "otlp_endpoint" => s("http://127.0.0.1:4318"),
        "max_body_bytes" => n("2048"),
        "bulk_max_operations" => n("7"),
        "bulk_max_payload_bytes" => n("4096"),
        "max_export_bytes" => n("8192"),
        "max_results" => n("500"),
        "default_count" => n("50"),
        "cursor_timeout_seconds" => n("60"),
        "event_retention_days" => n("7"),
        "webhook_timeout_seconds" => n("3"),
        "token_cache_seconds" => n("7"),
        "console_idle_minutes" => n("15"),
        "console_session_hours" => n("8"),
        "console_setup_link_hours" => n("24"),
        "webhook_allow_private_networks" => ("true", Value::Bool(true)),
        "rate_limit_per_second" => n("0"),
        "rate_limit_burst" => n("10"),
        "token_ttl" => s("90d"),
        "token_signing_key" => ("c2NpbWQgdGVzdCBzaWduaW5nIGtleSBvZiAzMiBieXRlcyE=", "***".into()),
        "log_format" => s("pretty"),
        "log_level" => s("debug"),
        "shutdown_grace_seconds" => n("5"),
        other => panic!("setting {other} has no sample value here: add one, so its SCIMD_ variable is tested"),
    }
}

#[test]
fn every_setting_is_read_from_its_scimd_variable() {
    let dir = Dir::new();
    let (defaults, stderr) = config(&dir.0, &[], &[]);
    assert!(stderr.is_empty(), "{stderr}");
    let keys: Vec<String> = defaults.as_object().unwrap().keys().cloned().collect();
    assert!(keys.len() >= 18, "{keys:?}");
    // config/default.toml is what a command uses with nothing set.
    let documented = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml")).unwrap();
    for key in &keys {
        assert_eq!(defaults[key]["from"], "default", "{key}");
        assert!(documented.contains(&format!("\n{key} = ")), "{key} is not in config/default.toml");
        let (raw, shown) = sample(key);
        let variable = format!("SCIMD_{}", key.to_uppercase());
        let (got, stderr) = config(&dir.0, &[], &[(&variable, raw)]);
        assert_eq!(got[key]["value"], shown, "{variable}={raw}");
        assert_eq!(got[key]["from"], variable.as_str());
        assert_ne!(got[key]["value"], defaults[key]["value"], "{key}: the sample is the default");
        assert!(stderr.is_empty(), "{variable}: {stderr}");
        assert!(!got.to_string().contains("secret@"), "passwords are masked: {got}");
    }
}

#[test]
fn file_config_flag_scimd_config_environment_and_database_url_in_that_order() {
    let dir = Dir::new();
    let a = dir.file(
        "a.toml",
        "listen = \"127.0.0.1:7001\"\npublic_url = \"https://a.example.com\"\nmax_results = 700\n\
         database_url = \"sqlite://a.db\"\n",
    );
    let b = dir.file("b.toml", "listen = \"127.0.0.1:7002\"\n");

    // SCIMD_CONFIG names the file, as --config does (it is not a setting).
    let (got, stderr) = config(&dir.0, &[], &[("SCIMD_CONFIG", &a)]);
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(got["listen"]["value"], "127.0.0.1:7001");
    assert_eq!(got["listen"]["from"], a.as_str());
    assert_eq!(got["max_results"]["value"], 700);
    assert_eq!(got["default_count"]["from"], "default");
    // A relative path works too, from the working directory.
    let (got, _) = config(&dir.0, &["--config", "a.toml"], &[]);
    assert_eq!(got["public_url"]["value"], "https://a.example.com");

    // --config wins over SCIMD_CONFIG: only its file is read.
    let (got, _) = config(&dir.0, &["--config", &b], &[("SCIMD_CONFIG", &a)]);
    assert_eq!(got["listen"]["value"], "127.0.0.1:7002");
    assert_eq!(got["max_results"]["from"], "default");

    // SCIMD_<KEY> wins over the file; DATABASE_URL over both for the database.
    let env = [
        ("SCIMD_CONFIG", a.as_str()),
        ("SCIMD_LISTEN", "127.0.0.1:7003"),
        ("SCIMD_DATABASE_URL", "sqlite://env.db"),
    ];
    let (got, _) = config(&dir.0, &[], &env);
    assert_eq!(got["listen"]["value"], "127.0.0.1:7003");
    assert_eq!(got["listen"]["from"], "SCIMD_LISTEN");
    assert_eq!(got["public_url"]["from"], a.as_str());
    assert_eq!(got["database_url"]["value"], "sqlite://env.db");
    let mut with_url = env.to_vec();
    with_url.push(("DATABASE_URL", "sqlite://url.db"));
    let (got, _) = config(&dir.0, &[], &with_url);
    assert_eq!(got["database_url"]["value"], "sqlite://url.db");
    assert_eq!(got["database_url"]["from"], "DATABASE_URL");
    // An empty DATABASE_URL is as if unset.
    with_url.pop();
    with_url.push(("DATABASE_URL", ""));
    let (got, _) = config(&dir.0, &[], &with_url);
    assert_eq!(got["database_url"]["value"], "sqlite://env.db");

    // The human form is TOML: each setting with its source.
    let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .env_clear()
        .args(["--config", &a, "config"])
        .env("SCIMD_LISTEN", "127.0.0.1:7003")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("listen = \"127.0.0.1:7003\"  # from SCIMD_LISTEN"), "{text}");
    assert!(text.contains(&format!("max_results = 700  # from {a}")), "{text}");

    // A file that is not there, by either name, is an error naming it.
    for (args, env, named) in [
        (vec!["--config", "missing.toml", "config"], vec![], "missing.toml does not exist"),
        (
            vec!["config"],
            vec![("SCIMD_CONFIG", "missing.toml")],
            "missing.toml (named by SCIMD_CONFIG) does not exist",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
            .env_clear()
            .args(&args)
            .envs(env.iter().copied())
            .current_dir(&dir.0)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(named),
            "{stderr}"
        );
    }
    // An unknown key in a file is still an error: a file is written on purpose.
    let bad = dir.file("bad.toml", "listn = \"127.0.0.1:1\"\n");
    let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .env_clear()
        .args(["--config", &bad, "config"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("listn"), "{stderr}");
}

/// Kubernetes gives every pod of a namespace with a Service named `scimd` these variables.
fn kubernetes_service_links() -> Vec<(String, String)> {
    [
        ("SCIMD_SERVICE_HOST", "10.96.0.17"),
        ("SCIMD_SERVICE_PORT", "8080"),
        ("SCIMD_SERVICE_PORT_HTTP", "8080"),
        ("SCIMD_PORT", "tcp://10.96.0.17:8080"),
        ("SCIMD_PORT_8080_TCP", "tcp://10.96.0.17:8080"),
        ("SCIMD_PORT_8080_TCP_PROTO", "tcp"),
        ("SCIMD_PORT_8080_TCP_PORT", "8080"),
        ("SCIMD_PORT_8080_TCP_ADDR", "10.96.0.17"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn unknown_scimd_variables_are_warnings_naming_the_closest_setting() {
    let dir = Dir::new();
    let links = kubernetes_service_links();
    let mut env: Vec<(&str, &str)> = links.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // Service links alone: silence.
    let (_, stderr) = config(&dir.0, &[], &env);
    assert!(stderr.is_empty(), "{stderr}");
    env.push(("SCIMD_LISTN", "127.0.0.1:1"));
    env.push(("SCIMD_MAX_RESULT", "5"));
    let (got, stderr) = config(&dir.0, &[], &env);
    assert_eq!(got["listen"]["from"], "default");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "warning: SCIMD_LISTN is not a setting of scimd and is ignored; did you mean SCIMD_LISTEN?",
            "warning: SCIMD_MAX_RESULT is not a setting of scimd and is ignored; did you mean SCIMD_MAX_RESULTS?",
        ],
        "{stderr}"
    );
    // SCIMD_PORT that is no service link is someone's guess at a setting.
    let (_, stderr) = config(&dir.0, &[], &[("SCIMD_PORT", "8080")]);
    assert!(stderr.starts_with("warning: SCIMD_PORT is not a setting"), "{stderr}");
}

#[tokio::test]
async fn serve_starts_from_scimd_config_inside_kubernetes_and_warns_of_a_typo() {
    let (_scratch, url) = Scratch::new();
    let dir = Dir::new();
    let file = dir.file(
        "scimd.toml",
        &format!("listen = \"127.0.0.1:0\"\ndatabase_url = \"{url}\"\npublic_url = \"https://scim.example.com\"\n"),
    );
    let mut env = kubernetes_service_links();
    env.push(("SCIMD_CONFIG".into(), file.clone()));
    env.push(("SCIMD_LOG_FORMAT".into(), "json".into()));
    env.push(("SCIMD_SHUTDOWN_GRACE_SECONDS".into(), "1".into()));
    env.push(("SCIMD_PUBLIK_URL".into(), "https://typo.example.com".into()));
    env.push(("PATH".into(), std::env::var("PATH").unwrap_or_default()));
    let mut server = Scimd::start(&["--json", "serve", "--bootstrap"], &env, true, &dir.0).await;
    let first: Value = serde_json::from_str(&server.stdout_line().await).unwrap();
    // public_url came from the file named by SCIMD_CONFIG.
    let base = first["scim_base_url"].as_str().unwrap();
    assert!(base.starts_with("https://scim.example.com/scim/account/"), "{base}");
    // The database is the file's: the CLI finds the account there through the same variable.
    let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["--json", "account", "list"])
        .current_dir(&dir.0)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let accounts: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(accounts[0]["id"], first["account_id"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("did you mean SCIMD_PUBLIC_URL?"),
        "one-shot commands print the warning"
    );
    // The typo is one structured warning in the log; the service links are none.
    server.wait_for_log("SCIMD_PUBLIK_URL").await;
    let logs = server.logs();
    let warning: Value = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["variable"] == "SCIMD_PUBLIK_URL")
        .unwrap_or_else(|| panic!("{logs}"));
    assert_eq!(warning["level"], "WARN");
    assert_eq!(warning["fields"]["closest"], "SCIMD_PUBLIC_URL");
    assert!(!logs.contains("SERVICE_HOST") && !logs.contains("PORT_8080"), "{logs}");
    server.stop().await;
}

#[tokio::test]
async fn scimd_variables_and_database_url_reach_the_server() {
    let (_scratch, url) = Scratch::new();
    let dir = Dir::new();
    // The file says one database and address; the environment overrides both.
    let file = dir.file(
        "scimd.toml",
        "listen = \"127.0.0.1:1\"\ndatabase_url = \"sqlite:///nonexistent/dir/scimd.db\"\n",
    );
    let env = vec![
        ("SCIMD_LISTEN".to_string(), "127.0.0.1:0".to_string()),
        ("DATABASE_URL".to_string(), url.clone()),
        ("SCIMD_PUBLIC_URL".to_string(), "https://env.example.com".to_string()),
    ];
    let mut server = Scimd::start(&["--config", &file, "--json", "serve", "--bootstrap"], &env, false, &dir.0).await;
    let first: Value = serde_json::from_str(&server.stdout_line().await).unwrap();
    assert!(
        first["scim_base_url"]
            .as_str()
            .unwrap()
            .starts_with("https://env.example.com/"),
        "{first}"
    );
    assert_ne!(server.addr, "127.0.0.1:1");
    let res = reqwest::get(format!("{}/readyz", server.origin)).await.unwrap();
    assert_eq!(res.status(), 200);
    server.stop().await;
}
