//! The browser-test harness for the web console: Debian's chromium, headless, driven through a
//! chromedriver of the test's own over WebDriver (fantoccini, plain HTTP on loopback), with
//! axe-core for accessibility checks.
//!
//! Where chromium or chromedriver is missing a browser test skips itself with one loud line,
//! so `cargo test` still runs on a laptop without them; CI (`.ci/browser-deps`) installs both
//! and sets `TEST_BROWSER=required`, which turns every skip into a failure.
//!
//! Environment:
//! - `TEST_BROWSER=required`: missing browser or axe-core fails instead of skipping;
//! - `TEST_CHROMIUM`, `TEST_CHROMEDRIVER`: the binaries (else /usr/bin, else PATH);
//! - `TEST_AXE_JS`: axe.min.js (else the CI cache, `$SCIMD_CI_CACHE` or ~/.cache/scimd-ci);
//! - `TEST_UPDATE_SCREENSHOTS=1`: [`Browser::screenshot`] writes docs/screenshots/.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, SemaphorePermit};
use uuid::Uuid;

use crate::harness::{TestApp, eventually, http_client};

/// Two cores are shared by every test of the binary: more chromiums than this at once only
/// makes each slower, and a slow one looks like a flaky test.
static BROWSERS: OnceLock<Semaphore> = OnceLock::new();
const BROWSERS_AT_ONCE: usize = 2;

/// Generous: a chromium cold start on a loaded CI machine takes seconds, and a bound that is
/// never reached on a healthy machine fails with the driver's log instead of hanging.
const STARTUP: Duration = Duration::from_secs(60);
/// WebDriver's own limits for a page load and a script (axe on a large page), in ms.
const PAGE_LOAD_MS: u64 = 30_000;
const SCRIPT_MS: u64 = 30_000;

pub struct Browser {
    /// `None` only while starting and after `close`.
    client: Option<Client>,
    /// chromedriver; chromium is its child. `None` once killed and reaped.
    driver: Option<Child>,
    /// Unique per browser, under the temporary directory, named like the harness's other
    /// scratch directories (`scimd_test_*`) so .ci/run clears what an interrupted run leaves.
    dir: PathBuf,
    /// chromium's `--user-data-dir`, inside `dir`.
    profile: PathBuf,
    /// Last: the slot is given back only once chromium is gone.
    _permit: SemaphorePermit<'static>,
}

/// A line on the process's stderr itself: `eprintln!` goes to libtest's capture, which shows
/// it only for a failing test, and a skip must be seen when the test passes.
fn loud(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn required() -> bool {
    std::env::var("TEST_BROWSER").is_ok_and(|v| v == "required")
}

/// `env`'s path when set, else `default` when it exists, else `name` on PATH.
fn locate(env: &str, default: &str, name: &str) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(env).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("{env}={} does not exist", path.display()))
        };
    }
    if Path::new(default).is_file() {
        return Ok(PathBuf::from(default));
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| format!("{name} is neither at {default} nor on PATH"))
}

/// At most the last `max` bytes of `text`, cut at a character boundary, for panic messages.
fn tail(text: &str, max: usize) -> &str {
    let start = text.len().saturating_sub(max);
    let start = (start..=text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    &text[start..]
}

/// At most the first `max` bytes of `text`, cut at a character boundary, for panic messages.
fn head(text: &str, max: usize) -> &str {
    let end = (0..=max.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    &text[..end]
}

/// The processes whose command line holds `--user-data-dir=<profile>`: this browser's chromium
/// and its helpers, found by the unique profile directory rather than by a name other
/// processes share.
fn chromium_pids(profile: &Path) -> Vec<u32> {
    let needle = format!("--user-data-dir={}", profile.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| cmdline.split(|&b| b == 0).any(|arg| arg == needle.as_bytes()))
        })
        .collect()
}

