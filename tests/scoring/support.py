"""Model files and versions for the tests of uploads, four eyes, comparisons and the model pages."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline

from inspections.models import OffenceType, Sector
from scoring.features.registry import FEATURE_NAMES
from scoring.models import ModelStatus, ModelVersion
from scoring.services.artifacts import artifact_dump

FEATURES = list(FEATURE_NAMES)
SECTOR, OFFENCE = "cleaning", "part_time_abuse"
# Metrics that pass every gate (evaluation.gates_failed), and one that fails the first.
PASSING = {
    "rows": 200,
    "roc_auc": 0.8,
    "intervals": {"roc_auc": [0.74, 0.86]},
    "lower_bounds": {"roc_auc": 0.75},
    "band_hit_rates": {
        "red": {"rows": 20, "hits": 15, "rate": 0.75},
        "orange": {"rows": 40, "hits": 20, "rate": 0.5},
        "green": {"rows": 60, "hits": 15, "rate": 0.25},
        "blue": {"rows": 80, "hits": 8, "rate": 0.1},
    },
}
FAILING = {**PASSING, "lower_bounds": {"roc_auc": 0.45}}


def model_file(seed: int = 0) -> bytes:
    """A small model of our own kind over every registered feature, as a skops file."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, len(FEATURES)))
    y = (X[:, seed % 5] + rng.normal(size=300) > 0.8).astype(int)
    model = Pipeline([("model", HistGradientBoostingClassifier(max_iter=20, random_state=0))]).fit(X, y)
    return artifact_dump(model=model, features=FEATURES)


def stored_version(
    data: bytes,
    *,
    maker=None,
    metrics: dict | None = None,
    status: str = ModelStatus.CANDIDATE,
    sector: str = SECTOR,
) -> ModelVersion:
    """A version of (sector, OFFENCE) holding `data`, stored without the upload's checks."""
    return ModelVersion.objects.create(
        sector=Sector.objects.get(pk=sector),
        offence_type=OffenceType.objects.get(pk=OFFENCE),
        status=status,
        artifact=data,
        artifact_sha256="x",
        features=FEATURES,
        training_from="2025-01-01",
        training_to="2025-01-01",
        validation_to="2026-01-01",
        training_rows=0,
        validation_rows=200,
        training_data_sha256="",
        sklearn_version="",
        metrics=metrics or {},
        created_by=maker,
        origin="uploaded",
    )
