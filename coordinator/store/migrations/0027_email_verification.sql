-- Email verification (Suble): sign-up mails a link with a single-use token, and ordering needs a
-- verified email. Only the token's SHA-256 is kept; `email` is the address the link went to, so
-- a token proves that mailbox and no other.
CREATE TABLE email_verification_tokens (
    token_hash text        PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      text        NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_verification_tokens_user_idx ON email_verification_tokens (user_id, created_at);

-- Accounts from before verification existed had no way to verify; they keep ordering as they did.
UPDATE users SET email_verified = true WHERE NOT email_verified;
