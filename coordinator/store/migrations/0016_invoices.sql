-- Invoices (issue 10, item 6): numbered without gaps per calendar year (UTC), immutable once
-- issued, with their lines and the tax on each. Amounts are integer minor units of the invoice's
-- currency (never a float); tax rates are basis points (2500 = 25 %).
--   invoice_counters: the last number issued per year. The issuer takes the next one with
--                     INSERT .. ON CONFLICT DO UPDATE .. RETURNING inside its own transaction, which
--                     keeps the year's row locked until it commits or rolls back: concurrent
--                     issuers queue on the row, and a rolled-back issue gives its number back.
--                     The database itself holds the numbering gapless: the counter only ever moves
--                     up by one, an invoice must carry the counter's current value, and a
--                     transaction that moved the counter without issuing that invoice cannot commit.
--   invoices:         the buyer's name, address, tax id and email are copied from users at issue
--                     time, so a later change of address never rewrites an issued invoice. Only
--                     the status moves: issued -> paid (paid_at) or issued -> void (voided_at).
--                     Every other column is fixed by trigger and rows are never deleted (a user
--                     with invoices cannot be deleted either: bookkeeping keeps them for years).
--   invoice_lines:    written with their invoice and never changed. At commit a deferred check
--                     makes the invoice's subtotal and tax the sums of its lines, its positions
--                     1..n, and each line's tax its amount at the invoice's rate rounded half up.
CREATE TABLE invoice_counters (
    year     integer PRIMARY KEY CHECK (year BETWEEN 2000 AND 9999),
    last_seq integer NOT NULL CHECK (last_seq >= 1)
);

CREATE TABLE invoices (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid               text        NOT NULL UNIQUE CHECK (uid LIKE 'inv\_%'),
    user_id           bigint      NOT NULL REFERENCES users (id),
    year              integer     NOT NULL CHECK (year BETWEEN 2000 AND 9999),
    seq               integer     NOT NULL CHECK (seq >= 1),
    -- INV-2026-000042; more digits once a year passes 999999 invoices.
    number            text        NOT NULL UNIQUE
                      CHECK (number = 'INV-' || year::text || '-' ||
                                      lpad(seq::text, greatest(6, length(seq::text)), '0')),
    status            text        NOT NULL DEFAULT 'issued'
                      CHECK (status IN ('issued', 'paid', 'void')),
    currency          char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    subtotal          bigint      NOT NULL CHECK (subtotal >= 0),
    tax               bigint      NOT NULL CHECK (tax >= 0),
    total             bigint      NOT NULL CHECK (total >= 0),
    tax_rate_bp       integer     NOT NULL CHECK (tax_rate_bp BETWEEN 0 AND 10000),
    tax_country       char(2)     CHECK (tax_country ~ '^[A-Z]{2}$'),
    billing_name      text,
    billing_address_1 text,
    billing_address_2 text,
    billing_city      text,
    billing_state     text,
    billing_postcode  text,
    billing_tax_id    text,
    billing_email     text        NOT NULL,
    issued_at         timestamptz NOT NULL,
    paid_at           timestamptz,
    voided_at         timestamptz,
    period_start      timestamptz,
    period_end        timestamptz,
    idempotency_key   text        UNIQUE CHECK (idempotency_key <> ''),
    UNIQUE (year, seq),
    CHECK (total = subtotal + tax),
    CHECK (extract(year FROM issued_at AT TIME ZONE 'UTC') = year),
    CHECK ((status = 'paid') = (paid_at IS NOT NULL)),
    CHECK ((status = 'void') = (voided_at IS NOT NULL)),
    CHECK (period_start IS NULL OR period_end IS NULL OR period_start <= period_end)
);
CREATE INDEX invoices_by_user ON invoices (user_id, id);

CREATE TABLE invoice_lines (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invoice_id   bigint      NOT NULL REFERENCES invoices (id),
    position     integer     NOT NULL CHECK (position >= 1),
    description  text        NOT NULL CHECK (description <> ''),
    quantity     integer     NOT NULL CHECK (quantity >= 1),
    unit_amount  bigint      NOT NULL CHECK (unit_amount >= 0),
    amount       bigint      NOT NULL CHECK (amount >= 0),
    tax          bigint      NOT NULL CHECK (tax >= 0),
    instance_id  bigint      REFERENCES instances (id),
    period_start timestamptz,
    period_end   timestamptz,
    UNIQUE (invoice_id, position),
    CHECK (amount = quantity * unit_amount),
    CHECK (period_start IS NULL OR period_end IS NULL OR period_start <= period_end)
);
CREATE INDEX invoice_lines_by_instance ON invoice_lines (instance_id) WHERE instance_id IS NOT NULL;

