"""Training and validating one model per (sector, offence type).

The label is whether the offence was found by a completed inspection that checked it;
the features are those of the employer as of the visit date. Validation is temporal
only: train on visits before the cut-off, validate on the year after it, never a random
split. A new version is activated only when it passes the gates and does at least as
well as the active one on the same validation inspections; otherwise it stays a
candidate, flagged for an analyst.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
import sklearn
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import QuantileTransformer

from inspections.models import OffenceType, Sector
from scoring.features.computation import INSPECTED_TARGETS, SECTOR_SAMPLE_TARGETS, features_frame
from scoring.features.registry import FEATURE_NAMES, FeatureRefused, features_check
from scoring.models import DEFAULT_BAND_CUTOFFS, ModelStatus, ModelVersion

from . import evaluation
from .artifact_checks import artifact_check, sector_sample
from .artifacts import Artifact, artifact_dump, artifact_load, artifact_sha256

logger = logging.getLogger("scoring.training")

VALIDATION_DAYS = 365
POPULATION_SAMPLE = 20_000  # employers of the sector whose scores set the band thresholds
MIN_TRAINING = (50, 5)  # rows, of which offences found
MIN_VALIDATION = (20, 3)
MIN_AUC = 0.55
# "No worse than the active version": retraining on the same data moved the average
# precision by up to 0.005 either way (measured at a million employers), which is noise.
AP_TOLERANCE = 0.005
RANDOM_STATE = 0

_LABELS_SQL = """
    SELECT i.employer_id, i.visit_date AS as_of, bool_or(f.found) AS found,
           bool_or(i.origin = 'random_control') AS random_control
    FROM inspections_inspection i
    JOIN inspections_finding f ON f.inspection_id = i.id AND f.offence_type_id = %(offence)s
    JOIN inspections_employer e ON e.id = i.employer_id AND e.sector_id = %(sector)s
    WHERE i.status = 'completed' AND i.visit_date < %(as_of)s
    GROUP BY i.employer_id, i.visit_date
