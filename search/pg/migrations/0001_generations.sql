-- Generations: each is a schema of its own (documents, chunks, profiles, lexical statistics),
-- built beside the live one and made live in one transaction. A space is one index
-- (the product's "main", or an evaluation set's cached index), the way a data dir is one
-- for the embedded engine.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE generations (
    name text PRIMARY KEY,                      -- also the name of its schema
    space text NOT NULL,
    model_id text NOT NULL,
    dim integer NOT NULL CHECK (dim > 0),
    format_version integer NOT NULL,
    vector_index text NOT NULL,
    state text NOT NULL CHECK (state IN ('building', 'live', 'retired')),
    created_at timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz
);
CREATE UNIQUE INDEX generations_one_live ON generations (space) WHERE state = 'live';

-- Passage vectors by (model, sha1 of the passage text), shared by every generation and node.
CREATE TABLE embedding_cache (
    model text NOT NULL,
    key text NOT NULL,
    vector bytea NOT NULL,
    PRIMARY KEY (model, key)
);
