"""A model version's life after it is made: four eyes, activation, rollback, history.

A person's version (an upload) becomes live in three steps by at least two people: it is
made, a second person approves it (an analyst or the task force, never whoever made
it), then an analyst activates it, which queues a rescore of its pair. A version that
failed a quality gate is approved only with a written justification, kept in the
history. A version the nightly run made and that passed every gate activates at once:
the gates are its first pair of eyes (docs/scoring.md). Rolling back activates a
retired version again, the same way.

Every step writes a ModelEvent, which nobody can change or delete afterwards.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from celery.result import AsyncResult
from celery.states import READY_STATES
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from miningwatch.queueing import QUEUE_ERRORS, task_send_on_commit
from scoring.features.registry import FeatureRefused, features_check
from scoring.models import ModelEvent, ModelEventAction, ModelStatus, ModelVersion, RunStatus, ScoringRun
from scoring.services.artifact_checks import artifact_check, sector_sample
from scoring.services.evaluation import gates_failed

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger("scoring.versions")

JUSTIFICATION_MIN_CHARS = 20
NOTE_MAX_CHARS = 2000


class VersionRefused(Exception):
    """A step the version's status or the rules do not allow; the message says why."""


def model_event_record(
    *, version: ModelVersion, action: str, user: AbstractBaseUser | None, note: str = ""
) -> ModelEvent:
    return ModelEvent.objects.create(version=version, action=action, by=user, note=note)


def model_version_approve(*, version: ModelVersion, user: AbstractBaseUser, justification: str = "") -> ModelVersion:
    """The second pair of eyes on a candidate: approved, so that an analyst may activate it."""
    if not user.has_perm("scoring.approve_modelversion"):
        raise PermissionDenied
    justification = _note_clean(justification)
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if version.status != ModelStatus.CANDIDATE:
            raise VersionRefused(f"Version {version.pk} is {version.status}: only a candidate can be approved.")
        if not version.may_approve(user):
            raise VersionRefused("Whoever made a version cannot approve it: a second person must.")
        failed = gates_failed(version.metrics)
        if failed and len(justification) < JUSTIFICATION_MIN_CHARS:
            raise VersionRefused(
                f"This version failed a quality gate ({' '.join(failed)}) Approving it needs a written "
                f"justification of at least {JUSTIFICATION_MIN_CHARS} characters."
            )
        version.status = ModelStatus.APPROVED
        version.save(update_fields=["status"])
        model_event_record(version=version, action=ModelEventAction.APPROVED, user=user, note=justification)
    return version


def model_version_refuse(*, version: ModelVersion, user: AbstractBaseUser, reason: str) -> ModelVersion:
    """A candidate or an approved version that will not go live."""
    if not user.has_perm("scoring.approve_modelversion"):
        raise PermissionDenied
    reason = _note_clean(reason)
    if not reason:
        raise VersionRefused("Say why the version is refused.")
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if version.status not in (ModelStatus.CANDIDATE, ModelStatus.APPROVED):
            raise VersionRefused(
                f"Version {version.pk} is {version.get_status_display().lower()}: it cannot be refused."
            )
        version.status = ModelStatus.REJECTED
        version.save(update_fields=["status"])
        model_event_record(version=version, action=ModelEventAction.REFUSED, user=user, note=reason)
    return version


def model_version_activate(
    *, version: ModelVersion, user: AbstractBaseUser | None = None, note: str = ""
) -> ModelVersion:
    """Make this version the active one of its pair; the previous one retires.

    `user` None is the nightly run, which activates a version that passed every gate. A
    person activates only an approved version, or a retired one (a rollback), and the
    pair's rescore is queued once the activation is committed."""
    if user is not None and not user.has_perm("scoring.activate_modelversion"):
        raise PermissionDenied
    _artifact_recheck(version)
    with transaction.atomic():
        # Every version of the pair locked, in one order: two activations at once wait for
        # each other instead of both retiring the same active version.
        pair = ModelVersion.objects.filter(sector=version.sector_id, offence_type=version.offence_type_id)
        list(pair.select_for_update().order_by("pk").values_list("pk", flat=True))
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if user is not None and not version.may_activate:
            raise VersionRefused(
                f"Version {version.pk} is {version.status}: only an approved version, or a retired one to "
                "roll back to, can be activated."
            )
        rollback = version.status == ModelStatus.RETIRED
        if user is not None and not rollback:
            _two_people_check(version, user)
        _active_retire(version, user)
        version.status = ModelStatus.ACTIVE
        version.activated_at = timezone.now()
        version.save(update_fields=["status", "activated_at"])
        action = ModelEventAction.ROLLED_BACK if rollback else ModelEventAction.ACTIVATED
        model_event_record(version=version, action=action, user=user, note=_note_clean(note))
        if user is not None:
            run = ScoringRun.objects.create(
                sector_id=version.sector_id,
                offence_type_id=version.offence_type_id,
                model_version=version,
                as_of=timezone.localdate(),
            )
            transaction.on_commit(lambda: _run_queue(run.pk))
    logger.info("model %s activated", version)
    return version


