-- Promo codes (Suble POST /billing/promo): a code grants credit_amount minor units of `currency`
-- to the ledger of each account that redeems it, once per account, while it is active, before
-- expires_at and until max_redemptions (NULL: no cap). Operators manage them in the admin API.
CREATE TABLE promo_codes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code            text        NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9_-]{1,64}$'),
    credit_amount   bigint      NOT NULL CHECK (credit_amount > 0),
    currency        text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    max_redemptions integer     CHECK (max_redemptions > 0),
    redemptions     integer     NOT NULL DEFAULT 0
                    CHECK (redemptions >= 0 AND redemptions <= coalesce(max_redemptions, redemptions)),
    active          boolean     NOT NULL DEFAULT true,
    expires_at      timestamptz,
    description     text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 200),
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE promo_redemptions (
    promo_id        bigint      NOT NULL REFERENCES promo_codes (id),
    user_id         bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credit_entry_id bigint      NOT NULL REFERENCES credit_entries (id),
    redeemed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (promo_id, user_id)
);
