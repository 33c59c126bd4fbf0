//! Webhooks (docs/events.md, "Webhooks"): an account's endpoints, and the deliveries that
//! carry its change feed to them.
//!
//! Each endpoint follows the feed from its own position, one event at a time in feed order: an
//! event is retried until the endpoint answers 2xx, and the position moves only then, so every
//! event arrives at least once and the events of one resource in the order they happened. A
//! failing endpoint waits (exponential backoff, [`RETRY_AFTER`], about 32 hours in all) without
//! holding up any other; when the last retry fails it is disabled, which the account's feed
//! and audit log report (`webhook.disabled`). A process delivers to an endpoint only under its
//! lease (`store/webhooks.rs`), so replicas share endpoints instead of sending twice.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta};
use serde_json::json;
use uuid::Uuid;

use super::audit;
use super::change::Change;
use super::events::{EVENT_TYPES, event_json};
use super::webhook_send::{check_url, forbidden, new_secret};
use super::{Caller, Error, Result, Service};
use crate::scim::ScimError;
use crate::store::{EventQuery, WebhookDelivery, WebhookEndpoint};

/// The wait after each failed attempt: the 1st retry 5 s after the first failure, … the 11th
/// 8 h after the 10th; about 32 hours from the first failure to the last attempt.
pub const RETRY_AFTER: [Duration; 11] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
    Duration::from_secs(1800),
    Duration::from_secs(3600),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(4 * 3600),
    Duration::from_secs(8 * 3600),
    Duration::from_secs(8 * 3600),
    Duration::from_secs(8 * 3600),
];
/// How long a claim on an endpoint holds; a round gives it back sooner.
const LEASE: Duration = Duration::from_secs(60);
/// What one round spends on one endpoint at most, well inside the lease.
const ROUND_BUDGET: Duration = Duration::from_secs(20);
/// Endpoints one round claims.
const CLAIMS_PER_ROUND: i64 = 32;
/// Most endpoints per account.
const MAX_ENDPOINTS: usize = 20;

/// A change to an endpoint (the admin API's PATCH).
#[derive(Debug, Clone, Default)]
pub struct WebhookUpdate {
    pub url: Option<String>,
    pub types: Option<Option<Vec<String>>>,
    pub description: Option<Option<String>>,
    /// `true` re-enables a disabled endpoint; it then retries the event it stopped at at once.
    pub enabled: Option<bool>,
}

/// What the log and the feed show of an endpoint: never its secret.
pub fn endpoint_json(e: &WebhookEndpoint) -> serde_json::Value {
    json!({
        "id": e.id,
        "url": e.url,
        "types": e.types,
        "description": e.description,
        "enabled": e.enabled,
        "disabled_reason": e.disabled_reason,
    })
}

fn check_types(types: &Option<Vec<String>>) -> Result<()> {
    if let Some(types) = types {
        if types.is_empty() {
            return Err(ScimError::invalid_value(
                "types must name at least one event type; leave it out (or null) for every type",
            )
            .into());
        }
        if let Some(unknown) = types.iter().find(|t| !EVENT_TYPES.contains(&t.as_str())) {
            return Err(ScimError::invalid_value(format!(
                "unknown event type {unknown:?}; the types are {}",
                EVENT_TYPES.join(", ")
            ))
            .into());
        }
    }
    Ok(())
}

/// The delay before retry `attempts` (1-based), or `None` when no retry is left.
pub fn retry_delay(attempts: i64) -> Option<Duration> {
    usize::try_from(attempts - 1)
        .ok()
        .and_then(|i| RETRY_AFTER.get(i))
        .copied()
}

