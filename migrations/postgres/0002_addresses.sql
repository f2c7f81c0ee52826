-- Addresses: the current state of each address, and an immutable snapshot per revision.
-- A deleted address keeps its row (deleted_at set) so that orders can still read its revisions;
-- erasing the profile removes both tables' rows (ON DELETE CASCADE through addresses).
CREATE TABLE addresses (
    -- UUIDv7: ordering by id is ordering by creation
    id                  UUID        NOT NULL CONSTRAINT addresses_pkey PRIMARY KEY,
    user_id             TEXT        NOT NULL
                                    CONSTRAINT addresses_user_id_fkey REFERENCES profiles (user_id) ON DELETE CASCADE,
    label               TEXT,
    recipient_name      TEXT        NOT NULL,
    company             TEXT,
    line1               TEXT        NOT NULL,
    line2               TEXT,
    city                TEXT        NOT NULL,
    region              TEXT,
    postal_code         TEXT        NOT NULL,
    country             TEXT        NOT NULL,
    phone               TEXT,
    is_default_shipping BOOLEAN     NOT NULL DEFAULT FALSE,
    is_default_billing  BOOLEAN     NOT NULL DEFAULT FALSE,
    revision            BIGINT      NOT NULL CONSTRAINT addresses_revision_check CHECK (revision >= 1),
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    deleted_at          TIMESTAMPTZ,
    -- a deleted address is nobody's default
    CONSTRAINT addresses_deleted_not_default_check
        CHECK (deleted_at IS NULL OR (NOT is_default_shipping AND NOT is_default_billing))
);
CREATE INDEX addresses_user_idx ON addresses (user_id, id);
-- At most one default of each kind among a user's live addresses, whatever the requests race.
CREATE UNIQUE INDEX addresses_default_shipping_key ON addresses (user_id)
    WHERE is_default_shipping AND deleted_at IS NULL;
CREATE UNIQUE INDEX addresses_default_billing_key ON addresses (user_id)
    WHERE is_default_billing AND deleted_at IS NULL;

-- One row per revision of an address: every field as it was, never updated.
CREATE TABLE address_revisions (
    address_id          UUID        NOT NULL
                                    CONSTRAINT address_revisions_address_id_fkey REFERENCES addresses (id) ON DELETE CASCADE,
    revision            BIGINT      NOT NULL CONSTRAINT address_revisions_revision_check CHECK (revision >= 1),
    user_id             TEXT        NOT NULL,
    label               TEXT,
    recipient_name      TEXT        NOT NULL,
    company             TEXT,
    line1               TEXT        NOT NULL,
    line2               TEXT,
    city                TEXT        NOT NULL,
    region              TEXT,
    postal_code         TEXT        NOT NULL,
    country             TEXT        NOT NULL,
    phone               TEXT,
    is_default_shipping BOOLEAN     NOT NULL,
    is_default_billing  BOOLEAN     NOT NULL,
    -- set only on the revision that deleted the address
    deleted_at          TIMESTAMPTZ,
    -- when this revision was written (the address's updated_at at the time)
    created_at          TIMESTAMPTZ NOT NULL,
    CONSTRAINT address_revisions_pkey PRIMARY KEY (address_id, revision)
);
CREATE INDEX address_revisions_user_idx ON address_revisions (user_id);

CREATE FUNCTION address_revisions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'address revisions are immutable';
END;
$$;
CREATE TRIGGER address_revisions_immutable BEFORE UPDATE ON address_revisions
    FOR EACH ROW EXECUTE FUNCTION address_revisions_immutable();
