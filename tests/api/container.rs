//! The Dockerfile, read rather than built (no Docker engine is needed): the image's runtime
//! settings must start the real binary. Its ENV, ENTRYPOINT, CMD and HEALTHCHECK are taken
//! from the file; the only substitutions are the volume's directory (a temporary one) and the
//! listen address (loopback and a free port instead of 0.0.0.0:8080). On the Postgres run,
//! DATABASE_URL is added, as a production deployment sets it.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::harness::{Scratch, backend};
use crate::ops::Scimd;
use scimd::store::Backend;

/// The final stage of the Dockerfile: its instructions, continuation lines joined.
fn final_stage() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).unwrap();
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    let stages: Vec<usize> = joined
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("FROM "))
        .map(|(i, _)| i)
        .collect();
    joined[*stages.last().unwrap()..]
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (op, rest) = l.split_once(' ').unwrap_or((l, ""));
            (op.to_string(), rest.trim().to_string())
        })
        .collect()
}

fn exec_form(value: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(value)
        .unwrap_or_else(|_| panic!("exec form (JSON array) expected: {value}"))
}

#[tokio::test]
async fn the_image_settings_start_scimd_and_pass_its_health_check() {
    let stage = final_stage();
    let one = |op: &str| -> String {
        let found: Vec<&String> = stage.iter().filter(|(o, _)| o == op).map(|(_, v)| v).collect();
        assert_eq!(found.len(), 1, "one {op} in the final stage: {found:?}");
        found[0].clone()
    };
    let mut env = BTreeMap::new();
    for (_, value) in stage.iter().filter(|(op, _)| op == "ENV") {
        for pair in value.split_whitespace() {
            let (k, v) = pair.split_once('=').expect("ENV KEY=VALUE");
            env.insert(k.to_string(), v.trim_matches('"').to_string());
        }
    }
    let volume = exec_form(&one("VOLUME"))[0].clone();
    let user = one("USER");
    assert!(user != "root" && user != "0", "the image runs as {user}");
    assert_eq!(env["SCIMD_LISTEN"], format!("0.0.0.0:{}", one("EXPOSE")));
    assert_eq!(env["SCIMD_DATABASE_URL"], format!("sqlite://{volume}/scimd.db"));
    assert_eq!(one("WORKDIR"), volume);
    let entrypoint = exec_form(&one("ENTRYPOINT"));
    assert_eq!(entrypoint, ["scimd"]);
    let cmd = exec_form(&one("CMD"));
    let healthcheck = one("HEALTHCHECK");
    let healthcheck = exec_form(healthcheck.split_once("CMD ").expect("HEALTHCHECK … CMD [...]").1);
    assert_eq!(healthcheck[0], "scimd");

    // The volume is a fresh directory; the listen address a free loopback port.
    let (_scratch, url) = Scratch::new();
    let data = std::env::temp_dir().join(format!("scimd_volume_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&data).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut vars: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| {
            let v = v.replace(&volume, &data.display().to_string());
            let v = v.replace("0.0.0.0:8080", &format!("127.0.0.1:{port}"));
            (k.clone(), v)
        })
        .collect();
    if backend() == Backend::Postgres {
        vars.push(("DATABASE_URL".into(), url.clone()));
    }
    let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let server = Scimd::start(&args, &vars, true, &data).await;
    assert_eq!(server.origin, format!("http://127.0.0.1:{port}"));
    // Logs are JSON lines on stderr: what a container log collector expects.
    for line in server.logs().lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|_| panic!("not a JSON log line: {line}"));
    }
    let client = crate::harness::http_client();
    for path in ["/healthz", "/readyz"] {
        let res = client
            .get(format!("{}{path}", server.origin))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(&healthcheck[1..])
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .current_dir(&data)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(server.stop().await.success());
    if backend() == Backend::Sqlite {
        assert!(
            data.join("scimd.db").is_file(),
            "the database lives in the volume"
        );
    }
    let _ = std::fs::remove_dir_all(&data);
}
