-- What the admin API (LNVPS) needs on top of the rows the customer API already has: one data
-- model, two views.
--   users:      LNVPS account fields (Nostr pubkey, contact preferences, billing address).
--   os_images:  LNVPS "VM OS images" (distribution = family, enabled = active, url = source_url,
--               default_username = default_user) gain flavour and release_date.
--   plans:      LNVPS "VM templates" (enabled = active, cpu = vcpu; the API shows memory and
--               disk_size in bytes, converted from memory_mb (MiB) and disk_gb (GiB)). A template
--               limited to a region has region_id; NULL offers it in every region.
--   cost_plans: what a template costs, in integer minor units of its currency (never a float).
--               A plan's customer prices (price_monthly_ore, price_hourly_ore) follow its cost
--               plan, kept by triggers: the monthly equivalent rounded up, and an hour as 1/730 of
--               a month rounded up. Currency conversion is the billing module's.
--   vm_history: every VM's lifecycle, written by triggers on instances so no job code has to.
-- An image or template that deleted VMs still name is kept as a tombstone (deleted_at, inactive)
-- when the admin API deletes it, so those VMs keep their history.

ALTER TABLE users
    ADD COLUMN pubkey            text CHECK (pubkey ~ '^[0-9a-f]{64}$'),
    ADD COLUMN contact_nip17     boolean NOT NULL DEFAULT false,
    ADD COLUMN contact_email     boolean NOT NULL DEFAULT true,
    ADD COLUMN billing_name      text,
    ADD COLUMN billing_address_1 text,
    ADD COLUMN billing_address_2 text,
    ADD COLUMN billing_city      text,
    ADD COLUMN billing_state     text,
    ADD COLUMN billing_postcode  text,
    ADD COLUMN billing_tax_id    text;
CREATE UNIQUE INDEX users_pubkey_key ON users (pubkey) WHERE pubkey IS NOT NULL;
-- For the admin user view: VM counts go through projects, last_login is the newest session.
CREATE INDEX projects_by_owner ON projects (owner_user_id);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id, created_at);

ALTER TABLE os_images
    ADD COLUMN flavour      text        NOT NULL DEFAULT 'server' CHECK (flavour <> ''),
    ADD COLUMN release_date timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN created_at   timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN deleted_at   timestamptz,
    ADD CHECK (deleted_at IS NULL OR NOT active);
UPDATE os_images SET release_date = '2024-04-25T00:00:00Z' WHERE uid = 'img_ubuntu2404';
UPDATE os_images SET release_date = '2023-06-10T00:00:00Z' WHERE uid = 'img_debian12';

