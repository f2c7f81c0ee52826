-- Preferences (one JSON document per user), the consent history of marketing/newsletter opt-ins, and the
-- lower-cased name columns that let the admin search find profiles by prefix through an index.
-- Numbered 0003 because 0002 belongs to addresses; nothing here depends on it.

CREATE TABLE preferences (
    user_id    TEXT        NOT NULL CONSTRAINT preferences_pkey PRIMARY KEY
                           CONSTRAINT preferences_user_id_fkey REFERENCES profiles (user_id) ON DELETE CASCADE,
    -- the resolved settings; the service validates the shape
    document   JSONB       NOT NULL,
    version    BIGINT      NOT NULL CONSTRAINT preferences_version_check CHECK (version >= 1),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE consent_records (
    -- UUIDv7: ordering by id is ordering by time
    id          UUID        NOT NULL CONSTRAINT consent_records_pkey PRIMARY KEY,
    user_id     TEXT        NOT NULL
                            CONSTRAINT consent_records_user_id_fkey REFERENCES profiles (user_id) ON DELETE CASCADE,
    channel     TEXT        NOT NULL
                            CONSTRAINT consent_records_channel_check CHECK (channel IN ('email', 'sms', 'push')),
    purpose     TEXT        NOT NULL
                            CONSTRAINT consent_records_purpose_check CHECK (purpose IN ('marketing', 'newsletter')),
    granted     BOOLEAN     NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    request_id  TEXT
);
CREATE INDEX consent_records_user_idx ON consent_records (user_id, id);

-- Lower-cased copies written by the service (Rust's Unicode lower-casing, the same on both databases).
-- COLLATE "C" makes comparison byte (= code point) order whatever the database's collation, so
-- `col >= $prefix AND col < $next_prefix` is exactly a prefix match and a plain btree index serves it.
ALTER TABLE profiles
    ADD COLUMN display_name_lower TEXT COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN first_name_lower   TEXT COLLATE "C",
    ADD COLUMN last_name_lower    TEXT COLLATE "C";
UPDATE profiles
   SET display_name_lower = lower(trim(display_name)),
       first_name_lower = lower(trim(first_name)),
       last_name_lower = lower(trim(last_name));

CREATE INDEX profiles_email_prefix_idx ON profiles (email_normalized COLLATE "C");
CREATE INDEX profiles_display_name_lower_idx ON profiles (display_name_lower);
CREATE INDEX profiles_first_name_lower_idx ON profiles (first_name_lower);
CREATE INDEX profiles_last_name_lower_idx ON profiles (last_name_lower);
CREATE INDEX profiles_status_idx ON profiles (status, user_id);
