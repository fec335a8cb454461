-- The per-instance firewall (Suble /projects/{p}/instances/{i}/firewall): ordered rules in the
-- Proxmox field syntax the customer API speaks. Positions are dense (1..n) per instance; a
-- reorder or a delete renumbers the others in one statement, which the deferrable unique
-- constraint allows. The API validates every field; the checks here only keep the shape.
-- A firewall.sync job pushes an instance's whole rule set to its host after every change.
CREATE TABLE firewall_rules (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid         text        NOT NULL UNIQUE CHECK (uid LIKE 'fwr\_%'),
    instance_id bigint      NOT NULL REFERENCES instances (id),
    position    integer     NOT NULL CHECK (position > 0),
    direction   text        NOT NULL CHECK (direction IN ('in', 'out')),
    action      text        NOT NULL CHECK (action IN ('ACCEPT', 'DROP', 'REJECT')),
    proto       text        CHECK (proto <> ''),
    source      text        CHECK (source <> ''),
    dest        text        CHECK (dest <> ''),
    sport       text        CHECK (sport <> ''),
    dport       text        CHECK (dport <> ''),
    comment     text        CHECK (comment <> ''),
    enabled     boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT firewall_rules_position UNIQUE (instance_id, position) DEFERRABLE INITIALLY IMMEDIATE
);
