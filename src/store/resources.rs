//! Users and groups: every statement on whole resources — inserting, reading, updating,
//! listing, deleting, the export's reads and the ownership rules' lookups and bulk changes —
//! written once for both databases over `store/db.rs`. A user's filter rows are written with
//! it (`store/user_values.rs`).

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::common::{
    self, GROUP_COLUMNS, Indexed, USER_COLUMNS, columns, indexed, limit_offset, list_sql, table,
};
use super::db::{DbConn, DbRow, Param, params};
use super::filter_sql::Dialect;
use super::{
    AdminFilter, GroupRef, Keyset, ListQuery, Membership, NewResource, Page, ResourceKind, ResourceRow,
    StoreError, StoreResult,
};
use super::{derived, user_values};
use crate::scim::compare;

/// Inserts a user (with its filter rows) or a group. A group whose identifier is taken is
/// `StoreError::Unique(GROUP_IDENTIFIER_KEY)` with the transaction still usable, so the caller
/// can try the next candidate (R1).
pub async fn insert(
    db: &mut DbConn<'_>,
    kind: ResourceKind,
    account: Uuid,
    new: &NewResource,
) -> StoreResult<ResourceRow> {
    let ix = indexed(kind, &new.doc);
    let doc = Param::Json(Some(Value::Object(new.doc.clone())));
    let now = Param::Time(db.now());
    let row = match kind {
        ResourceKind::User => {
            let sql = format!(
                "INSERT INTO users (account_id, id, user_name, user_name_ci, external_id, display_name,
                     display_name_ci, active, doc, source, idp_managed, primary_email_ci, created_at,
                     last_modified)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,
                         COALESCE(?13, CURRENT_TIMESTAMP), COALESCE(?13, CURRENT_TIMESTAMP))
                 RETURNING {USER_COLUMNS}"
            );
            let row = db
                .fetch_one(
                    &sql,
                    &keyed(
                        account,
                        new.id,
                        &ix,
                        [
                            (&ix.display_name).into(),
                            (&ix.display_name.as_deref().map(compare::key)).into(),
                            ix.active.into(),
                            doc,
                            (&new.source).into(),
                            new.idp_managed.into(),
                            (&ix.primary_email_ci).into(),
                            now,
                        ],
                    ),
                )
                .await?;
            user_values::write(db, account, new.id, &new.doc, true).await?;
            row
        }
        ResourceKind::Group => {
            // ON CONFLICT on the identifier only: a taken identifier returns no row and
            // leaves the transaction usable for the next candidate (R1); any other
            // violation (the displayName indexes) still fails the statement.
            let sql = format!(
                "INSERT INTO groups (account_id, id, display_name, display_name_ci, external_id, doc,
                     source, idp_managed, identifier, created_at, last_modified)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,
                         COALESCE(?10, CURRENT_TIMESTAMP), COALESCE(?10, CURRENT_TIMESTAMP))
                 ON CONFLICT (account_id, identifier) DO NOTHING
                 RETURNING {GROUP_COLUMNS}"
            );
            let inserted = db
                .fetch_optional(
                    &sql,
                    &keyed(
                        account,
                        new.id,
                        &ix,
                        [
                            doc,
                            (&new.source).into(),
                            new.idp_managed.into(),
                            new.identifier.as_deref().unwrap_or(&ix.name).into(),
                            now,
                        ],
                    ),
                )
                .await
                .map_err(|e| display_name_key(e, new.idp_managed))?;
            let row = inserted.ok_or_else(|| StoreError::Unique(super::GROUP_IDENTIFIER_KEY.to_string()))?;
            if !derived::group_value_rows(&new.doc).is_empty() {
                user_values::write_group(db, account, new.id, &new.doc, true).await?;
            }
            row
        }
    };
    resource(&row)
}

