//! SCIM filter AST → SQL `WHERE` fragment with bound parameters.
//!
//! Only attributes backed by an indexed column or by the `user_values` / `group_members`
//! tables are filterable; anything else is refused with a message listing what is, never
//! silently ignored.
//!
//! Comparisons are emitted bare (`t.user_name_ci = $2`) so the planner can use the indexes. A
//! comparison with an absent (NULL) attribute yields NULL, which AND, OR and WHERE all treat as
//! false — exactly SCIM's meaning — except under NOT, where SQL's NOT NULL is NULL but SCIM's
//! `not` must be true; so only negations are wrapped: `NOT COALESCE(…, FALSE)`.
//!
//! The fragment is spliced into a statement whose placeholder 1 is the account. Where the two
//! databases need different SQL for the same meaning, [`Dialect`] decides:
//! - SQLite's `LIKE` ignores ASCII case and its planner runs a correlated `EXISTS` once per
//!   row of the account, so on SQLite `sw` is a range on the column (an index range scan),
//!   `co`/`ew` use the case-sensitive `GLOB`, and attributes kept in other tables are tested
//!   with `t.id IN (SELECT … WHERE account_id = ?1 …)`, which the planner answers from the
//!   other table's index and then probes the primary key.
//! - Postgres keeps `LIKE` for `co`/`ew` and `EXISTS` (a semi-join, and an anti-join under NOT,
//!   where `NOT IN` would be a per-row subplan); its `sw` is the same range as SQLite's, over
//!   columns of collation "C" (migration 0006).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::path::AttrPath;
use crate::scim::schema::{self, AttrDef, AttrType, Resolved, ResourceType};

use super::derived::{text_comparable, value_key};
use super::{Keyset, ResourceKind, Sort};

/// A filter the store cannot run. The service turns it into 400 `invalidFilter`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    Text(String),
    Bool(bool),
    Uuid(Uuid),
    Time(DateTime<Utc>),
    Int(i64),
}

/// How placeholders are spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `$1`
    Postgres,
    /// `?1`
    Sqlite,
}

/// Placeholder number `n` (1-based) in `dialect`.
pub fn placeholder(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Postgres => format!("${n}"),
        Dialect::Sqlite => format!("?{n}"),
    }
}

/// `LIMIT n` for a statement whose next placeholder is `at`, and what it binds. On SQLite the
/// limit is written into the statement: SQLite (since 3.47) plans a bound `LIMIT` by its value
/// and so marks the statement to be prepared again whenever that parameter is bound anew, which
/// is every time it runs; parsing and planning the statement was a tenth of a page's CPU.
/// Postgres binds it: a prepared statement's generic plan does not depend on it.
pub fn limit_sql(dialect: Dialect, limit: i64, at: usize) -> (String, Option<SqlParam>) {
    match dialect {
        Dialect::Postgres => (
            format!("LIMIT {}", placeholder(dialect, at)),
            Some(SqlParam::Int(limit)),
        ),
        Dialect::Sqlite => (format!("LIMIT {}", limit.max(0)), None),
    }
}

/// `LIMIT … OFFSET …` of a page ([`limit_sql`]), its placeholders numbered from `first`, and
/// what they bind. The offset is bound on both databases (SQLite does not plan by it), so one
/// statement serves every page of a given size.
pub fn limit_offset_sql(dialect: Dialect, limit: i64, offset: i64, first: usize) -> (String, Vec<SqlParam>) {
    let (limit, bound) = limit_sql(dialect, limit, first);
    let mut params: Vec<SqlParam> = bound.into_iter().collect();
    params.push(SqlParam::Int(offset));
    let offset = placeholder(dialect, first + params.len() - 1);
    (format!("{limit} OFFSET {offset}"), params)
}

/// The kind of column an attribute maps to, which decides how values are coerced and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColKind {
    /// Text compared case-insensitively: the column holds the lower-cased form.
    TextCi,
    /// Text compared exactly.
    Text,
    Bool,
    /// A boolean kept as the text `true` / `false` (a `user_values` row).
    BoolText,
    Uuid,
    Time,
    /// A number kept as its order-preserving key (`derived::number_key`) in `value_ci`.
    Number,
    /// An RFC 3339 date-time kept as its order-preserving key (`derived::date_key`).
    Date,
    /// Text of an account extension, keyed by `derived::extension_text_key`.
    ExtTextCi,
}

/// Builds the fragment; `params` continue the caller's numbering.
pub struct SqlBuilder {
    dialect: Dialect,
    pub sql: String,
    pub params: Vec<SqlParam>,
    first_param: usize,
    /// A user's `groups` counts only IdP-managed groups: what SCIM sees under `keep_both`
    /// (R4), so `groups.value eq "<native group>"` and `groups pr` agree with `User.groups`.
    pub idp_groups_only: bool,
    /// Set by [`translate`] when the filter is one equality on a unique key (`id eq`,
    /// `userName eq`): at most one row, found by the same index probe whatever the account's
    /// size, so the statement can be prepared once and its generic plan kept.
    pub unique_point: bool,
}

impl SqlBuilder {
    /// `first_param` is the number the first placeholder gets (the caller binds 1..first_param).
    pub fn new(dialect: Dialect, first_param: usize) -> Self {
        SqlBuilder {
            dialect,
            sql: String::new(),
            params: Vec::new(),
            first_param,
            idp_groups_only: false,
            unique_point: false,
        }
    }

