-- The change feed (docs/events.md): one row per change event, written in the same transaction as the change it
-- describes. Ids, type names, numbers and field names only, never the value of a field.
CREATE TABLE outbox_events (
    -- insertion order; per user it is the order of `sequence` (a user's writes are serialized)
    seq            BIGSERIAL   NOT NULL CONSTRAINT outbox_events_pkey PRIMARY KEY,
    -- the feed's global order, assigned after commit by the sequencer (src/outbox), so that a reader never
    -- passes a position that a transaction still running could take; null until then
    position       BIGINT      CONSTRAINT outbox_events_position_key UNIQUE,
    id             UUID        NOT NULL CONSTRAINT outbox_events_id_key UNIQUE,
    type           TEXT        NOT NULL,
    user_id        TEXT        NOT NULL,
    resource_id    TEXT        NOT NULL,
    -- the resource's new `version` (profile, preferences) or `revision` (address)
    version        BIGINT,
    revision       BIGINT,
    -- per user, from 1, without gaps (event_sequences)
    sequence       BIGINT      NOT NULL,
    changed_fields JSONB       NOT NULL DEFAULT '[]',
    occurred_at    TIMESTAMPTZ NOT NULL,
    actor_role     TEXT        NOT NULL,
    request_id     TEXT
);
CREATE INDEX outbox_events_unpositioned_idx ON outbox_events (seq) WHERE position IS NULL;
CREATE INDEX outbox_events_user_idx ON outbox_events (user_id, position);

-- The last `sequence` given to each user's events; deleted at erasure, so a profile created again under the
-- same id starts a new sequence at 1 (after `profile.erased`, consumers forget the user, their sequence too).
CREATE TABLE event_sequences (
    user_id       TEXT   NOT NULL CONSTRAINT event_sequences_pkey PRIMARY KEY,
    last_sequence BIGINT NOT NULL
);

-- Positions in the feed: `sequenced` (the highest position assigned), `pruned` (the highest position deleted by
-- retention; an older cursor is expired) and `published` (the highest position the NATS relay had acknowledged),
-- with the relay's lease: one relaying instance at a time.
CREATE TABLE outbox_cursors (
    name        TEXT   NOT NULL CONSTRAINT outbox_cursors_pkey PRIMARY KEY,
    position    BIGINT NOT NULL,
    owner       TEXT,
    -- Unix milliseconds on the database's clock
    lease_until BIGINT
);
INSERT INTO outbox_cursors (name, position) VALUES ('sequenced', 0), ('pruned', 0), ('published', 0);
