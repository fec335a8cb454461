-- Project members (Suble /projects/{p}/members): existing accounts added to a project by email,
-- matched by email when changed or removed. The owner is not a row here: projects.owner_user_id
-- stays the one record of ownership (it can be neither removed nor demoted), and the API lists
-- the owner first with role "owner". Every other member has Suble's one member role; members are
-- added directly, so there is no pending invitation state.
CREATE TABLE project_members (
    project_id  bigint      NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        text        NOT NULL DEFAULT 'member' CHECK (role IN ('member')),
    invited_by  bigint      REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);
-- GET /projects and resolve_project look members up by user.
CREATE INDEX project_members_by_user ON project_members (user_id);
