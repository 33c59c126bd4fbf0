-- Ownership rules R1–R10 (SPEC §3): account profile settings, group identifiers, primary-email
-- lookups for adoption, role bindings and the audit log. Every key and index leads with
-- account_id (SPEC §5).

-- R6/R7/R8: the account profile. NULL token_ttl_seconds means "the server's token_ttl".
ALTER TABLE accounts
    ADD COLUMN update_emails_via_scim boolean NOT NULL DEFAULT false,
    ADD COLUMN group_name_conflict    text    NOT NULL DEFAULT 'link'
        CHECK (group_name_conflict IN ('link', 'keep_both')),
    ADD COLUMN reserved_group_names   text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN max_group_name_length  integer CHECK (max_group_name_length > 0),
    ADD COLUMN token_ttl_seconds      bigint  CHECK (token_ttl_seconds > 0);

-- R4: adoption matches a POST /Users on userName or primary email, case-insensitively. The
-- column holds the Unicode lower case computed in Rust (like user_name_ci); existing rows are
-- backfilled here with the database's lower(), which agrees for every address an IdP sends.
ALTER TABLE users ADD COLUMN primary_email_ci text;
UPDATE users u SET primary_email_ci = lower(e.value)
FROM (
    SELECT DISTINCT ON (account_id, user_id) account_id, user_id, value
    FROM user_values
    WHERE attr = 'emails' AND value <> ''
    ORDER BY account_id, user_id, is_primary DESC, ord
) e
WHERE e.account_id = u.account_id AND e.user_id = u.id;
CREATE INDEX users_primary_email_ci_idx ON users (account_id, primary_email_ci);

-- R9: the admin API lists and filters by provisioning source and by IdP management.
CREATE INDEX users_source_idx ON users (account_id, source, id);
CREATE INDEX users_idp_managed_idx ON users (account_id, idp_managed, id);
CREATE INDEX groups_source_idx ON groups (account_id, source, id);
CREATE INDEX groups_idp_managed_idx ON groups (account_id, idp_managed, id);

-- R1: the group identifier, made from displayName at creation and never changed. Existing
-- groups get theirs here: the sanitised name, with _2, _3… in creation order on a clash.
ALTER TABLE groups ADD COLUMN identifier text;
WITH base AS (
    SELECT account_id, id, regexp_replace(display_name, '[.\- ]', '_', 'g') AS b,
           row_number() OVER (PARTITION BY account_id, regexp_replace(display_name, '[.\- ]', '_', 'g')
                              ORDER BY created_at, id) AS n
    FROM groups
)
UPDATE groups g SET identifier = CASE WHEN base.n = 1 THEN base.b ELSE base.b || '_' || base.n END
FROM base WHERE base.account_id = g.account_id AND base.id = g.id;
-- A suffixed identifier can still meet a name that was literally `x_2`: make those unique
-- with part of the id.
WITH clash AS (
    SELECT account_id, id,
           row_number() OVER (PARTITION BY account_id, identifier ORDER BY created_at, id) AS n
    FROM groups
)
UPDATE groups g SET identifier = g.identifier || '_' || left(replace(g.id::text, '-', ''), 8)
FROM clash WHERE clash.account_id = g.account_id AND clash.id = g.id AND clash.n > 1;
ALTER TABLE groups ALTER COLUMN identifier SET NOT NULL;
CREATE UNIQUE INDEX groups_identifier_key ON groups (account_id, identifier);
-- The suffix search (`identifier = 'x' OR identifier LIKE 'x\_%'`) whatever the collation.
CREATE INDEX groups_identifier_pattern_idx ON groups (account_id, identifier text_pattern_ops);

-- R4 keep_both: a native group and an IdP-managed group may share a displayName (seeds 000,
-- 001, 003: "Harness will maintain both groups"); two IdP-managed groups may not (IdPs match
-- on the name), nor two native ones.
DROP INDEX groups_display_name_key;
CREATE UNIQUE INDEX groups_idp_display_name_key ON groups (account_id, display_name) WHERE idp_managed;
CREATE UNIQUE INDEX groups_native_display_name_key ON groups (account_id, display_name) WHERE NOT idp_managed;
CREATE INDEX groups_display_name_idx ON groups (account_id, display_name);

-- Role bindings (SPEC §2): owned by the application, never touched by SCIM. They follow the
-- group row, whose identifier never changes (R1), so a rename by the IdP keeps them.
CREATE TABLE role_bindings (
    account_id     uuid        NOT NULL,
    id             uuid        NOT NULL,
    group_id       uuid        NOT NULL,
    role           text        NOT NULL,
    resource_group text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, id),
    FOREIGN KEY (account_id, group_id) REFERENCES groups (account_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX role_bindings_key ON role_bindings (account_id, group_id, role, resource_group);

-- The audit log: every change by every surface, written in the transaction of the change.
-- `delta` holds what changed in large sets (members added/removed), never the whole set.
CREATE TABLE audit_events (
    account_id     uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id             uuid        NOT NULL, -- UUIDv7: id order is time order
    at             timestamptz NOT NULL DEFAULT now(),
    actor_kind     text        NOT NULL CHECK (actor_kind IN ('scim', 'admin', 'operator')),
    actor_token_id uuid,
    actor_idp      text,
    actor_name     text,
    action         text        NOT NULL,
    resource_type  text        NOT NULL,
    resource_id    text,
    before         jsonb,
    after          jsonb,
    delta          jsonb,
    PRIMARY KEY (account_id, id)
);
CREATE INDEX audit_events_resource_idx ON audit_events (account_id, resource_type, resource_id, id);
