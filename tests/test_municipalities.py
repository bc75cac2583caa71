"""The shipped municipality reference list and the registry that resolves names and codes."""

import json
from pathlib import Path

import pytest

from ingest.municipalities import (
    MUNICIPALITIES_CSV,
    Municipality,
    MunicipalityRegistry,
    load_municipalities,
    normalize_code,
    normalize_name,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"
PLAN_METADATA = SHARED / "corpus" / "bestemmingsplannen" / "metadata.jsonl"
SIMILAR_PLANS = SHARED / "eval" / "similar-plans" / "corpus.jsonl"


@pytest.fixture(scope="module")
def registry() -> MunicipalityRegistry:
    return load_municipalities()


def corpus_municipalities(path: Path, nested: bool) -> dict[str, str]:
    found = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            meta = record["metadata"] if nested else record
            found[meta["municipality_code"]] = meta["municipality"]
    return found


def test_counts(registry: MunicipalityRegistry) -> None:
    active = registry.all_active()
    assert len(active) == 342
    assert len({m.code for m in active}) == 342
    assert all(m.code.startswith("GM") and len(m.code) == 6 for m in active)
    assert registry.provinces() == [
        "Drenthe", "Flevoland", "Fryslân", "Gelderland", "Groningen", "Limburg",
        "Noord-Brabant", "Noord-Holland", "Overijssel", "Utrecht", "Zeeland", "Zuid-Holland",
    ]  # fmt: skip


def test_active_per_province(registry: MunicipalityRegistry) -> None:
    per_province: dict[str, int] = {}
    for m in registry.all_active():
        per_province[m.province] = per_province.get(m.province, 0) + 1
    assert per_province == {
        "Drenthe": 12, "Flevoland": 6, "Fryslân": 18, "Gelderland": 51, "Groningen": 10,
        "Limburg": 31, "Noord-Brabant": 56, "Noord-Holland": 44, "Overijssel": 25,
        "Utrecht": 26, "Zeeland": 13, "Zuid-Holland": 50,
    }  # fmt: skip


def test_default_load_is_cached() -> None:
    assert load_municipalities() is load_municipalities()
    assert load_municipalities(MUNICIPALITIES_CSV) is not load_municipalities()


@pytest.mark.parametrize(("path", "nested"), [(PLAN_METADATA, False), (SIMILAR_PLANS, True)])
def test_every_corpus_code_resolves(registry: MunicipalityRegistry, path: Path, nested: bool) -> None:
    if not path.exists():
        pytest.skip(f"{path} is not on this machine")
    found = corpus_municipalities(path, nested)
    assert len(found) == 282
    for code, name in found.items():
        m = registry.resolve(code)
        assert m is not None, code
        assert m.name == name
        assert registry.resolve(name) == m
        assert registry.current(m).status == "active"


AMSTERDAM_FORMS = ["GM0363", "gm363", "0363", "363", " GM0363 ", "Amsterdam", "amsterdam",
                   "AMSTERDAM", "Gemeente Amsterdam"]  # fmt: skip
HAGUE_FORMS = ["'s-Gravenhage", "s-Gravenhage", "s Gravenhage", "\u2019s-Gravenhage", "Den Haag",
               "den haag", "Gemeente Den Haag", "Gravenhage, 's-", "518"]  # fmt: skip


@pytest.mark.parametrize("text", AMSTERDAM_FORMS)
def test_resolve_amsterdam(registry: MunicipalityRegistry, text: str) -> None:
    assert registry.resolve(text) == Municipality("GM0363", "Amsterdam", "Noord-Holland", "active", None)


@pytest.mark.parametrize("text", HAGUE_FORMS)
def test_resolve_the_hague(registry: MunicipalityRegistry, text: str) -> None:
    m = registry.resolve(text)
    assert m is not None
    assert (m.code, m.name) == ("GM0518", "'s-Gravenhage")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("'s-Hertogenbosch", "GM0796"),
        ("s-Hertogenbosch", "GM0796"),
        ("Den Bosch", "GM0796"),
        ("Súdwest-Fryslân", "GM1900"),
        ("Sudwest-Fryslan", "GM1900"),
        ("sudwest fryslan", "GM1900"),
        ("Noardeast-Fryslân", "GM1970"),
        ("Noordoost-Friesland", "GM1970"),
        ("Nuenen, Gerwen en Nederwetten", "GM0820"),
        ("Nuenen c.a.", "GM0820"),
        ("Bergen (NH.)", "GM0373"),
        ("Bergen (L.)", "GM0893"),
        ("Hengelo (O.)", "GM0164"),
        ("Groningen (gemeente)", "GM0014"),
        ("IJsselstein", "GM0353"),
        ("ijsselstein", "GM0353"),
    ],
)
def test_resolve_variants(registry: MunicipalityRegistry, text: str, code: str) -> None:
    m = registry.resolve(text)
    assert m is not None
    assert m.code == code


def test_merged_delfzijl_goes_to_eemsdelta(registry: MunicipalityRegistry) -> None:
    delfzijl = registry.resolve("Delfzijl")
    assert delfzijl is not None
    assert (delfzijl.code, delfzijl.status, delfzijl.successor) == (
        "GM0010",
        "merged",
        "GM1979",
    )
    assert registry.resolve("GM0010") == delfzijl
    eemsdelta = registry.current(delfzijl)
    assert (eemsdelta.code, eemsdelta.name, eemsdelta.status) == (
        "GM1979",
        "Eemsdelta",
        "active",
    )
    assert registry.current(eemsdelta) is eemsdelta


def test_current_follows_a_chain(registry: MunicipalityRegistry) -> None:
    # Graafstroom -> Molenwaard (2013) -> Molenlanden (2019)
    graafstroom = registry.resolve("Graafstroom")
    assert graafstroom is not None
    assert graafstroom.successor == "GM1927"
    assert registry.current(graafstroom).code == "GM1978"


def test_province_of(registry: MunicipalityRegistry) -> None:
    assert registry.province_of("Den Haag") == "Zuid-Holland"
    assert registry.province_of("GM1900") == "Fryslân"
    # a former municipality keeps the province it was in: Leerdam before its 2019 merger
    assert registry.province_of("Leerdam") == "Zuid-Holland"
    assert registry.province_of("Vijfheerenlanden") == "Utrecht"
    assert registry.province_of("Atlantis") is None


@pytest.mark.parametrize("text", ["Atlantis", "", "   ", "GM9999", "9999", "Bergen", "Noord-Holland"])
def test_unknown_is_none(registry: MunicipalityRegistry, text: str) -> None:
    assert registry.resolve(text) is None


def test_normalizers() -> None:
    assert normalize_name("Gemeente 's-Gravenhage") == "s gravenhage"
    assert normalize_name("Súdwest-Fryslân") == "sudwest fryslan"
    assert normalize_code("gm363") == "GM0363"
    assert normalize_code("Amsterdam") is None


def test_registry_rejects_a_dangling_successor() -> None:
    orphan = Municipality("GM0001", "Nergens", "Utrecht", "merged", "GM0002")
    with pytest.raises(ValueError, match="GM0002"):
        MunicipalityRegistry([orphan], {})