/// Every process below `root`, from the parent PIDs in /proc.
fn descendants(root: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: Vec<(u32, u32)> = entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // After the command name, which may hold spaces and parentheses: state, then PPID.
            let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut found = vec![root];
    let mut next = 0;
    while next < found.len() {
        let parent = found[next];
        found.extend(
            parents
                .iter()
                .filter(|&&(_, ppid)| ppid == parent)
                .map(|&(pid, _)| pid),
        );
        next += 1;
    }
    found.remove(0);
    found
}

/// Alive and not a zombie (a zombie nobody reaps, as under a container's init, is gone for
/// our purposes).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

impl Browser {
    /// A headless chromium of this test's own, or `None` (after one loud line on stderr) when
    /// chromium or chromedriver is missing and `TEST_BROWSER` is not `required`; with
    /// `required`, a missing one panics with how to install it.
    pub async fn start() -> Option<Browser> {
        let chromium = locate("TEST_CHROMIUM", "/usr/bin/chromium", "chromium");
        let chromedriver = locate("TEST_CHROMEDRIVER", "/usr/bin/chromedriver", "chromedriver");
        let (chromium, chromedriver) = match (chromium, chromedriver) {
            (Ok(chromium), Ok(chromedriver)) => (chromium, chromedriver),
            (chromium, chromedriver) => {
                if required() {
                    let missing: Vec<String> = [chromium.err(), chromedriver.err()]
                        .into_iter()
                        .flatten()
                        .collect();
                    panic!(
                        "browser tests are required (TEST_BROWSER=required) but {}; \
                         install Debian's packages (`apt-get install chromium chromium-driver`, \
                         or `source .ci/browser-deps`), or set TEST_CHROMIUM / \
                         TEST_CHROMEDRIVER to the binaries",
                        missing.join(" and ")
                    );
                }
                loud(
                    "browser test SKIPPED: chromium/chromedriver not installed; CI sets TEST_BROWSER=required",
                );
                return None;
            }
        };

        let permit = BROWSERS
            .get_or_init(|| Semaphore::new(BROWSERS_AT_ONCE))
            .acquire()
            .await
            .expect("the browser semaphore is never closed");

        let dir = std::env::temp_dir().join(format!("scimd_test_browser_{}", Uuid::new_v4().simple()));
        let profile = dir.join("profile");
        std::fs::create_dir_all(&profile).expect("creates the browser's profile directory");
        let log = dir.join("chromedriver.log");
        let stderr = std::fs::File::create(dir.join("chromedriver.stderr"))
            .expect("creates chromedriver's stderr file");

        // --port=0: chromedriver picks a free port and prints it, so there is no window
        // between choosing a port and binding it. No --allowed-ips: with it, chromedriver
        // listens on every interface; without, on loopback only.
        let mut driver = Command::new(&chromedriver)
            .arg("--port=0")
            .arg(format!("--log-path={}", log.display()))
            .arg("--log-level=WARNING")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", chromedriver.display()));
        let stdout = driver.stdout.take().expect("chromedriver's stdout is piped");

        // From here on, a panic drops `browser`, which kills chromedriver and chromium.
        let mut browser = Browser {
            client: None,
            driver: Some(driver),
            dir,
            profile,
            _permit: permit,
        };

        // The port line comes early; the rest of stdout is drained until chromedriver exits so
        // that it never blocks on a full pipe.
        let (port_tx, port_rx) = tokio::sync::oneshot::channel::<Result<u16, String>>();
        std::thread::spawn(move || {
            let mut port_tx = Some(port_tx);
            let mut seen = String::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(tx) = port_tx.take() {
                    let port = line
                        .split_once("started successfully on port ")
                        .and_then(|(_, rest)| rest.trim_end_matches('.').trim().parse().ok());
                    match port {
                        Some(port) => {
                            let _ = tx.send(Ok(port));
                        }
                        None => {
                            seen.push_str(&line);
                            seen.push('\n');
                            port_tx = Some(tx);
                        }
                    }
                }
            }
            if let Some(tx) = port_tx {
                let _ = tx.send(Err(seen));
            }
        });
        let port = match tokio::time::timeout(STARTUP, port_rx).await {
            Ok(Ok(Ok(port))) => port,
            Ok(Ok(Err(stdout))) => browser.startup_failed(&format!(
                "chromedriver exited before listening; its stdout:\n{stdout}"
            )),
            Ok(Err(_)) => browser.startup_failed("chromedriver's stdout reader ended"),
            Err(_) => browser.startup_failed(&format!("chromedriver not listening after {STARTUP:?}")),
        };
        let webdriver = format!("http://127.0.0.1:{port}");

