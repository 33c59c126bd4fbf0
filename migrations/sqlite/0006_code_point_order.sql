-- Postgres's 0006 moves its comparison keys, external ids and user_values onto collation "C"
-- (code point order). SQLite's BINARY collation has always compared them so: nothing to do
-- here; the migration keeps both databases at the same schema version (scimd copy checks it).
SELECT 1;
