-- How many users and groups each account holds, kept in the transaction of every insert and
-- delete, so that an unfiltered list's totalResults is a read of one row instead of a count(*)
-- over the account. Triggers keep it, so every path that writes users or groups (the API,
-- /Bulk, a restore) keeps it right without knowing of it. SQLite has one writer at a time, so
-- one row per account (shard 0) takes no contention; the shard column keeps the table the
-- same as Postgres's, where concurrent writers spread over 16 rows.
-- The guard on accounts: when an account is deleted its counters go with it (ON DELETE
-- CASCADE) and the cascaded deletes of its users must not recreate them.
CREATE TABLE resource_counts (
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    shard      INTEGER NOT NULL,
    users      INTEGER NOT NULL DEFAULT 0,
    groups     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, shard)
) WITHOUT ROWID;

CREATE TRIGGER users_counted_insert AFTER INSERT ON users
WHEN EXISTS (SELECT 1 FROM accounts WHERE id = NEW.account_id)
BEGIN
    INSERT INTO resource_counts (account_id, shard, users) VALUES (NEW.account_id, 0, 1)
    ON CONFLICT (account_id, shard) DO UPDATE SET users = users + 1;
END;
CREATE TRIGGER users_counted_delete AFTER DELETE ON users
WHEN EXISTS (SELECT 1 FROM accounts WHERE id = OLD.account_id)
BEGIN
    INSERT INTO resource_counts (account_id, shard, users) VALUES (OLD.account_id, 0, -1)
    ON CONFLICT (account_id, shard) DO UPDATE SET users = users - 1;
END;
CREATE TRIGGER groups_counted_insert AFTER INSERT ON groups
WHEN EXISTS (SELECT 1 FROM accounts WHERE id = NEW.account_id)
BEGIN
    INSERT INTO resource_counts (account_id, shard, groups) VALUES (NEW.account_id, 0, 1)
    ON CONFLICT (account_id, shard) DO UPDATE SET groups = groups + 1;
END;
CREATE TRIGGER groups_counted_delete AFTER DELETE ON groups
WHEN EXISTS (SELECT 1 FROM accounts WHERE id = OLD.account_id)
BEGIN
    INSERT INTO resource_counts (account_id, shard, groups) VALUES (OLD.account_id, 0, -1)
    ON CONFLICT (account_id, shard) DO UPDATE SET groups = groups - 1;
END;

INSERT INTO resource_counts (account_id, shard, users, groups)
SELECT a.id, 0,
       (SELECT count(*) FROM users u WHERE u.account_id = a.id),
       (SELECT count(*) FROM groups g WHERE g.account_id = a.id)
FROM accounts a;
