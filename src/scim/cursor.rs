//! Cursor pagination (RFC 9865): the opaque `cursor` / `nextCursor` values.
//!
//! A cursor is a keyset position, not a server-side snapshot: it names the sort key and id of
//! the last resource of the page it came from, so the next page is "rows after this one" —
//! an index range scan however deep the client pages, and stable while an import creates or
//! deletes resources. Nothing is kept on the server, so cursors survive restarts and work
//! across replicas. A cursor also carries a fingerprint of the query it belongs to (RFC 9865:
//! every other parameter must be identical) — the account and resource type included, so a
//! cursor issued for one account's Users is refused on another account or on Groups — and
//! when it was issued (`cursorTimeout`).
//!
//! Cursors are signed (HMAC-SHA256, truncated to 128 bits, with a key derived from the token
//! signing secret): the sort key inside one is bound into SQL as the column's type, so a
//! cursor a client made up must be refused as `invalidCursor` before it reaches the database,
//! not fail there. Replicas share the secret, so any of them accepts another's cursor.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{ScimError, ScimType};

/// Longest cursor accepted; a real one is well under 300 characters.
const MAX_CURSOR_LEN: usize = 1024;
/// Bytes of the HMAC-SHA256 tag kept in a cursor: 128 bits, as RFC 2104 §5 allows.
const TAG_LEN: usize = 16;

fn mac(key: &[u8], payload: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(payload);
    mac
}

/// A decoded cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Fingerprint of the query (account, resource type, filter, sort) the cursor belongs to.
    #[serde(rename = "q")]
    pub query: String,
    /// The sort key of the last resource returned, in the store's text form; absent when the
    /// list is in its default (id) order or the key was null.
    #[serde(rename = "k", default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Id of the last resource returned.
    #[serde(rename = "i")]
    pub id: Uuid,
    /// Unix seconds when the cursor was issued.
    #[serde(rename = "t")]
    pub issued: i64,
}

impl Cursor {
    /// The opaque string `payload.tag`, both base64url without padding, so only RFC 3986
    /// unreserved characters.
    pub fn encode(&self, mac_key: &[u8]) -> String {
        // Serialising a struct of strings, a uuid and an integer cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        let payload = URL_SAFE_NO_PAD.encode(&json);
        let tag =
            URL_SAFE_NO_PAD.encode(&mac(mac_key, payload.as_bytes()).finalize().into_bytes()[..TAG_LEN]);
        format!("{payload}.{tag}")
    }

    /// Parses a cursor a client sent back; anything that is not one of ours (malformed, or
    /// with a tag that does not verify) is `invalidCursor`.
    pub fn decode(raw: &str, mac_key: &[u8]) -> Result<Cursor, ScimError> {
        let invalid = || {
            ScimError::bad_request(
                ScimType::InvalidCursor,
                "the cursor is not one this server issued: send an empty cursor for the first page, \
                 then the nextCursor of the previous response",
            )
        };
        let raw = raw.trim();
        if raw.len() > MAX_CURSOR_LEN {
            return Err(invalid());
        }
        let (payload, tag) = raw.split_once('.').ok_or_else(invalid)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        // Constant-time comparison of the leading TAG_LEN bytes.
        if tag.len() != TAG_LEN {
            return Err(invalid());
        }
        mac(mac_key, payload.as_bytes())
            .verify_truncated_left(&tag)
            .map_err(|_| invalid())?;
        let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        serde_json::from_slice(&bytes).map_err(|_| invalid())
    }

    /// Checks that the cursor belongs to `query` and is not older than `timeout_secs`.
    pub fn check(&self, query: &str, now: i64, timeout_secs: i64) -> Result<(), ScimError> {
        if self.query != query {
            return Err(ScimError::bad_request(
                ScimType::InvalidCursor,
                "the cursor belongs to a different query (another account, resource type, filter or \
                 order): repeat the first request's filter, sortBy and sortOrder unchanged on every \
                 page, or start again with an empty cursor",
            ));
        }
        if now.saturating_sub(self.issued) > timeout_secs {
            return Err(ScimError::bad_request(
                ScimType::ExpiredCursor,
                format!(
                    "the cursor has expired: request the next page within {timeout_secs} seconds \
                     (cursorTimeout), or start again with an empty cursor"
                ),
            ));
        }
        Ok(())
    }
}

