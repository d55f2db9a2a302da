"""How much each feature adds to each employer's score in the live model.

Exact path contributions of tree models (Saabas; the "treeinterpreter" decomposition):
every node of a tree holds the tree's mean output over the training rows that reached
it, so walking a row from the root to its leaf, each split moves the output by
value(child) - value(node), and that move is credited to the feature the node splits
on. Per row, the credits of all trees plus the mean outputs at the roots (the
baseline) add up to exactly what the model computes:

- HistGradientBoostingClassifier: its raw score, the log-odds (predict_proba is its
  logistic function). The stored value of an internal node is the Newton step before
  shrinkage and the root's is 0, so the node means are recomputed from the leaves
  (which hold the shrunk values), weighted by the training rows that reached them;
- RandomForestClassifier, ExtraTreesClassifier, DecisionTreeClassifier,
  ExtraTreeClassifier: the probability of class 1, each tree's class shares at its
  nodes averaged over the trees;
- LogisticRegression: its log-odds, coefficient times scaled value, measured from
  the zero of the scaled inputs (the training mean after a StandardScaler).

Earlier steps of the pipeline must be per-feature transforms (imputers and scalers of
the allowlist): they are applied first, and keep one column per feature, so a
contribution still belongs to one feature. Rows are taken in blocks and trees split
them node by node with numpy: no Python loop runs per employer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit
from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, QuantileTransformer, RobustScaler, StandardScaler
from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier

from .artifact_allowlist import ArtifactRefused

LOG_ODDS = "log-odds"
PROBABILITY = "probability"
# Rows split together: a block's columns and row indices stay in the processor's cache.
BLOCK_ROWS = 65_536
MAX_DEPTH = 64  # as artifact_trees.trees_check allows
_PER_FEATURE = (SimpleImputer, StandardScaler, RobustScaler, MinMaxScaler, QuantileTransformer)
_FORESTS = (RandomForestClassifier, ExtraTreesClassifier)
_TREES = (DecisionTreeClassifier, ExtraTreeClassifier)


@dataclass(frozen=True)
class Explained:
    """Per row (n) and feature (f): contributions (n x f); baseline + the row's sum of
    contributions is the model's output on the scale named (LOG_ODDS or PROBABILITY)."""

    contributions: np.ndarray
    baseline: float
    scale: str

    def probabilities(self) -> np.ndarray:
        """The model's probability of class 1 per row, rebuilt from the contributions."""
        output = self.baseline + self.contributions.sum(axis=1)
        return expit(output) if self.scale == LOG_ODDS else output


def contributions(model: object, values: np.ndarray) -> np.ndarray:
    """Each feature's contribution to each row's score (n x f): see the module's docstring."""
    return ModelContributions(model).explain(values).contributions


def importance_of(model: object, values: np.ndarray, features: list[str]) -> dict[str, float]:
    """How much each feature raises scores, on average over `values` (the validation rows).

    Per feature: the mean over all rows of its contribution where it raises the row's
    score, and 0 where it lowers it; that is the mean raise among the rows where it
    raises times the share of those rows. So a feature that lifts a few employers a
    lot and one that lifts many a little both count, and one that mostly lowers scores
    counts little. Units are the model's (log-odds for gradient boosting, probability
    for forests); what the pages show is each feature's share of the total.
    """
    explained = ModelContributions(model).explain(values)
    if explained.contributions.shape[1] != len(features):
        raise ValueError(f"{len(features)} feature names for {explained.contributions.shape[1]} columns.")
    raised = np.maximum(explained.contributions, 0.0).mean(axis=0) if len(values) else np.zeros(len(features))
    return {name: float(f"{value:.6g}") for name, value in zip(features, raised, strict=True)}


