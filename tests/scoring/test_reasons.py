"""Reasons that are right, on a sector with a planted mechanism: only a low wage per FTE
drives the offence, while "no earlier inspection", which most employers share, raises
the model's score a little too. The first is every red employer's first reason, with its
direction; the second never is, however much it adds."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.utils import translation
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline

from scoring.features.registry import REASON_KEY_LENGTH, reason_key, reason_parts, reason_text
from scoring.models import DEFAULT_BAND_CUTOFFS, Band
from scoring.services import ranking
from scoring.services.artifacts import Artifact
from scoring.services.ranking import (
    MIN_CONTRIBUTION,
    ScoredSector,
    SectorProfile,
    reasons_pick,
    rows_render,
    scores_rank,
)
from scoring.services.runs import _SCORE_COLUMNS

FEATURES = [
    "wage_per_fte_vs_sector",
    "earlier_inspections",
    "short_contract_share",
    "headcount",
    "part_time_share",
    "company_years",
]
WAGE, EARLIER, SHORT = 0, 1, 2


def _employers(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = np.empty((count, len(FEATURES)))
    values[:, WAGE] = np.clip(rng.normal(0, 0.15, count), -0.9, None)
    values[:, EARLIER] = np.where(rng.random(count) < 0.8, 0, rng.poisson(1, count) + 1)  # most: none
    values[:, SHORT] = np.where(rng.random(count) < 0.7, 0, rng.beta(2, 5, count))  # most: none
    values[:, 3] = np.round(rng.lognormal(2, 1, count))
    values[:, 4] = rng.beta(2, 3, count)
    values[:, 5] = rng.uniform(0, 40, count)
    values[rng.random(count) < 0.05, 3] = np.nan
    return values


@pytest.fixture(scope="module")
def artifact() -> Artifact:
    """Our own kind of model, trained where a low wage drives the offence and an earlier
    inspection makes it a little less likely (so "none" raises the score)."""
    rng = np.random.default_rng(11)
    values = _employers(20_000, 11)
    logit = -2.5 - 12 * values[:, WAGE] - 0.8 * (values[:, EARLIER] > 0)
    found = (rng.random(len(values)) < 1 / (1 + np.exp(-logit))).astype(int)
    boosting = HistGradientBoostingClassifier(
        max_iter=120, learning_rate=0.05, max_depth=4, min_samples_leaf=40, l2_regularization=1.0, random_state=0
    )
    return Artifact(model=Pipeline([("model", boosting)]).fit(values, found), features=FEATURES)


@pytest.fixture(scope="module")
def sector(artifact) -> tuple[ScoredSector, np.ndarray, np.ndarray]:
    """10,000 employers of a sector scored in three chunks, as a run reads them; their bands."""
    values = _employers(10_000, 12)
    parts = [
        ScoredSector.explain(
            employer_ids=np.arange(start, stop),
            scores=artifact.model.predict_proba(values[start:stop])[:, 1],
            values=values[start:stop],
            artifact=artifact,
        )
        for start, stop in [(0, 4000), (4000, 7000), (7000, 10_000)]
    ]
    scored = ScoredSector.concat(parts)
    _, _, band = scores_rank(scored.scores, scored.employer_ids, DEFAULT_BAND_CUTOFFS)
    return scored, values, band


def test_the_red_and_orange_employers_first_reason_is_their_low_wage(sector) -> None:
    scored, values, band = sector

    reasons = scored.reasons(band)

    assert set(band[reasons.positions]) == {Band.RED, Band.ORANGE}
    assert len(reasons.positions) == (band <= 2).sum()
    assert (reasons.index[:, 0] == WAGE).all()
    # The right direction: below the sector's median, and in fact below its first quartile.
    wages = reasons.value[:, 0]
    assert (wages < reasons.profile.median[WAGE]).all() and (wages < reasons.profile.low[WAGE]).all()
    np.testing.assert_array_equal(wages, values[reasons.positions, WAGE])


def test_a_value_most_of_the_sector_shares_is_never_a_reason(sector) -> None:
    scored, values, band = sector
    reasons = scored.reasons(band)
    contributions = scored._contributions(reasons.positions)
    profile = reasons.profile

    # The trap is live: most red and orange employers had no earlier inspection, and the
    # model adds at least the minimum to their score for it.
    none_before = values[reasons.positions, EARLIER] == 0
    assert profile.median[EARLIER] == 0 and profile.high[EARLIER] == 0
    assert (none_before & (contributions[:, EARLIER] >= MIN_CONTRIBUTION["log-odds"])).mean() > 0.5
    # ... and yet it is never a reason, nor any value inside the middle half of the sector.
    picked = reasons.index >= 0
    features = reasons.index[picked]
    assert EARLIER not in features[np.isnan(reasons.value[picked]) | (reasons.value[picked] == 0)]
    assert not ((reasons.index == EARLIER) & (reasons.value == 0)).any()
    assert not ((reasons.index == SHORT) & (reasons.value == 0)).any()
    low, high = profile.low[features], profile.high[features]
    assert ((reasons.value[picked] < low) | (reasons.value[picked] > high)).all()
    assert (reasons.value[picked] != profile.median[features]).all()
    # Every reason raises the score by at least the minimum, strongest first.
    rows = np.nonzero(picked)[0]
    credited = contributions[rows, features]
    assert (credited >= MIN_CONTRIBUTION["log-odds"]).all()
    ordered = np.where(picked, np.take_along_axis(contributions, np.maximum(reasons.index, 0), axis=1), -1e9)
    assert (np.diff(ordered, axis=1) <= 0).all()


def test_green_and_blue_employers_get_no_reasons(sector) -> None:
    scored, _, band = sector
    reasons = scored.reasons(band)
    assert not np.isin(np.flatnonzero(band > 2), reasons.positions).any()


def test_contributions_computed_at_the_end_give_the_same_reasons(artifact, sector, monkeypatch) -> None:
    """The contributions of each chunk's highest scores are computed early; the rest when
    the sector is ranked. Either way the reasons are the same."""
    scored, values, band = sector
    monkeypatch.setattr(ranking, "EARLY_SHARE", 0.0)
    late = ScoredSector.explain(
        employer_ids=scored.employer_ids, scores=scored.scores, values=values, artifact=artifact
    )
    assert len(late.early.positions) == 0

    first, second = scored.reasons(band), late.reasons(band)

    np.testing.assert_array_equal(first.index, second.index)
    np.testing.assert_array_equal(first.value, second.value)


def test_the_rows_carry_the_reason_with_its_median_and_read_in_words(sector) -> None:
    scored, values, band = sector
    rank, percentile, _ = scores_rank(scored.scores, scored.employer_ids, DEFAULT_BAND_CUTOFFS)

    payload = b"".join(chunk for chunk, _ in rows_render(9, scored, rank, percentile, band, FEATURES))

    rows = [dict(zip(_SCORE_COLUMNS, line.split("\t"), strict=True)) for line in payload.decode().splitlines()]
    top = rows[0]
    name, median = reason_parts(top["reason_1"])
    assert name == "wage_per_fte_vs_sector" and median == pytest.approx(np.median(values[:, WAGE]), abs=0.01)
    wage = float(top["reason_1_value"])
    with translation.override("en"):
        assert reason_text(top["reason_1"], wage) == f"wage per FTE {round(-wage * 100)} % below the sector median"
    greens = [row for row in rows if int(row["band"]) > 2]
    assert greens and all(row["reason_1"] == "" and row["reason_1_value"] == "\\N" for row in greens)


@pytest.mark.django_db
def test_postgresql_reads_the_rows_with_their_reasons(sector) -> None:
    from django.db import connection

    scored, _, band = sector
    rank, percentile, _ = scores_rank(scored.scores, scored.employer_ids, DEFAULT_BAND_CUTOFFS)
    reasons = ", ".join(f"reason_{n} varchar(40), reason_{n}_value float8" for n in range(1, 4))
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE rendered (run_id int, rank int, percentile float8, band smallint, "
            f"employer_id bigint, score float8, {reasons}, "
            "subregion_id text, size_class smallint, legal_form text, visit_recency smallint)"
        )
        for payload, _ in rows_render(7, scored, rank, percentile, band, FEATURES):
            cursor.cursor.copy_expert("COPY rendered FROM STDIN", io.BytesIO(payload))
        cursor.execute("SELECT count(*), count(reason_1_value), count(*) FILTER (WHERE reason_1 <> '') FROM rendered")
        rows, values, named = cursor.fetchone()
    assert rows == 10_000 and values == named == (band <= 2).sum()


# --- The rules, on rows made by hand ---------------------------------------------------------


def test_each_rule_keeps_a_feature_out() -> None:
    profile = SectorProfile(low=np.array([0.0, 0.0, 1.0]), median=np.array([0.5, 0.0, 2.0]), high=np.array([1, 0, 3.0]))
    values = np.array(
        [
            [2.0, 3.0, 5.0],  # all three atypical and raising: strongest first
            [0.5, 0.0, 2.0],  # the sector's medians: nothing
            [2.0, 3.0, np.nan],  # a missing value is never a reason
            [2.0, 3.0, 5.0],  # raising, but less than the minimum or than at the medians
        ]
    )
    contributions = np.array([[0.2, 0.9, 0.5], [0.9, 0.9, 0.9], [0.2, 0.9, 0.9], [0.09, 0.3, 0.5]])
    typical = np.array([0.0, 0.0, 0.6])

    index, value = reasons_pick(contributions=contributions, values=values, profile=profile, typical=typical, floor=0.1)

    # Row 0: feature 2 adds 0.5, less than the 0.6 it adds at the sector's medians.
    assert index.tolist() == [[1, 0, -1], [-1, -1, -1], [1, 0, -1], [1, -1, -1]]
    np.testing.assert_array_equal(value[0], [3.0, 2.0, np.nan])


# --- In words ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("short_contract_share@0.1", 0.45, "45 % of hires on short contracts, above the sector median of 10 %"),
        ("earlier_findings@0", 2.0, "2 offences found by earlier inspections, above the sector median of 0"),
        ("hours_per_fte@455.2", 301.0, "301 declared hours per FTE a quarter, below the sector median of 455"),
        ("fte_per_worker@0.853", 0.4, "0.40 FTE per worker, below the sector median of 0.85"),
        ("headcount_change@0.02", -0.3, "workers down 30 % in a year, below the sector median of +2 %"),
        (
            "part_time_share_change@0",
            0.12,
            "part-time share up 12 points on earlier quarters, above the sector median of 0 points",
        ),
        (
            "layoff_days_change@-0.25",
            3.0,
            "temporary unemployment up 3.0 days per worker on half a year before, above the sector median of -0.2",
        ),
        # Its sentence names its own point of comparison, the sector's median wage.
        ("wage_per_fte_vs_sector@-0.02", -0.38, "wage per FTE 38 % below the sector median"),
        # Scores of runs before the medians were stored.
        ("short_contract_share", 0.45, "45 % of hires on short contracts"),
    ],
)
def test_a_reason_reads_with_its_direction_and_the_sector_median(key, value, text) -> None:
    with translation.override("en"):
        assert reason_text(key, value) == text


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_the_comparison_is_translated(language) -> None:
    with translation.override("en"):
        above = reason_text("short_contract_share@0.1", 0.45)
        below = reason_text("company_years@12", 1.5)
        points = reason_text("part_time_share_change@0.01", 0.2)
    with translation.override(language):
        texts = [
            reason_text("short_contract_share@0.1", 0.45),
            reason_text("company_years@12", 1.5),
            reason_text("part_time_share_change@0.01", 0.2),
        ]
    assert texts[0] != above and texts[1] != below and texts[2] != points
    assert all("%(" not in text and "%%" not in text for text in texts)
    assert texts[0].endswith("10 %") or "(10 %)" in texts[0]
    assert "12,0" in texts[1] and "+1" in texts[2]


def test_a_key_holds_the_median_and_always_fits_the_column() -> None:
    assert reason_key("earlier_inspections", 0.0) == "earlier_inspections@0"
    assert reason_parts(reason_key("hours_per_fte", 455.123456)) == ("hours_per_fte", 455.123)
    assert reason_key("headcount", float("nan")) == "headcount"
    assert reason_parts("headcount") == ("headcount", None) and reason_parts("headcount@x") == ("headcount", None)
    long = "layoff_days_spring_summer"
    assert len(reason_key(long, -1.23456789e-200)) <= REASON_KEY_LENGTH
    assert reason_key("a" * 35, 1234.5) == "a" * 35
