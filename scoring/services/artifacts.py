"""Model artifacts in skops format: never pickle or joblib, which run code when loaded.

An artifact is a dict {"model": Pipeline, "explainer": Pipeline, "features": [names]}:
the model gives the score, the explainer (a logistic regression on quantile-normalised
features) gives the reasons, and the features name the columns both expect.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import zipfile
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
    return _canonical(skops.io.dumps({"model": model, "explainer": explainer, "features": list(features)}))


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


def _allowed(name: str) -> bool:
    """A class (not a function such as builtins.eval) from one of the allowed libraries."""
    module, _, attribute = name.rpartition(".")
    if not name.startswith(_ALLOWED_PREFIXES):
        return False
    try:
        return isinstance(getattr(importlib.import_module(module), attribute), type)
    except (ImportError, AttributeError):
        return False


def artifact_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def artifact_load(data: bytes) -> Artifact:
    """Load an artifact, refusing unknown types, missing parts or features outside the registry."""
    try:
        untrusted = skops.io.get_untrusted_types(data=data)
    except Exception as exc:  # skops raises many kinds on a file that is not one of its own
        raise ArtifactRefused(f"This is not a skops model file ({type(exc).__name__}).") from exc
    refused = [name for name in untrusted if not _allowed(name)]
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