    fn bind(&mut self, param: SqlParam) -> String {
        self.params.push(param);
        placeholder(self.dialect, self.first_param + self.params.len() - 1)
    }

    /// The account's placeholder: every statement a fragment is spliced into binds it first.
    fn account(&self) -> String {
        placeholder(self.dialect, 1)
    }
}

/// Translate `filter` for resources of `kind` aliased as `t` in the caller's query.
pub fn translate(
    kind: ResourceKind,
    rt: Option<&'static ResourceType>,
    filter: &Filter,
    out: &mut SqlBuilder,
) -> Result<(), FilterError> {
    let mut translator = Translator { kind, rt, out };
    let unique_point = match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if !matches!(value, CompValue::Null) => matches!(
            translator.target(path),
            Ok(Target::Column("t.id" | "t.user_name_ci", _))
        ),
        _ => false,
    };
    let sql = translator.node(filter)?;
    out.sql = sql;
    out.unique_point = unique_point;
    Ok(())
}

/// Where a list's sort key is read from.
enum SortKey {
    /// A column of the resource's own table (an expression over `t`).
    Column(String, ColKind),
    /// The value row of a single-valued attribute kept in the value rows (an extension
    /// attribute, `name.familyName`, `title`): the list is read in that index's order.
    ValueRow(ValueRowSort),
    /// The first value of a multi-valued attribute (`emails`; the primary one first): read by
    /// one index probe per resource, as no index holds the resources in that order.
    Probe(String, ColKind),
}

/// A list ordered by a value row (`SortKey::ValueRow`): `table` aliased `s`, its rows of
/// `attr` with `ord` 0 — exactly one per resource that has a value, so the resources that
/// have one are read in the order of the index on `(account_id, attr, col)`, and the ones
/// that have none come after them, in id order (nulls last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueRowSort {
    pub table: &'static str,
    pub id_col: &'static str,
    /// The row key, checked characters (it names an attribute of the catalogue or of a
    /// declared schema), inlined with quotes doubled: a bound parameter would have to be
    /// numbered into every statement the order appears in.
    pub attr: String,
    pub col: &'static str,
    pub descending: bool,
}

impl ValueRowSort {
    /// The rows `s` of resource `t` that hold its key (join or correlation condition).
    pub fn row_of(&self, resource: &str) -> String {
        format!(
            "s.account_id = {resource}.account_id AND s.{} = {resource}.id AND s.attr = '{}' AND s.ord = 0",
            self.id_col, self.attr
        )
    }
}

/// What to sort by for `path`. Nulls (no value) sort last.
fn sort_key(
    kind: ResourceKind,
    rt: Option<&'static ResourceType>,
    path: &AttrPath,
) -> Result<SortKey, String> {
    let mut scratch = SqlBuilder::new(Dialect::Postgres, 1);
    let translator = Translator {
        kind,
        rt,
        out: &mut scratch,
    };
    match translator.target(path) {
        Ok(Target::Column(col, col_kind)) => Ok(SortKey::Column(col.to_string(), col_kind)),
        Ok(Target::Values {
            keys,
            col: Some((col, col_kind)),
        }) if keys.len() == 1 => {
            let (table, id_col) = super::user_values::values_table(kind);
            let attr = keys[0].replace('\'', "''");
            let single = translator.resolve(path).is_ok_and(|r| {
                r.attr.is_some_and(|a| !a.multi_valued) && r.sub.is_none_or(|s| !s.multi_valued)
            });
            if single {
                return Ok(SortKey::ValueRow(ValueRowSort {
                    table,
                    id_col,
                    attr,
                    col,
                    descending: false,
                }));
            }
            Ok(SortKey::Probe(
                format!(
                    "(SELECT s.{col} FROM {table} s WHERE s.account_id = t.account_id \
                     AND s.{id_col} = t.id AND s.attr = '{attr}' \
                     ORDER BY s.is_primary DESC, s.ord LIMIT 1)"
                ),
                match col_kind {
                    ColKind::BoolText => ColKind::Text,
                    other => other,
                },
            ))
        }
        _ => Err(format!(
            "cannot sort by \"{}\"; sortable attributes are {}, and the single-valued simple \
             attributes (or sub-attributes) of the account's extensions and of the core schema \
             that have no column of their own",
            display_path(path),
            match kind {
                ResourceKind::User =>
                    "id, userName, externalId, displayName, active, meta.created and meta.lastModified",
                ResourceKind::Group => "id, displayName, externalId, meta.created and meta.lastModified",
            }
        )),
    }
}

/// How a list is ordered: `ORDER BY` text, and the expression of the sort key as text (what a
/// cursor remembers), `None` in the default order; or, for a value-row key, how to read it in
/// its index's order (`value_row`, with `order_by` and `key_expr` over its rows `s`).
pub struct Order {
    pub order_by: String,
    pub key_expr: Option<String>,
    pub value_row: Option<ValueRowSort>,
}

