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
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

from inspections.models import Employer, Sector
from inspections.roles import ANALYST
from scoring.features.registry import FEATURE_NAMES, FeatureRefused
from scoring.models import DEFAULT_BAND_CUTOFFS, ModelEventAction, ModelStatus, ModelVersion
from scoring.services import evaluation, training
from scoring.services.artifacts import Artifact, artifact_dump, artifact_load, artifact_sha256
from scoring.services.evaluation import gate_notes, gates_failed
from scoring.services.training import (
    VALIDATION_DAYS,
    TrainingRefused,
    model_retrain,
    training_set_build,
)
from scoring.services.versions import model_version_activate
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
    "band_thresholds",
    "intervals",
    "random_controls",
    "control_roc_auc",
    "refit",
    "hits_at_k",
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
    return {name: value for name, value in metrics.items() if name != "versus_active"}


def _borrowed_before_cutoff() -> int:
    rows = training.FeatureRows(AS_OF)
    frame = training._borrowed_rows(sector=SECTOR, offence=OFFENCE, rows=rows)
    return int((frame["as_of"] < pd.Timestamp(CUTOFF)).sum())


def test_a_version_records_how_it_was_made_and_how_well_it_did(trained, data) -> None:
    version = ModelVersion.objects.get(pk=trained.pk)  # as stored, through JSON

    assert version.status == ModelStatus.ACTIVE and version.activated_at is not None
    assert version.review_note == " ".join(gate_notes(version.metrics))
    assert (version.sector_id, version.offence_type_id) == (SECTOR, OFFENCE)
    assert version.features == list(FEATURE_NAMES)
    assert version.training_from == data.training["as_of"].min().date() < CUTOFF
    assert version.training_to == CUTOFF and version.validation_to == AS_OF
    # A small pair: it also tried the offence's inspections in the other sectors, and its
    # validation year chose (see test_pooling.py).
    pooling = version.metrics["pooling"]
    borrowed = pooling["borrowed_rows"] if pooling["chosen"] else 0
    borrowed_before = _borrowed_before_cutoff() if pooling["chosen"] else 0
    assert (version.training_rows, version.validation_rows) == (
        len(data.training) + borrowed_before,
        len(data.validation),
    )
    assert re.fullmatch(r"[0-9a-f]{64}", version.training_data_sha256)
    assert version.sklearn_version == sklearn.__version__
    assert version.origin == "test fixture"
    assert version.band_cutoffs == DEFAULT_BAND_CUTOFFS

    metrics = version.metrics
    assert set(metrics) >= METRICS, METRICS - set(metrics)
    assert metrics["cutoff"] == CUTOFF.isoformat()
    assert metrics["rows"] == version.validation_rows
    assert metrics["positives"] == int(data.validation["found"].sum())
    assert 0.5 < metrics["intervals"]["roc_auc"][0] <= metrics["roc_auc"] <= 1 and 0 < metrics["average_precision"] <= 1
    assert 0 <= metrics["precision_at_k"] <= 1 and 0 <= metrics["recall_at_k"] <= 1 and 0 < metrics["brier"] < 0.25
    for name, pair in metrics["intervals"].items():
        assert pair is None or pair[0] <= metrics[name] <= pair[1], name
    # The lift rests on the random controls of the validation year, counted.
    valid = data.validation
    controls = valid[valid["random_control"]]
    assert metrics["random_controls"]["validation_rows"] == len(controls) > 0
    assert metrics["random_controls"]["validation_hits"] == int(controls["found"].sum())
    assert metrics["random_control_hit_rate"] == pytest.approx(controls["found"].mean())
    if metrics["random_controls"]["red_rows"]:
        low, high = metrics["intervals"]["lift"]
        assert low <= metrics["lift"] <= high
    else:  # no random control of the validation year fell in the red band: no lift to tell
        assert metrics["lift"] is None and metrics["intervals"]["lift"] is None
    # The live model was refit on every labelled inspection up to the as-of date.
    assert set(metrics["feature_importance"]) == set(FEATURE_NAMES)
    assert all(value >= 0 for value in metrics["feature_importance"].values())
    assert sum(metrics["feature_importance"].values()) > 0
    assert metrics["refit"]["training_to"] == AS_OF.isoformat()
    assert metrics["refit"]["rows"] == len(data.frame) + borrowed
    bands = metrics["band_hit_rates"]
    assert set(bands) == {"red", "orange", "green", "blue"}
    assert sum(band["rows"] for band in bands.values()) == version.validation_rows
    assert sum(band["hits"] for band in bands.values()) == metrics["positives"]
    assert bands["red"]["rate"] > bands["blue"]["rate"]
    assert metrics["reliability"] and all({"predicted", "observed"} == set(bin_) for bin_ in metrics["reliability"])
    thresholds = metrics["band_thresholds"]
    assert len(thresholds) == 3 and thresholds[0] >= thresholds[1] >= thresholds[2]


