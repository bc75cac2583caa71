"""Fuzz the CVDR XML reader: byte-damaged and tree-edited real regulations never crash it."""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.fuzz.mutations import fuzz_settings, mutated_bytes, mutated_xml, seeds
from tests.fuzz.properties import check_cvdr

pytestmark = pytest.mark.fuzz

SEEDS = seeds("cvdr/CVDR*.xml", "sru/CVDR*.xml")


@fuzz_settings(deadline_seconds=5)
@given(data=mutated_bytes(SEEDS))
def test_fuzz_cvdr_bytes(data: bytes) -> None:
    check_cvdr(data)


@fuzz_settings(deadline_seconds=5)
@given(data=mutated_xml(SEEDS))
def test_fuzz_cvdr_tree(data: bytes) -> None:
    check_cvdr(data)