/// Ids are UUIDv7, so id order is creation order: stable across pages, and resources created
/// during an import land at the end instead of shifting earlier pages. A requested order comes
/// first, nulls last; id breaks its ties, always ascending.
pub fn order(
    kind: ResourceKind,
    rt: Option<&'static ResourceType>,
    sort: Option<&Sort>,
) -> Result<Order, String> {
    let Some(sort) = sort else {
        return Ok(Order {
            order_by: "t.id".to_string(),
            key_expr: None,
            value_row: None,
        });
    };
    let dir = if sort.descending { "DESC" } else { "ASC" };
    Ok(match sort_key(kind, rt, &sort.by)? {
        SortKey::Column(col, _) | SortKey::Probe(col, _) => Order {
            order_by: format!("{col} {dir} NULLS LAST, t.id"),
            key_expr: Some(format!("CAST({col} AS TEXT)")),
            value_row: None,
        },
        SortKey::ValueRow(v) => Order {
            order_by: format!("s.{} {dir}, s.{}", v.col, v.id_col),
            key_expr: Some(format!("s.{}", v.col)),
            value_row: Some(ValueRowSort {
                descending: sort.descending,
                ..v
            }),
        },
    })
}

/// The predicate "comes after `after` in `order(kind, sort)`", for cursor paging: a range on
/// the sort column's index (or the primary key), however deep the page. For a value-row order
/// it is the predicate of the rows that have a value (`s`); [`after_null_keyset`] is the
/// other half's.
pub fn after_keyset(
    kind: ResourceKind,
    rt: Option<&'static ResourceType>,
    sort: Option<&Sort>,
    after: &Keyset,
    out: &mut SqlBuilder,
) -> Result<String, String> {
    let Some(sort) = sort else {
        let id = out.bind(SqlParam::Uuid(after.id));
        return Ok(format!("t.id > {id}"));
    };
    let op = if sort.descending { "<" } else { ">" };
    let (col, col_kind) = match sort_key(kind, rt, &sort.by)? {
        SortKey::ValueRow(v) => {
            // Past the last row with a value, no row with one remains.
            let Some(key) = &after.key else {
                return Ok("FALSE".to_string());
            };
            let id = out.bind(SqlParam::Uuid(after.id));
            let key = out.bind(SqlParam::Text(key.clone()));
            let (col, id_col) = (v.col, v.id_col);
            // The bound on its own is what the index range starts from; the rest breaks ties.
            return Ok(format!(
                "s.{col} {op}= {key} AND (s.{col} {op} {key} OR s.{id_col} > {id})"
            ));
        }
        SortKey::Column(col, kind) | SortKey::Probe(col, kind) => (col, kind),
    };
    let id = out.bind(SqlParam::Uuid(after.id));
    let Some(key) = &after.key else {
        // The last row had a null key: only null-keyed rows remain (nulls sort last).
        return Ok(format!("({col} IS NULL AND t.id > {id})"));
    };
    let p = out.bind(SqlParam::Text(key.clone()));
    let key = match (out.dialect, col_kind) {
        (Dialect::Postgres, ColKind::Bool) => format!("CAST({p} AS boolean)"),
        (Dialect::Postgres, ColKind::Uuid) => format!("CAST({p} AS uuid)"),
        (Dialect::Postgres, ColKind::Time) => format!("CAST({p} AS timestamptz)"),
        // SQLite compares a text parameter with the column's own affinity.
        _ => p,
    };
    Ok(format!(
        "({col} {op} {key} OR ({col} = {key} AND t.id > {id}) OR {col} IS NULL)"
    ))
}

/// For a value-row order, the predicate "comes after `after`" over the resources without a
/// value (`t`), which follow every one with a value in id order.
pub fn after_null_keyset(after: &Keyset, out: &mut SqlBuilder) -> String {
    match after.key {
        Some(_) => "TRUE".to_string(),
        None => format!("t.id > {}", out.bind(SqlParam::Uuid(after.id))),
    }
}

struct Translator<'a> {
    kind: ResourceKind,
    /// The account's resource type; `None`: the built-in one.
    rt: Option<&'static ResourceType>,
    out: &'a mut SqlBuilder,
}

/// Where an attribute lives.
enum Target {
    Column(&'static str, ColKind),
    /// Rows of `user_values` whose `attr` is one of `keys` (see `store::derived`); `col` is the
    /// column of the row compared, `None` for a complex attribute that only `pr` applies to.
    Values {
        keys: Vec<String>,
        col: Option<(&'static str, ColKind)>,
    },
    /// The member ids of a group.
    Members,
    /// The ids of the groups a user belongs to (`groups.value`).
    UserGroups,
}

impl Translator<'_> {
    fn resource_type(&self) -> &'static ResourceType {
        if let Some(rt) = self.rt {
            return rt;
        }
        match self.kind {
            ResourceKind::User => &schema::USER,
            ResourceKind::Group => &schema::GROUP,
        }
    }

    fn node(&mut self, filter: &Filter) -> Result<String, FilterError> {
        Ok(match filter {
            Filter::And(a, b) => format!("({} AND {})", self.node(a)?, self.node(b)?),
            Filter::Or(a, b) => format!("({} OR {})", self.node(a)?, self.node(b)?),
            Filter::Not(a) => format!("(NOT COALESCE({}, FALSE))", self.node(a)?),
            Filter::Present(path) => self.leaf(path, None)?,
            Filter::Compare { path, op, value } => self.leaf(path, Some((*op, value)))?,
            Filter::ValuePath { attr, filter } => self.value_path(attr, filter)?,
        })
    }

    fn resolve(&self, path: &AttrPath) -> Result<Resolved, FilterError> {
        self.resource_type()
            .resolve(path)
            .map_err(|e| FilterError(e.detail))
    }

