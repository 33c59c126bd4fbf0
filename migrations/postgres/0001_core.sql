-- scimd core schema (Postgres).
-- Every primary key, unique constraint and index leads with account_id, so the schema can be
-- distributed by account (Citus) without a redesign. The `signing_keys` table is the one
-- global (reference) table.

CREATE TABLE accounts (
    id           uuid        PRIMARY KEY,
    name         text        NOT NULL,
    scim_enabled boolean     NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- The JWT signing secret, generated once by the first process that needs it, so restarts and
-- replicas agree. Ignored when a key is given in configuration.
CREATE TABLE signing_keys (
    id         text        PRIMARY KEY,
    secret     bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tokens (
    account_id   uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id           uuid        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('scim', 'admin')),
    idp          text        CHECK (idp IN ('okta', 'entra', 'onelogin', 'other')),
    description  text,
    -- SHA-256 of the whole token: the token itself is never stored.
    token_sha256 bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    PRIMARY KEY (account_id, id)
);

CREATE TABLE users (
    account_id      uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    -- Indexed projections of `doc`, written by the store on every write. The *_ci columns hold
    -- the Unicode lower-case form computed in Rust, so case-insensitive matching is identical
    -- on every database.
    user_name       text        NOT NULL,
    user_name_ci    text        NOT NULL,
    external_id     text,
    display_name    text,
    display_name_ci text,
    active          boolean     NOT NULL,
    -- The canonical SCIM document (see src/scim/resource.rs).
    doc             jsonb       NOT NULL,
    source          text        NOT NULL,
    idp_managed     boolean     NOT NULL,
    created_at      timestamptz NOT NULL,
    last_modified   timestamptz NOT NULL,
    version         bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (account_id, id)
);
CREATE UNIQUE INDEX users_user_name_ci_key ON users (account_id, user_name_ci);
CREATE INDEX users_external_id_idx ON users (account_id, external_id);
CREATE INDEX users_display_name_ci_idx ON users (account_id, display_name_ci);

-- One row per element of a user's multi-valued attributes that has a `value` (emails,
-- phoneNumbers, ims, photos, entitlements, roles): what `emails.value eq "x"` and
-- `emails[type eq "work"].value eq "x"` are answered from.
CREATE TABLE user_values (
    account_id uuid    NOT NULL,
    user_id    uuid    NOT NULL,
    attr       text    NOT NULL,
    ord        integer NOT NULL,
    value      text    NOT NULL,
    value_ci   text    NOT NULL,
    type_ci    text,
    is_primary boolean NOT NULL DEFAULT false,
    PRIMARY KEY (account_id, user_id, attr, ord),
    FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id) ON DELETE CASCADE
);
CREATE INDEX user_values_value_ci_idx ON user_values (account_id, attr, value_ci);

CREATE TABLE groups (
    account_id      uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    display_name    text        NOT NULL,
    display_name_ci text        NOT NULL,
    external_id     text,
    doc             jsonb       NOT NULL,
    source          text        NOT NULL,
    idp_managed     boolean     NOT NULL,
    created_at      timestamptz NOT NULL,
    last_modified   timestamptz NOT NULL,
    version         bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (account_id, id)
);
-- IdPs match groups on displayName (Entra requires it to be unique; Okta links on an exact
-- match), so two groups of one account never share a name.
CREATE UNIQUE INDEX groups_display_name_key ON groups (account_id, display_name);
CREATE INDEX groups_display_name_ci_idx ON groups (account_id, display_name_ci);
CREATE INDEX groups_external_id_idx ON groups (account_id, external_id);

-- Membership lives here, never inside the group document: adding or removing a member is one
-- row, whatever the size of the group.
CREATE TABLE group_members (
    account_id  uuid        NOT NULL,
    group_id    uuid        NOT NULL,
    member_id   uuid        NOT NULL,
    member_type text        NOT NULL DEFAULT 'User' CHECK (member_type IN ('User')),
    -- The side that made the membership: 'idp' (SCIM) or 'native' (admin API).
    origin      text        NOT NULL CHECK (origin IN ('idp', 'native')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, group_id, member_id),
    FOREIGN KEY (account_id, group_id) REFERENCES groups (account_id, id) ON DELETE CASCADE,
    FOREIGN KEY (account_id, member_id) REFERENCES users (account_id, id) ON DELETE CASCADE
);
CREATE INDEX group_members_member_idx ON group_members (account_id, member_id);
