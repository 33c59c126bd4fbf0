-- The web console (docs/console.md). A session is a row, so every replica sees a sign-in and a
-- sign-out at once; the browser holds only a random secret, of which the row keeps the SHA-256
-- (256 random bits: a fast hash loses nothing). A session signed in with an admin token names
-- it, and each request checks that token as an API request would, so revoking it ends the
-- session. Setup links are single-use codes an operator hands to a customer's IT admin; only
-- their SHA-256 is kept, and using one marks it used in the same statement that finds it.
CREATE TABLE console_sessions (
    id_sha256     bytea       PRIMARY KEY,
    account_id    uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_id      uuid,
    setup_link_id uuid,
    csrf          text        NOT NULL,
    created_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    CHECK ((token_id IS NULL) <> (setup_link_id IS NULL))
);
CREATE INDEX console_sessions_account_idx ON console_sessions (account_id, expires_at);

CREATE TABLE console_setup_links (
    account_id  uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    code_sha256 bytea       NOT NULL,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    PRIMARY KEY (account_id, id)
);
CREATE UNIQUE INDEX console_setup_links_code_idx ON console_setup_links (code_sha256);

-- Audited changes per account, UTC day and provisioning source (the IdP of a SCIM token, else
-- `manual`): what the console's activity chart draws, without counting the audit log. Written
-- in the statement that writes the audit event; spread over 16 rows per day and source, like
-- resource_counts, so concurrent writers rarely wait on one row. Filled from the log once here.
CREATE TABLE audit_activity (
    account_id uuid     NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    day        date     NOT NULL,
    source     text     NOT NULL,
    shard      smallint NOT NULL,
    n          bigint   NOT NULL,
    PRIMARY KEY (account_id, day, source, shard)
);
INSERT INTO audit_activity (account_id, day, source, shard, n)
SELECT account_id, (at AT TIME ZONE 'UTC')::date,
       CASE WHEN actor_kind = 'scim' THEN COALESCE(actor_idp, 'scim') ELSE 'manual' END, 0, count(*)
FROM audit_events GROUP BY 1, 2, 3;
