-- Addresses: the current state of each address, and an immutable snapshot per revision.
-- A deleted address keeps its row (deleted_at set) so that orders can still read its revisions;
-- erasing the profile removes both tables' rows (ON DELETE CASCADE through addresses).
CREATE TABLE addresses (
    -- UUIDv7: ordering by id is ordering by creation
    id                  BLOB    NOT NULL CONSTRAINT addresses_pkey PRIMARY KEY,
    user_id             TEXT    NOT NULL
                                CONSTRAINT addresses_user_id_fkey REFERENCES profiles (user_id) ON DELETE CASCADE,
    label               TEXT,
    recipient_name      TEXT    NOT NULL,
    company             TEXT,
    line1               TEXT    NOT NULL,
    line2               TEXT,
    city                TEXT    NOT NULL,
    region              TEXT,
    postal_code         TEXT    NOT NULL,
    country             TEXT    NOT NULL,
    phone               TEXT,
    is_default_shipping INTEGER NOT NULL DEFAULT 0
                                CONSTRAINT addresses_is_default_shipping_check CHECK (is_default_shipping IN (0, 1)),
    is_default_billing  INTEGER NOT NULL DEFAULT 0
                                CONSTRAINT addresses_is_default_billing_check CHECK (is_default_billing IN (0, 1)),
    revision            INTEGER NOT NULL CONSTRAINT addresses_revision_check CHECK (revision >= 1),
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    deleted_at          TEXT,
    -- a deleted address is nobody's default
    CONSTRAINT addresses_deleted_not_default_check
        CHECK (deleted_at IS NULL OR (is_default_shipping = 0 AND is_default_billing = 0))
);
CREATE INDEX addresses_user_idx ON addresses (user_id, id);
-- At most one default of each kind among a user's live addresses, whatever the requests race.
CREATE UNIQUE INDEX addresses_default_shipping_key ON addresses (user_id)
    WHERE is_default_shipping AND deleted_at IS NULL;
CREATE UNIQUE INDEX addresses_default_billing_key ON addresses (user_id)
    WHERE is_default_billing AND deleted_at IS NULL;

-- One row per revision of an address: every field as it was, never updated.
CREATE TABLE address_revisions (
    address_id          BLOB    NOT NULL
                                CONSTRAINT address_revisions_address_id_fkey REFERENCES addresses (id) ON DELETE CASCADE,
    revision            INTEGER NOT NULL CONSTRAINT address_revisions_revision_check CHECK (revision >= 1),
    user_id             TEXT    NOT NULL,
    label               TEXT,
    recipient_name      TEXT    NOT NULL,
    company             TEXT,
    line1               TEXT    NOT NULL,
    line2               TEXT,
    city                TEXT    NOT NULL,
    region              TEXT,
    postal_code         TEXT    NOT NULL,
    country             TEXT    NOT NULL,
    phone               TEXT,
    is_default_shipping INTEGER NOT NULL,
    is_default_billing  INTEGER NOT NULL,
    -- set only on the revision that deleted the address
    deleted_at          TEXT,
    -- when this revision was written (the address's updated_at at the time)
    created_at          TEXT    NOT NULL,
    CONSTRAINT address_revisions_pkey PRIMARY KEY (address_id, revision)
);
CREATE INDEX address_revisions_user_idx ON address_revisions (user_id);

CREATE TRIGGER address_revisions_immutable BEFORE UPDATE ON address_revisions
BEGIN
    SELECT RAISE(ABORT, 'address revisions are immutable');
END;
