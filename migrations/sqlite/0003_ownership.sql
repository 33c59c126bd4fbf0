-- The twin of migrations/postgres/0003_ownership.sql: ownership rules R1–R10 (SPEC §3),
-- account profile settings, group identifiers, primary-email lookups for adoption, role
-- bindings and the audit log. Same columns, keys and index names; types kept as in 0001
-- (ids and times as TEXT, booleans 0/1, arrays and jsonb as JSON TEXT). Non-unique lookup
-- indexes end with `id` (see 0001), so a match comes out in list order.

-- R6/R7/R8: the account profile. NULL token_ttl_seconds means "the server's token_ttl".
-- reserved_group_names is Postgres's text[]: a JSON array of strings.
ALTER TABLE accounts ADD COLUMN update_emails_via_scim BOOLEAN NOT NULL DEFAULT 0
    CHECK (update_emails_via_scim IN (0, 1));
ALTER TABLE accounts ADD COLUMN group_name_conflict TEXT NOT NULL DEFAULT 'link'
    CHECK (group_name_conflict IN ('link', 'keep_both'));
ALTER TABLE accounts ADD COLUMN reserved_group_names TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(reserved_group_names) AND json_type(reserved_group_names) = 'array');
ALTER TABLE accounts ADD COLUMN max_group_name_length INTEGER CHECK (max_group_name_length > 0);
ALTER TABLE accounts ADD COLUMN token_ttl_seconds INTEGER CHECK (token_ttl_seconds > 0);

-- R4: adoption matches a POST /Users on userName or primary email, case-insensitively. The
-- column holds the Unicode lower case computed in Rust (like user_name_ci). Existing rows are
-- backfilled from the primary `emails` row of user_values (the marked one, else the first
-- non-empty one); its value_ci is that same Rust lower case (SQLite's lower() folds ASCII only).
ALTER TABLE users ADD COLUMN primary_email_ci TEXT;
UPDATE users SET primary_email_ci = (
    SELECT v.value_ci FROM user_values v
    WHERE v.account_id = users.account_id AND v.user_id = users.id
      AND v.attr = 'emails' AND v.value <> ''
    ORDER BY v.is_primary DESC, v.ord
    LIMIT 1
);
CREATE INDEX users_primary_email_ci_idx ON users (account_id, primary_email_ci, id);

-- R9: the admin API lists and filters by provisioning source and by IdP management.
CREATE INDEX users_source_idx ON users (account_id, source, id);
CREATE INDEX users_idp_managed_idx ON users (account_id, idp_managed, id);
CREATE INDEX groups_source_idx ON groups (account_id, source, id);
CREATE INDEX groups_idp_managed_idx ON groups (account_id, idp_managed, id);

-- R1: the group identifier, made from displayName at creation and never changed. Existing
-- groups get theirs here: the sanitised name, with _2, _3… in creation order on a clash.
ALTER TABLE groups ADD COLUMN identifier TEXT;
WITH base AS (
    SELECT account_id, id, replace(replace(replace(display_name, '.', '_'), '-', '_'), ' ', '_') AS b,
           row_number() OVER (
               PARTITION BY account_id, replace(replace(replace(display_name, '.', '_'), '-', '_'), ' ', '_')
               ORDER BY created_at, id) AS n
    FROM groups
)
UPDATE groups SET identifier = CASE WHEN base.n = 1 THEN base.b ELSE base.b || '_' || base.n END
FROM base WHERE base.account_id = groups.account_id AND base.id = groups.id;
-- A suffixed identifier can still meet a name that was literally `x_2`: make those unique
-- with part of the id.
WITH clash AS (
    SELECT account_id, id,
           row_number() OVER (PARTITION BY account_id, identifier ORDER BY created_at, id) AS n
    FROM groups
)
UPDATE groups SET identifier = groups.identifier || '_' || substr(replace(groups.id, '-', ''), 1, 8)
FROM clash WHERE clash.account_id = groups.account_id AND clash.id = groups.id AND clash.n > 1;
-- Postgres makes the column NOT NULL here. SQLite cannot add NOT NULL to an existing column
-- without rebuilding the table (which group_members' and role_bindings' foreign keys make
-- unsafe inside a migration), so these triggers refuse a NULL identifier instead.
CREATE TRIGGER groups_identifier_not_null_insert BEFORE INSERT ON groups
    WHEN NEW.identifier IS NULL
BEGIN
    SELECT RAISE(ABORT, 'NOT NULL constraint failed: groups.identifier');
END;
CREATE TRIGGER groups_identifier_not_null_update BEFORE UPDATE OF identifier ON groups
    WHEN NEW.identifier IS NULL
BEGIN
    SELECT RAISE(ABORT, 'NOT NULL constraint failed: groups.identifier');
END;
CREATE UNIQUE INDEX groups_identifier_key ON groups (account_id, identifier);
-- Postgres needs text_pattern_ops for the suffix search; SQLite compares by code point and
-- searches `identifier = 'x' OR identifier in ['x_', 'x`')` as ranges of either index. The
-- name is kept so the schemas read the same.
CREATE INDEX groups_identifier_pattern_idx ON groups (account_id, identifier, id);

-- R4 keep_both: a native group and an IdP-managed group may share a displayName (seeds 000,
-- 001, 003: "Harness will maintain both groups"); two IdP-managed groups may not (IdPs match
-- on the name), nor two native ones.
DROP INDEX groups_display_name_key;
CREATE UNIQUE INDEX groups_idp_display_name_key ON groups (account_id, display_name) WHERE idp_managed;
CREATE UNIQUE INDEX groups_native_display_name_key ON groups (account_id, display_name) WHERE NOT idp_managed;
CREATE INDEX groups_display_name_idx ON groups (account_id, display_name, id);

-- Role bindings (SPEC §2): owned by the application, never touched by SCIM. They follow the
-- group row, whose identifier never changes (R1), so a rename by the IdP keeps them.
CREATE TABLE role_bindings (
    account_id     TEXT NOT NULL,
    id             TEXT NOT NULL,
    group_id       TEXT NOT NULL,
    role           TEXT NOT NULL,
    resource_group TEXT NOT NULL,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'),
    PRIMARY KEY (account_id, id),
    FOREIGN KEY (account_id, group_id) REFERENCES groups (account_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE UNIQUE INDEX role_bindings_key ON role_bindings (account_id, group_id, role, resource_group);

-- The audit log: every change by every surface, written in the transaction of the change.
-- `delta` holds what changed in large sets (members added/removed), never the whole set.
-- A rowid table: its rows carry whole documents, too wide for WITHOUT ROWID.
CREATE TABLE audit_events (
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id             TEXT NOT NULL, -- UUIDv7: id order is time order
    at             TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'),
    actor_kind     TEXT NOT NULL CHECK (actor_kind IN ('scim', 'admin', 'operator')),
    actor_token_id TEXT,
    actor_idp      TEXT,
    actor_name     TEXT,
    action         TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_id    TEXT,
    before         TEXT,
    after          TEXT,
    delta          TEXT,
    PRIMARY KEY (account_id, id)
);
CREATE INDEX audit_events_resource_idx ON audit_events (account_id, resource_type, resource_id, id);