/// The parameters every insert and update of a resource starts with — `?1` account, `?2` id,
/// `?3` userName or displayName, `?4` its comparison key, `?5` externalId — then `rest`.
fn keyed<const N: usize>(account: Uuid, id: Uuid, ix: &Indexed, rest: [Param; N]) -> Vec<Param> {
    let mut params: Vec<Param> = vec![
        account.into(),
        id.into(),
        (&ix.name).into(),
        (&compare::key(&ix.name)).into(),
        (&ix.external_id).into(),
    ];
    params.extend(rest);
    params
}

/// How a read of a resource holds it until the transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowLock {
    /// Not at all.
    None,
    /// A group, against `Update`, not against other holders of `Share` nor plain updates: for
    /// writes beside the row that may run side by side (an IdP's member pushes), which then
    /// meet only at the statement that bumps its version. On Postgres a shared advisory lock
    /// standing for the group, which `Update` of a group takes exclusively: unlike row locks,
    /// advisory locks queue fairly, so a stream of pushes cannot keep a waiting `Update` (a
    /// rename, a delete) out for as long as it lasts, as `FOR KEY SHARE` did (it waited 9 s
    /// behind 16 pushing connections, until they stopped). Nothing on SQLite, whose write
    /// transaction holds the whole database.
    Share,
    /// Against every other writer (`FOR UPDATE`): read-modify-write of the row itself.
    Update,
}

/// Postgres: the class of scimd's advisory locks (the first of their two keys), so that they
/// never meet another program's.
const ADVISORY_CLASS: i32 = 0x5c1d_0001;

/// The second key of a group's advisory lock: its id folded to 32 bits. Two groups that fold
/// alike only wait for each other now and then; nothing else depends on it.
fn advisory_key(id: Uuid) -> i32 {
    let v = id.as_u128();
    ((v as u32) ^ ((v >> 32) as u32) ^ ((v >> 64) as u32) ^ ((v >> 96) as u32)) as i32
}

/// The resource, held as `lock` says.
pub async fn get(
    db: &mut DbConn<'_>,
    kind: ResourceKind,
    account: Uuid,
    id: Uuid,
    lock: RowLock,
) -> StoreResult<Option<ResourceRow>> {
    let dialect = db.dialect();
    let table = table(kind);
    debug_assert!(lock != RowLock::Share || kind == ResourceKind::Group);
    let advisory = match (dialect, kind, lock) {
        (Dialect::Postgres, ResourceKind::Group, RowLock::Share) => Some("pg_advisory_xact_lock_shared"),
        (Dialect::Postgres, ResourceKind::Group, RowLock::Update) => Some("pg_advisory_xact_lock"),
        _ => None,
    };
    let row_lock = match (lock, advisory) {
        (RowLock::None | RowLock::Share, _) => String::new(),
        // The advisory lock is taken first: the rows are locked above the join that needs it.
        (RowLock::Update, Some(_)) => format!(" FOR UPDATE OF {table}"),
        (RowLock::Update, None) => dialect.for_update().to_string(),
    };
    let from = match advisory {
        Some(f) => format!("(SELECT {f}(?3, ?4)) AS advisory, {table}"),
        None => table.to_string(),
    };
    let sql = format!(
        "SELECT {} FROM {from} WHERE account_id = ?1 AND id = ?2{row_lock}",
        columns(kind)
    );
    let mut binds = params![account, id].to_vec();
    if advisory.is_some() {
        binds.extend(params![Some(ADVISORY_CLASS), Some(advisory_key(id))]);
    }
    db.fetch_optional(&sql, &binds)
        .await?
        .as_ref()
        .map(resource)
        .transpose()
}

