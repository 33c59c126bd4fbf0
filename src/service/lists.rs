//! List requests, shared by every resource type: what of a [`ListRequest`] needs the server's
//! settings, key and clock — the default and maximum `count` (RFC 7644 §3.4.2.4), the
//! cursor's signature and age (RFC 9865) — and the protocol errors for what the store cannot
//! filter or sort on. The request itself was parsed and checked at the edge (`scim::list`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use uuid::Uuid;

use super::{Caller, Error, Result, Settings};
use crate::scim::ScimError;
use crate::scim::cursor::{Cursor, query_fingerprint};
use crate::scim::list::{ListRequest, PageRequest};
use crate::store::{AdminFilter, Keyset, KeysetPage, ListQuery, Page, ResourceKind, StoreError};

/// RFC 7644 §3.4.2.4: startIndex < 1 is 1; a negative count is 0; count is clamped to the
/// configured maximum. A cursor page starts nowhere: its start index is 1.
pub(crate) fn page(paging: &PageRequest, settings: &Settings) -> (i64, i64) {
    let start = match paging {
        PageRequest::Index { start_index, .. } => start_index.unwrap_or(1).max(1),
        PageRequest::Cursor { .. } => 1,
    };
    let count = paging
        .count()
        .unwrap_or(settings.default_count)
        .clamp(0, settings.max_results);
    (start, count)
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct ListPage<T> {
    pub total: i64,
    pub start_index: i64,
    pub items: Vec<T>,
    /// How the page was cut: by index, or by cursor (then `start_index` means nothing).
    pub paging: Paging,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paging {
    Index,
    /// Cursor paging; `next` is the `nextCursor` to return, absent on the last page.
    Cursor {
        next: Option<String>,
    },
}

/// A list request ready for the store, with what is needed to issue the next cursor.
pub(crate) struct PreparedList<'k> {
    pub query: ListQuery,
    fingerprint: Option<String>,
    /// Index paging: the list's identity (type, filter, sort) for [`Resumes`].
    resumable: Option<String>,
    cursor_key: &'k [u8],
    /// When the request came, as the service's clock tells it: a cursor issued for the next
    /// page counts its lifetime from here.
    now: i64,
}

impl PreparedList<'_> {
    /// Turns the store's page into the service's, issuing `nextCursor` when there is more.
    pub(crate) fn page<R, T>(&self, page: Page<R>, f: impl FnMut(R) -> T) -> ListPage<T> {
        let paging = match &self.fingerprint {
            None => Paging::Index,
            Some(fingerprint) => Paging::Cursor {
                next: page.next.map(|k| {
                    Cursor {
                        query: fingerprint.clone(),
                        key: k.key,
                        id: k.id,
                        issued: self.now,
                    }
                    .encode(self.cursor_key)
                }),
            },
        };
        ListPage {
            total: page.total,
            start_index: self.query.start_index,
            items: page.items.into_iter().map(f).collect(),
            paging,
        }
    }
}

/// Makes the store's query of a list request, verifying its cursor. The store refuses
/// attributes it cannot filter or sort on.
pub(crate) fn list_query<'k>(
    kind: ResourceKind,
    rt: &'static crate::scim::schema::ResourceType,
    account: Uuid,
    req: &ListRequest,
    settings: &Settings,
    cursor_key: &'k [u8],
) -> Result<PreparedList<'k>> {
    let filter = req.filter.as_ref().map(|f| f.filter.clone());
    let sort = req.sort.as_ref().map(|s| s.sort.clone());
    let (start_index, count) = page(&req.paging, settings);
    let now = settings.clock.now().timestamp();
    let fingerprint = query_fingerprint(
        account,
        kind.resource_type(),
        req.filter.as_ref().map(|f| f.text.as_str()),
        req.sort.as_ref().map(|s| s.text.as_str()),
        req.sort.as_ref().is_some_and(|s| s.sort.descending),
    );
    let PageRequest::Cursor { after, .. } = &req.paging else {
        return Ok(PreparedList {
            query: ListQuery {
                filter,
                sort,
                start_index,
                count,
                keyset: None,
                resume: None,
                resource_type: Some(rt),
            },
            fingerprint: None,
            resumable: Some(fingerprint),
            cursor_key,
            now,
        });
    };
    let after = match after {
        None => None,
        Some(raw) => {
            let cursor = Cursor::decode(raw, cursor_key)?;
            cursor.check(&fingerprint, now, settings.cursor_timeout_secs)?;
            Some(Keyset {
                key: cursor.key,
                id: cursor.id,
            })
        }
    };
    Ok(PreparedList {
        query: ListQuery {
            filter,
            sort,
            start_index,
            count,
            keyset: Some(KeysetPage { after }),
            resume: None,
            resource_type: Some(rt),
        },
        fingerprint: Some(fingerprint),
        resumable: None,
        cursor_key,
        now,
    })
}

