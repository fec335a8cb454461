-- IP address management (LNVPS admin shapes): routers, the access policies that use them, the
-- operator's IP ranges per region, and the addresses assigned to instances from those ranges.
-- An assignment is live while deleted_at is null; a released one keeps its row (the cool-down
-- before reuse reads deleted_at). Allocation locks the range's row (SELECT ... FOR UPDATE), so
-- allocations in one range are serialised; the unique index on live addresses is the last word.
CREATE TABLE routers (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL CHECK (name <> ''),
    enabled    boolean     NOT NULL DEFAULT true,
    kind       text        NOT NULL CHECK (kind IN ('mikrotik', 'ovh_additional_ip')),
    url        text        NOT NULL CHECK (url <> ''),
    -- Sealed with the coordinator's secret box (auth/key_ring); never returned by the API.
    token      bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE access_policies (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL CHECK (name <> ''),
    kind       text        NOT NULL DEFAULT 'static_arp' CHECK (kind IN ('static_arp')),
    router_id  bigint      REFERENCES routers (id),
    interface  text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX access_policies_router ON access_policies (router_id) WHERE router_id IS NOT NULL;

CREATE TABLE ip_ranges (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cidr             cidr        NOT NULL UNIQUE,
    gateway          inet        NOT NULL CHECK (family(gateway) = family(cidr)),
    enabled          boolean     NOT NULL DEFAULT true,
    region_id        bigint      NOT NULL REFERENCES regions (id),
    reverse_zone_id  text,
    access_policy_id bigint      REFERENCES access_policies (id),
    allocation_mode  text        NOT NULL DEFAULT 'sequential'
                     CHECK (allocation_mode IN ('sequential', 'random', 'slaac_eui64')),
    use_full_range   boolean     NOT NULL DEFAULT false,
    -- Addresses never handed out (besides the gateway, and network and broadcast unless
    -- use_full_range).
    reserved         inet[]      NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- SLAAC addresses come from a /64 prefix and the instance's MAC.
    CHECK (allocation_mode <> 'slaac_eui64' OR (family(cidr) = 6 AND masklen(cidr) = 64)),
    -- One address belongs to at most one range, so "taken" never depends on which range asks.
    EXCLUDE USING gist (cidr inet_ops WITH &&)
);
CREATE INDEX ip_ranges_region ON ip_ranges (region_id, id);
CREATE INDEX ip_ranges_access_policy ON ip_ranges (access_policy_id)
    WHERE access_policy_id IS NOT NULL;

CREATE TABLE vm_ip_assignments (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id bigint      NOT NULL REFERENCES instances (id),
    ip_range_id bigint      NOT NULL REFERENCES ip_ranges (id),
    ip          inet        NOT NULL CHECK (host(ip)::inet = ip),  -- a host address, no prefix
    arp_ref     text,
    dns_forward text,
    dns_reverse text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);
CREATE UNIQUE INDEX vm_ip_assignments_live_ip ON vm_ip_assignments (ip) WHERE deleted_at IS NULL;
CREATE INDEX vm_ip_assignments_live_instance ON vm_ip_assignments (instance_id)
    WHERE deleted_at IS NULL;
CREATE INDEX vm_ip_assignments_live_range ON vm_ip_assignments (ip_range_id)
    WHERE deleted_at IS NULL;
-- Released addresses still cooling down are found by when they were released.
CREATE INDEX vm_ip_assignments_released ON vm_ip_assignments (deleted_at, ip)
    WHERE deleted_at IS NOT NULL;
