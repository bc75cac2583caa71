"""A document's distinctive words, as a BM25 query: Lucene's "more like this".

Each word of the document scores its frequency in the document times the idf of its index term
(the engine's own analysis and statistics, ``IndexEngine.lexical_terms``); the best ``count``
terms, each as its most frequent word, make the query. Left out: numbers and words with digits
(house numbers, plan codes, years), proper names (words written with a capital in most of their
occurrences: Dutch capitalises names, not nouns, so these are the street, village and
municipality names that make a document unlike every other without saying what it is about),
terms in more than ``MAX_SHARE`` of all passages and terms in fewer than ``MIN_DF`` passages.

Searching 25 selected terms instead of every term of the first 3,000 characters is also what keeps
find-similar fast on a large index (issue #11): the query holds no common terms.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from search.engine import IndexEngine
from search.lexical import TOKEN_PATTERN

MIN_DF = 2
MAX_SHARE = 0.1
_WORD = re.compile(TOKEN_PATTERN)


def candidate_words(text: str) -> Counter[str]:
    """Lower-case words and their counts, without numbers and proper names."""
    capitalised: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for word, n in Counter(_WORD.findall(text)).items():  # each spelling once: a few thousand, not every word
        lower = word.lower()
        if word[0].isupper():
            capitalised[lower] += n
        if not any(ch.isdigit() for ch in word):
            counts[lower] += n
    return Counter({w: c for w, c in counts.items() if capitalised[w] * 2 <= c})


def distinctive_words(
    index: IndexEngine, text: str, count: int, min_df: int = MIN_DF, max_share: float = MAX_SHARE
) -> list[str]:
    """The document's ``count`` most distinctive words, best first (one word per index term)."""
    counts = candidate_words(text)
    if not counts or count <= 0:
        return []
    chunks, found = index.lexical_terms(sorted(counts))
    tf: Counter[str] = Counter()
    word_of: dict[str, str] = {}
    df: dict[str, int] = {}
    for word, (term, frequency) in found.items():
        tf[term] += counts[word]
        df[term] = frequency
        best = word_of.get(term)
        if best is None or (counts[word], best) > (counts[best], word):
            word_of[term] = word
    scored = [
        (tf[t] * math.log(1 + (chunks - df[t] + 0.5) / (df[t] + 0.5)), t)
        for t in tf
        if min_df <= df[t] <= max_share * chunks
    ]
    scored.sort(key=lambda p: (-p[0], p[1]))
    return [word_of[t] for _, t in scored[:count]]
