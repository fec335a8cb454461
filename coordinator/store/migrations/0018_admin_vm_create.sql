-- VMs an operator creates for a user (admin POST /vms) or imports from a domain reconciliation
-- found unmanaged (POST /drift/events/{id}/import).
--   instances.ssh_key_id: the account key (LNVPS ssh_key_id) whose public key the VM was built
--                         with; the key itself lives on in ssh_keys_snapshot if it is deleted.
--   instances.ref_code:   LNVPS referral code, as given.
--   vm_history:           a VM's 'created' entry names whoever the creating transaction says it
--                         acts for (SET LOCAL vpsfleet.actor_user, as billing history does) and
--                         adds its vpsfleet.history_note; the project's owner otherwise, as before.
ALTER TABLE instances
    ADD COLUMN ssh_key_id bigint REFERENCES account_ssh_keys (id) ON DELETE SET NULL,
    ADD COLUMN ref_code   text CHECK (char_length(ref_code) BETWEEN 1 AND 100);
CREATE INDEX instances_by_ssh_key ON instances (ssh_key_id) WHERE ssh_key_id IS NOT NULL;

CREATE OR REPLACE FUNCTION instances_record_history() RETURNS trigger LANGUAGE plpgsql AS $$
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
        v_actor := NULLIF(coalesce(current_setting('vpsfleet.actor_user', true), ''), '')::bigint;
        IF v_actor IS NULL THEN
            SELECT owner_user_id INTO v_actor FROM projects WHERE id = NEW.project_id;
        END IF;
        IF coalesce(current_setting('vpsfleet.history_note', true), '') <> '' THEN
            v_what := v_what || ': ' || current_setting('vpsfleet.history_note', true);
        END IF;
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
