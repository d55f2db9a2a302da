"""The model file's check, run in a short-lived child process with limits.

A model file comes from outside (an analyst's notebook, an upload). Even with every
type on the allowlist, building and running it executes compiled code on values the
file chose: a crafted tree can read out of bounds, a crafted array can ask for
gigabytes. So the file is first loaded and run here, in a child process that has no
database, no secrets in its environment, a working directory of its own, a cap on its
memory and CPU time, and no right to grow any file. If it crashes or runs out of its
limits, the file is refused and the caller's process is untouched.

The child loads the file (allowlisted types only), then asks the model for
probabilities on a sample of current employers (two finite values in 0-1 each), and
takes the model apart for each feature's contribution to those scores, which must be
finite and add up to the scores (services.contributions): the reasons of a run come
from them. It answers with one line of JSON on its standard output.

Run as `python -m scoring.services.artifact_sandbox` by `sandbox_check`; it imports no
Django settings.
"""

from __future__ import annotations

import io
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .artifact_allowlist import ArtifactRefused

if TYPE_CHECKING:  # the child imports scikit-learn only once its limits are set
    from .contributions import Explained

logger = logging.getLogger("scoring.artifacts")

MEMORY_BYTES = int(1.5 * 1024**3)  # our own models' check runs within 1 GiB
CPU_SECONDS = 60
WALL_SECONDS = 120
# Contributions add up to a score to rounding error (1e-15); anything further means they
# describe another model than the one that scores.
SUM_TOLERANCE = 1e-9
_ROOT = Path(__file__).resolve().parents[2]
# The child's whole environment: no database URL, no secret key, one thread for BLAS.
_PASSED_ON = ("PATH", "LANG", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def sandbox_check(*, data: bytes, values: np.ndarray, columns: list[str]) -> list[str]:
    """Check the file in a child process; the feature names it uses, or ArtifactRefused.

    `values` holds rows of current employers, one column per name in `columns`. A file
    whose features are not among `columns` comes back with its features and the error
    (the caller names the unknown or forbidden ones)."""
    with Sandbox() as sandbox:
        return sandbox.check(data=data, values=values, columns=columns)


class SandboxRefused(ArtifactRefused):
    """Refused by the child; `features`, when the file could be read, lists its features."""

    def __init__(self, message: str, features: object = None) -> None:
        super().__init__(message)
        self.features = features if isinstance(features, list) else None


class Sandbox:
    """A child process started ahead of its one check: it sets its limits and imports
    scikit-learn (most of a check's time) while the caller still gathers the sample,
    for instance while PostgreSQL computes a run's first employers."""

    def __init__(self) -> None:
        self._workdir = tempfile.TemporaryDirectory(prefix="miningwatch-check-")
        command = [sys.executable, "-B", "-s", "-m", "scoring.services.artifact_sandbox"]
        self._process = subprocess.Popen(
            [*command, str(MEMORY_BYTES), str(CPU_SECONDS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self._workdir.name,
            env=_child_environment(),
        )

    def check(self, *, data: bytes, values: np.ndarray, columns: list[str]) -> list[str]:
        """See sandbox_check; a sandbox checks one file only."""
        reply = self._reply(_request(data, values, columns))
        if not reply.get("ok"):
            if reply.get("detail"):
                logger.warning("model file refused: %s: %s", reply.get("error"), reply["detail"])
            raise SandboxRefused(str(reply.get("error") or "The model file was refused."), reply.get("features"))
        return list(reply["features"])

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.communicate()
        self._workdir.cleanup()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _reply(self, request: bytes) -> dict:
        try:
            stdout, stderr = self._process.communicate(request, timeout=WALL_SECONDS)
        except subprocess.TimeoutExpired as exc:
            raise ArtifactRefused(f"Checking the model file took longer than {WALL_SECONDS} s: refused.") from exc
        except BrokenPipeError:  # the child died before it read the file (its imports failed)
            stdout, stderr = self._process.communicate()
        if self._process.returncode != 0:
            logger.warning(
                "model file check ended with %s: %s",
                self._process.returncode,
                stderr[-2000:].decode("utf-8", "replace"),
            )
            raise ArtifactRefused(_death(self._process.returncode))
        try:
            reply = json.loads(stdout.decode().strip().splitlines()[-1])
        except (ValueError, IndexError, UnicodeDecodeError) as exc:
            raise ArtifactRefused("The model file's check gave no answer: refused.") from exc
        return reply if isinstance(reply, dict) else {"ok": False, "error": "The model file's check gave no answer."}


def _request(data: bytes, values: np.ndarray, columns: list[str]) -> bytes:
    header = json.dumps({"artifact_bytes": len(data), "columns": list(columns)}).encode() + b"\n"
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(values, dtype=np.float64), allow_pickle=False)
    return header + data + buffer.getvalue()


def _child_environment() -> dict[str, str]:
    environment = {name: os.environ[name] for name in _PASSED_ON if name in os.environ}
    environment.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", JOBLIB_MULTIPROCESSING="0", PYTHONPATH=str(_ROOT))
    return environment


def _death(returncode: int) -> str:
    if returncode == -signal.SIGXCPU or returncode == -signal.SIGKILL:
        return f"Checking the model file used more than {CPU_SECONDS} s of processor time: refused."
    if returncode < 0:
        return f"Checking the model file crashed (signal {signal.Signals(-returncode).name}): refused."
    return "Checking the model file needed more memory than allowed, or failed: refused."


# The child's side -----------------------------------------------------------------


def _limits_set(*, memory_bytes: int, cpu_seconds: int) -> None:
    """Before the file is read: bounded memory and CPU, no file may grow, no core dump."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write then fails with an error instead of a kill


def _probe(data: bytes, values: np.ndarray, columns: list[str]) -> dict:
    """Load the file and run it on the sample rows; {"ok", "features", "error"}."""
    from .artifacts import artifact_read  # imported by _child_main, under the limits

    try:
        artifact = artifact_read(data)
    except ArtifactRefused as exc:
        return {"ok": False, "error": str(exc)}
    features = artifact.features
    unknown = [name for name in features if name not in columns]
    if unknown or not features or len(set(features)) != len(features):
        return {"ok": False, "features": features, "error": "The model's features are not those MiningWatch has."}
    rows = values[:, [columns.index(name) for name in features]]
    try:
        probabilities = artifact.model.predict_proba(rows)
        _probabilities_check("model", probabilities, len(rows))
        _contributions_check(artifact.contributions.explain(rows), rows.shape, probabilities[:, 1])
    except ArtifactRefused as exc:
        return {"ok": False, "features": features, "error": str(exc)}
    except Exception as exc:  # anything the file's objects raise is a reason to refuse it
        # Only the kind of error goes back to the uploader: its text is the file's doing
        # and could carry whatever the file's objects read. The log keeps the text.
        message = f"The model file could not score current employers ({type(exc).__name__})."
        return {"ok": False, "features": features, "error": message, "detail": f"{exc}"[:2000]}
    return {"ok": True, "features": features}


def _probabilities_check(label: str, probabilities: object, rows: int) -> None:
    array = np.asarray(probabilities)
    if array.shape != (rows, 2):
        raise ArtifactRefused(
            f"The {label} must give two probabilities per employer (no, yes); it gave an array of shape {array.shape}."
        )
    if not array.dtype.kind == "f" or not np.isfinite(array).all() or (array < 0).any() or (array > 1).any():
        raise ArtifactRefused(f"The {label} gave values that are not probabilities (NaN or outside 0 to 1).")


def _contributions_check(explained: Explained, shape: tuple[int, int], scores: np.ndarray) -> None:
    """The contributions the reasons are made of: one finite value per employer and
    feature, adding up (with the baseline) to the model's own scores."""
    contributions = explained.contributions
    if contributions.shape != shape or not np.isfinite(contributions).all() or not np.isfinite(explained.baseline):
        raise ArtifactRefused("The model's contributions per feature are not finite values, one per feature.")
    if not np.allclose(explained.probabilities(), scores, rtol=0, atol=SUM_TOLERANCE):
        raise ArtifactRefused("The model's contributions per feature do not add up to its scores.")


def _child_main() -> None:
    _limits_set(memory_bytes=int(sys.argv[1]), cpu_seconds=int(sys.argv[2]))
    from django.conf import settings

    # No database and no secrets here: the feature registry, imported with the
    # artifacts, only needs to know that translation is off. Imported before the
    # request arrives, while the caller still gathers its sample.
    settings.configure(USE_I18N=False)
    from . import artifacts  # noqa: F401

    stdin = sys.stdin.buffer
    header = json.loads(stdin.readline())  # written by Sandbox.check, not by the file
    data = stdin.read(int(header["artifact_bytes"]))
    values = np.load(io.BytesIO(stdin.read()), allow_pickle=False)
    reply = _probe(data, values, [str(name) for name in header["columns"]])
    sys.stdout.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    _child_main()
