"""`python -m api.evaluation.bench_postgres --chunks N --database-url URL --json` (`make bench-postgres`).

The PostgreSQL engine at scale, and how its vector index was chosen. Loads (once per N, in its
own space) N passages made by ``scale_data`` (real texts and real-like vectors, see there), then
for each vector index asked for (exact scan, HNSW on ``vector``, HNSW on ``halfvec``) builds the
index on the same table and measures with the product's own ranking: dense recall@10 against
exact search, latency p50/p95 (query embedding excluded) for dense, lexical, hybrid, filtered
hybrid and find-similar (30 documents), and bytes per passage on disk (table, text, GIN and vector
index). Lexical search is measured once more against exact BM25 (its candidate budget off):
recall@10 and recall at the depth hybrid search asks for. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from api.evaluation import scale_data
from api.evaluation.bench_scale import SHARED, PrecomputedQueries, _similar, _timed
from ingest.embedding import EmbeddingCache
from search.embedders import load_embedder
from search.engines import Place, open_live
from search.pg import ranking
from search.pg.engine import PgEngine
from search.pg.generations import VECTOR_INDEXES
from search.retrieval import search
from search.types import Filters

MODEL = "use-multilingual"
QUERIES = 50
SIMILAR_QUERIES = 30
BATCH_CHUNKS = 2000
VARIANTS = ("exact", "hnsw", "hnsw-halfvec")
LEXICAL_DEPTH = 200  # what search() asks each ranking for at k = 10
# IVFFlat needs the data to place its lists (pgvector: rows / 1000 lists up to 1M rows), so it is
# built after the load; generations made empty and filled by writes use HNSW.
IVFFLAT = "CREATE INDEX ON {schema}.chunks USING ivfflat ((vector::halfvec({dim})) halfvec_ip_ops) WITH (lists = {lists});"


def load(place: Place, chunks: int, cache: EmbeddingCache, pool_size: int) -> PgEngine:
    """The bench space's live generation, filled with `chunks` passages on first use."""
    model = load_embedder(MODEL)
    index = open_live(place, model, create=True)
    assert isinstance(index, PgEngine)
    if index.catalog.get_meta("bench_loaded") == str(chunks):
        return index
    with index.db.write() as conn:  # load without a vector index; each variant is built afterwards
        conn.execute(f"DROP INDEX IF EXISTS {index.schema}.chunks_vector_idx")
    pool = scale_data.load_pool(SHARED / "corpus", model, cache, pool_size)
    started = time.perf_counter()
    for batch in scale_data.batches(scale_data.documents(pool, chunks), BATCH_CHUNKS):
        index.put(batch)
    with index.db.primary() as conn:  # what an operator runs after a bulk load: statistics, visibility map
        conn.autocommit = True
        try:
            conn.execute(f"VACUUM (ANALYZE) {index.schema}.documents, {index.schema}.chunks")
        finally:
            conn.autocommit = False
    index.catalog.set_meta("bench_loaded", str(chunks))
    index.catalog.set_meta("bench_load_s", f"{time.perf_counter() - started:.1f}")
    return index


def build_vector_index(index: PgEngine, kind: str) -> tuple[PgEngine, float]:
    started = time.perf_counter()
    with index.db.write() as conn:
        conn.execute(f"DROP INDEX IF EXISTS {index.schema}.chunks_vector_idx")
        conn.execute("SET LOCAL maintenance_work_mem = '4GB'")  # the graph of 1M passages fits
        ddl = {**VECTOR_INDEXES, "ivfflat-halfvec": IVFFLAT}[kind].format(
            schema=index.schema, dim=index.generation.dim, lists=max(index.catalog.count_chunks() // 1000, 10)
        )
        if ddl:
            conn.execute(ddl.replace("CREATE INDEX ON", "CREATE INDEX chunks_vector_idx ON").encode())
    with index.db.primary() as conn:
        conn.execute(f"ANALYZE {index.schema}.chunks")
    engine = PgEngine(index.db, replace(index.generation, vector_index=kind), index.embedder)
    return engine, time.perf_counter() - started


def disk_bytes(index: PgEngine) -> dict[str, int]:
    with index.db.primary() as conn:
        rows = conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid), pg_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'i')",
            (index.schema,),
        ).fetchall()
    sizes = {str(name): int(own) for name, _, own in rows}
    total = sum(int(t) for name, t, _ in rows if not str(name).endswith(("_idx", "_pkey", "_key")))
    return {"total": total, "vector_index": sizes.get("chunks_vector_idx", 0),
            "gin": sum(v for k, v in sizes.items() if "tsv" in k)}  # fmt: skip


