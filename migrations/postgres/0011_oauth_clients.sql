-- OAuth 2.0 client-credentials (RFC 6749 §4.4, docs/idp-setup.md): an account's admin registers
-- a client for an IdP; the IdP exchanges its id and secret at the account's token endpoint for a
-- short-lived SCIM token. The secret is never stored, only its SHA-256 (it is 256 random bits, so
-- a fast hash loses nothing). Access tokens are rows of `tokens` like any SCIM token, naming
-- their client, so revoking the client revokes them in the same statement's transaction and the
-- token check needs no change.
CREATE TABLE oauth_clients (
    account_id           uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id                   uuid        NOT NULL,
    idp                  text        NOT NULL CHECK (idp IN ('okta', 'entra', 'onelogin', 'other')),
    description          text,
    secret_sha256        bytea       NOT NULL,
    access_token_seconds bigint      NOT NULL CHECK (access_token_seconds BETWEEN 60 AND 86400),
    created_at           timestamptz NOT NULL DEFAULT now(),
    revoked_at           timestamptz,
    PRIMARY KEY (account_id, id)
);

ALTER TABLE tokens ADD COLUMN oauth_client_id uuid;
CREATE INDEX tokens_oauth_client_idx ON tokens (account_id, oauth_client_id)
    WHERE oauth_client_id IS NOT NULL;
