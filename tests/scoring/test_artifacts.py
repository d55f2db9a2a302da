"""Model artifacts: skops only, allowed types only, a complete dict, registered and allowed features;
older files with an explainer still load, and it is ignored."""

from __future__ import annotations

import builtins
import io
import os
import pickle

import joblib
import numpy as np
import pytest
import skops.io
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, QuantileTransformer, StandardScaler

from scoring.features.registry import FEATURE_NAMES, FeatureRefused
from scoring.services.artifacts import Artifact, ArtifactRefused, artifact_dump, artifact_load, artifact_sha256

FEATURES = list(FEATURE_NAMES)


class Gadget:
    """A class of our own: nothing a model file may hold."""


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, len(FEATURES)))
    X[rng.random(X.shape) < 0.05] = np.nan
    y = (np.nan_to_num(X[:, 0]) + rng.normal(size=400) > 0.8).astype(int)
    model = Pipeline([("model", HistGradientBoostingClassifier(max_iter=20, random_state=0))]).fit(X, y)
    return model, X


def _explainer(X: np.ndarray, y: np.ndarray) -> Pipeline:
    """The logistic explainer that files written before the reasons came from the model held."""
    steps = [
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("normalise", QuantileTransformer(n_quantiles=100, output_distribution="normal")),
        ("model", LogisticRegression(C=0.3, max_iter=2000)),
    ]
    return Pipeline(steps).fit(X, y)


def _skops(**content) -> bytes:
    return skops.io.dumps(content)


def test_dumped_artifact_loads_back_and_predicts_the_same(fitted) -> None:
    model, X = fitted
    payload = artifact_dump(model=model, features=FEATURES)

    loaded = artifact_load(payload)

    assert isinstance(loaded, Artifact)
    assert loaded.features == FEATURES
    np.testing.assert_array_equal(loaded.model.predict_proba(X), model.predict_proba(X))
    np.testing.assert_allclose(
        loaded.contributions.explain(X).probabilities(), model.predict_proba(X)[:, 1], atol=1e-12
    )
    # skops is a zip archive, not a pickle stream.
    assert payload[:2] == b"PK" and not payload.startswith(b"\x80")


def test_an_older_file_with_an_explainer_loads_and_the_explainer_is_ignored(fitted) -> None:
    model, X = fitted
    explainer = _explainer(np.nan_to_num(X), (np.nan_to_num(X[:, 0]) > 0).astype(int))
    payload = _skops(model=model, explainer=explainer, features=FEATURES)

    loaded = artifact_load(payload)

    assert loaded.features == FEATURES and not hasattr(loaded, "explainer")
    np.testing.assert_array_equal(loaded.model.predict_proba(X), model.predict_proba(X))


def test_the_same_model_dumps_to_the_same_bytes(fitted) -> None:
    """skops names objects by id() and stamps the time; the stored hash must not depend on either."""
    model, X = fitted
    first = artifact_dump(model=model, features=FEATURES)
    again = artifact_load(first)  # other objects, other ids
    second = artifact_dump(model=again.model, features=FEATURES)

    assert artifact_sha256(first) == artifact_sha256(second)
    assert first == second


@pytest.mark.parametrize("kind", ["pickle", "joblib"])
def test_pickle_and_joblib_files_are_refused(fitted, kind) -> None:
    model, _ = fitted
    content = {"model": model, "features": FEATURES}
    if kind == "pickle":
        payload = pickle.dumps(content)
    else:
        buffer = io.BytesIO()
        joblib.dump(content, buffer)
        payload = buffer.getvalue()

    with pytest.raises(ArtifactRefused, match="not a skops model file"):
        artifact_load(payload)


class _Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_a_pickle_that_would_run_code_is_refused_without_running_it(monkeypatch) -> None:
    payload = pickle.dumps(_Boom())
    calls = []
    monkeypatch.setattr(os, "system", lambda command: calls.append(command))
    with pytest.raises(ArtifactRefused, match="not a skops model file"):
        artifact_load(payload)
    assert calls == []


@pytest.mark.parametrize(
    "payload", [b"", np.random.default_rng(0).bytes(2048), b"PK\x03\x04 truncated zip"], ids=["empty", "random", "zip"]
)
def test_empty_random_and_broken_bytes_are_refused(payload) -> None:
    with pytest.raises(ArtifactRefused, match="not a skops model file"):
        artifact_load(payload)


def test_a_type_outside_the_allow_list_is_refused(fitted) -> None:
    model, _ = fitted
    payload = _skops(model=model, extra=Gadget(), features=FEATURES)

    with pytest.raises(ArtifactRefused, match=r"types that are not allowed: .*Gadget"):
        artifact_load(payload)


@pytest.mark.parametrize("function", [os.system, builtins.eval, builtins.exec], ids=["os.system", "eval", "exec"])
def test_a_function_is_refused_even_from_an_allowed_module(fitted, function) -> None:
    """The allow-list is of types: builtins.eval is not a class, whatever its module."""
    sneaky = Pipeline([("hook", FunctionTransformer(func=function)), ("model", LogisticRegression())])
    payload = _skops(model=sneaky, features=FEATURES)

    with pytest.raises(ArtifactRefused, match="types that are not allowed"):
        artifact_load(payload)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"model": "m", "explainer": "e"}, '"model" and "features"'),
        ({"explainer": "e", "features": ["headcount"]}, '"model" and "features"'),
        (["not", "a", "dict"], '"model" and "features"'),
    ],
    ids=["no features", "no model", "a list"],
)
def test_an_incomplete_file_is_refused(content, message) -> None:
    with pytest.raises(ArtifactRefused, match=message):
        artifact_load(skops.io.dumps(content))


def test_a_model_that_is_not_a_classifier_is_refused() -> None:
    payload = _skops(model=StandardScaler(), features=FEATURES)
    with pytest.raises(ArtifactRefused, match="fitted classifier"):
        artifact_load(payload)


def test_features_must_be_a_list(fitted) -> None:
    model, _ = fitted
    payload = _skops(model=model, features="headcount")
    with pytest.raises(ArtifactRefused, match='"features" must be a list'):
        artifact_load(payload)


@pytest.mark.parametrize(
    ("features", "message"),
    [
        (["headcount", "nationality_share"], "Not allowed: nationality_share"),
        (["worker_age", "headcount"], "Not allowed: worker_age"),
        (["headcount", "profit_margin"], "Not in the feature registry: profit_margin"),
        ([], "at least one feature"),
        (["headcount", "headcount"], "listed twice"),
    ],
)
def test_features_outside_the_registry_are_refused(fitted, features, message) -> None:
    model, _ = fitted
    payload = artifact_dump(model=model, features=features)

    with pytest.raises(FeatureRefused, match=message):
        artifact_load(payload)
