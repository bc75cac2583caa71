"""Fuzz the SRU response parser: a damaged answer from the CVDR service is a SchuttingError, not a crash."""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.fuzz.mutations import fuzz_settings, mutated_bytes, mutated_xml, seeds
from tests.fuzz.properties import check_sru

pytestmark = pytest.mark.fuzz

SEEDS = seeds("sru/search-*.xml", "sru/diagnostic-*.xml", "cvdr/searchrec.xml")


@fuzz_settings(deadline_seconds=5)
@given(data=mutated_bytes(SEEDS))
def test_fuzz_sru_bytes(data: bytes) -> None:
    check_sru(data)


@fuzz_settings(deadline_seconds=5)
@given(data=mutated_xml(SEEDS))
def test_fuzz_sru_tree(data: bytes) -> None:
    check_sru(data)
