"""Hostile model files: each is refused with a clear message, leaves no row and no file,
and runs no code, on upload, at activation and before a scoring run.

The payloads are made here by editing the schema of a real skops file, as an attacker
would. The code-running ones are proven live first: loaded by skops with their types
trusted, in a throwaway process, they do write their marker file.
"""

from __future__ import annotations

import copy
import functools
import io
import json
import operator
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import skops.io
from django.test import Client
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.tree import DecisionTreeClassifier
from sklearn.tree._tree import TREE_LEAF, Tree

from scoring.features.registry import FEATURE_NAMES, FeatureRefused
from scoring.models import ModelStatus, ModelVersion, RunStatus
from scoring.services import artifact_sandbox
from scoring.services.artifacts import ArtifactRefused, artifact_dump
from scoring.services.runs import scoring_run_create, scoring_run_execute
from scoring.services.uploads import model_version_upload
from scoring.services.versions import model_version_activate
from tests.factories import EmployerFactory, UserFactory
from tests.scoring.support import stored_version

FEATURES = list(FEATURE_NAMES)
SECTOR, OFFENCE = "cleaning", "part_time_abuse"
Refused = (ArtifactRefused, FeatureRefused)


class Gadget:
    """A class of our own: nothing a model file may hold."""


@pytest.fixture(scope="module")
def fitted() -> tuple[Pipeline, np.ndarray]:
    """Our own kind of model (training.model_fit) and the rows it was fitted on."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, len(FEATURES)))
    y = (X[:, 0] + rng.normal(size=400) > 0.8).astype(int)
    boosting = HistGradientBoostingClassifier(max_iter=30, max_depth=4, random_state=0)
    return Pipeline([("model", boosting)]).fit(X, y), X


@pytest.fixture(scope="module")
def valid(fitted) -> bytes:
    return artifact_dump(model=fitted[0], features=FEATURES)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "payload-ran"


# Forging ----------------------------------------------------------------------------


def _json(value: object) -> dict:
    kind = type(value).__name__
    return {
        "__class__": kind,
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
    }


def _called_array(module: str, cls: str, items: list[str], member: str = "evil.npy") -> tuple[dict, dict]:
    """An array node whose type skops calls on the array, `module.cls(array(items))`, and
    the archive member that holds the array."""
    array = io.BytesIO()
    np.save(array, np.array(items), allow_pickle=False)
    node = {"__class__": cls, "__module__": module, "__loader__": "NdArrayNode", "type": "numpy", "file": member}
    return node, {member: array.getvalue()}


def _forge(payload: bytes, edit: Callable[[dict], None], members: dict[str, bytes] | None = None) -> bytes:
    """The file with its schema edited and `members` added; every other member as it was."""
    with zipfile.ZipFile(io.BytesIO(payload)) as source:
        schema = json.loads(source.read("schema.json"))
        edit(schema)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as target:
            for info in source.infolist():
                content = json.dumps(schema).encode() if info.filename == "schema.json" else source.read(info)
                target.writestr(info, content)
            for name, content in (members or {}).items():
                target.writestr(name, content)
    return out.getvalue()


def _entry(name: str, node: dict) -> Callable[[dict], None]:
    """Adds `name: node` to the artifact's top-level dict."""

    def edit(schema: dict) -> None:
        schema["content"][name] = node
        schema["key_types"]["content"].append(dict(schema["key_types"]["content"][0]))

    return edit


def _replace(name: str, node: dict) -> Callable[[dict], None]:
    def edit(schema: dict) -> None:
        schema["content"][name] = node

    return edit


def _popen(marker: Path, module: str = "numpy.distutils.fcompiler.gnu") -> tuple[dict, dict]:
    # numpy.distutils.fcompiler.gnu re-exports subprocess.Popen.
    return _called_array(module, "Popen", ["sh", "-c", f"touch {marker}"])


def _with(payload: bytes, place: Callable[[str, dict], Callable[[dict], None]], name: str, forged: tuple) -> bytes:
    node, members = forged
    return _forge(payload, place(name, node), members)


