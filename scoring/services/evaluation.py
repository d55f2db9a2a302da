"""Validation metrics of a model on the inspections of a later period.

Every function works on plain arrays: labels (1 = offence found), scores (probabilities)
and the band of each validation inspection.
"""

from __future__ import annotations

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

BAND_NAMES = ("red", "orange", "green", "blue")


def band_thresholds(population_scores: np.ndarray, cutoffs: dict[str, float]) -> list[float]:
    """Score above which an employer of the sector is red, orange, green (from a sample of the sector)."""
    if not len(population_scores):
        return [1.0, 1.0, 1.0]
    return [float(np.quantile(population_scores, 1 - cutoffs[name])) for name in BAND_NAMES[:3]]


def bands_of(scores: np.ndarray, thresholds: list[float]) -> np.ndarray:
    """Band 1 (red) to 4 (blue) of each score."""
    band = np.full(len(scores), 4, dtype=np.int16)
    for number, threshold in reversed(list(enumerate(thresholds, start=1))):
        band[scores >= threshold] = number
    return band


def metrics_compute(
    *, labels: np.ndarray, scores: np.ndarray, bands: np.ndarray, capacity_share: float, random_hit_rate: float | None
) -> dict[str, object]:
    """The metrics stored with a model version (see docs/scoring.md for each definition)."""
    labels = labels.astype(int)
    both = 0 < labels.sum() < len(labels)
    k = max(1, round(capacity_share * len(labels)))
    top = np.argsort(-scores, kind="stable")[:k]
    hits_top = int(labels[top].sum())
    precision_k = hits_top / k
    metrics: dict[str, object] = {
        "rows": len(labels),
        "positives": int(labels.sum()),
        "roc_auc": float(roc_auc_score(labels, scores)) if both else None,
        "average_precision": float(average_precision_score(labels, scores)) if both else None,
        "k": k,
        "precision_at_k": precision_k,
        "recall_at_k": hits_top / int(labels.sum()) if labels.sum() else None,
        "random_control_hit_rate": random_hit_rate,
        "lift": precision_k / random_hit_rate if random_hit_rate else None,
        "brier": float(brier_score_loss(labels, scores)) if len(labels) else None,
        "band_hit_rates": _band_hit_rates(labels, bands),
        "reliability": _reliability(labels, scores) if both else [],
    }
    return metrics


def _band_hit_rates(labels: np.ndarray, bands: np.ndarray) -> dict[str, dict[str, float | int | None]]:
    rates: dict[str, dict[str, float | int | None]] = {}
    for number, name in enumerate(BAND_NAMES, start=1):
        inside = bands == number
        count = int(inside.sum())
        rates[name] = {
            "rows": count,
            "hits": int(labels[inside].sum()),
            "rate": float(labels[inside].mean()) if count else None,
        }
    return rates


def _reliability(labels: np.ndarray, scores: np.ndarray) -> list[dict[str, float]]:
    """Predicted against observed rates in up to 10 bins of equal size."""
    observed, predicted = calibration_curve(labels, scores, n_bins=10, strategy="quantile")
    return [{"predicted": float(p), "observed": float(o)} for p, o in zip(predicted, observed, strict=True)]


def bands_fall(band_hit_rates: dict[str, dict[str, float | int | None]], *, min_rows: int = 10) -> bool:
    """Whether hit rates fall from red to blue, over the bands with enough inspections.

    A later band may beat an earlier one only by sampling noise (two standard errors):
    a validation year of a small sector holds a few dozen inspections per band.
    """
    # By name, not dict order: metrics stored as jsonb come back with their keys reordered.
    ordered = [band_hit_rates[name] for name in BAND_NAMES if name in band_hit_rates]
    bands = [entry for entry in ordered if (entry["rows"] or 0) >= min_rows]
    for high, low in zip(bands, bands[1:], strict=False):
        p_high, p_low = float(high["rate"]), float(low["rate"])
        pooled = (high["hits"] + low["hits"]) / (high["rows"] + low["rows"])
        noise = 2 * (pooled * (1 - pooled) * (1 / high["rows"] + 1 / low["rows"])) ** 0.5
        if p_low - p_high > noise:
            return False
    return True
