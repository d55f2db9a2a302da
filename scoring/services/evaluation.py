"""Validation metrics of a model on the inspections of a later period, with their intervals.

Every function works on plain arrays: labels (1 = offence found), scores (probabilities)
and the band of each validation inspection. Each figure comes with the counts it rests
on and a 95 % interval from a Poisson bootstrap (each inspection drawn a Poisson(1)
number of times per round, seeded, so the same inspections always give the same interval).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.calibration import calibration_curve

BAND_NAMES = ("red", "orange", "green", "blue")
ROUNDS = 500
CONFIDENCE = 0.95
SEED = 0


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


def bootstrap_weights(count: int, *, rounds: int = ROUNDS, seed: int = SEED) -> np.ndarray:
    """How often each of `count` rows is drawn in each round: (count, rounds), Poisson(1).

    Rows down, rounds across: the running sums over rows then add whole rows of rounds
    at a time, several times faster than the other way round.

    Drawn by comparing uniform numbers with the Poisson cumulative probabilities, which is
    several times faster than numpy's Poisson sampler for these sizes."""
    uniform = np.random.default_rng(seed).random((count, rounds), dtype=np.float32)
    weights = np.zeros((count, rounds), dtype=np.float32)
    for bound in _POISSON_CDF:
        weights += uniform > bound
    return weights


# P(X <= j) for X ~ Poisson(1), j = 0..7 (the chance of more than 8 is below 1e-5).
_POISSON_CDF = np.cumsum([np.exp(-1.0) / np.prod(np.arange(1, j + 1)) for j in range(8)]).astype(np.float32)


def interval(values: np.ndarray) -> list[float] | None:
    """The central 95 % of bootstrap values (rounds where the figure is undefined left out)."""
    values = values[np.isfinite(values)]
    if len(values) < 0.9 * ROUNDS:  # the figure is undefined in too many draws to speak of it
        return None
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return [float(low), float(high)]