def _bomb(payload: bytes, *, member: str, megabytes: int) -> bytes:
    """The file with `member` inflating to `megabytes` of blanks (about 1,000 times its size)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(payload)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename != member:
                target.writestr(info, source.read(info))
        inflating = zipfile.ZipInfo(member)
        inflating.compress_type = zipfile.ZIP_DEFLATED
        with target.open(inflating, "w", force_zip64=True) as stream:
            block = b" " * 2**20
            for _ in range(megabytes):
                stream.write(block)
    return out.getvalue()


def _many_members(payload: bytes, count: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(payload)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        for number in range(count):
            target.writestr(f"extra/{number}", b"")
    return out.getvalue()


def _skops(**content: object) -> bytes:
    return skops.io.dumps(content)


def _one_class(X: np.ndarray) -> Pipeline:
    """A classifier fitted on one class: its predict_proba has one column."""
    return Pipeline([("model", DecisionTreeClassifier(max_depth=2).fit(X, np.zeros(len(X), dtype=int)))])


def _gradient_boosting(X: np.ndarray) -> Pipeline:
    return Pipeline([("model", GradientBoostingClassifier(n_estimators=2).fit(X, (X[:, 0] > 0).astype(int)))])


def _chain_forest(fitted, *, depth: int, listed: int) -> bytes:
    """A forest whose tree is a chain `depth` levels deep that only rows with a first
    feature above 1e6 walk down, listed `listed` times."""
    _, X = fitted
    forest = RandomForestClassifier(n_estimators=1, max_depth=1, random_state=0).fit(X, (X[:, 0] > 0).astype(int))
    tree = forest.estimators_[0].tree_
    state = tree.__getstate__()
    nodes = np.zeros(2 * depth + 1, dtype=state["nodes"].dtype)
    nodes["left_child"] = nodes["right_child"] = TREE_LEAF
    nodes["feature"], nodes["threshold"], nodes["n_node_samples"], nodes["weighted_n_node_samples"] = -2, -2, 1, 1
    for level in range(depth):  # node 2i: x0 <= 1e6 -> leaf 2i+1, else node 2i+2
        at = 2 * level
        nodes[at]["feature"], nodes[at]["threshold"] = 0, 1e6
        nodes[at]["left_child"], nodes[at]["right_child"] = at + 1, at + 2
    state.update(nodes=nodes, values=np.full((len(nodes), 1, 2), 0.5), node_count=len(nodes), max_depth=depth)
    chain = Tree(tree.n_features, np.array([2], dtype=np.intp), 1)
    chain.__setstate__(state)
    forest.estimators_[0].tree_ = chain
    forest.estimators_ = [forest.estimators_[0]] * listed
    return _skops(model=Pipeline([("model", forest)]), features=FEATURES)


def _second_schema(payload: bytes, marker: Path) -> bytes:
    """The valid schema first, then a hostile one of the same name (zipfile reads the last)."""
    node, members = _popen(marker)
    hostile = _forge(payload, _entry("extra", node), members)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(hostile)) as source, zipfile.ZipFile(out, "w") as target, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name it writes
        with zipfile.ZipFile(io.BytesIO(payload)) as clean:
            target.writestr("schema.json", clean.read("schema.json"))
        for info in source.infolist():
            target.writestr(info, source.read(info))
    return out.getvalue()


def _renamed(payload: bytes, old: str, new: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(payload)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(new if info.filename == old else info, source.read(info))
    return out.getvalue()


def _schema_of(payload: bytes, schema: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(payload)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, schema if info.filename == "schema.json" else source.read(info))
    return out.getvalue()


def _hist_tree(fitted, *, right: int | None = None, feature: int | None = None) -> bytes:
    """Our own model with its first tree's root split edited; the sample rows all go left
    (threshold 1e6), so only a row the sandbox never saw would reach the edit."""
    model = copy.deepcopy(fitted[0])
    nodes = model[-1]._predictors[0][0].nodes
    leaf = int(np.flatnonzero(nodes["is_leaf"])[0])
    nodes[0]["is_leaf"], nodes[0]["feature_idx"], nodes[0]["num_threshold"] = 0, 0, 1e6
    nodes[0]["left"] = leaf
    if right is not None:
        nodes[0]["right"] = right
    if feature is not None:
        nodes[0]["feature_idx"] = feature
    return artifact_dump(model=model, features=FEATURES)


def _forest_tree(fitted) -> bytes:
    _, X = fitted
    forest = RandomForestClassifier(n_estimators=2, max_depth=3, random_state=0).fit(X, (X[:, 0] > 0).astype(int))
    state = forest.estimators_[0].tree_.__getstate__()
    state["nodes"]["right_child"][0] = 2_000_000_000
    forest.estimators_[0].tree_.__setstate__(state)
    return _skops(model=Pipeline([("model", forest)]), features=FEATURES)


def _column_dropped(X: np.ndarray) -> Pipeline:
    """A pipeline whose imputer drops a column it never saw a value of: its scores are
    fine, but no contribution could be tied to a feature."""
    X = X.copy()
    X[:, 3] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SimpleImputer warns that it skips the column
        steps = [("impute", SimpleImputer()), ("model", DecisionTreeClassifier(max_depth=3))]
        return Pipeline(steps).fit(X, (X[:, 0] > 0).astype(int))


def _nan_classifier(X: np.ndarray) -> Pipeline:
    model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    model.coef_[:] = np.nan
    return Pipeline([("model", model)])


# The corpus: (id, payload builder, message the user reads) --------------------------


def _corpus() -> list[tuple[str, Callable[..., bytes], str]]:
    not_allowed = "types that are not allowed"
    return [
        ("popen beside the model", lambda v, f, m: _with(v, _entry, "extra", _popen(m)), not_allowed + ".*Popen"),
        ("popen as the model", lambda v, f, m: _with(v, _replace, "model", _popen(m)), not_allowed + ".*Popen"),
        ("popen from subprocess", lambda v, f, m: _with(v, _entry, "x", _popen(m, "subprocess")), not_allowed),
        (
            "memmap that truncates a file",
            lambda v, f, m: _with(v, _entry, "x", _called_array("numpy", "memmap", [str(m)])),
            not_allowed + ".*numpy.memmap",
        ),
        (
            "os.system as a function",
            lambda v, f, m: _skops(
                model=Pipeline([("hook", FunctionTransformer(func=os.system)), ("model", LogisticRegression())]),
                features=FEATURES,
            ),
            not_allowed,
        ),
        (
            "eval as a function",
            lambda v, f, m: _skops(model=FunctionTransformer(func=eval), features=FEATURES),
            not_allowed,
        ),
        (
            "partial of os.system",
            lambda v, f, m: _skops(model=FunctionTransformer(func=functools.partial(os.system, f"touch {m}"))),
            not_allowed,
        ),
        (
            "operator function",
            lambda v, f, m: _skops(model=FunctionTransformer(func=operator.attrgetter("system"))),
            not_allowed,
        ),
        ("a class of our own", lambda v, f, m: _skops(model=Gadget(), features=FEATURES), "Gadget"),
        (
            "a type node naming os.system",
            lambda v, f, m: _forge(
                v, _entry("x", {"__class__": "system", "__module__": "os", "__loader__": "TypeNode"})
            ),
            not_allowed + ".*os.system",
        ),
        (
            "an unknown loader",
            lambda v, f, m: _forge(
                v, _entry("x", {"__class__": "dict", "__module__": "builtins", "__loader__": "EvilNode"})
            ),
            "loader EvilNode",
        ),
        (
            "a constructor called from a reduce",
            lambda v, f, m: _forge(
                v,
                _entry(
                    "x", {"__class__": "Popen", "__module__": "subprocess", "__loader__": "ConstructorFromReduceNode"}
                ),
            ),
            not_allowed,
        ),
        ("schema inflating to 300 MB", lambda v, f, m: _bomb(v, member="schema.json", megabytes=300), "zip bomb"),
        ("array inflating to 300 MB", lambda v, f, m: _bomb(v, member="1.npy", megabytes=300), "zip bomb"),
        ("20,001 members", lambda v, f, m: _many_members(v, 20_001), "more than 20000 parts"),
        ("a second schema read instead of the first", lambda v, f, m: _second_schema(v, m), "duplicate or unexpected"),
        ("a member with a path", lambda v, f, m: _renamed(v, "1.npy", "../1.npy"), "duplicate or unexpected"),
        ("a schema of a million objects", lambda v, f, m: _schema_of(v, b"[" + b"{}," * 10**6 + b"{}]"), "too large"),
        ("a tree pointing outside itself", lambda v, f, m: _hist_tree(f, right=4_000_000_000), "outside the tree"),
        ("a tree pointing back to its root", lambda v, f, m: _hist_tree(f, right=0), "outside the tree"),
        ("a tree reading a feature it lacks", lambda v, f, m: _hist_tree(f, feature=10**6), "features the model"),
        ("a forest tree pointing outside itself", lambda v, f, m: _forest_tree(f), "outside the tree"),
        ("a tree 100 levels deep", lambda v, f, m: _chain_forest(f, depth=100, listed=1), "deeper than 64"),
        ("one tree listed twice", lambda v, f, m: _chain_forest(f, depth=3, listed=2), "same tree more than once"),
        (
            "a gradient boosting classifier",
            lambda v, f, m: _skops(model=_gradient_boosting(f[1]), features=FEATURES),
            "types that are not allowed",
        ),
        ("a pickle", lambda v, f, m: __import__("pickle").dumps({"model": f[0]}), "not a skops model file"),
        ("random bytes", lambda v, f, m: np.random.default_rng(1).bytes(4096), "not a skops model file"),
        (
            "a step that drops a column",
            lambda v, f, m: _skops(model=_column_dropped(f[1]), features=FEATURES),
            "cannot tell what each feature adds .* does not keep one column per feature",
        ),
        (
            "one probability column",
            lambda v, f, m: _skops(model=_one_class(f[1]), features=FEATURES),
            r"two probabilities per employer .* shape \(\d+, 1\)",
        ),
        (
            "a class as the last step",
            lambda v, f, m: _skops(model=Pipeline([("model", HistGradientBoostingClassifier)]), features=FEATURES),
            "could not score current employers",
        ),
        (
            "NaN probabilities",
            lambda v, f, m: _skops(model=_nan_classifier(f[1]), features=FEATURES),
            "not probabilities",
        ),
        (
            "fewer features than the model needs",
            lambda v, f, m: _skops(model=f[0], features=FEATURES[:3]),
            "could not score current employers",
        ),
        (
            "a forbidden feature",
            lambda v, f, m: _skops(model=f[0], features=[*FEATURES[:-1], "nationality_share"]),
            "Not allowed: nationality_share",
        ),
        (
            "features as a string",
            lambda v, f, m: _skops(model=f[0], features="headcount"),
            "must be a list",
        ),
    ]


CORPUS = _corpus()


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch) -> Path:
    """The temporary folder the check's child works in, this test's own."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.mark.django_db
