//! What both stores share: the SQL that reads the same on Postgres and SQLite (up to the
//! placeholder spelling, see [`Dialect`]) and the projections of a document into columns.
//! A store module keeps only what its driver or its SQL dialect makes different.

use serde_json::{Map, Value};

use super::filter_sql::{self, Dialect, SqlBuilder, SqlParam, placeholder};
use super::{ListQuery, ResourceKind, StoreError, StoreResult};

pub fn table(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "users",
        ResourceKind::Group => "groups",
    }
}

/// The columns a `ResourceRow` is read from.
pub const RESOURCE_COLUMNS: &str =
    "account_id, id, doc, source, idp_managed, created_at, last_modified, version";

/// The indexed projections of a document (see the migrations).
pub struct Indexed {
    /// userName (users) or displayName (groups).
    pub name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
}

fn str_field(doc: &Map<String, Value>, key: &str) -> Option<String> {
    doc.get(key).and_then(Value::as_str).map(str::to_string)
}

pub fn indexed(kind: ResourceKind, doc: &Map<String, Value>) -> Indexed {
    let display_name = str_field(doc, "displayName");
    Indexed {
        name: match kind {
            ResourceKind::User => str_field(doc, "userName").unwrap_or_default(),
            ResourceKind::Group => display_name.clone().unwrap_or_default(),
        },
        external_id: str_field(doc, "externalId"),
        display_name,
        active: doc.get("active").and_then(Value::as_bool).unwrap_or(true),
    }
}

/// The two statements of a list request: placeholder 1 is the account, then the filter's
/// parameters (`params`), then (page only) the cursor's (`page_params`), then LIMIT and OFFSET.
pub struct ListSql {
    pub count: String,
    pub page: String,
    pub params: Vec<SqlParam>,
    pub page_params: Vec<SqlParam>,
}

pub fn list_sql(dialect: Dialect, kind: ResourceKind, query: &ListQuery) -> StoreResult<ListSql> {
    let mut filter = SqlBuilder::new(dialect, 2);
    if let Some(f) = &query.filter {
        filter_sql::translate(kind, f, &mut filter)?;
    } else {
        filter.sql = "TRUE".to_string();
    }
    let from = format!(
        "FROM {} t WHERE t.account_id = {} AND {}",
        table(kind),
        placeholder(dialect, 1),
        filter.sql
    );
    let order = filter_sql::order(kind, query.sort.as_ref()).map_err(StoreError::Unsortable)?;
    let mut after = SqlBuilder::new(dialect, filter.params.len() + 2);
    let page_from = match query.keyset.as_ref().and_then(|k| k.after.as_ref()) {
        Some(position) => {
            let cond = filter_sql::after_keyset(kind, query.sort.as_ref(), position, &mut after)
                .map_err(StoreError::Unsortable)?;
            format!("{from} AND {cond}")
        }
        None => from.clone(),
    };
    let n = filter.params.len() + after.params.len() + 2;
    let mut columns: Vec<String> = RESOURCE_COLUMNS.split(", ").map(|c| format!("t.{c}")).collect();
    columns.push(format!(
        "{} AS sort_key",
        order.key_expr.as_deref().unwrap_or("CAST(NULL AS TEXT)")
    ));
    Ok(ListSql {
        count: format!("SELECT count(*) {from}"),
        page: format!(
            "SELECT {} {page_from} ORDER BY {} LIMIT {} OFFSET {}",
            columns.join(", "),
            order.order_by,
            placeholder(dialect, n),
            placeholder(dialect, n + 1)
        ),
        params: filter.params,
        page_params: after.params,
    })
}

/// LIMIT and OFFSET of a page: a cursor page reads one row more than it returns, to know
/// whether another page follows.
pub fn limit_offset(query: &ListQuery) -> (i64, i64) {
    match query.keyset {
        Some(_) => (query.count + 1, 0),
        None => (query.count, query.start_index - 1),
    }
}
