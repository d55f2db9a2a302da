"""Benchmark: what the reasons cost, on a synthetic sector (no database needed).

    .venv/bin/python bench/bench_contributions.py [--rows 1000000] [--features 30] [--repeat 3]

Builds a realistic feature matrix (counts that are mostly zero, shares, ratios around 0,
skewed sizes, 5 % missing values in a third of the columns), trains a gradient boosting
model as the training does (120 trees, 4 levels), and times on one thread, as a run
scores:

- predict_proba of every row (what the rescore's floor pays);
- the contributions of every row (services.contributions), for comparison;
- what a run adds for the reasons: ScoredSector.explain per chunk of 100,000 rows (the
  early contributions of each chunk's highest 20 %, paid while PostgreSQL computes the
  next chunk), then, once the sector is ranked, ScoredSector.reasons and reason_cells
  (quartiles and medians, the contributions still missing, the choice of reasons and
  their COPY text) for the red and orange 15 %: the part on the run's critical path.

It prints each timing (median of the repeats) and rows per second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "miningwatch.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from scoring.models import DEFAULT_BAND_CUTOFFS  # noqa: E402
from scoring.services.artifacts import Artifact  # noqa: E402
from scoring.services.contributions import contributions  # noqa: E402
from scoring.services.ranking import ScoredSector, reason_cells, scores_rank  # noqa: E402

CHUNK = 100_000  # rows per chunk of a run (scoring.features.streaming)
TRAINING_ROWS = 150_000


def features(rows: int, width: int, seed: int) -> np.ndarray:
    """Columns in turn: mostly-zero counts, shares in 0-1, ratios around 0, skewed sizes."""
    rng = np.random.default_rng(seed)
    out = np.empty((rows, width))
    for column in range(width):
        kind = column % 4
        if kind == 0:
            out[:, column] = np.where(rng.random(rows) < 0.8, 0.0, rng.poisson(1.5, rows) + 1)
        elif kind == 1:
            out[:, column] = rng.beta(2, 5, rows)
        elif kind == 2:
            out[:, column] = rng.normal(0, 0.2, rows)
        else:
            out[:, column] = np.round(rng.lognormal(2, 1, rows))
        if column % 3 == 0:
            out[rng.random(rows) < 0.05, column] = np.nan
    return out


def labels(values: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    filled = np.nan_to_num(values)
    logit = -2.5 - 4 * filled[:, 2] + 0.4 * (filled[:, 0] == 0) + 1.5 * filled[:, 1] + 0.1 * np.log1p(filled[:, 3])
    return (rng.random(len(values)) < 1 / (1 + np.exp(-logit))).astype(int)


def timed(call: Callable[[], object], repeat: int) -> tuple[float, object]:
    seconds, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    training = features(TRAINING_ROWS, args.features, 1)
    boosting = HistGradientBoostingClassifier(
        max_iter=120, learning_rate=0.05, max_depth=4, min_samples_leaf=40, l2_regularization=1.0, random_state=0
    )
    model = Pipeline([("model", boosting)]).fit(training, labels(training, 2))
    artifact = Artifact(model=model, features=[f"f{number}" for number in range(args.features)])
    values = features(args.rows, args.features, 3)
    print(f"{args.rows:,} rows x {args.features} features, {boosting.n_iter_} trees of at most 4 levels")

    with threadpool_limits(limits=1):
        predict, scores = timed(lambda: model.predict_proba(values)[:, 1], args.repeat)
        _report("predict_proba, every row", predict, args.rows)
        every, _ = timed(lambda: contributions(model, values), args.repeat)
        _report("contributions, every row", every, args.rows)

        def chunks() -> ScoredSector:
            parts = [
                ScoredSector.explain(
                    employer_ids=np.arange(start, min(start + CHUNK, args.rows)),
                    scores=scores[start : start + CHUNK],
                    values=values[start : start + CHUNK],
                    artifact=artifact,
                )
                for start in range(0, args.rows, CHUNK)
            ]
            return ScoredSector.concat(parts)

        streamed, scored = timed(chunks, args.repeat)
        _report("explain per chunk (early 20 %), while PostgreSQL works", streamed, args.rows)
        _, _, band = scores_rank(scored.scores, scored.employer_ids, DEFAULT_BAND_CUTOFFS)
        reasons = scored.reasons(band)
        picked = len(reasons.positions)
        ranked, _ = timed(lambda: reason_cells(scored.reasons(band), args.rows, artifact.features), args.repeat)
        _report("reasons of red and orange, once ranked (critical path)", ranked, picked)
        missing = ~np.isin(reasons.positions, scored.early.positions)
        print(f"  red and orange: {picked:,} rows, {int(missing.sum()):,} without early contributions")
        named = (reasons.index >= 0).sum(axis=1)
        print(f"  reasons per red or orange row: {np.bincount(named, minlength=4).tolist()} (0, 1, 2, 3)")
        only, _ = timed(lambda: contributions(model, scored.rows.take(reasons.positions)), args.repeat)
        _report("contributions of red and orange only", only, picked)


def _report(label: str, seconds: float, rows: int) -> None:
    print(f"{label}: {seconds:.2f} s, {rows / seconds:,.0f} rows/s")


if __name__ == "__main__":
    main()
