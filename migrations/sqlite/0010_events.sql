-- The twin of migrations/postgres/0010_events.sql: the change feed (docs/events.md).
--
-- Here one transaction writes at a time, so the order rows are inserted in is the order they
-- commit in, and `seq` is taken at insertion: AUTOINCREMENT never hands out a number again,
-- even after retention removed the highest rows. `audit_id` names the audit event whose
-- documents are the state the event carries.
CREATE TABLE events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    audit_id      TEXT NOT NULL,
    type          TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT,
    external_id   TEXT,
    member_id     TEXT,
    changed       TEXT,
    at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
);
CREATE INDEX events_feed_idx ON events (account_id, seq);
CREATE INDEX events_at_idx ON events (at);

ALTER TABLE accounts ADD COLUMN events_pruned_through INTEGER NOT NULL DEFAULT 0;
