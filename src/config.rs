//! Settings: the built-in `config/default.toml` < a file given with `--config` < `SCIMD_*`
//! environment variables (< `DATABASE_URL` for the database).

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
    pub max_body_bytes: usize,
    pub bulk_max_operations: usize,
    pub bulk_max_payload_bytes: usize,
    pub max_export_bytes: usize,
    pub max_results: i64,
    pub default_count: i64,
    pub cursor_timeout_seconds: i64,
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

impl Config {
    /// Loads the layered configuration. `file` must exist when given.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(Env::prefixed("SCIMD_").lowercase(true));
        if let Ok(url) = std::env::var("DATABASE_URL")
            && !url.trim().is_empty()
        {
            figment = figment.merge(Serialized::default("database_url", url));
        }
        let config: Config = figment.extract().map_err(|e| ConfigError(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// How the store uses its database.
    pub fn store_options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            max_connections: self.database_max_connections,
            acquire_timeout: Duration::from_millis(self.database_acquire_timeout_ms),
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

/// Parses a lifetime such as `365d`, `12h`, `30m`, `90s` or `2weeks`.
pub fn parse_ttl(raw: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(raw.trim())
        .map_err(|e| format!("{raw:?} is not a duration like 365d or 12h: {e}"))?;
    if d.is_zero() {
        return Err("a lifetime must be longer than zero".into());
    }
    Ok(d)
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
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
    fn redact_hides_password_only() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
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
    fn defaults_are_valid() {
        let config: Config = Figment::from(Toml::string(DEFAULTS)).extract().unwrap();
        config.validate().unwrap();
        assert_eq!(config.token_ttl().unwrap(), Duration::from_secs(365 * 86400));
    }
}
