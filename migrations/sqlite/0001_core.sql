-- scimd core schema (SQLite): the twin of migrations/postgres/0001_core.sql, with the same
-- tables, constraints and index names, every key leading with account_id.
--
-- How Postgres types are kept here (the store binds and reads them this way, see
-- src/store/sqlite.rs):
--   uuid        TEXT, lower-case hyphenated: text order is id order, as in Postgres
--   timestamptz TEXT, UTC with exactly six fractional digits ('2026-01-02T03:04:05.123456Z'):
--               fixed width, so text order is time order
--   boolean     INTEGER 0/1
--   jsonb       TEXT (JSON)
--   bytea       BLOB
-- Narrow tables whose primary key is the only way in are WITHOUT ROWID (the key is the
-- table, as Postgres would keep it in one index).
--
-- The non-unique lookup indexes end with `id`: lists are in id order, and without statistics
-- SQLite's planner would rather walk the primary key in that order and test every row of the
-- account than look up `externalId eq "x"` and sort. Ending with id, the index gives both.

CREATE TABLE accounts (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    scim_enabled BOOLEAN NOT NULL DEFAULT 1 CHECK (scim_enabled IN (0, 1)),
    created_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
);

-- The JWT signing secret, generated once by the first process that needs it, so restarts and
-- replicas agree. Ignored when a key is given in configuration.
CREATE TABLE signing_keys (
    id         TEXT NOT NULL PRIMARY KEY,
    secret     BLOB NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
) WITHOUT ROWID;

CREATE TABLE tokens (
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('scim', 'admin')),
    idp          TEXT CHECK (idp IN ('okta', 'entra', 'onelogin', 'other')),
    description  TEXT,
    -- SHA-256 of the whole token: the token itself is never stored.
    token_sha256 BLOB NOT NULL,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'),
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT,
    last_used_at TEXT,
    PRIMARY KEY (account_id, id)
) WITHOUT ROWID;

CREATE TABLE users (
    account_id      TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id              TEXT    NOT NULL,
    -- Indexed projections of `doc`, written by the store on every write. The *_ci columns hold
    -- the Unicode lower-case form computed in Rust, so case-insensitive matching is identical
    -- on every database.
    user_name       TEXT    NOT NULL,
    user_name_ci    TEXT    NOT NULL,
    external_id     TEXT,
    display_name    TEXT,
    display_name_ci TEXT,
    active          BOOLEAN NOT NULL CHECK (active IN (0, 1)),
    -- The canonical SCIM document (see src/scim/resource.rs).
    doc             TEXT    NOT NULL,
    source          TEXT    NOT NULL,
    idp_managed     BOOLEAN NOT NULL CHECK (idp_managed IN (0, 1)),
    created_at      TEXT    NOT NULL,
    last_modified   TEXT    NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (account_id, id)
);
CREATE UNIQUE INDEX users_user_name_ci_key ON users (account_id, user_name_ci);
CREATE INDEX users_external_id_idx ON users (account_id, external_id, id);
CREATE INDEX users_display_name_ci_idx ON users (account_id, display_name_ci, id);

-- One row per element of a user's multi-valued attributes that has a `value` (emails,
-- phoneNumbers, ims, photos, entitlements, roles): what `emails.value eq "x"` and
-- `emails[type eq "work"].value eq "x"` are answered from.
CREATE TABLE user_values (
    account_id TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    attr       TEXT    NOT NULL,
    ord        INTEGER NOT NULL,
    value      TEXT    NOT NULL,
    value_ci   TEXT    NOT NULL,
    type_ci    TEXT,
    is_primary BOOLEAN NOT NULL DEFAULT 0 CHECK (is_primary IN (0, 1)),
    PRIMARY KEY (account_id, user_id, attr, ord),
    FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX user_values_value_ci_idx ON user_values (account_id, attr, value_ci);

CREATE TABLE groups (
    account_id      TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id              TEXT    NOT NULL,
    display_name    TEXT    NOT NULL,
    display_name_ci TEXT    NOT NULL,
    external_id     TEXT,
    doc             TEXT    NOT NULL,
    source          TEXT    NOT NULL,
    idp_managed     BOOLEAN NOT NULL CHECK (idp_managed IN (0, 1)),
    created_at      TEXT    NOT NULL,
    last_modified   TEXT    NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (account_id, id)
);
-- IdPs match groups on displayName (Entra requires it to be unique; Okta links on an exact
-- match), so two groups of one account never share a name.
CREATE UNIQUE INDEX groups_display_name_key ON groups (account_id, display_name);
CREATE INDEX groups_display_name_ci_idx ON groups (account_id, display_name_ci, id);
CREATE INDEX groups_external_id_idx ON groups (account_id, external_id, id);

-- Membership lives here, never inside the group document: adding or removing a member is one
-- row, whatever the size of the group.
CREATE TABLE group_members (
    account_id  TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    member_id   TEXT NOT NULL,
    member_type TEXT NOT NULL DEFAULT 'User' CHECK (member_type IN ('User')),
    -- The side that made the membership: 'idp' (SCIM) or 'native' (admin API).
    origin      TEXT NOT NULL CHECK (origin IN ('idp', 'native')),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'),
    PRIMARY KEY (account_id, group_id, member_id),
    FOREIGN KEY (account_id, group_id) REFERENCES groups (account_id, id) ON DELETE CASCADE,
    FOREIGN KEY (account_id, member_id) REFERENCES users (account_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX group_members_member_idx ON group_members (account_id, member_id);