    fn target(&self, path: &AttrPath) -> Result<Target, FilterError> {
        let resolved = self.resolve(path)?;
        let target = match (self.kind, resolved.doc_path.as_slice()) {
            (_, ["id"]) => Target::Column("t.id", ColKind::Uuid),
            (_, ["externalId"]) => Target::Column("t.external_id", ColKind::Text),
            (_, ["meta", "created"]) => Target::Column("t.created_at", ColKind::Time),
            (_, ["meta", "lastModified"]) => Target::Column("t.last_modified", ColKind::Time),
            (_, ["displayName"]) => Target::Column("t.display_name_ci", ColKind::TextCi),
            (ResourceKind::User, ["userName"]) => Target::Column("t.user_name_ci", ColKind::TextCi),
            (ResourceKind::User, ["active"]) => Target::Column("t.active", ColKind::Bool),
            (ResourceKind::User, ["groups"] | ["groups", "value"]) => Target::UserGroups,
            (ResourceKind::Group, ["members"] | ["members", "value"]) => Target::Members,
            (ResourceKind::User, _) if !resolved.is_common() && !matches!(resolved.doc_path[0], "groups") => {
                self.user_value_target(path, &resolved)?
            }
            // An account's own Group extension: its rows are in group_values.
            (ResourceKind::Group, _) if resolved.is_extension() => self.user_value_target(path, &resolved)?,
            _ => return Err(self.unsupported(path)),
        };
        Ok(target)
    }

    /// An attribute of a user answered from `user_values`.
    fn user_value_target(&self, path: &AttrPath, resolved: &Resolved) -> Result<Target, FilterError> {
        let Some(attr) = resolved.attr else {
            return Err(FilterError(format!(
                "\"{}\" names a whole schema extension; filter on one of its attributes",
                display_path(path)
            )));
        };
        let doc_path = &resolved.doc_path;
        let ext = super::derived::is_account_extension(doc_path[0]);
        let value_column = |def| value_column(def, ext);
        let key = |extra: Option<&str>| {
            let mut p = doc_path.clone();
            p.extend(extra);
            value_key(&p)
        };
        let target = match (
            attr.multi_valued && attr.is_complex(),
            attr.is_complex(),
            resolved.sub,
        ) {
            // emails, addresses, …: the element's anchor row holds value, type and primary.
            (true, _, sub) => {
                let anchor = value_key(&doc_path[..doc_path.len() - usize::from(sub.is_some())]);
                match sub.map(|s| s.name) {
                    None => Target::Values {
                        keys: vec![anchor],
                        col: attr.sub_attr("value").map(value_column).transpose()?,
                    },
                    Some("value") => Target::Values {
                        keys: vec![anchor],
                        col: Some(value_column(sub.unwrap_or(attr))?),
                    },
                    Some("type") => Target::Values {
                        keys: vec![anchor],
                        col: Some(("type_ci", ColKind::TextCi)),
                    },
                    Some("primary") => Target::Values {
                        keys: vec![anchor],
                        col: Some(("is_primary", ColKind::Bool)),
                    },
                    Some(_) => Target::Values {
                        keys: vec![key(None)],
                        col: Some(value_column(sub.unwrap_or(attr))?),
                    },
                }
            }
            // name.givenName, manager.value.
            (false, true, Some(sub)) => Target::Values {
                keys: vec![key(None)],
                col: Some(value_column(sub)?),
            },
            // `manager eq "x"` means its value; `name pr` means any of its sub-attributes.
            (false, true, None) => match attr.sub_attr("value") {
                Some(value) => Target::Values {
                    keys: vec![key(Some(value.name))],
                    col: Some(value_column(value)?),
                },
                None => Target::Values {
                    keys: attr.sub_attributes.iter().map(|s| key(Some(s.name))).collect(),
                    col: None,
                },
            },
            (false, false, _) => Target::Values {
                keys: vec![key(None)],
                col: Some(value_column(attr)?),
            },
        };
        Ok(target)
    }

    fn unsupported(&self, path: &AttrPath) -> FilterError {
        let filterable = match self.kind {
            ResourceKind::User => {
                "every attribute of the User schema and the enterprise extension, id, externalId, \
                 meta.created, meta.lastModified and groups.value"
            }
            ResourceKind::Group => {
                "id, displayName, externalId, meta.created, meta.lastModified and members.value"
            }
        };
        FilterError(format!(
            "filtering on \"{}\" is not supported; filterable attributes are {filterable}",
            display_path(path)
        ))
    }

    fn leaf(&mut self, path: &AttrPath, cmp: Option<(CompareOp, &CompValue)>) -> Result<String, FilterError> {
        let target = self.target(path)?;
        if !matches!(target, Target::Column(..))
            && let Some((op @ (CompareOp::Eq | CompareOp::Ne), value)) = cmp
        {
            // Rows exist only for present values, so `ne` and `eq null` are the negation of
            // an EXISTS: true for a user without the attribute, as SCIM wants (and for a
            // multi-valued attribute, "no element equals").
            let positive = match (op, value) {
                (CompareOp::Eq, CompValue::Null) => Some(self.leaf(path, None)?),
                (CompareOp::Ne, CompValue::Null) => return self.leaf(path, None),
                (CompareOp::Ne, _) => Some(self.leaf(path, Some((CompareOp::Eq, value)))?),
                _ => None,
            };
            if let Some(positive) = positive {
                return Ok(format!("(NOT {positive})"));
            }
        }
        match target {
            Target::Column(col, kind) => self.compare(col, kind, path, cmp),
            Target::Values { keys, col } => {
                let inner = match (col, cmp) {
                    (Some((col, kind)), _) => self.compare(&format!("v.{col}"), kind, path, cmp)?,
                    (None, None) => "TRUE".to_string(),
                    (None, Some(_)) => {
                        return Err(FilterError(format!(
                            "\"{}\" is complex: compare one of its sub-attributes, or test it with pr",
                            display_path(path)
                        )));
                    }
                };
                Ok(self.values_exists(&keys, &inner))
            }
            Target::Members => {
                let inner = self.compare("m.member_id", ColKind::Uuid, path, cmp)?;
                Ok(self.members_exists(&inner))
            }
            Target::UserGroups => {
                let inner = self.compare("m.group_id", ColKind::Uuid, path, cmp)?;
                Ok(self.user_groups_exists(&inner))
            }
        }
    }

