"""Training and validating one model per (sector, offence type).

The label is whether the offence was found by a completed inspection that checked it;
the features are those of the employer as of the visit date. Validation is temporal
only: the configuration is trained on visits before the cut-off and validated on the
year after it, never on a random split. The model that goes live is then the same
configuration refit on every labelled inspection up to the as-of date, so that it learns
from the latest year too; the version records both.

A pair with few labelled inspections of its own (POOLING_BELOW) also tries the same
configuration trained on the offence's inspections in every sector, each row marked as
the sector's own or not (the `own_sector` feature); its own validation year picks the one
that ranks it better, and the version records which.

A new version is activated only when the lower bounds of its intervals show it beats
chance (on the validation inspections, and on the random controls among them when there
are enough) and it is not credibly worse than the active one on validation inspections
that one had not seen; otherwise it stays a candidate and its note says why in words.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import sklearn
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from inspections.models import OffenceType, Sector
from scoring.features.computation import INSPECTED_TARGETS, SECTOR_SAMPLE_TARGETS, features_frame
from scoring.features.registry import FEATURE_NAMES, features_check
from scoring.models import DEFAULT_BAND_CUTOFFS, ModelEventAction, ModelVersion

from . import evaluation
from .artifacts import Artifact, artifact_dump, artifact_load, artifact_sha256
from .contributions import importance_of
from .versions import model_event_record, model_version_activate

logger = logging.getLogger("scoring.training")

VALIDATION_DAYS = 365
POPULATION_SAMPLE = 20_000  # employers of the sector whose scores set the band thresholds
MIN_TRAINING = (50, 5)  # rows, of which offences found
MIN_VALIDATION = (20, 3)
# Random controls count three times in training: they are the only inspections not aimed
# at likely fraudsters, so they pull the model toward the whole sector and away from the
# profile of the employers complaints point at. Measured against no weighting, ten times
# and origin as a feature held at "random control" when scoring: see docs/scoring.md.
# They are repeated rows, not sample weights: the same sums of gradients, but scikit-learn
# bins weighted rows with one full sort per bin edge and feature, which made the two
# fits of a pair the bulk of its training time at a million employers.
RANDOM_CONTROL_REPEATS = 3
RANDOM_STATE = 0
# Below this many labelled inspections of its own, a pair also tries learning from the
# offence's inspections in every sector (see docs/scoring.md): small sectors' own models
# often failed their gates on a noisy validation year. Above it a sector's own are
# plenty, and fitting both would double the training time at a million employers.
POOLING_BELOW = 10_000
# The lift's strata: employers with an offence of any type found before, and the others.
EARLIER_FINDINGS = "earlier_findings"

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
class SectorFeatures:
    """Feature rows of one sector as of one date, shared by the models of its offence types.

    `inspected` has the columns of features_read: one row per employer of the sector and
    date it was inspected (a completed visit before as_of), the features as of that date."""

    sector: str
    as_of: date
    inspected: pd.DataFrame
    # Feature rows of the sector sample that sets band thresholds, by date: computed once
    # and shared by every new version's metrics and the active versions' (version_decide).
    populations: dict[date, pd.DataFrame] = field(default_factory=dict, compare=False, repr=False)

    def population(self, on: date) -> pd.DataFrame:
        if on not in self.populations:
            self.populations[on] = features_frame(
                targets=SECTOR_SAMPLE_TARGETS,
                params={"sector": self.sector, "as_of": on, "sample": POPULATION_SAMPLE},
            )
        return self.populations[on]


def sector_features_build(*, sector: str, as_of: date) -> SectorFeatures:
    inspected = features_frame(targets=INSPECTED_TARGETS, params={"sector": sector, "as_of": as_of})
    return SectorFeatures(sector=sector, as_of=as_of, inspected=inspected)


@dataclass
class FeatureRows:
    """The sectors' feature rows as of one date, each read when first asked for: shared by
    the retrains of one run (the offence types of a sector, and pairs that pool)."""

    as_of: date
    sectors: dict[str, SectorFeatures] = field(default_factory=dict)

    def of(self, sector: str) -> SectorFeatures:
        if sector not in self.sectors:
            self.sectors[sector] = sector_features_build(sector=sector, as_of=self.as_of)
        return self.sectors[sector]


@dataclass(frozen=True)
class TrainingSet:
    """Columns of `frame`: employer_id, as_of, the features (FEATURE_NAMES), found (bool),
    random_control (bool); one row per inspected employer and visit date."""

    frame: pd.DataFrame
    cutoff: date
    as_of: date
    sector_features: SectorFeatures = field(compare=False, repr=False)

    def population(self) -> pd.DataFrame:
        """Feature rows of the sector sample on the cut-off date (band thresholds)."""
        return self.sector_features.population(self.cutoff)

    @property
    def training(self) -> pd.DataFrame:
        return self.frame[self.frame["as_of"] < pd.Timestamp(self.cutoff)]

    @property
    def validation(self) -> pd.DataFrame:
        return self.frame[self.frame["as_of"] >= pd.Timestamp(self.cutoff)]

    def sha256(self) -> str:
        return frame_sha256(self.frame)


def frame_sha256(frame: pd.DataFrame) -> str:
    """A SHA-256 of a frame's rows, to say which data a version was trained on."""
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()


