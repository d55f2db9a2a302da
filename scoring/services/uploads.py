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
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from inspections.models import OffenceType, Sector
from miningwatch.queueing import task_send_on_commit
from scoring.features.registry import FeatureRefused
from scoring.models import (
    DEFAULT_BAND_CUTOFFS,
    ModelEventAction,
    ModelStatus,
    ModelUpload,
    ModelVersion,
    UploadStatus,
)

from .artifact_checks import artifact_check, sector_sample
from .artifacts import ArtifactRefused, artifact_sha256
from .training import MIN_VALIDATION, TrainingRefused, active_comparison, training_set_build, validation_metrics
from .versions import model_event_record

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def model_version_upload(
    *,
    sector: str,
    offence: str,
    data: bytes,
    user: AbstractBaseUser | None,
    as_of: date | None = None,
    band_cutoffs: dict[str, float] | None = None,
    description: str = "",
    training_window: tuple[date, date] | None = None,
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
    # Judged against the active version as a retrained one is: approving an upload that is
    # credibly worse then needs a justification (evaluation.gates_failed).
    active = ModelVersion.objects.active().filter(sector_id=sector, offence_type_id=offence).first()
    if active is not None:
        metrics["versus_active"] = active_comparison(active=active, validated=artifact, data=training)
    version = ModelVersion.objects.create(
        sector=Sector.objects.get(pk=sector),
        offence_type=OffenceType.objects.get(pk=offence),
        status=ModelStatus.CANDIDATE,
        artifact=data,
        artifact_sha256=artifact_sha256(data),
        features=artifact.features,
        # Trained outside: its training window and data are not known here.
        # Trained elsewhere: its window as the uploader gives it, or unknown (the cut-off).
        training_from=training_window[0] if training_window else training.cutoff,
        training_to=training_window[1] if training_window else training.cutoff,
        validation_to=as_of,
        training_rows=0,
        validation_rows=len(valid),
        training_data_sha256="",
        sklearn_version=sklearn.__version__,
        metrics=metrics,
        band_cutoffs=dict(band_cutoffs or DEFAULT_BAND_CUTOFFS),
        origin=f"uploaded by {user}" if user else "uploaded",
        created_by=user,
        review_note=" ".join(
            part
            for part in (
                description.strip(),
                "Uploaded: trained outside MiningWatch; its training window is not known. "
                "Metrics are on this inspectorate's latest validation year.",
            )
            if part
        ),
    )
    model_event_record(version=version, action=ModelEventAction.CREATED, user=user, note=version.origin)
    return version


def model_upload_create(
    *,
    sector: str,
    offence: str,
    data: bytes,
    file_name: str,
    user: AbstractBaseUser,
    description: str = "",
    band_cutoffs: dict[str, float] | None = None,
    training_window: tuple[date, date] | None = None,
    queue: str | None = None,
) -> ModelUpload:
    """Keep a file sent from the model pages and queue its check (model_upload_check)."""
    if not user.has_perm("scoring.add_modelversion"):
        raise PermissionDenied
    if not data:
        raise ArtifactRefused("The file is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ArtifactRefused(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    upload = ModelUpload.objects.create(
        sector_id=sector,
        offence_type_id=offence,
        file=data,
        file_name=file_name[:255],
        file_size=len(data),
        file_sha256=artifact_sha256(data),
        description=description,
        band_cutoffs=dict(band_cutoffs or DEFAULT_BAND_CUTOFFS),
        training_from=training_window[0] if training_window else None,
        training_to=training_window[1] if training_window else None,
        uploaded_by=user,
    )
    from scoring.tasks import upload_check

    unsent = {"status": UploadStatus.REFUSED, "message": "The task queue could not be reached: send the file again."}
    task_send_on_commit(
        upload_check,
        args=[upload.pk],
        queue=queue,
        unsent=lambda: ModelUpload.objects.filter(pk=upload.pk).update(**unsent, file=b""),
    )
    return upload


def model_upload_check(*, upload_id: int) -> ModelUpload:
    """Check a queued upload and store it as a candidate, or say why not. Safe to run twice:
    the upload is claimed by a conditional update, and a finished one is left alone."""
    claimed = ModelUpload.objects.filter(pk=upload_id, status=UploadStatus.QUEUED).update(status=UploadStatus.CHECKING)
    upload = ModelUpload.objects.select_related("uploaded_by").get(pk=upload_id)
    if not claimed:
        return upload
    try:
        version = model_version_upload(
            sector=upload.sector_id,
            offence=upload.offence_type_id,
            data=bytes(upload.file),
            user=upload.uploaded_by,
            band_cutoffs=upload.band_cutoffs,
            description=upload.description,
            training_window=(upload.training_from, upload.training_to) if upload.training_from else None,
        )
    except (ArtifactRefused, FeatureRefused, TrainingRefused) as exc:
        _upload_finish(upload, UploadStatus.REFUSED, str(exc))
    except Exception as exc:
        _upload_finish(upload, UploadStatus.REFUSED, f"The check failed unexpectedly ({type(exc).__name__}).")
        raise
    else:
        _upload_finish(upload, UploadStatus.DONE, f"Stored as candidate version {version.pk}.", version)
    return upload


def _upload_finish(upload: ModelUpload, status: str, message: str, version: ModelVersion | None = None) -> None:
    upload.status, upload.message, upload.version, upload.file = status, message, version, b""
    upload.save(update_fields=["status", "message", "version", "file"])