    /// `emails[type eq "work" and value eq "x"]`: one element must satisfy the whole inner filter.
    fn value_path(&mut self, attr: &AttrPath, inner: &Filter) -> Result<String, FilterError> {
        let resolved = self.resolve(attr)?;
        match (self.kind, resolved.doc_path.as_slice(), resolved.attr) {
            (ResourceKind::Group, ["members"], _) => {
                let cond = self.id_node("m.member_id", "members", inner)?;
                Ok(self.members_exists(&cond))
            }
            (ResourceKind::User, ["groups"], _) => {
                let cond = self.id_node("m.group_id", "groups", inner)?;
                Ok(self.user_groups_exists(&cond))
            }
            (ResourceKind::User, doc_path, Some(def))
                if resolved.sub.is_none() && def.multi_valued && def.is_complex() =>
            {
                let anchor = value_key(doc_path);
                let cond = self.element_node(attr, def, &anchor, inner)?;
                Ok(self.values_exists(&[anchor], &cond))
            }
            _ => Err(FilterError(format!(
                "\"{}\" is not a multi-valued attribute that can be filtered with [...]",
                display_path(attr)
            ))),
        }
    }

    fn element_node(
        &mut self,
        parent: &AttrPath,
        def: &'static AttrDef,
        anchor: &str,
        filter: &Filter,
    ) -> Result<String, FilterError> {
        Ok(match filter {
            Filter::And(a, b) => format!(
                "({} AND {})",
                self.element_node(parent, def, anchor, a)?,
                self.element_node(parent, def, anchor, b)?
            ),
            Filter::Or(a, b) => format!(
                "({} OR {})",
                self.element_node(parent, def, anchor, a)?,
                self.element_node(parent, def, anchor, b)?
            ),
            Filter::Not(a) => format!(
                "(NOT COALESCE({}, FALSE))",
                self.element_node(parent, def, anchor, a)?
            ),
            Filter::Present(p) => self.element_leaf(parent, def, anchor, p, None)?,
            Filter::Compare { path, op, value } => {
                self.element_leaf(parent, def, anchor, path, Some((*op, value)))?
            }
            Filter::ValuePath { attr, .. } => {
                return Err(FilterError(format!(
                    "a value filter cannot be nested inside another (\"{}\")",
                    display_path(attr)
                )));
            }
        })
    }

    /// One comparison on a sub-attribute of the element whose anchor row is `v`: value, type
    /// and primary are on the anchor; any other sub-attribute is the row of the same `ord`.
    fn element_leaf(
        &mut self,
        parent: &AttrPath,
        def: &'static AttrDef,
        anchor: &str,
        path: &AttrPath,
        cmp: Option<(CompareOp, &CompValue)>,
    ) -> Result<String, FilterError> {
        let sub = match (&path.urn, &path.sub) {
            (None, None) => def.sub_attr(&path.name),
            _ => None,
        };
        let Some(sub) = sub else {
            let known: Vec<&str> = def.sub_attributes.iter().map(|s| s.name).collect();
            return Err(FilterError(format!(
                "inside {}[...] name a sub-attribute of {}: {}",
                display_path(parent),
                def.name,
                known.join(", ")
            )));
        };
        let ext = self
            .resolve(parent)
            .is_ok_and(|r| super::derived::is_account_extension(r.doc_path[0]));
        let (table, id_col) = super::user_values::values_table(self.kind);
        match sub.name {
            "value" => {
                let (col, kind) = value_column(sub, ext)?;
                self.compare(&format!("v.{col}"), kind, path, cmp)
            }
            "type" => self.compare("v.type_ci", ColKind::TextCi, path, cmp),
            "primary" => self.compare("v.is_primary", ColKind::Bool, path, cmp),
            name => {
                let (col, kind) = value_column(sub, ext)?;
                let key = if ext {
                    format!("{anchor}.{name}").to_lowercase()
                } else {
                    format!("{anchor}.{name}")
                };
                let key = self.out.bind(SqlParam::Text(key));
                let cond = self.compare(&format!("w.{col}"), kind, path, cmp)?;
                Ok(format!(
                    "EXISTS (SELECT 1 FROM {table} w WHERE w.account_id = v.account_id \
                     AND w.{id_col} = v.{id_col} AND w.attr = {key} AND w.ord = v.ord AND {cond})"
                ))
            }
        }
    }

