-- NIP-98 events already accepted (see coordinator/auth/nip98.hpp): each signed request is accepted
-- once. Events are only valid for a minute around their creation, so rows older than that are
-- pruned as new ones arrive.
CREATE TABLE nostr_auth_events (
    event_id text        PRIMARY KEY CHECK (event_id ~ '^[0-9a-f]{64}$'),
    seen_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX nostr_auth_events_seen ON nostr_auth_events (seen_at);
