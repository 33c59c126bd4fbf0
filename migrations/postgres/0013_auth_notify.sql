-- Token checks are cached per process (docs/scaling.md, "Tokens"). Whatever changes what a
-- cached check relied on — a token revoked, rotated, re-keyed or deleted; an account's SCIM
-- switched off, its schemas changed, or the account deleted — tells every process at its
-- commit, whoever wrote it: scimd, its CLI, another replica, or an operator's own SQL.
-- Statement-level and with an empty payload: Postgres folds identical notifications of one
-- transaction into one, so revoking every token of an account sends one. The columns a
-- token's last use touches are not listed, so a request's bookkeeping never empties the caches.
CREATE FUNCTION scimd_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('scimd_auth', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER tokens_auth_changed
    AFTER UPDATE OF account_id, id, kind, idp, token_sha256, expires_at, revoked_at OR DELETE OR TRUNCATE
    ON tokens FOR EACH STATEMENT EXECUTE FUNCTION scimd_auth_changed();

CREATE TRIGGER accounts_auth_changed
    AFTER UPDATE OF id, scim_enabled, schema_version OR DELETE OR TRUNCATE
    ON accounts FOR EACH STATEMENT EXECUTE FUNCTION scimd_auth_changed();