/// A user and the groups it is a member of, in one statement (a GET of a user is otherwise two
/// round trips): one row per group, the user's columns on each, or one row with no group.
pub async fn user_with_groups(
    db: &mut DbConn<'_>,
    account: Uuid,
    id: Uuid,
) -> StoreResult<Option<(ResourceRow, Vec<GroupRef>)>> {
    let columns: Vec<String> = USER_COLUMNS
        .split(", ")
        .map(|c| {
            if c.starts_with("CAST") {
                c.to_string()
            } else {
                format!("u.{c}")
            }
        })
        .collect();
    let sql = format!(
        "SELECT {}, g.id AS group_id, g.display_name AS group_name, g.idp_managed AS group_managed
         FROM users u
         LEFT JOIN group_members m ON m.account_id = u.account_id AND m.member_id = u.id
         LEFT JOIN groups g ON g.account_id = m.account_id AND g.id = m.group_id
         WHERE u.account_id = ?1 AND u.id = ?2
         ORDER BY g.display_name, g.id",
        columns.join(", ")
    );
    let rows = db.fetch_all(&sql, &params![account, id]).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let user = resource(first)?;
    let mut groups = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(group_id) = row.opt_uuid("group_id")? {
            groups.push(GroupRef {
                user_id: id,
                group_id,
                display_name: row.text("group_name")?,
                idp_managed: row.bool("group_managed")?,
            });
        }
    }
    Ok(Some((user, groups)))
}

/// Replaces the document (and a user's filter rows), bumps `version` and `last_modified`.
pub async fn update(
    db: &mut DbConn<'_>,
    kind: ResourceKind,
    account: Uuid,
    id: Uuid,
    doc: &Map<String, Value>,
) -> StoreResult<ResourceRow> {
    let ix = indexed(kind, doc);
    let json = Param::Json(Some(Value::Object(doc.clone())));
    let now = Param::Time(db.now());
    let row = match kind {
        ResourceKind::User => {
            let sql = format!(
                "UPDATE users SET user_name = ?3, user_name_ci = ?4, external_id = ?5, display_name = ?6,
                     display_name_ci = ?7, active = ?8, doc = ?9, primary_email_ci = ?10,
                     last_modified = COALESCE(?11, CURRENT_TIMESTAMP), version = version + 1
                 WHERE account_id = ?1 AND id = ?2
                 RETURNING {USER_COLUMNS}"
            );
            let row = db
                .fetch_one(
                    &sql,
                    &keyed(
                        account,
                        id,
                        &ix,
                        [
                            (&ix.display_name).into(),
                            (&ix.display_name.as_deref().map(compare::key)).into(),
                            ix.active.into(),
                            json,
                            (&ix.primary_email_ci).into(),
                            now,
                        ],
                    ),
                )
                .await?;
            user_values::write(db, account, id, doc, false).await?;
            row
        }
        ResourceKind::Group => {
            let sql = format!(
                "UPDATE groups SET display_name = ?3, display_name_ci = ?4, external_id = ?5, doc = ?6,
                     last_modified = COALESCE(?7, CURRENT_TIMESTAMP), version = version + 1
                 WHERE account_id = ?1 AND id = ?2
                 RETURNING {GROUP_COLUMNS}"
            );
            let updated = db.fetch_one(&sql, &keyed(account, id, &ix, [json, now])).await;
            match updated {
                Ok(row) => {
                    user_values::write_group(db, account, id, doc, false).await?;
                    row
                }
                // SQLite cannot say which side's displayName key the new name violates: the
                // side of the group, read again (its transaction is still usable; Postgres,
                // whose aborted transaction would refuse the read, names the key itself).
                Err(StoreError::Unique(name)) if name == DISPLAY_NAME_KEYS => {
                    let managed = db
                        .fetch_optional(
                            "SELECT idp_managed FROM groups WHERE account_id = ?1 AND id = ?2",
                            &params![account, id],
                        )
                        .await?
                        .map(|r| r.bool("idp_managed"))
                        .transpose()?;
                    return Err(display_name_key(
                        StoreError::Unique(name),
                        managed.unwrap_or(false),
                    ));
                }
                Err(err) => return Err(err),
            }
        }
    };
    resource(&row)
}

/// Bumps `version` and `last_modified` only (a membership change).
pub async fn touch(
    db: &mut DbConn<'_>,
    kind: ResourceKind,
    account: Uuid,
    id: Uuid,
    owner: Option<&str>,
) -> StoreResult<Option<ResourceRow>> {
    let sql = format!(
        "UPDATE {} SET last_modified = COALESCE(?3, CURRENT_TIMESTAMP), version = version + 1
         WHERE account_id = ?1 AND id = ?2{}
         RETURNING {}",
        table(kind),
        if owner.is_some() {
            " AND idp_managed AND source = ?4"
        } else {
            ""
        },
        columns(kind)
    );
    let now = db.now();
    let binds = match owner {
        Some(source) => params![account, id, now, source].to_vec(),
        None => params![account, id, now].to_vec(),
    };
    db.fetch_optional(&sql, &binds)
        .await?
        .as_ref()
        .map(resource)
        .transpose()
}

