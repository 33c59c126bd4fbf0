//! What both stores share: the SQL that reads the same on Postgres and SQLite (up to the
//! placeholder spelling, see [`Dialect`]) and the projections of a document into columns.
//! A store module keeps only what its driver or its SQL dialect makes different.

use serde_json::{Map, Value};

use super::filter_sql::{self, Dialect, SqlBuilder, SqlParam, placeholder};
use super::{AdminFilter, AuditQuery, ListQuery, ResourceKind, StoreError, StoreResult};

pub fn table(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "users",
        ResourceKind::Group => "groups",
    }
}

/// The columns a `ResourceRow` is read from, in a statement over `users` or `groups` (users
/// have no identifier; `CAST(NULL AS TEXT)` reads the same on both databases).
pub const USER_COLUMNS: &str = "account_id, id, doc, source, idp_managed, created_at, last_modified, version, \
                                CAST(NULL AS TEXT) AS identifier";
pub const GROUP_COLUMNS: &str =
    "account_id, id, doc, source, idp_managed, created_at, last_modified, version, identifier";

/// The columns `resource_row` reads, for a statement over `kind`'s table.
pub fn columns(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => USER_COLUMNS,
        ResourceKind::Group => GROUP_COLUMNS,
    }
}

/// The indexed projections of a document (see the migrations).
pub struct Indexed {
    /// userName (users) or displayName (groups).
    pub name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    /// A user's primary email, lower-cased (R4 adoption looks it up).
    pub primary_email_ci: Option<String>,
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
        primary_email_ci: crate::scim::resource::primary_email(doc).map(crate::scim::compare::key),
    }
}

/// The two statements of a list request: placeholder 1 is the account, then the filter's
/// parameters and the admin API's conditions (`params`), then (page only) the cursor's and the
/// page's `LIMIT` and `OFFSET` (`page_params`, see [`filter_sql::limit_offset_sql`]).
pub struct ListSql {
    pub count: String,
    /// The list is the whole account: `count` reads the kept counts (not a count(*)), and
    /// `page` carries the same total in its `counted_total` column.
    pub counted: bool,
    pub page: String,
    /// The names of `page`'s result columns, in order (for reading it in one hand-off on
    /// SQLite, `DbConn::fetch_page`); the value row's second statement has the same.
    pub columns: Vec<&'static str>,
    pub params: Vec<SqlParam>,
    pub page_params: Vec<SqlParam>,
    /// Set when the list is ordered by a value row: `page` then reads only the resources that
    /// have a value, and this the rest.
    pub value_row: Option<ValueRowList>,
    /// The filter is one equality on a unique key ([`filter_sql::SqlBuilder::unique_point`]):
    /// the page's plan does not depend on the account's size, so it is prepared.
    pub unique_point: bool,
}

/// The second half of a list ordered by a value row ([`filter_sql::ValueRowSort`]).
pub struct ValueRowList {
    dialect: Dialect,
    /// The resources without a value, in id order, up to its `LIMIT` ([`ValueRowList::without`]):
    /// placeholder 1 is the account, then the filter's parameters, then `without_params`.
    without_head: String,
    without_params: Vec<SqlParam>,
    /// The number of the placeholder after `without_params`: the statement's limit's.
    without_limit_at: usize,
    /// How many resources of the list have a value (filter parameters only): what a page by
    /// position past them all skips of them.
    pub with_count: String,
}

impl ValueRowList {
    /// The statement reading `limit` resources without a value after skipping `skip` of them,
    /// and what it binds after the account and the filter's parameters.
    pub fn without(&self, limit: i64, skip: i64) -> (String, Vec<SqlParam>) {
        let (tail, binds) = filter_sql::limit_offset_sql(self.dialect, limit, skip, self.without_limit_at);
        let mut params = self.without_params.clone();
        params.extend(binds);
        (format!("{} {tail}", self.without_head), params)
    }
}

