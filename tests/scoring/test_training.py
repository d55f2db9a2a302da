"""Training: a complete version record, skops artifact, temporal split, reproducibility, gates, activation."""

from __future__ import annotations

import datetime as dt
import io
import pickle
import re
import zipfile
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import sklearn
from django.db import IntegrityError, transaction
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

from inspections.models import Employer
from scoring.features.registry import FEATURE_NAMES, FeatureRefused
from scoring.models import DEFAULT_BAND_CUTOFFS, ModelStatus, ModelVersion
from scoring.services import training
from scoring.services.artifacts import artifact_dump, artifact_load, artifact_sha256
from scoring.services.training import (
    VALIDATION_DAYS,
    TrainingRefused,
    gates_failed,
    model_retrain,
    model_version_activate,
    training_set_build,
)
from tests.factories import FindingFactory, InspectionFactory, UserFactory

from .conftest import AS_OF, OFFENCE, SECTOR, generated_data

pytestmark = pytest.mark.django_db

CUTOFF = AS_OF - dt.timedelta(days=VALIDATION_DAYS)
METRICS = {
    "roc_auc",
    "average_precision",
    "precision_at_k",
    "recall_at_k",
    "lift",
    "band_hit_rates",
    "brier",
    "reliability",
    "baseline_logistic",
    "band_thresholds",
    "random_control_hit_rate",
    "cutoff",
    "rows",
    "positives",
    "k",
}


@pytest.fixture(scope="module")
def trained(django_db_setup, django_db_blocker) -> Iterator[ModelVersion]:
    """Generated data and the first version of (cleaning, part-time abuse), committed for the module."""
    with generated_data(django_db_blocker):
        with django_db_blocker.unblock():
            version = model_retrain(sector=SECTOR, offence=OFFENCE, as_of=AS_OF, origin="test fixture")
        yield version


@pytest.fixture
def data(trained) -> training.TrainingSet:
    return training_set_build(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)


def _without_comparison(metrics: dict) -> dict:
    return {name: value for name, value in metrics.items() if name != "active_average_precision"}


def test_a_version_records_how_it_was_made_and_how_well_it_did(trained, data) -> None:
    version = ModelVersion.objects.get(pk=trained.pk)  # as stored, through JSON

    assert version.status == ModelStatus.ACTIVE and version.activated_at is not None
    assert version.review_note == ""
    assert (version.sector_id, version.offence_type_id) == (SECTOR, OFFENCE)
    assert version.features == list(FEATURE_NAMES)
    assert version.training_from == data.training["as_of"].min().date() < CUTOFF
    assert version.training_to == CUTOFF and version.validation_to == AS_OF
    assert (version.training_rows, version.validation_rows) == (len(data.training), len(data.validation))
    assert version.training_data_sha256 == data.sha256() and re.fullmatch(r"[0-9a-f]{64}", data.sha256())
    assert version.sklearn_version == sklearn.__version__
    assert version.origin == "test fixture"
    assert version.band_cutoffs == DEFAULT_BAND_CUTOFFS

    metrics = version.metrics
    assert set(metrics) >= METRICS, METRICS - set(metrics)
    assert metrics["cutoff"] == CUTOFF.isoformat()
    assert metrics["rows"] == version.validation_rows
    assert metrics["positives"] == int(data.validation["found"].sum())
    assert 0.55 <= metrics["roc_auc"] <= 1 and 0 < metrics["average_precision"] <= 1
    assert 0 <= metrics["precision_at_k"] <= 1 and 0 <= metrics["recall_at_k"] <= 1 and 0 < metrics["brier"] < 0.25
    assert metrics["random_control_hit_rate"] == pytest.approx(data.random_hit_rate())
    assert metrics["lift"] == pytest.approx(metrics["precision_at_k"] / metrics["random_control_hit_rate"])
    bands = metrics["band_hit_rates"]
    assert set(bands) == {"red", "orange", "green", "blue"}
    assert sum(band["rows"] for band in bands.values()) == version.validation_rows
    assert sum(band["hits"] for band in bands.values()) == metrics["positives"]
    assert bands["red"]["rate"] > bands["blue"]["rate"]
    assert metrics["reliability"] and all({"predicted", "observed"} == set(bin_) for bin_ in metrics["reliability"])
    thresholds = metrics["band_thresholds"]
    assert len(thresholds) == 3 and thresholds[0] >= thresholds[1] >= thresholds[2]
    assert set(metrics["baseline_logistic"]) == {"roc_auc", "average_precision", "precision_at_k", "brier"}
    assert 0.5 < metrics["baseline_logistic"]["roc_auc"] <= 1