def _two_people_check(version: ModelVersion, user: AbstractBaseUser) -> None:
    """At least two people between making, approving and activating a version: a version
    without a maker (the nightly run's) is activated by somebody other than its approver."""
    approval = version.events.filter(action=ModelEventAction.APPROVED).order_by("-at", "-pk").first()
    people = {version.created_by_id, approval.by_id if approval else None, user.pk} - {None}
    if len(people) < 2:
        raise VersionRefused("A second person must activate a version that you alone approved.")


def _artifact_recheck(version: ModelVersion) -> None:
    """The whole file check again: the allowlist or the registry may have changed since upload."""
    sample = sector_sample(sector=version.sector_id, as_of=timezone.localdate())
    artifact = artifact_check(data=bytes(version.artifact), sample=sample)
    if features_check(version.features) != artifact.features:
        raise FeatureRefused("The version's feature list is not the one its model file was trained on.")


def _active_retire(version: ModelVersion, user: AbstractBaseUser | None) -> None:
    previous = ModelVersion.objects.select_for_update().filter(
        sector=version.sector_id, offence_type=version.offence_type_id, status=ModelStatus.ACTIVE
    )
    for active in previous.exclude(pk=version.pk):
        active.status = ModelStatus.RETIRED
        active.save(update_fields=["status"])
        model_event_record(
            version=active, action=ModelEventAction.RETIRED, user=user, note=f"replaced by version {version.pk}"
        )


def _run_queue(run_id: int) -> None:
    from scoring.tasks import run_execute

    try:
        run_execute.delay(run_id)
    except QUEUE_ERRORS:
        # The version is active all the same; the next nightly rescore scores with it.
        logger.exception("the rescore of run %s could not be queued", run_id)
        ScoringRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
            status=RunStatus.FAILED, message="The task queue could not be reached; the next nightly rescore will run."
        )


def _note_clean(text: str) -> str:
    text = (text or "").strip()
    if len(text) > NOTE_MAX_CHARS:
        raise VersionRefused(f"A note holds at most {NOTE_MAX_CHARS} characters.")
    if any(ord(char) < 32 and char not in "\n\r\t" for char in text):
        raise VersionRefused("A note cannot hold control characters.")
    return text


# A retrain asked for from the model pages: the Celery task's id, kept in the shared cache
# for as long as a retrain may take (the task's time limit), so that the page follows it.
RETRAIN_SECONDS = 60 * 60


def retrain_key(sector: str, offence: str) -> str:
    return f"retrain:{sector}:{offence}"


def pair_retrain_request(*, sector: str, offence: str, user: AbstractBaseUser, queue: str | None = None) -> str:
    """Queue a retrain of one pair now (on `queue`, or as the settings route it); the id of
    its task. One at a time per pair."""
    if not user.has_perm("scoring.add_modelversion"):
        raise PermissionDenied
    from scoring.tasks import pair_retrain

    task_id = str(uuid.uuid4())
    entry = {"task": task_id, "by": str(user), "at": timezone.now().isoformat()}
    key = retrain_key(sector, offence)
    # add() is atomic: only one request at a time may look at and replace the pair's entry.
    if not cache.add(f"{key}:claim", 1, 30):
        raise VersionRefused("A retrain of this sector and offence type is already being queued.")
    try:
        pending = cache.get(key)
        if pending and AsyncResult(pending["task"]).state not in READY_STATES:
            raise VersionRefused("A retrain of this sector and offence type is already under way.")
        cache.set(key, entry, RETRAIN_SECONDS)
    finally:
        cache.delete(f"{key}:claim")
    task_send_on_commit(
        pair_retrain,
        args=[sector, offence],
        kwargs={"origin": f"retrained on demand by {user}", "user_id": user.pk},
        queue=queue,
        task_id=task_id,
        unsent=lambda: cache.delete(key),  # nothing to follow
    )
    return task_id
