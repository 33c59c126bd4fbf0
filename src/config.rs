//! Settings: the built-in `config/default.toml` < a file given with `--config` (or named by
//! `SCIMD_CONFIG`) < `SCIMD_<KEY>` environment variables (< `DATABASE_URL` for the database).
//!
//! A `SCIMD_*` variable that names no setting is not an error: Kubernetes injects
//! `SCIMD_SERVICE_HOST`, `SCIMD_PORT=tcp://…` and more into every pod of a namespace with a
//! Service named `scimd`; those are ignored, and any other unknown one is a warning naming the
//! closest setting (a likely typo). A bad value of a known key stays an error.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::store::Backend;

const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub listen: String,
    pub public_url: String,
    pub database_url: String,
    pub database_max_connections: u32,
    pub database_acquire_timeout_ms: u64,
    pub header_read_timeout_seconds: u64,
    pub request_body_timeout_seconds: u64,
    pub max_connections: usize,
    pub database_allow_readable_by_others: bool,
    pub max_body_bytes: usize,
    pub bulk_max_operations: usize,
    pub bulk_max_payload_bytes: usize,
    pub max_export_bytes: usize,
    pub max_results: i64,
    pub default_count: i64,
    pub cursor_timeout_seconds: i64,
    /// Days the change feed keeps an event (docs/events.md).
    pub event_retention_days: u32,
    /// Webhooks may be delivered to loopback, private and link-local addresses.
    pub webhook_allow_private_networks: bool,
    /// Seconds one webhook delivery may take.
    pub webhook_timeout_seconds: u64,
    /// Seconds a verified token may be trusted from this process's cache; 0: never cached.
    pub token_cache_seconds: u64,
    /// Minutes a web-console session lives without a request (docs/console.md).
    pub console_idle_minutes: u64,
    /// Hours a web-console session lives at most, however used.
    pub console_session_hours: u64,
    /// Hours a setup link lives when its maker asks for no other lifetime.
    pub console_setup_link_hours: u64,
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    pub token_ttl: String,
    pub token_signing_key: String,
    pub log_format: LogFormat,
    pub log_level: String,
    pub shutdown_grace_seconds: u64,
    /// OTLP/HTTP collector (`http://collector:4318`) to send traces to; empty: the standard
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, and with neither, no traces.
    pub otlp_endpoint: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

/// A configuration that cannot be used; the message says which setting and why.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

/// The prefix of setting variables: `SCIMD_LISTEN` sets `listen`.
pub const ENV_PREFIX: &str = "SCIMD_";
/// The variable naming the configuration file, like `--config` (not a setting itself).
pub const CONFIG_ENV: &str = "SCIMD_CONFIG";

/// A loaded configuration, with where each setting came from and what was ignored.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// Each key, in the order of `Config`, with the source of its value: `default`, the file's
    /// path, `SCIMD_<KEY>` or `DATABASE_URL`.
    pub origins: Vec<(String, String)>,
    /// Unknown `SCIMD_*` variables (not Kubernetes service links), with the closest setting.
    pub warnings: Vec<UnknownVariable>,
}

/// A `SCIMD_*` variable that names no setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVariable {
    pub variable: String,
    /// The variable of the setting whose name is closest: probably what was meant.
    pub closest: String,
}

impl std::fmt::Display for UnknownVariable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is not a setting of scimd and is ignored; did you mean {}?",
            self.variable, self.closest
        )
    }
}