def test_the_gates_read_stored_metrics_as_they_read_fresh_ones(trained) -> None:
    """jsonb reorders keys (red, blue, green, orange): the hit-rate gate must go by band name."""
    stored = ModelVersion.objects.get(pk=trained.pk).metrics
    assert list(stored["band_hit_rates"]) != list(trained.metrics["band_hit_rates"])
    assert gates_failed(stored) == gates_failed(trained.metrics) == []


def test_the_artifact_is_skops_not_pickle(trained) -> None:
    payload = bytes(ModelVersion.objects.get(pk=trained.pk).artifact)

    assert artifact_sha256(payload) == trained.artifact_sha256
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        assert "schema.json" in archive.namelist()
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(payload)
    artifact = artifact_load(payload)
    assert artifact.features == list(FEATURE_NAMES)
    assert isinstance(artifact.model, Pipeline) and isinstance(artifact.explainer, Pipeline)


def test_the_split_is_temporal(trained, data) -> None:
    frame, train, valid = data.frame, data.training, data.validation

    assert data.cutoff == CUTOFF
    assert (train["as_of"] < pd.Timestamp(CUTOFF)).all()
    assert (valid["as_of"] >= pd.Timestamp(CUTOFF)).all() and (valid["as_of"] < pd.Timestamp(AS_OF)).all()
    assert len(train) + len(valid) == len(frame) and len(train) > 100 and len(valid) > 50
    assert train["as_of"].max() < valid["as_of"].min()
    # One row per (employer, visit) with features as of the visit date.
    assert not frame.duplicated(["employer_id", "as_of"]).any()
    assert frame["found"].dtype == bool and set(frame.columns) >= {*FEATURE_NAMES, "found", "random_control"}


def test_visits_on_or_after_the_as_of_date_are_left_out(trained, data) -> None:
    employer = Employer.objects.filter(sector=SECTOR).first()
    for number, day in enumerate((AS_OF, AS_OF + dt.timedelta(days=30))):
        FindingFactory(
            inspection=InspectionFactory(employer=employer, visit_date=day, reference=f"LATER-{number}"),
            offence_type_id=OFFENCE,
            found=True,
        )

    again = training_set_build(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)

    pd.testing.assert_frame_equal(again.frame, data.frame)
    assert again.sha256() == data.sha256()


def test_retraining_fits_on_the_training_rows_and_gives_the_same_model(trained, data, monkeypatch) -> None:
    fitted = []
    real = training.pipelines_fit
    monkeypatch.setattr(training, "pipelines_fit", lambda X, y: fitted.append((X, y)) or real(X, y))

    again = model_retrain(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)

    # Fitted on the visits before the cut-off, and on nothing else.
    [(X, y)] = fitted
    np.testing.assert_array_equal(X, data.training[list(FEATURE_NAMES)].to_numpy())
    np.testing.assert_array_equal(y, data.training["found"].to_numpy())
    # Fixed random states and a canonical skops file: the same data give the same bytes and metrics.
    assert again.pk != trained.pk
    assert again.artifact_sha256 == trained.artifact_sha256
    assert again.training_data_sha256 == trained.training_data_sha256
    assert _without_comparison(again.metrics) == _without_comparison(trained.metrics)
    # No worse than the active one (it is the same model): it takes over.
    assert again.metrics["active_average_precision"] == pytest.approx(trained.metrics["average_precision"])
    assert again.status == ModelStatus.ACTIVE
    assert list(ModelVersion.objects.active().filter(sector=SECTOR, offence_type=OFFENCE)) == [again]
    assert ModelVersion.objects.get(pk=trained.pk).status == ModelStatus.RETIRED


