"""Trees of a model file, checked before any row goes through them.

Tree prediction runs in compiled code that trusts its node arrays: a child index out of
range reads outside the array (a crash), one that points back loops for ever, a feature
index past the estimator's columns reads beside the rows, and a very deep tree or the
same tree listed thousands of times makes every row cost seconds. The sandbox cannot
see this: a crafted tree behaves on the sample and misbehaves only on the rows its
splits single out. So every tree is checked as data:

- trees as scikit-learn grows them number every child after its parent, within the tree;
- every split reads a feature the estimator, and the ensemble holding it, has;
- no tree is deeper than MAX_DEPTH, there are at most MAX_TREES, and a row passes
  through at most MAX_NODES_PER_ROW nodes in all;
- no estimator that holds trees is listed twice.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE
from sklearn.tree._tree import TREE_LEAF

from .artifact_allowlist import ArtifactRefused

MAX_DEPTH = 64
MAX_TREES = 2_000
MAX_NODES_PER_ROW = 40_000  # a 500-tree forest 80 levels deep on average


def trees_check(root: object) -> None:
    """Refuse the trees reachable from `root` unless each is well formed and the whole is bounded."""
    trees, nodes_per_row = 0, 0
    for estimator in _estimators(root):
        width = _width(estimator)
        for member in _members(estimator):
            if _width(member) != width:
                raise ArtifactRefused("A tree of an ensemble reads other features than the ensemble.")
        depths = [_predictor_depth(getattr(p, "nodes", None), width) for p in _flat(_predictors(estimator))]
        if getattr(estimator, "tree_", None) is not None:
            depths.append(_tree_depth(estimator.tree_, width))
        trees += len(depths)
        nodes_per_row += sum(depths)
    if trees > MAX_TREES or nodes_per_row > MAX_NODES_PER_ROW:
        raise ArtifactRefused(
            f"The model holds {trees} trees that a row walks {nodes_per_row} nodes through; "
            f"at most {MAX_TREES} trees and {MAX_NODES_PER_ROW} nodes are allowed."
        )


def _bears_trees(item: object) -> bool:
    return any(hasattr(item, name) for name in ("tree_", "_predictors", "estimators_", "nodes", "children_left"))


def _estimators(root: object) -> list[object]:
    """Every scikit-learn object that holds trees, reachable from `root` through attributes
    and containers; refuses one reached twice (a tree listed many times costs each row
    as many walks, while its file holds it once)."""
    seen: set[int] = set()
    found: list[object] = []
    stack = [root]
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, (str, bytes, int, float, type)):
            continue
        if id(item) in seen:
            if _bears_trees(item):
                raise ArtifactRefused("The model file lists the same tree more than once.")
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, np.ndarray):
            if item.dtype == object:
                stack.extend(item.ravel().tolist())
        elif type(item).__module__.startswith("sklearn"):
            if any(hasattr(item, name) for name in ("tree_", "_predictors", "estimators_")):
                found.append(item)
            stack.extend(getattr(item, "__dict__", {}).values())
    return found


def _width(estimator: object) -> int:
    width = getattr(estimator, "n_features_in_", None)
    if not (isinstance(width, (int, np.integer)) and width > 0):
        raise ArtifactRefused("A tree model does not say how many features it reads.")
    return int(width)


def _members(estimator: object) -> list[object]:
    """The trees of a forest: each must read the forest's features."""
    members = getattr(estimator, "estimators_", None)
    if members is None:
        return []
    return [member for member in np.asarray(members, dtype=object).ravel() if _bears_trees(member)]


def _predictors(estimator: object) -> object:
    return getattr(estimator, "_predictors", None)


def _flat(predictors: object) -> list[object]:
    if predictors is None:
        return []
    return [predictor for row in predictors for predictor in row]


def _predictor_depth(nodes: object, width: int) -> int:
    """The depth of one gradient-boosting tree, once its nodes are checked."""
    if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE or nodes.ndim != 1 or not len(nodes):
        raise ArtifactRefused("A gradient-boosting tree has malformed nodes.")
    inner = nodes["is_leaf"] == 0
    left, right = nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)
    _children_check(left, right, inner, "gradient-boosting tree")
    if not ((nodes["feature_idx"] >= 0) & (nodes["feature_idx"] < width))[inner].all():
        raise ArtifactRefused("A gradient-boosting tree reads features the model does not have.")
    if nodes["is_categorical"].any():
        raise ArtifactRefused("Categorical splits are not supported: every feature is a number.")
    return _depth(left, right, inner)


def _tree_depth(tree: object, width: int) -> int:
    """The depth of one decision tree, once its nodes are checked."""
    left, right = getattr(tree, "children_left", None), getattr(tree, "children_right", None)
    feature, count = getattr(tree, "feature", None), getattr(tree, "node_count", 0)
    if not all(isinstance(array, np.ndarray) and array.shape == (count,) for array in (left, right, feature)):
        raise ArtifactRefused("A decision tree has malformed nodes.")
    if count < 1 or getattr(tree, "n_features", None) != width:
        raise ArtifactRefused("A decision tree does not match the features of its model.")
    leaf = left == TREE_LEAF
    if not ((right == TREE_LEAF) == leaf).all():
        raise ArtifactRefused("A decision tree has nodes with one child.")
    _children_check(left, right, ~leaf, "decision tree")
    if not ((feature >= 0) & (feature < width))[~leaf].all():
        raise ArtifactRefused("A decision tree reads features the model does not have.")
    return _depth(left.astype(np.int64), right.astype(np.int64), ~leaf)


def _children_check(left: np.ndarray, right: np.ndarray, inner: np.ndarray, kind: str) -> None:
    index = np.arange(len(left))
    if not all(((child > index) & (child < len(left)))[inner].all() for child in (left, right)):
        raise ArtifactRefused(f"A {kind} has nodes that point outside the tree.")


def _depth(left: np.ndarray, right: np.ndarray, inner: np.ndarray) -> int:
    """Levels below the root, walked one level at a time (children checked in range)."""
    frontier, depth = np.array([0]), 0
    while True:
        frontier = frontier[inner[frontier]]
        if not len(frontier):
            return depth
        depth += 1
        if depth > MAX_DEPTH:
            raise ArtifactRefused(f"A tree of the model is deeper than {MAX_DEPTH} levels.")
        frontier = np.unique(np.concatenate([left[frontier], right[frontier]]))
