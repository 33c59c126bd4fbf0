-- The twin of migrations/postgres/0012_webhooks.sql: webhook endpoints and their delivery log.
CREATE TABLE webhook_endpoints (
    account_id      TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id              TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    types           TEXT,
    secret          TEXT    NOT NULL,
    description     TEXT,
    enabled         BOOLEAN NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    disabled_reason TEXT,
    created_at      TEXT    NOT NULL,
    position        INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    failing_since   TEXT,
    lease_owner     TEXT,
    lease_until     TEXT,
    PRIMARY KEY (account_id, id)
) WITHOUT ROWID;
CREATE INDEX webhook_endpoints_due_idx ON webhook_endpoints (next_attempt_at) WHERE enabled;

CREATE TABLE webhook_deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  TEXT    NOT NULL,
    endpoint_id TEXT    NOT NULL,
    event_seq   INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    status      INTEGER,
    error       TEXT,
    latency_ms  INTEGER NOT NULL,
    at          TEXT    NOT NULL,
    FOREIGN KEY (account_id, endpoint_id) REFERENCES webhook_endpoints (account_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (account_id, endpoint_id, id);
CREATE INDEX webhook_deliveries_at_idx ON webhook_deliveries (at);
