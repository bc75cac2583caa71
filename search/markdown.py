"""Markdown syntax out of text shown to a reader: snippets, the document page, titles.

Documents read from Markdown (plan toelichtingen, .md uploads) keep their source text in the
index, so chunk offsets stay exact; what a reader sees has ``**bold**``, ``=====`` underlines,
table pipes and ``#`` marks removed, the words kept.
"""

from __future__ import annotations

import re

_RULE = re.compile(r"^[ \t]*([=\-*_])(?:[ \t]*\1){2,}[ \t]*$", re.MULTILINE)  # ====, ----, ***
_TABLE_RULE = re.compile(r"^[ \t]*\|?(?:[ \t]*:?-{3,}:?[ \t]*\|)+[ \t]*(?::?-{3,}:?)?[ \t]*$", re.MULTILINE)
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1", re.DOTALL)
_LOOSE_EMPHASIS = re.compile(r"\*\*|__")
_ATX = re.compile(r"^[ \t]*#{1,6}[ \t]+", re.MULTILINE)
_BULLET = re.compile(r"^([ \t]*)[*+][ \t]+", re.MULTILINE)
_EDGE_PIPE = re.compile(r"^[ \t]*\|[ \t]*|[ \t]*\|[ \t]*$", re.MULTILINE)
_INNER_PIPE = re.compile(r"[ \t]*\|[ \t]*")
_BLANK_RUNS = re.compile(r"\n{3,}")


def strip_markdown(text: str) -> str:
    """The text without Markdown marks: "**Vaststelling**" -> "Vaststelling", "| a | b |" -> "a · b"."""
    if not any(mark in text for mark in ("**", "__", "|", "===", "---", "#", "* ", "+ ")):
        return text
    text = _TABLE_RULE.sub("", text)
    text = _RULE.sub("", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = _LOOSE_EMPHASIS.sub("", text)
    text = _ATX.sub("", text)
    text = _BULLET.sub(r"\1• ", text)
    text = _EDGE_PIPE.sub("", text)
    text = _INNER_PIPE.sub(" · ", text).replace(": · ", ": ")
    return _BLANK_RUNS.sub("\n\n", text)