def test_the_gates_read_stored_metrics_as_they_read_fresh_ones(trained) -> None:
    """jsonb reorders keys (red, blue, green, orange): the hit-rate gate must go by band name."""
    stored = ModelVersion.objects.get(pk=trained.pk).metrics
    rates = stored["band_hit_rates"]
    fresh = {**stored, "band_hit_rates": {band: rates[band] for band in ("red", "orange", "green", "blue")}}
    assert list(stored["band_hit_rates"]) != list(fresh["band_hit_rates"])
    assert gates_failed(stored) == gates_failed(fresh) == []


def test_the_artifact_is_skops_not_pickle(trained) -> None:
    payload = bytes(ModelVersion.objects.get(pk=trained.pk).artifact)

    assert artifact_sha256(payload) == trained.artifact_sha256
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        assert "schema.json" in archive.namelist()
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(payload)
    artifact = artifact_load(payload)
    assert artifact.features == list(FEATURE_NAMES)
    assert isinstance(artifact.model, Pipeline)


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


def test_validated_on_the_later_year_then_refit_on_everything(trained, data, monkeypatch) -> None:
    # PostgreSQL adds up a feature's floats in the order its plan reads the rows, and an
    # ANALYZE between two trainings may change the plan and the last bit of a sum: so the
    # version compared is trained just before, not at the start of the module.
    first = model_retrain(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)
    fitted = []
    real = training.model_fit
    monkeypatch.setattr(training, "model_fit", lambda frame, features: fitted.append(frame) or real(frame, features))

    again = model_retrain(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)

    # First on the visits before the cut-off (validated on the year after; a small pair also
    # with the other sectors' visits before it), then the chosen configuration on every
    # labelled visit: that one goes live.
    own, pooled, live = fitted
    pd.testing.assert_frame_equal(own, data.training)
    assert len(pooled) > len(own)
    assert again.training_rows == (len(pooled) if again.metrics["pooling"]["chosen"] else len(own))
    pd.testing.assert_frame_equal(live.iloc[: len(data.frame)], data.frame)
    assert len(live) == again.metrics["refit"]["rows"]
    stored = artifact_load(bytes(again.artifact)).model
    np.testing.assert_allclose(
        stored.predict_proba(data.frame[list(FEATURE_NAMES)].to_numpy()),
        real(live, list(FEATURE_NAMES)).predict_proba(data.frame[list(FEATURE_NAMES)].to_numpy()),
    )
    # Fixed random states and a canonical skops file: the same data give the same bytes and metrics.
    assert again.pk != first.pk
    assert again.artifact_sha256 == first.artifact_sha256
    assert again.training_data_sha256 == first.training_data_sha256
    assert _without_comparison(again.metrics) == _without_comparison(first.metrics)
    # The active one was refit on these validation inspections: scored on them it would
    # look better than it is, so it is not compared, and the record says so.
    assert (
        again.metrics["versus_active"]["rows"] == 0 and "too few later ones" in again.metrics["versus_active"]["note"]
    )
    assert again.status == ModelStatus.ACTIVE
    assert list(ModelVersion.objects.active().filter(sector=SECTOR, offence_type=OFFENCE)) == [again]
    assert ModelVersion.objects.get(pk=first.pk).status == ModelStatus.RETIRED
    assert ModelVersion.objects.get(pk=trained.pk).status == ModelStatus.RETIRED


