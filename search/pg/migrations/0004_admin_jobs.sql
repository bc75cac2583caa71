-- Admin jobs (ingest, reindex, harvest, embed) started on any API node or CLI: the records that
-- `GET /admin/jobs`, the beheer page and `schutting jobs` show on every node (api.jobs.pg_store).
-- The node that received a job runs it and renews heartbeat_at while it is unfinished; a job whose
-- heartbeat is older than its lease (its process died: kill -9, power loss) is marked failed
-- ("interrupted") by whichever node looks next. Times are the database's clock, so hosts need
-- not agree on the time. (`jobs`/`job_units` of 0002 are the worker queue, not these.)
CREATE TABLE admin_jobs (
    id bigserial PRIMARY KEY,
    space text NOT NULL,
    kind text NOT NULL,
    state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    params jsonb NOT NULL DEFAULT '{}',
    node text NOT NULL,                   -- host:data dir of the process that recorded it
    host text NOT NULL,
    pid integer,                          -- the process running it; NULL while queued
    total bigint,
    done bigint NOT NULL DEFAULT 0,
    added bigint NOT NULL DEFAULT 0,
    updated bigint NOT NULL DEFAULT 0,
    failed bigint NOT NULL DEFAULT 0,
    skipped bigint NOT NULL DEFAULT 0,
    removed bigint NOT NULL DEFAULT 0,
    chunks bigint NOT NULL DEFAULT 0,
    current text NOT NULL DEFAULT '',
    error text NOT NULL DEFAULT '',
    result jsonb NOT NULL DEFAULT '{}',
    rerun_of bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    lease_s double precision NOT NULL CHECK (lease_s > 0)
);
CREATE INDEX admin_jobs_recent ON admin_jobs (space, id DESC);
CREATE INDEX admin_jobs_unfinished ON admin_jobs (space, id) WHERE state IN ('queued', 'running');

CREATE TABLE admin_job_errors (
    id bigserial PRIMARY KEY,
    job_id bigint NOT NULL REFERENCES admin_jobs (id) ON DELETE CASCADE,
    source text NOT NULL,
    reason text NOT NULL
);
CREATE INDEX admin_job_errors_job ON admin_job_errors (job_id, id);