        let http = http_client();
        eventually("chromedriver answers /status as ready", STARTUP, || {
            let http = http.clone();
            let url = format!("{webdriver}/status");
            async move {
                let body: Value = http
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .json()
                    .await
                    .map_err(|e| e.to_string())?;
                if body["value"]["ready"] == true {
                    Ok(())
                } else {
                    Err(body.to_string())
                }
            }
        })
        .await;

        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    format!("--user-data-dir={}", browser.profile.display()),
                    "--window-size=1280,900",
                ],
            }),
        );
        capabilities.insert(
            "timeouts".into(),
            json!({ "implicit": 0, "pageLoad": PAGE_LOAD_MS, "script": SCRIPT_MS }),
        );
        let session = tokio::time::timeout(
            STARTUP,
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&webdriver),
        )
        .await;
        match session {
            Ok(Ok(client)) => browser.client = Some(client),
            Ok(Err(e)) => browser.startup_failed(&format!("no WebDriver session: {e}")),
            Err(_) => browser.startup_failed(&format!("no WebDriver session after {STARTUP:?}")),
        }
        Some(browser)
    }

    /// Panics with what chromedriver logged, which is where a chromium that did not start says
    /// why.
    fn startup_failed(&self, what: &str) -> ! {
        let read = |name: &str| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        panic!(
            "browser start failed: {what}\nchromedriver.log:\n{}\nchromedriver stderr:\n{}",
            tail(&read("chromedriver.log"), 4000),
            tail(&read("chromedriver.stderr"), 2000),
        )
    }

    /// The WebDriver client, for what the helpers below do not cover.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("the browser is running")
    }

    pub async fn goto(&self, url: &str) {
        if let Err(e) = self.client().goto(url).await {
            panic!("loading {url}: {e}");
        }
    }

    /// The current URL's path and query (`/ui/users?page=2`).
    pub async fn current_path(&self) -> String {
        let url = self.client().current_url().await.expect("the current URL");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        }
    }

    pub async fn page_source(&self) -> String {
        self.client().source().await.expect("the page source")
    }

    /// Panics, with what the page holds instead, when nothing matches `css`.
    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client().find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => {
                let url = self.client().current_url().await.map(|u| u.to_string());
                let source = self.page_source().await;
                panic!(
                    "no element matches {css:?} ({e}) on {}; the page begins:\n{}",
                    url.unwrap_or_else(|e| format!("<no URL: {e}>")),
                    head(&source, 4000)
                )
            }
        }
    }

    /// The rendered text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        element
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of {css:?}: {e}"))
    }

    pub async fn exists(&self, css: &str) -> bool {
        let found = self.client().find_all(Locator::Css(css)).await;
        !found
            .unwrap_or_else(|e| panic!("looking for {css:?}: {e}"))
            .is_empty()
    }

    /// Replaces the value of the field matching `css` by typing `value`, as a user would.
    pub async fn fill(&self, css: &str, value: &str) {
        let element = self.find(css).await;
        element
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clearing {css:?}: {e}"));
        element
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("typing into {css:?}: {e}"));
    }

    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css:?}: {e}"));
    }

    /// The violations of impact serious or critical that axe-core finds on the current page,
    /// one readable line each (rule, impact, help, where). Empty, after a SKIPPED line, when
    /// axe-core is not installed and the browser tests are not required.
    pub async fn axe_serious(&self) -> Vec<String> {
        let Some(axe) = axe_source() else {
            return Vec::new();
        };
        const LOADED: &str = "return typeof window.axe === 'object' && typeof window.axe.run === 'function';";
        // Each page load starts without it.
        if self.client().execute(LOADED, vec![]).await.ok() != Some(Value::Bool(true)) {
            if let Err(e) = self.client().execute(axe, vec![]).await {
                panic!("injecting axe-core: {e}");
            }
            let loaded = self.client().execute(LOADED, vec![]).await;
            assert!(
                matches!(loaded, Ok(Value::Bool(true))),
                "axe-core did not load into the page: {loaded:?}"
            );
        }
        const RUN: &str = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ['violations'] })
                .then((results) => done({
                    violations: results.violations.map((v) => ({
                        id: v.id,
                        impact: v.impact,
                        help: v.help,
                        nodes: v.nodes.length,
                        targets: v.nodes.slice(0, 3).map((n) => n.target.map(String).join(' ')),
                    })),
                }))
                .catch((e) => done({ error: String((e && e.stack) || e) }));
        "#;
        let result = self
            .client()
            .execute_async(RUN, vec![])
            .await
            .unwrap_or_else(|e| panic!("running axe-core: {e}"));
        if let Some(error) = result["error"].as_str() {
            panic!("axe-core failed: {error}");
        }
        let violations = result["violations"]
            .as_array()
            .unwrap_or_else(|| panic!("axe-core returned no violations list: {result}"));
        violations
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .map(|v| {
                let targets: Vec<&str> = v["targets"]
                    .as_array()
                    .map(|t| t.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                format!(
                    "{} ({}): {}; {} element(s), e.g. {}",
                    v["id"].as_str().unwrap_or("?"),
                    v["impact"].as_str().unwrap_or("?"),
                    v["help"].as_str().unwrap_or("?"),
                    v["nodes"],
                    targets.join(", ")
                )
            })
            .collect()
    }

    /// A PNG of the viewport.
    async fn viewport_png(&self) -> Vec<u8> {
        let png = self.client().screenshot().await.expect("a screenshot");
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "the screenshot is not a PNG"
        );
        png
    }

    /// Saves the viewport as docs/screenshots/`name`.png with `TEST_UPDATE_SCREENSHOTS=1`;
    /// otherwise the screenshot is taken and discarded, so a broken page still fails here
    /// rather than only when the pictures are refreshed.
    #[allow(
        dead_code,
        reason = "the console's page tests call it; the harness's own test must not write into docs/"
    )]
    pub async fn screenshot(&self, name: &str) {
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'),
            "screenshot name {name:?}: use [a-z0-9_-]"
        );
        let png = self.viewport_png().await;
        if std::env::var("TEST_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
            std::fs::create_dir_all(&dir).expect("creates docs/screenshots");
            let path = dir.join(format!("{name}.png"));
            std::fs::write(&path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        }
    }

    /// Ends the WebDriver session (chromedriver then closes chromium), then stops chromedriver
    /// and removes the profile. Dropping a `Browser` without this still kills both.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            match tokio::time::timeout(STARTUP, client.close()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => eprintln!("browser: ending the WebDriver session: {e}"),
                Err(_) => eprintln!("browser: the WebDriver session did not end within {STARTUP:?}"),
            }
        }
        self.teardown();
    }

    /// Idempotent; blocking, for Drop. chromium and its helpers outlive a killed chromedriver,
    /// so they are killed too, by PID (chromedriver's descendants, found before it dies and they
    /// are handed to init, and whatever else runs on the profile), and waited for, so that
    /// none still writes into the profile as it is removed.
    fn teardown(&mut self) {
        let mut pids = chromium_pids(&self.profile);
        if let Some(mut driver) = self.driver.take() {
            pids.extend(descendants(driver.id()));
            let _ = driver.kill();
            let _ = driver.wait();
        }
        // A helper that was starting while the list was taken shows up on a second look.
        for _ in 0..3 {
            kill_and_wait(pids);
            if std::fs::remove_dir_all(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            pids = chromium_pids(&self.profile);
        }
    }
}

