"""The check every model file passes before it is stored, activated or scored with.

Three steps, cheapest first: the allowlist of types (read from the file, nothing
built), the sandboxed run on a sample of the sector's current employers (a child
process with limits), and the feature registry (no feature outside it, none on the
denylist). Only then is the file loaded in this process.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from scoring.features.computation import SECTOR_SAMPLE_TARGETS, features_frame
from scoring.features.registry import FEATURE_NAMES, features_check

from .artifact_allowlist import artifact_types
from .artifact_sandbox import Sandbox, SandboxRefused, sandbox_check
from .artifacts import Artifact, artifact_load

CHECK_SAMPLE = 500  # current employers the file's model must score and take apart into contributions
# A sector without employers yet still gets a shape check, on plain rows of zeros.
_EMPTY_SECTOR_ROWS = 5


def artifact_check(*, data: bytes, sample: np.ndarray, sandbox: Sandbox | None = None) -> Artifact:
    """The file's artifact, once it has passed every check; ArtifactRefused or FeatureRefused otherwise.

    `sample` holds feature rows of current employers, one column per FEATURE_NAMES. A
    `sandbox` started earlier saves the child's start-up; the caller closes it."""
    artifact_types(data)  # refuses at once what the child would refuse, before it reads the file
    try:
        if sandbox is None:
            features = sandbox_check(data=data, values=sample, columns=list(FEATURE_NAMES))
        else:
            features = sandbox.check(data=data, values=sample, columns=list(FEATURE_NAMES))
    except SandboxRefused as exc:
        if exc.features is not None:
            features_check([str(name) for name in exc.features])  # names the unknown or forbidden ones
        raise
    features_check(features)
    return artifact_load(data)


def sector_sample(*, sector: str, as_of: date) -> np.ndarray:
    """Feature rows of a fixed sample of the sector's employers active on `as_of`, columns FEATURE_NAMES."""
    frame = features_frame(
        targets=SECTOR_SAMPLE_TARGETS, params={"sector": sector, "as_of": as_of, "sample": CHECK_SAMPLE}
    )
    if frame.empty:
        return np.zeros((_EMPTY_SECTOR_ROWS, len(FEATURE_NAMES)))
    return check_sample_of(frame)


def check_sample_of(frame: pd.DataFrame) -> np.ndarray:
    """The first CHECK_SAMPLE rows of feature rows (columns as features_read), as the check's
    sample; a column missing from them is left empty (the run then says which)."""
    return frame.head(CHECK_SAMPLE).reindex(columns=list(FEATURE_NAMES)).to_numpy(dtype=np.float64)