impl Service {
    /// Checks a URL as `webhook_send::check_url` does, and that its host resolves to an address
    /// the server may reach (checked again at each delivery: DNS answers change).
    async fn check_webhook_url(&self, url: &str) -> Result<()> {
        let allow = self.settings.webhook_allow_private_networks;
        let parsed = check_url(url, allow).map_err(ScimError::invalid_value)?;
        let host = parsed.host_str().unwrap_or_default().to_string();
        if allow
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok()
        {
            return Ok(());
        }
        let lookup = tokio::time::timeout(
            Duration::from_secs(3),
            tokio::net::lookup_host((host.as_str(), 0)),
        )
        .await
        .map_err(|_| ScimError::invalid_value(format!("the url's host {host} did not resolve within 3 s")))?;
        let addrs: Vec<_> = lookup
            .map_err(|e| ScimError::invalid_value(format!("the url's host {host} does not resolve: {e}")))?
            .collect();
        if let Some(why) = addrs.iter().find_map(|a| forbidden(a.ip()))
            && addrs.iter().all(|a| forbidden(a.ip()).is_some())
        {
            return Err(ScimError::invalid_value(format!(
                "the url's host {host} resolves to {why}: webhooks reach public addresses only, unless the \
                 operator sets webhook_allow_private_networks"
            ))
            .into());
        }
        Ok(())
    }