class _ByEarlierFindings:
    """Scores an employer by its earlier findings (`sign` 1), or by their absence (-1)."""

    def __init__(self, sign: int) -> None:
        self.sign = sign

    def predict_proba(self, values: np.ndarray) -> np.ndarray:
        score = 1 / (1 + np.exp(-self.sign * values[:, 0]))
        return np.column_stack([1 - score, score])


def test_the_published_mix_is_the_share_of_earlier_findings_in_the_red_band_on_the_as_of_date(
    data, monkeypatch
) -> None:
    sample = data.sector_features.population(AS_OF)
    assert 0.05 < (sample["earlier_findings"] > 0).mean() < 0.95  # both kinds, more than a red band of each
    dates = []
    real = training.SectorFeatures.population
    monkeypatch.setattr(training.SectorFeatures, "population", lambda self, on: dates.append(on) or real(self, on))

    mixes = [
        training.published_mix(
            artifact=Artifact(model=_ByEarlierFindings(sign), features=["earlier_findings"]),
            data=data,
            cutoffs=DEFAULT_BAND_CUTOFFS,
        )
        for sign in (1, -1)
    ]

    assert [mix.share for mix in mixes] == [1.0, 0.0]
    assert dates == [AS_OF, AS_OF]  # the list as published, not the sample at the cut-off
    np.testing.assert_array_equal(mixes[0].earlier, data.validation["earlier_findings"].to_numpy() > 0)


def test_the_lift_is_weighted_to_the_red_band_of_the_live_model(trained, data) -> None:
    live = artifact_load(bytes(trained.artifact))
    counts = ModelVersion.objects.get(pk=trained.pk).metrics["random_controls"]

    mix = training.published_mix(artifact=live, data=data, cutoffs=DEFAULT_BAND_CUTOFFS)

    assert counts["published_earlier_share"] == pytest.approx(mix.share)
    assert 0 <= counts["red_earlier_hits"] <= counts["red_earlier_rows"] <= counts["red_rows"]
    stored = ModelVersion.objects.get(pk=trained.pk).metrics
    assert stored["lift"] == evaluation.red_lift(counts)[0]
    assert stored["intervals"]["lift"] == evaluation.red_lift(counts)[1]


def test_random_controls_count_three_times_in_training(data, monkeypatch) -> None:
    seen = {}
    real = training.HistGradientBoostingClassifier.fit

    def fit(self, X, y, sample_weight=None):
        seen["X"], seen["weights"] = X, sample_weight
        return real(self, X, y, sample_weight=sample_weight)

    monkeypatch.setattr(training.HistGradientBoostingClassifier, "fit", fit)

    training.model_fit(data.training, list(FEATURE_NAMES))

    controls = data.training["random_control"].to_numpy(dtype=bool)
    assert controls.any() and not controls.all()
    assert seen["weights"] is None
    assert len(seen["X"]) == len(controls) + 2 * controls.sum()
    # Every random control's row appears three times, every other row once.
    rows = pd.DataFrame(seen["X"]).fillna(-1).round(9)
    control_row = data.training.loc[controls, list(FEATURE_NAMES)].iloc[0].fillna(-1).round(9).to_numpy()
    other_row = data.training.loc[~controls, list(FEATURE_NAMES)].iloc[0].fillna(-1).round(9).to_numpy()
    assert (rows == control_row).all(axis=1).sum() == 3
    assert (rows == other_row).all(axis=1).sum() == 1


