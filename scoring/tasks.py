"""Celery tasks of the scoring engine: thin, named, take ids and ISO dates, safe to run twice.

The nightly chain: scoring.nightly sends a chord with one scoring.pair_retrain per
(sector, offence) - retrain, validate, activate or keep as a flagged candidate - whose
callback scoring.rescore_all queues one run per active model and sends them as a group of
scoring.run_execute, so the runs spread over all workers.

Every task takes an optional `queue`: the tasks it sends go to that queue (tests run
the whole chain on a worker of their own); None leaves routing to the settings.

Every task has a hard time limit: a task stuck on a lock or a runaway fit is killed and
marked failed rather than holding a worker for ever. The limits are several times the
longest measured at a million employers (docs/benchmarks.md); a run killed mid-way stays
unpublished and is marked failed by the next rescore (scoring_runs_abandoned_fail).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from celery import chord, group, shared_task
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger("scoring.tasks")


def _as_of(as_of_iso: str | None) -> date:
    return date.fromisoformat(as_of_iso) if as_of_iso else timezone.localdate()


def _options(queue: str | None) -> dict[str, str]:
    return {"queue": queue} if queue else {}


MINUTES = 60


@shared_task(name="scoring.pair_retrain", acks_late=True, time_limit=60 * MINUTES)
def pair_retrain(
    sector: str, offence: str, as_of_iso: str | None = None, origin: str | None = None, user_id: int | None = None
) -> dict[str, Any]:
    """Retrain one pair. Never raises: a failed header task would cancel the chord's rescore,
    and the models that are active now must still score tonight."""
    from scoring.services.nightly import NIGHTLY_ORIGIN, model_retrain_pair

    result: dict[str, Any] = {"sector": sector, "offence": offence, "version_id": None, "status": None}
    try:
        # Whoever asked for the retrain is its maker: they may not also approve it.
        user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
        outcome = model_retrain_pair(
            sector=sector, offence=offence, as_of=_as_of(as_of_iso), origin=origin or NIGHTLY_ORIGIN, user=user
        )
    except Exception as exc:
        logger.exception("retraining %s / %s failed", sector, offence)
        return {**result, "error": f"{type(exc).__name__}: {exc}"}
    if outcome.version is None:
        return {**result, "refused": outcome.refused}
    return {**result, "version_id": outcome.version.pk, "status": outcome.version.status}


@shared_task(name="scoring.upload_check", acks_late=True, time_limit=30 * MINUTES)
def upload_check(upload_id: int) -> str:
    """Check a model file sent from the model pages (scoring.services.uploads)."""
    from scoring.services.uploads import model_upload_check

    return model_upload_check(upload_id=upload_id).status


@shared_task(name="scoring.versions_compare", acks_late=True, time_limit=30 * MINUTES)
def versions_compare(comparison_id: int) -> str:
    """Two versions on the same data, for the model pages (scoring.services.comparisons)."""
    from scoring.services.comparisons import comparison_execute

    return comparison_execute(comparison_id=comparison_id).status


@shared_task(name="scoring.run_execute", acks_late=True, time_limit=60 * MINUTES)
def run_execute(run_id: int) -> dict[str, Any]:
    """Execute one queued run. Delivered again after its worker died (acks_late), the service
    takes the run over once the dead worker's advisory lock is gone; a run already finished,
    or held by a live worker, is left alone."""
    from scoring.services.runs import scoring_run_execute

    run = scoring_run_execute(run_id=run_id)
    # The message says why a run failed or was refused (stale data), in the task's result too.
    return {"run_id": run.pk, "status": run.status, "employers_scored": run.employers_scored, "message": run.message}


@shared_task(name="scoring.rescore_all", acks_late=True, time_limit=10 * MINUTES)
def rescore_all(as_of_iso: str | None = None, queue: str | None = None) -> list[int]:
    """Fail abandoned runs, queue one run per active model, execute them as a group."""
    from scoring.services.nightly import scoring_runs_create_all

    options = _options(queue)
    with transaction.atomic():
        run_ids = [run.pk for run in scoring_runs_create_all(as_of=_as_of(as_of_iso))]
        if run_ids:
            # After the commit: a worker must find the queued runs when the messages arrive.
            # The runs spread over the workers (a group); once all are done, scores_tidy.
            runs = group(run_execute.si(pk).set(**options) for pk in run_ids)
            transaction.on_commit(lambda: chord(runs)(rescore_tidy.si().set(**options)))
    logger.info("rescore: %s run(s) queued", len(run_ids))
    return run_ids


@shared_task(name="scoring.rescore_tidy", acks_late=True, time_limit=30 * MINUTES)
def rescore_tidy() -> int:
    """After the runs of a rescore: drop older runs' scores, refresh the statistics, and
    delete the data import files no record needs any more (the night is quiet)."""
    from inspections.services.data_imports import data_imports_tidy
    from scoring.services.runs import scores_tidy

    data_imports_tidy()
    return scores_tidy()


@shared_task(name="scoring.nightly", acks_late=True, time_limit=10 * MINUTES)
def nightly(as_of_iso: str | None = None, queue: str | None = None) -> str | None:
    """A chord: retrain every (sector, offence), then rescore_all. Returns the chord's id.
    What the beat schedule "Nightly retrain and rescore" sends (see migration scoring 0002)."""
    from scoring.services.nightly import pairs_select

    # One date for the whole chain, even when it runs past midnight.
    as_of_iso = _as_of(as_of_iso).isoformat()
    options = _options(queue)
    header = [pair_retrain.si(sector, offence, as_of_iso).set(**options) for sector, offence in pairs_select()]
    callback = rescore_all.si(as_of_iso=as_of_iso, queue=queue).set(**options)
    if not header:
        return callback.apply_async().id
    return chord(header)(callback).id
