-- Extension schemas declared per account (RFC 7643 §7): what /Schemas and /ResourceTypes
-- advertise for the account, what its resources are validated against, and what filters may
-- name. `doc` is the schema document as scimd normalised it when it was declared; `urn_ci` is
-- the URN in lower case (URNs compare case-insensitively), so one URN is declared once.
CREATE TABLE account_schemas (
    account_id    TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    urn_ci        TEXT    NOT NULL,
    urn           TEXT    NOT NULL,
    resource_type TEXT    NOT NULL CHECK (resource_type IN ('User', 'Group')),
    required      BOOLEAN NOT NULL DEFAULT 0 CHECK (required IN (0, 1)),
    doc           TEXT    NOT NULL CHECK (json_valid(doc)),
    created_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'),
    PRIMARY KEY (account_id, urn_ci)
) WITHOUT ROWID;

-- `undeclared_extensions`: what happens to data under an extension URN the account has not
-- declared: 'keep' stores it verbatim, 'refuse' answers 400 (docs/decisions.md).
-- `schema_version` grows with every change of the account's schemas or of that setting; the
-- token check reads it with the token, so every process learns of a change on the next request
-- and rebuilds its copy of the account's schemas then, never before.
ALTER TABLE accounts ADD COLUMN undeclared_extensions TEXT NOT NULL DEFAULT 'keep'
    CHECK (undeclared_extensions IN ('keep', 'refuse'));
ALTER TABLE accounts ADD COLUMN schema_version INTEGER NOT NULL DEFAULT 0;

-- The filter rows of groups' extension data, as user_values holds users' (store/derived.rs):
-- Group core attributes all have columns, so only an account's own extensions get rows here.
CREATE TABLE group_values (
    account_id TEXT    NOT NULL,
    group_id   TEXT    NOT NULL,
    attr       TEXT    NOT NULL,
    ord        INTEGER NOT NULL,
    value      TEXT    NOT NULL,
    value_ci   TEXT    NOT NULL,
    type_ci    TEXT,
    is_primary BOOLEAN NOT NULL DEFAULT 0 CHECK (is_primary IN (0, 1)),
    PRIMARY KEY (account_id, group_id, attr, ord),
    FOREIGN KEY (account_id, group_id) REFERENCES groups (account_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX group_values_value_idx ON group_values (account_id, attr, value);
CREATE INDEX group_values_value_ci_idx ON group_values (account_id, attr, value_ci);
