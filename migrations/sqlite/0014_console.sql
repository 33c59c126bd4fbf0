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
