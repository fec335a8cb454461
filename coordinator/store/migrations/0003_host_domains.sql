-- What each host's agent last reported running on it (its inventory), kept apart from the VMs the
-- database manages: the difference between the two is what reconciliation reports (VMs missing
-- from their host, domains nobody manages, state drift), and nothing here is ever acted on alone.
CREATE TABLE host_domains (
    host_id     bigint      NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    uuid        text        NOT NULL,
    name        text        NOT NULL,
    state       text        NOT NULL,
    config_hash text        NOT NULL,
    seen_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host_id, uuid)
);