def test_one_active_version_per_pair(trained) -> None:
    newer = _with_features(trained, artifact_features=list(FEATURE_NAMES), version_features=list(FEATURE_NAMES))
    model_version_activate(version=newer)
    active = ModelVersion.objects.active().filter(sector=SECTOR, offence_type=OFFENCE)
    assert list(active) == [newer]
    assert ModelVersion.objects.get(pk=trained.pk).status == ModelStatus.RETIRED
    # Another pair keeps its own active version.
    other = _with_features(trained, artifact_features=list(FEATURE_NAMES), version_features=list(FEATURE_NAMES))
    ModelVersion.objects.filter(pk=other.pk).update(offence_type="undeclared_work")
    model_version_activate(version=ModelVersion.objects.get(pk=other.pk))
    assert list(active.all()) == [newer]

    # Back to the first one by hand: the other retires, and a user is noted.
    analyst = UserFactory(username="analyst")
    model_version_activate(version=ModelVersion.objects.get(pk=trained.pk), user=analyst)
    assert list(active.all()) == [ModelVersion.objects.get(pk=trained.pk)]
    assert "Activated by analyst" in ModelVersion.objects.get(pk=trained.pk).review_note
    assert ModelVersion.objects.get(pk=newer.pk).status == ModelStatus.RETIRED

    # And the database refuses a second active one however it is written.
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=newer.pk).update(status=ModelStatus.ACTIVE)


def _cheat(trained: ModelVersion, data: training.TrainingSet) -> ModelVersion:
    """An active version better by construction: a tree that learnt the validation answers by heart."""
    features = list(FEATURE_NAMES)
    valid = data.validation
    tree = Pipeline([("model", DecisionTreeClassifier(random_state=0))])
    tree.fit(valid[features].to_numpy(), valid["found"].to_numpy())
    artifact = artifact_load(bytes(trained.artifact))
    payload = artifact_dump(model=tree, explainer=artifact.explainer, features=features)
    ModelVersion.objects.filter(pk=trained.pk).update(status=ModelStatus.RETIRED)
    return ModelVersion.objects.create(
        sector=trained.sector,
        offence_type=trained.offence_type,
        status=ModelStatus.ACTIVE,
        artifact=payload,
        artifact_sha256=artifact_sha256(payload),
        features=features,
        training_from=trained.training_from,
        training_to=trained.training_to,
        validation_to=trained.validation_to,
        training_rows=1,
        validation_rows=1,
        training_data_sha256="0" * 64,
        sklearn_version=sklearn.__version__,
        origin="oracle",
    )


def test_a_worse_candidate_is_not_activated_and_is_flagged(trained, data) -> None:
    oracle = _cheat(trained, data)

    candidate = model_retrain(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)

    candidate.refresh_from_db()
    assert candidate.status == ModelStatus.CANDIDATE and candidate.activated_at is None
    assert candidate.metrics["active_average_precision"] > candidate.metrics["average_precision"]
    assert re.fullmatch(
        r"Average precision 0\.\d{3} is below the active version's \d\.\d{3} on the same inspections\.",
        candidate.review_note,
    ), candidate.review_note
    assert list(ModelVersion.objects.active().filter(sector=SECTOR, offence_type=OFFENCE)) == [oracle]


def test_retraining_on_the_same_data_replaces_the_active_version(trained) -> None:
    """The same data give the same model, so the same average precision up to noise: a
    retrain that is no worse than the active version within AP_TOLERANCE is activated."""
    again = model_retrain(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)

    again.refresh_from_db()
    assert abs(again.metrics["average_precision"] - again.metrics["active_average_precision"]) <= training.AP_TOLERANCE
    assert again.status == ModelStatus.ACTIVE
    assert list(ModelVersion.objects.active().filter(sector=SECTOR, offence_type=OFFENCE)) == [again]


def test_a_candidate_that_fails_the_gates_is_not_activated(trained, monkeypatch) -> None:
    ModelVersion.objects.filter(pk=trained.pk).update(status=ModelStatus.RETIRED)  # no active one to beat
    real = training.validation_metrics

    def weak(**kwargs):
        metrics = real(**kwargs)
        return metrics | {"roc_auc": 0.52}

    monkeypatch.setattr(training, "validation_metrics", weak)

    candidate = model_retrain(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)

    assert candidate.status == ModelStatus.CANDIDATE
    assert candidate.review_note == "ROC AUC 0.5200 is below the minimum of 0.55."
    assert not ModelVersion.objects.active().filter(sector=SECTOR, offence_type=OFFENCE).exists()