/// Deletes the resource; its memberships and filter rows go with it (ON DELETE CASCADE).
/// False when it did not exist.
pub async fn delete(db: &mut DbConn<'_>, kind: ResourceKind, account: Uuid, id: Uuid) -> StoreResult<bool> {
    let sql = format!("DELETE FROM {} WHERE account_id = ?1 AND id = ?2", table(kind));
    Ok(db.execute(&sql, &params![account, id]).await? > 0)
}

/// A page of a list (SCIM's, or the admin API's with its extra conditions), with the total.
///
/// The page is read first, and the total is counted only when the page cannot tell it: a page
/// that starts at the beginning or holds rows, and is not full, ends the list, so the total is
/// its position plus its rows. The lookups IdPs make most (`userName eq`, `externalId eq`: one
/// row or none) thus cost one statement, not two. A list of the whole account never counts: its
/// total is the account's kept count, read in the page's own statement.
pub async fn list(
    db: &mut DbConn<'_>,
    kind: ResourceKind,
    account: Uuid,
    query: &ListQuery,
    extra: &AdminFilter,
) -> StoreResult<Page<ResourceRow>> {
    let sql = list_sql(db.dialect(), kind, query, extra)?;
    let filter_binds: Vec<Param> = std::iter::once(account.into())
        .chain(sql.params.iter().map(Param::from))
        .collect();
    let mut items = Vec::new();
    let mut next = None;
    let mut last = None;
    let mut known_total = None;
    if query.count > 0 {
        let (limit, offset) = limit_offset(query);
        let mut binds = filter_binds.clone();
        binds.extend(sql.page_params.iter().map(Param::from));
        // Planned for its values on Postgres unless its best plan is the same for every
        // account: a lookup by a unique key, or the whole account in id order (the primary
        // key's range, however large the account), which every IdP's import pages through.
        let planned = !(sql.counted && query.sort.is_none());
        let mut rows = if sql.unique_point {
            db.fetch_all(&sql.page, &binds).await?
        } else {
            // In id order the array is ordered explicitly; a requested order is the page's
            // own `ORDER BY` under its `LIMIT`.
            let order = query.sort.is_none().then_some("b.id");
            db.fetch_page(&sql.page, &binds, &sql.columns, &["doc"], order, planned)
                .await?
        };
        if let Some(rest) = &sql.value_row
            && (rows.len() as i64) < limit
        {
            // The resources with a value ran out within this page: the ones without follow.
            // A page by position past all of them skips those it has not yet skipped, which
            // takes their number (counted on the index, only for a page beyond them).
            let skip = if rows.is_empty() && offset > 0 {
                let with = db.fetch_all_planned(&rest.with_count, &filter_binds).await?;
                let with = with.first().map(|r| r.i64("total")).transpose()?.unwrap_or(0);
                (offset - with).max(0)
            } else {
                0
            };
            let (without, without_params) = rest.without(limit - rows.len() as i64, skip);
            let mut binds = filter_binds.clone();
            binds.extend(without_params.iter().map(Param::from));
            rows.extend(
                db.fetch_page(&without, &binds, &sql.columns, &["doc"], Some("b.id"), true)
                    .await?,
            );
        }
        items = rows.iter().map(resource).collect::<StoreResult<Vec<_>>>()?;
        let position = |row: &DbRow| -> StoreResult<Keyset> {
            Ok(Keyset {
                key: row.opt_text("sort_key")?,
                id: row.uuid("id")?,
            })
        };
        if sql.counted
            && let Some(row) = rows.first()
        {
            known_total = Some(row.i64("counted_total")?);
        }
        match &query.keyset {
            Some(keyset) => {
                if rows.len() as i64 > query.count {
                    items.pop();
                    next = Some(position(&rows[items.len() - 1])?);
                } else if keyset.after.is_none() {
                    // The first cursor page, and the last: it is the whole list.
                    known_total = Some(items.len() as i64);
                }
            }
            None => {
                if (items.len() as i64) < limit {
                    // Skipped by OFFSET, the rows before the page are exactly `start_index - 1`
                    // now; a resumed page's were counted when its previous page was read, and
                    // may have changed since, so its total is read, not inferred.
                    let before = query.start_index - 1;
                    if known_total.is_none() && query.resume.is_none() && (before == 0 || !items.is_empty()) {
                        known_total = Some(before + items.len() as i64);
                    }
                } else if let Some(row) = rows.last() {
                    last = Some(position(row)?);
                }
            }
        }
    }
    let total = match known_total {
        Some(total) => total,
        // The kept count reads a few rows whatever the account's size: prepared like a lookup.
        None if sql.counted => db.fetch_one(&sql.count, &filter_binds).await?.i64("total")?,
        None => db
            .fetch_all_planned(&sql.count, &filter_binds)
            .await?
            .first()
            .ok_or(StoreError::Database(sqlx::Error::RowNotFound))?
            .i64("total")?,
    };
    Ok(Page {
        total,
        items,
        next,
        last,
    })
}

