-- What an erasure keeps (docs/privacy.md), with no personal data: one receipt per erasure, and a tombstone per
-- erased address, so that a service reading a user or an address that was erased gets 410 (`profile_erased`,
-- `address_erased`) instead of a 404 that would mean "never existed". No foreign keys: the profile is gone.
-- Numbered 0007 because 0005 and 0006 belong to other changes; nothing here depends on them.

CREATE TABLE erasure_receipts (
    -- UUIDv7: ordering by id is ordering by time; sent to the caller as the `Erasure-Receipt` header
    id                UUID        NOT NULL CONSTRAINT erasure_receipts_pkey PRIMARY KEY,
    user_id           TEXT        NOT NULL,
    erased_at         TIMESTAMPTZ NOT NULL,
    -- `user`: the user erased their own profile; `admin`: an admin erased it
    actor_kind        TEXT        NOT NULL
                                  CONSTRAINT erasure_receipts_actor_kind_check CHECK (actor_kind IN ('user', 'admin')),
    actor_id          TEXT        NOT NULL,
    request_id        TEXT,
    -- how many rows of each kind the erasure removed
    profiles          BIGINT      NOT NULL,
    addresses         BIGINT      NOT NULL,
    address_revisions BIGINT      NOT NULL,
    preferences       BIGINT      NOT NULL,
    consent_records   BIGINT      NOT NULL
);
CREATE INDEX erasure_receipts_user_idx ON erasure_receipts (user_id, id);

CREATE TABLE erased_addresses (
    address_id    UUID        NOT NULL CONSTRAINT erased_addresses_pkey PRIMARY KEY,
    user_id       TEXT        NOT NULL,
    -- the address's last revision: revisions 1 to this one existed (410), later ones never did (404)
    last_revision BIGINT      NOT NULL,
    erased_at     TIMESTAMPTZ NOT NULL
);
