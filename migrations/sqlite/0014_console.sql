-- The twin of migrations/postgres/0014_console.sql: web-console sessions and setup links.
CREATE TABLE console_sessions (
    id_sha256     BLOB NOT NULL PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_id      TEXT,
    setup_link_id TEXT,
    csrf          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    CHECK ((token_id IS NULL) <> (setup_link_id IS NULL))
) WITHOUT ROWID;
CREATE INDEX console_sessions_account_idx ON console_sessions (account_id, expires_at);

CREATE TABLE console_setup_links (
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    code_sha256 BLOB NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    PRIMARY KEY (account_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX console_setup_links_code_idx ON console_setup_links (code_sha256);

-- Audited changes per account, UTC day and source, for the console's chart (see the Postgres
-- twin). SQLite has one writer, so one row per day and source (shard 0).
CREATE TABLE audit_activity (
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    day        TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    shard      INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (account_id, day, source, shard)
) WITHOUT ROWID;
INSERT INTO audit_activity (account_id, day, source, shard, n)
SELECT account_id, substr(at, 1, 10),
       CASE WHEN actor_kind = 'scim' THEN COALESCE(actor_idp, 'scim') ELSE 'manual' END, 0, count(*)
FROM audit_events GROUP BY 1, 2, 3;
