-- The change feed (docs/events.md): one row per change event, written in the same transaction as the change it
-- describes. Ids, type names, numbers and field names only, never the value of a field.
CREATE TABLE outbox_events (
    -- the feed's global order: SQLite runs one write transaction at a time, so positions commit in order and
    -- are assigned at insert (AUTOINCREMENT never reuses a position, not even one whose events were pruned)
    position       INTEGER NOT NULL CONSTRAINT outbox_events_pkey PRIMARY KEY AUTOINCREMENT,
    id             BLOB    NOT NULL CONSTRAINT outbox_events_id_key UNIQUE,
    type           TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,
    resource_id    TEXT    NOT NULL,
    -- the resource's new `version` (profile, preferences) or `revision` (address)
    version        INTEGER,
    revision       INTEGER,
    -- per user, from 1, without gaps (event_sequences)
    sequence       INTEGER NOT NULL,
    changed_fields TEXT    NOT NULL DEFAULT '[]',
    occurred_at    TEXT    NOT NULL,
    actor_role     TEXT    NOT NULL,
    request_id     TEXT
);
CREATE INDEX outbox_events_user_idx ON outbox_events (user_id, position);

-- The last `sequence` given to each user's events; deleted at erasure, so a profile created again under the
-- same id starts a new sequence at 1 (after `profile.erased`, consumers forget the user, their sequence too).
CREATE TABLE event_sequences (
    user_id       TEXT    NOT NULL CONSTRAINT event_sequences_pkey PRIMARY KEY,
    last_sequence INTEGER NOT NULL
);

-- Positions in the feed: `sequenced` (unused on SQLite, where positions are assigned at insert), `pruned` (the
-- highest position deleted by retention; an older cursor is expired) and `published` (the highest position the
-- NATS relay had acknowledged), with the relay's lease: one relaying instance at a time.
CREATE TABLE outbox_cursors (
    name        TEXT    NOT NULL CONSTRAINT outbox_cursors_pkey PRIMARY KEY,
    position    INTEGER NOT NULL,
    owner       TEXT,
    -- Unix milliseconds on the database's clock
    lease_until INTEGER
);
INSERT INTO outbox_cursors (name, position) VALUES ('sequenced', 0), ('pruned', 0), ('published', 0);
