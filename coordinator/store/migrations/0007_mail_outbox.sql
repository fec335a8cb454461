-- Outgoing mail. A row is added in the same transaction as the change it tells someone about, so
-- a rolled-back change never mails anyone; the mail sender delivers it over SMTP afterwards.
-- next_attempt_at is when a sender may next try it: NULL once it is sent or given up on (then
-- sent_at, or last_error, says which).
CREATE TABLE mail_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- No line breaks: these end up in message headers.
    to_address      text        NOT NULL CHECK (to_address <> '' AND to_address !~ '[\r\n]'),
    subject         text        NOT NULL CHECK (subject !~ '[\r\n]'),
    body            text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz DEFAULT now(),
    sent_at         timestamptz,
    last_error      text
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
