-- Comparison keys (the *_ci columns, computed in Rust by src/scim/compare.rs), external ids and
-- the case-exact values of user_values are compared as code points, whatever collation the
-- database was created with: under a linguistic collation (or even C.UTF-8) a btree index on
-- them cannot answer `sw` (a prefix), so `userName sw "ann"` read every user of the account.
-- Collation "C" orders by bytes, which for UTF-8 is code point order: one plain index then
-- serves `eq`, sorting, and `sw` as a range (src/store/filter_sql.rs), the same order SQLite's
-- BINARY collation gives. Changing a column's collation does not rewrite the table; the indexes
-- on it are rebuilt.
DROP INDEX user_values_value_ci_pattern_idx;
ALTER TABLE users
    ALTER COLUMN user_name_ci TYPE text COLLATE "C",
    ALTER COLUMN display_name_ci TYPE text COLLATE "C",
    ALTER COLUMN primary_email_ci TYPE text COLLATE "C",
    ALTER COLUMN external_id TYPE text COLLATE "C";
ALTER TABLE groups
    ALTER COLUMN display_name_ci TYPE text COLLATE "C",
    ALTER COLUMN external_id TYPE text COLLATE "C";
ALTER TABLE user_values
    ALTER COLUMN value TYPE text COLLATE "C",
    ALTER COLUMN value_ci TYPE text COLLATE "C",
    ALTER COLUMN type_ci TYPE text COLLATE "C";
CREATE INDEX user_values_value_ci_idx ON user_values (account_id, attr, value_ci);
