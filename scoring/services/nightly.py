"""Retrain every model and rescore every sector: what the nightly task and the commands run.

The tasks (scoring.tasks) spread this work over the workers; the management commands
and `make demo` call the same services one pair after the other. One pair that cannot
be trained (too few inspections) or one run that fails never stops the others: each
outcome is recorded and reported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from inspections.models import OffenceType, Sector
from miningwatch.queueing import task_send_on_commit
from scoring.models import ModelVersion, RunStatus, ScoringRun

from .runs import scores_tidy, scoring_run_create, scoring_run_execute, scoring_runs_abandoned_fail
from .training import FeatureRows, TrainingRefused, model_retrain

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger("scoring.nightly")

NIGHTLY_ORIGIN = "nightly retrain"


@dataclass(frozen=True)
class RetrainOutcome:
    """What retraining one (sector, offence) gave: a stored version, or why there is none."""

    sector: str
    offence: str
    version: ModelVersion | None = None
    refused: str = ""


RetrainProgress = Callable[[RetrainOutcome], None]
RunProgress = Callable[[ScoringRun, float], None]


def pairs_select(
    *, sectors: Iterable[str] | None = None, offences: Iterable[str] | None = None
) -> list[tuple[str, str]]:
    """Every (sector, offence) of the reference tables, optionally limited to some codes."""
    sector_codes = Sector.objects.order_by("code").values_list("code", flat=True)
    offence_codes = OffenceType.objects.order_by("code").values_list("code", flat=True)
    if sectors is not None:
        sector_codes = sector_codes.filter(code__in=list(sectors))
    if offences is not None:
        offence_codes = offence_codes.filter(code__in=list(offences))
    offence_list = list(offence_codes)
    return [(sector, offence) for sector in sector_codes for offence in offence_list]


def model_retrain_pair(
    *,
    sector: str,
    offence: str,
    as_of: date,
    origin: str = NIGHTLY_ORIGIN,
    rows: FeatureRows | None = None,
    user: AbstractBaseUser | None = None,
) -> RetrainOutcome:
    """Retrain one pair; too few inspections is an outcome to report, not an error."""
    try:
        version = model_retrain(sector=sector, offence=offence, as_of=as_of, origin=origin, rows=rows, user=user)
    except TrainingRefused as exc:
        logger.warning("no model for %s / %s: %s", sector, offence, exc)
        return RetrainOutcome(sector=sector, offence=offence, refused=str(exc))
    return RetrainOutcome(sector=sector, offence=offence, version=version)


def models_retrain_all(
    *,
    as_of: date | None = None,
    sectors: Iterable[str] | None = None,
    offences: Iterable[str] | None = None,
    progress: RetrainProgress | None = None,
    origin: str = NIGHTLY_ORIGIN,
) -> list[RetrainOutcome]:
    """Retrain every selected pair, one after the other; each activates or stays a flagged candidate.
    Each sector's feature rows are read once, shared by its offence types and pooling pairs."""
    as_of = as_of or timezone.localdate()
    outcomes = []
    rows = FeatureRows(as_of)
    for sector, offence in pairs_select(sectors=sectors, offences=offences):
        outcome = model_retrain_pair(sector=sector, offence=offence, as_of=as_of, origin=origin, rows=rows)
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
    return outcomes


def scoring_runs_create_all(
    *, as_of: date | None = None, sectors: Iterable[str] | None = None, offences: Iterable[str] | None = None
) -> list[ScoringRun]:
    """A queued run for every active model of the selected pairs.

    Runs left 'running' by a worker that died are failed first, so that the run list
    does not show them as running forever (a live worker's lock keeps its run alone).
    """
    abandoned = scoring_runs_abandoned_fail()
    if abandoned:
        logger.warning("%s abandoned run(s) marked failed", abandoned)
    as_of = as_of or timezone.localdate()
    versions = ModelVersion.objects.active().order_by("sector", "offence_type")
    if sectors is not None:
        versions = versions.filter(sector__in=list(sectors))
    if offences is not None:
        versions = versions.filter(offence_type__in=list(offences))
    with transaction.atomic():
        return [
            scoring_run_create(sector=version.sector_id, offence=version.offence_type_id, as_of=as_of)
            for version in versions
        ]


def scores_refresh_all(
    *,
    as_of: date | None = None,
    sectors: Iterable[str] | None = None,
    offences: Iterable[str] | None = None,
    progress: RunProgress | None = None,
) -> list[ScoringRun]:
    """Create and execute, here and now, a run for every active model of the selected pairs."""
    runs = scoring_runs_create_all(as_of=as_of, sectors=sectors, offences=offences)
    finished = [_run_execute(run, progress) for run in runs]
    scores_tidy()
    return finished


def _run_execute(run: ScoringRun, progress: RunProgress | None) -> ScoringRun:
    def report(share: float) -> None:
        if progress is not None:
            progress(run, share)

    try:
        run = scoring_run_execute(run_id=run.pk, progress=report)
    except Exception:
        # The service has marked the run failed with the error; the other runs still go.
        logger.exception("run %s failed unexpectedly", run.pk)
        run.refresh_from_db()
        return run
    if run.status == RunStatus.SUCCEEDED:
        report(1.0)  # the service reports up to 0.9 while scoring; publishing is the rest
    return run


def rescore_request(*, user: AbstractBaseUser, queue: str | None = None) -> None:
    """Queue a rescore of every active model now, as the nightly run would (scoring.rescore_all);
    raises one of QUEUE_ERRORS when the task queue cannot be reached."""
    if not user.has_perm("scoring.add_modelversion"):
        raise PermissionDenied
    from scoring.tasks import rescore_all

    task_send_on_commit(rescore_all, args=[], kwargs={"queue": queue}, queue=queue, unsent=lambda: None)