-- The counter moves up by exactly one and is never reset or removed.
CREATE FUNCTION invoice_counters_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.year = OLD.year AND NEW.last_seq = OLD.last_seq + 1 THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'invoice_counters only moves up by one (invoice numbers stay gapless)'
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER invoice_counters_guard BEFORE UPDATE OR DELETE ON invoice_counters
    FOR EACH ROW EXECUTE FUNCTION invoice_counters_guard();
CREATE TRIGGER invoice_counters_no_truncate BEFORE TRUNCATE ON invoice_counters
    FOR EACH STATEMENT EXECUTE FUNCTION invoice_counters_guard();

-- At commit, every number the transaction took belongs to an invoice.
CREATE FUNCTION invoice_counters_check_used() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM invoices WHERE year = NEW.year AND seq = NEW.last_seq) THEN
        RAISE EXCEPTION 'invoice number % of % was taken but no invoice carries it',
                        NEW.last_seq, NEW.year
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER invoice_counters_check_used AFTER INSERT OR UPDATE ON invoice_counters
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION invoice_counters_check_used();

-- An invoice carries the number its transaction just took from the counter.
CREATE FUNCTION invoices_check_number() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq IS DISTINCT FROM (SELECT last_seq FROM invoice_counters WHERE year = NEW.year) THEN
        RAISE EXCEPTION 'invoice % was not numbered from invoice_counters', NEW.number
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER invoices_check_number BEFORE INSERT ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_check_number();

-- Issued invoices keep every column but their status, which moves only issued -> paid (setting
-- paid_at) or issued -> void (setting voided_at). The comparison covers all columns, so one
-- added later is immutable too unless this function names it.
CREATE FUNCTION invoices_guard_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_status_columns constant text[] := ARRAY['status', 'paid_at', 'voided_at'];
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'invoices are kept: void an invoice instead of deleting it'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF to_jsonb(NEW) - v_status_columns IS DISTINCT FROM to_jsonb(OLD) - v_status_columns THEN
        RAISE EXCEPTION 'invoice % is issued: only its status may change', OLD.number
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF (NEW.status, NEW.paid_at, NEW.voided_at) IS DISTINCT FROM
       (OLD.status, OLD.paid_at, OLD.voided_at)
       AND NOT (OLD.status = 'issued' AND NEW.status IN ('paid', 'void')) THEN
        RAISE EXCEPTION 'invoice %: % -> % is not allowed (only issued -> paid or issued -> void)',
                        OLD.number, OLD.status, NEW.status
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER invoices_guard_change BEFORE UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_guard_change();
CREATE TRIGGER invoices_no_truncate BEFORE TRUNCATE ON invoices
    FOR EACH STATEMENT EXECUTE FUNCTION invoices_guard_change();

CREATE FUNCTION invoice_lines_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'invoice lines never change once issued' USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER invoice_lines_refuse_change BEFORE UPDATE OR DELETE ON invoice_lines
    FOR EACH ROW EXECUTE FUNCTION invoice_lines_refuse_change();
CREATE TRIGGER invoice_lines_no_truncate BEFORE TRUNCATE ON invoice_lines
    FOR EACH STATEMENT EXECUTE FUNCTION invoice_lines_refuse_change();

-- The invoice's sums are its lines' sums, positions run 1..n, and each line's tax is its amount
-- at the invoice's rate rounded half up: floor((amount * rate_bp + 5000) / 10000), the same rule
-- as coordinator/billing/tax.cpp.
CREATE FUNCTION invoices_verify_lines(p_invoice bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v record;
BEGIN
    SELECT i.number, i.subtotal, i.tax, count(l.id) AS n, max(l.position) AS last_position,
           coalesce(sum(l.amount), 0) AS amounts, coalesce(sum(l.tax), 0) AS taxes,
           coalesce(bool_and(l.tax = div(l.amount::numeric * i.tax_rate_bp + 5000, 10000)), true)
               AS taxes_rounded
      INTO v
      FROM invoices i LEFT JOIN invoice_lines l ON l.invoice_id = i.id
     WHERE i.id = p_invoice
     GROUP BY i.id;
    IF v.n = 0 OR v.last_position <> v.n OR v.amounts <> v.subtotal OR v.taxes <> v.tax
       OR NOT v.taxes_rounded THEN
        RAISE EXCEPTION 'invoice % does not add up: % lines (last position %) summing to % + tax %, '
                        'invoice says % + tax %', v.number, v.n, v.last_position, v.amounts,
                        v.taxes, v.subtotal, v.tax
            USING ERRCODE = 'check_violation',
                  HINT = 'Each line''s tax is its amount at the invoice''s rate, rounded half up.';
    END IF;
END $$;

CREATE FUNCTION invoices_check_lines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM invoices_verify_lines(NEW.id);
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER invoices_check_lines AFTER INSERT ON invoices
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION invoices_check_lines();

CREATE FUNCTION invoice_lines_check_invoice() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM invoices_verify_lines(NEW.invoice_id);
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER invoice_lines_check_invoice AFTER INSERT ON invoice_lines
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION invoice_lines_check_invoice();