@pytest.mark.parametrize(("build", "message"), [(b, m) for _, b, m in CORPUS], ids=[i for i, _, _ in CORPUS])
def test_a_hostile_upload_is_refused_and_leaves_nothing(build, message, fitted, valid, marker, scratch) -> None:
    payload = build(valid, fitted, marker)

    with pytest.raises(Refused, match=message):
        model_version_upload(sector=SECTOR, offence=OFFENCE, data=payload, user=None)

    assert not ModelVersion.objects.exists()
    assert not marker.exists()
    assert list(scratch.iterdir()) == []


def test_the_corpus_holds_the_reported_files_and_ten_more() -> None:
    assert len(CORPUS) >= 6 + 10


@pytest.mark.parametrize("where", ["beside", "instead of the model"])
def test_the_popen_payload_is_live_when_its_types_are_trusted(where, valid, marker) -> None:
    """Proves the corpus bites: skops, told to trust the file's types, runs the command."""
    payload = (
        _with(valid, _entry, "extra", _popen(marker))
        if where == "beside"
        else _with(valid, _replace, "model", _popen(marker))
    )
    script = (
        "import sys, skops.io; d = sys.stdin.buffer.read(); "
        "skops.io.loads(d, trusted=skops.io.get_untrusted_types(data=d))"
    )
    subprocess.run([sys.executable, "-W", "ignore", "-c", script], input=payload, capture_output=True, timeout=60)
    for _ in range(50):  # Popen does not wait for the command it started
        if marker.exists():
            break
        time.sleep(0.1)
    assert marker.exists()


