//! Tokens (docs/rules.md, R6): signed JWTs whose id is also checked against the token table, so that a
//! revoked or rotated token stops working at once. The token itself is never stored: the table
//! keeps its SHA-256, which also binds the row to exactly one token string.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::audit::{self, Change};
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

/// The identity provider a SCIM token was issued for (docs/rules.md, R9: the provisioning source). Its
/// name is the source it records: `okta`, `entra`, `onelogin`, or `scim` for any other client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Idp {
    Okta,
    Entra,
    OneLogin,
    /// Any other SCIM client. Tokens issued before this label was named `scim` carry `other`.
    #[serde(alias = "other")]
    Scim,
}

impl Idp {
    pub fn as_str(self) -> &'static str {
        match self {
            Idp::Okta => "okta",
            Idp::Entra => "entra",
            Idp::OneLogin => "onelogin",
            Idp::Scim => "scim",
        }
    }

    /// The `source` recorded on what this IdP provisions: its name (docs/rules.md, R9).
    pub fn source(self) -> &'static str {
        self.as_str()
    }

    /// The label as the token table keeps it: its CHECK constraint predates the name `scim`
    /// and spells it `other` (changing it means rebuilding the SQLite table). Every reader
    /// shows it through `normalise`.
    pub fn stored(self) -> &'static str {
        match self {
            Idp::Scim => "other",
            idp => idp.as_str(),
        }
    }

    /// A stored label in today's spelling (`other`, the former name of `scim`, becomes `scim`).
    pub fn normalise(label: &str) -> String {
        Idp::from_str(label)
            .map(|i| i.as_str().to_string())
            .unwrap_or_else(|_| label.to_string())
    }
}

impl FromStr for Idp {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "okta" => Ok(Idp::Okta),
            "entra" | "azure" | "azuread" | "entraid" => Ok(Idp::Entra),
            "onelogin" => Ok(Idp::OneLogin),
            // `other`: the former name of `scim`, still accepted.
            "scim" | "other" => Ok(Idp::Scim),
            _ => Err(format!(
                "unknown IdP {s:?}: use okta, entra, onelogin, or scim for any other SCIM client"
            )),
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
    /// An operator at the command line (not a token holder): acts with admin rights plus the
    /// `force` path of R3. The name is what the audit log records (e.g. `$USER`).
    pub operator: Option<String>,
    /// The account's schema version as the token check read it (`service::schemas`); `None`
    /// when no token was checked (an operator), so the types are read from the database.
    pub schema_version: Option<i64>,
}

impl Caller {
    /// The provisioning source of what this caller creates: the SCIM token's IdP label, or
    /// `manual` for the admin API and operators (docs/rules.md, R9).
    pub fn source(&self) -> &'static str {
        match self.kind {
            TokenKind::Scim => self.idp.unwrap_or(Idp::Scim).source(),
            TokenKind::Admin => "manual",
        }
    }

    /// An operator acting on `account` from the command line.
    pub fn operator(account: Uuid, name: impl Into<String>) -> Caller {
        Caller {
            account_id: account,
            token_id: Uuid::nil(),
            kind: TokenKind::Admin,
            idp: None,
            operator: Some(name.into()),
            schema_version: None,
        }
    }

    pub fn is_operator(&self) -> bool {
        self.operator.is_some()
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

/// Token ids whose `last_used_at` refresh this process started, with when (the service
/// clock's monotonic time).
#[derive(Default)]
pub(crate) struct RecentlyTouched(std::sync::Mutex<std::collections::HashMap<Uuid, Duration>>);

impl RecentlyTouched {
    /// True when the caller should refresh `token`: no refresh of it started in this process
    /// within `LAST_USED_RESOLUTION` before `now`. Old entries are dropped as the map grows.
    fn claim(&self, token: Uuid, now: Duration) -> bool {
        let Ok(mut map) = self.0.lock() else {
            return true;
        };
        let window = LAST_USED_RESOLUTION
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(60));
        if map.len() > 10_000 {
            map.retain(|_, at| now.saturating_sub(*at) < window);
        }
        match map.get(&token) {
            Some(at) if now.saturating_sub(*at) < window => false,
            _ => {
                map.insert(token, now);
                true
            }
        }
    }
}

/// Most revoked tokens [`RevokedTokens`] remembers; the oldest is forgotten first.
const REVOKED_REMEMBERED: usize = 10_000;

/// Ids of tokens this process found revoked, with when they were revoked: a validly signed
/// but revoked token (a decommissioned IdP connector still retrying, say) is refused from here
/// without reading the database again. Safe to keep: a revoked token never becomes valid again.
/// Bounded, so tokens revoked one after another cannot grow the process.
#[derive(Default)]
pub(crate) struct RevokedTokens(std::sync::Mutex<Remembered>);