def training_set_build(
    *, sector: str, offence: str, as_of: date, features: SectorFeatures | None = None
) -> TrainingSet:
    """The labelled rows of one pair; `features` of the sector as of the same date, when
    another offence type of the sector has already read them."""
    if features is None or (features.sector, features.as_of) != (sector, as_of):
        features = sector_features_build(sector=sector, as_of=as_of)
    with connection.cursor() as cursor:
        cursor.execute(_LABELS_SQL, {"sector": sector, "offence": offence, "as_of": as_of})
        labels = pd.DataFrame(cursor.fetchall(), columns=["employer_id", "as_of", "found", "random_control"])
    if labels.empty:
        # An empty cursor gives untyped columns that pandas refuses to merge: say it in words.
        raise TrainingRefused(f"No completed inspection in {sector} checked {offence} before {as_of}.")
    labels["as_of"] = pd.to_datetime(labels["as_of"])
    frame = features.inspected.merge(labels, on=["employer_id", "as_of"], how="inner", validate="one_to_one")
    frame = frame.sort_values(["as_of", "employer_id"], ignore_index=True)
    return TrainingSet(
        frame=frame, cutoff=as_of - timedelta(days=VALIDATION_DAYS), as_of=as_of, sector_features=features
    )


def model_fit(frame: pd.DataFrame, features: list[str]) -> Pipeline:
    """The scoring model (gradient boosting) fitted on these labelled rows (columns as TrainingSet),
    each random control counted RANDOM_CONTROL_REPEATS times."""
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
    values = frame[features].to_numpy(dtype=np.float64, copy=True)
    # A feature unknown for every row (a trend before the history is long enough) would
    # stop scikit-learn's binning; as a constant the trees simply never split on it.
    values[:, np.isnan(values).all(axis=0)] = 0.0
    repeats = np.where(frame["random_control"].to_numpy(dtype=bool), RANDOM_CONTROL_REPEATS, 1)
    model.fit(np.repeat(values, repeats, axis=0), np.repeat(frame["found"].to_numpy(), repeats))
    return model


def model_retrain(
    *,
    sector: str,
    offence: str,
    as_of: date | None = None,
    origin: str = "nightly retrain",
    user: AbstractBaseUser | None = None,
    rows: FeatureRows | None = None,
) -> ModelVersion:
    """Validate the configuration on the latest year, refit it on every labelled inspection,
    store the version; activate it when it passes the gates and is not worse than the active one.

    `rows`: the sectors' feature rows as of the same date, when the caller retrains
    several pairs one after the other."""
    as_of = as_of or timezone.localdate()
    rows = rows if rows is not None and rows.as_of == as_of else FeatureRows(as_of)
    features = features_check(FEATURE_NAMES)
    data = training_set_build(sector=sector, offence=offence, as_of=as_of, features=rows.of(sector))
    train, valid = data.training, data.validation
    _enough(train, MIN_TRAINING, "training", data.cutoff)
    _enough(valid, MIN_VALIDATION, "validation", data.cutoff)
    fitted = _configuration_choose(data=data, features=features, rows=rows, offence=offence)
    validated = Artifact(model=fitted.validated, features=features)
    live = model_fit(fitted.every, features)
    metrics = validation_metrics(
        artifact=validated, data=data, cutoffs=DEFAULT_BAND_CUTOFFS, published=Artifact(model=live, features=features)
    )
    metrics["pooling"] = fitted.pooling
    metrics["refit"] = {
        "training_to": as_of.isoformat(),
        "rows": len(fitted.every),
        "positives": int(fitted.every["found"].sum()),
    }
    # What raises the live model's scores, for the risk-profile pages (no model load there).
    metrics["feature_importance"] = importance_of(live, valid[features].to_numpy(), features)
    payload = artifact_dump(model=live, features=features)
    version = ModelVersion(
        sector=Sector.objects.get(pk=sector),
        offence_type=OffenceType.objects.get(pk=offence),
        artifact=payload,
        artifact_sha256=artifact_sha256(payload),
        features=features,
        training_from=train["as_of"].min().date(),
        training_to=data.cutoff,
        validation_to=as_of,
        training_rows=fitted.training_rows,
        validation_rows=len(valid),
        training_data_sha256=frame_sha256(fitted.every),
        sklearn_version=sklearn.__version__,
        metrics=metrics,
        band_cutoffs=dict(DEFAULT_BAND_CUTOFFS),
        origin=origin,
        created_by=user,
    )
    return version_decide(version=version, data=data, validated=validated)


