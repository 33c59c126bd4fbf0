//! The admin API's query parameters and path ids, read exactly as `/api/openapi.json` declares
//! them: an integer is digits within its bounds, an enumerated value is one of its spellings,
//! an id is a hyphenated UUID. Anything else is 400 naming the parameter and what it takes
//! (404 for a path id, which names no resource). No trimming, no case folding, no "empty means
//! absent": the document is the contract, and a fuzzer holds the server to it.

use serde::Deserialize;
use serde::de::IntoDeserializer;
use serde::de::value::{Error as ValueError, StrDeserializer};
use uuid::Uuid;

use crate::http::error::ApiError;
use crate::http::extract::Params;
use crate::scim::ScimError;

/// Most characters of a `filter`: 1024 characters are at most 4096 bytes, the filter parser's
/// own limit, so the bound means the same in characters (what JSON Schema counts) and in bytes.
pub const MAX_FILTER_CHARS: usize = 1024;

fn bad(detail: String) -> ApiError {
    ScimError::invalid_value(detail).into()
}

/// The query of one admin request.
pub struct Query<'a>(pub &'a Params);

impl<'a> Query<'a> {
    /// The raw value; U+0000 is refused everywhere (no store can keep it).
    pub fn raw(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        match self.0.get(name) {
            Some(v) if v.contains('\0') => Err(bad(format!(
                "{name} contains the NUL character (U+0000), which is not accepted"
            ))),
            other => Ok(other),
        }
    }

    /// A decimal integer in `min..=max`.
    pub fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(raw) = self.raw(name)? else {
            return Ok(None);
        };
        let digits = raw.strip_prefix('-').unwrap_or(raw);
        let parsed = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            raw.parse::<i64>().ok()
        } else {
            None
        };
        match parsed {
            Some(v) if (min..=max).contains(&v) => Ok(Some(v)),
            _ if max == i64::MAX => Err(bad(format!(
                "{name} must be an integer of at least {min}, not {raw:?}"
            ))),
            _ => Err(bad(format!(
                "{name} must be an integer from {min} to {max}, not {raw:?}"
            ))),
        }
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.raw(name)? {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(raw) => Err(bad(format!("{name} must be true or false, not {raw:?}"))),
        }
    }

    /// One of the spellings of `T` (a unit-variant enum whose serde names are the wire values).
    pub fn one_of<T: for<'de> Deserialize<'de>>(&self, name: &str) -> Result<Option<T>, ApiError> {
        let Some(raw) = self.raw(name)? else {
            return Ok(None);
        };
        let de: StrDeserializer<'_, ValueError> = raw.into_deserializer();
        T::deserialize(de)
            .map(Some)
            .map_err(|e| bad(format!("{name} {raw:?} is not accepted: {e}")))
    }

    pub fn uuid(&self, name: &str) -> Result<Option<Uuid>, ApiError> {
        let Some(raw) = self.raw(name)? else {
            return Ok(None);
        };
        strict_uuid(raw).map(Some).ok_or_else(|| {
            bad(format!(
                "{name} must be a UUID such as 0192d6c4-8a1e-7c3b-9f7e-2b4c6d8e0f1a, not {raw:?}"
            ))
        })
    }

    /// Free text of at most `max` characters.
    pub fn text(&self, name: &str, max: usize) -> Result<Option<&'a str>, ApiError> {
        let Some(raw) = self.raw(name)? else {
            return Ok(None);
        };
        let len = raw.chars().count();
        if len > max {
            return Err(bad(format!(
                "{name} is {len} characters long; at most {max} are accepted"
            )));
        }
        Ok(Some(raw))
    }
}

/// The hyphenated form only (`8-4-4-4-12` hex digits), which is what the API returns and what
/// JSON Schema's `uuid` format means; `Uuid::parse_str` alone also takes the simple, braced and
/// URN forms.
pub fn strict_uuid(raw: &str) -> Option<Uuid> {
    if raw.len() != 36 {
        return None;
    }
    Uuid::try_parse(raw).ok()
}

/// A resource id from the path: 404 when it is not a UUID, as for an unknown one.
pub fn path_id(kind: &str, raw: &str) -> Result<Uuid, ApiError> {
    strict_uuid(raw).ok_or_else(|| crate::service::not_found(kind, raw).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(query: &str) -> Params {
        Params::parse(query)
    }

    #[test]
    fn integers_are_digits_within_bounds() {
        let p = q("a=5&b=-3&c=%2B5&d=1.0&e=&f=%205&g=9223372036854775808&h=007");
        let q = Query(&p);
        assert_eq!(q.int("a", 1, 500).unwrap(), Some(5));
        assert_eq!(q.int("b", i64::MIN, 0).unwrap(), Some(-3));
        assert_eq!(q.int("h", 1, 500).unwrap(), Some(7));
        assert_eq!(q.int("missing", 1, 500).unwrap(), None);
        for bad in ["b", "c", "d", "e", "f", "g"] {
            assert!(q.int(bad, 1, i64::MAX).is_err(), "{bad}");
        }
        assert!(q.int("a", 1, 4).is_err());
    }

    #[test]
    fn uuids_are_hyphenated() {
        let id = "0192d6c4-8a1e-7c3b-9f7e-2b4c6d8e0f1a";
        assert!(strict_uuid(id).is_some());
        assert!(strict_uuid(&id.to_uppercase()).is_some());
        assert!(strict_uuid(&id.replace('-', "")).is_none());
        assert!(strict_uuid(&format!("{{{id}}}")).is_none());
        assert!(strict_uuid(&format!("urn:uuid:{id}")).is_none());
        assert!(strict_uuid(&format!(" {id}")).is_none());
        assert!(strict_uuid("0192d6c4-8a1e-7c3b-9f7e-2b4c6d8e0f1g").is_none());
    }

    #[test]
    fn nul_is_refused_and_booleans_are_exact() {
        let p = q("a=x%00y&t=true&u=TRUE&v=");
        let q = Query(&p);
        assert!(q.raw("a").is_err());
        assert_eq!(q.bool("t").unwrap(), Some(true));
        assert!(q.bool("u").is_err());
        assert!(q.bool("v").is_err());
    }
}
