-- Postgres's 0015 lets concurrent writers take counter rows (resource_counts, audit_activity)
-- that no other transaction holds. SQLite has one writer at a time, so one row per account (and
-- per day and source) serves it as before. Kept so both stores share their version numbers.
SELECT 1;
