-- The fleet: regions, hypervisor hosts, agent enrollment and the commands sent to agents.
-- Column names follow the LNVPS admin document where it has them (hosts, regions).
CREATE TABLE regions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL CHECK (name <> ''),
    enabled    boolean     NOT NULL DEFAULT true,
    company_id bigint,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX regions_name_lower_key ON regions (lower(name));
-- A fresh install can enroll hosts at once.
INSERT INTO regions (name) VALUES ('default');

CREATE TABLE hosts (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name               text        NOT NULL CHECK (name <> ''),
    kind               text        NOT NULL DEFAULT 'libvirt' CHECK (kind IN ('libvirt', 'proxmox')),
    region_id          bigint      NOT NULL REFERENCES regions (id),
    ip                 text        NOT NULL DEFAULT '',
    cpu                integer     NOT NULL DEFAULT 0 CHECK (cpu >= 0),
    memory             bigint      NOT NULL DEFAULT 0 CHECK (memory >= 0),
    enabled            boolean     NOT NULL DEFAULT true,
    load_cpu           numeric(6, 3) NOT NULL DEFAULT 1.0 CHECK (load_cpu > 0),
    load_memory        numeric(6, 3) NOT NULL DEFAULT 1.0 CHECK (load_memory > 0),
    load_disk          numeric(6, 3) NOT NULL DEFAULT 1.0 CHECK (load_disk > 0),
    vlan_id            integer,
    -- What the fleet link knows: connection state, the agent's last facts, who holds the link.
    state              text        NOT NULL DEFAULT 'pending'
                       CHECK (state IN ('pending', 'online', 'unreachable', 'down')),
    facts              jsonb       NOT NULL DEFAULT '{}',
    agent_version      text,
    last_seen_at       timestamptz,
    connected_instance text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX hosts_name_lower_key ON hosts (lower(name));

-- Single-use enrollment tokens; only a SHA-256 of the token is stored.
CREATE TABLE join_tokens (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    region_id   bigint      NOT NULL REFERENCES regions (id),
    token_hash  text        NOT NULL UNIQUE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    host_id     bigint      REFERENCES hosts (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Every certificate issued to an agent, so one can be revoked before it expires.
CREATE TABLE host_certificates (
    serial      text PRIMARY KEY,
    host_id     bigint      NOT NULL REFERENCES hosts (id),
    not_before  timestamptz NOT NULL,
    not_after   timestamptz NOT NULL,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX host_certificates_host ON host_certificates (host_id);

-- Commands for agents: delivered at least once, executed once (the agent journals their ids).
CREATE TABLE commands (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    host_id      bigint      NOT NULL REFERENCES hosts (id),
    kind         text        NOT NULL CHECK (kind <> ''),
    args         jsonb       NOT NULL DEFAULT '{}',
    state        text        NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'sent', 'running', 'completed', 'failed', 'expired', 'cancelled')),
    progress     jsonb,
    result       jsonb,
    error        jsonb,
    deadline     timestamptz NOT NULL,
    attempts     integer     NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE INDEX commands_open_by_host ON commands (host_id, created_at)
    WHERE state IN ('pending', 'sent', 'running');
