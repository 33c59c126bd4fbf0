//! Web-console sessions (docs/console.md). A browser signs in with an admin token of one
//! account, or with a single-use setup link an operator made for that account, and gets a
//! session: a random secret in a cookie, the row keyed by its SHA-256. Every request through a
//! session acts as that account's admin, under the same rules as the admin API. A session ends
//! at sign-out, after `console_idle` without use, at `console_lifetime` whatever the use, and —
//! for one opened with a token — the moment that token is revoked or expires, since each request
//! checks the token again (from the token cache, which every revocation empties).

use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::audit;
use super::change::Change;
use super::{Caller, Error, Result, Service, TokenKind};
use crate::scim::ScimError;
use crate::store::{ConsoleSessionRecord, SetupLinkRecord};

/// A session's use is written at most this often, so browsing a page after a page is not a
/// write per page; the idle deadline is that much less exact.
const TOUCH_RESOLUTION: chrono::TimeDelta = chrono::TimeDelta::seconds(60);
/// What a setup link's code starts with, so secret scanners and people recognise one.
const SETUP_CODE_PREFIX: &str = "scimd_sl_";
/// Bounds of a setup link's lifetime.
pub const SETUP_LINK_SECONDS: std::ops::RangeInclusive<u64> = 60..=30 * 86_400;

/// A session just opened: the only time its secret exists outside the browser.
#[derive(Debug, Clone)]
pub struct OpenedSession {
    pub secret: String,
    pub account_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// A live session, as a request through it sees it.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    /// Acts as the account's admin: with the token the session was opened with, or with the
    /// setup link's id in its place.
    pub caller: Caller,
    /// Every state-changing form must send this back.
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
    /// Opened with a setup link rather than a pasted token.
    pub via_setup_link: bool,
}

/// A setup link just made: the only time its code exists.
#[derive(Debug, Clone)]
pub struct IssuedSetupLink {
    pub record: SetupLinkRecord,
    pub code: String,
}

fn random_text() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sha256(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.trim().as_bytes()).to_vec()
}

fn signed_out() -> Error {
    Error::Unauthorized("the console session has ended: sign in again".into())
}

fn to_delta(d: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
}

/// What the audit log shows of a setup link: never its code or hash.
pub fn setup_link_json(l: &SetupLinkRecord) -> serde_json::Value {
    serde_json::json!({
        "id": l.id,
        "created_by": l.created_by,
        "created_at": l.created_at,
        "expires_at": l.expires_at,
        "used_at": l.used_at,
    })
}

impl Service {
    /// Opens a session with an admin token: the token names its account, and is checked as
    /// the admin API checks it.
    pub async fn open_console_with_token(&self, token: &str) -> Result<OpenedSession> {
        let account = self.token_account(token)?;
        let caller = self.authenticate(token, TokenKind::Admin, &account).await?;
        self.open_console(caller.account_id, Some(caller.token_id), None)
            .await
    }

    /// Makes a single-use link into the caller's account's console, alive for `lifetime`
    /// (default `console_setup_link`): for an application that hands its customer's IT admin a
    /// way in without handing out an admin token.
    pub async fn create_setup_link(
        &self,
        caller: &Caller,
        lifetime: Option<Duration>,
    ) -> Result<IssuedSetupLink> {
        let lifetime = lifetime.unwrap_or(self.settings.console_setup_link);
        if !SETUP_LINK_SECONDS.contains(&lifetime.as_secs()) {
            return Err(ScimError::invalid_value(format!(
                "a setup link lives from {} seconds to {} days",
                SETUP_LINK_SECONDS.start(),
                SETUP_LINK_SECONDS.end() / 86_400
            ))
            .into());
        }
        let code = format!("{SETUP_CODE_PREFIX}{}", random_text());
        let now = self.clock().now();
        let record = SetupLinkRecord {
            account_id: caller.account_id,
            id: Uuid::new_v4(),
            code_sha256: sha256(&code),
            created_by: match &caller.operator {
                Some(name) => format!("operator:{name}"),
                None => format!("admin-token:{}", caller.token_id),
            },
            created_at: now,
            expires_at: now + to_delta(lifetime),
            used_at: None,
        };
        let mut tx = self.store.begin().await?;
        if tx.get_account(caller.account_id).await?.is_none() {
            return Err(Error::NotFound(format!("no account {}", caller.account_id)));
        }
        tx.insert_setup_link(&record).await?;
        audit::record(
            tx.as_mut(),
            caller,
            Change::new("console.setup_link.create", "SetupLink", record.id).after(setup_link_json(&record)),
        )
        .await?;
        tx.commit().await?;
        Ok(IssuedSetupLink { record, code })
    }

