//! A search at the service root (`POST /.search`, RFC 7644 §3.4.3): Users first, then Groups,
//! each through the same list path as `GET /Users` and `GET /Groups`. Nothing here filters,
//! sorts or pages on its own; it only decides which slice of each typed list a page needs.
//!
//! - `totalResults` is the sum of both types' totals.
//! - Index paging counts through Users, then Groups: with 3 matching users, `startIndex=5`
//!   is the second group.
//! - Cursor paging walks the Users' cursor, then the Groups' (see `scim::search::RootCursor`).
//! - The filter is specialised per type (`scim::search::specialize`); a type it cannot match
//!   is not queried at all.
//! - `sortBy` orders each type's part; a type without the attribute keeps its default order.
//!   The two parts are not merged into one order.

use super::groups::GroupView;
use super::lists::check_cursor_paging;
use super::users::UserView;
use super::{Caller, ListPage, ListParams, Paging, Result, Service};
use crate::scim::filter::parse_filter;
use crate::scim::path::parse_attr_path;
use crate::scim::schema::{self, ResourceType};
use crate::scim::search::{RootCursor, Specialized, specialize_all};
use crate::scim::{ScimError, filter::Filter};

/// One resource found by a search at the root.
#[derive(Debug, Clone)]
pub enum Found {
    User(UserView),
    Group(GroupView),
}

/// The types a root search spans, in the order their resources are listed.
const TYPES: [&ResourceType; 2] = [&schema::USER, &schema::GROUP];

impl Service {
    /// Searches Users and Groups. `with_members` as for `list_groups`: false when the caller
    /// excluded `members`, so they are never read.
    pub async fn search_root(
        &self,
        caller: &Caller,
        params: &ListParams,
        with_members: bool,
    ) -> Result<ListPage<Found>> {
        let typed = typed_params(params)?;
        let (start, count) = params.page(&self.settings);
        let Some(raw_cursor) = params.cursor.as_deref() else {
            let mut items = Vec::new();
            let mut total = 0;
            for (i, p) in typed.iter().enumerate() {
                let Some(p) = p else { continue };
                let slice = ListParams {
                    // Positions are counted across the types: with 3 users, 5 is group 2.
                    start_index: Some((start - total).max(1)),
                    count: Some(count - items.len() as i64),
                    cursor: None,
                    ..p.clone()
                };
                let page = self.list_of(caller, i, &slice, with_members).await?;
                total += page.total;
                items.extend(page.items);
            }
            return Ok(ListPage {
                total,
                start_index: start,
                items,
                paging: Paging::Index,
            });
        };

        check_cursor_paging(params, &self.settings)?;
        let position = RootCursor::decode(raw_cursor)?;
        let mut items = Vec::new();
        let mut total = 0;
        let mut next = None;
        for (i, p) in typed.iter().enumerate() {
            let Some(p) = p else { continue };
            let room = count - items.len() as i64;
            if i < position.phase || next.is_some() || room == 0 {
                // Only this type's total: its resources lie before or after this page.
                let page = self.list_of(caller, i, &totals_only(p), with_members).await?;
                if i > position.phase && next.is_none() && page.total > 0 {
                    next = Some(RootCursor {
                        phase: i,
                        inner: String::new(),
                    });
                }
                total += page.total;
                continue;
            }
            let inner = if i == position.phase {
                position.inner.clone()
            } else {
                String::new()
            };
            let slice = ListParams {
                start_index: None,
                count: Some(room),
                cursor: Some(inner),
                ..p.clone()
            };
            let page = self.list_of(caller, i, &slice, with_members).await?;
            total += page.total;
            items.extend(page.items);
            if let Paging::Cursor { next: Some(inner) } = page.paging {
                next = Some(RootCursor { phase: i, inner });
            }
        }
        Ok(ListPage {
            total,
            start_index: 1,
            items,
            paging: Paging::Cursor {
                next: next.map(|c| c.encode()),
            },
        })
    }

    /// One page of the type at `index` in `TYPES`, through its own list function.
    async fn list_of(
        &self,
        caller: &Caller,
        index: usize,
        params: &ListParams,
        with_members: bool,
    ) -> Result<ListPage<Found>> {
        Ok(if index == 0 {
            map_page(self.list_users(caller, params).await?, Found::User)
        } else {
            map_page(
                self.list_groups(caller, params, with_members).await?,
                Found::Group,
            )
        })
    }
}

fn map_page<T>(page: ListPage<T>, f: impl Fn(T) -> Found) -> ListPage<Found> {
    ListPage {
        total: page.total,
        start_index: page.start_index,
        items: page.items.into_iter().map(f).collect(),
        paging: page.paging,
    }
}

fn totals_only(p: &ListParams) -> ListParams {
    ListParams {
        start_index: None,
        count: Some(0),
        cursor: None,
        ..p.clone()
    }
}

/// The list request each type gets, `None` for a type the filter cannot match.
fn typed_params(params: &ListParams) -> Result<Vec<Option<ListParams>>> {
    let filters: Vec<Specialized> = match params.filter.as_deref().map(str::trim) {
        Some(f) if !f.is_empty() => specialize_all(&parse_filter(f)?, &TYPES)?,
        _ => vec![Specialized::Always; TYPES.len()],
    };
    let sort_by = match params.sort_by.as_deref().map(str::trim) {
        Some(by) if !by.is_empty() => {
            let path = parse_attr_path(by)?;
            if TYPES.iter().all(|rt| rt.resolve(&path).is_err()) {
                return Err(ScimError::invalid_value(format!(
                    "cannot sort by \"{by}\": it is not an attribute of User or Group"
                ))
                .into());
            }
            Some((by, path))
        }
        _ => None,
    };
    Ok(filters
        .into_iter()
        .zip(TYPES)
        .map(|(filter, rt)| {
            let filter: Option<&Filter> = match &filter {
                Specialized::Never => return None,
                Specialized::Always => None,
                Specialized::Filter(f) => Some(f),
            };
            Some(ListParams {
                filter: filter.map(ToString::to_string),
                // A type without the attribute keeps its default order.
                sort_by: sort_by
                    .as_ref()
                    .filter(|(_, path)| rt.resolve(path).is_ok())
                    .map(|(by, _)| by.to_string()),
                ..params.clone()
            })
        })
        .collect())
}
