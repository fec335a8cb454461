-- Prepaid billing: a credits ledger per account (Suble billing/credits), payments (LNVPS VM
-- payments and credit top-ups), and each VM's paid-up-to time (LNVPS "expires").
--   credit_accounts: one per user, in one currency, with the balance the ledger sums to. The
--                    balance changes only through credit_entries (trigger), and never goes below
--                    -overdraft_limit (a CHECK), so concurrent charges cannot overspend.
--   credit_entries:  append-only; balance_after is the account's balance right after the entry.
--   payments:        money that came in or was spent for something: a top-up through a provider,
--                    or a VM period paid from credits ([period_start, period_end)).
--   webhook_events:  provider events already processed, so a replayed webhook changes nothing.
--   instances:       expires_at (NULL: not billed), expiry_notified_at (the owner was told),
--                    expired_at (stopped for expiry; renewal clears it), auto_renew.
CREATE TABLE credit_accounts (
    user_id                bigint      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    currency               char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    balance                bigint      NOT NULL DEFAULT 0,
    overdraft_limit        bigint      NOT NULL DEFAULT 0 CHECK (overdraft_limit >= 0),
    autorecharge_enabled   boolean     NOT NULL DEFAULT false,
    autorecharge_trigger   bigint      CHECK (autorecharge_trigger BETWEEN 5000 AND 10000000),
    autorecharge_amount    bigint      CHECK (autorecharge_amount BETWEEN 5000 AND 10000000),
    suspend_acknowledged   boolean     NOT NULL DEFAULT false,
    provider_customer_id   text,
    default_payment_method text,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT credit_accounts_within_overdraft CHECK (balance >= -overdraft_limit),
    CHECK (NOT autorecharge_enabled
           OR (autorecharge_trigger IS NOT NULL AND autorecharge_amount IS NOT NULL))
);

CREATE TABLE credit_entries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid             text        NOT NULL UNIQUE CHECK (uid LIKE 'crd\_%'),
    user_id         bigint      NOT NULL REFERENCES credit_accounts (user_id) ON DELETE CASCADE,
    type            text        NOT NULL
                    CHECK (type IN ('topup', 'charge', 'refund', 'promo', 'adjustment')),
    amount          bigint      NOT NULL CHECK (amount <> 0),
    currency        char(3)     NOT NULL,
    balance_after   bigint      NOT NULL,
    note            text        NOT NULL DEFAULT '',
    instance_id     bigint      REFERENCES instances (id),
    payment_id      bigint,
    idempotency_key text,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK (type NOT IN ('topup', 'refund', 'promo') OR amount > 0),
    CHECK (type <> 'charge' OR amount < 0),
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX credit_entries_by_user ON credit_entries (user_id, id);

CREATE FUNCTION credit_entries_post() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE credit_accounts SET balance = balance + NEW.amount, updated_at = now()
     WHERE user_id = NEW.user_id AND currency = NEW.currency
    RETURNING balance INTO NEW.balance_after;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'credit entry in %: the account keeps another currency', NEW.currency
            USING ERRCODE = 'check_violation', CONSTRAINT = 'credit_entries_currency';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER credit_entries_post BEFORE INSERT ON credit_entries
    FOR EACH ROW EXECUTE FUNCTION credit_entries_post();

CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER credit_entries_append_only BEFORE UPDATE OR DELETE ON credit_entries
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- Only a ledger entry moves the balance (the entry trigger runs one level deeper).
CREATE FUNCTION credit_accounts_guard_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.balance IS DISTINCT FROM OLD.balance AND pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'the balance changes only through credit_entries'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.currency IS DISTINCT FROM OLD.currency
       AND EXISTS (SELECT 1 FROM credit_entries WHERE user_id = OLD.user_id) THEN
        RAISE EXCEPTION 'an account with entries keeps its currency'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER credit_accounts_guard_balance BEFORE UPDATE ON credit_accounts
    FOR EACH ROW EXECUTE FUNCTION credit_accounts_guard_balance();

