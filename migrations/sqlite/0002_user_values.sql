-- The twin of migrations/postgres/0002_user_values.sql.
--
-- user_values now holds every user attribute without a column of its own (name.givenName,
-- title, enterprise employeeNumber, addresses.locality, emails.display, …; see
-- src/store/derived.rs), not only the value/type/primary of multi-valued ones.
--
-- The rows are derived in Rust, so they cannot be rebuilt here: `store_meta` records which
-- derivation the rows follow, and the store rebuilds them at start-up when the code's is newer
-- (SqliteStore::migrate), whatever the schema version it starts from.
CREATE TABLE store_meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO store_meta (key, value) VALUES ('user_values_version', '1');

-- caseExact attributes compare the value as written.
CREATE INDEX user_values_value_idx ON user_values (account_id, attr, value);
-- Postgres needs text_pattern_ops for `sw`; here every text column compares by code point
-- (BINARY), so a plain index serves `eq` and the range `sw` is translated to. The name is
-- kept so plans read the same on both stores.
CREATE INDEX user_values_value_ci_pattern_idx ON user_values (account_id, attr, value_ci);
DROP INDEX user_values_value_ci_idx;
