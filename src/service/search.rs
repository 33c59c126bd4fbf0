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
use super::lists::page;
use super::users::UserView;
use super::{Caller, ListPage, Paging, Result, Service};
use crate::scim::ScimError;
use crate::scim::list::{ListFilter, ListRequest, PageRequest};
use crate::scim::schema::ResourceType;
use crate::scim::search::{RootCursor, Specialized, specialize_all};

/// One resource found by a search at the root.
#[derive(Debug, Clone)]
pub enum Found {
    User(UserView),
    Group(GroupView),
}

impl Service {
    /// Searches Users and Groups. `with_members` as for `list_groups`: false when the caller
    /// excluded `members`, so they are never read.
    pub async fn search_root(
        &self,
        caller: &Caller,
        req: &ListRequest,
        with_members: bool,
    ) -> Result<ListPage<Found>> {
        // The account's types (with its extensions), in the order their resources are listed.
        let types = self.types(caller).await?.resource_types();
        let typed = typed_requests(req, &types)?;
        let (start, count) = page(&req.paging, &self.settings);
        let PageRequest::Cursor { after, .. } = &req.paging else {
            let mut items = Vec::new();
            let mut total = 0;
            for (i, r) in typed.iter().enumerate() {
                let Some(r) = r else { continue };
                let slice = ListRequest {
                    // Positions are counted across the types: with 3 users, 5 is group 2.
                    paging: PageRequest::Index {
                        start_index: Some((start - total).max(1)),
                        count: Some(count - items.len() as i64),
                    },
                    ..r.clone()
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

        let position = RootCursor::decode(after.as_deref().unwrap_or(""))?;
        let mut items = Vec::new();
        let mut total = 0;
        let mut next = None;
        for (i, r) in typed.iter().enumerate() {
            let Some(r) = r else { continue };
            let room = count - items.len() as i64;
            if i < position.phase || next.is_some() || room == 0 {
                // Only this type's total: its resources lie before or after this page.
                let page = self.list_of(caller, i, &totals_only(r), with_members).await?;
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
                position.inner.trim()
            } else {
                ""
            };
            let slice = ListRequest {
                paging: PageRequest::Cursor {
                    after: (!inner.is_empty()).then(|| inner.to_string()),
                    count: Some(room),
                },
                ..r.clone()
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

    /// One page of the type at `index` (User, then Group), through its own list function.
    async fn list_of(
        &self,
        caller: &Caller,
        index: usize,
        req: &ListRequest,
        with_members: bool,
    ) -> Result<ListPage<Found>> {
        Ok(if index == 0 {
            map_page(self.list_users(caller, req).await?, Found::User)
        } else {
            map_page(self.list_groups(caller, req, with_members).await?, Found::Group)
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

fn totals_only(r: &ListRequest) -> ListRequest {
    ListRequest {
        paging: PageRequest::Index {
            start_index: None,
            count: Some(0),
        },
        ..r.clone()
    }
}

/// The list request each type gets, `None` for a type the filter cannot match.
fn typed_requests(req: &ListRequest, types: &[&ResourceType; 2]) -> Result<Vec<Option<ListRequest>>> {
    let filters: Vec<Specialized> = match &req.filter {
        Some(f) => specialize_all(&f.filter, types)?,
        None => vec![Specialized::Always; types.len()],
    };
    if let Some(sort) = &req.sort
        && types.iter().all(|rt| rt.resolve(&sort.sort.by).is_err())
    {
        return Err(ScimError::invalid_value(format!(
            "cannot sort by \"{}\": it is not an attribute of User or Group",
            sort.text
        ))
        .into());
    }
    Ok(filters
        .into_iter()
        .zip(types)
        .map(|(filter, rt)| {
            let filter = match filter {
                Specialized::Never => return None,
                Specialized::Always => None,
                // Its text is what a cursor of this type's list is fingerprinted with.
                Specialized::Filter(f) => Some(ListFilter::from_ast(f)),
            };
            Some(ListRequest {
                filter,
                // A type without the attribute keeps its default order.
                sort: req.sort.clone().filter(|s| rt.resolve(&s.sort.by).is_ok()),
                ..req.clone()
            })
        })
        .collect())
}
