-- What the scheduler places VMs onto: each host's storage pools (LNVPS AdminHostDisk) and the
-- reservations taken on hosts (host_allocations; a reservation is released by deleting its row).
-- host_capacity holds each host's reserved totals, kept by triggers, and is the row a placement
-- locks: two placements onto one host are serialised there, and never overcommit it.
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

CREATE FUNCTION host_capacity_for_new_host() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO host_capacity (host_id) VALUES (NEW.id);
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
-- concurrent writers take the two row locks in the same order.
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

-- The scheduler reads a region's hosts (or all of them) on every placement.
CREATE INDEX hosts_region ON hosts (region_id);
