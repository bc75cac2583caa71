"""Recent questions' vectors, kept per embedder (one search embeds its question for ranking and
again for match strength; the pages ask the same question again for every filter, sort or page)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

QUERY_MEMO_SIZE = 256  # recent questions whose vectors are kept per embedder


def remembered_queries(embed_query: Callable[[Any, str], np.ndarray]) -> Callable[[Any, str], np.ndarray]:
    """Decorates an embedder's ``embed_query``: a question asked again is not embedded again."""

    def remembered(self: Any, text: str) -> np.ndarray:
        memo = self.__dict__.get("_query_memo")
        if memo is None:
            memo = self.__dict__.setdefault("_query_memo", (threading.Lock(), OrderedDict()))
        lock, vectors = memo
        with lock:
            if text in vectors:
                vectors.move_to_end(text)
                return np.array(vectors[text])
        vector = embed_query(self, text)
        with lock:
            vectors[text] = np.array(vector)
            while len(vectors) > QUERY_MEMO_SIZE:
                vectors.popitem(last=False)
        return vector

    return remembered
