//! Group membership, set-based: adding one member to a group of 100,000 reads and writes one
//! row, never the member list. Written once for both databases (`store/db.rs`); a set of ids
//! is one bound parameter, read through the dialect's `ids_table`/`in_set`.

use uuid::Uuid;

use super::db::{DbConn, params};
use super::filter_sql::Dialect;
use super::{GroupRef, MemberRef, Origin, StoreResult};

/// Of `ids`, those that are not users of the account.
pub async fn missing_users(db: &mut DbConn<'_>, account: Uuid, ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
    let sql = format!(
        "SELECT x.value AS id FROM {}
         WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.account_id = ?1 AND u.id = x.value)",
        db.dialect().ids_table(2, "x")
    );
    let rows = db.fetch_all(&sql, &params![account, ids]).await?;
    rows.iter().map(|r| r.uuid("id")).collect()
}

/// Adds the users to the group; the ids whose membership is new.
pub async fn add(
    db: &mut DbConn<'_>,
    account: Uuid,
    group: Uuid,
    ids: &[Uuid],
    origin: Origin,
) -> StoreResult<Vec<Uuid>> {
    // In key order, as a delete takes its rows: two transactions adding the same users to one
    // group side by side (`Tx::share_group`) then wait for each other in one order, never
    // in a cycle.
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    // `WHERE true` tells SQLite's parser that ON CONFLICT is the upsert clause, not a join
    // constraint of the SELECT. RETURNING reports only the rows inserted.
    let sql = format!(
        "INSERT INTO group_members (account_id, group_id, member_id, origin, created_at)
         SELECT ?1, ?2, x.value, ?4, COALESCE(?5, CURRENT_TIMESTAMP) FROM {} WHERE true
         ON CONFLICT DO NOTHING
         RETURNING member_id",
        db.dialect().ids_table(3, "x")
    );
    let now = db.now();
    let rows = db
        .fetch_all(
            &sql,
            &params![account, group, ids.as_slice(), origin.as_str(), now],
        )
        .await?;
    rows.iter().map(|r| r.uuid("member_id")).collect()
}

/// Removes the users from the group; the ids that were members.
pub async fn remove(db: &mut DbConn<'_>, account: Uuid, group: Uuid, ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
    let sql = format!(
        "DELETE FROM group_members WHERE account_id = ?1 AND group_id = ?2 AND {}
         RETURNING member_id",
        db.dialect().in_set("member_id", 3)
    );
    let rows = db.fetch_all(&sql, &params![account, group, ids]).await?;
    rows.iter().map(|r| r.uuid("member_id")).collect()
}

/// Removes every member not in `keep`; the ids removed.
pub async fn retain(
    db: &mut DbConn<'_>,
    account: Uuid,
    group: Uuid,
    keep: &[Uuid],
) -> StoreResult<Vec<Uuid>> {
    let sql = format!(
        "DELETE FROM group_members WHERE account_id = ?1 AND group_id = ?2 AND {}
         RETURNING member_id",
        db.dialect().not_in_set("member_id", 3)
    );
    let rows = db.fetch_all(&sql, &params![account, group, keep]).await?;
    rows.iter().map(|r| r.uuid("member_id")).collect()
}

/// The members of the groups, with their display names, by group then member.
pub async fn members_of(db: &mut DbConn<'_>, account: Uuid, groups: &[Uuid]) -> StoreResult<Vec<MemberRef>> {
    let sql = format!(
        "SELECT m.group_id, m.member_id, m.member_type, COALESCE(u.display_name, u.user_name) AS display
         FROM group_members m
         JOIN users u ON u.account_id = m.account_id AND u.id = m.member_id
         WHERE m.account_id = ?1 AND {}
         ORDER BY m.group_id, m.member_id",
        db.dialect().in_set("m.group_id", 2)
    );
    // A group of 5,000 members is 5,000 rows: one hand-off on SQLite (`DbConn::fetch_page`).
    let columns = ["group_id", "member_id", "member_type", "display"];
    let rows = db
        .fetch_page(
            &sql,
            &params![account, groups],
            &columns,
            &[],
            Some("b.group_id, b.member_id"),
            false,
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(MemberRef {
                group_id: r.uuid("group_id")?,
                member_id: r.uuid("member_id")?,
                member_type: r.text("member_type")?,
                display: r.opt_text("display")?,
            })
        })
        .collect()
}

/// The statement of [`groups_of`]: placeholder 1 is the account, 2 the users.
pub(super) fn groups_of_sql(dialect: Dialect) -> String {
    match dialect {
        // One probe of the member index per user, and one of the groups' key per membership,
        // whatever the statistics say: each step is a LATERAL subquery behind `OFFSET 0`,
        // which the planner cannot fold into a join, and each is an equality on every column
        // of its index. As a plain join, the generic plan a prepared statement settles on
        // (made from statistics that lag a bulk load) walked all of a large group's members
        // to find one user's groups — 0.9 ms a lookup instead of 0.03 at 5,000 members, and
        // growing with the group (docs/benchmarks.md, "The `userName eq` lookup").
        Dialect::Postgres => "SELECT w.id AS member_id, g.id, g.display_name, g.idp_managed
             FROM unnest(CAST(?2 AS uuid[])) AS w(id)
             CROSS JOIN LATERAL (
                 SELECT m.group_id FROM group_members m
                 WHERE m.account_id = ?1 AND m.member_id = w.id OFFSET 0) m
             CROSS JOIN LATERAL (
                 SELECT g.id, g.display_name, g.idp_managed FROM groups g
                 WHERE g.account_id = ?1 AND g.id = m.group_id OFFSET 0) g
             ORDER BY g.display_name, g.id"
            .to_string(),
        // SQLite plans each statement when it prepares it, from the values' own index probes.
        Dialect::Sqlite => format!(
            "SELECT m.member_id, g.id, g.display_name, g.idp_managed
             FROM group_members m
             JOIN groups g ON g.account_id = m.account_id AND g.id = m.group_id
             WHERE m.account_id = ?1 AND {}
             ORDER BY g.display_name, g.id",
            dialect.in_set("m.member_id", 2)
        ),
    }
}

/// The groups of the users, by group name.
pub async fn groups_of(db: &mut DbConn<'_>, account: Uuid, users: &[Uuid]) -> StoreResult<Vec<GroupRef>> {
    let sql = groups_of_sql(db.dialect());
    // A page's users have a row per membership: one hand-off on SQLite (`DbConn::fetch_page`).
    let columns = ["member_id", "id", "display_name", "idp_managed"];
    let rows = db
        .fetch_page(
            &sql,
            &params![account, users],
            &columns,
            &[],
            Some("b.display_name, b.id"),
            false,
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(GroupRef {
                user_id: r.uuid("member_id")?,
                group_id: r.uuid("id")?,
                display_name: r.text("display_name")?,
                idp_managed: r.bool("idp_managed")?,
            })
        })
        .collect()
}