/// SIGKILL, then bounded polling until each is gone (or a zombie: it writes nothing more).
fn kill_and_wait(mut pids: Vec<u32>) {
    pids.sort_unstable();
    pids.dedup();
    pids.retain(|&pid| alive(pid));
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-KILL")
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|&pid| alive(pid)) && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// axe.min.js's text, read once per process; `None` after a SKIPPED line when it is missing and
/// browser tests are not required.
fn axe_source() -> Option<&'static str> {
    static AXE: OnceLock<Result<String, String>> = OnceLock::new();
    let source = AXE.get_or_init(|| {
        let path = match std::env::var_os("TEST_AXE_JS").filter(|v| !v.is_empty()) {
            Some(path) => PathBuf::from(path),
            None => {
                let cache = std::env::var_os("SCIMD_CI_CACHE")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
                    .unwrap_or_else(|| {
                        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/scimd-ci")
                    });
                cache.join("axe/node_modules/axe-core/axe.min.js")
            }
        };
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
    });
    match source {
        Ok(source) => Some(source),
        Err(e) if required() => panic!(
            "browser tests are required (TEST_BROWSER=required) but axe-core cannot be \
             loaded ({e}); install it with `source .ci/browser-deps`, or set TEST_AXE_JS to \
             an axe.min.js"
        ),
        Err(e) => {
            loud(&format!(
                "axe check SKIPPED: axe-core not installed ({e}); `source .ci/browser-deps` installs it, CI sets TEST_BROWSER=required"
            ));
            None
        }
    }
}

