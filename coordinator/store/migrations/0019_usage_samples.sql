-- Usage samples the agents push (metrics messages), written in batches with COPY:
--   vm_samples:   one row per domain per sample, keyed by the domain's uuid (instances.libvirt_uuid)
--                 and the host that reported it. Counters are cumulative, as the hypervisor keeps
--                 them; rates are differences between rows (a drop means the domain restarted).
--   host_samples: one row per host per sample.
-- No foreign keys: a sample outlives nothing it names, and checking each of thousands of rows a
-- second would cost more than it protects. Rows older than fleet.samples.retention are pruned.
CREATE TABLE vm_samples (
    at          timestamptz NOT NULL,
    host_id     integer     NOT NULL,
    vm_uuid     uuid        NOT NULL,
    cpu_percent real        NOT NULL,
    memory_used bigint      NOT NULL,
    disk_read   bigint      NOT NULL,
    disk_write  bigint      NOT NULL,
    net_rx      bigint      NOT NULL,
    net_tx      bigint      NOT NULL
);
CREATE INDEX vm_samples_by_vm ON vm_samples (vm_uuid, at);
-- Pruning by age without a second B-tree over the whole table.
CREATE INDEX vm_samples_by_age ON vm_samples USING brin (at);

CREATE TABLE host_samples (
    at           timestamptz NOT NULL,
    host_id      integer     NOT NULL,
    cpu_percent  real        NOT NULL,
    memory_used  bigint      NOT NULL,
    memory_total bigint      NOT NULL
);
CREATE INDEX host_samples_by_host ON host_samples (host_id, at);