    /// `EXISTS` over the `user_values` rows keyed by one of `keys`, aliased `v` in `cond`.
    fn values_exists(&mut self, keys: &[String], cond: &str) -> String {
        let keys: Vec<String> = keys
            .iter()
            .map(|k| self.out.bind(SqlParam::Text(k.clone())))
            .collect();
        let attr = match keys.as_slice() {
            [one] => format!("v.attr = {one}"),
            many => format!("v.attr IN ({})", many.join(", ")),
        };
        let (table, id_col) = super::user_values::values_table(self.kind);
        match self.out.dialect {
            Dialect::Postgres => format!(
                "EXISTS (SELECT 1 FROM {table} v WHERE v.account_id = t.account_id \
                 AND v.{id_col} = t.id AND {attr} AND {cond})"
            ),
            Dialect::Sqlite => format!(
                "t.id IN (SELECT v.{id_col} FROM {table} v WHERE v.account_id = {} \
                 AND {attr} AND {cond})",
                self.out.account()
            ),
        }
    }

    /// The groups `t` whose members satisfy `cond` (on `m`).
    fn members_exists(&self, cond: &str) -> String {
        match self.out.dialect {
            Dialect::Postgres => format!(
                "EXISTS (SELECT 1 FROM group_members m WHERE m.account_id = t.account_id \
                 AND m.group_id = t.id AND {cond})"
            ),
            Dialect::Sqlite => format!(
                "t.id IN (SELECT m.group_id FROM group_members m WHERE m.account_id = {} AND {cond})",
                self.out.account()
            ),
        }
    }

    /// The users `t` with a membership satisfying `cond` (on `m`); only memberships of
    /// IdP-managed groups when the caller sees no native group.
    fn user_groups_exists(&self, cond: &str) -> String {
        let from = if self.out.idp_groups_only {
            "group_members m JOIN groups g ON g.account_id = m.account_id AND g.id = m.group_id \
             AND g.idp_managed = TRUE"
        } else {
            "group_members m"
        };
        match self.out.dialect {
            Dialect::Postgres => format!(
                "EXISTS (SELECT 1 FROM {from} WHERE m.account_id = t.account_id \
                 AND m.member_id = t.id AND {cond})"
            ),
            Dialect::Sqlite => format!(
                "t.id IN (SELECT m.member_id FROM {from} WHERE m.account_id = {} AND {cond})",
                self.out.account()
            ),
        }
    }

    /// The inside of `members[...]` / `groups[...]`: only `value`, an id.
    fn id_node(&mut self, col: &str, attr: &str, filter: &Filter) -> Result<String, FilterError> {
        Ok(match filter {
            Filter::And(a, b) => format!(
                "({} AND {})",
                self.id_node(col, attr, a)?,
                self.id_node(col, attr, b)?
            ),
            Filter::Or(a, b) => format!(
                "({} OR {})",
                self.id_node(col, attr, a)?,
                self.id_node(col, attr, b)?
            ),
            Filter::Not(a) => format!("(NOT COALESCE({}, FALSE))", self.id_node(col, attr, a)?),
            Filter::Compare { path, op, value } if is_value(path) => {
                self.compare(col, ColKind::Uuid, path, Some((*op, value)))?
            }
            Filter::Present(path) if is_value(path) => "TRUE".to_string(),
            _ => {
                return Err(FilterError(format!("{attr} can only be filtered by value")));
            }
        })
    }

