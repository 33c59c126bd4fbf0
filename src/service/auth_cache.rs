//! Verified tokens, kept per process so a request's token check reads no database.
//!
//! An entry holds what the check read (the token's row and what it needs of its account) and
//! the store's generation at the time of the read (`store/auth_signal.rs`). It is used only
//! while the generation is still the same — any revocation, rotation, SCIM switch or schema
//! change committed by anyone moves it — and only for `token_cache_seconds` at most, the bound
//! on what no signal covers. Everything that depends on the time (expiry) and on the presented
//! secret (its hash) is still checked on every request, against the cached row.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use uuid::Uuid;

use crate::store::auth_signal::Generation;
use crate::store::{AuthAccount, TokenRecord};

/// Past this many entries the cache starts over: a bound on memory whatever the traffic,
/// far above the tokens an installation's IdPs use at once.
const MAX_ENTRIES: usize = 10_000;

pub(crate) type Checked = Arc<(TokenRecord, AuthAccount)>;

struct Entry {
    checked: Checked,
    generation: Generation,
    /// The service clock's monotonic time of the read.
    read_at: Duration,
}

pub(crate) struct AuthCache {
    max_age: Duration,
    entries: Mutex<HashMap<Uuid, Entry>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// What `/metrics` shows of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCacheStats {
    pub hits: u64,
    pub misses: u64,
    /// The cache is on and the store vouches that every change will be heard.
    pub active: bool,
}

impl AuthCache {
    /// A cache whose entries live at most `max_age`; zero turns it off.
    pub(crate) fn new(max_age: Duration) -> AuthCache {
        AuthCache {
            max_age,
            entries: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The token's cached check, if it was read under `generation` less than the maximum age
    /// before `now`.
    pub(crate) fn get(&self, token: Uuid, generation: Option<Generation>, now: Duration) -> Option<Checked> {
        let found = generation.and_then(|g| self.lookup(token, g, now));
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn lookup(&self, token: Uuid, generation: Generation, now: Duration) -> Option<Checked> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(&token)?;
        (entry.generation == generation && now.saturating_sub(entry.read_at) < self.max_age)
            .then(|| entry.checked.clone())
    }

    /// Counts so far; `active` is the caller's to say.
    pub(crate) fn stats(&self, active: bool) -> TokenCacheStats {
        TokenCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            active: active && !self.max_age.is_zero(),
        }
    }

    /// Keeps a check read from the database. `generation` must have been taken *before* the
    /// read: a change committed in between then leaves the entry stale instead of wrongly fresh.
    pub(crate) fn put(&self, checked: Checked, generation: Option<Generation>, now: Duration) {
        let Some(generation) = generation else { return };
        if self.max_age.is_zero() {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            checked.0.id,
            Entry {
                checked,
                generation,
                read_at: now,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn checked(id: Uuid) -> Checked {
        let now = Utc::now();
        Arc::new((
            TokenRecord {
                account_id: Uuid::nil(),
                id,
                kind: "scim".into(),
                idp: None,
                description: None,
                token_sha256: vec![1; 32],
                created_at: now,
                expires_at: now,
                revoked_at: None,
                last_used_at: None,
                oauth_client_id: None,
            },
            AuthAccount {
                scim_enabled: true,
                schema_version: 0,
            },
        ))
    }

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn an_entry_serves_only_its_generation_and_its_age() {
        let cache = AuthCache::new(5 * SEC);
        let id = Uuid::new_v4();
        cache.put(checked(id), Some((1, 0, 0)), 10 * SEC);
        assert!(cache.get(id, Some((1, 0, 0)), 14 * SEC).is_some());
        assert!(
            cache.get(id, Some((2, 0, 0)), 11 * SEC).is_none(),
            "a change was committed"
        );
        assert!(
            cache.get(id, Some((1, 1, 0)), 11 * SEC).is_none(),
            "another process changed it"
        );
        assert!(
            cache.get(id, None, 11 * SEC).is_none(),
            "a change could go unheard"
        );
        assert!(cache.get(id, Some((1, 0, 0)), 15 * SEC).is_none(), "too old");
        assert!(cache.get(Uuid::new_v4(), Some((1, 0, 0)), 11 * SEC).is_none());
    }

    #[test]
    fn nothing_is_kept_without_a_generation_or_with_a_zero_age() {
        let id = Uuid::new_v4();
        let cache = AuthCache::new(5 * SEC);
        cache.put(checked(id), None, SEC);
        assert!(cache.get(id, Some((0, 0, 0)), SEC).is_none());
        let off = AuthCache::new(Duration::ZERO);
        off.put(checked(id), Some((0, 0, 0)), SEC);
        assert!(off.get(id, Some((0, 0, 0)), SEC).is_none());
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = AuthCache::new(5 * SEC);
        for _ in 0..MAX_ENTRIES + 5 {
            cache.put(checked(Uuid::new_v4()), Some((0, 0, 0)), SEC);
        }
        assert!(cache.entries.lock().unwrap().len() <= MAX_ENTRIES);
    }
}
