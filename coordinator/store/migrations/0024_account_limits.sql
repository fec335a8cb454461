-- Account quotas (Suble GET /account/limits, /account/limit-requests). The platform defaults live
-- in the coordinator config (`limits:`); an account's own limit for a quota replaces the default
-- and is written when an operator approves the account's request for more.
CREATE TABLE account_limit_overrides (
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    quota_key  text        NOT NULL
               CHECK (quota_key IN ('instances', 'memoryMb', 'templateStorageGb',
                                    'restoresPerMonth')),
    value      bigint      NOT NULL CHECK (value >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, quota_key)
);

-- A customer's request to raise one quota, pending until an operator approves or denies it.
CREATE TABLE limit_requests (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid         text        NOT NULL UNIQUE CHECK (uid LIKE 'req\_%'),
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    quota_key   text        NOT NULL
                CHECK (quota_key IN ('instances', 'memoryMb', 'templateStorageGb',
                                     'restoresPerMonth')),
    requested   bigint      NOT NULL CHECK (requested > 0),
    use_case    text        NOT NULL CHECK (char_length(use_case) BETWEEN 10 AND 512),
    status      text        NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'approved', 'denied')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    decided_at  timestamptz,
    decided_by  bigint      REFERENCES users (id) ON DELETE SET NULL,
    note        text        CHECK (char_length(note) <= 512),
    CHECK ((status = 'pending') = (decided_at IS NULL))
);
-- One open request per account and quota.
CREATE UNIQUE INDEX limit_requests_one_pending ON limit_requests (user_id, quota_key)
    WHERE status = 'pending';
CREATE INDEX limit_requests_user_idx ON limit_requests (user_id, id);
CREATE INDEX limit_requests_status_idx ON limit_requests (status, id);