CREATE TABLE cost_plans (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text        NOT NULL CHECK (name <> ''),
    amount          bigint      NOT NULL CHECK (amount BETWEEN 0 AND 1000000000000),
    currency        char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    interval_amount integer     NOT NULL CHECK (interval_amount BETWEEN 1 AND 1000),
    interval_type   text        NOT NULL CHECK (interval_type IN ('day', 'month', 'year')),
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- A cost plan's price per month (730 hours), rounded up, in its minor units.
CREATE FUNCTION cost_plan_monthly(amount bigint, interval_amount integer, interval_type text)
    RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE interval_type
               WHEN 'day' THEN (amount * 730 + 24 * interval_amount - 1) / (24 * interval_amount)
               WHEN 'month' THEN (amount + interval_amount - 1) / interval_amount
               ELSE (amount + 12 * interval_amount - 1) / (12 * interval_amount) END $$;

ALTER TABLE plans
    -- A deleted region withdraws its templates (trigger below) rather than block the delete.
    ADD COLUMN region_id      bigint      REFERENCES regions (id) ON DELETE SET NULL,
    ADD COLUMN cost_plan_id   bigint      REFERENCES cost_plans (id),
    ADD COLUMN disk_type      text        NOT NULL DEFAULT 'ssd' CHECK (disk_type IN ('hdd', 'ssd')),
    ADD COLUMN disk_interface text        NOT NULL DEFAULT 'pcie'
                              CHECK (disk_interface IN ('sata', 'scsi', 'pcie')),
    ADD COLUMN created_at     timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN expires_at     timestamptz,
    ADD COLUMN deleted_at     timestamptz,
    ADD CHECK (deleted_at IS NULL OR NOT active);

-- The plans there are now cost what they cost: their monthly price in øre (DKK).
DO $$
DECLARE
    p  record;
    cp bigint;
BEGIN
    FOR p IN SELECT id, name, price_monthly_ore FROM plans ORDER BY id LOOP
        INSERT INTO cost_plans (name, amount, currency, interval_amount, interval_type)
        VALUES (p.name || ' Cost Plan', p.price_monthly_ore, 'DKK', 1, 'month')
        RETURNING id INTO cp;
        UPDATE plans SET cost_plan_id = cp WHERE id = p.id;
    END LOOP;
END $$;
-- A tombstone lets go of its cost plan, so the cost plan can be deleted.
ALTER TABLE plans ADD CHECK (cost_plan_id IS NOT NULL OR deleted_at IS NOT NULL);
CREATE INDEX plans_by_cost_plan ON plans (cost_plan_id);
CREATE INDEX instances_by_plan ON instances (plan_id) WHERE deleted_at IS NULL;
CREATE INDEX instances_by_image ON instances (image_id) WHERE deleted_at IS NULL;

CREATE FUNCTION plans_price_from_cost_plan() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.cost_plan_id IS NOT NULL THEN
        SELECT cost_plan_monthly(c.amount, c.interval_amount, c.interval_type)
          INTO NEW.price_monthly_ore FROM cost_plans c WHERE c.id = NEW.cost_plan_id;
        NEW.price_hourly_ore := (NEW.price_monthly_ore + 729) / 730;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER plans_price_from_cost_plan BEFORE INSERT OR UPDATE OF cost_plan_id ON plans
    FOR EACH ROW EXECUTE FUNCTION plans_price_from_cost_plan();

CREATE FUNCTION cost_plans_reprice_plans() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    monthly bigint := cost_plan_monthly(NEW.amount, NEW.interval_amount, NEW.interval_type);
BEGIN
    UPDATE plans SET price_monthly_ore = monthly, price_hourly_ore = (monthly + 729) / 730
     WHERE cost_plan_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER cost_plans_reprice_plans AFTER UPDATE OF amount, interval_amount, interval_type
    ON cost_plans FOR EACH ROW EXECUTE FUNCTION cost_plans_reprice_plans();

CREATE FUNCTION regions_withdraw_plans() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE plans SET active = false WHERE region_id = OLD.id;
    RETURN OLD;
END $$;
CREATE TRIGGER regions_withdraw_plans BEFORE DELETE ON regions
    FOR EACH ROW EXECUTE FUNCTION regions_withdraw_plans();

-- LNVPS AdminVmHistoryInfo. initiated_by_user: whoever asked for the job acting on the VM (its
-- request enqueued it in the same transaction, or its worker is running it), or the owner for
-- the VM's creation; NULL for changes no job made (reconciliation, an operator's SQL).
CREATE TABLE vm_history (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vm_id             bigint      NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    action_type       text        NOT NULL
                      CHECK (action_type IN ('created', 'started', 'stopped', 'restarted',
                                             'deleted', 'expired', 'renewed', 'reinstalled',
                                             'state_changed', 'payment_received',
                                             'configuration_changed')),
    at                timestamptz NOT NULL DEFAULT now(),
    initiated_by_user bigint      REFERENCES users (id) ON DELETE SET NULL,
    job_id            bigint,
    previous_state    jsonb,
    new_state         jsonb       NOT NULL,
    description       text
);
CREATE INDEX vm_history_by_vm ON vm_history (vm_id, id);
-- Instances that existed before the history did start it with their creation.
INSERT INTO vm_history (vm_id, action_type, at, initiated_by_user, new_state, description)
SELECT i.id, 'created', i.created_at, p.owner_user_id,
       jsonb_build_object('status', i.status, 'power_state', i.power_state, 'host_id', i.host_id),
       'VM created'
  FROM instances i JOIN projects p ON p.id = i.project_id ORDER BY i.id;

CREATE FUNCTION instances_record_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_action   text;
    v_actor    bigint;
    v_job      bigint;
    v_job_uid  text;
    v_job_kind text;
    v_prior    jsonb;
    v_what     text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        v_action := 'created';
        v_what := 'VM created';
        SELECT owner_user_id INTO v_actor FROM projects WHERE id = NEW.project_id;
    ELSE
        SELECT j.id, j.uid, j.kind, j.created_by_user_id
          INTO v_job, v_job_uid, v_job_kind, v_actor
          FROM jobs j WHERE j.target = NEW.uid AND j.state IN ('pending', 'running')
         ORDER BY j.id DESC LIMIT 1;
        v_prior := jsonb_build_object('status', OLD.status, 'power_state', OLD.power_state,
                                      'host_id', OLD.host_id);
        v_action := CASE
            WHEN NEW.status = 'deleted' THEN 'deleted'
            WHEN NEW.power_state = 'running' AND OLD.power_state <> 'running' THEN 'started'
            WHEN NEW.power_state = 'stopped' AND OLD.power_state = 'running' THEN 'stopped'
            ELSE 'state_changed' END;
        v_what := CASE v_action
            WHEN 'deleted' THEN 'VM deleted'
            WHEN 'started' THEN 'VM started'
            WHEN 'stopped' THEN 'VM stopped'
            ELSE format('VM state changed: status %s -> %s, power %s -> %s', OLD.status,
                        NEW.status, OLD.power_state, NEW.power_state) END;
        IF v_job_uid IS NOT NULL THEN
            v_what := v_what || format(' (%s %s)', v_job_kind, v_job_uid);
        END IF;
    END IF;
    INSERT INTO vm_history (vm_id, action_type, initiated_by_user, job_id, previous_state,
                            new_state, description)
    VALUES (NEW.id, v_action, v_actor, v_job, v_prior,
            jsonb_build_object('status', NEW.status, 'power_state', NEW.power_state,
                               'host_id', NEW.host_id),
            v_what);
    RETURN NULL;
END $$;
CREATE TRIGGER instances_history_created AFTER INSERT ON instances
    FOR EACH ROW EXECUTE FUNCTION instances_record_history();
CREATE TRIGGER instances_history_changed AFTER UPDATE OF status, power_state ON instances
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.power_state IS DISTINCT FROM NEW.power_state)
    EXECUTE FUNCTION instances_record_history();
