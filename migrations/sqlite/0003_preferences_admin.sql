-- Preferences (one JSON document per user), the consent history of marketing/newsletter opt-ins, and the
-- lower-cased name columns that let the admin search find profiles by prefix through an index.
-- Numbered 0003 because 0002 belongs to addresses; nothing here depends on it.

CREATE TABLE preferences (
    user_id    TEXT    NOT NULL CONSTRAINT preferences_pkey PRIMARY KEY
                       CONSTRAINT preferences_user_id_fkey REFERENCES profiles (user_id) ON DELETE CASCADE,
    -- the resolved settings as JSON; the service validates the shape
    document   TEXT    NOT NULL,
    version    INTEGER NOT NULL CONSTRAINT preferences_version_check CHECK (version >= 1),
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
);

CREATE TABLE consent_records (
    -- UUIDv7: ordering by id is ordering by time
    id          BLOB    NOT NULL CONSTRAINT consent_records_pkey PRIMARY KEY,
    user_id     TEXT    NOT NULL
                        CONSTRAINT consent_records_user_id_fkey REFERENCES profiles (user_id) ON DELETE CASCADE,
    channel     TEXT    NOT NULL CONSTRAINT consent_records_channel_check CHECK (channel IN ('email', 'sms', 'push')),
    purpose     TEXT    NOT NULL
                        CONSTRAINT consent_records_purpose_check CHECK (purpose IN ('marketing', 'newsletter')),
    granted     BOOLEAN NOT NULL,
    recorded_at TEXT    NOT NULL,
    request_id  TEXT
);
CREATE INDEX consent_records_user_idx ON consent_records (user_id, id);

-- Lower-cased copies written by the service (Rust's Unicode lower-casing, the same on both databases);
-- the backfill uses SQLite's lower(), which folds ASCII only, until the profile is next written.
ALTER TABLE profiles ADD COLUMN display_name_lower TEXT NOT NULL DEFAULT '';
ALTER TABLE profiles ADD COLUMN first_name_lower TEXT;
ALTER TABLE profiles ADD COLUMN last_name_lower TEXT;
UPDATE profiles
   SET display_name_lower = lower(trim(display_name)),
       first_name_lower = lower(trim(first_name)),
       last_name_lower = lower(trim(last_name));

-- Prefix search is a range condition on these columns (BINARY collation = code point order); the email prefix
-- uses the unique index on email_normalized.
CREATE INDEX profiles_display_name_lower_idx ON profiles (display_name_lower);
CREATE INDEX profiles_first_name_lower_idx ON profiles (first_name_lower);
CREATE INDEX profiles_last_name_lower_idx ON profiles (last_name_lower);
CREATE INDEX profiles_status_idx ON profiles (status, user_id);
