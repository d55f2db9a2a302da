"""Model artifacts in skops format: never pickle or joblib, which run code when loaded.

An artifact is a dict {"model": Pipeline, "features": [names]}: the model gives the
score, and the features name the columns it expects. The reasons come from the model
itself (services.contributions). Files written before that also hold an "explainer" (a
logistic regression beside the model): they still load, and the explainer is ignored.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from dataclasses import dataclass, replace
from functools import cached_property

import skops.io
from sklearn.pipeline import Pipeline

from scoring.features.registry import features_check

from .artifact_allowlist import ArtifactRefused, artifact_types
from .artifact_trees import trees_check
from .contributions import ModelContributions

logger = logging.getLogger("scoring.artifacts")

__all__ = ["Artifact", "ArtifactRefused", "artifact_dump", "artifact_load", "artifact_read", "artifact_sha256"]


@dataclass(frozen=True)
class Artifact:
    model: Pipeline
    features: list[str]

    @cached_property
    def contributions(self) -> ModelContributions:
        """The model taken apart for its per-feature contributions (once per artifact)."""
        return ModelContributions(self.model)


def artifact_dump(*, model: Pipeline, features: list[str]) -> bytes:
    """The model file's bytes: {"model", "features"}."""
    return _canonical(skops.io.dumps({"model": model, "features": list(features)}))


def _canonical(data: bytes) -> bytes:
    """The same model as the same bytes: skops names objects by id() and stamps the zip with the
    time, so renumber the ids and array files in order of appearance and use a fixed date."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        schema = json.loads(source.read("schema.json"))
        ids: dict[int, int] = {}
        files: dict[str, str] = {}

        def renumber(node: object) -> None:
            if isinstance(node, dict):
                if "__id__" in node:
                    node["__id__"] = ids.setdefault(node["__id__"], len(ids) + 1)
                if isinstance(node.get("file"), str):
                    suffix = node["file"].rpartition(".")[2]
                    node["file"] = files.setdefault(node["file"], f"{len(files) + 1}.{suffix}")
                for value in node.values():
                    renumber(value)
            elif isinstance(node, list):
                for value in node:
                    renumber(value)

        renumber(schema)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as target:
            fixed = (1980, 1, 1, 0, 0, 0)
            for old, new in files.items():
                target.writestr(zipfile.ZipInfo(new, date_time=fixed), source.read(old))
            target.writestr(zipfile.ZipInfo("schema.json", date_time=fixed), json.dumps(schema, indent=2))
    return out.getvalue()


def artifact_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def artifact_load(data: bytes) -> Artifact:
    """Load an artifact, refusing types outside the allowlist, missing parts, or features
    outside the registry. Types are checked before anything in the file is built."""
    artifact = artifact_read(data)
    return replace(artifact, features=features_check(artifact.features))


def artifact_read(data: bytes) -> Artifact:
    """The artifact's parts, checked for shape but not its features (the sandbox reads
    files with it, without Django)."""
    trusted = artifact_types(data)
    try:
        content = skops.io.loads(data, trusted=trusted)
    except Exception as exc:  # skops raises many kinds on a damaged file
        logger.warning("model file could not be read: %s", exc)
        raise ArtifactRefused(f"The model file could not be read ({type(exc).__name__}).") from exc
    if not isinstance(content, dict) or not {"model", "features"} <= set(content):
        raise ArtifactRefused('A model file holds a dict with "model" and "features".')
    model, features = content["model"], content["features"]
    if isinstance(model, type) or not hasattr(model, "predict_proba"):
        raise ArtifactRefused("The model must be a fitted classifier (predict_proba).")
    if not isinstance(features, list) or not all(isinstance(name, str) for name in features):
        raise ArtifactRefused('"features" must be a list of feature names.')
    try:
        trees_check(content)  # an older file's explainer too: it is built all the same
    except ArtifactRefused:
        raise
    except Exception as exc:  # attributes of the wrong kind where trees are expected
        raise ArtifactRefused(f"A tree of the model file is malformed ({type(exc).__name__}).") from exc
    return Artifact(model=model, features=features)