/// `?2`: a JSON array of `{id, name, name_ci}`; `?3`: the time.
pub fn rename_groups_sql(dialect: Dialect) -> String {
    format!(
        "UPDATE groups
         SET display_name = x.name, display_name_ci = x.name_ci,
             doc = {},
             last_modified = COALESCE(?3, CURRENT_TIMESTAMP), version = groups.version + 1
         FROM {}
         WHERE groups.account_id = ?1 AND groups.id = x.id",
        dialect.json_set_text("groups.doc", "displayName", "x.name"),
        dialect.json_rows(2, "x", &[("id", "uuid"), ("name", "text"), ("name_ci", "text")])
    )
}

/// The account's IdP-managed groups that a native group shares a name with (by comparison
/// key), locked until the transaction ends: `(id, displayName, identifier)`.
pub async fn idp_groups_named_like_native(
    db: &mut DbConn<'_>,
    account: Uuid,
) -> StoreResult<Vec<(Uuid, String, String)>> {
    let sql = format!(
        "{}{}",
        common::IDP_GROUPS_NAMED_LIKE_NATIVE,
        db.dialect().for_update()
    );
    let rows = db.fetch_all(&sql, &params![account]).await?;
    rows.iter()
        .map(|r| Ok((r.uuid("id")?, r.text("display_name")?, r.text("identifier")?)))
        .collect()
}

/// Gives the groups their new displayNames, in one statement whatever their number (one JSON
/// array of rows); how many changed. The key column is `scim::compare`'s, like every other.
pub async fn rename_groups(
    db: &mut DbConn<'_>,
    account: Uuid,
    renames: &[(Uuid, String)],
) -> StoreResult<u64> {
    if renames.is_empty() {
        return Ok(0);
    }
    let rows: Vec<Value> = renames
        .iter()
        .map(|(id, name)| json!({"id": id, "name": name, "name_ci": compare::key(name)}))
        .collect();
    let now = db.now();
    let sql = rename_groups_sql(db.dialect());
    db.execute(
        &sql,
        &[account.into(), Param::Json(Some(Value::Array(rows))), now.into()],
    )
    .await
    .map_err(|e| display_name_key(e, true))
}

/// `?2` the base, `?3` what identifiers starting with `base_` match: a `LIKE` pattern on
/// Postgres; on SQLite, whose `LIKE` ignores ASCII case and searches no index, `?3`/`?4` are
/// the range [`base_`, ``base` ``) (`_` + 1 is a backquote; code point order is SQLite's text
/// order).
pub fn identifiers_with_base_sql(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => {
            "SELECT identifier FROM groups
             WHERE account_id = ?1 AND (identifier = ?2 OR identifier LIKE ?3)"
        }
        Dialect::Sqlite => {
            "SELECT identifier FROM groups
             WHERE account_id = ?1 AND (identifier = ?2 OR (identifier >= ?3 AND identifier < ?4))"
        }
    }
}