    /// One comparison (`cmp` = None means `pr`) on a column, always a definite boolean.
    fn compare(
        &mut self,
        col: &str,
        kind: ColKind,
        path: &AttrPath,
        cmp: Option<(CompareOp, &CompValue)>,
    ) -> Result<String, FilterError> {
        // SCIM's `ne` is `not eq`: true where the attribute is absent, unlike SQL's `<>`.
        if let Some((CompareOp::Ne, value)) = cmp
            && !matches!(value, CompValue::Null)
        {
            let eq = self.compare(col, kind, path, Some((CompareOp::Eq, value)))?;
            return Ok(format!("(NOT COALESCE({eq}, FALSE))"));
        }
        let Some((op, value)) = cmp else {
            return Ok(match kind {
                ColKind::Text | ColKind::TextCi | ColKind::ExtTextCi | ColKind::BoolText => {
                    format!("({col} <> '')")
                }
                _ => format!("({col} IS NOT NULL)"),
            });
        };
        if matches!(value, CompValue::Null) {
            return match op {
                CompareOp::Eq => Ok(format!("({col} IS NULL)")),
                CompareOp::Ne => Ok(format!("({col} IS NOT NULL)")),
                _ => Err(FilterError(format!(
                    "null can only be compared with eq or ne (\"{}\")",
                    display_path(path)
                ))),
            };
        }
        let name = display_path(path);
        if let CompValue::Str(text) = value
            && text.contains('\0')
        {
            return Err(FilterError(format!(
                "the value compared with \"{name}\" contains the NUL character (U+0000), which no \
                 stored value contains"
            )));
        }
        let sql = match kind {
            ColKind::Text | ColKind::TextCi | ColKind::ExtTextCi => {
                let mut text = literal_text(value);
                if kind == ColKind::TextCi {
                    text = crate::scim::compare::key(&text);
                } else if kind == ColKind::ExtTextCi {
                    text = super::derived::extension_text_key(&text);
                }
                match op {
                    CompareOp::Eq => format!("{col} = {}", self.out.bind(SqlParam::Text(text))),
                    CompareOp::Ne => format!("{col} <> {}", self.out.bind(SqlParam::Text(text))),
                    CompareOp::Co | CompareOp::Sw | CompareOp::Ew => self.substring(col, op, &text),
                    CompareOp::Gt => format!("{col} > {}", self.out.bind(SqlParam::Text(text))),
                    CompareOp::Ge => format!("{col} >= {}", self.out.bind(SqlParam::Text(text))),
                    CompareOp::Lt => format!("{col} < {}", self.out.bind(SqlParam::Text(text))),
                    CompareOp::Le => format!("{col} <= {}", self.out.bind(SqlParam::Text(text))),
                }
            }
            ColKind::Bool | ColKind::BoolText => {
                let b = literal_bool(value).ok_or_else(|| {
                    FilterError(format!("\"{name}\" is a boolean: compare it with true or false"))
                })?;
                let p = self.out.bind(match kind {
                    ColKind::BoolText => SqlParam::Text(b.to_string()),
                    _ => SqlParam::Bool(b),
                });
                match op {
                    CompareOp::Eq => format!("{col} = {p}"),
                    CompareOp::Ne => format!("{col} <> {p}"),
                    _ => {
                        return Err(FilterError(format!(
                            "\"{name}\" is a boolean: only eq, ne and pr apply"
                        )));
                    }
                }
            }
            ColKind::Uuid => {
                // An id that is not a UUID names no resource: eq is false, ne is true.
                let parsed = Uuid::parse_str(literal_text(value).trim()).ok();
                match (op, parsed) {
                    (CompareOp::Eq, Some(id)) => format!("{col} = {}", self.out.bind(SqlParam::Uuid(id))),
                    (CompareOp::Ne, Some(id)) => format!("{col} <> {}", self.out.bind(SqlParam::Uuid(id))),
                    (CompareOp::Eq, None) => "FALSE".to_string(),
                    (CompareOp::Ne, None) => "TRUE".to_string(),
                    _ => {
                        return Err(FilterError(format!(
                            "\"{name}\" is an identifier: only eq, ne and pr apply"
                        )));
                    }
                }
            }
            ColKind::Date => {
                let text = literal_text(value);
                let key = super::derived::date_key(&text).ok_or_else(|| {
                    FilterError(format!(
                        "\"{name}\" is a dateTime: compare it with an RFC 3339 timestamp such as \
                         \"2024-05-13T04:42:34Z\", not \"{text}\""
                    ))
                })?;
                let p = self.out.bind(SqlParam::Text(key));
                let sql_op = ordered_op(op, &name, "a dateTime")?;
                format!("{col} {sql_op} {p}")
            }
            ColKind::Number => {
                let key = match value {
                    CompValue::Num(n) => super::derived::number_key(n),
                    // Entra writes numbers as strings; a number is what they mean.
                    CompValue::Str(s) => s
                        .trim()
                        .parse::<serde_json::Number>()
                        .ok()
                        .and_then(|n| super::derived::number_key(&n)),
                    _ => None,
                }
                .ok_or_else(|| FilterError(format!("\"{name}\" is a number: compare it with a number")))?;
                let p = self.out.bind(SqlParam::Text(key));
                let sql_op = ordered_op(op, &name, "a number")?;
                format!("{col} {sql_op} {p}")
            }
            ColKind::Time => {
                let text = literal_text(value);
                let time = DateTime::parse_from_rfc3339(text.trim())
                    .map_err(|_| {
                        FilterError(format!(
                            "\"{name}\" is a dateTime: compare it with an RFC 3339 timestamp such as \
                             \"2024-05-13T04:42:34Z\", not \"{text}\""
                        ))
                    })?
                    .with_timezone(&Utc);
                let p = self.out.bind(SqlParam::Time(time));
                let sql_op = ordered_op(op, &name, "a dateTime")?;
                format!("{col} {sql_op} {p}")
            }
        };
        Ok(format!("({sql})"))
    }
}

impl Translator<'_> {
    /// `co`, `sw` and `ew` on a text column, case-sensitive (a `*_ci` column and its value
    /// are both lower case already).
    fn substring(&mut self, col: &str, op: CompareOp, text: &str) -> String {
        if op == CompareOp::Sw {
            // The strings starting with `text` are exactly [text, successor) in code point
            // order: a range scan of the column's index, which a bound parameter keeps (a
            // `LIKE` pattern only reaches an index when the planner sees its value). SQLite's
            // BINARY collation is code point order; on Postgres the columns are collation "C"
            // (migration 0006), which the comparison names so that it holds on any column.
            let collate = match self.out.dialect {
                Dialect::Postgres => " COLLATE \"C\"",
                Dialect::Sqlite => "",
            };
            let low = self.out.bind(SqlParam::Text(text.to_string()));
            return match prefix_successor(text) {
                Some(high) => {
                    let high = self.out.bind(SqlParam::Text(high));
                    format!("{col}{collate} >= {low} AND {col}{collate} < {high}")
                }
                None => format!("{col}{collate} >= {low}"),
            };
        }
        match self.out.dialect {
            Dialect::Postgres => {
                let escaped = escape_like(text);
                let pattern = match op {
                    CompareOp::Co => format!("%{escaped}%"),
                    _ => format!("%{escaped}"),
                };
                format!(
                    "{col} LIKE {} ESCAPE '\\'",
                    self.out.bind(SqlParam::Text(pattern))
                )
            }
            Dialect::Sqlite => {
                let escaped = escape_glob(text);
                let pattern = match op {
                    CompareOp::Co => format!("*{escaped}*"),
                    _ => format!("*{escaped}"),
                };
                format!("{col} GLOB {}", self.out.bind(SqlParam::Text(pattern)))
            }
        }
    }
}

