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

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::path::AttrPath;
use crate::scim::schema::{self, ResourceType};

use super::ResourceKind;

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
}

/// How placeholders are spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `$1`
    Postgres,
    /// `?1`
    #[allow(dead_code)] // the embedded SQLite store (issue "Runs anywhere") uses it
    Sqlite,
}

/// The kind of column an attribute maps to, which decides how values are coerced and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColKind {
    /// Text compared case-insensitively: the column holds the lower-cased form.
    TextCi,
    /// Text compared exactly.
    Text,
    Bool,
    Uuid,
    Time,
}

/// Builds the fragment; `params` continue the caller's numbering.
pub struct SqlBuilder {
    dialect: Dialect,
    pub sql: String,
    pub params: Vec<SqlParam>,
    first_param: usize,
}

impl SqlBuilder {
    /// `first_param` is the number the first placeholder gets (the caller binds 1..first_param).
    pub fn new(dialect: Dialect, first_param: usize) -> Self {
        SqlBuilder {
            dialect,
            sql: String::new(),
            params: Vec::new(),
            first_param,
        }
    }

    fn bind(&mut self, param: SqlParam) -> String {
        self.params.push(param);
        let n = self.first_param + self.params.len() - 1;
        match self.dialect {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite => format!("?{n}"),
        }
    }
}

/// Translate `filter` for resources of `kind` aliased as `t` in the caller's query.
pub fn translate(kind: ResourceKind, filter: &Filter, out: &mut SqlBuilder) -> Result<(), FilterError> {
    let sql = Translator { kind, out }.node(filter)?;
    out.sql = sql;
    Ok(())
}

/// The column to sort by for `path`; only attributes with a column of their own are sortable.
pub fn sort_column(kind: ResourceKind, path: &AttrPath) -> Result<&'static str, String> {
    let mut scratch = SqlBuilder::new(Dialect::Postgres, 1);
    let translator = Translator {
        kind,
        out: &mut scratch,
    };
    match translator.target(path) {
        Ok(Target::Column(col, _)) => Ok(col),
        _ => Err(format!(
            "cannot sort by \"{}\"; sortable attributes are {}",
            display_path(path),
            match kind {
                ResourceKind::User =>
                    "id, userName, externalId, displayName, active, meta.created and meta.lastModified",
                ResourceKind::Group => "id, displayName, externalId, meta.created and meta.lastModified",
            }
        )),
    }
}

struct Translator<'a> {
    kind: ResourceKind,
    out: &'a mut SqlBuilder,
}

/// Where a top-level attribute lives.
enum Target {
    Column(&'static str, ColKind),
    /// A multi-valued attribute of a user, in `user_values` (`attr` = its name); `sub` is the
    /// sub-attribute compared (`value` when the filter names none).
    UserValues {
        attr: &'static str,
        sub: &'static str,
    },
    /// The member ids of a group.
    Members,
}

const USER_VALUE_ATTRS: &[&str] = &["emails", "phoneNumbers", "ims", "photos", "entitlements", "roles"];

impl Translator<'_> {
    fn resource_type(&self) -> &'static ResourceType {
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

    fn target(&self, path: &AttrPath) -> Result<Target, FilterError> {
        let resolved = self
            .resource_type()
            .resolve(path)
            .map_err(|e| FilterError(e.detail))?;
        let keys: Vec<&str> = resolved.doc_path.clone();
        let target = match (self.kind, keys.as_slice()) {
            (_, ["id"]) => Target::Column("t.id", ColKind::Uuid),
            (_, ["externalId"]) => Target::Column("t.external_id", ColKind::Text),
            (_, ["meta", "created"]) => Target::Column("t.created_at", ColKind::Time),
            (_, ["meta", "lastModified"]) => Target::Column("t.last_modified", ColKind::Time),
            (_, ["displayName"]) => Target::Column("t.display_name_ci", ColKind::TextCi),
            (ResourceKind::User, ["userName"]) => Target::Column("t.user_name_ci", ColKind::TextCi),
            (ResourceKind::User, ["active"]) => Target::Column("t.active", ColKind::Bool),
            (ResourceKind::User, [attr, rest @ ..]) if USER_VALUE_ATTRS.contains(attr) => {
                let sub = match rest {
                    [] | ["value"] => "value",
                    ["type"] => "type",
                    ["primary"] => "primary",
                    _ => return Err(self.unsupported(path)),
                };
                let attr = USER_VALUE_ATTRS
                    .iter()
                    .find(|a| *a == attr)
                    .copied()
                    .unwrap_or("emails");
                Target::UserValues { attr, sub }
            }
            (ResourceKind::Group, ["members"] | ["members", "value"]) => Target::Members,
            _ => return Err(self.unsupported(path)),
        };
        Ok(target)
    }