class ModelContributions:
    """A model taken apart once for its contributions: its per-feature steps, and its trees
    (or coefficients) read into arrays. ArtifactRefused when the model is of another kind."""

    def __init__(self, model: object) -> None:
        self.steps, estimator = _parts(model)
        if isinstance(estimator, HistGradientBoostingClassifier):
            self._parts = _Boosting(estimator)
        elif isinstance(estimator, _FORESTS + _TREES):
            self._parts = _Trees(estimator)
        elif isinstance(estimator, LogisticRegression):
            self._parts = _Linear(estimator)
        else:
            raise _refused(f"its last step is a {type(estimator).__name__}")
        self.scale = self._parts.scale

    def explain(self, values: np.ndarray) -> Explained:
        rows = self._transformed(np.asarray(values, dtype=np.float64))
        return Explained(self._parts.contributions(rows), self._parts.baseline, self.scale)

    def _transformed(self, values: np.ndarray) -> np.ndarray:
        if values.ndim != 2:
            raise ValueError("Feature rows must be a two-dimensional array.")
        rows = values
        for step in self.steps:
            rows = np.asarray(step.transform(rows), dtype=np.float64)
            if rows.shape != values.shape:
                raise _refused(f"its step {type(step).__name__} does not keep one column per feature")
        return rows


def _refused(why: str) -> ArtifactRefused:
    return ArtifactRefused(f"MiningWatch cannot tell what each feature adds to this model's scores: {why}.")


def _parts(model: object) -> tuple[list[object], object]:
    """The per-feature steps and the final estimator of a pipeline (or of a bare estimator)."""
    if not isinstance(model, Pipeline):
        return [], model
    steps = [step for _, step in model.steps]
    transforms = [step for step in steps[:-1] if step is not None and step != "passthrough"]
    for step in transforms:
        if not isinstance(step, _PER_FEATURE):
            raise _refused(f"its step {type(step).__name__} is not a per-feature imputer or scaler")
    return transforms, steps[-1]


def _levels(left: np.ndarray, right: np.ndarray, inner: np.ndarray) -> list[np.ndarray]:
    """The internal nodes of a tree, level by level from the root (children come after
    their parent, as artifact_trees checks)."""
    levels, frontier = [], np.array([0])
    while True:
        frontier = frontier[inner[frontier]]
        if not len(frontier):
            return levels
        if len(levels) >= MAX_DEPTH:
            raise _refused(f"a tree is deeper than {MAX_DEPTH} levels")
        levels.append(frontier)
        frontier = np.concatenate([left[frontier], right[frontier]])


