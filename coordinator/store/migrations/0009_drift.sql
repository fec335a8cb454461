-- What reconciliation finds when it compares a host's reported inventory (host_domains) with the
-- instances the database places on it. A finding stays open while it holds and is resolved (not
-- deleted) when a later comparison no longer sees it; nothing here is ever acted on by itself.
--   missing:   a settled instance (running or stopped, no job acting on it) whose domain is not on
--              its host; expected = the instance's status.
--   unmanaged: a domain on the host that no live instance there claims; observed = its state.
--   drift:     a settled instance whose domain's power state differs from its status.
CREATE TABLE drift_findings (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    host_id         bigint      NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    kind            text        NOT NULL CHECK (kind IN ('missing', 'unmanaged', 'drift')),
    domain_uuid     text        NOT NULL,
    instance_id     bigint      REFERENCES instances (id),
    resource_name   text        NOT NULL,
    expected        text,
    observed        text,
    detected_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz,
    acknowledged_by bigint      REFERENCES users (id) ON DELETE SET NULL,
    acknowledged_at timestamptz
);
CREATE UNIQUE INDEX drift_findings_open ON drift_findings (host_id, kind, domain_uuid)
    WHERE resolved_at IS NULL;
CREATE INDEX drift_findings_recent ON drift_findings (id DESC);