def roc_auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC per row of weights (ties count half), NaN where a class is missing."""
    positive, negative = _by_score(labels, scores, weights)
    below = np.cumsum(negative, axis=0) - negative
    total = positive.sum(axis=0) * negative.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (positive * (below + 0.5 * negative)).sum(axis=0) / total


def average_precision(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average precision per row of weights (as scikit-learn's: one step per distinct score)."""
    positive, negative = _by_score(labels, scores, weights)
    positive, negative = positive[::-1], negative[::-1]  # highest score first
    hits = np.cumsum(positive, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = hits / (hits + np.cumsum(negative, axis=0))
        return np.nansum(positive * precision, axis=0) / positive.sum(axis=0)


def _by_score(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weight of the positives and of the negatives at each distinct score, lowest score first.

    `scores` must be sorted (metrics_compute sorts every array once): the rounds' weights
    then need no reordering, which is most of the cost at tens of thousands of rows."""
    found = labels.astype(np.float32)[:, None]
    positive, negative = weights * found, weights * (1 - found)
    starts = np.flatnonzero(np.r_[True, np.diff(scores) > 0])
    if len(starts) < len(scores):  # ties: one step per distinct score
        positive, negative = np.add.reduceat(positive, starts, axis=0), np.add.reduceat(negative, starts, axis=0)
    return positive, negative


def rate(hits: np.ndarray, rows: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return hits / rows


def figure(statistic, labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> tuple[float | None, np.ndarray]:
    """A statistic on the rows as they are, and its value in every bootstrap round."""
    point = float(statistic(labels, scores, np.ones((len(labels), 1), dtype=np.float32))[0])
    return (point if np.isfinite(point) else None), statistic(labels, scores, weights)


def metrics_compute(
    *,
    labels: np.ndarray,
    scores: np.ndarray,
    bands: np.ndarray,
    capacity_share: float,
    controls: np.ndarray,
    mix: PublishedMix | None = None,
) -> dict[str, object]:
    """The metrics stored with a model version (see docs/scoring.md for each definition).

    `controls` marks the validation inspections that were random controls: the only ones
    drawn without regard to risk, so the only ones that say how the lists would do on the
    whole sector. The lift is theirs; the other figures are over every validation inspection.
    """
    order = np.argsort(scores, kind="stable")  # _by_score reads sorted scores
    labels, scores, bands, controls = labels[order].astype(bool), scores[order], bands[order], controls[order]
    if mix is not None:
        assert len(mix.earlier) == len(order), "one stratum per validation inspection"
        mix = PublishedMix(earlier=mix.earlier[order], share=mix.share)
    weights = bootstrap_weights(len(labels))
    k = max(1, round(capacity_share * len(labels)))
    hits_top = int(labels[-k:].sum())
    above = scores >= scores[-k]  # the k-th highest score, for the bootstrap
    auc, auc_draws = figure(roc_auc, labels, scores, weights)
    precision, precision_draws = figure(average_precision, labels, scores, weights)
    metrics: dict[str, object] = {
        "rows": len(labels),
        "positives": int(labels.sum()),
        "roc_auc": auc,
        "average_precision": precision,
        "k": k,
        "hits_at_k": hits_top,
        "precision_at_k": hits_top / k,
        "recall_at_k": hits_top / int(labels.sum()) if labels.sum() else None,
        "brier": float(np.mean((scores - labels) ** 2)) if len(labels) else None,
        "band_hit_rates": _band_hit_rates(labels, bands, weights),
        "reliability": _reliability(labels, scores) if 0 < labels.sum() < len(labels) else [],
        "intervals": {
            "roc_auc": interval(auc_draws),
            "average_precision": interval(precision_draws),
            "precision_at_k": interval(rate((above & labels) @ weights, above @ weights)),
            "recall_at_k": interval(rate((above & labels) @ weights, labels @ weights)),
            "brier": interval(rate(((scores - labels) ** 2) @ weights, weights.sum(axis=0))),
        },
        "confidence": CONFIDENCE,
        "bootstrap_rounds": ROUNDS,
    }
    metrics["lower_bounds"] = {"roc_auc": lower_bound(auc_draws)}
    controlled = random_control_metrics(
        labels=labels, scores=scores, bands=bands, controls=controls, weights=weights, mix=mix
    )
    metrics["intervals"].update(controlled.pop("intervals"))
    metrics["lower_bounds"].update(controlled.pop("lower_bounds"))
    metrics.update(controlled)
    return metrics


def random_control_metrics(
    *,
    labels: np.ndarray,
    scores: np.ndarray,
    bands: np.ndarray,
    controls: np.ndarray,
    weights: np.ndarray,
    mix: PublishedMix | None = None,
) -> dict[str, object]:
    """The lift of the red band, and the ranking among the random controls of the validation year.

    lift = hit rate of the validation year's random controls that fall in the red band /
    hit rate of all the validation year's random controls. Both rates come from the same
    year: the base rate moves from year to year (fraud spreads, inspection practice
    changes), and a base from other years tilts the ratio (docs/scoring.md). The red band
    is the top of the sector's employers (band thresholds from a sample of the sector), so
    this estimates what the red list finds against an inspection drawn at random.

    A few controls in the red band are the rule, so the interval is not a bootstrap (which
    collapses on two controls without a hit) but the ratio of two Jeffreys posteriors,
    Beta(hits + 1/2, misses + 1/2), drawn 20,000 times with a fixed seed; the figure is
    the median of those draws, which the interval always holds.

    With a `mix`, the red band's rate is that of the list to be published: see red_lift.
    """
    controls = controls.astype(bool)
    red = controls & (bands == 1)
    counts = {
        "validation_rows": int(controls.sum()),
        "validation_hits": int(labels[controls].sum()),
        "red_rows": int(red.sum()),
        "red_hits": int(labels[red].sum()),
    }
    if mix is not None and mix.share is not None:
        earlier = red & mix.earlier
        counts |= {"red_earlier_rows": int(earlier.sum()), "red_earlier_hits": int(labels[earlier].sum())}
        counts["published_earlier_share"] = mix.share
    control_auc, control_auc_draws = figure(roc_auc, labels[controls], scores[controls], weights[controls])
    lift, lift_interval = red_lift(counts)
    rows = counts["validation_rows"]
    return {
        "random_controls": counts,
        "random_control_hit_rate": counts["validation_hits"] / rows if rows else None,
        "lift": lift,
        "control_roc_auc": control_auc,
        "intervals": {"lift": lift_interval, "control_roc_auc": interval(control_auc_draws)},
        "lower_bounds": {"control_roc_auc": lower_bound(control_auc_draws)},
    }


@dataclass(frozen=True)
class PublishedMix:
    """Which validation inspections were of employers with an offence found before
    (`earlier`, one per inspection), and the share of such employers in the red band of
    the list to be published (`share`)."""

    earlier: np.ndarray
    share: float | None  # None: no sample to take it from


# Red-band controls needed in each stratum to weight them: with fewer, one control more
# or less swings its stratum's rate by 20 points or more, and the figure with it.
MIN_STRATUM_CONTROLS = 5


def strata_weighted(counts: dict[str, int | float]) -> bool:
    """Whether the red band's rate is weighted by stratum (red_lift), from its stored counts."""
    earlier = counts.get("red_earlier_rows", 0)
    return (
        counts.get("published_earlier_share") is not None
        and min(earlier, counts["red_rows"] - earlier) >= MIN_STRATUM_CONTROLS
    )


def red_lift(counts: dict[str, int | float]) -> tuple[float | None, list[float] | None]:
    """The lift of the red band from the counts of random_control_metrics.

    The list that is published ranks the sector as of the as-of date, with one more year
    of findings behind it than the validated fit had when it ranked the validation year's
    visits: its red band holds more employers found in breach before, whose controls find
    far more. So the red band's rate is weighted by stratum: that of the red-band controls
    with an earlier finding, weighted by their share in the published red band, plus that
    of the others (docs/scoring.md). With too few controls in a stratum, it is the plain rate.
    """
    red, base = (counts["red_hits"], counts["red_rows"]), (counts["validation_hits"], counts["validation_rows"])
    if not strata_weighted(counts):
        return lift_of(red, base)
    share, earlier = counts["published_earlier_share"], counts["red_earlier_rows"]
    with_earlier = (counts["red_earlier_hits"], earlier, share)
    without = (red[0] - with_earlier[0], red[1] - earlier, 1 - share)
    return lift_weighted([with_earlier, without], base)


def lift_of(red: tuple[int, int], base: tuple[int, int]) -> tuple[float | None, list[float] | None]:
    """Ratio of the red band's hit rate to the base rate, each (hits, rows), and its interval."""
    return lift_weighted([(*red, 1.0)], base)


def lift_weighted(
    parts: list[tuple[int, int, float]], base: tuple[int, int]
) -> tuple[float | None, list[float] | None]:
    """Ratio of a weighted sum of hit rates, each (hits, rows, weight), to the base rate (hits, rows)."""
    if not all(rows for _hits, rows, _weight in parts) or not base[1]:
        return None, None
    rng = np.random.default_rng(SEED)
    red_draws = sum(weight * rng.beta(hits + 0.5, rows - hits + 0.5, 20_000) for hits, rows, weight in parts)
    draws = red_draws / rng.beta(base[0] + 0.5, base[1] - base[0] + 0.5, 20_000)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, point, high = np.percentile(draws, [tail, 50, 100 - tail])
    return float(point), [float(low), float(high)]


def lower_bound(values: np.ndarray) -> float | None:
    """The one-sided 95 % lower bound of bootstrap values (their 5th percentile): the gates
    ask one-sided questions ("better than chance?"), so they test at that bound."""
    values = values[np.isfinite(values)]
    if len(values) < 0.9 * ROUNDS:
        return None
    return float(np.percentile(values, (1 - CONFIDENCE) * 100))


def _band_hit_rates(labels: np.ndarray, bands: np.ndarray, weights: np.ndarray) -> dict[str, dict[str, object]]:
    rates: dict[str, dict[str, object]] = {}
    for number, name in enumerate(BAND_NAMES, start=1):
        inside = bands == number
        count = int(inside.sum())
        rates[name] = {
            "rows": count,
            "hits": int(labels[inside].sum()),
            "rate": float(labels[inside].mean()) if count else None,
            "interval": interval(rate((inside & labels) @ weights, inside @ weights)) if count else None,
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


def auc_difference(labels: np.ndarray, mine: np.ndarray, theirs: np.ndarray) -> dict[str, object]:
    """ROC AUC of two models on the same inspections, and of their difference, with a paired
    interval: each round draws the same inspections for both."""
    weights = bootstrap_weights(len(labels))
    order_mine, order_theirs = np.argsort(mine, kind="stable"), np.argsort(theirs, kind="stable")
    a = roc_auc(labels[order_mine], mine[order_mine], weights[order_mine])
    b = roc_auc(labels[order_theirs], theirs[order_theirs], weights[order_theirs])
    ones = np.ones((len(labels), 1), dtype=np.float32)
    point_a = float(roc_auc(labels[order_mine], mine[order_mine], ones)[0])
    point_b = float(roc_auc(labels[order_theirs], theirs[order_theirs], ones)[0])
    return {
        "roc_auc": point_a,
        "active_roc_auc": point_b,
        "difference": point_a - point_b,
        "interval": interval(a - b),
    }


def figure_text(metrics: dict, name: str) -> str:
    """A stored figure with its 95 % interval, e.g. "0.712 (0.651-0.772)"; "-" when unknown."""
    value = (metrics or {}).get(name)
    if value is None:
        return "-"
    digits = 2 if abs(value) >= 10 else 3
    pair = ((metrics or {}).get("intervals") or {}).get(name)
    return f"{value:.{digits}f}" + (f" ({pair[0]:.{digits}f}-{pair[1]:.{digits}f})" if pair else "")


# Random controls of the validation year needed to judge a model on them (rows, offences
# found, none found). With 5 and 13 offences found among them, models whose lift against
# the ground truth was 4.8 and 5.2 had lower bounds of 0.37 and 0.48: fewer than 20 found
# would refuse good models by chance.
MIN_CONTROLS = (100, 20, 20)


def gates_failed(metrics: dict) -> list[str]:
    """Why a version may not be activated automatically, in words (empty: it passes)."""
    failed = []
    low = metrics.get("lower_bounds", {}).get("roc_auc")
    if low is None or low <= 0.5:
        failed.append(
            f"On the {metrics.get('rows', 0)} validation inspections, ROC AUC {_shown(metrics.get('roc_auc'))} "
            f"(one-sided 95 % lower bound {_shown(low)}) does not show that the model ranks better than chance."
        )
    failed.extend(_control_gate(metrics))
    rates = metrics.get("band_hit_rates")
    if not rates or not bands_fall(rates):
        failed.append("Hit rates do not fall from red to blue on the validation inspections.")
    comparison = metrics.get("versus_active") or {}
    high = (comparison.get("interval") or [None, None])[1]
    if high is not None and high < 0:
        failed.append(
            f"On the {comparison['rows']} validation inspections version {comparison['version']} had not seen, its "
            f"ROC AUC is higher: this version's minus its is {comparison['difference']:.3f} "
            f"(95 % interval {_range(comparison['interval'])})."
        )
    return failed


def _control_gate(metrics: dict) -> list[str]:
    """The random controls: the only inspections whose choice did not lean on risk. With
    enough of them the model must beat chance among them too (gate_notes says when not)."""
    counts = metrics.get("random_controls") or {}
    if not _controls_enough(counts):
        return []
    low = metrics.get("lower_bounds", {}).get("control_roc_auc")
    if low is None or low <= 0.5:
        return [
            f"On the {counts['validation_rows']} random controls of the validation year "
            f"({counts['validation_hits']} found an offence), ROC AUC {_shown(metrics.get('control_roc_auc'))} "
            f"(one-sided 95 % lower bound {_shown(low)}) does not show that the model ranks better than chance."
        ]
    return []


def _controls_enough(counts: dict) -> bool:
    rows, hits = counts.get("validation_rows", 0), counts.get("validation_hits", 0)
    return rows >= MIN_CONTROLS[0] and hits >= MIN_CONTROLS[1] and rows - hits >= MIN_CONTROLS[2]


def gate_notes(metrics: dict) -> list[str]:
    """What the gates could not check, in words, for the version's note."""
    counts = metrics.get("random_controls") or {}
    if _controls_enough(counts):
        return []
    return [
        f"Only {counts.get('validation_rows', 0)} random controls in the validation year, of which "
        f"{counts.get('validation_hits', 0)} found an "
        f"offence: too few to check the model on an unbiased sample (at least {MIN_CONTROLS[0]}, with "
        f"{MIN_CONTROLS[1]} found and {MIN_CONTROLS[2]} not), so its lift interval is wide; it was judged on "
        "every validation inspection."
    ]


def _shown(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.3f}"


def _range(pair: list[float] | None) -> str:
    return "unknown" if not pair else f"{pair[0]:.3f} to {pair[1]:.3f}"
