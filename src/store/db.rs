//! The seam between the store's logic and its two databases (docs/decisions.md, "The store is
//! written once over two dialects"). A query is written once, as SQL text with `?1`-style placeholders, values
//! as [`Param`]s, and rows read through [`DbRow`]; this module alone knows how each database
//! spells a placeholder and keeps a type:
//!
//! | value  | Postgres      | SQLite                                             |
//! |--------|---------------|----------------------------------------------------|
//! | id     | `uuid`        | `TEXT`, lower-case hyphenated (text order = id order) |
//! | time   | `timestamptz` | `TEXT`, fixed width `…T…​.ffffffZ` (text order = time order) |
//! | JSON   | `jsonb`       | `TEXT`                                             |
//! | bytes  | `bytea`       | `BLOB`                                             |
//! | list of strings | `text[]` | `TEXT`, a JSON array                        |
//! | set of ids | `uuid[]` (`= ANY`) | a JSON array (`json_each`)              |
//!
//! The aggregates written on it (`store/accounts.rs`, `tokens.rs`, `settings.rs`,
//! `role_bindings.rs`, `memberships.rs`, `audit.rs`, `resources.rs`, `rekey.rs`) hold their SQL
//! beside their row mapping; what a dialect spells differently in SQL itself (`FOR UPDATE`,
//! `json_each` against `unnest`) is asked of [`Dialect`] where the statement is written. The
//! transaction's time is the database's on Postgres and the one taken at `BEGIN IMMEDIATE` on
//! SQLite: statements write `COALESCE(?n, CURRENT_TIMESTAMP)` with [`DbConn::now`].

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;
use serde_json::value::RawValue;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, PgConnection, Row, SqliteConnection};
use uuid::Uuid;
use uuid::fmt::Hyphenated;

use super::common::in_dialect;
use super::filter_sql::Dialect;
use super::{StoreError, StoreResult};

/// A connection inside a transaction, of either database, and the transaction's time.
pub struct DbConn<'a> {
    conn: Conn<'a>,
    now: Option<DateTime<Utc>>,
}

enum Conn<'a> {
    Postgres(&'a mut PgConnection),
    Sqlite(&'a mut SqliteConnection),
}

/// A bound value. `None` is a NULL of the value's type (Postgres checks parameter types).
#[derive(Debug, Clone)]
pub enum Param {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(Option<bool>),
    Uuid(Option<Uuid>),
    Time(Option<DateTime<Utc>>),
    Json(Option<Value>),
    Bytes(Option<Vec<u8>>),
    /// A 32-bit integer column (Postgres `integer`).
    Int32(Option<i32>),
    /// A list of strings: `text[]` on Postgres, a JSON array on SQLite; as a set, read through
    /// [`Dialect::in_set`].
    TextList(Vec<String>),
    /// A set of ids: `uuid[]` on Postgres, a JSON array on SQLite; read in SQL through
    /// [`Dialect::ids_table`], [`Dialect::in_set`] and [`Dialect::not_in_set`].
    Ids(Vec<Uuid>),
}

/// What each database spells differently in SQL itself. A set bound as one parameter: Postgres
/// unnests an array (and `= ANY` keeps an index scan), SQLite walks a JSON array with
/// `json_each`; likewise rows bound as one JSON array, row locks, and setting a JSON field.
impl Dialect {
    /// A table of the ids bound at `?n`, one column `value`, aliased `alias`.
    pub fn ids_table(self, n: usize, alias: &str) -> String {
        match self {
            Dialect::Postgres => format!("UNNEST(?{n}::uuid[]) AS {alias}(value)"),
            Dialect::Sqlite => format!("json_each(?{n}) AS {alias}"),
        }
    }

    /// `column` is one of the values (ids, or texts) bound at `?n`.
    pub fn in_set(self, column: &str, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("{column} = ANY(?{n})"),
            Dialect::Sqlite => format!("{column} IN (SELECT value FROM json_each(?{n}))"),
        }
    }

    /// ` FOR UPDATE` where a read must lock its rows until the transaction ends. SQLite has no
    /// row locks: its write transaction holds the whole database (`store/sqlite.rs`).
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Postgres => " FOR UPDATE",
            Dialect::Sqlite => "",
        }
    }

    /// A table of the JSON array of objects bound at `?n` (a [`Param::Json`]), one column per
    /// `(name, Postgres type)`, aliased `alias`: how one statement writes many rows on both
    /// databases (`jsonb_to_recordset` against `json_each`).
    pub fn json_rows(self, n: usize, alias: &str, columns: &[(&str, &str)]) -> String {
        match self {
            Dialect::Postgres => {
                let cols: Vec<String> = columns.iter().map(|(c, t)| format!("{c} {t}")).collect();
                format!("jsonb_to_recordset(?{n}::jsonb) AS {alias}({})", cols.join(", "))
            }
            Dialect::Sqlite => {
                let cols: Vec<String> = columns
                    .iter()
                    .map(|(c, _)| format!("json_extract(value, '$.{c}') AS {c}"))
                    .collect();
                format!("(SELECT {} FROM json_each(?{n})) AS {alias}", cols.join(", "))
            }
        }
    }

    /// The JSON document `doc` with its top-level `key` set to the text `value`.
    pub fn json_set_text(self, doc: &str, key: &str, value: &str) -> String {
        match self {
            Dialect::Postgres => format!("jsonb_set({doc}, '{{{key}}}', to_jsonb({value}))"),
            Dialect::Sqlite => format!("json_set({doc}, '$.{key}', {value})"),
        }
    }

    /// `column` is none of the values bound at `?n`.
    pub fn not_in_set(self, column: &str, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("NOT ({column} = ANY(?{n}))"),
            Dialect::Sqlite => format!("{column} NOT IN (SELECT value FROM json_each(?{n}))"),
        }
    }
}