@pytest.mark.parametrize(
    ("metrics", "reasons"),
    [
        ({"roc_auc": 0.7, "band_hit_rates": {}}, []),
        ({"roc_auc": None, "band_hit_rates": {}}, ["ROC AUC unknown (one class only) is below the minimum of 0.55."]),
        ({"roc_auc": 0.5, "band_hit_rates": {}}, ["ROC AUC 0.5000 is below the minimum of 0.55."]),
        (
            {
                "roc_auc": 0.8,
                "band_hit_rates": {
                    "red": {"rows": 40, "hits": 4, "rate": 0.1},
                    "orange": {"rows": 40, "hits": 8, "rate": 0.2},
                    "green": {"rows": 100, "hits": 40, "rate": 0.4},
                    "blue": {"rows": 200, "hits": 120, "rate": 0.6},
                },
            },
            ["Hit rates do not fall from red to blue on the validation inspections."],
        ),
        (
            # Within sampling noise: a few dozen per band may wobble.
            {
                "roc_auc": 0.8,
                "band_hit_rates": {
                    "red": {"rows": 12, "hits": 4, "rate": 4 / 12},
                    "orange": {"rows": 12, "hits": 5, "rate": 5 / 12},
                    "green": {"rows": 30, "hits": 6, "rate": 0.2},
                    "blue": {"rows": 80, "hits": 4, "rate": 0.05},
                },
            },
            [],
        ),
    ],
    ids=["passes", "no auc", "low auc", "rates rise", "noise"],
)
def test_gates(metrics, reasons) -> None:
    assert gates_failed(metrics) == reasons


def _with_features(trained: ModelVersion, *, artifact_features: list[str], version_features: list[str]):
    artifact = artifact_load(bytes(trained.artifact))
    payload = artifact_dump(model=artifact.model, explainer=artifact.explainer, features=artifact_features)
    return ModelVersion.objects.create(
        sector=trained.sector,
        offence_type=trained.offence_type,
        artifact=payload,
        artifact_sha256=artifact_sha256(payload),
        features=version_features,
        training_from=trained.training_from,
        training_to=trained.training_to,
        validation_to=trained.validation_to,
        training_rows=trained.training_rows,
        validation_rows=trained.validation_rows,
        training_data_sha256=trained.training_data_sha256,
        sklearn_version=trained.sklearn_version,
        origin="upload by an analyst",
    )


@pytest.mark.parametrize(
    ("artifact_features", "version_features", "message"),
    [
        (["nationality", *FEATURE_NAMES[1:]], ["nationality", *FEATURE_NAMES[1:]], "Not allowed: nationality"),
        (["worker_age", *FEATURE_NAMES[1:]], list(FEATURE_NAMES), "Not allowed: worker_age"),
        (["turnover", *FEATURE_NAMES[1:]], list(FEATURE_NAMES), "Not in the feature registry: turnover"),
        (list(FEATURE_NAMES), ["facebook_likes", *FEATURE_NAMES[1:]], "Not allowed: facebook_likes"),
        (list(FEATURE_NAMES), list(reversed(FEATURE_NAMES)), "not the one its model file was trained on"),
    ],
    ids=["denied in both", "denied in the file", "unknown in the file", "denied in the record", "other order"],
)
def test_a_version_with_features_not_allowed_cannot_be_activated(
    trained, artifact_features, version_features, message
) -> None:
    version = _with_features(trained, artifact_features=artifact_features, version_features=version_features)

    with pytest.raises(FeatureRefused, match=message):
        model_version_activate(version=version)

    assert ModelVersion.objects.get(pk=version.pk).status == ModelStatus.CANDIDATE
    assert list(ModelVersion.objects.active().filter(sector=SECTOR, offence_type=OFFENCE)) == [trained]


def test_too_few_inspections_are_refused_in_words(trained, monkeypatch) -> None:
    early = dt.date(2023, 6, 1)  # the generated inspections begin in the autumn of 2022
    with pytest.raises(TrainingRefused, match=r"Not enough training inspections \(cut-off 2022-06-01\): 0 with 0 "):
        model_retrain(sector=SECTOR, offence=OFFENCE, as_of=early)

    monkeypatch.setattr(training, "MIN_VALIDATION", (10_000, 3))
    with pytest.raises(TrainingRefused) as refused:
        model_retrain(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)
    assert re.fullmatch(
        rf"Not enough validation inspections \(cut-off {CUTOFF}\): \d+ with \d+ offences found; "
        r"at least 10000 with 3 found, and some not found, are needed\.",
        str(refused.value),
    ), str(refused.value)
    assert ModelVersion.objects.count() == 1  # nothing stored


def test_a_pair_never_inspected_is_refused_in_words(trained) -> None:
    with pytest.raises(TrainingRefused, match="No completed inspection in cleaning checked part_time_abuse"):
        model_retrain(sector=SECTOR, offence=OFFENCE, as_of=dt.date(2010, 1, 1))
