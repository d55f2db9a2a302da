"""Path contributions of the live model: they add up to its scores for every kind of model
the allowlist admits, each split is credited to the feature it reads, and refusals are clear."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, QuantileTransformer, RobustScaler, StandardScaler
from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier

from scoring.services import contributions as module
from scoring.services.artifact_allowlist import ArtifactRefused
from scoring.services.contributions import LOG_ODDS, PROBABILITY, ModelContributions, contributions, importance_of

WIDTH = 6
USED, UNUSED = 0, 5  # the label reads feature 0; feature 5 is constant, so no tree splits on it


def _data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, WIDTH))
    X[:, 2] = np.maximum(X[:, 2], 0)  # many zeros, as counts of earlier inspections
    X[rng.random(X.shape) < 0.1] = np.nan  # missing values, which trees send left or right
    X[:, UNUSED] = 1.0
    signal = np.nan_to_num(X[:, USED]) + 0.5 * np.nan_to_num(X[:, 1]) + 0.5 * np.isnan(X[:, 3])
    y = (signal + rng.normal(size=rows) > 1.0).astype(int)
    return X, y


def _boosting() -> HistGradientBoostingClassifier:
    # As our own training grows it (training.model_fit).
    return HistGradientBoostingClassifier(
        max_iter=120, learning_rate=0.05, max_depth=4, min_samples_leaf=40, l2_regularization=1.0, random_state=0
    )


MODELS = {
    "gradient boosting": lambda: Pipeline([("model", _boosting())]),
    "gradient boosting, bare": lambda: HistGradientBoostingClassifier(max_iter=20, random_state=0),
    "random forest": lambda: Pipeline(
        [
            ("impute", SimpleImputer()),
            ("scale", StandardScaler()),
            ("model", RandomForestClassifier(20, max_depth=6, random_state=0)),
        ]
    ),
    "random forest on missing values": lambda: RandomForestClassifier(10, max_depth=8, random_state=0),
    "extra trees": lambda: Pipeline(
        [("impute", SimpleImputer()), ("scale", RobustScaler()), ("model", ExtraTreesClassifier(10, random_state=0))]
    ),
    "decision tree": lambda: Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("normalise", QuantileTransformer(n_quantiles=50, output_distribution="normal")),
            ("model", DecisionTreeClassifier(max_depth=6, random_state=0)),
        ]
    ),
    "extra tree": lambda: Pipeline([("impute", SimpleImputer()), ("model", ExtraTreeClassifier(random_state=0))]),
    "scaled logistic": lambda: Pipeline(
        [("impute", SimpleImputer()), ("scale", MinMaxScaler()), ("model", LogisticRegression())]
    ),
}


@pytest.fixture(scope="module")
def fitted() -> dict[str, object]:
    X, y = _data(4000, 0)
    return {name: build().fit(X, y) for name, build in MODELS.items()}


@pytest.mark.parametrize("name", list(MODELS))
def test_contributions_add_up_to_the_score(fitted, name) -> None:
    model = fitted[name]
    X, _ = _data(3000, 1)

    explained = ModelContributions(model).explain(X)

    assert explained.contributions.shape == X.shape
    np.testing.assert_allclose(explained.probabilities(), model.predict_proba(X)[:, 1], rtol=0, atol=1e-12)
    assert explained.scale == (PROBABILITY if "tree" in name or "forest" in name else LOG_ODDS)


def test_gradient_boosting_adds_up_to_its_raw_score_the_log_odds(fitted) -> None:
    model = fitted["gradient boosting"]
    X, _ = _data(3000, 2)

    explained = ModelContributions(model).explain(X)

    raw = model[-1]._raw_predict(X)[:, 0]
    np.testing.assert_allclose(explained.baseline + explained.contributions.sum(axis=1), raw, rtol=0, atol=1e-12)
    np.testing.assert_allclose(expit(raw), model.predict_proba(X)[:, 1], rtol=0, atol=1e-15)


def test_the_internal_values_scikit_learn_stores_are_not_the_node_means(fitted) -> None:
    """Why the node means are recomputed: the stored value of an internal node is the Newton
    step before shrinkage, and the root's is 0, so differences along a path would credit the
    first split with the whole tree's bias and the last with the shrinkage."""
    nodes = fitted["gradient boosting"][-1]._predictors[5][0].nodes
    inner = nodes["is_leaf"] == 0
    leaves = ~inner
    mean = (nodes["value"][leaves] * nodes["count"][leaves]).sum() / nodes["count"][leaves].sum()

    assert nodes["value"][0] == 0.0 and abs(mean) > 1e-6
    left = nodes["left"][0]
    assert abs(nodes["value"][left]) > 5 * np.abs(nodes["value"][leaves]).max()  # not yet multiplied by 0.05


