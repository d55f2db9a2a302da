"""Model artifacts in skops format: never pickle or joblib, which run code when loaded.

An artifact is a dict {"model": Pipeline, "explainer": Pipeline, "features": [names]}:
the model gives the score, the explainer (a logistic regression on quantile-normalised
features) gives the reasons, and the features name the columns both expect.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import skops.io
from sklearn.pipeline import Pipeline

from scoring.features.registry import features_check

# Types an artifact may hold; anything else (a custom class, a function) is refused.
_ALLOWED_PREFIXES = ("sklearn.", "numpy.", "builtins.", "scipy.")


class ArtifactRefused(ValueError):
    """An artifact that cannot be used, with the reason in words."""


@dataclass(frozen=True)
class Artifact:
    model: Pipeline
    explainer: Pipeline
    features: list[str]


def artifact_dump(*, model: Pipeline, explainer: Pipeline, features: list[str]) -> bytes:
    return skops.io.dumps({"model": model, "explainer": explainer, "features": list(features)})


def artifact_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def artifact_load(data: bytes) -> Artifact:
    """Load an artifact, refusing unknown types, missing parts or features outside the registry."""
    try:
        untrusted = skops.io.get_untrusted_types(data=data)
    except Exception as exc:  # skops raises many kinds on a file that is not one of its own
        raise ArtifactRefused(f"This is not a skops model file ({type(exc).__name__}).") from exc
    refused = [name for name in untrusted if not name.startswith(_ALLOWED_PREFIXES)]
    if refused:
        raise ArtifactRefused(f"The model file holds types that are not allowed: {', '.join(refused[:5])}.")
    try:
        content = skops.io.loads(data, trusted=untrusted)
    except Exception as exc:
        raise ArtifactRefused(f"The model file could not be read: {exc}") from exc
    if not isinstance(content, dict) or not {"model", "explainer", "features"} <= set(content):
        raise ArtifactRefused('A model file holds a dict with "model", "explainer" and "features".')
    model, explainer, features = content["model"], content["explainer"], content["features"]
    for part in (model, explainer):
        if not hasattr(part, "predict_proba"):
            raise ArtifactRefused("The model and the explainer must both be classifiers (predict_proba).")
    if not isinstance(features, list):
        raise ArtifactRefused('"features" must be a list of feature names.')
    return Artifact(model=model, explainer=explainer, features=features_check(features))
