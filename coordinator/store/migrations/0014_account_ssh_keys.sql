-- The SSH public keys a user keeps on their account (customer API /account/sshkeys). The
-- fingerprint is OpenSSH's SHA256 one, computed by the coordinator from the key's blob; a user
-- holds each key once.
CREATE TABLE account_ssh_keys (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid         text        NOT NULL UNIQUE,
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    public_key  text        NOT NULL CHECK (public_key <> ''),
    fingerprint text        NOT NULL CHECK (fingerprint ~ '^SHA256:[A-Za-z0-9+/]{43}$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, fingerprint)
);
