-- user_values now holds every user attribute without a column of its own (name.givenName,
-- title, enterprise employeeNumber, addresses.locality, emails.display, …; see
-- src/store/derived.rs), not only the value/type/primary of multi-valued ones.
--
-- The rows are derived in Rust, so they cannot be rebuilt here: `store_meta` records which
-- derivation the rows follow, and the store rebuilds them at start-up when the code's is newer
-- (PgStore::migrate), whatever the schema version it starts from.
CREATE TABLE store_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO store_meta (key, value) VALUES ('user_values_version', '1');

-- caseExact attributes compare the value as written.
CREATE INDEX user_values_value_idx ON user_values (account_id, attr, value);
-- text_pattern_ops also serves `sw` (LIKE 'x%') whatever the database's collation; it serves
-- `eq` as well, so it replaces the plain index.
CREATE INDEX user_values_value_ci_pattern_idx ON user_values (account_id, attr, value_ci text_pattern_ops);
DROP INDEX user_values_value_ci_idx;