/// The fingerprint of a list query: the same for every page of it, different for any other
/// account, resource type, filter or order.
pub fn query_fingerprint(
    account: Uuid,
    resource_type: &str,
    filter: Option<&str>,
    sort_by: Option<&str>,
    descending: bool,
) -> String {
    let mut hash = Sha256::new();
    let account = account.hyphenated().to_string();
    for part in [
        account.as_str(),
        resource_type,
        filter.map(str::trim).unwrap_or(""),
        sort_by.map(str::trim).unwrap_or(""),
        if descending { "d" } else { "a" },
    ] {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    URL_SAFE_NO_PAD.encode(&hash.finalize()[..12])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &[u8] = b"a cursor key of this server";
    const ACCOUNT: Uuid = Uuid::from_u128(0xa);

    fn sample() -> Cursor {
        Cursor {
            query: query_fingerprint(ACCOUNT, "User", Some("userName sw \"j\""), None, false),
            key: Some("jane@example.com".into()),
            id: Uuid::now_v7(),
            issued: 1_700_000_000,
        }
    }

    #[test]
    fn round_trips_with_only_unreserved_characters() {
        let c = sample();
        let s = c.encode(KEY);
        assert!(
            s.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.' | '~'))
        );
        assert_eq!(Cursor::decode(&s, KEY).unwrap(), c);
        let no_key = Cursor { key: None, ..c };
        assert_eq!(Cursor::decode(&no_key.encode(KEY), KEY).unwrap(), no_key);
    }

    /// The sort key is bound into SQL as the column's type: a client that rewrites it (or
    /// builds a cursor from scratch, the fingerprint being public) must be refused here.
    #[test]
    fn a_forged_or_altered_cursor_is_refused() {
        let genuine = sample().encode(KEY);
        let (_, tag) = genuine.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Cursor {
                key: Some("not a timestamp \u{0}".into()),
                ..sample()
            })
            .unwrap(),
        );
        for raw in [
            format!("{forged_payload}.{tag}"),
            forged_payload.clone(),
            format!("{forged_payload}."),
            sample().encode(b"another server's key"),
            format!("{}x", genuine),
        ] {
            let err = Cursor::decode(&raw, KEY).unwrap_err();
            assert_eq!(err.scim_type, Some(ScimType::InvalidCursor), "{raw}");
        }
    }

    #[test]
    fn garbage_is_invalid_cursor() {
        for raw in ["", "!!!", "abc", "eyJ9", &"A".repeat(5000)] {
            let err = Cursor::decode(raw, KEY).unwrap_err();
            assert_eq!(err.scim_type, Some(ScimType::InvalidCursor), "{raw}");
            assert_eq!(err.status, 400);
        }
    }

    #[test]
    fn another_query_or_an_old_cursor_is_refused() {
        let c = sample();
        let q = c.query.clone();
        assert!(c.check(&q, c.issued + 10, 600).is_ok());
        let other = query_fingerprint(ACCOUNT, "User", Some("userName sw \"k\""), None, false);
        assert_eq!(
            c.check(&other, c.issued, 600).unwrap_err().scim_type,
            Some(ScimType::InvalidCursor)
        );
        assert_eq!(
            c.check(&q, c.issued + 601, 600).unwrap_err().scim_type,
            Some(ScimType::ExpiredCursor)
        );
    }

    #[test]
    fn fingerprints_separate_types_filters_and_orders() {
        let base = query_fingerprint(ACCOUNT, "User", Some("a eq 1"), Some("userName"), false);
        assert_eq!(
            base,
            query_fingerprint(ACCOUNT, "User", Some(" a eq 1 "), Some("userName"), false)
        );
        assert_ne!(
            base,
            query_fingerprint(ACCOUNT, "Group", Some("a eq 1"), Some("userName"), false)
        );
        assert_ne!(
            base,
            query_fingerprint(ACCOUNT, "User", Some("a eq 2"), Some("userName"), false)
        );
        assert_ne!(
            base,
            query_fingerprint(ACCOUNT, "User", Some("a eq 1"), None, false)
        );
        assert_ne!(
            base,
            query_fingerprint(ACCOUNT, "User", Some("a eq 1"), Some("userName"), true)
        );
        assert_ne!(
            base,
            query_fingerprint(
                Uuid::from_u128(0xb),
                "User",
                Some("a eq 1"),
                Some("userName"),
                false
            )
        );
        assert_ne!(
            query_fingerprint(ACCOUNT, "User", Some("ab"), Some("c"), false),
            query_fingerprint(ACCOUNT, "User", Some("a"), Some("bc"), false)
        );
    }

    proptest! {
        #[test]
        fn decode_never_panics(raw in ".{0,2000}") {
            let _ = Cursor::decode(&raw, KEY);
        }

        #[test]
        fn decode_of_base64_noise_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Cursor::decode(&URL_SAFE_NO_PAD.encode(bytes), KEY);
        }
    }
}
