//! List requests, shared by every resource type: paging (RFC 7644 §3.4.2.4), filter and
//! sort parsing, and the protocol errors for what the store cannot filter or sort on.

use super::{Error, Result, Settings};
use crate::scim::ScimError;
use crate::scim::filter::parse_filter;
use crate::scim::path::parse_attr_path;
use crate::store::{ListQuery, Sort, StoreError};

/// A list request as the SCIM layer parsed it (RFC 7644 §3.4.2).
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
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
}

/// Parses a list request's filter; the store refuses attributes it cannot index.
pub(crate) fn list_query(params: &ListParams, settings: &Settings) -> Result<ListQuery> {
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
    Ok(ListQuery {
        filter,
        sort,
        start_index,
        count,
    })
}

pub(crate) fn filter_error(err: StoreError) -> Error {
    match err {
        StoreError::Filter(f) => ScimError::invalid_filter(f.0).into(),
        StoreError::Unsortable(detail) => ScimError::invalid_value(detail).into(),
        other => other.into(),
    }
}
