-- What the scheduler places VMs onto: each host's storage pools (LNVPS AdminHostDisk) and the
-- reservations taken on hosts (host_allocations; a reservation is released by deleting its row).
-- host_capacity holds each host's reserved totals, kept by triggers, and is the row a placement
-- locks: two placements onto one host are serialised there, and never overcommit it. host_load
-- holds each host's calculated load, kept by triggers, so a placement reads only the few
-- least-loaded hosts that fit instead of the whole fleet.
CREATE TABLE host_disks (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    host_id    bigint      NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    name       text        NOT NULL CHECK (name <> ''),
    size       bigint      NOT NULL CHECK (size >= 0),
    kind       text        NOT NULL CHECK (kind IN ('ssd', 'hdd')),
    interface  text        NOT NULL CHECK (interface IN ('sata', 'scsi', 'pcie')),
    enabled    boolean     NOT NULL DEFAULT true,
    -- Bytes reserved on this disk by host_allocations (kept by the trigger below).
    used       bigint      NOT NULL DEFAULT 0 CHECK (used >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (host_id, id)
);
CREATE UNIQUE INDEX host_disks_host_name_key ON host_disks (host_id, lower(name));

CREATE TABLE host_capacity (
    host_id     bigint  PRIMARY KEY REFERENCES hosts (id) ON DELETE CASCADE,
    used_cpu    bigint  NOT NULL DEFAULT 0 CHECK (used_cpu >= 0),
    used_memory bigint  NOT NULL DEFAULT 0 CHECK (used_memory >= 0),
    allocations integer NOT NULL DEFAULT 0 CHECK (allocations >= 0)
);
INSERT INTO host_capacity (host_id) SELECT id FROM hosts;

-- The LNVPS calculated load (scheduler/placement.cpp calculate_load): the mean of the cpu, memory
-- and mean enabled-disk loads. It lives apart from host_capacity so that a direct edit of a disk
-- (disk row, then load row) never waits for a host_capacity row: a placement holds that one and
-- then takes the disk's (see host_allocations_totals).
CREATE TABLE host_load (
    host_id   bigint           PRIMARY KEY REFERENCES hosts (id) ON DELETE CASCADE,
    region_id bigint           NOT NULL,  -- hosts.region_id, so a region's hosts come in order too
    load      double precision NOT NULL
);
-- Placement walks these in order: least loaded first, ties on the lowest host id.
CREATE INDEX host_load_order ON host_load (load, host_id);
CREATE INDEX host_load_region_order ON host_load (region_id, load, host_id);

-- Capacity after overcommit, floor(physical * factor), in integers exactly as placement.cpp's
-- overcommitted(): hosts.load_* are numeric(6,3), so factor * 1000 is an integer.
CREATE FUNCTION host_overcommitted(physical bigint, factor numeric) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN physical <= 0 OR factor <= 0 THEN 0::bigint
                ELSE (physical / 1000) * (factor * 1000)::bigint
                     + (physical % 1000) * (factor * 1000)::bigint / 1000 END $$;

-- One resource's load, with placement.cpp's load_of() double arithmetic in the same order, so
-- that ordering by host_load.load agrees with the C++ choice to the last bit.
CREATE FUNCTION host_resource_load(used bigint, physical bigint, factor numeric)
    RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN physical > 0 AND (factor * 1000)::bigint > 0
                THEN used::float8 / (physical::float8 * (factor * 1000)::bigint::float8 / 1000::float8)
                ELSE 1::float8 END $$;

-- NULL when the host (or its capacity row) is gone. PL/pgSQL, not SQL, so that the plan is kept
-- for the session instead of being made again at every call from a trigger.
CREATE FUNCTION host_calculated_load(host bigint) RETURNS double precision
    LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT (host_resource_load(c.used_cpu, h.cpu, h.load_cpu)
                    + host_resource_load(c.used_memory, h.memory, h.load_memory)
                    + coalesce((SELECT sum(host_resource_load(d.used, d.size, h.load_disk)
                                           ORDER BY d.id) / count(*)::float8
                                  FROM host_disks d
                                 WHERE d.host_id = h.id AND d.enabled), 0::float8)) / 3::float8
              FROM hosts h JOIN host_capacity c ON c.host_id = h.id
             WHERE h.id = host);
END $$;

