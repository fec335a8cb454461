-- Accounts, sessions, API keys, roles and the audit trail shared by both APIs.

-- Public identifiers ("usr_...") so ids never leak through the customer API.
ALTER TABLE users
    ADD COLUMN uid             text        NOT NULL DEFAULT 'usr_' || substr(md5(random()::text), 1, 16),
    ADD COLUMN fullname        text,
    ADD COLUMN country         text,
    ADD COLUMN language        text,
    ADD COLUMN email_verified  boolean     NOT NULL DEFAULT false,
    ADD COLUMN status          text        NOT NULL DEFAULT 'active'
                               CHECK (status IN ('active', 'suspended', 'deleted')),
    -- TOTP: the secret is sealed with the coordinator's key (it cannot be hashed); a pending
    -- secret becomes active on confirmation. The last accepted time step refuses replays.
    ADD COLUMN mfa_enabled     boolean     NOT NULL DEFAULT false,
    ADD COLUMN mfa_secret      bytea,
    ADD COLUMN mfa_pending     bytea,
    ADD COLUMN mfa_last_step   bigint;
CREATE UNIQUE INDEX users_uid_key ON users (uid);

-- Keys the coordinator signs access tokens and seals MFA secrets with, shared by every
-- coordinator process through the database.
CREATE TABLE auth_keys (
    name       text        PRIMARY KEY,
    secret     bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Rotating refresh tokens: each use retires the token and issues the next one in its family;
-- presenting a retired token again revokes the whole family (it was stolen or replayed).
CREATE TABLE refresh_tokens (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family      text        NOT NULL,
    token_hash  text        NOT NULL UNIQUE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family);

CREATE TABLE password_reset_tokens (
    token_hash text        PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mfa_recovery_codes (
    user_id   bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash text        NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- Customer projects; API keys are scoped to one.
CREATE TABLE projects (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid           text        NOT NULL UNIQUE,
    name          text        NOT NULL CHECK (name <> ''),
    owner_user_id bigint      NOT NULL REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Suble-style keys: the secret is shown once; only its SHA-256 and a 20-character prefix stay.
CREATE TABLE api_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid          text        NOT NULL UNIQUE,
    project_id   bigint      NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    prefix       text        NOT NULL,
    secret_hash  text        NOT NULL UNIQUE,
    permissions  bigint      NOT NULL CHECK (permissions >= 0),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_project_idx ON api_keys (project_id) WHERE revoked_at IS NULL;

-- Operator roles (LNVPS): named sets of "resource::action" permissions.
CREATE TABLE roles (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text        NOT NULL CHECK (name <> ''),
    description    text,
    is_system_role boolean     NOT NULL DEFAULT false,
    permissions    text[]      NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX roles_name_lower_key ON roles (lower(name));

CREATE TABLE user_roles (
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id     bigint      NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    assigned_by bigint      REFERENCES users (id) ON DELETE SET NULL,
    assigned_at timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    PRIMARY KEY (user_id, role_id)
);

INSERT INTO roles (name, description, is_system_role, permissions) VALUES
    ('super_admin', 'Every permission', true, ARRAY['*::*']),
    ('admin', 'Runs the business: everything except roles', true,
     ARRAY['users::*', 'virtual_machines::*', 'hosts::*', 'regions::*', 'vm_os_image::*',
           'vm_template::*', 'vm_custom_pricing::*', 'cost_plans::*', 'ip_range::*',
           'access_policy::*', 'router::*', 'company::*', 'payments::view', 'analytics::view',
           'roles::view', 'audit::view', 'jobs::*']),
    ('read_only', 'Sees everything, changes nothing', true, ARRAY['*::view']);

-- The operators created before roles existed keep full rights.
INSERT INTO user_roles (user_id, role_id)
SELECT u.id, r.id FROM users u, roles r WHERE u.is_admin AND r.name = 'super_admin';

-- Who changed what: written in the same transaction as every mutating request.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    bigint      REFERENCES users (id) ON DELETE SET NULL,
    actor_kind  text        NOT NULL CHECK (actor_kind IN ('user', 'api_key', 'system')),
    api_key_id  bigint,
    request_id  text,
    action      text        NOT NULL,
    target_type text        NOT NULL,
    target_id   text        NOT NULL,
    before      jsonb,
    after       jsonb
);
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id);

-- Idempotency-Key replays: one stored response per caller and key for 24 hours.
CREATE TABLE idempotency_keys (
    scope        text        NOT NULL,
    key          text        NOT NULL,
    request_hash text        NOT NULL,
    status       integer,
    content_type text,
    body         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
