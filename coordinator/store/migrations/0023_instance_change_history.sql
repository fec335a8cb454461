-- A VM's history also records the changes the customer API makes to a built instance: a new plan
-- (resize) as 'configuration_changed' and a new image (rebuild) as 'reinstalled', attributed to
-- the open job acting on it as the other entries are.
CREATE FUNCTION instances_record_change_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_actor    bigint;
    v_job      bigint;
    v_job_uid  text;
    v_job_kind text;
    v_what     text;
BEGIN
    SELECT j.id, j.uid, j.kind, j.created_by_user_id
      INTO v_job, v_job_uid, v_job_kind, v_actor
      FROM jobs j WHERE j.target = NEW.uid AND j.state IN ('pending', 'running')
     ORDER BY j.id DESC LIMIT 1;
    IF NEW.plan_id IS DISTINCT FROM OLD.plan_id THEN
        v_what := format('VM plan changed: %s -> %s',
                         (SELECT code FROM plans WHERE id = OLD.plan_id),
                         (SELECT code FROM plans WHERE id = NEW.plan_id));
        INSERT INTO vm_history (vm_id, action_type, initiated_by_user, job_id, previous_state,
                                new_state, description)
        VALUES (NEW.id, 'configuration_changed', v_actor, v_job,
                jsonb_build_object('plan_id', OLD.plan_id), jsonb_build_object('plan_id', NEW.plan_id),
                v_what);
    END IF;
    IF NEW.image_id IS DISTINCT FROM OLD.image_id THEN
        v_what := format('VM reinstalled from %s',
                         (SELECT display_name FROM os_images WHERE id = NEW.image_id));
        INSERT INTO vm_history (vm_id, action_type, initiated_by_user, job_id, previous_state,
                                new_state, description)
        VALUES (NEW.id, 'reinstalled', v_actor, v_job,
                jsonb_build_object('image_id', OLD.image_id),
                jsonb_build_object('image_id', NEW.image_id), v_what);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER instances_change_history AFTER UPDATE OF plan_id, image_id ON instances
    FOR EACH ROW
    WHEN (OLD.plan_id IS DISTINCT FROM NEW.plan_id OR OLD.image_id IS DISTINCT FROM NEW.image_id)
    EXECUTE FUNCTION instances_record_change_history();
