-- Profiles, one per user (`sub` of the JWT), and the audit trail.
CREATE TABLE profiles (
    user_id          TEXT        NOT NULL CONSTRAINT profiles_pkey PRIMARY KEY,
    email            TEXT        NOT NULL,
    -- lower-cased email: uniqueness is case-insensitive
    email_normalized TEXT        NOT NULL,
    display_name     TEXT        NOT NULL,
    first_name       TEXT,
    last_name        TEXT,
    phone            TEXT,
    date_of_birth    DATE,
    locale           TEXT,
    timezone         TEXT,
    avatar_url       TEXT,
    status           TEXT        NOT NULL DEFAULT 'active'
                                 CONSTRAINT profiles_status_check CHECK (status IN ('active', 'suspended')),
    version          BIGINT      NOT NULL CONSTRAINT profiles_version_check CHECK (version >= 1),
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX profiles_email_key ON profiles (email_normalized);

-- Who did what to whom: ids, action names and field names only, never values.
CREATE TABLE audit_events (
    -- UUIDv7: ordering by id is ordering by time
    id             UUID        NOT NULL CONSTRAINT audit_events_pkey PRIMARY KEY,
    occurred_at    TIMESTAMPTZ NOT NULL,
    actor_id       TEXT        NOT NULL,
    actor_role     TEXT        NOT NULL,
    action         TEXT        NOT NULL,
    target_user_id TEXT        NOT NULL,
    request_id     TEXT,
    changed_fields JSONB       NOT NULL DEFAULT '[]'
);
CREATE INDEX audit_events_target_idx ON audit_events (target_user_id, id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, id);
CREATE INDEX audit_events_action_idx ON audit_events (action, id);