/// Revocation times by token id, and the ids in the order they were remembered.
#[derive(Default)]
struct Remembered {
    at: std::collections::HashMap<Uuid, DateTime<Utc>>,
    order: std::collections::VecDeque<Uuid>,
}

impl RevokedTokens {
    fn get(&self, token: Uuid) -> Option<DateTime<Utc>> {
        self.0.lock().ok()?.at.get(&token).copied()
    }

    fn remember(&self, token: Uuid, revoked_at: DateTime<Utc>) {
        let Ok(mut remembered) = self.0.lock() else {
            return;
        };
        if remembered.at.insert(token, revoked_at).is_none() {
            remembered.order.push_back(token);
        }
        while remembered.order.len() > REVOKED_REMEMBERED {
            if let Some(oldest) = remembered.order.pop_front() {
                remembered.at.remove(&oldest);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().map(|r| r.at.len()).unwrap_or(0)
    }
}

fn revoked_error(revoked: DateTime<Utc>) -> Error {
    unauthorized(format!(
        "the bearer token was revoked at {}: use its replacement",
        revoked.to_rfc3339()
    ))
}

pub(crate) struct SigningKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Signs list cursors (RFC 9865), derived from the secret so tokens and cursors never
    /// share a key.
    cursor: [u8; 32],
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
        let mut cursor =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&secret).expect("HMAC accepts any key length");
        cursor.update(b"scimd list cursor v1");
        Ok(SigningKey {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            cursor: cursor.finalize().into_bytes().into(),
        })
    }

    pub(crate) fn cursor_key(&self) -> &[u8] {
        &self.cursor
    }
}