/// Group identifiers of the account equal to `base` or starting with `base_` (R1's suffixes).
pub async fn identifiers_with_base(
    db: &mut DbConn<'_>,
    account: Uuid,
    base: &str,
) -> StoreResult<Vec<String>> {
    let dialect = db.dialect();
    let binds: Vec<Param> = match dialect {
        Dialect::Postgres => {
            let pattern = format!(
                "{}\\_%",
                base.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
            );
            vec![account.into(), base.into(), (&pattern).into()]
        }
        Dialect::Sqlite => vec![
            account.into(),
            base.into(),
            (&format!("{base}_")).into(),
            (&format!("{base}`")).into(),
        ],
    };
    let rows = db.fetch_all(identifiers_with_base_sql(dialect), &binds).await?;
    rows.iter().map(|r| r.text("identifier")).collect()
}

/// A row of `common::columns(kind)`.
pub fn resource(row: &DbRow) -> StoreResult<ResourceRow> {
    Ok(ResourceRow {
        account_id: row.uuid("account_id")?,
        id: row.uuid("id")?,
        doc: row.object("doc")?,
        source: row.text("source")?,
        idp_managed: row.bool("idp_managed")?,
        created_at: row.time("created_at")?,
        last_modified: row.time("last_modified")?,
        version: row.i64("version")?,
        identifier: row.opt_text("identifier")?,
    })
}

/// Every user or group of the account, in id order (the export, R10).
pub async fn all(db: &mut DbConn<'_>, kind: ResourceKind, account: Uuid) -> StoreResult<Vec<ResourceRow>> {
    let rows = db
        .fetch_all(&common::all_resources(kind), &params![account])
        .await?;
    rows.iter().map(resource).collect()
}

/// Every membership of the account (the export, R10).
pub async fn all_memberships(db: &mut DbConn<'_>, account: Uuid) -> StoreResult<Vec<Membership>> {
    let rows = db.fetch_all(common::ALL_MEMBERSHIPS, &params![account]).await?;
    rows.iter()
        .map(|r| {
            Ok(Membership {
                group_id: r.uuid("group_id")?,
                user_id: r.uuid("member_id")?,
                origin: r.text("origin")?,
            })
        })
        .collect()
}

/// Groups whose displayName compares equal to `name` (at most one native and one IdP-managed).
pub async fn groups_by_display_name(
    db: &mut DbConn<'_>,
    account: Uuid,
    name: &str,
) -> StoreResult<Vec<ResourceRow>> {
    let rows = db
        .fetch_all(
            &common::groups_by_display_name(),
            &params![account, &compare::key(name)],
        )
        .await?;
    rows.iter().map(resource).collect()
}

/// Makes the IdP-managed user native again (its source stays); false when it was not.
pub async fn release_user(db: &mut DbConn<'_>, account: Uuid, id: Uuid) -> StoreResult<bool> {
    Ok(db.execute(common::RELEASE_USER, &params![account, id]).await? > 0)
}

/// `?2`: comparison keys (`scim::compare`) of userNames and emails.
pub fn users_by_name_or_email_sql(dialect: Dialect) -> String {
    match dialect {
        // One probe of each unique-key index per key, whatever the statistics say: each is a
        // LATERAL subquery behind `OFFSET 0`, an equality on every column of its index. As one
        // `OR` of two `= ANY`, the generic plan a prepared statement settles on, made from the
        // statistics of a table not yet analysed (an IdP's first import), read every user of
        // the account to find none — 1.3 ms a create at 9,000 users, growing with the account,
        // so an import cost O(n²) (docs/benchmarks.md, "The write path").
        Dialect::Postgres => {
            let probe = |column: &str| {
                format!(
                    "SELECT u.* FROM unnest(CAST(?2 AS text[])) AS k(key)
                     CROSS JOIN LATERAL (
                         SELECT {USER_COLUMNS} FROM users
                         WHERE account_id = ?1 AND {column} = k.key OFFSET 0) u"
                )
            };
            format!(
                "SELECT * FROM ({} UNION {}) AS found ORDER BY id",
                probe("user_name_ci"),
                probe("primary_email_ci")
            )
        }
        Dialect::Sqlite => format!(
            "SELECT {USER_COLUMNS} FROM users
             WHERE account_id = ?1 AND ({} OR {})
             ORDER BY id",
            dialect.in_set("user_name_ci", 2),
            dialect.in_set("primary_email_ci", 2)
        ),
    }
}