/// Where the index-paged lists that callers are walking left off: for the page a caller is
/// expected to ask for next (`startIndex` = this page's start + its rows), the last row it was
/// given. That next page is then read as a range after that row — what a cursor page costs —
/// instead of by skipping every row before it, so an IdP importing a large account 100 rows at
/// a time (Okta's import does exactly this) pays O(page) per page, not O(startIndex): linear
/// for the whole import, not quadratic.
///
/// What a resumed page shows: the rows after the last row the caller was given, in the list's
/// order. When no resource was added or removed before that point meanwhile it is exactly the
/// page `startIndex` names; when some were, the caller sees each row once (an OFFSET would
/// skip or repeat rows), which is what RFC 7644 §3.4.2.4 leaves to the server ("clients MUST be
/// prepared to handle inconsistent results"). `totalResults` is always the list's size now.
///
/// Per process and per token: a page asked of another replica, by another token, with another
/// filter or sort, after [`RESUME_FOR`], or a second time (an entry is used once) is read with
/// OFFSET as before. Bounded, so callers walking many lists cannot grow the process.
#[derive(Default)]
pub(crate) struct Resumes(Mutex<HashMap<ResumeKey, (Keyset, Duration)>>);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ResumeKey {
    token: Uuid,
    account: Uuid,
    list: String,
    start_index: i64,
}

/// How long a page's end is remembered: well past the time between two pages of an import.
pub(crate) const RESUME_FOR: Duration = Duration::from_secs(600);
/// Most lists remembered at once.
const MAX_RESUMES: usize = 4096;

impl Resumes {
    /// Sets `list`'s resume position when the caller is asking for the page after one it was
    /// given; the position is used once.
    pub(crate) fn resume(
        &self,
        list: &mut PreparedList<'_>,
        caller: &Caller,
        extra: &AdminFilter,
        now: Duration,
    ) {
        let Some(key) = list.resume_key(caller, extra, list.query.start_index) else {
            return;
        };
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((position, at)) = map.remove(&key)
            && now.saturating_sub(at) < RESUME_FOR
        {
            list.query.resume = Some(position);
        }
    }

