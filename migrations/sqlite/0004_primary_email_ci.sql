-- The twin of migrations/postgres/0004_primary_email_ci.sql, which repairs primary_email_ci
-- values that Postgres's 0003 backfilled with an ASCII-only lower(). SQLite's 0003 took the
-- Rust lower case (user_values.value_ci) already, so this finds nothing to change here; it
-- runs the same repair so that both schemas mean the same after 0004.
UPDATE users SET primary_email_ci = (
    SELECT v.value_ci FROM user_values v
    WHERE v.account_id = users.account_id AND v.user_id = users.id
      AND v.attr = 'emails' AND v.value <> ''
    ORDER BY v.is_primary DESC, v.ord
    LIMIT 1
)
WHERE primary_email_ci = lower((
    SELECT v.value FROM user_values v
    WHERE v.account_id = users.account_id AND v.user_id = users.id
      AND v.attr = 'emails' AND v.value <> ''
    ORDER BY v.is_primary DESC, v.ord
    LIMIT 1
)) AND primary_email_ci <> (
    SELECT v.value_ci FROM user_values v
    WHERE v.account_id = users.account_id AND v.user_id = users.id
      AND v.attr = 'emails' AND v.value <> ''
    ORDER BY v.is_primary DESC, v.ord
    LIMIT 1
);