impl Config {
    /// Loads the layered configuration. `file` must exist when given.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_verbose(file).map(|l| l.config)
    }

    /// Every setting's name (the keys of `config/default.toml` and of `Config`).
    pub fn keys() -> Vec<String> {
        let defaults: Config = Figment::from(Toml::string(DEFAULTS))
            .extract()
            .expect("config/default.toml holds every setting");
        match serde_json::to_value(defaults) {
            Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Loads the layered configuration and says where each value came from and which
    /// `SCIMD_*` variables were ignored.
    pub fn load_verbose(file: Option<&Path>) -> Result<Loaded, ConfigError> {
        let keys = Self::keys();
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        let mut file_keys = Vec::new();
        if let Some(path) = file {
            if !path.is_file() {
                let how = match std::env::var_os(CONFIG_ENV) {
                    Some(v) if Path::new(&v) == path => format!(" (named by {CONFIG_ENV})"),
                    _ => String::new(),
                };
                return Err(ConfigError(format!(
                    "config file {}{how} does not exist",
                    path.display()
                )));
            }
            let table: serde_json::Map<String, serde_json::Value> = Figment::from(Toml::file(path))
                .extract()
                .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
            file_keys = table.keys().cloned().collect();
            figment = figment.merge(Toml::file(path));
        }
        let mut env_keys = Vec::new();
        let mut warnings = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str() else { continue };
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let key = rest.to_ascii_lowercase();
            if keys.contains(&key) {
                env_keys.push(key);
            } else if name != CONFIG_ENV && !is_kubernetes_service_link(&key, &value.to_string_lossy()) {
                warnings.push(UnknownVariable {
                    variable: name.to_string(),
                    closest: format!("{ENV_PREFIX}{}", closest(&key, &keys).to_ascii_uppercase()),
                });
            }
        }
        warnings.sort_by(|a, b| a.variable.cmp(&b.variable));
        let known = keys.clone();
        figment = figment.merge(
            Env::prefixed(ENV_PREFIX)
                .filter(move |k| known.iter().any(|n| k == n.as_str()))
                .lowercase(true),
        );
        let database_url_env = std::env::var("DATABASE_URL")
            .ok()
            .filter(|url| !url.trim().is_empty());
        if let Some(url) = &database_url_env {
            figment = figment.merge(Serialized::default("database_url", url));
        }
        let config: Config = figment.extract().map_err(|e| ConfigError(e.to_string()))?;
        config.validate()?;
        let origins = keys
            .into_iter()
            .map(|key| {
                let origin = if key == "database_url" && database_url_env.is_some() {
                    "DATABASE_URL".to_string()
                } else if env_keys.contains(&key) {
                    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
                } else if let (true, Some(path)) = (file_keys.contains(&key), file) {
                    path.display().to_string()
                } else {
                    "default".to_string()
                };
                (key, origin)
            })
            .collect();
        Ok(Loaded {
            config,
            origins,
            warnings,
        })
    }

    /// How the store uses its database.
    pub fn store_options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            max_connections: self.database_max_connections,
            acquire_timeout: Duration::from_millis(self.database_acquire_timeout_ms),
            allow_readable_by_others: self.database_allow_readable_by_others,
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        self.token_ttl()?;
        self.signing_key()?;
        if self.database_url.trim().is_empty() {
            return Err(ConfigError(
                "database_url is empty: set it to sqlite://scimd.db or postgres://…".into(),
            ));
        }
        Backend::from_url(&self.database_url).map_err(ConfigError)?;
        if self.database_max_connections < 1 {
            return Err(ConfigError("database_max_connections must be at least 1".into()));
        }
        if self.header_read_timeout_seconds < 1 || self.request_body_timeout_seconds < 1 {
            return Err(ConfigError(
                "header_read_timeout_seconds and request_body_timeout_seconds must be at least 1".into(),
            ));
        }
        if self.max_connections < 1 {
            return Err(ConfigError("max_connections must be at least 1".into()));
        }
        if !(100..=60_000).contains(&self.database_acquire_timeout_ms) {
            return Err(ConfigError(
                "database_acquire_timeout_ms must be between 100 and 60000".into(),
            ));
        }
        if self.max_results < 1 {
            return Err(ConfigError("max_results must be at least 1".into()));
        }
        if self.default_count < 1 || self.default_count > self.max_results {
            return Err(ConfigError(
                "default_count must be between 1 and max_results".into(),
            ));
        }
        if self.cursor_timeout_seconds < 1 {
            return Err(ConfigError("cursor_timeout_seconds must be at least 1".into()));
        }
        if !(1..=60).contains(&self.webhook_timeout_seconds) {
            return Err(ConfigError(
                "webhook_timeout_seconds must be between 1 and 60".into(),
            ));
        }
        if self.token_cache_seconds > 60 {
            return Err(ConfigError(
                "token_cache_seconds must be between 0 (no cache) and 60".into(),
            ));
        }
        if !(1..=1440).contains(&self.console_idle_minutes) {
            return Err(ConfigError(
                "console_idle_minutes must be between 1 and 1440 (a day)".into(),
            ));
        }
        if !(1..=720).contains(&self.console_session_hours) {
            return Err(ConfigError(
                "console_session_hours must be between 1 and 720 (30 days)".into(),
            ));
        }
        if !(1..=720).contains(&self.console_setup_link_hours) {
            return Err(ConfigError(
                "console_setup_link_hours must be between 1 and 720 (30 days)".into(),
            ));
        }
        if !(1..=3650).contains(&self.event_retention_days) {
            return Err(ConfigError(
                "event_retention_days must be between 1 and 3650".into(),
            ));
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError("max_body_bytes must be at least 1024".into()));
        }
        if self.bulk_max_operations < 1 {
            return Err(ConfigError("bulk_max_operations must be at least 1".into()));
        }
        if self.max_export_bytes < 1024 {
            return Err(ConfigError("max_export_bytes must be at least 1024".into()));
        }
        if self.bulk_max_payload_bytes < 1024 {
            return Err(ConfigError("bulk_max_payload_bytes must be at least 1024".into()));
        }
        let public_url_ok = self.public_url.is_empty()
            || self.public_url.starts_with("http://")
            || self.public_url.starts_with("https://");
        if !public_url_ok {
            return Err(ConfigError(format!(
                "public_url must start with http:// or https://, not {:?}",
                self.public_url
            )));
        }
        let otlp = self.otlp_endpoint.trim();
        if !(otlp.is_empty() || otlp.starts_with("http://") || otlp.starts_with("https://")) {
            return Err(ConfigError(format!(
                "otlp_endpoint must start with http:// or https://, not {otlp:?}"
            )));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log_level)
            .map_err(|e| ConfigError(format!("log_level {:?} is not valid: {e}", self.log_level)))?;
        Ok(())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| {
            ConfigError(format!(
                "listen must be an address like 127.0.0.1:8080, not {:?}",
                self.listen
            ))
        })
    }

    pub fn token_ttl(&self) -> Result<Duration, ConfigError> {
        parse_ttl(&self.token_ttl).map_err(|e| ConfigError(format!("token_ttl: {e}")))
    }

    /// The configured signing secret, if any.
    pub fn signing_key(&self) -> Result<Option<Vec<u8>>, ConfigError> {
        let raw = self.token_signing_key.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        let key = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|_| ConfigError("token_signing_key must be base64".into()))?;
        if key.len() < 32 {
            return Err(ConfigError(
                "token_signing_key must decode to at least 32 bytes".into(),
            ));
        }
        Ok(Some(key))
    }

    /// The public origin, or one made from the listen address.
    pub fn public_origin(&self) -> String {
        if self.public_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.public_url.trim_end_matches('/').to_string()
        }
    }
}

