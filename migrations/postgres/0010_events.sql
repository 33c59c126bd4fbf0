-- The change feed (docs/events.md): one row per typed event, written by the transaction of
-- the change it reports, beside that change's audit event (`audit_id`), whose documents are
-- the state the event carries. An event row holds only what identifies and types it, so a
-- membership change of 5,000 users writes 5,000 small rows and no document.
--
-- `id` is the insertion order; `seq` is the feed's order, assigned after commit. A number taken
-- at insertion would not do: a transaction that took a lower one may commit after one that took
-- a higher one, and a reader that had passed the higher number would never see it (the outbox
-- gap). So rows are written with `seq` NULL, and a sequencer (store/events.rs) numbers the
-- committed ones, in insertion order, one sequencer at a time (the row of `event_sequence` is
-- its lock): a number once visible is never followed by a lower one.
CREATE TABLE events (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seq           bigint,
    account_id    uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    audit_id      uuid        NOT NULL,
    type          text        NOT NULL,
    resource_type text        NOT NULL,
    resource_id   text,
    external_id   text,
    member_id     uuid,
    changed       text,
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_feed_idx ON events (account_id, seq);
-- The rows the sequencer has yet to number: few, and gone from the index once numbered.
CREATE INDEX events_unsequenced_idx ON events (id) WHERE seq IS NULL;
CREATE INDEX events_at_idx ON events (at);

CREATE TABLE event_sequence (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    last bigint  NOT NULL
);
INSERT INTO event_sequence (one, last) VALUES (true, 0);

-- The highest `seq` of the account's events removed by retention: a cursor before it may have
-- missed events, and is answered 410.
ALTER TABLE accounts ADD COLUMN events_pruned_through bigint NOT NULL DEFAULT 0;