def test_one_active_version_per_pair(trained, django_capture_on_commit_callbacks) -> None:
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

    # Back to the first one by hand (a rollback): the other retires, and the history says who.
    analyst = UserFactory(username="analyst")
    analyst.groups.add(Group.objects.get(name=ANALYST))
    with django_capture_on_commit_callbacks():
        model_version_activate(version=ModelVersion.objects.get(pk=trained.pk), user=analyst)
    assert list(active.all()) == [ModelVersion.objects.get(pk=trained.pk)]
    event = trained.events.order_by("-pk").first()
    assert (event.action, event.by) == (ModelEventAction.ROLLED_BACK, analyst)
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
    payload = artifact_dump(model=tree, features=features)
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
    comparison = candidate.metrics["versus_active"]
    assert comparison["rows"] == len(data.validation) and comparison["active_roc_auc"] > comparison["roc_auc"]
    assert comparison["interval"][1] < 0
    assert re.match(
        rf"On the {len(data.validation)} validation inspections version {oracle.pk} had not seen, its ROC AUC is "
        r"higher: this version's minus its is -0\.\d{3} \(95 % interval -0\.\d{3} to -0\.\d{3}\)\.",
        candidate.review_note,
    ), candidate.review_note
    assert list(ModelVersion.objects.active().filter(sector=SECTOR, offence_type=OFFENCE)) == [oracle]


def test_a_candidate_that_fails_the_gates_is_not_activated(trained, monkeypatch) -> None:
    ModelVersion.objects.filter(pk=trained.pk).update(status=ModelStatus.RETIRED)  # no active one to beat
    real = training.validation_metrics

    def weak(**kwargs):
        metrics = real(**kwargs)
        return metrics | {"roc_auc": 0.56, "lower_bounds": metrics["lower_bounds"] | {"roc_auc": 0.49}}

    monkeypatch.setattr(training, "validation_metrics", weak)

    candidate = model_retrain(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)

    assert candidate.status == ModelStatus.CANDIDATE
    assert candidate.review_note.startswith(
        f"On the {candidate.validation_rows} validation inspections, ROC AUC 0.560 (one-sided 95 % lower bound "
        "0.490) does not show that the model ranks better than chance."
    )
    assert not ModelVersion.objects.active().filter(sector=SECTOR, offence_type=OFFENCE).exists()


_ENOUGH_CONTROLS = {"validation_rows": 240, "validation_hits": 24, "red_rows": 12, "red_hits": 5}
_FEW_CONTROLS = {"validation_rows": 80, "validation_hits": 12, "red_rows": 5, "red_hits": 3}
_FALLING = {
    "red": {"rows": 12, "hits": 4, "rate": 4 / 12},
    "orange": {"rows": 12, "hits": 5, "rate": 5 / 12},
    "green": {"rows": 30, "hits": 6, "rate": 0.2},
    "blue": {"rows": 80, "hits": 4, "rate": 0.05},
}


def _metrics(auc=(0.7, 0.6), controls=_ENOUGH_CONTROLS, control_auc=(0.7, 0.55), bands=_FALLING) -> dict:
    """Figures and their one-sided lower bounds, as the gates read them."""
    return {
        "rows": 300,
        "roc_auc": auc[0],
        "lower_bounds": {"roc_auc": auc[1], "control_roc_auc": control_auc[1]},
        "random_controls": controls,
        "control_roc_auc": control_auc[0],
        "band_hit_rates": bands,
    }