    /// Remembers where a full index page ended, for the page after it.
    pub(crate) fn remember<R>(
        &self,
        list: &PreparedList<'_>,
        page: &Page<R>,
        caller: &Caller,
        extra: &AdminFilter,
        now: Duration,
    ) {
        let Some(last) = &page.last else { return };
        let next = list.query.start_index + page.items.len() as i64;
        let Some(key) = list.resume_key(caller, extra, next) else {
            return;
        };
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_RESUMES {
            map.retain(|_, (_, at)| now.saturating_sub(*at) < RESUME_FOR);
            if map.len() >= MAX_RESUMES {
                // Every entry is recent: forget them all rather than scan for the oldest on
                // every insert; a forgotten list's next page is read with OFFSET, correctly.
                map.clear();
            }
        }
        map.insert(key, (last.clone(), now));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

impl PreparedList<'_> {
    fn resume_key(&self, caller: &Caller, extra: &AdminFilter, start_index: i64) -> Option<ResumeKey> {
        let list = self.resumable.as_ref()?;
        (start_index > 1).then(|| ResumeKey {
            token: caller.token_id,
            account: caller.account_id,
            // The admin API's conditions are part of the list's identity.
            list: format!(
                "{list}|{:?}|{:?}|{}",
                extra.source, extra.idp_managed, extra.idp_groups_only
            ),
            start_index,
        })
    }
}

pub(crate) fn filter_error(err: StoreError) -> Error {
    match err {
        StoreError::Filter(f) => ScimError::invalid_filter(f.0).into(),
        StoreError::Unsortable(detail) => ScimError::invalid_value(detail).into(),
        other => other.into(),
    }
}

/// Rows of a page's related records (groups of users, members of groups) by the id they
/// belong to: built once, so attaching them to a page is linear, not a scan per resource.
pub(crate) fn by_owner<T>(
    rows: Vec<T>,
    owner: impl Fn(&T) -> uuid::Uuid,
) -> std::collections::HashMap<uuid::Uuid, Vec<T>> {
    let mut map: std::collections::HashMap<uuid::Uuid, Vec<T>> = std::collections::HashMap::new();
    for row in rows {
        map.entry(owner(&row)).or_default().push(row);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::list::ListRequest;
    use crate::service::tokens::{Caller, TokenKind};

    fn caller(token: u128) -> Caller {
        Caller {
            account_id: Uuid::from_u128(1),
            token_id: Uuid::from_u128(token),
            kind: TokenKind::Scim,
            idp: None,
            operator: None,
            schema_version: None,
        }
    }

    fn prepared(query: &str) -> PreparedList<'static> {
        let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.as_str() == name)
                .map(|(_, v)| v.as_str())
        };
        let req = ListRequest::from_query(get, 1000).unwrap();
        let settings = Settings {
            token_ttl: Duration::from_secs(3600),
            max_results: 1000,
            default_count: 100,
            cursor_timeout_secs: 600,
            clock: crate::clock::Clock::system(),
            webhook_allow_private_networks: false,
            webhook_timeout: Duration::from_secs(10),
            token_cache: Duration::from_secs(5),
            console_idle: Duration::from_secs(1800),
            console_lifetime: Duration::from_secs(43_200),
            console_setup_link: Duration::from_secs(259_200),
        };
        list_query(
            ResourceKind::User,
            &crate::scim::schema::USER,
            Uuid::from_u128(1),
            &req,
            &settings,
            b"key",
        )
        .unwrap()
    }

    fn full_page(last: u128, rows: usize) -> Page<()> {
        Page {
            total: 1000,
            items: vec![(); rows],
            next: None,
            last: Some(Keyset {
                key: None,
                id: Uuid::from_u128(last),
            }),
        }
    }

    const T0: Duration = Duration::from_secs(1000);

    #[test]
    fn the_next_page_resumes_after_the_last_row_once_and_only_for_its_caller() {
        let resumes = Resumes::default();
        let extra = AdminFilter::default();
        let first = prepared("startIndex=1&count=100");
        resumes.remember(&first, &full_page(7, 100), &caller(1), &extra, T0);

        // Another token, another filter, another start index: nothing to resume.
        let mut other = prepared("startIndex=101&count=100");
        resumes.resume(&mut other, &caller(2), &extra, T0);
        assert!(other.query.resume.is_none());
        let mut filtered = prepared("startIndex=101&count=100&filter=active%20eq%20true");
        resumes.resume(&mut filtered, &caller(1), &extra, T0);
        assert!(filtered.query.resume.is_none());
        let mut elsewhere = prepared("startIndex=201&count=100");
        resumes.resume(&mut elsewhere, &caller(1), &extra, T0);
        assert!(elsewhere.query.resume.is_none());

        let mut next = prepared("startIndex=101&count=50");
        resumes.resume(&mut next, &caller(1), &extra, T0);
        assert_eq!(next.query.resume.map(|k| k.id), Some(Uuid::from_u128(7)));
        // Used once: asking for the same page again reads it by offset.
        let mut again = prepared("startIndex=101&count=50");
        resumes.resume(&mut again, &caller(1), &extra, T0);
        assert!(again.query.resume.is_none());
    }

    #[test]
    fn a_remembered_end_expires_and_only_full_index_pages_are_remembered() {
        let resumes = Resumes::default();
        let extra = AdminFilter::default();
        let first = prepared("startIndex=1&count=100");
        resumes.remember(&first, &full_page(7, 100), &caller(1), &extra, T0);
        let mut late = prepared("startIndex=101&count=100");
        resumes.resume(&mut late, &caller(1), &extra, T0 + RESUME_FOR);
        assert!(late.query.resume.is_none());

        // A last page (the store gives no `last`) and a cursor page leave nothing behind.
        let mut last_page = full_page(7, 10);
        last_page.last = None;
        resumes.remember(&first, &last_page, &caller(1), &extra, T0);
        let cursor = prepared("cursor&count=100");
        resumes.remember(&cursor, &full_page(7, 100), &caller(1), &extra, T0);
        assert_eq!(resumes.len(), 0);
    }

    #[test]
    fn remembered_lists_are_bounded() {
        let resumes = Resumes::default();
        let extra = AdminFilter::default();
        let first = prepared("startIndex=1&count=100");
        for token in 0..(MAX_RESUMES as u128 * 2 + 10) {
            resumes.remember(&first, &full_page(7, 100), &caller(token), &extra, T0);
            assert!(resumes.len() <= MAX_RESUMES);
        }
    }
}
