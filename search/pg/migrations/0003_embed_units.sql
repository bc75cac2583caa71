-- The embed job's units (ingest.unit_tables): ranges of a generation's pending chunk ids, claimed
-- with FOR UPDATE SKIP LOCKED by workers on any host and leased on the database's clock. They go
-- with their generation when it is dropped.
CREATE TABLE embed_units (
    generation text NOT NULL REFERENCES generations (name) ON DELETE CASCADE,
    id integer NOT NULL,
    first_chunk bigint NOT NULL,   -- the pending chunks with ids first_chunk..last_chunk
    last_chunk bigint NOT NULL,
    passages integer NOT NULL,
    state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'embedded', 'applied')),
    worker text NOT NULL DEFAULT '',
    lease_until timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    PRIMARY KEY (generation, id)
);
CREATE INDEX embed_units_open ON embed_units (generation, id) WHERE state IN ('queued', 'running');
