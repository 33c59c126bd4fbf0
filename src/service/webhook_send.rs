//! Sending one webhook message (docs/events.md, "Webhooks"): signed per the Standard Webhooks
//! specification (`webhook-id`, `webhook-timestamp`, `webhook-signature`, by its reference
//! implementation), over an HTTP client that refuses to reach the server's own networks
//! (server-side request forgery): a URL whose host is, or resolves only to, a loopback,
//! private, link-local (cloud metadata), shared or unspecified address is not called unless the
//! operator allows it (`webhook_allow_private_networks`). Redirects are not followed, the time
//! and the answer read are bounded.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::Url;
use reqwest::dns::{Name, Resolve, Resolving};

/// What a secret starts with (Standard Webhooks).
pub const SECRET_PREFIX: &str = "whsec_";
/// How much of an answer is read (for the delivery log's error text): the status is what counts.
const MAX_ANSWER_BYTES: usize = 1024;

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// Why `ip` may not be called without the operator's leave, if it may not.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("a loopback address")
            } else if v6.is_unspecified() {
                Some("the unspecified address")
            } else if first & 0xfe00 == 0xfc00 {
                Some("a private (unique local) address")
            } else if first & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else {
                None
            }
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address (where cloud metadata services answer)")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (carrier-grade NAT) address")
    } else if ip.is_unspecified() || a == 0 {
        Some("the unspecified network")
    } else if ip.is_broadcast() || ip.is_multicast() {
        Some("a broadcast or multicast address")
    } else {
        None
    }
}

/// Checks a webhook URL: http or https, a host, no credentials, and (unless allowed) not an
/// address of the server's own networks when the host is an address.
pub fn check_url(raw: &str, allow_private: bool) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("the url is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(format!("the url must be http or https, not {}", url.scheme()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the url may not hold credentials; the signature authenticates scimd".into());
    }
    let host = url.host_str().ok_or_else(|| "the url has no host".to_string())?;
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>()
        && !allow_private
        && let Some(why) = forbidden(ip)
    {
        return Err(format!(
            "the url's host {host} is {why}: webhooks reach public addresses only, unless the operator \
             sets webhook_allow_private_networks"
        ));
    }
    Ok(url)
}

/// Resolves names like the system does, then drops the addresses `forbidden` names: a name
/// that resolves only to such addresses is not reached (and one that resolves to both reaches
/// only the public ones, whatever a rebinding DNS server answers next).
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs
                .iter()
                .copied()
                .filter(|a| allow_private || forbidden(a.ip()).is_none())
                .collect();
            if allowed.is_empty() {
                let why = addrs
                    .first()
                    .and_then(|a| forbidden(a.ip()))
                    .unwrap_or("not resolvable");
                return Err(format!("{host} resolves to {why} only: not reached").into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The HTTP status answered, if any.
    pub status: Option<u16>,
    /// Why it failed: no answer (timeout, refused, blocked) or a non-2xx answer's first bytes.
    pub error: Option<String>,
    pub latency: Duration,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The HTTP client deliveries go through.
pub struct Sender {
    client: reqwest::Client,
    allow_private: bool,
}

impl Sender {
    pub fn new(allow_private: bool, timeout: Duration) -> Result<Sender, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let tls =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS configuration: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .dns_resolver(GuardedResolver { allow_private })
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .user_agent(concat!("scimd-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("the webhook HTTP client: {e}"))?;
        Ok(Sender {
            client,
            allow_private,
        })
    }

    /// POSTs `body` to `url`, signed with `secret` as message `msg_id`. The timestamp is the
    /// wall clock's (receivers check it against theirs, to refuse replays).
    pub async fn send(&self, url: &str, secret: &str, msg_id: &str, body: &[u8]) -> Attempt {
        let started = Instant::now();
        let failed = |error: String| Attempt {
            status: None,
            error: Some(error),
            latency: started.elapsed(),
        };
        if let Err(e) = check_url(url, self.allow_private) {
            return failed(e);
        }
        let timestamp = chrono::Utc::now().timestamp();
        let signature =
            match standardwebhooks::Webhook::new(secret).and_then(|w| w.sign(msg_id, timestamp, body)) {
                Ok(signature) => signature,
                Err(e) => return failed(format!("could not sign: {e}")),
            };
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header(standardwebhooks::HEADER_WEBHOOK_ID, msg_id)
            .header(standardwebhooks::HEADER_WEBHOOK_TIMESTAMP, timestamp.to_string())
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
            .body(body.to_vec())
            .send()
            .await;
        let mut res = match sent {
            Ok(res) => res,
            Err(e) => {
                let why = if e.is_timeout() {
                    "no answer within the timeout".to_string()
                } else {
                    // The chain holds the resolver's refusal or the connection's error.
                    let mut text = e.to_string();
                    let mut source = std::error::Error::source(&e);
                    while let Some(s) = source {
                        text = format!("{text}: {s}");
                        source = s.source();
                    }
                    text
                };
                return failed(why);
            }
        };
        let status = res.status().as_u16();
        let mut answer = Vec::new();
        let mut timed_out = false;
        while answer.len() < MAX_ANSWER_BYTES {
            match res.chunk().await {
                Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(_) => {
                    timed_out = true;
                    break;
                }
            }
        }
        answer.truncate(MAX_ANSWER_BYTES);
        let success = (200..300).contains(&status);
        Attempt {
            status: Some(status),
            error: (!success).then(|| {
                let text = String::from_utf8_lossy(&answer).trim().to_string();
                match (text.is_empty(), timed_out) {
                    (_, true) => format!("HTTP {status}, the answer cut off"),
                    (true, false) => format!("HTTP {status}"),
                    (false, false) => format!("HTTP {status}: {text}"),
                }
            }),
            latency: started.elapsed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_s_own_networks_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(forbidden(ip.parse().unwrap()).is_some(), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "100.128.0.1"] {
            assert!(forbidden(ip.parse().unwrap()).is_none(), "{ip}");
        }
        assert!(check_url("http://127.0.0.1:8080/hook", false).is_err());
        assert!(check_url("http://[::1]/hook", false).is_err());
        assert!(check_url("http://169.254.169.254/latest/meta-data", false).is_err());
        assert!(check_url("http://127.0.0.1:8080/hook", true).is_ok());
        assert!(check_url("https://hooks.example.com/scim", false).is_ok());
        assert!(check_url("ftp://hooks.example.com/", false).is_err());
        assert!(check_url("https://user:pw@hooks.example.com/", false).is_err());
        assert!(check_url("not a url", false).is_err());
    }

    /// The Standard Webhooks specification's example: the signature scimd sends is the one any
    /// receiver's library computes.
    #[test]
    fn signatures_follow_the_standard_webhooks_example() {
        let webhook = standardwebhooks::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = webhook
            .sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#,
            )
            .unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(new_secret().starts_with(SECRET_PREFIX));
        assert!(standardwebhooks::Webhook::new(&new_secret()).is_ok());
    }
}