CREATE TABLE payments (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid             text        NOT NULL UNIQUE DEFAULT replace(gen_random_uuid()::text, '-', '')
                                CHECK (uid ~ '^[0-9a-f]{32}$'),
    user_id         bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    instance_id     bigint      REFERENCES instances (id),
    purpose         text        NOT NULL CHECK (purpose IN ('topup', 'vm_renewal')),
    method          text        NOT NULL
                    CHECK (method IN ('credits', 'stripe', 'lightning', 'revolut', 'paypal')),
    amount          bigint      NOT NULL CHECK (amount > 0),
    currency        char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- The VM time a renewal paid for; time_value is its length in seconds (LNVPS).
    period_start    timestamptz,
    period_end      timestamptz,
    time_value      bigint GENERATED ALWAYS AS
                    (extract(epoch FROM period_end - period_start)::bigint) STORED,
    external_id     text,
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'paid', 'failed', 'cancelled')),
    refunded_amount bigint      NOT NULL DEFAULT 0 CHECK (refunded_amount BETWEEN 0 AND amount),
    failure         text,
    idempotency_key text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL DEFAULT now() + interval '1 day',
    paid_at         timestamptz,
    CHECK ((purpose = 'vm_renewal') =
           (instance_id IS NOT NULL AND period_start IS NOT NULL AND period_end IS NOT NULL)),
    CHECK (period_end > period_start),
    CHECK ((status = 'paid') = (paid_at IS NOT NULL)),
    UNIQUE (method, external_id),
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX payments_by_instance ON payments (instance_id, id) WHERE instance_id IS NOT NULL;
CREATE INDEX payments_by_user ON payments (user_id, id);
ALTER TABLE credit_entries ADD FOREIGN KEY (payment_id) REFERENCES payments (id);

CREATE TABLE webhook_events (
    provider    text        NOT NULL,
    event_id    text        NOT NULL,
    type        text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, event_id)
);

-- Suble billing/alerts: mail the owner when the balance falls to or below a threshold.
CREATE TABLE billing_alerts (
    user_id        bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    threshold      bigint      NOT NULL CHECK (threshold BETWEEN 0 AND 100000000),
    last_fired_at  timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, threshold)
);

ALTER TABLE instances
    ADD COLUMN expires_at         timestamptz,
    ADD COLUMN expiry_notified_at timestamptz,
    ADD COLUMN expired_at         timestamptz,
    ADD COLUMN auto_renew         boolean NOT NULL DEFAULT true;
CREATE INDEX instances_by_expiry ON instances (expires_at)
    WHERE deleted_at IS NULL AND expires_at IS NOT NULL;

-- Renewals and expiry in the VM's history, whoever moved them. A transaction acting for someone
-- names them with SET LOCAL vpsfleet.actor_user = '<user id>' and may add vpsfleet.history_note.
CREATE FUNCTION instances_record_billing_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_action text;
    v_what   text;
BEGIN
    IF NEW.expired_at IS NOT NULL AND OLD.expired_at IS NULL THEN
        v_action := 'expired';
        v_what := format('VM expired at %s', NEW.expires_at);
    ELSIF NEW.expires_at < OLD.expires_at THEN
        v_action := 'configuration_changed';
        v_what := format('VM paid time cut short to %s (was %s)', NEW.expires_at, OLD.expires_at);
    ELSIF NEW.expires_at IS DISTINCT FROM OLD.expires_at THEN
        v_action := 'renewed';
        v_what := format('VM paid until %s (was %s)', NEW.expires_at,
                         coalesce(OLD.expires_at::text, 'unbilled'));
    ELSE
        RETURN NULL;
    END IF;
    IF coalesce(current_setting('vpsfleet.history_note', true), '') <> '' THEN
        v_what := v_what || ': ' || current_setting('vpsfleet.history_note', true);
    END IF;
    INSERT INTO vm_history (vm_id, action_type, initiated_by_user, previous_state, new_state,
                            description)
    VALUES (NEW.id, v_action,
            NULLIF(coalesce(current_setting('vpsfleet.actor_user', true), ''), '')::bigint,
            jsonb_build_object('expires', OLD.expires_at, 'expired_at', OLD.expired_at),
            jsonb_build_object('expires', NEW.expires_at, 'expired_at', NEW.expired_at),
            v_what);
    RETURN NULL;
END $$;
CREATE TRIGGER instances_billing_history AFTER UPDATE OF expires_at, expired_at ON instances
    FOR EACH ROW
    WHEN (OLD.expires_at IS DISTINCT FROM NEW.expires_at
          OR OLD.expired_at IS DISTINCT FROM NEW.expired_at)
    EXECUTE FUNCTION instances_record_billing_history();
