//! Tokens (SPEC R6): signed JWTs whose id is also checked against the token table, so that a
//! revoked or rotated token stops working at once. The token itself is never stored: the table
//! keeps its SHA-256, which also binds the row to exactly one token string.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Error, Result, Service};
use crate::scim::ScimError;
use crate::store::{Store, TokenRecord};

const ISSUER: &str = "scimd";
const SIGNING_KEY_ID: &str = "jwt-hs256";
/// How stale `last_used_at` may get before a request refreshes it: one write a minute per
/// token instead of one per request.
const LAST_USED_RESOLUTION: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// Opens the account's SCIM API.
    Scim,
    /// Opens the account's admin API.
    Admin,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Scim => "scim",
            TokenKind::Admin => "admin",
        }
    }
}

impl FromStr for TokenKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "scim" => Ok(TokenKind::Scim),
            "admin" => Ok(TokenKind::Admin),
            _ => Err(format!("unknown token kind {s:?}: use scim or admin")),
        }
    }
}

/// The identity provider a SCIM token was issued for (SPEC R9: the provisioning source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Idp {
    Okta,
    Entra,
    OneLogin,
    Other,
}

impl Idp {
    pub fn as_str(self) -> &'static str {
        match self {
            Idp::Okta => "okta",
            Idp::Entra => "entra",
            Idp::OneLogin => "onelogin",
            Idp::Other => "other",
        }
    }

    /// The `source` recorded on what this IdP provisions (`scim` for an unknown client).
    pub fn source(self) -> &'static str {
        match self {
            Idp::Other => "scim",
            other => other.as_str(),
        }
    }
}

impl FromStr for Idp {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "okta" => Ok(Idp::Okta),
            "entra" | "azure" | "azuread" | "entraid" => Ok(Idp::Entra),
            "onelogin" => Ok(Idp::OneLogin),
            "other" | "scim" => Ok(Idp::Other),
            _ => Err(format!("unknown IdP {s:?}: use okta, entra, onelogin or other")),
        }
    }
}

impl fmt::Display for Idp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is calling: established by the bearer-token middleware, passed to every rule.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account_id: Uuid,
    pub token_id: Uuid,
    pub kind: TokenKind,
    pub idp: Option<Idp>,
}

impl Caller {
    /// The provisioning source of what this caller creates.
    pub fn source(&self) -> &'static str {
        self.idp.unwrap_or(Idp::Other).source()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    /// The account.
    sub: String,
    /// The token id, also the key of its row.
    jti: String,
    kind: TokenKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    idp: Option<Idp>,
    iat: i64,
    exp: i64,
}

/// A freshly issued token: the only time its secret exists outside the caller's hands.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub record: TokenRecord,
    pub token: String,
}

pub(crate) struct SigningKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl SigningKey {
    pub(crate) async fn load(store: &dyn Store, configured: Option<Vec<u8>>) -> Result<SigningKey> {
        let secret = match configured {
            Some(secret) => secret,
            None => {
                let mut candidate = [0u8; 64];
                rand::fill(&mut candidate);
                let mut tx = store.begin().await?;
                let secret = tx.signing_key(SIGNING_KEY_ID, &candidate).await?;
                tx.commit().await?;
                secret
            }
        };
        Ok(SigningKey {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
        })
    }
}