pub fn list_sql(
    dialect: Dialect,
    kind: ResourceKind,
    query: &ListQuery,
    extra: &AdminFilter,
) -> StoreResult<ListSql> {
    let mut filter = SqlBuilder::new(dialect, 2);
    filter.idp_groups_only = extra.idp_groups_only;
    if let Some(f) = &query.filter {
        filter_sql::translate(kind, query.resource_type, f, &mut filter)?;
    } else {
        filter.sql = "TRUE".to_string();
    }
    // The admin API's conditions (R9), bound after the filter's parameters.
    if let Some(source) = &extra.source {
        filter.params.push(SqlParam::Text(source.clone()));
        let p = placeholder(dialect, filter.params.len() + 1);
        filter.sql = format!("({}) AND t.source = {p}", filter.sql);
    }
    if let Some(managed) = extra.idp_managed {
        filter.params.push(SqlParam::Bool(managed));
        let p = placeholder(dialect, filter.params.len() + 1);
        filter.sql = format!("({}) AND t.idp_managed = {p}", filter.sql);
    }
    let from = format!(
        "FROM {} t WHERE t.account_id = {} AND {}",
        table(kind),
        placeholder(dialect, 1),
        filter.sql
    );
    let order =
        filter_sql::order(kind, query.resource_type, query.sort.as_ref()).map_err(StoreError::Unsortable)?;
    let position = query
        .keyset
        .as_ref()
        .and_then(|k| k.after.as_ref())
        .or(query.resume.as_ref());
    let mut after = SqlBuilder::new(dialect, filter.params.len() + 2);
    let after_cond = position
        .map(|position| {
            filter_sql::after_keyset(
                kind,
                query.resource_type,
                query.sort.as_ref(),
                position,
                &mut after,
            )
            .map_err(StoreError::Unsortable)
        })
        .transpose()?;
    let page_from = match &after_cond {
        Some(cond) => format!("{from} AND {cond}"),
        None => from.clone(),
    };
    let (limit, offset) = limit_offset(query);
    let (page_limit, limit_params) = filter_sql::limit_offset_sql(
        dialect,
        limit,
        offset,
        filter.params.len() + after.params.len() + 2,
    );
    let mut page_params = after.params;
    page_params.extend(limit_params);
    let mut columns: Vec<String> = GROUP_COLUMNS.split(", ").map(|c| format!("t.{c}")).collect();
    if kind == ResourceKind::User {
        columns.pop();
        columns.push("CAST(NULL AS TEXT) AS identifier".to_string());
    }
    // Every resource of the account is in the list: its size is the account's count, kept by
    // the database beside each insert and delete (migration 0008; the count columns are named
    // after the tables), read in the page's own statement (evaluated once) and on its own when
    // the page is empty.
    let counted = query.filter.is_none() && extra.source.is_none() && extra.idp_managed.is_none();
    let count = if counted {
        format!(
            "SELECT CAST(COALESCE(SUM({}), 0) AS BIGINT) AS total FROM resource_counts WHERE account_id = {}",
            table(kind),
            placeholder(dialect, 1)
        )
    } else {
        format!("SELECT count(*) AS total {from}")
    };
    let mut names: Vec<&'static str> = GROUP_COLUMNS.split(", ").collect();
    if counted {
        columns.push(format!("({count}) AS counted_total"));
        names.push("counted_total");
    }
    names.push("sort_key");
    let key_column = |expr: &str| format!("{expr} AS sort_key");
    if let Some(v) = &order.value_row {
        // Read in the value index's order: the resources with a value by a join from the
        // index (a page costs its rows, not the account's), then, once those run out, the
        // ones without in id order (`ValueRowList`).
        let account = placeholder(dialect, 1);
        let valued_from = format!(
            "FROM {vt} s JOIN {t} t ON {row} WHERE s.account_id = {account} AND t.account_id = {account} AND {f}",
            vt = v.table,
            t = table(kind),
            row = v.row_of("t"),
            f = filter.sql,
        );
        let page = format!(
            "SELECT {}, {} {valued_from}{} ORDER BY {} {page_limit}",
            columns.join(", "),
            key_column(order.key_expr.as_deref().unwrap_or_default()),
            after_cond.map(|c| format!(" AND {c}")).unwrap_or_default(),
            order.order_by,
        );
        let mut after_null = SqlBuilder::new(dialect, filter.params.len() + 2);
        let null_cond = position
            .map(|p| filter_sql::after_null_keyset(p, &mut after_null))
            .unwrap_or_else(|| "TRUE".to_string());
        let without_head = format!(
            "SELECT {}, {} {from} AND NOT EXISTS (SELECT 1 FROM {} s WHERE {}) AND {null_cond} \
             ORDER BY t.id",
            columns.join(", "),
            key_column("CAST(NULL AS TEXT)"),
            v.table,
            v.row_of("t"),
        );
        let without_limit_at = filter.params.len() + after_null.params.len() + 2;
        return Ok(ListSql {
            count,
            counted,
            page,
            columns: names.clone(),
            params: filter.params,
            page_params,
            value_row: Some(ValueRowList {
                dialect,
                without_head,
                without_limit_at,
                without_params: after_null.params,
                with_count: format!("SELECT count(*) AS total {valued_from}"),
            }),
            unique_point: false,
        });
    }
    columns.push(key_column(
        order.key_expr.as_deref().unwrap_or("CAST(NULL AS TEXT)"),
    ));
    let page = if position.is_none() && query.keyset.is_none() && query.start_index > 1 {
        // A page by position: the rows before it are skipped reading ids only (an index-only
        // scan where the order is the primary key's, as an unfiltered list's is), and only the
        // page's own rows are then read whole. Skipping whole rows read every skipped row from
        // the table: 2.6 s for startIndex=900001 in an account of 1,000,000 users.
        // The page's ids are looked up by primary key whatever the table's size: Postgres gets
        // them as one array (a join would let the planner hash a small table whole).
        let ids = format!("SELECT t.id {page_from} ORDER BY {} {page_limit}", order.order_by);
        let in_page = match dialect {
            Dialect::Postgres => format!("= ANY(ARRAY({ids}))"),
            Dialect::Sqlite => format!("IN ({ids})"),
        };
        format!(
            "SELECT {} FROM {} t WHERE t.account_id = {} AND t.id {in_page} ORDER BY {}",
            columns.join(", "),
            table(kind),
            placeholder(dialect, 1),
            order.order_by,
        )
    } else {
        format!(
            "SELECT {} {page_from} ORDER BY {} {page_limit}",
            columns.join(", "),
            order.order_by,
        )
    };
    Ok(ListSql {
        count,
        counted,
        page,
        columns: names,
        params: filter.params,
        page_params,
        value_row: None,
        unique_point: filter.unique_point,
    })
}

