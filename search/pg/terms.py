"""Index terms of words and their document frequencies, in the ``dutch`` text-search analysis.

Find-similar picks a document's distinctive words ("more like this", search/more_like_this.py)
by tf-idf; this answers the idf part from the statistics every write keeps (``terms``, ``stats``).
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

TERMS = """
SELECT u.word, t.term, t.df
FROM unnest(%s::text[]) u(word)
CROSS JOIN LATERAL (SELECT min(l) AS lexeme FROM unnest(tsvector_to_array(to_tsvector('dutch', u.word))) l) x
JOIN {s}.terms t ON t.term = x.lexeme
WHERE t.df > 0
"""


def term_frequencies(
    conn: psycopg.Connection, s: str, words: Sequence[str]
) -> tuple[int, dict[str, tuple[str, int]]]:
    """(chunks, {word: (lexeme, chunks holding it)}) for the words that are indexed lexemes."""
    row = conn.execute(f"SELECT chunks FROM {s}.stats").fetchone()
    chunks = int(row[0]) if row else 0
    wanted = list(dict.fromkeys(w.lower() for w in words))
    if not wanted or not chunks:
        return chunks, {}
    rows = conn.execute(TERMS.format(s=s), (wanted,)).fetchall()
    return chunks, {str(word): (str(term), int(df)) for word, term, df in rows}