"""


class TrainingRefused(ValueError):
    """Not enough inspections to train or validate a model, said in words."""


@dataclass(frozen=True)
class TrainingSet:
    """Columns of `frame`: employer_id, as_of, the features (FEATURE_NAMES), found (bool),
    random_control (bool); one row per inspected employer and visit date."""

    frame: pd.DataFrame
    cutoff: date
    as_of: date
    # Feature rows of the sector sample that sets band thresholds, by sector: computed once
    # and shared by the new version's metrics and the active version's (version_decide).
    populations: dict[str, pd.DataFrame] = field(default_factory=dict, compare=False, repr=False)

    def population(self, sector: str) -> pd.DataFrame:
        if sector not in self.populations:
            self.populations[sector] = features_frame(
                targets=SECTOR_SAMPLE_TARGETS,
                params={"sector": sector, "as_of": self.cutoff, "sample": POPULATION_SAMPLE},
            )
        return self.populations[sector]

    @property
    def training(self) -> pd.DataFrame:
        return self.frame[self.frame["as_of"] < pd.Timestamp(self.cutoff)]

    @property
    def validation(self) -> pd.DataFrame:
        return self.frame[self.frame["as_of"] >= pd.Timestamp(self.cutoff)]

    def random_hit_rate(self) -> float | None:
        controls = self.frame.loc[self.frame["random_control"], "found"]
        return float(controls.mean()) if len(controls) else None

    def sha256(self) -> str:
        return hashlib.sha256(pd.util.hash_pandas_object(self.frame, index=False).to_numpy().tobytes()).hexdigest()


def training_set_build(*, sector: str, offence: str, as_of: date) -> TrainingSet:
    params = {"sector": sector, "offence": offence, "as_of": as_of}
    features = features_frame(targets=INSPECTED_TARGETS, params=params)
    with connection.cursor() as cursor:
        cursor.execute(_LABELS_SQL, params)
        labels = pd.DataFrame(cursor.fetchall(), columns=["employer_id", "as_of", "found", "random_control"])
    if labels.empty:
        # An empty cursor gives untyped columns that pandas refuses to merge: say it in words.
        raise TrainingRefused(f"No completed inspection in {sector} checked {offence} before {as_of}.")
    labels["as_of"] = pd.to_datetime(labels["as_of"])
    frame = features.merge(labels, on=["employer_id", "as_of"], how="inner", validate="one_to_one")
    frame = frame.sort_values(["as_of", "employer_id"], ignore_index=True)
    return TrainingSet(frame=frame, cutoff=as_of - timedelta(days=VALIDATION_DAYS), as_of=as_of)


def pipelines_fit(X: np.ndarray, y: np.ndarray) -> tuple[Pipeline, Pipeline]:
    """The scoring model (gradient boosting) and the explainer (logistic baseline)."""
    model = Pipeline(
        [
            (
                "model",
                HistGradientBoostingClassifier(
                    max_iter=120,
                    learning_rate=0.05,
                    max_depth=4,
                    min_samples_leaf=40,
                    l2_regularization=1.0,
                    early_stopping=False,
                    random_state=RANDOM_STATE,
                ),
            )
        ]
    )
    explainer = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            (
                "normalise",
                QuantileTransformer(
                    n_quantiles=100, subsample=100_000, output_distribution="normal", random_state=RANDOM_STATE
                ),
            ),
            ("model", LogisticRegression(C=0.3, max_iter=2000)),
        ]
    )
    model.fit(X, y)
    explainer.fit(X, y)
    return model, explainer


def model_retrain(
    *,
    sector: str,
    offence: str,
    as_of: date | None = None,
    origin: str = "nightly retrain",
    user: AbstractBaseUser | None = None,
) -> ModelVersion:
    """Train, validate and store a new version; activate it when it passes and is no worse."""
    as_of = as_of or timezone.localdate()
    features = features_check(FEATURE_NAMES)
    data = training_set_build(sector=sector, offence=offence, as_of=as_of)
    train, valid = data.training, data.validation
    _enough(train, MIN_TRAINING, "training", data.cutoff)
    _enough(valid, MIN_VALIDATION, "validation", data.cutoff)
    model, explainer = pipelines_fit(train[features].to_numpy(), train["found"].to_numpy())
    artifact = Artifact(model=model, explainer=explainer, features=features)
    payload = artifact_dump(model=model, explainer=explainer, features=features)
    metrics = validation_metrics(artifact=artifact, data=data, sector=sector, cutoffs=DEFAULT_BAND_CUTOFFS)
    baseline = _scores(explainer, valid, features)
    metrics["baseline_logistic"] = _headline(valid["found"].to_numpy(), baseline)
    # What pushes this model's risk up or down, for the risk-profile pages (no model load there).
    coefficients = explainer[-1].coef_[0]
    metrics["explainer_weights"] = {name: round(float(c), 4) for name, c in zip(features, coefficients, strict=True)}
    version = ModelVersion(
        sector=Sector.objects.get(pk=sector),
        offence_type=OffenceType.objects.get(pk=offence),
        artifact=payload,
        artifact_sha256=artifact_sha256(payload),
        features=features,
        training_from=train["as_of"].min().date(),
        training_to=data.cutoff,
        validation_to=as_of,
        training_rows=len(train),
        validation_rows=len(valid),
        training_data_sha256=data.sha256(),
        sklearn_version=sklearn.__version__,
        metrics=metrics,
        band_cutoffs=dict(DEFAULT_BAND_CUTOFFS),
        origin=origin,
        created_by=user,
    )
    return version_decide(version=version, data=data)


def _enough(frame: pd.DataFrame, minimum: tuple[int, int], part: str, cutoff: date) -> None:
    rows, found = len(frame), int(frame["found"].sum())
    if rows < minimum[0] or found < minimum[1] or found == rows:
        raise TrainingRefused(
            f"Not enough {part} inspections (cut-off {cutoff}): {rows} with {found} offences found; "
            f"at least {minimum[0]} with {minimum[1]} found, and some not found, are needed."
        )


def _scores(pipeline: Pipeline, frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    return pipeline.predict_proba(frame[features].to_numpy())[:, 1]


def _headline(labels: np.ndarray, scores: np.ndarray) -> dict[str, float | None]:
    full = evaluation.metrics_compute(
        labels=labels, scores=scores, bands=np.full(len(scores), 4), capacity_share=0.05, random_hit_rate=None
    )
    return {name: full[name] for name in ("roc_auc", "average_precision", "precision_at_k", "brier")}


def validation_metrics(*, artifact: Artifact, data: TrainingSet, sector: str, cutoffs: dict[str, float]) -> dict:
    """Metrics of an artifact on the validation inspections, bands set on a sample of the sector."""
    valid = data.validation
    scores = _scores(artifact.model, valid, artifact.features)
    sample = data.population(sector)
    thresholds = evaluation.band_thresholds(_scores(artifact.model, sample, artifact.features), cutoffs)
    metrics = evaluation.metrics_compute(
        labels=valid["found"].to_numpy(),
        scores=scores,
        bands=evaluation.bands_of(scores, thresholds),
        capacity_share=cutoffs["red"],
        random_hit_rate=data.random_hit_rate(),
    )
    metrics["band_thresholds"] = thresholds
    metrics["cutoff"] = data.cutoff.isoformat()
    return metrics


def gates_failed(metrics: dict) -> list[str]:
    """Why a version may not be activated automatically (empty: it passes)."""
    failed = []
    auc = metrics.get("roc_auc")
    if auc is None or auc < MIN_AUC:
        shown = "unknown (one class only)" if auc is None else f"{auc:.4f}"
        failed.append(f"ROC AUC {shown} is below the minimum of {MIN_AUC}.")
    if not evaluation.bands_fall(metrics["band_hit_rates"]):
        failed.append("Hit rates do not fall from red to blue on the validation inspections.")
    return failed


def version_decide(*, version: ModelVersion, data: TrainingSet) -> ModelVersion:
    """Store the version; activate it if it passes the gates and beats or equals the active one."""
    failed = gates_failed(version.metrics)
    active = ModelVersion.objects.active().filter(sector=version.sector, offence_type=version.offence_type).first()
    if active is not None and not failed:
        mine = version.metrics.get("average_precision") or 0
        theirs = (
            validation_metrics(
                artifact=artifact_load(bytes(active.artifact)),
                data=data,
                sector=version.sector_id,
                cutoffs=active.cutoffs,
            ).get("average_precision")
            or 0
        )
        version.metrics["active_average_precision"] = theirs
        if mine < theirs - AP_TOLERANCE:
            failed.append(
                f"Average precision {mine:.3f} is below the active version's {theirs:.3f} on the same inspections."
            )
    with transaction.atomic():
        if failed:
            version.status = ModelStatus.CANDIDATE
            version.review_note = " ".join(failed)
            version.save()
            logger.warning("model %s kept as a candidate: %s", version, version.review_note)
            return version
        version.save()
        model_version_activate(version=version)
    return version


def model_version_activate(*, version: ModelVersion, user: AbstractBaseUser | None = None) -> ModelVersion:
    """Make this version the active one of its (sector, offence); the previous one retires."""
    # The whole file check again: the allowlist or the registry may have changed since upload.
    sample = sector_sample(sector=version.sector_id, as_of=timezone.localdate())
    artifact = artifact_check(data=bytes(version.artifact), sample=sample)
    if features_check(version.features) != artifact.features:
        raise FeatureRefused("The version's feature list is not the one its model file was trained on.")
    with transaction.atomic():
        ModelVersion.objects.select_for_update().filter(
            sector=version.sector_id, offence_type=version.offence_type_id, status=ModelStatus.ACTIVE
        ).exclude(pk=version.pk).update(status=ModelStatus.RETIRED)
        version.status = ModelStatus.ACTIVE
        version.activated_at = timezone.now()
        if user is not None:
            version.review_note = f"Activated by {user}. {version.review_note}".strip()
        version.save()
    logger.info("model %s activated", version)
    return version