impl From<&str> for Param {
    fn from(v: &str) -> Self {
        Param::Text(Some(v.to_string()))
    }
}
impl From<&String> for Param {
    fn from(v: &String) -> Self {
        Param::Text(Some(v.clone()))
    }
}
impl From<&Option<String>> for Param {
    fn from(v: &Option<String>) -> Self {
        Param::Text(v.clone())
    }
}
impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::Int(Some(v))
    }
}
impl From<bool> for Param {
    fn from(v: bool) -> Self {
        Param::Bool(Some(v))
    }
}
impl From<Uuid> for Param {
    fn from(v: Uuid) -> Self {
        Param::Uuid(Some(v))
    }
}
impl From<Option<Uuid>> for Param {
    fn from(v: Option<Uuid>) -> Self {
        Param::Uuid(v)
    }
}
impl From<DateTime<Utc>> for Param {
    fn from(v: DateTime<Utc>) -> Self {
        Param::Time(Some(v))
    }
}
impl From<Option<DateTime<Utc>>> for Param {
    fn from(v: Option<DateTime<Utc>>) -> Self {
        Param::Time(v)
    }
}
impl From<&Option<Value>> for Param {
    fn from(v: &Option<Value>) -> Self {
        Param::Json(v.clone())
    }
}
impl From<Option<i32>> for Param {
    fn from(v: Option<i32>) -> Self {
        Param::Int32(v)
    }
}
impl From<Option<i64>> for Param {
    fn from(v: Option<i64>) -> Self {
        Param::Int(v)
    }
}
impl From<&Vec<String>> for Param {
    fn from(v: &Vec<String>) -> Self {
        Param::TextList(v.clone())
    }
}
impl From<&[String]> for Param {
    fn from(v: &[String]) -> Self {
        Param::TextList(v.to_vec())
    }
}
impl From<&[Uuid]> for Param {
    fn from(v: &[Uuid]) -> Self {
        Param::Ids(v.to_vec())
    }
}
impl From<&[u8]> for Param {
    fn from(v: &[u8]) -> Self {
        Param::Bytes(Some(v.to_vec()))
    }
}
impl From<&Vec<u8>> for Param {
    fn from(v: &Vec<u8>) -> Self {
        Param::Bytes(Some(v.clone()))
    }
}

impl From<&super::filter_sql::SqlParam> for Param {
    fn from(v: &super::filter_sql::SqlParam) -> Self {
        use super::filter_sql::SqlParam;
        match v {
            SqlParam::Text(t) => Param::Text(Some(t.clone())),
            SqlParam::Bool(b) => Param::Bool(Some(*b)),
            SqlParam::Uuid(u) => Param::Uuid(Some(*u)),
            SqlParam::Time(t) => Param::Time(Some(*t)),
            SqlParam::Int(i) => Param::Int(Some(*i)),
        }
    }
}

/// `[Param::from(a), Param::from(b), …]`.
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        [$($crate::store::db::Param::from($value)),*]
    };
}
pub(crate) use params;

