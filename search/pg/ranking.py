"""Searches inside PostgreSQL, filters applied in SQL before ranking.

- Dense: inner product on normalised vectors. A small allowed set (or a large k) is scanned
  exactly; otherwise the HNSW index answers with an iterative scan (pgvector >= 0.8), so a
  filter never leaves fewer than k hits while more matching chunks exist (and when the index
  scan stops early, the exact scan answers).
- Lexical: Okapi BM25 (Lucene's idf, k1 1.2, b 0.75, as the embedded engine's bm25s) over the
  ``dutch`` text-search configuration's stems, from statistics kept in step with every write.
- Profiles: centred cosine of document profiles, the corpus mean subtracted inside the query.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import psycopg

from search.pg.filters import where
from search.types import Filters

EXACT_LIMIT = 20_000  # allowed chunks up to which an exact scan beats the index
MAX_EF_SEARCH = 1000  # pgvector's limit; a larger k is answered exactly
IVFFLAT_PROBES = 32  # lists searched of an IVFFlat index (the embedded engine's IVF nprobe)
EF_SEARCH_MIN = 100  # recall@10 at 50k passages: 0.60 with pgvector's default 40, 0.80 with 100
K1, B = 1.2, 0.75


def dense(
    conn: psycopg.Connection, s: str, index: str, dim: int, vector: np.ndarray, filters: Filters, k: int
) -> list[tuple[int, float]]:
    allowed = _allowed_chunks(conn, s, *where(filters, s))
    if allowed == 0 or k <= 0:
        return []
    query = np.asarray(vector, dtype=np.float32).reshape(-1)
    cond, args = where(filters, s, on_chunks=True)
    base = (
        f"SELECT c.id, -(c.vector <#> %s) FROM {s}.chunks c "
        f"WHERE c.vector IS NOT NULL AND {cond}"  # pending chunks (no vector yet) are found by words only
    )
    if index != "exact" and allowed > EXACT_LIMIT and k <= MAX_EF_SEARCH:
        distance = (
            "c.vector <#> %s" if index == "hnsw" else f"c.vector::halfvec({dim}) <#> %s::halfvec({dim})"
        )
        with conn.transaction():
            if index.startswith("ivfflat"):  # built after a bulk load (make bench-postgres)
                conn.execute(f"SET LOCAL ivfflat.probes = {IVFFLAT_PROBES}")
                conn.execute("SET LOCAL ivfflat.iterative_scan = relaxed_order")
            else:
                conn.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH_MIN, int(k))}")
                conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            rows = conn.execute(f"{base} ORDER BY {distance} LIMIT %s", [query, *args, query, k]).fetchall()
        if len(rows) >= min(k, allowed):
            return _ordered(rows)
    exact = f"{base} ORDER BY (c.vector <#> %s) + 0, c.id LIMIT %s"
    return _ordered(conn.execute(exact, [query, *args, query, k]).fetchall())


def _allowed_chunks(conn: psycopg.Connection, s: str, cond: str, args: list[Any]) -> int:
    """Chunks the filters allow, counted exactly up to EXACT_LIMIT (past it, only "more": at 1M
    passages, summing over every document took longer than the index search)."""
    row = conn.execute(
        f"SELECT coalesce(sum(n), 0) FROM (SELECT d.chunk_count AS n FROM {s}.documents d "
        f"WHERE {cond} AND d.chunk_count > 0 LIMIT {EXACT_LIMIT + 1}) x",
        args,
    ).fetchone()
    return int(row[0]) if row else 0


def _ordered(rows: list[tuple[Any, ...]]) -> list[tuple[int, float]]:
    return sorted(((int(i), float(score)) for i, score in rows), key=lambda p: (-p[1], p[0]))


LEXICAL = """
WITH q(term, idf) AS (SELECT * FROM unnest(%s::text[], %s::float8[])),
cand AS (SELECT c.id, c.dl, c.tsv FROM {s}.chunks c WHERE c.tsv @@ %s::tsquery AND {cond} {limit})
SELECT cand.id, sum(q.idf * x.tf / (x.tf + %s * (1 - %s + %s * cand.dl / %s))) AS score
FROM cand
CROSS JOIN LATERAL (  -- the query's lexemes only: marked with weight A, then kept (5x faster than all)
    SELECT u.lexeme, array_length(u.positions, 1)::float8 AS tf
    FROM unnest(ts_filter(setweight(cand.tsv, 'A', %s::text[]), '{{a}}')) u
) x
JOIN q ON q.term = x.lexeme
GROUP BY cand.id ORDER BY score DESC, cand.id LIMIT %s
"""
SEED_FACTOR = 2  # passages scored per seed query: SEED_FACTOR * k
MAX_CLAUSES = 64  # minimal term sets in one candidate query; more: the essential terms' union
# The work a candidate query may cost, in posting-list entries the GIN index reads: an AND of
# terms reads about its rarest term's list once per term (the index skips through the longer
# ones), and each candidate it yields is scored. At 1M passages a list of 100k entries took
# ~15 ms to read and a candidate ~15 us to score, so this keeps a query near 30 ms.
CANDIDATE_BUDGET = 200_000
BUDGET_DEPTH = 200  # the k the budget is for (hybrid search's depth at k = 10)
SCORE_COST = 100  # one candidate scored, in posting entries read
MANY_TERMS = 8  # more query terms than a question has: a document as the query (find-similar)
RAISES = 19  # steps of raising the floor, each a twentieth of the way to the sum of all idf


def lexical(
    conn: psycopg.Connection,
    s: str,
    text: str,
    filters: Filters,
    k: int,
    budget: int | None = CANDIDATE_BUDGET,
) -> list[tuple[int, float]]:
    """BM25 top-k, reading only the passages that can reach it (MaxScore in SQL).

    A passage's score is below the sum of the idf of the query terms it holds (each term's tf
    part is < 1). So once any k passages are scored, the k-th best score ``theta`` is a floor for
    the top k, and only passages holding a set of query terms whose idf sum reaches ``theta`` can
    be in it. The seeds are passages holding all terms (then all but the most common one, ...);
    the candidates are the matches of the minimal term sets reaching ``theta``, a tsquery of
    ANDs under an OR that the GIN index answers. Exact while reading and scoring those sets'
    matches stays within CANDIDATE_BUDGET (by their terms' document frequencies); past it (a deep
    k of common words on a large corpus, where scoring every candidate took seconds) the floor is
    raised, so passages holding only low-idf terms are not read: approximate, and measured as
    lexical recall against exact BM25 (``budget=None``) by ``make bench-postgres``.
    """
    if k <= 0 or not text.strip():
        return []
    chunks, tokens = conn.execute(f"SELECT chunks, tokens FROM {s}.stats").fetchone() or (0, 0)
    terms = conn.execute(
        f"SELECT t.term, t.df FROM (SELECT DISTINCT unnest(tsvector_to_array(to_tsvector('dutch', %s)))) u(term) "
        f"JOIN {s}.terms t ON t.term = u.term WHERE t.df > 0 ORDER BY t.df, t.term",
        (text,),
    ).fetchall()
    if not terms or not chunks:
        return []
    names = [str(t) for t, _ in terms]  # rarest first
    df = [int(d) for _, d in terms]
    idf = [math.log(1 + (chunks - d + 0.5) / (d + 0.5)) for d in df]
    cond, args = where(filters, s, on_chunks=True)
    avgdl = max(tokens / chunks, 1e-9)

    def scored(tsquery: str, limit: int | None, top: int) -> list[tuple[int, float]]:
        sql = LEXICAL.format(s=s, cond=cond, limit=f"LIMIT {int(limit)}" if limit else "")
        rows = conn.execute(sql, [names, idf, tsquery, *args, K1, B, B, avgdl, names, top]).fetchall()
        return [(int(i), float(score)) for i, score in rows]

    def holding(held: int) -> int:  # passages holding the `held` rarest terms, counted up to k
        sql = f"SELECT count(*) FROM (SELECT 1 FROM {s}.chunks c WHERE c.tsv @@ %s::tsquery AND {cond} LIMIT %s) x"
        row = conn.execute(sql, [_all_of(names[:held]), *args, k]).fetchone()
        return int(row[0]) if row else 0

    theta = 0.0
    many = len(names) > MANY_TERMS
    if not many:  # seeds: passages holding all terms, then all but the most common one, ...
        for held in range(len(names), 0 if len(names) > 1 else 1, -1):
            seeds = scored(_all_of(names[:held]), SEED_FACTOR * k, k)
            if len(seeds) >= k:
                theta = seeds[-1][1]
                break
    else:  # the same seeds for many words: a binary search of counts, then one scored query
        low, high, best = 1, len(names), 0
        while low <= high:
            held = (low + high + 1) // 2
            if holding(held) >= k:
                best, low = held, held + 1
            else:
                high = held - 1
        seeds = scored(_all_of(names[:best]), SEED_FACTOR * k, k) if best else []
        theta = seeds[-1][1] if len(seeds) >= k else 0.0
    # a deeper ranking (find-similar asks LEXICAL_DEPTH = 300 passages) may read more, in proportion
    scaled = None if budget is None else budget * max(1.0, k / BUDGET_DEPTH)
    clauses, raised = _within_budget(idf, df, chunks, theta, scaled)
    # A raised floor can leave the ranking short or empty: many rare words, as find-similar's, that
    # no passage holds together past a few (half its rankings were empty at 1M passages). Then the
    # passages holding the rarest terms whose lists fit the budget are candidates too, scored
    # exactly on all the query's terms: with many words at once (a clause holding such a term is
    # covered by it); for a question only when its raised floor found fewer than k.
    rare = _rarest_within(df, scaled / (1 + SCORE_COST), k) if raised and scaled is not None else []
    if many and rare:
        clauses = [[i] for i in rare] + [c for c in clauses if not set(c) & set(rare)]
    found = scored(_any_of(names, clauses), None, k)
    if len(found) >= k or not rare or many:
        return found
    merged = dict(found)
    merged.update(scored(_any_of(names, [[i] for i in rare]), None, k))
    return _ordered(list(merged.items()))[:k]


def _any_of(names: list[str], clauses: list[list[int]]) -> str:
    """A tsquery: any of the clauses, each an AND of its terms."""
    return " | ".join("(" + _all_of([names[i] for i in c]) + ")" for c in clauses)


def _all_of(terms: list[str]) -> str:
    """A tsquery: all of the terms."""
    return " & ".join(_quoted(t) for t in terms)


def _rarest_within(df: list[int], entries: float, k: int) -> list[int]:
    """The rarest terms (df ascending, as the terms are ordered) whose posting lists together hold
    at most ``entries`` entries, or, past that, just enough to hold k passages."""
    chosen: list[int] = []
    total = 0
    for i, d in enumerate(df):
        if total >= k and total + d > entries:
            break
        chosen.append(i)
        total += d
    return chosen


def _within_budget(
    idf: list[float], df: list[int], chunks: int, theta: float, budget: float | None
) -> tuple[list[list[int]], bool]:
    """The term sets (indexes, terms by descending idf) a passage reaching `theta` holds one of,
    the floor raised while reading and scoring their matches would cost more than `budget`
    (``_cost``; None: never raised, exact); and whether it was raised."""
    if budget is None:
        return _covering_sets(idf, theta), False
    top = sum(idf)
    for step in range(RAISES + 1):
        clauses = _covering_sets(idf, theta + (top - theta) * step / (RAISES + 1))
        if _cost(clauses, df, chunks) <= budget:
            break
    return clauses, step > 0


def _cost(clauses: list[list[int]], df: list[int], chunks: int) -> float:
    """Posting entries read (each AND about its rarest list per term) plus the candidates
    scored (as if the terms occurred independently), for a candidate query."""
    read = sum(len(c) * min(df[i] for i in c) for c in clauses)
    found = sum(chunks * math.prod(df[i] / chunks for i in c) for c in clauses)
    return read + SCORE_COST * found


def _covering_sets(idf: list[float], theta: float) -> list[list[int]]:
    """The minimal term sets whose idf sum reaches `theta` (every term alone at 0), or, when they
    are more than MAX_CLAUSES, MaxScore's essential terms alone: all but the most common ones
    whose idf sum stays below `theta`."""
    floor = theta * (1 - 1e-9)
    after = [sum(idf[i:]) for i in range(len(idf) + 1)]
    sets: list[list[int]] = []

    def extend(chosen: list[int], total: float, start: int) -> bool:
        for i in range(start, len(idf)):
            if total + after[i] < floor:
                return True  # the remaining terms cannot reach theta
            if total + idf[i] >= floor:
                sets.append([*chosen, i])  # minimal: without its last (smallest) term it falls short
                if len(sets) > MAX_CLAUSES:
                    return False
            elif not extend([*chosen, i], total + idf[i], i + 1):
                return False
        return True

    if extend([], 0.0, 0):
        return sets
    common = 0
    while common < len(idf) and after[len(idf) - common - 1] < floor:
        common += 1
    return [[i] for i in range(len(idf) - common)]


def _quoted(term: str) -> str:
    """A stem as a tsquery operand (already normalised: no further stemming)."""
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


PROFILES = """
SELECT p.doc_id, {score} AS score
FROM {s}.profiles p JOIN {s}.documents d ON d.id = p.doc_id
WHERE {cond} ORDER BY score DESC, p.doc_id LIMIT %s
"""
# the centred cosine of a normalised raw profile p with the query q, for the centring mean m:
# (p.q - m.q) / |p - m|, with |p - m|^2 = 1 - 2 p.m + m.m (<#> is the negative inner product)
CENTRED = "(-(p.vector <#> %s) - %s) / sqrt(greatest(1 + 2 * (p.vector <#> %s) + %s, 1e-12))"


def profiles(
    conn: psycopg.Connection, s: str, profile: np.ndarray, by_type: dict[str, np.ndarray], overall: np.ndarray,
    filters: Filters, k: int,
) -> list[tuple[str, float]]:  # fmt: skip
    """Documents whose centred profile (raw profile minus the mean of its type, ``overall`` for a
    type not in ``by_type``, normalised) is nearest ``profile``."""
    if k <= 0:
        return []
    q = np.asarray(profile, dtype=np.float32).reshape(-1)

    def centred(mean: np.ndarray) -> list[Any]:
        m = np.asarray(mean, dtype=np.float32).reshape(-1)
        return [q, float(q @ m), m, float(m @ m)]

    score, args = CENTRED, centred(overall)
    if by_type:
        types = sorted(by_type)
        score = (
            "CASE p.doc_type " + " ".join(f"WHEN %s THEN {CENTRED}" for _ in types) + f" ELSE {CENTRED} END"
        )
        args = [a for t in types for a in (t, *centred(by_type[t]))] + args
    cond, cond_args = where(filters, s)
    rows = conn.execute(PROFILES.format(s=s, cond=cond, score=score), [*args, *cond_args, k]).fetchall()
    return [(str(d), float(score)) for d, score in rows]


NEAREST_CHUNKS = """
SELECT doc_id, id, score FROM (
    SELECT c.doc_id, c.id, s.score,
           row_number() OVER (PARTITION BY c.doc_id ORDER BY s.score DESC, c.id) AS place
    FROM {s}.chunks c, LATERAL (SELECT coalesce(-(c.vector <#> %s), 0) AS score) s
    WHERE c.doc_id = ANY(%s)
) ranked WHERE place <= %s ORDER BY doc_id, place
"""


def nearest_chunks(
    conn: psycopg.Connection, s: str, doc_ids: list[str], vector: np.ndarray, per_doc: int
) -> list[tuple[str, int, float]]:
    """(doc id, chunk id, inner product) of each document's ``per_doc`` best chunks, best first."""
    q = np.asarray(vector, dtype=np.float32).reshape(-1)
    return conn.execute(NEAREST_CHUNKS.format(s=s), (q, doc_ids, per_doc)).fetchall()