    /// Registers an endpoint; it receives the events that follow. Its secret is in the answer.
    pub async fn create_webhook(
        &self,
        caller: &Caller,
        url: &str,
        types: Option<Vec<String>>,
        description: Option<String>,
    ) -> Result<WebhookEndpoint> {
        check_types(&types)?;
        self.check_webhook_url(url).await?;
        // Events committed before now get their positions first, so the endpoint, which starts
        // at the feed's end, is not sent them (on Postgres they are numbered after commit).
        self.store.sequence_events().await?;
        let mut tx = self.store.begin().await?;
        if tx.get_account(caller.account_id).await?.is_none() {
            return Err(Error::NotFound(format!("no account {}", caller.account_id)));
        }
        if tx.list_webhooks(caller.account_id).await?.len() >= MAX_ENDPOINTS {
            return Err(ScimError::invalid_value(format!(
                "an account has at most {MAX_ENDPOINTS} webhook endpoints; delete one first"
            ))
            .into());
        }
        let now = self.clock().now();
        let endpoint = tx
            .insert_webhook(&WebhookEndpoint {
                account_id: caller.account_id,
                id: Uuid::new_v4(),
                url: url.to_string(),
                types,
                secret: new_secret(),
                description,
                enabled: true,
                disabled_reason: None,
                created_at: DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now),
                position: 0,
                attempts: 0,
                next_attempt_at: None,
                failing_since: None,
            })
            .await?;
        audit::record(
            tx.as_mut(),
            caller,
            Change::new("webhook.create", "Webhook", endpoint.id).after(endpoint_json(&endpoint)),
        )
        .await?;
        tx.commit().await?;
        Ok(endpoint)
    }

    pub async fn list_webhooks(&self, caller: &Caller) -> Result<Vec<WebhookEndpoint>> {
        Ok(self
            .store
            .reader()
            .await?
            .list_webhooks(caller.account_id)
            .await?)
    }

    pub async fn get_webhook(&self, caller: &Caller, id: Uuid) -> Result<WebhookEndpoint> {
        self.store
            .reader()
            .await?
            .get_webhook(caller.account_id, id)
            .await?
            .ok_or_else(|| no_webhook(caller, id))
    }

    /// Changes an endpoint; re-enabling it clears its failure state.
    pub async fn update_webhook(
        &self,
        caller: &Caller,
        id: Uuid,
        update: WebhookUpdate,
    ) -> Result<WebhookEndpoint> {
        if let Some(types) = &update.types {
            check_types(types)?;
        }
        if let Some(url) = &update.url {
            self.check_webhook_url(url).await?;
        }
        let mut tx = self.store.begin().await?;
        let before = existing(tx.as_mut(), caller, id).await?;
        let mut e = before.clone();
        if let Some(url) = update.url {
            e.url = url;
        }
        if let Some(types) = update.types {
            e.types = types;
        }
        if let Some(description) = update.description {
            e.description = description;
        }
        match update.enabled {
            Some(true) if !e.enabled => enable(&mut e),
            Some(false) => {
                e.enabled = false;
                e.disabled_reason = Some("disabled by an admin".to_string());
            }
            _ => {}
        }
        tx.save_webhook(&e).await?;
        audit::record(
            tx.as_mut(),
            caller,
            Change::new("webhook.update", "Webhook", id)
                .before(endpoint_json(&before))
                .after(endpoint_json(&e)),
        )
        .await?;
        tx.commit().await?;
        Ok(e)
    }

    pub async fn delete_webhook(&self, caller: &Caller, id: Uuid) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let before = existing(tx.as_mut(), caller, id).await?;
        tx.delete_webhook(caller.account_id, id).await?;
        audit::record(
            tx.as_mut(),
            caller,
            Change::new("webhook.delete", "Webhook", id).before(endpoint_json(&before)),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sends again every event after feed position `after` (a cursor of the events API, or an
    /// event's id less one), and re-enables the endpoint.
    pub async fn redeliver_webhook(&self, caller: &Caller, id: Uuid, after: i64) -> Result<WebhookEndpoint> {
        let page = self
            .store
            .reader()
            .await?
            .list_events(
                caller.account_id,
                &EventQuery {
                    after,
                    limit: 0,
                    types: None,
                },
            )
            .await?;
        if after < page.pruned_through {
            return Err(ScimError::new(
                410,
                None,
                format!(
                    "events after position {after} are no longer kept (retention removed them through {})",
                    page.pruned_through
                ),
            )
            .into());
        }
        let mut tx = self.store.begin().await?;
        let before = existing(tx.as_mut(), caller, id).await?;
        let mut e = before.clone();
        e.position = after.min(page.head);
        enable(&mut e);
        tx.save_webhook(&e).await?;
        audit::record(
            tx.as_mut(),
            caller,
            Change::new("webhook.redeliver", "Webhook", id)
                .before(endpoint_json(&before))
                .after(endpoint_json(&e))
                .delta(json!({"redeliver_after": after})),
        )
        .await?;
        tx.commit().await?;
        Ok(e)
    }

    /// The endpoint's delivery attempts, newest first.
    pub async fn webhook_deliveries(
        &self,
        caller: &Caller,
        id: Uuid,
        limit: i64,
    ) -> Result<Vec<WebhookDelivery>> {
        let mut reader = self.store.reader().await?;
        if reader.get_webhook(caller.account_id, id).await?.is_none() {
            return Err(no_webhook(caller, id));
        }
        Ok(reader
            .list_webhook_deliveries(caller.account_id, id, limit)
            .await?)
    }

    /// One round of deliveries: numbers newly committed events (Postgres), claims the endpoints
    /// that are due and have events to send, and delivers to them, each in order; the number
    /// of attempts made. `scimd serve` runs a round every second; tests run them one by one.
    pub async fn deliver_webhooks(&self) -> Result<usize> {
        self.store.sequence_events().await?;
        let now = self.clock().now();
        let lease = TimeDelta::from_std(LEASE).unwrap_or(TimeDelta::MAX);
        let claimed = {
            let mut tx = self.store.begin().await?;
            let claimed = tx
                .claim_webhooks(self.webhook_owner, now, now + lease, CLAIMS_PER_ROUND)
                .await?;
            tx.commit().await?;
            claimed
        };
        let rounds = claimed.into_iter().map(|e| self.deliver_to(e));
        let mut attempts = 0;
        for result in futures_util::future::join_all(rounds).await {
            match result {
                Ok(n) => attempts += n,
                Err(err) => {
                    tracing::warn!(error = %err, "a webhook round stopped early; the endpoint is retried")
                }
            }
        }
        Ok(attempts)
    }

    /// Delivers the events after `e`'s position to it, in order, until they run out, one fails,
    /// or the round's budget is spent; then gives the lease back.
    async fn deliver_to(&self, mut e: WebhookEndpoint) -> Result<usize> {
        let owner = self.webhook_owner;
        let started = Instant::now();
        let mut attempts = 0;
        let mut pending: Vec<WebhookDelivery> = Vec::new();
        let outcome: Result<()> = async {
            loop {
                let page = self
                    .store
                    .reader()
                    .await?
                    .list_events(
                        e.account_id,
                        &EventQuery {
                            after: e.position,
                            limit: 100,
                            types: e.types.clone(),
                        },
                    )
                    .await?;
                let full = page.events.len() > 100;
                for event in page.events.iter().take(100) {
                    attempts += 1;
                    let body = json!({
                        "type": event.kind,
                        "timestamp": event.at,
                        "data": event_json(event),
                    })
                    .to_string();
                    let msg_id = format!("evt_{}", event.seq);
                    let attempt = self
                        .webhook_sender
                        .send(&e.url, &e.secret, &msg_id, body.as_bytes())
                        .await;
                    let now = self.clock().now();
                    let delivery = WebhookDelivery {
                        account_id: e.account_id,
                        endpoint_id: e.id,
                        event_seq: event.seq,
                        attempt: e.attempts + 1,
                        status: attempt.status.map(i64::from),
                        error: attempt.error.clone(),
                        latency_ms: i64::try_from(attempt.latency.as_millis()).unwrap_or(i64::MAX),
                        at: now,
                    };
                    if attempt.succeeded() {
                        // Written with the next failure or at the end of the round, in one
                        // transaction: a commit per event would cost more than the POST.
                        pending.push(delivery);
                        e.position = event.seq;
                        e.attempts = 0;
                        e.failing_since = None;
                    } else {
                        let mut tx = self.store.begin().await?;
                        for done in pending.drain(..) {
                            tx.log_webhook_delivery(&done).await?;
                        }
                        tx.advance_webhook(&e, owner, e.position).await?;
                        tx.log_webhook_delivery(&delivery).await?;
                        e.attempts += 1;
                        e.failing_since = e.failing_since.or(Some(now));
                        match retry_delay(e.attempts) {
                            Some(delay) => {
                                e.next_attempt_at =
                                    Some(now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX));
                                tx.fail_webhook(&e, owner).await?;
                            }
                            None => {
                                e.enabled = false;
                                e.next_attempt_at = None;
                                e.disabled_reason = Some(format!(
                                    "every attempt to deliver event {} failed for {} (last: {}); fix the \
                                     endpoint, then re-enable it",
                                    event.seq,
                                    humantime::format_duration(
                                        (now - e.failing_since.unwrap_or(now))
                                            .to_std()
                                            .unwrap_or_default()
                                    ),
                                    attempt.error.as_deref().unwrap_or("no answer")
                                ));
                                tx.fail_webhook(&e, owner).await?;
                                tracing::warn!(account = %e.account_id, endpoint = %e.id, url = %e.url,
                                    "webhook endpoint disabled after its last retry failed");
                                audit::record(
                                    tx.as_mut(),
                                    &Caller::operator(e.account_id, "scimd webhook delivery"),
                                    Change::new("webhook.disable", "Webhook", e.id).after(endpoint_json(&e)),
                                )
                                .await?;
                            }
                        }
                        tx.commit().await?;
                        return Ok(());
                    }
                    if started.elapsed() > ROUND_BUDGET {
                        return Ok(());
                    }
                }
                if !full {
                    // Every matching event is delivered: pass over the rest (types not asked
                    // for) up to the feed's end as this page saw it.
                    e.position = e.position.max(page.head);
                    return Ok(());
                }
            }
        }
        .await;
        // The round's deliveries, its position and the lease given back, in one transaction.
        // A process that dies before it leaves those events to be sent again: at least once.
        let mut tx = self.store.begin().await?;
        for done in pending.drain(..) {
            tx.log_webhook_delivery(&done).await?;
        }
        tx.advance_webhook(&e, owner, e.position).await?;
        tx.release_webhook(&e, owner).await?;
        tx.commit().await?;
        outcome.map(|()| attempts)
    }
}

/// Enabled, with its failure state cleared: the next round tries the next event at once.
fn enable(e: &mut WebhookEndpoint) {
    e.enabled = true;
    e.disabled_reason = None;
    e.attempts = 0;
    e.next_attempt_at = None;
    e.failing_since = None;
}

/// The caller's endpoint `id`, else 404.
async fn existing(tx: &mut dyn crate::store::Tx, caller: &Caller, id: Uuid) -> Result<WebhookEndpoint> {
    tx.get_webhook(caller.account_id, id)
        .await?
        .ok_or_else(|| no_webhook(caller, id))
}

fn no_webhook(caller: &Caller, id: Uuid) -> Error {
    Error::NotFound(format!(
        "account {} has no webhook endpoint {id}",
        caller.account_id
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_span_more_than_a_day_then_stop() {
        let total: Duration = (1..=11).filter_map(retry_delay).sum();
        assert!(total > Duration::from_secs(24 * 3600), "{total:?}");
        assert_eq!(retry_delay(1), Some(Duration::from_secs(5)));
        assert_eq!(retry_delay(12), None);
        assert_eq!(retry_delay(0), None);
    }
}
