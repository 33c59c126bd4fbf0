-- 0003 backfilled users.primary_email_ci with the database's lower(), which under collation C
-- (how scimd creates databases) folds ASCII only: an existing user with `ÜNÏ@X.org` got
-- `ÜnÏ@x.org`, so R4 adoption, which looks up the Unicode lower case computed in Rust,
-- missed it. user_values.value_ci holds that Rust lower case: take it for the rows 0003
-- backfilled (those still equal to lower() of their primary email and different from it).
UPDATE users u SET primary_email_ci = e.value_ci
FROM (
    SELECT DISTINCT ON (account_id, user_id) account_id, user_id, value, value_ci
    FROM user_values
    WHERE attr = 'emails' AND value <> ''
    ORDER BY account_id, user_id, is_primary DESC, ord
) e
WHERE e.account_id = u.account_id AND e.user_id = u.id
  AND u.primary_email_ci = lower(e.value) AND u.primary_email_ci <> e.value_ci;