/// The stored form of a time on SQLite: fixed width, so that text order is time order.
pub fn time_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The current time at the precision Postgres keeps (microseconds).
pub fn now_micros() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn decode_error(column: &str, err: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Database(sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: Box::new(err),
    })
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;
type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// The statement for Postgres (`?n` spelled `$n`), every value bound in its own type.
fn pg_query(sql: &str, params: &[Param]) -> PgQuery<'static> {
    let mut q = sqlx::query(AssertSqlSafe(in_dialect(Dialect::Postgres, sql)));
    for p in params {
        q = match p {
            Param::Text(v) => q.bind(v.clone()),
            Param::Int(v) => q.bind(*v),
            Param::Int32(v) => q.bind(*v),
            Param::Bool(v) => q.bind(*v),
            Param::Uuid(v) => q.bind(*v),
            Param::Time(v) => q.bind(*v),
            Param::Json(v) => q.bind(v.clone()),
            Param::Bytes(v) => q.bind(v.clone()),
            Param::TextList(v) => q.bind(v.clone()),
            Param::Ids(v) => q.bind(v.clone()),
        };
    }
    q
}

/// The statement for SQLite: ids, times, JSON and lists bound as the text the schema keeps.
fn sqlite_query(sql: &str, params: &[Param]) -> SqliteQuery<'static> {
    let mut q = sqlx::query(AssertSqlSafe(sql.to_string()));
    for p in params {
        q = match p {
            Param::Text(v) => q.bind(v.clone()),
            Param::Int(v) => q.bind(*v),
            Param::Int32(v) => q.bind(*v),
            Param::Bool(v) => q.bind(*v),
            Param::Uuid(v) => q.bind(v.map(|u| u.hyphenated().to_string())),
            Param::Time(v) => q.bind(v.map(time_text)),
            Param::Json(v) => q.bind(v.as_ref().map(Value::to_string)),
            Param::Bytes(v) => q.bind(v.clone()),
            Param::TextList(v) => q.bind(serde_json::json!(v).to_string()),
            Param::Ids(v) => {
                q.bind(Value::from_iter(v.iter().map(|id| id.hyphenated().to_string())).to_string())
            }
        };
    }
    q
}

impl<'a> DbConn<'a> {
    /// Postgres keeps the transaction's time itself (`now()`, `CURRENT_TIMESTAMP`).
    pub fn postgres(conn: &'a mut PgConnection) -> Self {
        DbConn {
            conn: Conn::Postgres(conn),
            now: None,
        }
    }

