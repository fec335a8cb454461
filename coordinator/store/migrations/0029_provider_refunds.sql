-- Refunds of a VM's unused paid time to the card its owner's credits were bought with (LNVPS
-- POST /vms/{id}/refund, payment_method stripe). One row per provider refund, written before the
-- provider is called so a retried job reuses its idempotency key; payments.refunded_amount of the
-- top-up refunded holds the row's amount from then on, so two refunds never claim the same money.
--   status: requested  written, the provider not yet answered (failure: why the last try failed)
--           pending | requires_action | succeeded | failed | canceled   as the provider says
--           released   never issued; its amount went back to the top-up (the job failed first)
CREATE TABLE provider_refunds (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid             text        NOT NULL UNIQUE DEFAULT 'rfd_' || replace(gen_random_uuid()::text,
                                                                          '-', ''),
    job_uid         text        NOT NULL,
    user_id         bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    instance_id     bigint      NOT NULL REFERENCES instances (id),
    payment_id      bigint      NOT NULL REFERENCES payments (id),
    provider        text        NOT NULL CHECK (provider IN ('stripe')),
    amount          bigint      NOT NULL CHECK (amount > 0),
    currency        char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    idempotency_key text        NOT NULL UNIQUE,
    external_id     text,
    status          text        NOT NULL DEFAULT 'requested'
                    CHECK (status IN ('requested', 'pending', 'requires_action', 'succeeded',
                                      'failed', 'canceled', 'released')),
    failure         text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, external_id),
    CHECK (status IN ('requested', 'released') OR external_id IS NOT NULL)
);
CREATE INDEX provider_refunds_by_job ON provider_refunds (job_uid, id);
CREATE INDEX provider_refunds_by_instance ON provider_refunds (instance_id, id);
