"""Dutch BM25 over chunks (bm25s + the Snowball Dutch stemmer)."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_DUTCH

TOKEN_PATTERN = r"(?u)\b\w\w+\b"
_WORD = re.compile(TOKEN_PATTERN)
# Bump when analysis or the indexed text changes: saved indexes of another recipe are rebuilt.
RECIPE = "snowball-dutch+stop+title-label-v2"
STOPWORDS = sorted(set(STOPWORDS_DUTCH) | {"wel", "kan", "moet", "mag", "gaat", "hoe", "wat", "welke"})


@cache
def dutch_stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("dutch")


def analyse(text: str) -> list[str]:
    """Lower-case, drop stop words, stem: the terms BM25 matches on."""
    words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
    return list(dutch_stemmer().stemWords(words))


class LexicalIndex:
    """BM25 over chunk texts, addressed by chunk id."""

    def __init__(self, chunk_ids: np.ndarray, model: bm25s.BM25 | None) -> None:
        self.chunk_ids = np.asarray(chunk_ids, dtype=np.int64)
        self._model = model
        self._position = {int(c): i for i, c in enumerate(self.chunk_ids)}

    @classmethod
    def build(cls, chunk_ids: Sequence[int], texts: Sequence[str]) -> LexicalIndex:
        if not texts:
            return cls(np.zeros(0, dtype=np.int64), None)
        tokens = [analyse(t) or ["∅"] for t in texts]
        model = bm25s.BM25(k1=1.2, b=0.75)
        model.index(tokens, show_progress=False)
        return cls(np.asarray(chunk_ids, dtype=np.int64), model)

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        terms = analyse(query)
        if self._model is None or not terms or k <= 0:
            return []
        vocab = self._model.vocab_dict
        known = [t for t in terms if t in vocab]
        if not known:
            return []
        scores = self._model.get_scores(known)
        if allowed is not None:
            mask = np.zeros(len(scores), dtype=bool)
            pos = [self._position[int(c)] for c in allowed if int(c) in self._position]
            mask[pos] = True
            scores = np.where(mask, scores, 0.0)
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) == 0:
            return []
        top = candidates[np.argsort(-scores[candidates], kind="stable")[:k]]
        return [(int(self.chunk_ids[i]), float(scores[i])) for i in top]

    def save(self, folder: Path, revision: int) -> None:
        tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}-{threading.get_ident()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        np.save(tmp / "chunk_ids.npy", self.chunk_ids)
        if self._model is not None:
            self._model.save(str(tmp / "bm25"), show_progress=False)
        (tmp / "revision.json").write_text(json.dumps({"revision": revision, "recipe": RECIPE}))
        old = folder.with_name(f"{folder.name}.old{os.getpid()}-{threading.get_ident()}")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def saved_revision(folder: Path) -> int | None:
        try:
            saved = json.loads((folder / "revision.json").read_text())
        except (OSError, ValueError):
            return None
        if saved.get("recipe") != RECIPE:
            return None
        return int(saved.get("revision", -1))

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex | None:
        """The saved index, or None when there is none (or it cannot be read)."""
        try:
            ids = np.load(folder / "chunk_ids.npy")
            model = bm25s.BM25.load(str(folder / "bm25")) if (folder / "bm25").exists() else None
            return cls(ids, model)
        except (OSError, ValueError, KeyError):
            return None