@pytest.mark.parametrize(
    ("metrics", "reasons"),
    [
        (_metrics(), []),
        (
            _metrics(auc=(None, None)),
            [
                "On the 300 validation inspections, ROC AUC unknown (one-sided 95 % lower bound unknown) does not "
                "show that the model ranks better than chance."
            ],
        ),
        (
            _metrics(auc=(0.58, 0.5)),
            [
                "On the 300 validation inspections, ROC AUC 0.580 (one-sided 95 % lower bound 0.500) does not show "
                "that the model ranks better than chance."
            ],
        ),
        (
            # Better than chance among the inspected, which lean on complaints; not among the random controls.
            _metrics(control_auc=(0.45, 0.32)),
            [
                "On the 240 random controls of the validation year (24 found an offence), ROC AUC 0.450 (one-sided "
                "95 % lower bound 0.320) does not show that the model ranks better than chance."
            ],
        ),
        # Too few controls to judge on: not a refusal (gate_notes says so).
        (_metrics(controls=_FEW_CONTROLS, control_auc=(None, None)), []),
        (
            _metrics(
                bands={
                    "red": {"rows": 40, "hits": 4, "rate": 0.1},
                    "orange": {"rows": 40, "hits": 8, "rate": 0.2},
                    "green": {"rows": 100, "hits": 40, "rate": 0.4},
                    "blue": {"rows": 200, "hits": 120, "rate": 0.6},
                }
            ),
            ["Hit rates do not fall from red to blue on the validation inspections."],
        ),
    ],
    ids=["passes", "no auc", "lower bound at chance", "not among controls", "few controls", "rates rise"],
)
def test_gates(metrics, reasons) -> None:
    assert gates_failed(metrics) == reasons


def test_the_note_says_when_controls_were_too_few_to_judge_on() -> None:
    assert gate_notes(_metrics()) == []
    [note] = gate_notes(_metrics(controls=_FEW_CONTROLS))
    assert note.startswith("Only 80 random controls in the validation year, of which 12 found an offence: too few")


def _with_features(trained: ModelVersion, *, artifact_features: list[str], version_features: list[str]):
    artifact = artifact_load(bytes(trained.artifact))
    payload = artifact_dump(model=artifact.model, features=artifact_features)
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


def test_offences_of_a_sector_share_its_feature_rows(trained) -> None:
    shared = training.sector_features_build(sector=SECTOR, as_of=AS_OF)
    alone = training_set_build(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)
    together = training_set_build(sector=SECTOR, offence=OFFENCE, as_of=AS_OF, features=shared)
    other = training_set_build(sector=SECTOR, offence="undeclared_work", as_of=AS_OF, features=shared)

    assert together.sha256() == alone.sha256()
    assert together.sector_features is shared and other.sector_features is shared
    # Each offence keeps only the inspections that checked it.
    assert set(other.frame["employer_id"]) != set(together.frame["employer_id"])
    assert len(shared.inspected) >= max(len(together.frame), len(other.frame))
    # Rows of another date or sector are not reused.
    later = training_set_build(sector=SECTOR, offence=OFFENCE, as_of=AS_OF + dt.timedelta(days=1), features=shared)
    assert later.sector_features is not shared


def test_retraining_every_offence_reads_each_sector_once(trained, monkeypatch) -> None:
    from scoring.services import nightly

    built = []
    real = training.sector_features_build

    def build(*, sector, as_of):
        built.append(sector)
        return real(sector=sector, as_of=as_of)

    monkeypatch.setattr(training, "sector_features_build", build)

    outcomes = nightly.models_retrain_all(as_of=AS_OF, offences=[OFFENCE, "undeclared_work"])

    assert [(outcome.sector, outcome.offence) for outcome in outcomes] == [
        (sector, offence)
        for sector in sorted(Sector.objects.values_list("pk", flat=True))
        for offence in sorted([OFFENCE, "undeclared_work"])
    ]
    # Pairs with few inspections pool the other sectors' rows: each sector is still read once.
    assert sorted(built) == sorted(Sector.objects.values_list("pk", flat=True))


def test_a_feature_unknown_for_every_row_is_never_split_on(data) -> None:
    rows = data.training.copy()
    rows["wage_per_fte_change"] = np.nan  # no earlier year of declarations to compare with

    model = training.model_fit(rows, list(FEATURE_NAMES))

    column = list(FEATURE_NAMES).index("wage_per_fte_change")
    scored = rows[list(FEATURE_NAMES)].to_numpy()
    changed = scored.copy()
    changed[:, column] = 0.5
    assert (model.predict_proba(scored) == model.predict_proba(changed)).all()