    /// Exchanges a setup link's code for a session; the link is used up whatever happens next.
    pub async fn open_console_with_setup_link(&self, code: &str) -> Result<OpenedSession> {
        let dead = || {
            Error::Unauthorized(
                "this setup link is not valid: it was used already, has expired, or was never issued; \
                 ask for a new one"
                    .into(),
            )
        };
        if !code.trim().starts_with(SETUP_CODE_PREFIX) {
            return Err(dead());
        }
        let now = self.clock().now();
        let mut tx = self.store.begin().await?;
        let link = tx.use_setup_link(&sha256(code), now).await?;
        tx.commit().await?;
        let link = link.filter(|l| l.expires_at > now).ok_or_else(dead)?;
        self.open_console(link.account_id, None, Some(link.id)).await
    }

    async fn open_console(
        &self,
        account: Uuid,
        token_id: Option<Uuid>,
        setup_link_id: Option<Uuid>,
    ) -> Result<OpenedSession> {
        let secret = random_text();
        let now = self.clock().now();
        let record = ConsoleSessionRecord {
            id_sha256: sha256(&secret),
            account_id: account,
            token_id,
            setup_link_id,
            csrf: random_text(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + to_delta(self.settings.console_lifetime),
        };
        let mut tx = self.store.begin().await?;
        tx.insert_console_session(&record, now).await?;
        tx.commit().await?;
        Ok(OpenedSession {
            secret,
            account_id: account,
            expires_at: record.expires_at,
        })
    }

    /// The live session whose secret the browser sent, else `Unauthorized`.
    pub async fn console_session(&self, secret: &str) -> Result<ConsoleSession> {
        let id = sha256(secret);
        let session = self
            .store
            .reader()
            .await?
            .get_console_session(&id)
            .await?
            .ok_or_else(signed_out)?;
        let now = self.clock().now();
        if now >= session.expires_at || now >= session.last_seen_at + to_delta(self.settings.console_idle) {
            return Err(signed_out());
        }
        let caller = match (session.token_id, session.setup_link_id) {
            (Some(token), _) => self
                .check_admin_token_id(session.account_id, token)
                .await
                .map_err(|_| signed_out())?,
            (None, Some(link)) => Caller {
                account_id: session.account_id,
                token_id: link,
                kind: TokenKind::Admin,
                idp: None,
                operator: None,
                schema_version: None,
            },
            (None, None) => return Err(signed_out()),
        };
        if now - session.last_seen_at > TOUCH_RESOLUTION {
            // Bookkeeping: a failed write must not fail the page; the session then idles out
            // up to a minute early at worst.
            let touched = async {
                let mut tx = self.store.begin().await?;
                tx.touch_console_session(&id, now).await?;
                tx.commit().await
            };
            if let Err(err) = touched.await {
                tracing::warn!(error = %err, "could not record a console session's use");
            }
        }
        Ok(ConsoleSession {
            caller,
            csrf: session.csrf,
            expires_at: session.expires_at,
            via_setup_link: session.setup_link_id.is_some(),
        })
    }

    /// Ends the session (sign-out); ending one that has ended already is not an error.
    pub async fn close_console_session(&self, secret: &str) -> Result<()> {
        let mut tx = self.store.begin().await?;
        tx.delete_console_session(&sha256(secret)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The account's setup links, newest first (codes are never kept).
    pub async fn list_setup_links(&self, caller: &Caller) -> Result<Vec<SetupLinkRecord>> {
        Ok(self
            .store
            .reader()
            .await?
            .list_setup_links(caller.account_id)
            .await?)
    }
}

/// What the console's overview shows of an account.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Users and groups per provisioning source (R9).
    pub users_by_source: Vec<(String, i64)>,
    pub groups_by_source: Vec<(String, i64)>,
    /// Changes per UTC day (`YYYY-MM-DD`) and source over the last `ACTIVITY_DAYS` days.
    pub activity: Vec<(String, String, i64)>,
    /// The first day of the chart.
    pub since: DateTime<Utc>,
}

/// Days of provisioning activity the overview charts.
pub const ACTIVITY_DAYS: i64 = 30;

impl Service {
    pub async fn console_overview(&self, caller: &Caller) -> Result<Overview> {
        let today = self.clock().now().date_naive();
        let first = today - chrono::Days::new(ACTIVITY_DAYS as u64 - 1);
        let since = first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let mut read = self.store.reader().await?;
        let account = caller.account_id;
        Ok(Overview {
            users_by_source: read
                .counts_by_source(crate::store::ResourceKind::User, account)
                .await?,
            groups_by_source: read
                .counts_by_source(crate::store::ResourceKind::Group, account)
                .await?,
            activity: read.activity_by_day(account, first).await?,
            since,
        })
    }
}
