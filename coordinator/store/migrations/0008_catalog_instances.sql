-- The customer catalog (compute plans and OS images, Suble GET /plans and /images) and the
-- instances customers order from it. An instance row is created together with its
-- instance.create job; the job places it on a host (host_allocations), has the host's agent
-- define and start the VM, and marks it running. Deleted instances keep their row (deleted_at).
CREATE TABLE plans (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid               text    NOT NULL UNIQUE CHECK (uid LIKE 'pln\_%'),
    code              text    NOT NULL UNIQUE CHECK (code <> ''),
    name              text    NOT NULL CHECK (name <> ''),
    family            text    NOT NULL CHECK (family <> ''),
    vcpu              integer NOT NULL CHECK (vcpu > 0),
    memory_mb         integer NOT NULL CHECK (memory_mb > 0),
    disk_gb           integer NOT NULL CHECK (disk_gb > 0),
    network_mbps      integer NOT NULL CHECK (network_mbps > 0),
    -- Integer øre excluding VAT.
    price_monthly_ore bigint  NOT NULL CHECK (price_monthly_ore >= 0),
    price_hourly_ore  bigint  NOT NULL CHECK (price_hourly_ore >= 0),
    active            boolean NOT NULL DEFAULT true,
    sort              integer NOT NULL DEFAULT 0
);

-- source_pool/source_volume: the volume each host keeps the image in, which the agent clones
-- (an overlay) into the instance's root disk; source_url says where operators fetch it from.
CREATE TABLE os_images (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid             text    NOT NULL UNIQUE CHECK (uid LIKE 'img\_%'),
    family          text    NOT NULL CHECK (family <> ''),
    version         text    NOT NULL CHECK (version <> ''),
    display_name    text    NOT NULL CHECK (display_name <> ''),
    protocol        text    NOT NULL DEFAULT 'ssh' CHECK (protocol IN ('ssh', 'rdp')),
    default_user    text    NOT NULL CHECK (default_user <> ''),
    min_disk_gb     integer NOT NULL DEFAULT 10 CHECK (min_disk_gb > 0),
    has_guest_agent boolean NOT NULL DEFAULT true,
    active          boolean NOT NULL DEFAULT true,
    source_pool     text    NOT NULL CHECK (source_pool <> ''),
    source_volume   text    NOT NULL CHECK (source_volume <> ''),
    source_url      text
);

INSERT INTO plans (uid, code, name, family, vcpu, memory_mb, disk_gb, network_mbps,
                   price_monthly_ore, price_hourly_ore, sort) VALUES
    ('pln_bxs1', 'bxs-1', 'BXS 1', 'bxs', 1, 2048, 40, 10000, 4000, 6, 10),
    ('pln_bxs24', 'bxs-2-4', 'BXS 2-4', 'bxs', 2, 4096, 80, 10000, 8000, 11, 20),
    ('pln_bxs48', 'bxs-4-8', 'BXS 4-8', 'bxs', 4, 8192, 160, 10000, 16000, 22, 30);

INSERT INTO os_images (uid, family, version, display_name, protocol, default_user, min_disk_gb,
                       has_guest_agent, source_pool, source_volume, source_url) VALUES
    ('img_ubuntu2404', 'ubuntu', '24.04', 'Ubuntu 24.04 LTS', 'ssh', 'ubuntu', 10, true,
     'images', 'ubuntu-24.04.qcow2',
     'https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img'),
    ('img_debian12', 'debian', '12', 'Debian 12', 'ssh', 'debian', 10, true,
     'images', 'debian-12.qcow2',
     'https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2');

CREATE TABLE instances (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid            text        NOT NULL UNIQUE CHECK (uid LIKE 'ins\_%'),
    project_id     bigint      NOT NULL REFERENCES projects (id),
    name           text        NOT NULL CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$'),
    plan_id        bigint      NOT NULL REFERENCES plans (id),
    image_id       bigint      NOT NULL REFERENCES os_images (id),
    status         text        NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued', 'installing', 'running', 'stopped', 'error',
                                     'deleting', 'deleted')),
    power_state    text        NOT NULL DEFAULT 'stopped'
                   CHECK (power_state IN ('running', 'stopped', 'unknown')),
    backup_tier    text        NOT NULL DEFAULT 'none'
                   CHECK (backup_tier IN ('none', 'basic', 'extended')),
    error_code     text,
    error_message  text,
    host_id        bigint      REFERENCES hosts (id),
    allocation_id  bigint,     -- host_allocations.id while the instance holds a reservation
    libvirt_uuid   uuid        NOT NULL,
    mac            text        NOT NULL,
    ssh_keys_snapshot jsonb    NOT NULL DEFAULT '[]',
    -- Sealed with the coordinator's secret box (auth_keys); null once acknowledged.
    root_password  bytea,
    created_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz,
    CHECK ((status = 'deleted') = (deleted_at IS NOT NULL))
);
CREATE UNIQUE INDEX instances_active_name ON instances (project_id, name) WHERE deleted_at IS NULL;
CREATE INDEX instances_by_project ON instances (project_id, id) WHERE deleted_at IS NULL;