/// Is `SCIMD_<key>` one of the variables Kubernetes gives every pod of a namespace that has a
/// Service named `scimd` (`SCIMD_SERVICE_HOST`, `SCIMD_SERVICE_PORT[_NAME]`,
/// `SCIMD_PORT=tcp://…`, `SCIMD_PORT_8080_TCP[_PROTO|_PORT|_ADDR]`)?
fn is_kubernetes_service_link(key: &str, value: &str) -> bool {
    if key == "service_host" || key == "service_port" || key.starts_with("service_port_") {
        return true;
    }
    let is_url = |v: &str| ["tcp://", "udp://", "sctp://"].iter().any(|s| v.starts_with(s));
    if key == "port" {
        return is_url(value);
    }
    let Some(rest) = key.strip_prefix("port_") else {
        return false;
    };
    let mut parts = rest.split('_');
    let port_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let proto_ok = parts.next().is_some_and(|p| matches!(p, "tcp" | "udp" | "sctp"));
    let field_ok = match parts.next() {
        None => true,
        Some(field) => matches!(field, "proto" | "port" | "addr"),
    };
    port_ok && proto_ok && field_ok && parts.next().is_none()
}

/// The setting whose name is closest to `key`.
fn closest<'a>(key: &str, keys: &'a [String]) -> &'a str {
    keys.iter()
        .map(|k| (strsim::jaro_winkler(key, k), k))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.as_str())
        .unwrap_or("listen")
}

/// Parses a lifetime such as `365d`, `12h`, `30m`, `90s` or `2weeks`.
pub fn parse_ttl(raw: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(raw.trim())
        .map_err(|e| format!("{raw:?} is not a duration like 365d or 12h: {e}"))?;
    if d.is_zero() {
        return Err("a lifetime must be longer than zero".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_parses_days_and_hours() {
        assert_eq!(parse_ttl("365d").unwrap(), Duration::from_secs(365 * 86400));
        assert_eq!(parse_ttl("12h").unwrap(), Duration::from_secs(12 * 3600));
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("soon").is_err());
    }

    #[test]
    fn readme_documents_every_key() {
        let readme = include_str!("../README.md");
        let keys: Vec<&str> = DEFAULTS
            .lines()
            .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim()))
            .filter(|k| !k.starts_with('#'))
            .collect();
        assert!(keys.len() >= 13, "{keys:?}");
        for key in keys {
            assert!(
                readme.contains(&format!("| `{key}` |")),
                "README.md's configuration table lacks {key}"
            );
        }
    }

    #[test]
    fn kubernetes_service_links_are_recognised() {
        for (key, value) in [
            ("service_host", "10.0.0.7"),
            ("service_port", "8080"),
            ("service_port_http", "8080"),
            ("port", "tcp://10.0.0.7:8080"),
            ("port_8080_tcp", "tcp://10.0.0.7:8080"),
            ("port_8080_tcp_proto", "tcp"),
            ("port_8080_tcp_port", "8080"),
            ("port_8080_tcp_addr", "10.0.0.7"),
            ("port_53_udp", "udp://10.0.0.7:53"),
        ] {
            assert!(is_kubernetes_service_link(key, value), "{key}");
        }
        for (key, value) in [
            ("port", "8080"),
            ("port_http", "x"),
            ("port_8080_tcp_host", "x"),
            ("listn", "x"),
        ] {
            assert!(!is_kubernetes_service_link(key, value), "{key}");
        }
    }

    #[test]
    fn the_closest_key_is_the_likely_typo() {
        let keys = Config::keys();
        assert_eq!(closest("listn", &keys), "listen");
        assert_eq!(closest("databse_url", &keys), "database_url");
        assert_eq!(closest("max_result", &keys), "max_results");
        assert_eq!(closest("log_levl", &keys), "log_level");
    }

    #[test]
    fn defaults_are_valid() {
        let config: Config = Figment::from(Toml::string(DEFAULTS)).extract().unwrap();
        config.validate().unwrap();
        assert_eq!(config.token_ttl().unwrap(), Duration::from_secs(365 * 86400));
    }
}