    /// SQLite has no transaction time: the store takes it when the transaction begins, so
    /// that times of successive writes never go backwards.
    pub fn sqlite(conn: &'a mut SqliteConnection, now: DateTime<Utc>) -> Self {
        DbConn {
            conn: Conn::Sqlite(conn),
            now: Some(now),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.conn {
            Conn::Postgres(_) => Dialect::Postgres,
            Conn::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// The transaction's time where the store keeps it; `None`: the database's. Statements
    /// write `COALESCE(?n, CURRENT_TIMESTAMP)` with it.
    pub fn now(&self) -> Option<DateTime<Utc>> {
        self.now
    }

    /// Runs a statement; the number of rows it changed.
    pub async fn execute(&mut self, sql: &str, params: &[Param]) -> StoreResult<u64> {
        Ok(match &mut self.conn {
            Conn::Postgres(c) => pg_query(sql, params).execute(&mut **c).await?.rows_affected(),
            Conn::Sqlite(c) => sqlite_query(sql, params).execute(&mut **c).await?.rows_affected(),
        })
    }

    /// Every row a query returns.
    pub async fn fetch_all(&mut self, sql: &str, params: &[Param]) -> StoreResult<Vec<DbRow>> {
        self.fetch_all_prepared(sql, params, true).await
    }

    /// Every row of a query whose best plan depends on its values (a list's page and count):
    /// on Postgres it is planned for these values each time, not prepared once. A prepared
    /// statement's generic plan is made for an average account; accounts differ by orders of
    /// magnitude (1,000 users beside 1,000,000), and the generic plan of a filtered count —
    /// an index scan over the account, fine for 1,000 rows — took 3 s at 1,000,000 where the
    /// plan for the values (a parallel scan) takes 0.2 s (docs/benchmarks.md, "Growth").
    pub async fn fetch_all_planned(&mut self, sql: &str, params: &[Param]) -> StoreResult<Vec<DbRow>> {
        self.fetch_all_prepared(sql, params, false).await
    }

    /// `prepared`: Postgres keeps the statement and, after a few runs, its generic plan.
    async fn fetch_all_prepared(
        &mut self,
        sql: &str,
        params: &[Param],
        prepared: bool,
    ) -> StoreResult<Vec<DbRow>> {
        Ok(match &mut self.conn {
            Conn::Postgres(c) => pg_query(sql, params)
                .persistent(prepared)
                .fetch_all(&mut **c)
                .await?
                .into_iter()
                .map(DbRow::Postgres)
                .collect(),
            Conn::Sqlite(c) => sqlite_query(sql, params)
                .fetch_all(&mut **c)
                .await?
                .into_iter()
                .map(DbRow::Sqlite)
                .collect(),
        })
    }

    /// Every row of a query that returns many (a page of a list), planned for its values on
    /// Postgres as [`fetch_all_planned`](Self::fetch_all_planned) does when `planned`.
    ///
    /// SQLite's driver runs each connection on a thread of its own and hands every row to the
    /// request's task on its own, waking it each time: for a page of 100 rows that is 100 wake-ups
    /// of two threads, which cost more CPU than SQLite's reading the rows (docs/benchmarks.md,
    /// "A page's rows in one hand-off"). So on SQLite the rows come back as one: SQLite writes
    /// them as one JSON array of arrays, which is parsed here into rows read like any other.
    /// `columns` names the statement's result columns, in order; those of `json_columns` hold
    /// JSON text, nested as JSON rather than as a string so it is parsed once. `order`, over
    /// those columns, orders the array; without it the statement must have a `LIMIT`: then
    /// its `ORDER BY` picks its rows and SQLite runs it as a co-routine, which yields them to
    /// the aggregate in that order (the tests of sorted pages on SQLite hold it to that).
    pub async fn fetch_page(
        &mut self,
        sql: &str,
        params: &[Param],
        columns: &[&str],
        json_columns: &[&str],
        order: Option<&str>,
        planned: bool,
    ) -> StoreResult<Vec<DbRow>> {
        if let Conn::Postgres(_) = self.conn {
            return self.fetch_all_prepared(sql, params, !planned).await;
        }
        let cells: Vec<String> = columns
            .iter()
            .map(|c| {
                if json_columns.contains(c) {
                    format!("json(b.{c})")
                } else {
                    format!("b.{c}")
                }
            })
            .collect();
        let batch_sql = format!(
            "SELECT json_group_array(json_array({}){}) AS batch FROM ({sql}) AS b",
            cells.join(", "),
            order.map(|o| format!(" ORDER BY {o}")).unwrap_or_default()
        );
        let text: String = self.fetch_one(&batch_sql, params).await?.text("batch")?;
        let batch = Arc::new(Batch::parse(columns, text)?);
        Ok((0..batch.rows())
            .map(|row| DbRow::Batched(Arc::clone(&batch), row))
            .collect())
    }

    /// The first row a query returns, if any.
    pub async fn fetch_optional(&mut self, sql: &str, params: &[Param]) -> StoreResult<Option<DbRow>> {
        Ok(match &mut self.conn {
            Conn::Postgres(c) => pg_query(sql, params)
                .fetch_optional(&mut **c)
                .await?
                .map(DbRow::Postgres),
            Conn::Sqlite(c) => sqlite_query(sql, params)
                .fetch_optional(&mut **c)
                .await?
                .map(DbRow::Sqlite),
        })
    }

    /// The one row a query must return.
    pub async fn fetch_one(&mut self, sql: &str, params: &[Param]) -> StoreResult<DbRow> {
        self.fetch_optional(sql, params)
            .await?
            .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }
}

/// A row of either database, read by column name in scimd's types.
pub enum DbRow {
    Postgres(PgRow),
    Sqlite(SqliteRow),
    /// A row of a page read in one hand-off ([`DbConn::fetch_page`]): the page, and which row.
    Batched(Arc<Batch>, usize),
}

/// A page of rows read in one hand-off on SQLite ([`DbConn::fetch_page`]): the JSON text SQLite
/// wrote for them (an array of rows, each an array of cells: text, number or null, JSON
/// columns nested) and where each cell is in it. A cell is read straight from the text when
/// its row is read, so a page of 100 rows of ten columns is one string and one list of places,
/// not a thousand small allocations copied out of it.
pub struct Batch {
    names: Vec<String>,
    text: String,
    /// Each cell's byte range in `text`, row after row, `names.len()` to a row.
    cells: Vec<(usize, usize)>,
}

impl Batch {
    fn parse(columns: &[&str], text: String) -> StoreResult<Batch> {
        let mut cells = Vec::with_capacity(columns.len() * 128);
        {
            let mut de = serde_json::Deserializer::from_str(&text);
            let seed = CellPlaces {
                start: text.as_ptr() as usize,
                width: columns.len(),
                row: false,
                cells: &mut cells,
            };
            serde::de::DeserializeSeed::deserialize(seed, &mut de)
                .and_then(|()| de.end())
                .map_err(|e| decode_error("batch", e))?;
        }
        Ok(Batch {
            names: columns.iter().map(|c| c.to_string()).collect(),
            text,
            cells,
        })
    }

    fn rows(&self) -> usize {
        self.cells.len().checked_div(self.names.len()).unwrap_or(0)
    }

    /// The JSON of `row`'s cell in `column`.
    fn cell(&self, row: usize, column: &str) -> StoreResult<&str> {
        self.names
            .iter()
            .position(|n| n == column)
            .and_then(|i| self.cells.get(row * self.names.len() + i))
            .map(|&(from, to)| &self.text[from..to])
            .ok_or_else(|| StoreError::Database(sqlx::Error::ColumnNotFound(column.to_string())))
    }

    /// `row`'s cell in `column`, parsed as `T`: SQLite's text, integers and nulls as JSON.
    fn read<'a, T: serde::Deserialize<'a>>(&'a self, row: usize, column: &str) -> StoreResult<T> {
        serde_json::from_str(self.cell(row, column)?).map_err(|e| decode_error(column, e))
    }

    /// `row`'s text cell in `column` without copying it when it holds no escape (an id, a time).
    fn str(&self, row: usize, column: &str) -> StoreResult<Option<std::borrow::Cow<'_, str>>> {
        match self.read::<Option<&str>>(row, column) {
            Ok(text) => Ok(text.map(std::borrow::Cow::Borrowed)),
            Err(_) => Ok(self
                .read::<Option<String>>(row, column)?
                .map(std::borrow::Cow::Owned)),
        }
    }
}

/// Reads the page's array of rows (`row: false`) or one row of it (`row: true`), noting where
/// each cell is (`Batch::cells`).
struct CellPlaces<'c> {
    /// Where the text starts in memory: a borrowed cell's place is its offset from here.
    start: usize,
    width: usize,
    row: bool,
    cells: &'c mut Vec<(usize, usize)>,
}

impl<'de> serde::de::DeserializeSeed<'de> for CellPlaces<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for CellPlaces<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self.row {
            false => write!(f, "an array of rows of {} cells", self.width),
            true => write!(f, "a row of {} cells", self.width),
        }
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if !self.row {
            while let Some(()) = seq.next_element_seed(CellPlaces {
                row: true,
                cells: &mut *self.cells,
                ..self
            })? {}
            return Ok(());
        }
        let mut n = 0;
        while let Some(cell) = seq.next_element::<&'de RawValue>()? {
            let from = cell.get().as_ptr() as usize - self.start;
            self.cells.push((from, from + cell.get().len()));
            n += 1;
        }
        if n != self.width {
            return Err(serde::de::Error::invalid_length(n, &self));
        }
        Ok(())
    }
}

