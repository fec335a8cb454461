-- LNVPS custom pricing models: a region's price list for VMs sized to order, and the custom
-- templates (sizes) priced by it. Amounts are integer minor units of the model's currency, as in
-- cost_plans (never a float): cpu_cost per core per month, memory_cost and disk cost per GB per
-- month where a GB is 2^30 bytes (plans convert disk_gb the same way), ip4/ip6_cost per address
-- per month. Sizes are bytes. billing/custom_pricing.hpp does the arithmetic.
-- A model custom templates use is disabled instead of deleted, so their prices stay readable.
CREATE TABLE custom_pricing (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    enabled     boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    -- A region with pricing models is disabled instead of deleted (admin region routes).
    region_id   bigint      NOT NULL REFERENCES regions (id),
    currency    char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    cpu_cost    bigint      NOT NULL CHECK (cpu_cost BETWEEN 0 AND 1000000000000),
    memory_cost bigint      NOT NULL CHECK (memory_cost BETWEEN 0 AND 1000000000000),
    ip4_cost    bigint      NOT NULL CHECK (ip4_cost BETWEEN 0 AND 1000000000000),
    ip6_cost    bigint      NOT NULL CHECK (ip6_cost BETWEEN 0 AND 1000000000000),
    min_cpu     integer     NOT NULL CHECK (min_cpu >= 1),
    max_cpu     integer     NOT NULL CHECK (max_cpu BETWEEN min_cpu AND 1024),
    min_memory  bigint      NOT NULL CHECK (min_memory >= 1),
    max_memory  bigint      NOT NULL CHECK (max_memory BETWEEN min_memory AND 1125899906842624)
);
CREATE INDEX custom_pricing_by_region ON custom_pricing (region_id, id);

-- What a GB of disk costs for one kind and interface, and the disk sizes offered for it.
CREATE TABLE custom_pricing_disk (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pricing_id    bigint NOT NULL REFERENCES custom_pricing (id) ON DELETE CASCADE,
    kind          text   NOT NULL CHECK (kind IN ('hdd', 'ssd')),
    interface     text   NOT NULL CHECK (interface IN ('sata', 'scsi', 'pcie')),
    cost          bigint NOT NULL CHECK (cost BETWEEN 0 AND 1000000000000),
    min_disk_size bigint NOT NULL CHECK (min_disk_size >= 1),
    max_disk_size bigint NOT NULL CHECK (max_disk_size BETWEEN min_disk_size AND 1125899906842624),
    UNIQUE (pricing_id, kind, interface)
);

CREATE TABLE custom_templates (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pricing_id     bigint      NOT NULL REFERENCES custom_pricing (id),
    cpu            integer     NOT NULL CHECK (cpu BETWEEN 1 AND 1024),
    memory         bigint      NOT NULL CHECK (memory >= 1),
    disk_size      bigint      NOT NULL CHECK (disk_size >= 1),
    disk_type      text        NOT NULL CHECK (disk_type IN ('hdd', 'ssd')),
    disk_interface text        NOT NULL CHECK (disk_interface IN ('sata', 'scsi', 'pcie')),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX custom_templates_by_pricing ON custom_templates (pricing_id, id);

-- The custom template a VM was sized by (LNVPS custom_template_id). Ordering VMs from custom
-- templates comes later; until then nothing sets it, and a template VMs name cannot be deleted.
ALTER TABLE instances ADD COLUMN custom_template_id bigint REFERENCES custom_templates (id);
CREATE INDEX instances_by_custom_template ON instances (custom_template_id)
    WHERE custom_template_id IS NOT NULL;
