"""Validation figures: the same values as scikit-learn, intervals that cover, a lift from random controls."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from scoring.services import evaluation
from scoring.services.evaluation import auc_difference, bands_of, metrics_compute


def _ones(count: int) -> np.ndarray:
    return np.ones((count, 1), dtype=np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ranking_figures_equal_scikit_learn_with_ties(seed) -> None:
    rng = np.random.default_rng(seed)
    scores = np.sort(np.round(rng.random(3000), 2))  # many ties
    labels = rng.random(3000) < scores

    assert evaluation.roc_auc(labels, scores, _ones(3000))[0] == pytest.approx(roc_auc_score(labels, scores), abs=1e-6)
    assert evaluation.average_precision(labels, scores, _ones(3000))[0] == pytest.approx(
        average_precision_score(labels, scores), abs=1e-6
    )


def test_bootstrap_weights_are_poisson_and_seeded() -> None:
    weights = evaluation.bootstrap_weights(20_000, rounds=50)

    assert weights.shape == (20_000, 50)
    assert weights.mean() == pytest.approx(1.0, abs=0.01) and weights.var() == pytest.approx(1.0, abs=0.02)
    assert (weights == 0).mean() == pytest.approx(np.exp(-1), abs=0.01)
    np.testing.assert_array_equal(weights, evaluation.bootstrap_weights(20_000, rounds=50))


def _validation(rng: np.random.Generator, count: int, strength: float) -> tuple[np.ndarray, np.ndarray]:
    """Scores with a known signal: the offence is found with probability rising with the score."""
    scores = rng.random(count)
    labels = rng.random(count) < 1 / (1 + np.exp(-(strength * (scores - 0.5) - 1.5)))
    return labels, scores


def test_the_auc_interval_covers_the_true_value_about_95_times_in_100() -> None:
    rng = np.random.default_rng(7)
    truth_labels, truth_scores = _validation(rng, 400_000, 3.0)
    truth = roc_auc_score(truth_labels, truth_scores)
    covered = 0
    for _ in range(60):
        labels, scores = _validation(rng, 600, 3.0)
        order = np.argsort(scores)
        metrics = metrics_compute(
            labels=labels[order],
            scores=scores[order],
            bands=bands_of(scores[order], [0.95, 0.85, 0.5]),
            capacity_share=0.05,
            controls=np.zeros(600, dtype=bool),
        )
        low, high = metrics["intervals"]["roc_auc"]
        covered += low <= truth <= high
    assert covered >= 52  # 95 % of 60 is 57; a binomial spread of two standard deviations below


def test_the_lift_is_that_of_the_red_band_among_random_controls() -> None:
    """A sector where the red 5 % find offences three times as often as everyone: the controls
    that land in the red band say so; the targeted inspections, chosen for risk, are left out."""
    rng = np.random.default_rng(3)
    count = 40_000
    scores = rng.random(count)
    red = scores >= 0.95
    labels = rng.random(count) < np.where(red, 0.30, 0.10 * (1 - 0.3 * 0.05) / 0.95)
    controls = rng.random(count) < 0.25
    metrics = metrics_compute(
        labels=labels,
        scores=scores,
        bands=bands_of(scores, [0.95, 0.85, 0.5]),
        capacity_share=0.05,
        controls=controls,
    )

    counts = metrics["random_controls"]
    assert counts["validation_rows"] == controls.sum() and counts["red_rows"] == (controls & red).sum()
    true_lift = 0.30 / labels.mean()
    low, high = metrics["intervals"]["lift"]
    assert low < true_lift < high and low > 2
    plain = (counts["red_hits"] / counts["red_rows"]) / (counts["validation_hits"] / counts["validation_rows"])
    assert metrics["lift"] == pytest.approx(plain, rel=0.05)  # the posterior median, near the plain ratio


@pytest.mark.parametrize(("red", "base"), [((0, 2), (3, 40)), ((1, 1), (2, 34)), ((0, 1), (0, 14))])
def test_a_lift_from_a_handful_of_controls_has_a_wide_interval_that_holds_it(red, base) -> None:
    lift, (low, high) = evaluation.lift_of(red, base)

    assert low < lift < high
    assert high / max(low, 1e-9) > 10  # a handful of controls says little, and the interval shows it


_STRATA = {  # red-band controls: 8 of 10 with an earlier finding found one, 1 of 10 without; base 20 of 200
    "validation_rows": 200,
    "validation_hits": 20,
    "red_rows": 20,
    "red_hits": 9,
    "red_earlier_rows": 10,
    "red_earlier_hits": 8,
}


def test_the_red_band_rate_is_weighted_to_the_published_lists_share_of_earlier_findings() -> None:
    plain, _ = evaluation.lift_of((9, 20), (20, 200))
    lift, (low, high) = evaluation.red_lift(_STRATA | {"published_earlier_share": 0.9})

    assert plain == pytest.approx(4.5, rel=0.1)
    assert lift == pytest.approx((0.9 * 0.8 + 0.1 * 0.1) / 0.1, rel=0.1)  # 7.3: the published list's rate
    assert low < lift < high
    # The same mix as the controls' gives the plain figure back.
    assert evaluation.red_lift(_STRATA | {"published_earlier_share": 0.5})[0] == pytest.approx(plain, rel=0.05)


@pytest.mark.parametrize("earlier", [(0, 0), (2, 4), (8, 16), (9, 20)])
def test_with_too_few_controls_in_a_stratum_the_lift_is_the_plain_one(earlier) -> None:
    counts = _STRATA | {"red_earlier_hits": earlier[0], "red_earlier_rows": earlier[1], "published_earlier_share": 0.9}

    assert evaluation.red_lift(counts) == evaluation.lift_of((9, 20), (20, 200))
    assert not evaluation.strata_weighted(counts)


def test_without_a_share_the_lift_is_the_plain_one() -> None:
    counts = _STRATA | {"published_earlier_share": None}

    assert evaluation.red_lift(counts) == evaluation.lift_of((9, 20), (20, 200))


def test_the_strata_follow_their_inspections_when_the_scores_are_sorted() -> None:
    rng = np.random.default_rng(3)
    labels, scores = _validation(rng, 3000, 4.0)
    controls, earlier = rng.random(3000) < 0.3, rng.random(3000) < 0.4
    bands = bands_of(scores, [0.9, 0.8, 0.5])
    mix = evaluation.PublishedMix(earlier=earlier, share=0.7)

    metrics = metrics_compute(labels=labels, scores=scores, bands=bands, capacity_share=0.1, controls=controls, mix=mix)

    counts, red = metrics["random_controls"], controls & (bands == 1)
    assert (
        counts["red_earlier_rows"] == (red & earlier).sum()
        and counts["red_earlier_hits"] == (red & earlier & labels).sum()
    )
    assert counts["published_earlier_share"] == 0.7
    assert metrics["lift"] == evaluation.red_lift(counts)[0]


def test_without_controls_there_is_no_lift_and_no_interval() -> None:
    labels, scores = _validation(np.random.default_rng(1), 500, 3.0)
    metrics = metrics_compute(
        labels=labels,
        scores=scores,
        bands=bands_of(scores, [0.9, 0.8, 0.5]),
        capacity_share=0.05,
        controls=np.zeros(500, dtype=bool),
    )

    assert metrics["lift"] is None
    assert metrics["intervals"]["lift"] is None and metrics["intervals"]["control_roc_auc"] is None
    assert metrics["random_controls"] == {
        "validation_rows": 0,
        "validation_hits": 0,
        "red_rows": 0,
        "red_hits": 0,
    }


def test_every_interval_holds_its_figure() -> None:
    labels, scores = _validation(np.random.default_rng(5), 2000, 4.0)
    metrics = metrics_compute(
        labels=labels,
        scores=scores,
        bands=bands_of(scores, [0.95, 0.85, 0.5]),
        capacity_share=0.05,
        controls=np.random.default_rng(6).random(2000) < 0.3,
    )

    assert set(metrics["intervals"]) == {
        "roc_auc",
        "average_precision",
        "precision_at_k",
        "recall_at_k",
        "brier",
        "lift",
        "control_roc_auc",
    }
    for name, (low, high) in metrics["intervals"].items():
        assert low <= metrics[name] <= high, name
    for name, bound in metrics["lower_bounds"].items():
        assert metrics["intervals"][name][0] <= bound <= metrics[name], name
    for band in metrics["band_hit_rates"].values():
        assert band["interval"][0] <= band["rate"] <= band["interval"][1]


def test_the_paired_difference_tells_a_better_model_from_the_same_one() -> None:
    rng = np.random.default_rng(9)
    labels, good = _validation(rng, 3000, 5.0)
    noisy = good + rng.normal(0, 0.6, 3000)

    better = auc_difference(labels, good, noisy)
    same = auc_difference(labels, good, good.copy())

    assert better["difference"] > 0 and better["interval"][0] > 0
    assert same["difference"] == 0 and same["interval"] == [0.0, 0.0]
    assert better["roc_auc"] == pytest.approx(roc_auc_score(labels, good), abs=1e-6)
