//! OAuth 2.0 client-credentials for IdPs (RFC 6749 §4.4; docs/idp-setup.md). An account's
//! admin registers a client for an IdP; the IdP exchanges the client's id and secret at the
//! account's token endpoint for a SCIM token that lives an hour (by default). That token is a
//! SCIM token like any other — same account, same IdP label and so the same provisioning
//! source (R9), checked by the same code — and names its client, so revoking the client revokes
//! every token it was given, at once.

use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::audit;
use super::change::Change;
use super::tokens::{IssuedToken, token_json};
use super::{Caller, Error, Idp, Result, Service, TokenKind};
use crate::scim::ScimError;
use crate::store::OAuthClientRecord;

/// Lifetime of an access token when the client was registered without one: an hour, what
/// Entra's provisioning service expects and refreshes before.
pub const DEFAULT_ACCESS_TOKEN_SECONDS: i64 = 3600;
/// Bounds of a client's access-token lifetime.
pub const ACCESS_TOKEN_SECONDS: std::ops::RangeInclusive<i64> = 60..=86_400;
/// What a client secret starts with, so secret scanners and people recognise one.
const SECRET_PREFIX: &str = "scimd_cs_";

/// A client just registered: the only time its secret exists outside the caller's hands.
#[derive(Debug, Clone)]
pub struct IssuedClient {
    pub record: OAuthClientRecord,
    pub secret: String,
}

/// A token request refused, as RFC 6749 §5.2 spells it: the HTTP status, the `error` code and
/// its description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(status: u16, error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }

    /// The one answer to every failed client authentication: which part was wrong (unknown
    /// client, other account, wrong secret, revoked) is not said to a guesser.
    fn invalid_client() -> OAuthError {
        OAuthError::new(
            401,
            "invalid_client",
            "client authentication failed: check the client id and secret registered for this account \
             (a revoked client fails too)",
        )
    }
}

fn sha256(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// What the audit log and the admin API show of a client: never its secret or hash.
pub fn client_json(c: &OAuthClientRecord) -> serde_json::Value {
    serde_json::json!({
        "client_id": c.id,
        "idp": Idp::normalise(&c.idp),
        "description": c.description,
        "access_token_seconds": c.access_token_seconds,
        "created_at": c.created_at,
        "revoked_at": c.revoked_at,
    })
}

impl Service {
    /// Registers a client for `idp` in the caller's account.
    pub async fn create_oauth_client(
        &self,
        caller: &Caller,
        idp: Idp,
        description: Option<String>,
        access_token_seconds: Option<i64>,
    ) -> Result<IssuedClient> {
        let seconds = access_token_seconds.unwrap_or(DEFAULT_ACCESS_TOKEN_SECONDS);
        if !ACCESS_TOKEN_SECONDS.contains(&seconds) {
            return Err(ScimError::invalid_value(format!(
                "access_token_seconds must be from {} to {}",
                ACCESS_TOKEN_SECONDS.start(),
                ACCESS_TOKEN_SECONDS.end()
            ))
            .into());
        }
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes);
        let secret = format!(
            "{SECRET_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
        let now = self.clock().now();
        let record = OAuthClientRecord {
            account_id: caller.account_id,
            id: Uuid::new_v4(),
            idp: idp.stored().to_string(),
            description,
            secret_sha256: sha256(&secret),
            access_token_seconds: seconds,
            created_at: chrono::DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now),
            revoked_at: None,
        };
        let mut tx = self.store.begin().await?;
        // The account must exist (an operator names it by id).
        if tx.get_account(caller.account_id).await?.is_none() {
            return Err(Error::NotFound(format!("no account {}", caller.account_id)));
        }
        tx.insert_oauth_client(&record).await?;
        audit::record(
            tx.as_mut(),
            caller,
            Change::new("oauth_client.create", "OAuthClient", record.id).after(client_json(&record)),
        )
        .await?;
        tx.commit().await?;
        Ok(IssuedClient { record, secret })
    }

    pub async fn list_oauth_clients(&self, caller: &Caller) -> Result<Vec<OAuthClientRecord>> {
        Ok(self
            .store
            .reader()
            .await?
            .list_oauth_clients(caller.account_id)
            .await?)
    }

    /// Revokes a client and every access token it was given.
    pub async fn revoke_oauth_client(&self, caller: &Caller, id: Uuid) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let client = tx
            .get_oauth_client(caller.account_id, id)
            .await?
            .filter(|c| c.revoked_at.is_none())
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "account {} has no active OAuth client {id}",
                    caller.account_id
                ))
            })?;
        if !tx.revoke_oauth_client(caller.account_id, id).await? {
            return Err(Error::NotFound(format!(
                "OAuth client {id} was revoked meanwhile"
            )));
        }
        audit::record(
            tx.as_mut(),
            caller,
            Change::new("oauth_client.revoke", "OAuthClient", id).before(client_json(&client)),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The client-credentials grant at `path_account`'s token endpoint: a SCIM token for the
    /// client's IdP, and its lifetime in seconds.
    pub async fn exchange_client_credentials(
        &self,
        path_account: &str,
        client_id: &str,
        secret: &str,
    ) -> std::result::Result<(IssuedToken, i64), OAuthError> {
        let (Ok(account), Ok(id)) = (Uuid::parse_str(path_account), Uuid::parse_str(client_id)) else {
            return Err(OAuthError::invalid_client());
        };
        let failed = |e: Error| {
            tracing::warn!(error = %e, "the token endpoint could not issue a token");
            match e {
                Error::Unavailable(_) | Error::DatabaseUnavailable { .. } => OAuthError::new(
                    503,
                    "temporarily_unavailable",
                    "the database is unavailable; retry shortly",
                ),
                _ => OAuthError::new(
                    500,
                    "server_error",
                    "the token could not be issued; see the server log",
                ),
            }
        };
        let mut tx = self.store.begin().await.map_err(|e| failed(e.into()))?;
        let client = tx
            .get_oauth_client(account, id)
            .await
            .map_err(|e| failed(e.into()))?
            .filter(|c| c.revoked_at.is_none() && c.secret_sha256 == sha256(secret))
            .ok_or_else(OAuthError::invalid_client)?;
        let scim_enabled = tx
            .get_account(account)
            .await
            .map_err(|e| failed(e.into()))?
            .is_some_and(|a| a.scim_enabled);
        if !scim_enabled {
            return Err(OAuthError::new(
                400,
                "unauthorized_client",
                "SCIM provisioning is disabled for this account; an account admin can enable it again",
            ));
        }
        let idp = Idp::from_str(&client.idp).map_err(|e| failed(Error::Failed(e)))?;
        let seconds = client.access_token_seconds;
        let mut issued = self
            .issue(
                account,
                TokenKind::Scim,
                Some(idp),
                Some(Duration::from_secs(seconds as u64)),
                Some(format!("OAuth access token of client {id}")),
            )
            .map_err(failed)?;
        issued.record.oauth_client_id = Some(id);
        tx.insert_token(&issued.record)
            .await
            .map_err(|e| failed(e.into()))?;
        // Audited as the client's act (no event: an IdP refreshes its token every hour).
        let client_caller = Caller {
            account_id: account,
            token_id: id,
            kind: TokenKind::Scim,
            idp: Some(idp),
            operator: None,
            schema_version: None,
        };
        audit::record(
            tx.as_mut(),
            &client_caller,
            Change::new("oauth.token", "Token", issued.record.id).after(token_json(&issued.record)),
        )
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(|e| failed(e.into()))?;
        Ok((issued, seconds))
    }
}