/// The least string greater than every string that starts with `prefix`: the prefix with its
/// last character incremented (dropping trailing characters that cannot be). `None` when no
/// string bounds them (an empty prefix, or one made only of U+10FFFF).
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last as u32 + 1 {
            0xD800 => Some('\u{E000}'),
            n => char::from_u32(n),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// `GLOB` treats `*`, `?` and `[` as wildcards; a one-character class matches each literally.
fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '*' | '?' | '[' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

fn is_value(path: &AttrPath) -> bool {
    path.urn.is_none() && path.sub.is_none() && path.name.eq_ignore_ascii_case("value")
}

/// The column of a `user_values` row compared for an attribute: `caseExact` decides between
/// the value as written and its lower-cased form.
/// The column of a value row that a filter on `def` compares, and how. `ext`: the attribute is
/// of an account's own extension, whose rows are keyed by `derived::extension_key`.
fn value_column(def: &'static AttrDef, ext: bool) -> Result<(&'static str, ColKind), FilterError> {
    if !text_comparable(def.ty, ext) {
        return Err(FilterError(format!(
            "filtering on the {} attribute \"{}\" is not supported",
            def.ty.as_str(),
            def.name
        )));
    }
    Ok(match (def.ty, def.case_exact) {
        (AttrType::Boolean, _) => ("value", ColKind::BoolText),
        (AttrType::Integer | AttrType::Decimal, _) => ("value_ci", ColKind::Number),
        (AttrType::DateTime, _) => ("value_ci", ColKind::Date),
        (_, false) if ext => ("value_ci", ColKind::ExtTextCi),
        (_, true) => ("value", ColKind::Text),
        (_, false) => ("value_ci", ColKind::TextCi),
    })
}

/// The SQL operator of a comparison on an ordered value (a number, a date-time); substring
/// operators do not apply to those.
fn ordered_op(op: CompareOp, name: &str, what: &str) -> Result<&'static str, FilterError> {
    Ok(match op {
        CompareOp::Eq => "=",
        CompareOp::Ne => "<>",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
            return Err(FilterError(format!(
                "\"{name}\" is {what}: co, sw and ew do not apply"
            )));
        }
    })
}

fn literal_text(value: &CompValue) -> String {
    match value {
        CompValue::Str(s) => s.clone(),
        CompValue::Bool(b) => b.to_string(),
        CompValue::Num(n) => n.to_string(),
        CompValue::Null => String::new(),
    }
}

/// Entra writes booleans as the strings "True"/"False".
fn literal_bool(value: &CompValue) -> Option<bool> {
    match value {
        CompValue::Bool(b) => Some(*b),
        CompValue::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
        CompValue::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn display_path(path: &AttrPath) -> String {
    let mut s = String::new();
    if let Some(urn) = &path.urn {
        s.push_str(urn);
        s.push(':');
    }
    s.push_str(&path.name);
    if let Some(sub) = &path.sub {
        s.push('.');
        s.push_str(sub);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor_bounds_exactly_the_strings_with_the_prefix() {
        assert_eq!(prefix_successor("abc").as_deref(), Some("abd"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_successor("ä").as_deref(), Some("å"));
        assert_eq!(prefix_successor(""), None);
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
        // Byte order of UTF-8 is code point order, which is how SQLite compares.
        for (prefix, inside, outside) in [
            ("ab", "ab\u{10FFFF}zz", "ac"),
            ("a\u{10FFFF}", "a\u{10FFFF}\u{10FFFF}", "b"),
            ("\u{D7FF}", "\u{D7FF}x", "\u{E000}"),
        ] {
            let high = prefix_successor(prefix).unwrap();
            assert!(prefix.as_bytes() <= inside.as_bytes() && inside.as_bytes() < high.as_bytes());
            assert!(outside.as_bytes() >= high.as_bytes());
        }
    }

    #[test]
    fn glob_wildcards_are_escaped() {
        assert_eq!(escape_glob("a*b?c[d]e"), "a[*]b[?]c[[]d]e");
        assert_eq!(escape_glob("100%_"), "100%_");
    }

    fn sqlite_sql(kind: ResourceKind, filter: &str) -> String {
        let mut out = SqlBuilder::new(Dialect::Sqlite, 2);
        translate(
            kind,
            None,
            &crate::scim::filter::parse_filter(filter).unwrap(),
            &mut out,
        )
        .unwrap();
        out.sql
    }

    #[test]
    fn sqlite_fragments_use_ranges_glob_and_uncorrelated_subqueries() {
        assert_eq!(
            sqlite_sql(ResourceKind::User, r#"userName sw "Ab""#),
            "(t.user_name_ci >= ?2 AND t.user_name_ci < ?3)"
        );
        assert_eq!(
            sqlite_sql(ResourceKind::User, r#"externalId co "x""#),
            "(t.external_id GLOB ?2)"
        );
        let sql = sqlite_sql(ResourceKind::User, r#"emails.value eq "x""#);
        assert!(
            sql.starts_with("t.id IN (SELECT v.user_id FROM user_values v WHERE v.account_id = ?1"),
            "{sql}"
        );
        assert!(!sql.contains("LIKE") && !sql.contains("EXISTS"), "{sql}");
    }
}
