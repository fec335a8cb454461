-- Address space a project owns: its colocation or IP transit prefixes, recorded by staff once
-- ownership is checked (admin /project_ip_ranges) and listed to the project's members (customer
-- GET /projects/{p}/ip-ranges). Not used for allocating VM addresses (that is ip_ranges). No
-- two projects may hold overlapping prefixes.
CREATE TABLE project_ip_ranges (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid         text        NOT NULL UNIQUE CHECK (uid LIKE 'ipr\_%'),
    project_id  bigint      NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    cidr        cidr        NOT NULL,
    description text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 200),
    source      text        NOT NULL CHECK (source IN ('colocation', 'transit')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    EXCLUDE USING gist (cidr inet_ops WITH &&)
);
CREATE INDEX project_ip_ranges_by_project ON project_ip_ranges (project_id);
