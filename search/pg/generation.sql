-- One generation's tables; {schema}, {dim} and {vector_index} are filled in by search/pg/generations.py.
-- Format version: GENERATION_FORMAT in that module (bump it with any change here that older
-- generations cannot follow; nullable chunk vectors are added to older ones by search/pg/pending.py).
CREATE SCHEMA {schema};
CREATE TABLE {schema}.documents (
    id text PRIMARY KEY,
    title text NOT NULL,
    municipality text NOT NULL DEFAULT '',
    municipality_code text NOT NULL DEFAULT '',
    province text NOT NULL DEFAULT '',
    doc_type text NOT NULL DEFAULT '',
    date text NOT NULL DEFAULT '',
    source text NOT NULL DEFAULT '',
    content_hash text NOT NULL DEFAULT '',
    work_id text NOT NULL DEFAULT '',
    valid_from text NOT NULL DEFAULT '',
    valid_to text NOT NULL DEFAULT '',
    version integer NOT NULL DEFAULT 0,
    is_current boolean NOT NULL DEFAULT true,
    text text NOT NULL,
    sections jsonb NOT NULL,
    extra jsonb NOT NULL DEFAULT '{{}}',
    chunk_count integer NOT NULL DEFAULT 0,
    added_at timestamptz NOT NULL DEFAULT now()
);
-- Filters and the allowed-chunk count read this narrow index instead of the wide rows (at 1M
-- passages the documents' seq scan took 15-50 ms per query; index-only: 4-12 ms).
CREATE INDEX documents_filters ON {schema}.documents (id)
    INCLUDE (is_current, chunk_count, municipality_code, province, doc_type, date, valid_from, valid_to);
CREATE INDEX ON {schema}.documents (municipality_code);
CREATE INDEX ON {schema}.documents (work_id);
CREATE INDEX ON {schema}.documents (source);
CREATE TABLE {schema}.legal_basis (
    doc_id text NOT NULL REFERENCES {schema}.documents (id) ON DELETE CASCADE,
    bwb text NOT NULL,
    artikel text NOT NULL DEFAULT ''
);
CREATE INDEX ON {schema}.legal_basis (bwb, artikel);
CREATE INDEX ON {schema}.legal_basis (doc_id);
CREATE TABLE {schema}.chunks (
    id bigserial PRIMARY KEY,
    doc_id text NOT NULL REFERENCES {schema}.documents (id) ON DELETE CASCADE,
    ordinal integer NOT NULL,
    text text NOT NULL,
    label text NOT NULL DEFAULT '',
    start_offset integer NOT NULL,
    end_offset integer NOT NULL,
    page integer,
    tsv tsvector NOT NULL,           -- title + label + text, Dutch snowball stems without stop words
    dl integer NOT NULL,             -- tokens in tsv: the BM25 document length
    vector vector({dim}),            -- NULL: pending (lexical-first ingest), found by words until embedded
    -- The document's filter columns, copied (is_current kept in step by writes): searches filter
    -- the passages they rank without joining documents (at 1M passages that join was the larger
    -- part of a filtered search: one index lookup per candidate, most of them rejected).
    municipality_code text NOT NULL DEFAULT '',
    province text NOT NULL DEFAULT '',
    doc_type text NOT NULL DEFAULT '',
    date text NOT NULL DEFAULT '',
    valid_from text NOT NULL DEFAULT '',
    valid_to text NOT NULL DEFAULT '',
    is_current boolean NOT NULL DEFAULT true
);
-- BM25 reads tsv of every candidate passage: kept in the row (not TOAST, where the vector and
-- the text go), so scoring does not fetch it from the TOAST table (at 1M passages 2.5 extra
-- buffer reads per candidate).
ALTER TABLE {schema}.chunks ALTER COLUMN tsv SET STORAGE MAIN;
CREATE INDEX ON {schema}.chunks (doc_id, ordinal);
CREATE INDEX chunks_pending ON {schema}.chunks (id) WHERE vector IS NULL;
CREATE INDEX ON {schema}.chunks USING gin (tsv);
{vector_index}
-- Mean of a document's leading chunk vectors (normalised), for find-similar.
CREATE TABLE {schema}.profiles (
    doc_id text PRIMARY KEY REFERENCES {schema}.documents (id) ON DELETE CASCADE,
    doc_type text NOT NULL DEFAULT '',
    vector vector({dim}) NOT NULL
);
-- Find-similar scans every profile: kept in the row, not out of line (a 512-d vector is 2 KB, just
-- over the TOAST threshold; out of line, the scan of 45k profiles read 262k buffers and took 180 ms,
-- in the row 68 ms).
ALTER TABLE {schema}.profiles ALTER COLUMN vector SET STORAGE MAIN;
-- BM25 statistics kept in step with chunks in every write transaction.
CREATE TABLE {schema}.terms (term text PRIMARY KEY, df integer NOT NULL);
CREATE TABLE {schema}.stats (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    chunks bigint NOT NULL DEFAULT 0,
    tokens bigint NOT NULL DEFAULT 0,
    revision bigint NOT NULL DEFAULT 0
);
INSERT INTO {schema}.stats DEFAULT VALUES;
CREATE TABLE {schema}.meta (key text PRIMARY KEY, value text NOT NULL);
