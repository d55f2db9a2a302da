"""A pair with few inspections of its own tries the offence's inspections in every sector,
and its own validation year decides."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from inspections.models import Sector
from scoring.services import training
from scoring.services.training import FeatureRows, SectorFeatures, TrainingSet

AS_OF = dt.date(2026, 1, 1)
CUTOFF = dt.date(2025, 1, 1)
FEATURES = ["signal", "noise"]


def _rows(count: int, *, seed: int, direction: float, start: str = "2022-01-01") -> pd.DataFrame:
    """Labelled rows whose offence follows `signal` (direction +1) or its opposite (-1),
    dated evenly from `start` to the as-of date."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=count)
    found = rng.random(count) < 1 / (1 + np.exp(-(2.5 * direction * signal - 1.5)))
    dates = pd.to_datetime(np.linspace(pd.Timestamp(start).value, pd.Timestamp(AS_OF).value - 1, count))
    return pd.DataFrame(
        {
            "employer_id": np.arange(count) + seed * 100_000,
            "as_of": dates.normalize(),
            "signal": signal,
            "noise": rng.normal(size=count),
            "found": found,
            "random_control": rng.random(count) < 0.15,
        }
    )


def _small_pair(seed: int = 1) -> TrainingSet:
    """A sector with 240 labelled inspections: 180 before the cut-off, and a validation year,
    whose own model has too few rows to find the signal reliably."""
    frame = _rows(240, seed=seed, direction=1.0, start="2022-01-01")
    features = SectorFeatures(sector="cleaning", as_of=AS_OF, inspected=pd.DataFrame())
    return TrainingSet(frame=frame, cutoff=CUTOFF, as_of=AS_OF, sector_features=features)


def _choose(data: TrainingSet, borrowed: pd.DataFrame, monkeypatch) -> training.Fitted:
    monkeypatch.setattr(training, "_borrowed_rows", lambda **kwargs: borrowed)
    return training._configuration_choose(data=data, features=FEATURES, rows=FeatureRows(AS_OF), offence="x")


def test_the_other_sectors_rows_are_used_when_the_validation_year_ranks_better_with_them(monkeypatch) -> None:
    data = _small_pair()
    borrowed = _rows(6_000, seed=2, direction=1.0)  # the same mechanism elsewhere

    fitted = _choose(data, borrowed, monkeypatch)

    pooling = fitted.pooling
    assert pooling["chosen"] and pooling["pooled_roc_auc"] > pooling["own_roc_auc"]
    assert pooling["borrowed_rows"] == 6_000
    before = int((borrowed["as_of"] < pd.Timestamp(CUTOFF)).sum())
    assert fitted.training_rows == len(data.training) + before
    assert len(fitted.every) == len(data.frame) + 6_000  # the live refit learns from all of them


def test_a_sector_that_differs_keeps_its_own_rows(monkeypatch) -> None:
    data = _small_pair()
    borrowed = _rows(6_000, seed=2, direction=-1.0)  # the opposite mechanism elsewhere

    fitted = _choose(data, borrowed, monkeypatch)

    assert not fitted.pooling["chosen"] and fitted.pooling["own_roc_auc"] > fitted.pooling["pooled_roc_auc"]
    assert fitted.training_rows == len(data.training)
    assert fitted.every is data.frame


def test_a_pair_with_enough_rows_of_its_own_does_not_pool(monkeypatch) -> None:
    monkeypatch.setattr(training, "POOLING_BELOW", 200)
    data = _small_pair()

    fitted = _choose(data, _rows(6_000, seed=2, direction=1.0), monkeypatch)

    assert fitted.pooling is None and fitted.every is data.frame


@pytest.mark.parametrize("borrowed", [pd.DataFrame()])
def test_no_other_sector_inspected_for_the_offence_keeps_the_own_rows(borrowed, monkeypatch) -> None:
    fitted = _choose(_small_pair(), borrowed, monkeypatch)

    assert fitted.pooling is None and fitted.training_rows == 180


def test_the_borrowed_rows_are_marked_as_another_sectors(monkeypatch) -> None:
    """The pooled trees can tell the pair's own rows from the borrowed ones: where the
    other sectors follow the opposite mechanism, the pooled model still ranks this sector's
    employers by its own."""
    data = _small_pair()
    data.frame["own_sector"] = 1.0
    borrowed = _rows(6_000, seed=2, direction=-1.0).assign(own_sector=0.0)
    features = [*FEATURES, "own_sector"]
    pooled = training.model_fit(pd.concat([data.training, borrowed], ignore_index=True), features)
    unmarked = training.model_fit(pd.concat([data.training, borrowed], ignore_index=True), FEATURES)

    valid = data.validation
    marked_auc = roc_auc_score(valid["found"], training._scores(pooled, valid, features))
    unmarked_auc = roc_auc_score(valid["found"], training._scores(unmarked, valid, FEATURES))
    assert marked_auc > 0.6 > 0.4 > unmarked_auc


@pytest.mark.django_db
def test_borrowed_rows_carry_own_sector_zero(monkeypatch) -> None:
    sectors = list(Sector.objects.values_list("pk", flat=True))

    def built(*, sector: str, offence: str, as_of, features) -> TrainingSet:
        frame = _rows(50, seed=3, direction=1.0).assign(own_sector=1.0)
        return TrainingSet(frame=frame, cutoff=CUTOFF, as_of=AS_OF, sector_features=features)

    monkeypatch.setattr(training, "training_set_build", built)
    rows = FeatureRows(AS_OF, sectors={s: SectorFeatures(s, AS_OF, pd.DataFrame()) for s in sectors})

    borrowed = training._borrowed_rows(sector="cleaning", offence="x", rows=rows)

    assert len(borrowed) == 50 * (len(sectors) - 1) and (borrowed["own_sector"] == 0.0).all()