@dataclass(frozen=True)
class Fitted:
    """The configuration validated, the rows its live refit learns from (columns as
    TrainingSet), and what pooling tried (None: the pair's own rows were enough)."""

    validated: Pipeline
    every: pd.DataFrame
    training_rows: int
    pooling: dict | None = None


def _configuration_choose(*, data: TrainingSet, features: list[str], rows: FeatureRows, offence: str) -> Fitted:
    """The pair's own rows, or, for a pair with few, those of every sector if its own
    validation year ranks better with them (ROC AUC on the same validation inspections)."""
    own = Fitted(model_fit(data.training, features), data.frame, len(data.training))
    if len(data.frame) >= POOLING_BELOW:
        return own
    borrowed = _borrowed_rows(sector=data.sector_features.sector, offence=offence, rows=rows)
    if borrowed.empty:
        return own
    before = borrowed[borrowed["as_of"] < pd.Timestamp(data.cutoff)]
    pooled_train = pd.concat([data.training, before], ignore_index=True)
    pooled = model_fit(pooled_train, features)
    valid = data.validation
    own_auc, pooled_auc = (
        float(roc_auc_score(valid["found"], _scores(m, valid, features))) for m in (own.validated, pooled)
    )
    chosen = pooled_auc > own_auc
    pooling = {"borrowed_rows": len(borrowed), "own_roc_auc": own_auc, "pooled_roc_auc": pooled_auc, "chosen": chosen}
    if not chosen:
        return replace(own, pooling=pooling)
    every = pd.concat([data.frame, borrowed], ignore_index=True)
    return Fitted(pooled, every, len(pooled_train), pooling)


def _borrowed_rows(*, sector: str, offence: str, rows: FeatureRows) -> pd.DataFrame:
    """The offence's labelled rows in every other sector (columns as TrainingSet), marked
    `own_sector` 0: the trees may then learn where the pair's sector differs from the
    others, rather than only what they share (docs/scoring.md)."""
    frames = []
    for other in Sector.objects.exclude(pk=sector).order_by("pk").values_list("pk", flat=True):
        try:
            frames.append(
                training_set_build(sector=other, offence=offence, as_of=rows.as_of, features=rows.of(other)).frame
            )
        except TrainingRefused:  # never inspected there for this offence
            continue
    return pd.concat(frames, ignore_index=True).assign(own_sector=0.0) if frames else pd.DataFrame()


def _enough(frame: pd.DataFrame, minimum: tuple[int, int], part: str, cutoff: date) -> None:
    rows, found = len(frame), int(frame["found"].sum())
    if rows < minimum[0] or found < minimum[1] or found == rows:
        raise TrainingRefused(
            f"Not enough {part} inspections (cut-off {cutoff}): {rows} with {found} offences found; "
            f"at least {minimum[0]} with {minimum[1]} found, and some not found, are needed."
        )


