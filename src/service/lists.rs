//! List requests, shared by every resource type: paging (RFC 7644 §3.4.2.4), filter and
//! sort parsing, and the protocol errors for what the store cannot filter or sort on.

use uuid::Uuid;

use super::{Error, Result, Settings};
use crate::scim::cursor::{Cursor, query_fingerprint};
use crate::scim::filter::parse_filter;
use crate::scim::path::parse_attr_path;
use crate::scim::{ScimError, ScimType};
use crate::store::{Keyset, KeysetPage, ListQuery, Page, ResourceKind, Sort, StoreError};

/// A list request as the SCIM layer parsed it (RFC 7644 §3.4.2).
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    /// RFC 9865: `Some("")` asks for the first page of cursor paging, `Some(c)` for the page
    /// after cursor `c`; `None` is index paging.
    pub cursor: Option<String>,
}

impl ListParams {
    /// RFC 7644 §3.4.2.4: startIndex < 1 is 1; a negative count is 0; count is clamped to
    /// the configured maximum.
    pub(crate) fn page(&self, settings: &Settings) -> (i64, i64) {
        let start = self.start_index.unwrap_or(1).max(1);
        let count = self
            .count
            .unwrap_or(settings.default_count)
            .clamp(0, settings.max_results);
        (start, count)
    }
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

/// Parses a list request: filter, sort and paging. The store refuses attributes it cannot
/// filter or sort on.
pub(crate) fn list_query<'k>(
    kind: ResourceKind,
    account: Uuid,
    params: &ListParams,
    settings: &Settings,
    cursor_key: &'k [u8],
) -> Result<PreparedList<'k>> {
    let filter = match params.filter.as_deref().map(str::trim) {
        Some(f) if !f.is_empty() => Some(parse_filter(f)?),
        _ => None,
    };
    let descending = match params.sort_order.as_deref().map(str::trim) {
        None | Some("") => false,
        Some(o) if o.eq_ignore_ascii_case("ascending") => false,
        Some(o) if o.eq_ignore_ascii_case("descending") => true,
        Some(o) => {
            return Err(ScimError::invalid_value(format!(
                "sortOrder must be \"ascending\" or \"descending\", not {o:?}"
            ))
            .into());
        }
    };
    let sort = match params.sort_by.as_deref().map(str::trim) {
        Some(by) if !by.is_empty() => Some(Sort {
            by: parse_attr_path(by)?,
            descending,
        }),
        _ => None,
    };
    let (start_index, count) = params.page(settings);
    let now = settings.clock.now().timestamp();
    let Some(raw_cursor) = params.cursor.as_deref() else {
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
    check_cursor_paging(params, settings)?;
    let fingerprint = query_fingerprint(
        account,
        kind.resource_type(),
        params.filter.as_deref(),
        sort.as_ref().and(params.sort_by.as_deref()),
        descending && sort.is_some(),
    );
    let after = match raw_cursor.trim() {
        "" => None,
        raw => {
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
            start_index: 1,
            count,
            keyset: Some(KeysetPage { after }),
        },
        fingerprint: Some(fingerprint),
        cursor_key,
        now,
    })
}

/// What cursor paging (RFC 9865) refuses in a request that has a `cursor`.
pub(crate) fn check_cursor_paging(params: &ListParams, settings: &Settings) -> Result<()> {
    if params.start_index.is_some() {
        return Err(ScimError::invalid_value(
            "startIndex and cursor cannot be combined: use startIndex for index paging or cursor \
             for cursor paging (RFC 9865)",
        )
        .into());
    }
    if params.count.is_some_and(|c| c < 1) {
        return Err(ScimError::bad_request(
            ScimType::InvalidCount,
            format!(
                "count must be between 1 and {} with cursor paging",
                settings.max_results
            ),
        )
        .into());
    }
    Ok(())
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