    fn unsupported(&self, path: &AttrPath) -> FilterError {
        let filterable = match self.kind {
            ResourceKind::User => {
                "id, userName, externalId, displayName, active, meta.created, meta.lastModified, \
                 and value, type and primary of emails, phoneNumbers, ims, photos, entitlements and roles"
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
        match self.target(path)? {
            Target::Column(col, kind) => self.compare(col, kind, path, cmp),
            Target::UserValues { attr, sub } => {
                let (col, kind) = user_value_column(sub);
                let inner = self.compare(col, kind, path, cmp)?;
                Ok(user_values_exists(attr, &inner))
            }
            Target::Members => {
                let inner = self.compare("m.member_id", ColKind::Uuid, path, cmp)?;
                Ok(format!(
                    "EXISTS (SELECT 1 FROM group_members m WHERE m.account_id = t.account_id \
                     AND m.group_id = t.id AND {inner})"
                ))
            }
        }
    }

    /// `emails[type eq "work" and value eq "x"]`: one element must satisfy the whole inner filter.
    fn value_path(&mut self, attr: &AttrPath, inner: &Filter) -> Result<String, FilterError> {
        match self.target(attr)? {
            Target::UserValues {
                attr: name,
                sub: "value",
            } => {
                let cond = self.element_node(attr, inner)?;
                Ok(user_values_exists(name, &cond))
            }
            Target::Members => {
                let cond = self.member_node(inner)?;
                Ok(format!(
                    "EXISTS (SELECT 1 FROM group_members m WHERE m.account_id = t.account_id \
                     AND m.group_id = t.id AND {cond})"
                ))
            }
            _ => Err(FilterError(format!(
                "\"{}\" is not a multi-valued attribute that can be filtered with [...]",
                display_path(attr)
            ))),
        }
    }

    fn element_node(&mut self, parent: &AttrPath, filter: &Filter) -> Result<String, FilterError> {
        Ok(match filter {
            Filter::And(a, b) => format!(
                "({} AND {})",
                self.element_node(parent, a)?,
                self.element_node(parent, b)?
            ),
            Filter::Or(a, b) => format!(
                "({} OR {})",
                self.element_node(parent, a)?,
                self.element_node(parent, b)?
            ),
            Filter::Not(a) => format!("(NOT COALESCE({}, FALSE))", self.element_node(parent, a)?),
            Filter::Present(p) => {
                let (col, kind) = self.element_column(parent, p)?;
                self.compare(col, kind, p, None)?
            }
            Filter::Compare { path, op, value } => {
                let (col, kind) = self.element_column(parent, path)?;
                self.compare(col, kind, path, Some((*op, value)))?
            }
            Filter::ValuePath { attr, .. } => {
                return Err(FilterError(format!(
                    "a value filter cannot be nested inside another (\"{}\")",
                    display_path(attr)
                )));
            }
        })
    }

    fn element_column(
        &self,
        parent: &AttrPath,
        sub: &AttrPath,
    ) -> Result<(&'static str, ColKind), FilterError> {
        if sub.urn.is_some() || sub.sub.is_some() {
            return Err(FilterError(format!(
                "inside {}[...] use sub-attribute names such as value, type or primary",
                display_path(parent)
            )));
        }
        match sub.name.to_ascii_lowercase().as_str() {
            "value" => Ok(user_value_column("value")),
            "type" => Ok(user_value_column("type")),
            "primary" => Ok(user_value_column("primary")),
            _ => Err(FilterError(format!(
                "filtering on \"{}.{}\" is not supported; inside {}[...] value, type and primary are",
                display_path(parent),
                sub.name,
                display_path(parent)
            ))),
        }
    }

    fn member_node(&mut self, filter: &Filter) -> Result<String, FilterError> {
        Ok(match filter {
            Filter::And(a, b) => format!("({} AND {})", self.member_node(a)?, self.member_node(b)?),
            Filter::Or(a, b) => format!("({} OR {})", self.member_node(a)?, self.member_node(b)?),
            Filter::Not(a) => format!("(NOT COALESCE({}, FALSE))", self.member_node(a)?),
            Filter::Compare { path, op, value } if is_value(path) => {
                self.compare("m.member_id", ColKind::Uuid, path, Some((*op, value)))?
            }
            Filter::Present(path) if is_value(path) => "TRUE".to_string(),
            _ => {
                return Err(FilterError("members can only be filtered by value".to_string()));
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
                ColKind::Text | ColKind::TextCi => format!("({col} <> '')"),
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
        let sql = match kind {
            ColKind::Text | ColKind::TextCi => {
                let mut text = literal_text(value);
                if kind == ColKind::TextCi {
                    text = text.to_lowercase();
                }
                match op {
                    CompareOp::Eq => format!("{col} = {}", self.out.bind(SqlParam::Text(text))),
                    CompareOp::Ne => format!("{col} <> {}", self.out.bind(SqlParam::Text(text))),
                    CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
                        let escaped = escape_like(&text);
                        let pattern = match op {
                            CompareOp::Co => format!("%{escaped}%"),
                            CompareOp::Sw => format!("{escaped}%"),
                            _ => format!("%{escaped}"),
                        };
                        format!(
                            "{col} LIKE {} ESCAPE '\\'",
                            self.out.bind(SqlParam::Text(pattern))
                        )
                    }
                    CompareOp::Gt => format!("{col} > {}", self.out.bind(SqlParam::Text(text))),
                    CompareOp::Ge => format!("{col} >= {}", self.out.bind(SqlParam::Text(text))),
                    CompareOp::Lt => format!("{col} < {}", self.out.bind(SqlParam::Text(text))),
                    CompareOp::Le => format!("{col} <= {}", self.out.bind(SqlParam::Text(text))),
                }
            }
            ColKind::Bool => {
                let b = literal_bool(value).ok_or_else(|| {
                    FilterError(format!("\"{name}\" is a boolean: compare it with true or false"))
                })?;
                let p = self.out.bind(SqlParam::Bool(b));
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
                let sql_op = match op {
                    CompareOp::Eq => "=",
                    CompareOp::Ne => "<>",
                    CompareOp::Gt => ">",
                    CompareOp::Ge => ">=",
                    CompareOp::Lt => "<",
                    CompareOp::Le => "<=",
                    _ => {
                        return Err(FilterError(format!(
                            "\"{name}\" is a dateTime: co, sw and ew do not apply"
                        )));
                    }
                };
                format!("{col} {sql_op} {p}")
            }
        };
        Ok(format!("({sql})"))
    }
}

fn is_value(path: &AttrPath) -> bool {
    path.urn.is_none() && path.sub.is_none() && path.name.eq_ignore_ascii_case("value")
}

fn user_value_column(sub: &str) -> (&'static str, ColKind) {
    match sub {
        "type" => ("v.type_ci", ColKind::TextCi),
        "primary" => ("v.is_primary", ColKind::Bool),
        _ => ("v.value_ci", ColKind::TextCi),
    }
}

fn user_values_exists(attr: &str, cond: &str) -> String {
    // `attr` comes from the fixed USER_VALUE_ATTRS list, never from the request.
    format!(
        "EXISTS (SELECT 1 FROM user_values v WHERE v.account_id = t.account_id \
         AND v.user_id = t.id AND v.attr = '{attr}' AND {cond})"
    )
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
