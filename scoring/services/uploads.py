"""Models made elsewhere (an analyst's notebook) come in as skops files, as candidates.

An uploaded model is checked like a trained one (scoring.services.artifact_checks): skops
only, allowed types only, run first in a sandboxed child process on current employers,
features from the registry and never from the denylist. It is then validated on the same
inspections as a retrained model would be, and waits for an analyst to activate it.
"""

from __future__ import annotations

from datetime import date

import sklearn
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from inspections.models import OffenceType, Sector
from scoring.models import DEFAULT_BAND_CUTOFFS, ModelEventAction, ModelStatus, ModelVersion

from .artifact_checks import artifact_check, sector_sample
from .artifacts import ArtifactRefused, artifact_sha256
from .training import MIN_VALIDATION, TrainingRefused, training_set_build, validation_metrics
from .versions import model_event_record

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def model_version_upload(
    *, sector: str, offence: str, data: bytes, user: AbstractBaseUser | None, as_of: date | None = None
) -> ModelVersion:
    """Check an uploaded artifact, validate it on the latest year of inspections, store it as a candidate."""
    if not data:
        raise ArtifactRefused("The file is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ArtifactRefused(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    as_of = as_of or timezone.localdate()
    artifact = artifact_check(data=data, sample=sector_sample(sector=sector, as_of=as_of))
    training = training_set_build(sector=sector, offence=offence, as_of=as_of)
    valid = training.validation
    if len(valid) < MIN_VALIDATION[0]:
        raise TrainingRefused(f"Only {len(valid)} inspections in the validation year: the model cannot be checked.")
    try:
        metrics = validation_metrics(artifact=artifact, data=training, cutoffs=DEFAULT_BAND_CUTOFFS)
    except ValueError as exc:  # wrong number of columns, a model that cannot predict these rows
        raise ArtifactRefused(f"The model could not score the validation inspections: {exc}") from exc
    version = ModelVersion.objects.create(
        sector=Sector.objects.get(pk=sector),
        offence_type=OffenceType.objects.get(pk=offence),
        status=ModelStatus.CANDIDATE,
        artifact=data,
        artifact_sha256=artifact_sha256(data),
        features=artifact.features,
        # Trained outside: its training window and data are not known here.
        training_from=training.cutoff,
        training_to=training.cutoff,
        validation_to=as_of,
        training_rows=0,
        validation_rows=len(valid),
        training_data_sha256="",
        sklearn_version=sklearn.__version__,
        metrics=metrics,
        band_cutoffs=dict(DEFAULT_BAND_CUTOFFS),
        origin=f"uploaded by {user}" if user else "uploaded",
        created_by=user,
        review_note="Uploaded: trained outside MiningWatch; its training window is not known. "
        "Metrics are on this inspectorate's latest validation year.",
    )
    model_event_record(version=version, action=ModelEventAction.CREATED, user=user, note=version.origin)
    return version