def _scores(model: Pipeline, frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    return model.predict_proba(frame[features].to_numpy())[:, 1]


def scores_of(artifact: Artifact, frame: pd.DataFrame) -> np.ndarray:
    """The artifact's scores of feature rows (columns as features_read)."""
    return _scores(artifact.model, frame, artifact.features)


def validation_metrics(
    *, artifact: Artifact, data: TrainingSet, cutoffs: dict[str, float], published: Artifact | None = None
) -> dict:
    """Metrics of an artifact on the validation inspections, bands set on a sample of the
    sector; `published`: the model whose list is to be published, if not the artifact."""
    valid = data.validation
    scores = _scores(artifact.model, valid, artifact.features)
    sample = data.population()
    thresholds = evaluation.band_thresholds(_scores(artifact.model, sample, artifact.features), cutoffs)
    metrics = evaluation.metrics_compute(
        labels=valid["found"].to_numpy(),
        scores=scores,
        bands=evaluation.bands_of(scores, thresholds),
        capacity_share=cutoffs["red"],
        controls=valid["random_control"].to_numpy(dtype=bool),
        mix=published_mix(artifact=published or artifact, data=data, cutoffs=cutoffs),
    )
    metrics["band_thresholds"] = thresholds
    metrics["cutoff"] = data.cutoff.isoformat()
    return metrics


def published_mix(*, artifact: Artifact, data: TrainingSet, cutoffs: dict[str, float]) -> evaluation.PublishedMix:
    """Which validation inspections were of employers found in breach before, and the share
    of those in the red band the artifact gives the sector sample on the as-of date."""
    sample = data.sector_features.population(data.as_of)
    scores = _scores(artifact.model, sample, artifact.features)
    red = evaluation.bands_of(scores, evaluation.band_thresholds(scores, cutoffs)) == 1
    earlier = sample[EARLIER_FINDINGS].to_numpy()[red] > 0
    return evaluation.PublishedMix(
        earlier=data.validation[EARLIER_FINDINGS].to_numpy() > 0, share=float(earlier.mean()) if len(earlier) else None
    )


def version_decide(*, version: ModelVersion, data: TrainingSet, validated: Artifact) -> ModelVersion:
    """Store the version; activate it if it passes the gates and is not credibly worse than the active one."""
    failed = evaluation.gates_failed(version.metrics)
    active = ModelVersion.objects.active().filter(sector=version.sector, offence_type=version.offence_type).first()
    if active is not None and not failed:
        version.metrics["versus_active"] = active_comparison(active=active, validated=validated, data=data)
        failed = evaluation.gates_failed(version.metrics)
    with transaction.atomic():
        version.review_note = " ".join(failed + evaluation.gate_notes(version.metrics))
        version.save()
        model_event_record(version=version, action=ModelEventAction.CREATED, user=None, note=version.origin)
        if failed:
            logger.warning("model %s kept as a candidate: %s", version, version.review_note)
            return version
        version = model_version_activate(version=version, note="passed every gate")
    return version


def active_comparison(*, active: ModelVersion, validated: Artifact, data: TrainingSet) -> dict:
    """ROC AUC of the new configuration minus the active version's, on the validation
    inspections after everything the active version was trained on, with a paired interval.

    The active version was refit on inspections up to its own as-of date: scored on those,
    it would look better than it is. Without enough later inspections (the nightly case:
    yesterday's version saw almost all of them) the comparison is left out, and says so."""
    seen_until = pd.Timestamp(active_seen_until(active))
    unseen = data.validation[data.validation["as_of"] >= seen_until]
    found = int(unseen["found"].sum())
    if len(unseen) < MIN_VALIDATION[0] or found < MIN_VALIDATION[1] or found == len(unseen):
        return {
            "version": active.pk,
            "rows": len(unseen),
            "note": f"Version {active.pk} was trained on the validation inspections up to {seen_until.date()}: "
            "too few later ones to compare with it.",
        }
    theirs = artifact_load(bytes(active.artifact))
    labels = unseen["found"].to_numpy(dtype=bool)
    mine, other = _scores(validated.model, unseen, validated.features), _scores(theirs.model, unseen, theirs.features)
    return {"version": active.pk, "rows": len(unseen), **evaluation.auc_difference(labels, mine, other)}


def active_seen_until(version: ModelVersion) -> date:
    """The last day of the inspections a version's model was fitted on."""
    refit = (version.metrics or {}).get("refit") or {}
    if refit.get("training_to"):
        return date.fromisoformat(refit["training_to"])
    return version.training_to
