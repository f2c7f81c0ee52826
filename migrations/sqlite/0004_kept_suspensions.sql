-- What erasure keeps of a suspended user (SPEC section 5): the suspension itself, so the same `sub` cannot come
-- back active by erasing and re-creating the profile. User id and times only, no personal data; no foreign key,
-- since the profile is gone. An admin lifts it with DELETE /api/v1/admin/kept-suspensions/{user_id}.
CREATE TABLE kept_suspensions (
    user_id      TEXT NOT NULL CONSTRAINT kept_suspensions_pkey PRIMARY KEY,
    -- when the profile was suspended (its latest `profile.suspended` audit event); null when that event was gone
    suspended_at TEXT,
    -- when the suspended profile was erased
    erased_at    TEXT NOT NULL
);
