-- The twin of migrations/postgres/0011_oauth_clients.sql: OAuth 2.0 client-credentials.
CREATE TABLE oauth_clients (
    account_id           TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id                   TEXT    NOT NULL,
    idp                  TEXT    NOT NULL CHECK (idp IN ('okta', 'entra', 'onelogin', 'other')),
    description          TEXT,
    secret_sha256        BLOB    NOT NULL,
    access_token_seconds INTEGER NOT NULL CHECK (access_token_seconds BETWEEN 60 AND 86400),
    created_at           TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'),
    revoked_at           TEXT,
    PRIMARY KEY (account_id, id)
) WITHOUT ROWID;

ALTER TABLE tokens ADD COLUMN oauth_client_id TEXT;
CREATE INDEX tokens_oauth_client_idx ON tokens (account_id, oauth_client_id)
    WHERE oauth_client_id IS NOT NULL;