/// Users whose userName or primary email has one of `keys` (R4's adoption lookup).
pub async fn users_by_name_or_email(
    db: &mut DbConn<'_>,
    account: Uuid,
    keys: &[String],
) -> StoreResult<Vec<ResourceRow>> {
    let sql = users_by_name_or_email_sql(db.dialect());
    let rows = db.fetch_all(&sql, &params![account, keys]).await?;
    rows.iter().map(resource).collect()
}

/// `?2`: user ids.
pub fn in_idp_managed_groups_sql(dialect: super::filter_sql::Dialect) -> String {
    format!(
        "SELECT DISTINCT m.member_id FROM group_members m
         JOIN groups g ON g.account_id = m.account_id AND g.id = m.group_id
         WHERE m.account_id = ?1 AND {} AND g.idp_managed",
        dialect.in_set("m.member_id", 2)
    )
}

/// Of `users`, those that are members of an IdP-managed group.
pub async fn in_idp_managed_groups(
    db: &mut DbConn<'_>,
    account: Uuid,
    users: &[Uuid],
) -> StoreResult<Vec<Uuid>> {
    let sql = in_idp_managed_groups_sql(db.dialect());
    let rows = db.fetch_all(&sql, &params![account, users]).await?;
    rows.iter().map(|r| r.uuid("member_id")).collect()
}

/// What SQLite names a violated displayName key of groups: both keys (one per side, partial
/// indexes) have the same columns, so its message cannot tell them apart
/// (`sqlite::constraint_name`).
pub const DISPLAY_NAME_KEYS: &str = "groups_idp_display_name_key|groups_native_display_name_key";

/// Names the displayName key a statement violated by the side (`idp_managed`) it wrote the
/// group on. Postgres names the key itself: there this changes nothing.
pub fn display_name_key(err: StoreError, idp_managed: bool) -> StoreError {
    match err {
        StoreError::Unique(name) if name == DISPLAY_NAME_KEYS => StoreError::Unique(
            if idp_managed {
                "groups_idp_display_name_key"
            } else {
                "groups_native_display_name_key"
            }
            .to_string(),
        ),
        other => other,
    }
}

/// `?1` the account, `?2` the time: makes every IdP-managed user or group native (R7).
pub fn release_idp_managed_sql(kind: ResourceKind) -> String {
    format!(
        "UPDATE {} SET idp_managed = FALSE, last_modified = COALESCE(?2, CURRENT_TIMESTAMP), version = version + 1
         WHERE account_id = ?1 AND idp_managed = TRUE",
        common::table(kind)
    )
}

/// R7: the account's IdP-managed users or groups become native; how many.
pub async fn release_idp_managed(db: &mut DbConn<'_>, kind: ResourceKind, account: Uuid) -> StoreResult<u64> {
    let now = db.now();
    db.execute(&release_idp_managed_sql(kind), &params![account, now])
        .await
        .map_err(|e| display_name_key(e, false))
}

/// Marks the native resource IdP-managed with `source` (R4's adoption); false when it was not
/// native.
pub async fn claim(
    db: &mut DbConn<'_>,
    kind: ResourceKind,
    account: Uuid,
    id: Uuid,
    source: &str,
) -> StoreResult<bool> {
    let changed = db
        .execute(&common::claim_resource(kind), &params![account, id, source])
        .await
        .map_err(|e| display_name_key(e, true))?;
    Ok(changed > 0)
}
