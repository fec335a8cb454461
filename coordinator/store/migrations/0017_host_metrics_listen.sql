-- Where each host's agent serves /metrics, as its last hello said, so the Prometheus targets the
-- coordinator publishes reach every agent on its own port. NULL until an agent reports it.
ALTER TABLE hosts ADD COLUMN metrics_listen text;
