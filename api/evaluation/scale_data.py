"""Realistic passages for the scale bench: real texts varied, real metadata, real-like vectors.

Texts: passages of the shared corpora (bestemmingsplannen, CVDR, VAC), each synthetic passage
one real passage with a sentence of another passage of the same source spliced in. Metadata: all
active municipalities (ingest/reference), document
types by source, dates 2000-2025, and a share of CVDR-like regulations that come with an
older, superseded version. Vectors: a pool of real passages embedded with the fast model,
then per synthetic passage 0.8 x its base passage's vector + 0.2 x the spliced passage's
vector + Gaussian noise (sigma 0.25 / sqrt(dim)), normalised: the spread of real embeddings
(neighbourhoods around real passages), not uniform noise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.chunking import chunk
from ingest.cvdr import read_cvdr
from ingest.embedding import EmbeddingCache, embed_passages
from ingest.municipalities import load_municipalities
from search.embedders import Embedder, normalise
from search.types import Chunk, Document, Section

METHOD = (
    "texts: real passages of ../shared/corpus (bestemmingsplannen, cvdr, vac), each with one sentence "
    "of another passage of the same source spliced in; metadata: 342 "
    "active municipalities, types by source, dates 2000-2025, 15% of regulations with a superseded older "
    "version; vectors: real passages embedded with use-multilingual, per synthetic passage "
    "normalise(0.8 v_base + 0.2 v_spliced + N(0, 0.25/sqrt(dim)))"
)
POOL = 3000
SUPERSEDED_SHARE = 0.15
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Pool:
    texts: list[str]
    sources: list[str]  # "plan", "cvdr", "vac" per passage
    vectors: np.ndarray


def real_passages(corpus: Path, limit: int = POOL) -> tuple[list[str], list[str]]:
    """Up to `limit` real passages, a third from each source where it has that many."""
    per_source = {"plan": _jsonl_passages(corpus / "bestemmingsplannen" / "documents.jsonl", limit)}
    per_source["cvdr"] = [
        c.text for p in sorted((corpus / "cvdr").glob("CVDR*.xml")) for c in chunk(read_cvdr(p))
    ]
    per_source["vac"] = _jsonl_passages(corpus / "vac" / "corpus.jsonl", limit)
    texts: list[str] = []
    sources: list[str] = []
    share = limit // 3
    for name in ("cvdr", "vac", "plan"):
        taken = per_source[name][: max(share, limit - len(texts) - share * (name != "plan"))]
        texts += taken
        sources += [name] * len(taken)
    return texts[:limit], sources[:limit]


def _jsonl_passages(path: Path, limit: int) -> list[str]:
    out: list[str] = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            doc = Document(id=str(record.get("_id", "")), title=str(record.get("title", "")),
                           sections=(Section("", str(record.get("text", ""))),))  # fmt: skip
            out += [c.text for c in chunk(doc) if len(c.text) > 80]
            if len(out) >= limit:
                break
    return out


def load_pool(corpus: Path, embedder: Embedder, cache: EmbeddingCache, limit: int = POOL) -> Pool:
    texts, sources = real_passages(corpus, limit)
    return Pool(texts, sources, embed_passages(embedder, texts, cache))


TYPES = {
    "cvdr": ("verordening", "beleidsregel"),
    "plan": ("bestemmingsplan",),
    "vac": ("beleidsnota", "besluit"),
}


def documents(
    pool: Pool, chunks_wanted: int, seed: int = 0, prefix: str = "bench"
) -> Iterator[tuple[Document, list[Chunk], np.ndarray]]:
    """Documents of 4-40 passages until `chunks_wanted` passages have been made."""
    rng = np.random.default_rng(seed)
    towns = load_municipalities().all_active()
    by_source: dict[str, np.ndarray] = {
        s: np.flatnonzero(np.asarray(pool.sources) == s) for s in sorted(set(pool.sources))
    }
    made, number = 0, 0
    while made < chunks_wanted:
        source = str(rng.choice(list(by_source)))
        town = towns[int(rng.integers(len(towns)))]
        size = min(int(rng.integers(4, 41)), chunks_wanted - made)
        doc_type = str(rng.choice(TYPES[source]))
        versions = 2 if source == "cvdr" and rng.random() < SUPERSEDED_SHARE and size > 1 else 1
        base = rng.choice(by_source[source], size)
        work = f"{prefix}{number:07d}"
        for version in range(1, versions + 1):
            doc_id = work + (f"_{version}" if versions > 1 else "")
            doc, chunks, vectors = _document(pool, rng, by_source[source], base, doc_id)
            doc = _with_metadata(doc, town, doc_type, rng, work, version, versions)
            yield doc, chunks, vectors
            made += len(chunks)
        number += 1


Item = tuple[Document, list[Chunk], np.ndarray]


def batches(items: Iterator[Item], batch_chunks: int) -> Iterator[list[Item]]:
    """Documents grouped into puts of at least ``batch_chunks`` passages (the last one smaller)."""
    batch: list[Item] = []
    size = 0
    for item in items:
        batch.append(item)
        size += len(item[1])
        if size >= batch_chunks:
            yield batch
            batch, size = [], 0
    yield batch


def _document(
    pool: Pool, rng: np.random.Generator, same_source: np.ndarray, base: np.ndarray, doc_id: str
) -> tuple[Document, list[Chunk], np.ndarray]:
    spliced = rng.choice(same_source, len(base))
    sections: list[Section] = []
    for b, s in zip(base, spliced, strict=True):
        sentences = _SENTENCE.split(pool.texts[b])
        extra = _SENTENCE.split(pool.texts[s])
        sentences.insert(int(rng.integers(len(sentences) + 1)), extra[int(rng.integers(len(extra)))])
        sections.append(Section(f"Artikel {len(sections) + 1}", " ".join(sentences)))
    doc = Document(id=doc_id, title=pool.texts[base[0]][:80], sections=tuple(sections))
    chunks = [Chunk(doc_id, i, s.text, s.label, 0, len(s.text)) for i, s in enumerate(sections)]
    dim = pool.vectors.shape[1]
    noise = rng.normal(scale=0.25 / np.sqrt(dim), size=(len(base), dim))
    vectors = normalise((0.8 * pool.vectors[base] + 0.2 * pool.vectors[spliced] + noise).astype(np.float32))
    return doc, chunks, vectors


def _with_metadata(
    doc: Document,
    town: object,
    doc_type: str,
    rng: np.random.Generator,
    work: str,
    version: int,
    versions: int,
) -> Document:
    year = int(rng.integers(2000, 2026))
    extra: dict[str, object] = {}
    if versions > 1 or doc_type in ("verordening", "beleidsregel"):
        extra = {"work_id": work, "version": version, "valid_from": f"{year}-01-01"}
        if version < versions:
            extra["valid_to"] = f"{year + 1}-01-01"
    return Document(
        id=doc.id, title=doc.title, sections=doc.sections, municipality=getattr(town, "name", ""),
        municipality_code=getattr(town, "code", ""), province=getattr(town, "province", ""),
        doc_type=doc_type, date=f"{year}-{int(rng.integers(1, 13)):02d}-01", content_hash=doc.id, extra=extra,
    )  # fmt: skip
