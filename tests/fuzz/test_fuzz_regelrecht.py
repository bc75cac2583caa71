"""Fuzz the regelrecht YAML reader: damaged bytes and wrong value types never crash it."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given

from tests.fuzz.mutations import fuzz_settings, mutated_bytes, mutated_value, seeds
from tests.fuzz.properties import check_regelrecht

pytestmark = pytest.mark.fuzz

SEEDS = seeds("regelrecht/*.yaml", limit=4, max_bytes=8_000)
SEED_VALUES = [yaml.safe_load(seed) for seed in SEEDS]


@fuzz_settings(deadline_seconds=5)
@given(data=mutated_bytes(SEEDS))
def test_fuzz_regelrecht_bytes(data: bytes) -> None:
    check_regelrecht(data)


@fuzz_settings(deadline_seconds=5)
@given(value=mutated_value(SEED_VALUES))
def test_fuzz_regelrecht_values(value: object) -> None:
    check_regelrecht(yaml.safe_dump(value, allow_unicode=True).encode())
