"""Hypothesis strategies that damage real files: byte edits for any format, tree edits for XML, value
edits for YAML and JSON. Every input is bounded in size, so every example is bounded in time."""

from __future__ import annotations

import copy
import functools
import os
import re
import resource
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from lxml import etree

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
FIXTURES = REPO / "tests" / "fixtures"
EXAMPLES = int(os.environ.get("SCHUTTING_FUZZ_EXAMPLES", "25"))  # per harness; `make fuzz` sets more
MAX_EDITS = 8
MAX_INSERT = 256
STRETCH_SIZES = (300, 2_000, 5_000)  # fixed sizes: hypothesis would favour the smallest of a range
STRETCHED = [bytes([c]) for c in b" \t\n.-=#|*(a0"]
_NUMBER = re.compile(rb"\d+")
INTERESTING_NUMBERS = (b"0", b"-1", b"1", b"2147483648", b"99999999999999999999", b"3.5", b"1e308", b"")


def fuzz_settings(deadline_seconds: float) -> Callable[[Any], Any]:
    """`EXAMPLES` examples, each within `deadline_seconds` of CPU time (a slower one is a finding: a parser
    that loops or blows up). CPU time, of its thread and of the reader subprocesses it waited for, not
    wall-clock time: a stalled or busy host (a 90 s stall was seen on CI's shared cores) is not a finding."""
    chosen = settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        database=None,
        print_blob=True,
    )

    def apply(test: Any) -> Any:
        # Hypothesis runs `hypothesis.inner_test` for every example; wrapping it is its documented hook.
        test.hypothesis.inner_test = _within_cpu(test.hypothesis.inner_test, deadline_seconds)
        return chosen(test)

    return apply


def _cpu_seconds() -> float:
    # this thread's CPU (Hypothesis runs examples in the caller's thread): a busy thread elsewhere in
    # the test process does not count against the example
    own = resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF))
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _within_cpu(inner: Callable[..., Any], limit: float) -> Callable[..., Any]:
    @functools.wraps(inner)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        start = _cpu_seconds()
        result = inner(*args, **kwargs)
        used = _cpu_seconds() - start
        assert used <= limit, f"one example used {used:.1f} s of CPU, more than its {limit} s"
        return result

    return bounded


def seeds(*patterns: str, limit: int = 6, max_bytes: int = 250_000) -> list[bytes]:
    """Real files from the shared corpus and the repo's recorded fixtures, smallest first."""
    found = [p for pattern in patterns for root in (CORPUS, FIXTURES) for p in root.glob(pattern)]
    small = sorted(
        {p for p in found if p.is_file() and p.stat().st_size <= max_bytes}, key=lambda p: p.stat().st_size
    )
    return [p.read_bytes() for p in small[:limit]]


# --- bytes ----------------------------------------------------------------------------------------


@st.composite
def mutated_bytes(draw: st.DrawFn, seed_list: list[bytes]) -> bytes:
    """A seed with 1 to MAX_EDITS edits: flipped, inserted, deleted, duplicated bytes, changed numbers."""
    data = bytearray(draw(st.sampled_from(seed_list)))
    for _ in range(draw(st.integers(1, MAX_EDITS))):
        data = _edit(draw, data)
    return bytes(data)


def _edit(draw: st.DrawFn, data: bytearray) -> bytearray:
    kind = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "number", "truncate", "stretch"]))
    at = draw(st.integers(0, max(len(data) - 1, 0)))
    if kind == "flip" and data:
        data[at] ^= draw(st.integers(1, 255))
    elif kind == "insert":
        data[at:at] = draw(st.binary(max_size=MAX_INSERT))
    elif kind == "delete":
        del data[at : at + draw(st.integers(1, 512))]
    elif kind == "duplicate":
        size = draw(st.integers(1, 512))
        data[at:at] = data[at : at + size]
    elif kind == "number":
        data = _change_number(draw, data, at)
    elif kind == "truncate":
        del data[at:]
    elif kind == "stretch":  # a long run of one character: what slow (backtracking) patterns choke on
        data[at:at] = draw(st.sampled_from(STRETCHED)) * draw(st.sampled_from(STRETCH_SIZES))
    return data


def _change_number(draw: st.DrawFn, data: bytearray, at: int) -> bytearray:
    """Replace the first number after `at` (an object number, a /Length, a count) with an odd one."""
    found = _NUMBER.search(bytes(data), at)
    if found is None:
        return data
    value = draw(st.sampled_from(INTERESTING_NUMBERS) | st.integers(0, 10**6).map(lambda n: str(n).encode()))
    data[found.start() : found.end()] = value
    return data


# --- XML ------------------------------------------------------------------------------------------


@st.composite
def mutated_xml(draw: st.DrawFn, seed_list: list[bytes]) -> bytes:
    """A seed parsed and edited as a tree: elements removed, moved, duplicated, emptied, retexted."""
    root = etree.fromstring(draw(st.sampled_from(seed_list)))
    for _ in range(draw(st.integers(1, MAX_EDITS))):
        elements = list(root.iter(etree.Element))  # not comments or processing instructions
        element = draw(st.sampled_from(elements))
        _edit_element(draw, root, element, elements)
    return bytes(etree.tostring(root))


def _edit_element(draw: st.DrawFn, root: Any, element: Any, elements: list[Any]) -> None:
    kind = draw(st.sampled_from(["remove", "move", "duplicate", "text", "clear", "attribute"]))
    parent = element.getparent()
    if kind == "remove" and parent is not None:
        parent.remove(element)
    elif kind == "move" and parent is not None:
        target = draw(st.sampled_from(elements))
        if target is not element and element not in target.iterancestors():
            target.append(element)
    elif kind == "duplicate" and parent is not None:
        parent.insert(parent.index(element), copy.deepcopy(element))
    elif kind == "text":
        element.text = draw(xml_text)
    elif kind == "clear":
        element.clear()
    elif kind == "attribute":
        element.set(draw(st.sampled_from(["nr", "scheme", "resourceIdentifier", "id"])), draw(xml_text))


xml_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("0123456789 _.:"), max_size=40
)


# --- YAML and JSON values -------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.dates()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def mutated_value(draw: st.DrawFn, seed_values: list[Any]) -> Any:
    """A parsed seed (dicts and lists) with 1 to MAX_EDITS nodes replaced or removed."""
    value = _copy(draw(st.sampled_from(seed_values)))
    for _ in range(draw(st.integers(1, MAX_EDITS))):
        value = _edit_value(draw, value)
    return value


def _edit_value(draw: st.DrawFn, value: Any) -> Any:
    containers = list(_containers(value))
    if not containers or draw(st.integers(0, 20)) == 0:
        return draw(values)  # now and then the whole document is something else
    container = draw(st.sampled_from(containers))
    keys = list(container.keys()) if isinstance(container, dict) else list(range(len(container)))
    if not keys:
        return value
    key = draw(st.sampled_from(keys))
    if draw(st.booleans()):
        container[key] = draw(values)
    else:
        del container[key]
    return value


def _containers(value: Any) -> list[Any]:
    found = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict | list):
            found.append(item)
            stack.extend(item.values() if isinstance(item, dict) else item)
    return found


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
