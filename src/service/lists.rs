//! List requests, shared by every resource type: what of a [`ListRequest`] needs the server's
//! settings, key and clock — the default and maximum `count` (RFC 7644 §3.4.2.4), the
//! cursor's signature and age (RFC 9865) — and the protocol errors for what the store cannot
//! filter or sort on. The request itself was parsed and checked at the edge (`scim::list`).

use uuid::Uuid;

use super::{Error, Result, Settings};
use crate::scim::ScimError;
use crate::scim::cursor::{Cursor, query_fingerprint};
use crate::scim::list::{ListRequest, PageRequest};
use crate::store::{Keyset, KeysetPage, ListQuery, Page, ResourceKind, StoreError};

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
    account: Uuid,
    req: &ListRequest,
    settings: &Settings,
    cursor_key: &'k [u8],
) -> Result<PreparedList<'k>> {
    let filter = req.filter.as_ref().map(|f| f.filter.clone());
    let sort = req.sort.as_ref().map(|s| s.sort.clone());
    let (start_index, count) = page(&req.paging, settings);
    let now = settings.clock.now().timestamp();
    let PageRequest::Cursor { after, .. } = &req.paging else {
        return Ok(PreparedList {
            query: ListQuery {
                filter,
                sort,
                start_index,
                count,
                keyset: None,
            },
            fingerprint: None,
            cursor_key,
            now,
        });
    };
    let fingerprint = query_fingerprint(
        account,
        kind.resource_type(),
        req.filter.as_ref().map(|f| f.text.as_str()),
        req.sort.as_ref().map(|s| s.text.as_str()),
        req.sort.as_ref().is_some_and(|s| s.sort.descending),
    );
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
        },
        fingerprint: Some(fingerprint),
        cursor_key,
        now,
    })
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