impl DbRow {
    /// A column whose type both databases decode alike.
    fn get<T>(&self, column: &str) -> StoreResult<T>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
        T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
    {
        Ok(match self {
            DbRow::Postgres(r) => r.try_get(column)?,
            DbRow::Sqlite(r) => r.try_get(column)?,
            DbRow::Batched(..) => {
                return Err(StoreError::Database(sqlx::Error::ColumnNotFound(format!(
                    "{column} (not readable from a batched row)"
                ))));
            }
        })
    }

    /// A column read from SQL text, an integer or null: batched rows parse it from JSON.
    fn scalar<T>(&self, column: &str) -> StoreResult<T>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
        T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
        T: serde::de::DeserializeOwned,
    {
        match self {
            DbRow::Batched(batch, row) => batch.read(*row, column),
            _ => self.get(column),
        }
    }

    pub fn text(&self, column: &str) -> StoreResult<String> {
        self.scalar(column)
    }

    pub fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
        self.scalar(column)
    }

    pub fn bool(&self, column: &str) -> StoreResult<bool> {
        match self {
            // SQLite keeps a boolean as 0 or 1.
            DbRow::Batched(batch, row) => Ok(batch.read::<i64>(*row, column)? != 0),
            _ => self.get(column),
        }
    }

    pub fn i64(&self, column: &str) -> StoreResult<i64> {
        self.scalar(column)
    }

    /// A JSON object column (`doc`); anything else reads as an empty object.
    pub fn object(&self, column: &str) -> StoreResult<serde_json::Map<String, Value>> {
        Ok(match self.opt_json(column)? {
            Some(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        })
    }

    pub fn opt_i32(&self, column: &str) -> StoreResult<Option<i32>> {
        self.scalar(column)
    }

    pub fn opt_i64(&self, column: &str) -> StoreResult<Option<i64>> {
        self.scalar(column)
    }

    /// A `text[]` on Postgres, a JSON array of strings on SQLite.
    pub fn text_list(&self, column: &str) -> StoreResult<Vec<String>> {
        match self {
            DbRow::Postgres(r) => Ok(r.try_get(column)?),
            DbRow::Sqlite(r) => {
                let text: String = r.try_get(column)?;
                serde_json::from_str(&text).map_err(|e| decode_error(column, e))
            }
            DbRow::Batched(batch, row) => {
                let text = batch.str(*row, column)?.unwrap_or_default();
                serde_json::from_str(&text).map_err(|e| decode_error(column, e))
            }
        }
    }

    pub fn bytes(&self, column: &str) -> StoreResult<Vec<u8>> {
        self.get(column)
    }

    pub fn uuid(&self, column: &str) -> StoreResult<Uuid> {
        self.opt_uuid(column)?
            .ok_or_else(|| StoreError::Database(sqlx::Error::ColumnNotFound(column.to_string())))
    }

    pub fn opt_uuid(&self, column: &str) -> StoreResult<Option<Uuid>> {
        Ok(match self {
            DbRow::Postgres(r) => r.try_get(column)?,
            DbRow::Sqlite(r) => r
                .try_get::<Option<Hyphenated>, _>(column)?
                .map(Hyphenated::into_uuid),
            DbRow::Batched(batch, row) => batch.read(*row, column)?,
        })
    }

    pub fn time(&self, column: &str) -> StoreResult<DateTime<Utc>> {
        self.opt_time(column)?
            .ok_or_else(|| StoreError::Database(sqlx::Error::ColumnNotFound(column.to_string())))
    }

    pub fn opt_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        match self {
            DbRow::Postgres(r) => Ok(r.try_get(column)?),
            DbRow::Sqlite(_) | DbRow::Batched(..) => {
                let text: Option<std::borrow::Cow<str>> = match self {
                    DbRow::Batched(batch, row) => batch.str(*row, column)?,
                    _ => self
                        .scalar::<Option<String>>(column)?
                        .map(std::borrow::Cow::Owned),
                };
                text.map(|t| {
                    DateTime::parse_from_rfc3339(&t)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|e| decode_error(column, e))
                })
                .transpose()
            }
        }
    }

    pub fn opt_json(&self, column: &str) -> StoreResult<Option<Value>> {
        match self {
            DbRow::Postgres(r) => Ok(r
                .try_get::<Option<sqlx::types::Json<Value>>, _>(column)?
                .map(|j| j.0)),
            DbRow::Sqlite(r) => {
                let text: Option<String> = r.try_get(column)?;
                text.map(|t| serde_json::from_str(&t).map_err(|e| decode_error(column, e)))
                    .transpose()
            }
            // Nested, not text (`fetch_page`'s `json_columns`).
            DbRow::Batched(batch, row) => batch.read(*row, column),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    /// A page's cells are read from its text in place: each row has exactly the statement's
    /// columns, an escaped text cell still reads (copied), a page of no rows is empty.
    #[test]
    fn a_batch_notes_where_each_cell_is() {
        let text = r#"[["a\"b", 1, null, {"k": [1, "x"]}], ["2026-12-06T12:00:00.000000Z", -2, "c", null]]"#;
        let batch = Batch::parse(&["t", "n", "o", "doc"], text.to_string()).unwrap();
        assert_eq!(batch.rows(), 2);
        assert_eq!(batch.str(0, "t").unwrap().as_deref(), Some("a\"b"));
        assert_eq!(batch.read::<i64>(1, "n").unwrap(), -2);
        assert_eq!(batch.str(0, "o").unwrap(), None);
        assert_eq!(
            batch.read::<Value>(0, "doc").unwrap(),
            serde_json::json!({"k": [1, "x"]})
        );
        assert!(matches!(
            batch.str(1, "t").unwrap(),
            Some(std::borrow::Cow::Borrowed(_))
        ));
        assert!(batch.cell(0, "missing").is_err());
        assert!(
            Batch::parse(&["t", "n"], text.to_string()).is_err(),
            "rows wider than the columns"
        );
        assert!(Batch::parse(&["t", "n", "o", "doc", "e"], text.to_string()).is_err());
        assert!(
            Batch::parse(&["t"], "[[1]] x".to_string()).is_err(),
            "text after the page"
        );
        assert_eq!(Batch::parse(&["t"], "[]".to_string()).unwrap().rows(), 0);
    }

    /// A page read in one hand-off reads back as the rows themselves would: every type, nulls,
    /// nested JSON, and the statement's order with and without an explicit one.
    #[tokio::test]
    async fn a_batched_page_reads_like_its_rows() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        let now = Utc::now().trunc_subsecs(6);
        let mut db = DbConn::sqlite(&mut conn, now);
        db.execute(
            "CREATE TABLE t (id TEXT PRIMARY KEY, name TEXT, n INTEGER, flag INTEGER, at TEXT, doc TEXT)",
            &[],
        )
        .await
        .unwrap();
        let mut ids: Vec<Uuid> = (0..40).map(|_| Uuid::new_v4()).collect();
        for (i, id) in ids.iter().enumerate() {
            // Every third row has no name; the ids are random, so id order is not insertion order.
            let name = (i % 3 != 0).then(|| format!("n \"{i}\" é"));
            db.execute(
                "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &[
                    Param::from(*id),
                    Param::Text(name),
                    Param::from(i as i64 * 1_000_000_007),
                    Param::from(i % 2 == 0),
                    Param::from(now),
                    Param::Json(Some(serde_json::json!({"k": i, "nested": {"s": "a\nb"}}))),
                ],
            )
            .await
            .unwrap();
        }
        let columns = ["id", "name", "n", "flag", "at", "doc"];
        let read = |row: &DbRow| {
            (
                row.uuid("id").unwrap(),
                row.opt_text("name").unwrap(),
                row.i64("n").unwrap(),
                row.bool("flag").unwrap(),
                row.time("at").unwrap(),
                row.object("doc").unwrap(),
            )
        };
        let sql = "SELECT id, name, n, flag, at, doc FROM t ORDER BY id LIMIT ?1 OFFSET ?2";
        let plain = db
            .fetch_all(sql, &[Param::from(15), Param::from(5)])
            .await
            .unwrap();
        let plain: Vec<_> = plain.iter().map(read).collect();
        for order in [None, Some("b.id")] {
            let batched = db
                .fetch_page(
                    sql,
                    &[Param::from(15), Param::from(5)],
                    &columns,
                    &["doc"],
                    order,
                    true,
                )
                .await
                .unwrap();
            assert_eq!(batched.iter().map(read).collect::<Vec<_>>(), plain);
        }
        ids.sort();
        assert_eq!(plain.iter().map(|r| r.0).collect::<Vec<_>>(), ids[5..20]);
        assert!(plain.iter().any(|r| r.1.is_none()) && plain.iter().any(|r| r.3));
        // Ordered explicitly over a statement without `LIMIT`, descending by a nullable column.
        let sql = "SELECT id, name, n, flag, at, doc FROM t";
        let batched = db
            .fetch_page(sql, &[], &columns, &["doc"], Some("b.name DESC, b.id"), true)
            .await
            .unwrap();
        let sorted = db
            .fetch_all(&format!("{sql} ORDER BY name DESC, id"), &[])
            .await
            .unwrap();
        assert_eq!(
            batched.iter().map(read).collect::<Vec<_>>(),
            sorted.iter().map(read).collect::<Vec<_>>()
        );
        // No rows: an empty page, not an error.
        let none = db
            .fetch_page(
                "SELECT id, name, n, flag, at, doc FROM t WHERE n < 0",
                &[],
                &columns,
                &["doc"],
                None,
                true,
            )
            .await
            .unwrap();
        assert!(none.is_empty());
    }
}