CREATE FUNCTION host_load_refresh(host bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    now_load double precision := host_calculated_load(host);
BEGIN
    IF now_load IS NOT NULL THEN
        UPDATE host_load SET load = now_load
         WHERE host_id = host AND load IS DISTINCT FROM now_load;
    END IF;
END $$;

INSERT INTO host_load (host_id, region_id, load)
    SELECT id, region_id, host_calculated_load(id) FROM hosts;

CREATE FUNCTION host_capacity_for_new_host() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO host_capacity (host_id) VALUES (NEW.id);
    INSERT INTO host_load (host_id, region_id, load)
        VALUES (NEW.id, NEW.region_id, host_calculated_load(NEW.id));
    RETURN NEW;
END $$;
CREATE TRIGGER hosts_capacity_row AFTER INSERT ON hosts
    FOR EACH ROW EXECUTE FUNCTION host_capacity_for_new_host();

-- What is reserved on a host. There is no vms table yet: owner says who holds the reservation,
-- and vm_id (no foreign key until VMs exist) which VM it is for.
CREATE TABLE host_allocations (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    host_id    bigint      NOT NULL REFERENCES hosts (id),
    disk_id    bigint      NOT NULL,
    cpu        integer     NOT NULL CHECK (cpu > 0),
    memory     bigint      NOT NULL CHECK (memory > 0),
    disk       bigint      NOT NULL CHECK (disk > 0),
    owner      text        NOT NULL CHECK (owner <> ''),
    vm_id      bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- The disk must belong to the host.
    FOREIGN KEY (host_id, disk_id) REFERENCES host_disks (host_id, id)
);
CREATE INDEX host_allocations_host ON host_allocations (host_id);
CREATE INDEX host_allocations_disk ON host_allocations (disk_id);
CREATE INDEX host_allocations_vm ON host_allocations (vm_id) WHERE vm_id IS NOT NULL;

-- Keeps host_capacity and host_disks.used equal to the sums over host_allocations, whoever
-- inserts, changes or deletes the rows. host_capacity is always updated before host_disks, so
-- concurrent writers take the two row locks in the same order; the host_disks update then
-- refreshes host_load (trigger below), last, and sees both new totals. host_capacity has no
-- trigger of its own: only this function writes it, and a refresh there would take the host_load
-- lock before the disk's, the reverse of a direct disk edit.
CREATE FUNCTION host_allocations_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE host_capacity SET used_cpu = used_cpu - OLD.cpu, used_memory = used_memory - OLD.memory,
               allocations = allocations - 1
         WHERE host_id = OLD.host_id;
        UPDATE host_disks SET used = used - OLD.disk WHERE id = OLD.disk_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE host_capacity SET used_cpu = used_cpu + NEW.cpu, used_memory = used_memory + NEW.memory,
               allocations = allocations + 1
         WHERE host_id = NEW.host_id;
        UPDATE host_disks SET used = used + NEW.disk WHERE id = NEW.disk_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER host_allocations_totals AFTER INSERT OR UPDATE OR DELETE ON host_allocations
    FOR EACH ROW EXECUTE FUNCTION host_allocations_totals();

-- host_load follows its host's region and every input of the calculated load: the host's cores,
-- memory and load factors, and its disks' size, use and enabled flag (an allocation changes
-- host_capacity and then a disk, so the disk's trigger covers it). Heartbeats rewrite hosts rows
-- often: only real changes count.
CREATE FUNCTION host_load_follow_host() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.region_id <> OLD.region_id THEN
        UPDATE host_load SET region_id = NEW.region_id WHERE host_id = NEW.id;
    END IF;
    PERFORM host_load_refresh(NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER hosts_load
    AFTER UPDATE OF region_id, cpu, memory, load_cpu, load_memory, load_disk ON hosts
    FOR EACH ROW
    WHEN ((OLD.region_id, OLD.cpu, OLD.memory, OLD.load_cpu, OLD.load_memory, OLD.load_disk)
          IS DISTINCT FROM
          (NEW.region_id, NEW.cpu, NEW.memory, NEW.load_cpu, NEW.load_memory, NEW.load_disk))
    EXECUTE FUNCTION host_load_follow_host();

CREATE FUNCTION host_load_follow_disk() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM host_load_refresh(OLD.host_id);
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM host_load_refresh(NEW.host_id);
    ELSIF TG_OP = 'UPDATE' AND NEW.host_id <> OLD.host_id THEN
        PERFORM host_load_refresh(NEW.host_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER host_disks_load_rows AFTER INSERT OR DELETE ON host_disks
    FOR EACH ROW EXECUTE FUNCTION host_load_follow_disk();
CREATE TRIGGER host_disks_load AFTER UPDATE OF host_id, size, used, enabled ON host_disks
    FOR EACH ROW
    WHEN ((OLD.host_id, OLD.size, OLD.used, OLD.enabled)
          IS DISTINCT FROM (NEW.host_id, NEW.size, NEW.used, NEW.enabled))
    EXECUTE FUNCTION host_load_follow_disk();

-- The scheduler reads a region's hosts (or all of them) when nothing on its short list fits.
CREATE INDEX hosts_region ON hosts (region_id);
