-- Durable background jobs. Workers claim rows with FOR UPDATE SKIP LOCKED and hold them by a lease;
-- a job whose worker died is taken again once the lease has expired (attempts counts the claims
-- and doubles as the fencing token: a worker whose lease was taken over matches no row any more).
-- A job is a sequence of steps: each completed step is recorded in job_steps in the same
-- transaction as the step's own database changes, so a job taken again resumes after its last
-- completed step, and compensation undoes exactly the steps that were done. Every change watchers
-- can see is a row in job_events, numbered per job, announced by NOTIFY vpsfleet_job_events with
-- the job id as payload. Both API views read these rows: the customer one (uid, type, status,
-- progress) and the admin one (job id, worker, Started/Progress/Completed/Failed/Cancelled).
CREATE TABLE jobs (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid                text        NOT NULL UNIQUE CHECK (uid LIKE 'job\_%'),
    kind               text        NOT NULL CHECK (kind <> ''),
    args               jsonb       NOT NULL DEFAULT '{}',
    state              text        NOT NULL DEFAULT 'pending'
                       CHECK (state IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    -- forward: running the steps in order; compensating: undoing the completed ones, newest
    -- first, after a failure or a cancellation (error says why).
    phase              text        NOT NULL DEFAULT 'forward'
                       CHECK (phase IN ('forward', 'compensating')),
    attempts           integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts       integer     NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    run_after          timestamptz NOT NULL DEFAULT now(),
    progress_step      integer,
    progress_total     integer,
    progress_percent   integer     CHECK (progress_percent BETWEEN 0 AND 100),
    progress_message   text,
    result             jsonb,
    error              jsonb,      -- {"code": ..., "message": ...}
    created_by_user_id bigint      REFERENCES users (id) ON DELETE SET NULL,
    project_id         bigint,
    target             text,       -- what the job acts on, e.g. an instance uid
    -- At most one open exclusive job per target (an operation already in progress is refused).
    exclusive          boolean     NOT NULL DEFAULT false,
    lease_owner        text,       -- the worker holding it
    lease_expires_at   timestamptz,
    cancel_requested   boolean     NOT NULL DEFAULT false,
    last_event_seq     bigint      NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now(),
    started_at         timestamptz,
    finished_at        timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
-- Claiming asks per kind, so every condition is an index condition and the first row in index
-- order is the answer: no sort of the whole queue, whatever the planner's statistics say.
CREATE INDEX jobs_claimable ON jobs (kind, run_after, id) WHERE state = 'pending';
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_by_project ON jobs (project_id, id) WHERE project_id IS NOT NULL;
CREATE INDEX jobs_by_target ON jobs (target, id) WHERE target IS NOT NULL;
CREATE UNIQUE INDEX jobs_one_open_exclusive_per_target ON jobs (target)
    WHERE exclusive AND state IN ('pending', 'running');

-- The steps a job has been through. started: the step saved a checkpoint while running (e.g. the
-- id of the fleet command it sent, so a retry waits for that command instead of sending another);
-- undo_checkpoint is the same for the step's compensation.
CREATE TABLE job_steps (
    job_id         bigint      NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step_index     integer     NOT NULL CHECK (step_index >= 0),
    name           text        NOT NULL,
    state          text        NOT NULL CHECK (state IN ('started', 'done', 'compensated')),
    checkpoint     jsonb,
    undo_checkpoint jsonb,
    checkpoint_at  timestamptz,
    output         jsonb,
    done_at        timestamptz,
    compensated_at timestamptz,
    PRIMARY KEY (job_id, step_index)
);

-- What watchers see, in order: queued, started, progress, retrying, requeued, cancel_requested,
-- compensating, completed, failed, cancelled.
CREATE TABLE job_events (
    job_id     bigint      NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq        bigint      NOT NULL,
    type       text        NOT NULL,
    data       jsonb       NOT NULL DEFAULT '{}',
    worker     text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, seq)
);