fn sha256(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn unauthorized(detail: impl Into<String>) -> Error {
    Error::Unauthorized(detail.into())
}

impl Service {
    /// Issues a token for `account`. `ttl` defaults to the configured lifetime.
    pub async fn create_token(
        &self,
        account: Uuid,
        kind: TokenKind,
        idp: Option<Idp>,
        ttl: Option<Duration>,
        description: Option<String>,
    ) -> Result<IssuedToken> {
        let mut tx = self.store.begin().await?;
        if tx.get_account(account).await?.is_none() {
            return Err(ScimError::not_found(format!("no account {account}")).into());
        }
        let issued = self.issue(account, kind, idp, ttl, description)?;
        tx.insert_token(&issued.record).await?;
        tx.commit().await?;
        Ok(issued)
    }

    pub(super) fn issue(
        &self,
        account: Uuid,
        kind: TokenKind,
        idp: Option<Idp>,
        ttl: Option<Duration>,
        description: Option<String>,
    ) -> Result<IssuedToken> {
        let ttl = ttl.unwrap_or(self.settings.token_ttl);
        let ttl = chrono::TimeDelta::from_std(ttl)
            .ok()
            .filter(|d| *d > chrono::TimeDelta::zero() && *d <= chrono::TimeDelta::days(3650))
            .ok_or_else(|| {
                ScimError::invalid_value("a token lifetime must be between 1 second and 10 years")
            })?;
        // Whole seconds: the JWT's `exp` and the row's `expires_at` must agree exactly.
        let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_else(Utc::now);
        let expires_at = now + ttl;
        // SCIM tokens always carry an IdP label: it becomes the provisioning source.
        let idp = match kind {
            TokenKind::Scim => Some(idp.unwrap_or(Idp::Other)),
            TokenKind::Admin => idp,
        };
        let id = Uuid::new_v4();
        let claims = Claims {
            iss: ISSUER.to_string(),
            sub: account.to_string(),
            jti: id.to_string(),
            kind,
            idp,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.signing_key.encoding,
        )
        .map_err(|e| ScimError::new(500, None, format!("could not sign a token: {e}")))?;
        let record = TokenRecord {
            account_id: account,
            id,
            kind: kind.as_str().to_string(),
            idp: idp.map(|i| i.as_str().to_string()),
            description,
            token_sha256: sha256(&token),
            created_at: now,
            expires_at,
            revoked_at: None,
            last_used_at: None,
        };
        Ok(IssuedToken { record, token })
    }

    pub async fn list_tokens(&self, account: Uuid) -> Result<Vec<TokenRecord>> {
        Ok(self.store.reader().await?.list_tokens(account).await?)
    }

    pub async fn revoke_token(&self, account: Uuid, token: Uuid) -> Result<()> {
        let mut tx = self.store.begin().await?;
        if !tx.revoke_token(account, token).await? {
            return Err(
                ScimError::not_found(format!("account {account} has no active token {token}")).into(),
            );
        }
        tx.commit().await?;
        Ok(())
    }

    /// Issues a new token like `token` (kind, IdP, description, lifetime) and revokes the old
    /// one in the same transaction.
    pub async fn rotate_token(
        &self,
        account: Uuid,
        token: Uuid,
        ttl: Option<Duration>,
    ) -> Result<IssuedToken> {
        let mut tx = self.store.begin().await?;
        let old = tx
            .get_token(account, token)
            .await?
            .filter(|t| t.revoked_at.is_none())
            .ok_or_else(|| ScimError::not_found(format!("account {account} has no active token {token}")))?;
        let kind = TokenKind::from_str(&old.kind).map_err(ScimError::invalid_value)?;
        let idp = old
            .idp
            .as_deref()
            .map(Idp::from_str)
            .transpose()
            .map_err(ScimError::invalid_value)?;
        let issued = self.issue(account, kind, idp, ttl, old.description.clone())?;
        tx.revoke_token(account, token).await?;
        tx.insert_token(&issued.record).await?;
        tx.commit().await?;
        Ok(issued)
    }

    /// Checks a bearer token for `path_account`'s API of `kind`. Every failure is 401 with a
    /// detail that says what to fix, and reveals nothing about other accounts: a token of
    /// another account and an account that does not exist get the same answer.
    pub async fn authenticate(&self, token: &str, kind: TokenKind, path_account: &str) -> Result<Caller> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.leeway = 0;
        let claims = match jsonwebtoken::decode::<Claims>(
            token.trim(),
            &self.signing_key.decoding,
            &validation,
        ) {
            Ok(data) => data.claims,
            Err(err) => {
                return Err(unauthorized(match err.kind() {
                    ErrorKind::ExpiredSignature => {
                        "the bearer token has expired: issue a new one (scimd token rotate) and update the IdP"
                            .to_string()
                    }
                    ErrorKind::InvalidSignature => "the bearer token's signature is not valid".to_string(),
                    _ => "the bearer token is malformed: expected a token issued by scimd".to_string(),
                }));
            }
        };
        let foreign = || unauthorized("the bearer token is not valid for this account");
        let account = Uuid::parse_str(path_account).map_err(|_| foreign())?;
        if claims.sub != account.to_string() {
            return Err(foreign());
        }
        if claims.kind != kind {
            return Err(unauthorized(format!(
                "this is a {} token; the {} API needs a {} token",
                claims.kind.as_str(),
                kind.as_str(),
                kind.as_str()
            )));
        }
        let token_id =
            Uuid::parse_str(&claims.jti).map_err(|_| unauthorized("the bearer token is malformed"))?;
        let mut conn = self.store.reader().await?;
        let (record, scim_enabled) = conn
            .get_token_for_auth(account, token_id)
            .await?
            .filter(|(r, _)| r.token_sha256 == sha256(token.trim()))
            .ok_or_else(|| unauthorized("the bearer token is not known: it may have been deleted"))?;
        if let Some(revoked) = record.revoked_at {
            return Err(unauthorized(format!(
                "the bearer token was revoked at {}: use its replacement",
                revoked.to_rfc3339()
            )));
        }
        if record.expires_at <= Utc::now() {
            return Err(unauthorized(format!(
                "the bearer token expired at {}: issue a new one and update the IdP",
                record.expires_at.to_rfc3339()
            )));
        }
        if kind == TokenKind::Scim && !scim_enabled {
            return Err(Error::Forbidden(
                "SCIM provisioning is disabled for this account".to_string(),
            ));
        }
        if record
            .last_used_at
            .is_none_or(|t| Utc::now() - t > LAST_USED_RESOLUTION)
        {
            // Off the request path: a failed bookkeeping write must not fail the request.
            let store = self.store.clone();
            tokio::spawn(async move {
                if let Ok(mut conn) = store.reader().await
                    && let Err(err) = conn.touch_token(account, token_id).await
                {
                    tracing::warn!(error = %err, "could not record token use");
                }
            });
        }
        let idp = record.idp.as_deref().and_then(|s| Idp::from_str(s).ok());
        Ok(Caller {
            account_id: account,
            token_id,
            kind,
            idp,
        })
    }
}