fn data_url(html: &str) -> String {
    use base64::Engine;
    format!(
        "data:text/html;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(html)
    )
}

#[tokio::test]
async fn drives_chromium_against_scimd_and_finds_accessibility_violations() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;

    browser.goto(&format!("{}/healthz", app.origin)).await;
    assert_eq!(browser.current_path().await, "/healthz");
    assert!(browser.text("body").await.contains("ok"));
    assert!(browser.page_source().await.contains("ok"));
    assert!(browser.exists("body").await);
    assert!(!browser.exists("#no-such-element").await);
    assert!(browser.viewport_png().await.len() > 100);

    browser
        .goto(&data_url(
            r#"<html lang="en"><head><title>form</title></head><body><main>
            <label for="q">Query</label><input id="q" value="old">
            <button id="go" onclick="document.getElementById('out').textContent = document.getElementById('q').value">Go</button>
            <p id="out"></p></main></body></html>"#,
        ))
        .await;
    browser.fill("#q", "typed").await;
    browser.click("#go").await;
    assert_eq!(browser.text("#out").await, "typed");
    assert_eq!(browser.client().title().await.unwrap(), "form");

    browser
        .goto(&data_url(
            r#"<html lang="en"><head><title>t</title></head><body><main><h1>ok</h1><img src="x"></main></body></html>"#,
        ))
        .await;
    let violations = browser.axe_serious().await;
    // Empty only when axe-core is missing and not required (after a SKIPPED line).
    if axe_source().is_some() {
        assert!(
            violations.iter().any(|v| v.starts_with("image-alt (critical)")),
            "{violations:?}"
        );
    }

    browser
        .goto(&data_url(
            r#"<html lang="en"><head><title>t</title></head><body><main><h1>ok</h1></main></body></html>"#,
        ))
        .await;
    assert_eq!(browser.axe_serious().await, Vec::<String>::new());

    browser.close().await;
}

/// A test that panics drops its browser without `close`: nothing may outlive it.
#[tokio::test]
async fn a_dropped_browser_leaves_no_process_and_no_profile() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.goto(&data_url("<p>hi</p>")).await;
    let profile = browser.profile.clone();
    let driver = browser.driver.as_ref().map(Child::id).expect("chromedriver runs");
    assert!(
        !chromium_pids(&profile).is_empty(),
        "chromium runs with the profile"
    );
    let tree = descendants(driver);
    drop(browser);
    assert_eq!(chromium_pids(&profile), Vec::<u32>::new());
    assert!(!alive(driver), "chromedriver {driver} still runs");
    let running: Vec<u32> = tree.into_iter().filter(|&pid| alive(pid)).collect();
    assert!(
        running.is_empty(),
        "chromedriver's descendants still run: {running:?}"
    );
    assert!(!profile.exists(), "{} remains", profile.display());
}
