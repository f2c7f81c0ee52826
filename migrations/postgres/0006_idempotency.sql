-- Idempotency keys (docs/idempotency.md): the first answer to a write sent with an `Idempotency-Key`, kept so
-- that a retry with the same key gets it again instead of running the write twice. One row per caller and key;
-- the claim is committed before the write runs and completed (or released) after it, so every instance on this
-- database sees it.
CREATE TABLE idempotency_keys (
    -- whose key it is: `user` (a `/profiles/me` route) or `admin` (an `/admin` route), and the token's `sub`
    caller_kind      TEXT        NOT NULL CONSTRAINT idempotency_keys_caller_kind_check
                                          CHECK (caller_kind IN ('user', 'admin')),
    caller_id        TEXT        NOT NULL,
    idempotency_key  TEXT        NOT NULL,
    -- whose data the answer holds: completed answers are deleted when that profile is erased (trigger below)
    target_user_id   TEXT        NOT NULL,
    -- the request the key was first used with: method, path and SHA-256 of the body (the body is not kept)
    request_method   TEXT        NOT NULL,
    request_path     TEXT        NOT NULL,
    request_hash     BYTEA       NOT NULL,
    -- the holder of the claim while the request runs; a stale claim is taken over by replacing it
    claim_id         UUID        NOT NULL,
    -- when the key was first used (it expires IDEMPOTENCY_TTL_HOURS later) and when the claim was last taken
    created_at       TIMESTAMPTZ NOT NULL,
    locked_at        TIMESTAMPTZ NOT NULL,
    -- the kept answer; all null while the request runs
    completed_at     TIMESTAMPTZ,
    response_status  INTEGER,
    response_headers JSONB,
    response_body    BYTEA,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (caller_id, caller_kind, idempotency_key)
);
-- Pruning deletes by age; erasure by target.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
CREATE INDEX idempotency_keys_target_idx ON idempotency_keys (target_user_id);

-- Erasing a profile deletes the kept answers about that user, as ON DELETE CASCADE does for addresses (a kept
-- answer can hold the profile or an address). Claims still running keep their row: they hold no answer yet.
CREATE FUNCTION idempotency_keys_forget_target() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM idempotency_keys WHERE target_user_id = OLD.user_id AND completed_at IS NOT NULL;
    RETURN OLD;
END
$$;
CREATE TRIGGER profiles_erase_idempotency_keys AFTER DELETE ON profiles
    FOR EACH ROW EXECUTE FUNCTION idempotency_keys_forget_target();