class _Boosting:
    """HistGradientBoostingClassifier: splits of every tree as (node, feature, threshold,
    missing values go left, left, right, move to the left child, move to the right)."""

    scale = LOG_ODDS

    def __init__(self, estimator: HistGradientBoostingClassifier) -> None:
        if getattr(estimator, "n_trees_per_iteration_", None) != 1:
            raise _refused("it does not give one score per employer (a binary classifier)")
        self.trees: list[list[tuple]] = []
        baseline = float(np.asarray(estimator._baseline_prediction, dtype=np.float64).ravel()[0])
        for (predictor,) in estimator._predictors:
            splits, root = self._splits(predictor.nodes)
            self.trees.append(splits)
            baseline += root
        self.baseline = baseline

    @staticmethod
    def _splits(nodes: np.ndarray) -> tuple[list[tuple], float]:
        inner = nodes["is_leaf"] == 0
        left, right = nodes["left"].astype(np.intp), nodes["right"].astype(np.intp)
        value = _node_means(nodes["value"].astype(np.float64), nodes["count"].astype(np.float64), left, right, inner)
        order = np.flatnonzero(inner)  # parents before children
        splits = [
            (int(node), int(feature), float(threshold), bool(missing_left), int(lo), int(hi), float(up), float(down))
            for node, feature, threshold, missing_left, lo, hi, up, down in zip(
                order,
                nodes["feature_idx"][order],
                nodes["num_threshold"][order],
                nodes["missing_go_to_left"][order],
                left[order],
                right[order],
                value[left[order]] - value[order],
                value[right[order]] - value[order],
                strict=True,
            )
        ]
        return splits, float(value[0])

    def contributions(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty(rows.shape)
        for start in range(0, len(rows), BLOCK_ROWS):
            block = np.asfortranarray(rows[start : start + BLOCK_ROWS])
            out[start : start + len(block)] = self._block(block).T
        return out

    def _block(self, block: np.ndarray) -> np.ndarray:
        """Contributions of one block of rows, features by rows. Each split sends the rows
        that reached its node (row indices) left or right, as the compiled prediction
        does: a missing value goes where the split says, any other value left when it is
        at most the threshold."""
        totals = np.zeros((block.shape[1], len(block)))
        everyone, nobody = np.arange(len(block)), np.arange(0)
        for splits in self.trees:
            reached = {0: everyone}
            for node, feature, threshold, missing_left, left, right, up, down in splits:
                rows = reached.pop(node, nobody)
                x = block[:, feature].take(rows)
                go_left = x <= threshold
                if missing_left:
                    go_left |= np.isnan(x)
                reached[left], reached[right] = rows[go_left], rows[~go_left]
                column = totals[feature]
                column[reached[left]] += up  # a row reaches a node once: no index repeats
                column[reached[right]] += down
        return totals


def _node_means(
    value: np.ndarray, count: np.ndarray, left: np.ndarray, right: np.ndarray, inner: np.ndarray
) -> np.ndarray:
    """Each node's mean output over the training rows that reached it: leaves keep their
    value, an internal node gets its children's means weighted by their rows."""
    value = value.copy()
    for parents in reversed(_levels(left, right, inner)):
        on_left, on_right = count[left[parents]], count[right[parents]]
        total = on_left + on_right
        share = np.divide(on_left, total, out=np.full(len(parents), 0.5), where=total > 0)
        value[parents] = share * value[left[parents]] + (1 - share) * value[right[parents]]
    return value


class _Trees:
    """A forest, or one decision tree: each tree's share of class 1 at every node."""

    scale = PROBABILITY

    def __init__(self, estimator: object) -> None:
        classes = getattr(estimator, "classes_", None)
        if getattr(estimator, "n_outputs_", None) != 1 or classes is None or len(classes) != 2:
            raise _refused("it does not give one score per employer (a binary classifier)")
        self.estimator = estimator
        members = estimator.estimators_ if isinstance(estimator, _FORESTS) else [estimator]
        self.trees = [member.tree_ for member in members]
        self.baseline = float(np.mean([_class_shares(tree)[0] for tree in self.trees]))

    def contributions(self, rows: np.ndarray) -> np.ndarray:
        # apply() validates the rows as predict_proba does (float32), so the leaves are its own.
        leaves = self.estimator.apply(rows)
        leaves = leaves.reshape(len(rows), -1)
        out = np.zeros(rows.shape)
        for number, tree in enumerate(self.trees):
            out += _path_table(tree, rows.shape[1])[leaves[:, number]]
        return out / len(self.trees)


def _class_shares(tree: object) -> np.ndarray:
    """The share of class 1 at each node, as predict_proba normalises it."""
    counts = np.asarray(tree.value, dtype=np.float64)[:, 0, :2]
    total = counts.sum(axis=1)
    return counts[:, 1] / np.where(total == 0, 1.0, total)


def _path_table(tree: object, width: int) -> np.ndarray:
    """For every node, the contributions of the path from the root to it (nodes x width)."""
    left, right = tree.children_left.astype(np.intp), tree.children_right.astype(np.intp)
    inner = left >= 0
    shares, feature = _class_shares(tree), tree.feature.astype(np.intp)
    table = np.zeros((len(left), width))
    for parents in _levels(left, right, inner):
        for children in (left[parents], right[parents]):
            table[children] = table[parents]
            table[children, feature[parents]] += shares[children] - shares[parents]
    return table


class _Linear:
    """A logistic regression: coefficient times scaled value, measured from zero."""

    scale = LOG_ODDS

    def __init__(self, estimator: LogisticRegression) -> None:
        coefficients = np.asarray(getattr(estimator, "coef_", np.empty((0, 0))), dtype=np.float64)
        if coefficients.ndim != 2 or coefficients.shape[0] != 1:
            raise _refused("it does not give one score per employer (a binary classifier)")
        self.coefficients = coefficients[0]
        self.baseline = float(np.asarray(estimator.intercept_, dtype=np.float64).ravel()[0])

    def contributions(self, rows: np.ndarray) -> np.ndarray:
        if rows.shape[1] != len(self.coefficients):
            raise ValueError(f"The model reads {len(self.coefficients)} features, not {rows.shape[1]}.")
        return rows * self.coefficients
