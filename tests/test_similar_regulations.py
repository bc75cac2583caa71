"""Find-similar on real regulations: each regelrecht regulation with a counterpart of another
municipality on the same subject (../shared/corpus/regelrecht/SOURCE.md) finds a counterpart
first, among every regelrecht and CVDR regulation of the shared corpus (the CVDR ones have no
counterpart there: they are distractors)."""

from __future__ import annotations

import pytest

from search.index import Index
from search.retrieval import query_document, similar
from search.similarity import EARLIER_RECIPE, MLT_RECIPE, Recipe

# subject -> the regulations on it: (municipality code, words of the title, lower case).
# "Participatiewet": the regulations under that act (re-integration, measures, afstemming) of
# Amsterdam, Rotterdam and Diemen. Amsterdam's 2024 "participatieverordening" is not one of them:
# it is on citizen participation (buurtrechten, participatieplan), a namesake only.
SUBJECTS = {
    "rioolheffing": [("GM0034", "rioolheffing"), ("GM0983", "rioolheffing")],
    "individuele inkomenstoeslag": [("GM0363", "inkomenstoeslag"), ("GM0599", "inkomenstoeslag")],
    "Participatiewet": [
        ("GM0363", "re-integratieverordening"),
        ("GM0363", "maatregelenverordening"),
        ("GM0599", "participatieverordening"),
        ("GM0599", "maatregelen en handhaving"),
        ("GM0384", "afstemmingsverordening"),
    ],
}
CASES = [(subject, code, words) for subject, docs in SUBJECTS.items() for code, words in docs]
IDS = [f"{subject}-{code}-{words.split()[0]}" for subject, code, words in CASES]


def _find(index: Index, code: str, words: str) -> str:
    found = [
        d.id
        for d in index.catalog.list_documents(1000)
        if d.municipality_code == code and words in d.title.lower()
    ]
    assert len(found) == 1, f"{code} {words}: {found}"
    return found[0]


@pytest.mark.parametrize("recipe", [MLT_RECIPE, EARLIER_RECIPE], ids=["mlt", "earlier"])
@pytest.mark.parametrize(("subject", "code", "words"), CASES, ids=IDS)
def test_a_regulation_finds_its_counterpart_first(
    regulations: Index, subject: str, code: str, words: str, recipe: Recipe
) -> None:
    query = _find(regulations, code, words)
    counterparts = {_find(regulations, c, w) for c, w in SUBJECTS[subject] if c != code}
    results = similar(regulations, query_document(regulations, query), k=3, recipe=recipe)
    assert results[0].document.id in counterparts, [r.document.title for r in results]
