"""What a model file may hold, read from the file before any object in it is built.

A skops file is a zip archive: `schema.json` describes a tree of nodes, each naming the
type it rebuilds ("__module__" and "__class__") and the loader that rebuilds it
("__loader__"); arrays sit beside it as .npy members. skops builds an object for every
node, and some loaders call what they name (an array node calls its type on the
array). So a file is read here first, without building anything:

- the zip's central directory is checked against size limits, so that a small upload
  cannot inflate to gigabytes (a zip bomb);
- every node of the schema must use one of ALLOWED_LOADERS and name one of
  ALLOWED_TYPES, exact fully qualified names: never a prefix, never a module.

This list is the one reviewed place that says which types may be built. It holds what
MiningWatch's own training writes and the few estimators an analyst plausibly trains
elsewhere. Add a type only after reading what building it does: skops calls
`cls.__new__` and then `__setstate__` with the file's values for an object node.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator

# The loaders that rebuild data: containers, JSON values, arrays, dtypes, random
# generators, sklearn losses and trees, and objects by __new__ + __setstate__. Refused,
# because they call what the file names: FunctionNode, MethodNode, PartialNode,
# OperatorFuncNode, ConstructorFromReduceNode; and bytes, sets and slices, which no
# model of ours needs.
ALLOWED_LOADERS = frozenset(
    {
        "CachedNode",
        "DictNode",
        "ListNode",
        "TupleNode",
        "JsonNode",
        "TypeNode",
        "ObjectNode",
        "NdArrayNode",
        "DTypeNode",
        "RandomGeneratorNode",
        "RandomStateNode",
        "LossNode",
        "TreeNode",
    }
)

_BUILTINS = ("builtins.dict", "builtins.list", "builtins.tuple", "builtins.str", "builtins.int", "builtins.float")
_NUMPY = (
    "numpy.ndarray",
    "numpy.dtype",
    "numpy.float64",
    "numpy.float32",
    "numpy.int64",
    "numpy.int32",
    "numpy.int8",
    "numpy.uint64",
    "numpy.uint32",
    "numpy.uint8",
    "numpy.bool",
    "numpy.bool_",
    "numpy.random._generator.Generator",
    "numpy.random.mtrand.RandomState",
)
# Written by MiningWatch's own training (scoring.services.training.pipelines_fit).
_OUR_TRAINING = (
    "sklearn.pipeline.Pipeline",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.Interval",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.preprocessing._data.QuantileTransformer",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.linear_model._logistic.LogisticRegression",
)
# Estimators and transformers an analyst plausibly trains in a notebook. Not
# GradientBoostingClassifier: its compiled prediction trusts the shapes of its stages
# (a crafted file read and wrote outside its arrays); HistGradientBoosting does the job.
_ANALYSTS = (
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.ExtraTreeClassifier",
    "sklearn.tree._tree.Tree",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._data.RobustScaler",
    "sklearn.preprocessing._data.MinMaxScaler",
)
ALLOWED_TYPES = frozenset(_BUILTINS + _NUMPY + _OUR_TRAINING + _ANALYSTS)

# Limits of the archive, read from its central directory before anything is inflated.
# Our own files are stored uncompressed (ratio 1); numeric arrays deflate a few times.
MAX_MEMBERS = 20_000
MAX_UNCOMPRESSED_BYTES = 128 * 1024 * 1024
# Our own schema is about 0.6 MB and 5,000 JSON objects; a 500-tree forest's is a few MB.
# Parsing costs memory per object, so both are capped before json.loads.
MAX_SCHEMA_BYTES = 16 * 1024 * 1024
MAX_SCHEMA_OBJECTS = 500_000
MAX_RATIO = 100  # uncompressed / compressed, for any member above RATIO_FREE_BYTES
RATIO_FREE_BYTES = 1024 * 1024
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# skops names its members schema.json and <number>.npy: nothing with a path, a NUL or a
# backslash, and never the same name twice (zipfile would read the last of two, while
# the check read the first).
_MEMBER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
_DIRECTORY_ENTRY = b"PK\x01\x02"


class ArtifactRefused(ValueError):
    """An artifact that cannot be used, with the reason in words."""


def artifact_types(data: bytes) -> list[str]:
    """The fully qualified types the file would build, all of them allowed; refuses otherwise.

    Nothing of the file is built or imported here: the archive's directory and its
    schema are read as data."""
    # zipfile builds an object per directory entry before anything can be counted: count
    # the entries' signatures first (a chance match in the data only errs towards refusal).
    if data.count(_DIRECTORY_ENTRY) > MAX_MEMBERS:
        raise ArtifactRefused(f"The model file has more than {MAX_MEMBERS} parts: refused.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ArtifactRefused(f"This is not a skops model file ({type(exc).__name__}).") from exc
    with archive:
        schema = _schema_read(archive, _archive_check(archive))
    names: set[str] = set()
    refused: set[str] = set()
    for node in _nodes(schema):
        loader = node.get("__loader__")
        if loader not in ALLOWED_LOADERS:
            refused.add(f"loader {loader}")
            continue
        if loader == "CachedNode" and "__module__" not in node:
            continue  # a reference to a node met earlier, checked there
        name = f"{node.get('__module__')}.{node.get('__class__')}"
        (names if name in ALLOWED_TYPES else refused).add(name)
    if refused:
        raise ArtifactRefused(f"The model file holds types that are not allowed: {', '.join(sorted(refused)[:5])}.")
    return sorted(names)


def _archive_check(archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    """The schema's entry, once the directory is within the limits."""
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise ArtifactRefused(f"The model file has {len(members)} parts; at most {MAX_MEMBERS} are allowed.")
    total = 0
    for member in members:
        if member.compress_type not in _COMPRESSIONS:
            raise ArtifactRefused("The model file uses a compression other than none or deflate.")
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_FREE_BYTES and ratio > MAX_RATIO:
            raise ArtifactRefused(
                f"A part of the model file inflates {ratio:.0f} times (at most {MAX_RATIO}): refused as a zip bomb."
            )
    if total > MAX_UNCOMPRESSED_BYTES:
        raise ArtifactRefused(
            f"The model file inflates to {total // 2**20} MB; at most {MAX_UNCOMPRESSED_BYTES // 2**20} MB are allowed."
        )
    names = [member.filename for member in members]
    if len(set(names)) != len(names) or not all(_MEMBER_NAME.fullmatch(name) for name in names):
        raise ArtifactRefused("The model file holds parts with duplicate or unexpected names: refused.")
    schema = next((member for member in members if member.filename == "schema.json"), None)
    if schema is None:
        raise ArtifactRefused("This is not a skops model file (no schema).")
    if schema.file_size > MAX_SCHEMA_BYTES:
        raise ArtifactRefused(f"The model file's schema is larger than {MAX_SCHEMA_BYTES // 2**20} MB: refused.")
    return schema


def _schema_read(archive: zipfile.ZipFile, schema: zipfile.ZipInfo) -> object:
    """The parsed schema, read no further than its cap whatever its entry declares."""
    try:
        with archive.open(schema) as stream:
            text = stream.read(MAX_SCHEMA_BYTES + 1)
    except (zipfile.BadZipFile, ValueError, OSError, RuntimeError, EOFError) as exc:
        raise ArtifactRefused(f"This is not a skops model file ({type(exc).__name__}).") from exc
    if len(text) > MAX_SCHEMA_BYTES or text.count(b"{") > MAX_SCHEMA_OBJECTS:
        raise ArtifactRefused("The model file's schema is too large: refused.")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ArtifactRefused(f"This is not a skops model file ({type(exc).__name__}).") from exc


def _nodes(tree: object) -> Iterator[dict]:
    """Every node of a skops schema: each dict that names a loader, at any depth."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "__loader__" in item:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