def test_a_memmap_payload_leaves_the_file_it_names_as_it_was(fitted, valid, tmp_path, db) -> None:
    victim = tmp_path / "victim.bin"
    victim.write_bytes(b"keep me" * 100)
    payload = _with(valid, _entry, "x", _called_array("numpy", "memmap", [str(victim)]))

    with pytest.raises(ArtifactRefused):
        model_version_upload(sector=SECTOR, offence=OFFENCE, data=payload, user=None)

    assert victim.read_bytes() == b"keep me" * 100


def test_a_type_outside_the_list_is_refused_before_anything_is_built(fitted, monkeypatch) -> None:
    built = []
    monkeypatch.setattr(skops.io, "loads", lambda *args, **kwargs: built.append(args))
    payload = _skops(model=Gadget(), features=FEATURES)

    with pytest.raises(ArtifactRefused, match="Gadget"):
        from scoring.services.artifacts import artifact_load

        artifact_load(payload)

    assert built == []


def test_the_check_is_refused_past_its_memory_limit(valid, fitted, monkeypatch) -> None:
    monkeypatch.setattr(artifact_sandbox, "MEMORY_BYTES", 150 * 1024**2)
    with pytest.raises(ArtifactRefused, match="refused"):
        artifact_sandbox.sandbox_check(data=valid, values=fitted[1][:50], columns=FEATURES)