def _walked(model: HistGradientBoostingClassifier, row: np.ndarray) -> np.ndarray:
    """The contributions of one row, by walking each tree by hand: the reference."""
    out = np.zeros(len(row))
    for (predictor,) in model._predictors:
        nodes = predictor.nodes

        def mean(node: int, nodes: np.ndarray = nodes) -> tuple[float, float]:
            """(mean output, training rows) of the subtree under `node`."""
            if nodes["is_leaf"][node]:
                return float(nodes["value"][node]), float(nodes["count"][node])
            (a, n), (b, m) = mean(nodes["left"][node]), mean(nodes["right"][node])
            return (a * n + b * m) / (n + m), n + m

        node = 0
        while not nodes["is_leaf"][node]:
            value = row[nodes["feature_idx"][node]]
            left = nodes["missing_go_to_left"][node] if np.isnan(value) else value <= nodes["num_threshold"][node]
            child = nodes["left"][node] if left else nodes["right"][node]
            out[nodes["feature_idx"][node]] += mean(child)[0] - mean(node)[0]
            node = child
    return out


def test_each_split_is_credited_to_the_feature_it_reads(fitted) -> None:
    model = fitted["gradient boosting"]
    X, _ = _data(40, 3)
    X[0, :] = np.nan  # every value missing: only the missing-value directions count

    found = contributions(model, X)

    expected = np.array([_walked(model[-1], row) for row in X])
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-12)
    assert (found[:, UNUSED] == 0).all()  # a feature no tree splits on adds nothing
    assert np.abs(found[:, USED]).mean() > np.abs(found[:, 4]).mean()  # the label's feature adds most


def test_blocks_of_rows_give_the_same_contributions(fitted, monkeypatch) -> None:
    X, _ = _data(1000, 4)
    whole = contributions(fitted["gradient boosting"], X)
    monkeypatch.setattr(module, "BLOCK_ROWS", 7)

    np.testing.assert_array_equal(contributions(fitted["gradient boosting"], X), whole)


@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")
def test_a_step_that_drops_a_column_is_refused() -> None:
    X, y = _data(500, 5)
    X[:, 4] = np.nan  # SimpleImputer drops a column it never saw a value of
    model = Pipeline([("impute", SimpleImputer()), ("model", DecisionTreeClassifier(max_depth=3))]).fit(X, y)

    with pytest.raises(ArtifactRefused, match="does not keep one column per feature"):
        ModelContributions(model).explain(X)


def test_a_classifier_of_more_than_two_classes_is_refused() -> None:
    X, y = _data(600, 6)
    model = HistGradientBoostingClassifier(max_iter=3).fit(X, y + (X[:, 1] > 1))

    with pytest.raises(ArtifactRefused, match="binary classifier"):
        ModelContributions(model)


def test_a_step_that_mixes_features_is_refused() -> None:
    from sklearn.decomposition import PCA

    X, y = _data(600, 7)
    model = Pipeline([("impute", SimpleImputer()), ("mix", PCA()), ("model", DecisionTreeClassifier())]).fit(X, y)

    with pytest.raises(ArtifactRefused, match="PCA is not a per-feature"):
        ModelContributions(model)


def test_importance_is_the_mean_raise_of_each_feature(fitted) -> None:
    model = fitted["gradient boosting"]
    X, _ = _data(2000, 8)
    names = [f"f{number}" for number in range(WIDTH)]

    importance = importance_of(model, X, names)

    raised = np.maximum(contributions(model, X), 0).mean(axis=0)
    assert list(importance) == names
    assert importance == pytest.approx(dict(zip(names, raised, strict=True)), rel=1e-5)
    assert importance["f5"] == 0 and max(importance, key=importance.get) == "f0"
    with pytest.raises(ValueError, match="feature names"):
        importance_of(model, X, names[:3])