def measure(index: PgEngine, kind: str, questions: list[str], exact: list[set[int]]) -> dict[str, Any]:
    engine, build_s = build_vector_index(index, kind)
    engine._embedder = PrecomputedQueries(index.embedder, questions)  # query embedding excluded
    queries = [engine.embedder.embed_query(q) for q in questions]
    everything = Filters(current_only=False)
    found = [{i for i, _ in engine.dense_search(q, everything, 10)} for q in queries]
    recall = float(np.mean([len(f & e) / 10 for f, e in zip(found, exact, strict=True)]))
    province = Filters(provinces=("Gelderland",))
    timings = {
        mode: _timed([partial(search, engine, q, k=10, mode=mode) for q in questions])
        for mode in ("dense", "lexical", "hybrid")
    }
    timings["hybrid_filtered"] = _timed([partial(search, engine, q, province, k=10) for q in questions])
    # find-similar (default recipe, k=10 as the pages ask) from 30 indexed documents, fixed by seed
    docs = random.Random(7).sample(
        engine.catalog.document_ids(), min(SIMILAR_QUERIES, engine.catalog.count_documents())
    )
    timings["similar"] = _timed([partial(_similar, engine, d) for d in docs])
    chunks = engine.catalog.count_chunks()
    disk = disk_bytes(engine)
    return {"vector_index": kind, "index_build_s": round(build_s, 1), "recall@10": round(recall, 4),
            "query_ms": timings, "bytes_per_passage": round(disk["total"] / chunks, 1),
            "vector_index_bytes_per_passage": round(disk["vector_index"] / chunks, 1)}  # fmt: skip


def lexical_recall(index: PgEngine, questions: list[str]) -> dict[str, Any]:
    """The budgeted lexical search against exact BM25, over all passages and with a filter."""
    out: dict[str, Any] = {"budget": ranking.CANDIDATE_BUDGET}
    for name, filters in (
        ("all", Filters(current_only=False)),
        ("province", Filters(provinces=("Gelderland",))),
    ):
        at10, deep, exact_ms = [], [], []
        with index.db.read() as conn:
            for q in questions:
                started = time.perf_counter()
                exact = ranking.lexical(conn, index.schema, q, filters, LEXICAL_DEPTH, budget=None)
                exact_ms.append(1000 * (time.perf_counter() - started))
                found = ranking.lexical(conn, index.schema, q, filters, LEXICAL_DEPTH)
                at10.append(_overlap(found[:10], exact[:10]))
                deep.append(_overlap(found, exact))
        out[name] = {"recall@10": round(float(np.mean(at10)), 4), f"recall@{LEXICAL_DEPTH}": round(float(np.mean(deep)), 4),
                     "exact_ms_p50": round(float(np.percentile(exact_ms, 50)), 1)}  # fmt: skip
    return out


def _overlap(found: list[tuple[int, float]], exact: list[tuple[int, float]]) -> float:
    return len({i for i, _ in found} & {i for i, _ in exact}) / len(exact) if exact else 1.0


def run(
    database_url: str, chunks: int, cache_dir: Path, pool_size: int = scale_data.POOL,
    variants: Sequence[str] = VARIANTS,
) -> dict[str, Any]:  # fmt: skip
    place = Place(cache_dir, database_url, space=f"bench/{chunks}")
    index = load(place, chunks, EmbeddingCache(cache_dir / "embedding-cache.sqlite"), pool_size)
    lines = (SHARED / "eval" / "vac-questions" / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["text"] for line in lines[:QUERIES]]
    vectors = [index.embedder.embed_query(q) for q in questions]
    exact_engine, _ = build_vector_index(index, "exact")
    exact = [{i for i, _ in exact_engine.dense_search(v, Filters(current_only=False), 10)} for v in vectors]
    measured = [measure(index, kind, questions, exact) for kind in variants]
    if list(variants)[-1:] != [index.generation.vector_index]:  # leave the index its generation names
        build_vector_index(index, index.generation.vector_index)
    lexical = lexical_recall(index, questions)
    load_s = float(index.catalog.get_meta("bench_load_s") or 0)
    index.close()
    method = f"{scale_data.METHOD}; a pool of {pool_size} real passages"
    return {"chunks": chunks, "load_s": load_s, "variants": measured, "lexical": lexical, "method": method}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench_postgres", description=__doc__)
    p.add_argument("--chunks", type=int, required=True)
    p.add_argument("--database-url", required=True)
    p.add_argument(
        "--pool", type=int, default=scale_data.POOL, help="real passages the vectors are made from"
    )
    p.add_argument("--variants", default=",".join(VARIANTS), help="vector indexes measured, comma-separated")
    p.add_argument("--data-dir", type=Path, default=Path("data/bench-postgres"), help="embedding cache")
    args = p.parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    print(json.dumps(run(args.database_url, args.chunks, args.data_dir, args.pool, args.variants.split(","))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
