-- Jobs as rows, split into units that workers on any host take with FOR UPDATE SKIP LOCKED.
-- A unit is leased: a worker renews its lease while it works; a unit whose lease expired
-- (its worker died) goes back to the queue. Progress is the sum over units.
CREATE TABLE jobs (
    id bigserial PRIMARY KEY,
    kind text NOT NULL,
    space text NOT NULL,
    params jsonb NOT NULL,
    state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE TABLE job_units (
    id bigserial PRIMARY KEY,
    job_id bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    ordinal integer NOT NULL,
    params jsonb NOT NULL,
    state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    worker text,
    lease_until timestamptz,
    report jsonb,
    error text,
    UNIQUE (job_id, ordinal)
);
CREATE INDEX job_units_open ON job_units (id) WHERE state IN ('queued', 'running');