/// LIMIT and OFFSET of a page: a cursor page reads one row more than it returns, to know
/// whether another page follows; a resumed index page starts right after the row it resumes.
pub fn limit_offset(query: &ListQuery) -> (i64, i64) {
    match (&query.keyset, &query.resume) {
        (Some(_), _) => (query.count + 1, 0),
        (None, Some(_)) => (query.count, 0),
        (None, None) => (query.count, query.start_index - 1),
    }
}

/// `sql`, written with SQLite's `?N` placeholders, in `dialect`'s spelling (`$N` on
/// Postgres). For statements that otherwise read the same on both databases.
pub fn in_dialect(dialect: Dialect, sql: &str) -> String {
    match dialect {
        Dialect::Sqlite => sql.to_string(),
        Dialect::Postgres => {
            let mut out = String::with_capacity(sql.len());
            let mut chars = sql.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
                    out.push('$');
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

// ---- Ownership rules R1–R10, admin API and audit: the statements both stores share ----------

/// Groups whose displayName has the comparison key `?2` (at most one native and one
/// IdP-managed).
pub fn groups_by_display_name() -> String {
    format!("SELECT {GROUP_COLUMNS} FROM groups WHERE account_id = ?1 AND display_name_ci = ?2 ORDER BY id")
}

/// Marks the native resource `?2` IdP-managed with source `?3`.
pub fn claim_resource(kind: ResourceKind) -> String {
    format!(
        "UPDATE {} SET idp_managed = TRUE, source = ?3 WHERE account_id = ?1 AND id = ?2 AND NOT idp_managed",
        table(kind)
    )
}

/// Makes the IdP-managed user `?2` native again (its source stays).
pub const RELEASE_USER: &str =
    "UPDATE users SET idp_managed = FALSE WHERE account_id = ?1 AND id = ?2 AND idp_managed = TRUE";

/// Every user or group of the account, in id order (the export, R10).
pub fn all_resources(kind: ResourceKind) -> String {
    format!(
        "SELECT {} FROM {} WHERE account_id = ?1 ORDER BY id",
        columns(kind),
        table(kind)
    )
}

pub const ALL_MEMBERSHIPS: &str = "SELECT group_id, member_id, origin FROM group_members
     WHERE account_id = ?1 ORDER BY group_id, member_id";

/// The columns of `audit_events`, in `AuditRecord` order.
pub const AUDIT_COLUMNS: &str =
    "id, at, actor_kind, actor_token_id, actor_idp, actor_name, action, resource_type,
     resource_id, before, after, delta";

/// A page of the audit log, newest first: `?1` the account, then the conditions `query`
/// has (in `params`), then the limit. Only the conditions given are written, so every page is
/// one range of an index (the primary key, or `audit_events_resource_idx` for one resource)
/// rather than a test of `(? IS NULL OR …)` on every event of the account.
pub fn list_audit(query: &AuditQuery) -> (String, Vec<SqlParam>) {
    let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_events WHERE account_id = ?1");
    let mut params = Vec::new();
    let mut cond = |column: &str, op: &str, param: SqlParam| {
        params.push(param);
        sql.push_str(&format!(" AND {column} {op} ?{}", params.len() + 1));
    };
    if let Some(t) = &query.resource_type {
        cond("resource_type", "=", SqlParam::Text(t.clone()));
    }
    if let Some(r) = &query.resource_id {
        cond("resource_id", "=", SqlParam::Text(r.clone()));
    }
    if let Some(kind) = &query.actor_kind {
        cond("actor_kind", "=", SqlParam::Text(kind.clone()));
    }
    if let Some(before) = query.before {
        cond("id", "<", SqlParam::Uuid(before));
    }
    if let Some(from) = query.from {
        cond("id", ">=", SqlParam::Uuid(from));
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ?{}", params.len() + 2));
    (sql, params)
}

/// IdP-managed groups of `?1` whose displayName a native group also has (by comparison key) (R7 renames them
/// before releasing them, so two native groups never share a name). `= TRUE`: an index
/// range on SQLite, where a bare flag is a truth test.
pub const IDP_GROUPS_NAMED_LIKE_NATIVE: &str = "SELECT g.id, g.display_name, g.identifier FROM groups g
     WHERE g.account_id = ?1 AND g.idp_managed = TRUE
       AND EXISTS (SELECT 1 FROM groups n
                   WHERE n.account_id = g.account_id AND n.idp_managed = FALSE
                     AND n.display_name_ci = g.display_name_ci)";
