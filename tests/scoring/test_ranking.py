"""Ranks, percentiles, bands, and the COPY rows a run writes (the reasons: test_reasons.py)."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
from django.db import connection
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline

from scoring.features.registry import reason_key
from scoring.models import DEFAULT_BAND_CUTOFFS
from scoring.services import ranking
from scoring.services.artifacts import Artifact
from scoring.services.ranking import REASONS, ScoredSector, row_tails, rows_render, scores_rank
from scoring.services.runs import _SCORE_COLUMNS

LIST_FIELDS = ("subregion_id", "size_class", "legal_form", "visit_recency")
FEATURES = ["hires_per_worker", "wage_per_fte_vs_sector", "part_time_share", "headcount", "debt_to_wages"]
UP, DOWN = 0, 1  # hires push the risk up, a higher wage pushes it down; the rest is noise


@pytest.fixture(scope="module")
def artifact() -> Artifact:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, len(FEATURES)))
    logit = 2.0 * X[:, UP] - 2.0 * X[:, DOWN] - 1.0
    y = (rng.random(3000) < 1 / (1 + np.exp(-logit))).astype(int)
    model = Pipeline([("model", HistGradientBoostingClassifier(max_iter=40, random_state=0))]).fit(X, y)
    return Artifact(model=model, features=FEATURES)


# --- scores_rank ----------------------------------------------------------------------------


def test_rank_by_score_ties_by_employer_id() -> None:
    scores = np.array([0.1, 0.9, 0.5, 0.9, 0.5])
    ids = np.array([10, 20, 30, 5, 7])

    rank, percentile, _ = scores_rank(scores, ids, DEFAULT_BAND_CUTOFFS)

    # 0.9 (id 5), 0.9 (id 20), 0.5 (id 7), 0.5 (id 30), 0.1 (id 10)
    assert rank.tolist() == [5, 2, 4, 1, 3]
    assert percentile.tolist() == pytest.approx([0.0, 60.0, 20.0, 80.0, 40.0])


def test_ranks_do_not_depend_on_input_order() -> None:
    rng = np.random.default_rng(1)
    scores = rng.choice([0.1, 0.2, 0.3], size=500)  # many ties
    ids = rng.permutation(np.arange(1000, 1500))
    rank, _, _ = scores_rank(scores, ids, DEFAULT_BAND_CUTOFFS)
    shuffle = rng.permutation(500)
    rank_shuffled, _, _ = scores_rank(scores[shuffle], ids[shuffle], DEFAULT_BAND_CUTOFFS)

    assert sorted(rank.tolist()) == list(range(1, 501))
    assert dict(zip(ids.tolist(), rank.tolist(), strict=True)) == dict(
        zip(ids[shuffle].tolist(), rank_shuffled.tolist(), strict=True)
    )


@pytest.mark.parametrize("count", [100, 1000, 20_000])
def test_default_bands_are_5_10_25_60_percent(count) -> None:
    scores = np.random.default_rng(count).random(count)
    ids = np.arange(count)

    rank, percentile, band = scores_rank(scores, ids, DEFAULT_BAND_CUTOFFS)

    counts = np.bincount(band, minlength=5)[1:]
    assert (counts * 100 // count).tolist() == [5, 10, 25, 60]
    assert counts.sum() == count
    # Bands follow the ranks: every red ranks above every orange, and so on.
    for higher, lower in zip(range(1, 4), range(2, 5), strict=True):
        assert rank[band == higher].max() < rank[band == lower].min()
    assert percentile[rank == 1][0] == pytest.approx(100 * (count - 1) / count)
    assert percentile.min() == 0.0


def test_custom_cutoffs() -> None:
    count = 100
    cutoffs = {"red": 0.07, "orange": 0.14, "green": 0.28}  # 0.07 * 100 is 7.000000000000001 in floats

    _, _, band = scores_rank(np.linspace(1, 0, count), np.arange(count), cutoffs)

    assert np.bincount(band, minlength=5)[1:].tolist() == [7, 7, 14, 72]


def test_a_small_sector_rounds_band_sizes_up() -> None:
    _, _, band = scores_rank(np.array([0.3, 0.2, 0.1]), np.array([1, 2, 3]), DEFAULT_BAND_CUTOFFS)
    assert band.tolist() == [1, 3, 4]  # ceil(0.15), ceil(0.45), ceil(1.2): red 1, orange 1 -> none left, green 2


# --- ScoredSector ---------------------------------------------------------------------------


def test_concat_keeps_the_rows_in_order(artifact) -> None:
    values = np.random.default_rng(2).normal(size=(10, len(FEATURES)))
    scores = artifact.model.predict_proba(values)[:, 1]
    parts = [
        ScoredSector.explain(employer_ids=np.arange(a, b), scores=scores[a:b], values=values[a:b], artifact=artifact)
        for a, b in [(0, 4), (4, 10)]
    ]

    whole = ScoredSector.concat(parts)

    assert whole.employer_ids.tolist() == list(range(10))
    np.testing.assert_array_equal(whole.rows.take(np.array([0, 3, 4, 9])), values[[0, 3, 4, 9]])
    # The early contributions (each part's highest scores) keep their rows.
    np.testing.assert_array_equal(whole.rows.take(whole.early.positions), values[whole.early.positions])
    assert sorted(whole.early.positions.tolist()) == sorted(
        [*np.argsort(-scores[:4])[:1].tolist(), *(4 + np.argsort(-scores[4:])[:2]).tolist()]
    )


# --- rows_render ----------------------------------------------------------------------------


def _scored(count: int, artifact: Artifact) -> ScoredSector:
    rng = np.random.default_rng(count)
    values = rng.normal(size=(count, len(FEATURES)))
    values[::3, DOWN] = np.nan
    scores = artifact.model.predict_proba(values)[:, 1]
    scores[1] = 1.5e-05  # prints in exponent notation
    return ScoredSector.explain(
        employer_ids=np.arange(1000, 1000 + count), scores=scores, values=values, artifact=artifact
    )


def _parsed(payload: bytes) -> list[list[str]]:
    text = payload.decode()
    assert text.endswith("\n")
    return [line.split("\t") for line in text[:-1].split("\n")]


@pytest.mark.parametrize("tails", [False, True])  # rendered with the chunk's scores (runs.chunk_score) or at the end
@pytest.mark.parametrize(("count", "chunk"), [(40, 100_000), (40, 7), (28, 7)])
def test_rows_render_writes_copy_text(monkeypatch, artifact, count, chunk, tails) -> None:
    monkeypatch.setattr(ranking, "RENDER_ROWS", chunk)
    scored = _scored(count, artifact)
    if tails:
        scored = replace(scored, tails=row_tails(scored))
    rank, percentile, band = scores_rank(scored.scores, scored.employer_ids, DEFAULT_BAND_CUTOFFS)
    reasons = scored.reasons(band)

    chunks = list(rows_render(42, scored, rank, percentile, band, FEATURES))

    assert [rows for _, rows in chunks] == [min(chunk, count - start) for start in range(0, count, chunk)]
    rows = [dict(zip(_SCORE_COLUMNS, row, strict=True)) for payload, _ in chunks for row in _parsed(payload)]
    assert [int(row["rank"]) for row in rows] == list(range(1, count + 1))  # in rank order
    by_row = np.argsort(rank)
    slot_of = {position: slot for slot, position in enumerate(reasons.positions)}
    named = 0
    for position, row in zip(by_row, rows, strict=True):
        # the list columns: \N or empty without a listing
        assert [row[name] for name in LIST_FIELDS] == ["\\N", "\\N", "", "\\N"]
        assert row["run_id"] == "42" and int(row["employer_id"]) == scored.employer_ids[position]
        assert float(row["score"]) == pytest.approx(scored.scores[position], abs=1e-6)
        assert int(row["rank"]) == rank[position] and int(row["band"]) == band[position]
        assert float(row["percentile"]) == pytest.approx(percentile[position], abs=1e-3)
        for number in range(REASONS):
            name, value = row[f"reason_{number + 1}"], row[f"reason_{number + 1}_value"]
            index = reasons.index[slot_of[position], number] if position in slot_of else -1
            if index < 0:
                assert (name, value) == ("", "\\N")
                continue
            named += 1
            assert name == reason_key(FEATURES[index], reasons.profile.median[index])
            assert float(value) == pytest.approx(reasons.value[slot_of[position], number], abs=1e-4)
    assert named > 0  # the red and orange rows have reasons


@pytest.mark.django_db
def test_postgresql_reads_the_rows(artifact) -> None:
    """The real check of the format: PostgreSQL's COPY parses every chunk, NULLs included."""
    scored = _scored(25, artifact)
    rank, percentile, band = scores_rank(scored.scores, scored.employer_ids, DEFAULT_BAND_CUTOFFS)
    reasons = ", ".join(f"reason_{n} varchar(40), reason_{n}_value float8" for n in range(1, REASONS + 1))
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE rendered (run_id int, rank int, percentile float8, band smallint, "
            f"employer_id bigint, score float8, {reasons}, "
            "subregion_id text, size_class smallint, legal_form text, visit_recency smallint)"
        )
        for payload, _ in rows_render(7, scored, rank, percentile, band, FEATURES):
            cursor.cursor.copy_expert("COPY rendered FROM STDIN", io.BytesIO(payload))
        cursor.execute(
            "SELECT count(*), count(reason_1_value), count(*) FILTER (WHERE reason_1 = ''), "
            "min(score), max(rank), count(DISTINCT rank) FROM rendered"
        )
        rows, values, empty, low, top, distinct = cursor.fetchone()
    first = scored.reasons(band).index[:, 0]
    assert rows == 25 and top == 25 and distinct == 25
    assert values == int((first >= 0).sum()) == 25 - empty
    assert low == pytest.approx(1.5e-05)