fn sha256(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn unauthorized(detail: impl Into<String>) -> Error {
    Error::Unauthorized(detail.into())
}

impl Service {
    /// Issues a token for `account` as an operator (the CLI). `ttl` defaults to the account's
    /// token lifetime, else the configured one (365 days).
    pub async fn create_token(
        &self,
        account: Uuid,
        kind: TokenKind,
        idp: Option<Idp>,
        ttl: Option<Duration>,
        description: Option<String>,
    ) -> Result<IssuedToken> {
        self.create_token_as(
            &Caller::operator(account, "operator"),
            kind,
            idp,
            ttl,
            description,
        )
        .await
    }

    /// Issues a token for the caller's account, audited as the caller's action.
    pub async fn create_token_as(
        &self,
        caller: &Caller,
        kind: TokenKind,
        idp: Option<Idp>,
        ttl: Option<Duration>,
        description: Option<String>,
    ) -> Result<IssuedToken> {
        let account = caller.account_id;
        let mut tx = self.store.begin().await?;
        let profile = super::settings::profile(tx.as_mut(), account).await?;
        let issued = self.issue(account, kind, idp, ttl.or(profile.token_ttl), description)?;
        tx.insert_token(&issued.record).await?;
        audit::record(
            tx.as_mut(),
            caller,
            Change::new("token.create", "Token", issued.record.id).after(token_json(&issued.record)),
        )
        .await?;
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
        let clock_now = self.clock().now();
        let now = DateTime::from_timestamp(clock_now.timestamp(), 0).unwrap_or(clock_now);
        let expires_at = now + ttl;
        // SCIM tokens always carry an IdP label: it becomes the provisioning source.
        let idp = match kind {
            TokenKind::Scim => Some(idp.unwrap_or(Idp::Scim)),
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
        .map_err(|e| {
            // Logged with the request id; the client learns only that it failed on our side.
            tracing::error!(error = %e, "could not sign a token");
            super::Error::Failed("could not issue the token; see the server log".into())
        })?;
        let record = TokenRecord {
            account_id: account,
            id,
            kind: kind.as_str().to_string(),
            idp: idp.map(|i| i.stored().to_string()),
            description,
            token_sha256: sha256(&token),
            created_at: now,
            expires_at,
            revoked_at: None,
            last_used_at: None,
            oauth_client_id: None,
        };
        Ok(IssuedToken { record, token })
    }

    pub async fn list_tokens(&self, account: Uuid) -> Result<Vec<TokenRecord>> {
        Ok(self.store.reader().await?.list_tokens(account).await?)
    }

    /// Revokes a token as an operator (the CLI).
    pub async fn revoke_token(&self, account: Uuid, token: Uuid) -> Result<()> {
        self.revoke_token_as(&Caller::operator(account, "operator"), token, None)
            .await
    }

    /// Revokes a token of the caller's account; with `only`, a token of another kind is not
    /// found (the admin API manages SCIM tokens only).
    pub async fn revoke_token_as(&self, caller: &Caller, token: Uuid, only: Option<TokenKind>) -> Result<()> {
        let account = caller.account_id;
        let mut tx = self.store.begin().await?;
        let old = active_token(tx.as_mut(), account, token, only).await?;
        revoke_once(tx.as_mut(), account, token).await?;
        audit::record(
            tx.as_mut(),
            caller,
            Change::new("token.revoke", "Token", token).before(token_json(&old)),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Issues a new token like `token` (kind, IdP, description, lifetime) and revokes the old
    /// one in the same transaction, as an operator.
    pub async fn rotate_token(
        &self,
        account: Uuid,
        token: Uuid,
        ttl: Option<Duration>,
    ) -> Result<IssuedToken> {
        self.rotate_token_as(&Caller::operator(account, "operator"), token, ttl, None)
            .await
    }

    /// Regenerates a token of the caller's account (R6): a new secret with the same kind, IdP
    /// and description, the old one revoked at once.
    pub async fn rotate_token_as(
        &self,
        caller: &Caller,
        token: Uuid,
        ttl: Option<Duration>,
        only: Option<TokenKind>,
    ) -> Result<IssuedToken> {
        let account = caller.account_id;
        let mut tx = self.store.begin().await?;
        let old = active_token(tx.as_mut(), account, token, only).await?;
        let profile = super::settings::profile(tx.as_mut(), account).await?;
        let kind = TokenKind::from_str(&old.kind).map_err(ScimError::invalid_value)?;
        let idp = old
            .idp
            .as_deref()
            .map(Idp::from_str)
            .transpose()
            .map_err(ScimError::invalid_value)?;
        let issued = self.issue(
            account,
            kind,
            idp,
            ttl.or(profile.token_ttl),
            old.description.clone(),
        )?;
        revoke_once(tx.as_mut(), account, token).await?;
        tx.insert_token(&issued.record).await?;
        audit::record(
            tx.as_mut(),
            caller,
            Change::new("token.regenerate", "Token", token)
                .before(token_json(&old))
                .after(token_json(&issued.record)),
        )
        .await?;
        tx.commit().await?;
        Ok(issued)
    }

    /// Checks a bearer token for `path_account`'s API of `kind`. Every failure is 401 with a
    /// detail that says what to fix, and reveals nothing about other accounts: a token of
    /// another account and an account that does not exist get the same answer.
    pub async fn authenticate(&self, token: &str, kind: TokenKind, path_account: &str) -> Result<Caller> {
        let claims = self.claims(token)?;
        let now = self.clock().now();
        if claims.exp <= now.timestamp() {
            return Err(unauthorized(
                "the bearer token has expired: issue a new one (scimd token rotate) and update the IdP",
            ));
        }
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
        if let Some(revoked) = self.revoked.get(token_id) {
            return Err(revoked_error(revoked));
        }
        let checked = self.checked_token(account, token_id).await?;
        let (record, account_row) = (&checked.0, checked.1);
        if record.token_sha256 != sha256(token.trim()) {
            return Err(unauthorized(
                "the bearer token is not known: it may have been deleted",
            ));
        }
        // Before revocation: disabling SCIM revokes every SCIM token (R7), and the IdP must be
        // told that provisioning is off (403), not sent looking for a replacement token.
        if kind == TokenKind::Scim && !account_row.scim_enabled {
            return Err(Error::Forbidden(
                "SCIM provisioning is disabled for this account; an account admin can enable it again \
                 (POST /api/accounts/{accountId}/scim/enable) and issue a new SCIM token"
                    .to_string(),
            ));
        }
        if let Some(revoked) = record.revoked_at {
            self.revoked.remember(token_id, revoked);
            return Err(revoked_error(revoked));
        }
        if record.expires_at <= now {
            return Err(unauthorized(format!(
                "the bearer token expired at {}: issue a new one and update the IdP",
                record.expires_at.to_rfc3339()
            )));
        }
        if record.last_used_at.is_none_or(|t| now - t > LAST_USED_RESOLUTION)
            && self.touched.claim(token_id, self.clock().monotonic())
        {
            // Off the request path: a failed bookkeeping write must not fail the request. A
            // write transaction like any other, so SQLite's writers keep taking turns.
            let store = self.store.clone();
            tokio::spawn(async move {
                let result = async {
                    let mut tx = store.begin().await?;
                    tx.touch_token(account, token_id).await?;
                    tx.commit().await
                }
                .await;
                if let Err(err) = result {
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
            operator: None,
            schema_version: Some(account_row.schema_version),
        })
    }

    /// A token's claims, its signature checked (its row and expiry are not).
    fn claims(&self, token: &str) -> Result<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.leeway = 0;
        // `exp` is checked against the service's clock, not the system's.
        validation.validate_exp = false;
        jsonwebtoken::decode::<Claims>(token.trim(), &self.signing_key.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|err| {
                unauthorized(match err.kind() {
                    ErrorKind::InvalidSignature => "the bearer token's signature is not valid",
                    _ => "the bearer token is malformed: expected a token issued by scimd",
                })
            })
    }

    /// The account a token of scimd's names (its signature checked, nothing else): where a
    /// token pasted without an account (the console's sign-in) is to be checked.
    pub(crate) fn token_account(&self, token: &str) -> Result<String> {
        Ok(self.claims(token)?.sub)
    }

    /// The admin token `token_id` of `account`, checked as a request's token is (revoked,
    /// expired, deleted), from the cache while nothing it relies on has changed: a console
    /// session lives only while the admin token it was opened with does.
    pub(crate) async fn check_admin_token_id(&self, account: Uuid, token_id: Uuid) -> Result<Caller> {
        if let Some(revoked) = self.revoked.get(token_id) {
            return Err(revoked_error(revoked));
        }
        let checked = self.checked_token(account, token_id).await?;
        let (record, account_row) = (&checked.0, checked.1);
        if record.kind != TokenKind::Admin.as_str() {
            return Err(unauthorized("the session's token is not an admin token"));
        }
        if let Some(revoked) = record.revoked_at {
            self.revoked.remember(token_id, revoked);
            return Err(revoked_error(revoked));
        }
        if record.expires_at <= self.clock().now() {
            return Err(unauthorized(format!(
                "the admin token expired at {}",
                record.expires_at.to_rfc3339()
            )));
        }
        Ok(Caller {
            account_id: account,
            token_id,
            kind: TokenKind::Admin,
            idp: None,
            operator: None,
            schema_version: Some(account_row.schema_version),
        })
    }

    /// The token's row and what a check needs of its account: from this process's cache while
    /// nothing they hold has changed (`auth_cache`), else from the database.
    async fn checked_token(&self, account: Uuid, token_id: Uuid) -> Result<super::auth_cache::Checked> {
        let now = self.clock().monotonic();
        // Taken before the read: a change committed during it leaves the entry stale.
        let generation = self.store.auth_generation();
        if let Some(checked) = self.auth_cache.get(token_id, generation, now)
            && checked.0.account_id == account
        {
            return Ok(checked);
        }
        let checked = self
            .store
            .reader()
            .await?
            .get_token_for_auth(account, token_id)
            .await?
            .ok_or_else(|| unauthorized("the bearer token is not known: it may have been deleted"))?;
        let checked = std::sync::Arc::new(checked);
        self.auth_cache.put(checked.clone(), generation, now);
        Ok(checked)
    }
}

/// An unrevoked token of the account (of kind `only`, when given), else 404.
async fn active_token(
    tx: &mut dyn crate::store::Tx,
    account: Uuid,
    token: Uuid,
    only: Option<TokenKind>,
) -> Result<TokenRecord> {
    tx.get_token(account, token)
        .await?
        .filter(|t| t.revoked_at.is_none())
        .filter(|t| only.is_none_or(|k| t.kind == k.as_str()))
        .ok_or_else(|| {
            Error::NotFound(format!(
                "account {account} has no active {}token {token}",
                only.map(|k| format!("{} ", k.as_str())).unwrap_or_default()
            ))
        })
}

/// Revokes `token`, or fails with 404 when a concurrent request revoked it first: the
/// conditional UPDATE decides, so two regenerations of one token cannot both mint a live
/// replacement (the read in `active_token` takes no lock).
async fn revoke_once(tx: &mut dyn crate::store::Tx, account: Uuid, token: Uuid) -> Result<()> {
    if tx.revoke_token(account, token).await? {
        Ok(())
    } else {
        Err(Error::NotFound(format!(
            "account {account} has no active token {token}: it was revoked meanwhile"
        )))
    }
}

/// What the audit log and the admin API show of a token: never its secret or hash.
pub fn token_json(t: &TokenRecord) -> serde_json::Value {
    serde_json::json!({
        "id": t.id,
        "kind": t.kind,
        "idp": t.idp.as_deref().map(Idp::normalise),
        "description": t.description,
        "created_at": t.created_at,
        "expires_at": t.expires_at,
        "revoked_at": t.revoked_at,
        "last_used_at": t.last_used_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_tokens_are_remembered_within_a_bound() {
        let revoked = RevokedTokens::default();
        let at = Utc::now();
        let first = Uuid::now_v7();
        revoked.remember(first, at);
        revoked.remember(first, at);
        assert_eq!(revoked.len(), 1);
        assert_eq!(revoked.get(first), Some(at));
        for _ in 0..REVOKED_REMEMBERED + 5 {
            revoked.remember(Uuid::now_v7(), at);
        }
        assert_eq!(revoked.len(), REVOKED_REMEMBERED);
        // The oldest went first.
        assert_eq!(revoked.get(first), None);
    }
}
