-- Postgres's 0013 adds triggers that notify every process when a cached token check goes
-- stale. SQLite has one serving process: it learns of its own changes at commit and of its
-- CLI's through the `<database>.auth` file beside the database (docs/scaling.md, "Tokens").
-- Kept so both stores share their version numbers.
SELECT 1;