def test_the_check_is_refused_past_its_time_limit(valid, fitted, monkeypatch) -> None:
    monkeypatch.setattr(artifact_sandbox, "WALL_SECONDS", 0.05)
    with pytest.raises(ArtifactRefused, match="took longer than"):
        artifact_sandbox.sandbox_check(data=valid, values=fitted[1][:50], columns=FEATURES)


def test_the_check_sees_no_secret_of_the_server(monkeypatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "server-secret")
    monkeypatch.setenv("DATABASE_URL", "postgres://secret@db/miningwatch")
    environment = artifact_sandbox._child_environment()
    assert "SECRET_KEY" not in environment and "DATABASE_URL" not in environment


# The same check again at activation and before a scoring run ---------------------


def _stored(payload: bytes, status: str = ModelStatus.CANDIDATE, sector: str = SECTOR) -> ModelVersion:
    """A version stored without the upload's check, as an older release or the database might hold it."""
    return stored_version(payload, status=status, sector=sector)


@pytest.mark.django_db
def test_activation_checks_the_file_again(valid, marker) -> None:
    version = _stored(_with(valid, _entry, "extra", _popen(marker)))

    with pytest.raises(ArtifactRefused, match="Popen"):
        model_version_activate(version=version)

    version.refresh_from_db()
    assert version.status == ModelStatus.CANDIDATE and not marker.exists()


@pytest.mark.django_db
def test_a_scoring_run_checks_the_file_again(fitted, marker, settings) -> None:
    EmployerFactory.create_batch(3)  # in construction: the run checks the file on its own employers
    settings.SCORING_MIN_DECLARED_SHARE = 0  # they declared nothing: the run would be refused before the file
    payload = _skops(model=_one_class(fitted[1]), features=FEATURES)
    version = _stored(payload, status=ModelStatus.ACTIVE, sector="construction")
    run = scoring_run_create(sector="construction", offence=OFFENCE, as_of=version.validation_to)

    run = scoring_run_execute(run_id=run.pk)

    assert run.status == RunStatus.FAILED
    assert re.search("two probabilities per employer", run.message)


# Through the admin form, with CSRF checks on ---------------------------------------


@pytest.mark.django_db
def test_the_admin_upload_refuses_a_hostile_file_with_one_clear_message(valid, marker) -> None:
    admin = UserFactory(is_staff=True, is_superuser=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    page = client.get("/admin/scoring/modelversion/add/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    upload = io.BytesIO(_with(valid, _entry, "extra", _popen(marker)))
    upload.name = "model.skops"

    response = client.post(
        "/admin/scoring/modelversion/add/",
        {"csrfmiddlewaretoken": token, "sector": SECTOR, "offence_type": OFFENCE, "file": upload},
    )

    text = response.content.decode()
    assert response.status_code == 200
    assert "types that are not allowed" in text
    assert "This field cannot be null" not in text
    assert not ModelVersion.objects.exists() and not marker.exists()


# What the allowlist must let through ------------------------------------------------


def _analyst_pipelines(X: np.ndarray, y: np.ndarray) -> dict[str, Pipeline]:
    from sklearn.ensemble import ExtraTreesClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    models = {
        "random forest": RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0),
        "extra trees": ExtraTreesClassifier(n_estimators=5, max_depth=4, random_state=0),
        "decision tree": DecisionTreeClassifier(max_depth=4, random_state=0),
        "scaled logistic": LogisticRegression(),
    }
    scalers = [StandardScaler(), RobustScaler(), MinMaxScaler(), StandardScaler()]
    return {
        name: Pipeline([("impute", SimpleImputer()), ("scale", scaler), ("model", model)]).fit(X, y)
        for (name, model), scaler in zip(models.items(), scalers, strict=True)
    }


def test_the_estimators_an_analyst_plausibly_uses_pass_the_check(fitted) -> None:
    _, X = fitted
    y = (X[:, 0] > 0.5).astype(int)
    for name, model in _analyst_pipelines(X, y).items():
        payload = _skops(model=model, features=FEATURES)
        assert artifact_sandbox.sandbox_check(data=payload, values=X[:100], columns=FEATURES) == FEATURES, name
