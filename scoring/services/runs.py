"""Scoring runs: score every active employer of a sector with the active model of one offence.

A run is claimed by one worker (conditional UPDATE queued -> running), which holds a
PostgreSQL advisory lock on it for as long as it works: if the worker dies, the lock
goes with its connection, and scoring_runs_abandoned_fail (or the task delivered
again) can tell a dead run from a slow one. Before it scores, it checks that the
sector's employers have declared the latest quarters its features read
(services.freshness): on stale data it is refused, with the reason, and writes nothing
else. The scores are computed outside any transaction, then written with COPY and
published in one transaction that also marks the run succeeded: lists see all of the
new scores or none of them.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import F
from django.utils import timezone
from threadpoolctl import threadpool_limits

from miningwatch import stamps
from miningwatch.bulk import CopyStream, constant, copy_in, copy_sql, copy_text
from scoring.features.computation import SECTOR_TARGETS, features_read
from scoring.models import Band, ModelVersion, RunLookup, RunStatus, Score, ScoreCount, ScoringRun

from .artifact_checks import artifact_check, check_sample_of
from .artifact_sandbox import Sandbox
from .artifacts import Artifact, ArtifactRefused
from .freshness import Freshness, declarations_freshness, freshness_refusal
from .lookups import lookup_pack
from .ranking import Listing, ScoredSector, row_tails, rows_render, scores_rank

logger = logging.getLogger("scoring.runs")

Progress = Callable[[float], None]
_SCORE_COLUMNS = (  # in the order of ranking.rows_render
    "run_id",
    "rank",
    "percentile",
    "band",
    "employer_id",  # from here on: ranking.row_tails
    "score",
    "reason_1",
    "reason_1_value",
    "reason_2",
    "reason_2_value",
    "reason_3",
    "reason_3_value",
    "subregion_id",  # the list columns: ranking._listing_columns
    "size_class",
    "legal_form",
    "visit_recency",
)
_COUNT_COLUMNS = ("run_id", "subregion_id", "size_class", "legal_form", "visit_recency", "band", "employers")


class RunFailed(Exception):
    """A run that cannot finish, with the reason an analyst reads on the run."""


class RunRefused(Exception):
    """A run that must not publish: its data are too stale to carry scores (the reason in words)."""

    def __init__(self, message: str, freshness: Freshness) -> None:
        super().__init__(message)
        self.freshness = freshness


def scoring_run_create(*, sector: str, offence: str, as_of: date | None = None) -> ScoringRun:
    """A queued run with the active model of (sector, offence); RunFailed when there is none."""
    version = ModelVersion.objects.active().filter(sector=sector, offence_type=offence).first()
    if version is None:
        raise RunFailed(f"No active model for {sector} / {offence}: train or activate one first.")
    return ScoringRun.objects.create(
        sector_id=sector, offence_type_id=offence, model_version=version, as_of=as_of or timezone.localdate()
    )


def scoring_run_execute(*, run_id: int, progress: Progress | None = None) -> ScoringRun:
    """Claim the run, score, publish. Safe to call twice: a run already done or taken is left alone."""
    run = ScoringRun.objects.get(pk=run_id)
    if not _claim(run):
        logger.info("run %s not claimed (status %s)", run_id, run.status)
        run.refresh_from_db()
        return run
    try:
        freshness = _freshness_check(run)
        scored = _score(run, progress or (lambda share: None), expected=freshness.active)
        _publish(run, scored, freshness)
    except RunRefused as exc:
        _refuse(run, exc)
    except (RunFailed, ArtifactRefused, ValueError) as exc:
        _fail(run, str(exc))
    except Exception as exc:
        _fail(run, f"Unexpected error: {type(exc).__name__}: {exc}")
        raise
    finally:
        _unlock(run)
    run.refresh_from_db()
    return run


def _claim(run: ScoringRun) -> bool:
    """Queued -> running by this worker, or take over a running run whose worker died."""
    if not _lock(run):
        return False  # a live worker holds it
    worker = f"{socket.gethostname()}:{os.getpid()}"
    now = timezone.now()
    taken = ScoringRun.objects.filter(pk=run.pk, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).update(
        status=RunStatus.RUNNING, worker=worker, started_at=now, progress=0, message=""
    )
    if not taken:
        _unlock(run)
    return bool(taken)


def _lock(run: ScoringRun) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [run.advisory_key])
        return bool(cursor.fetchone()[0])


def _unlock(run: ScoringRun) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s)", [run.advisory_key])


def _progress(run: ScoringRun, share: float, progress: Progress) -> None:
    ScoringRun.objects.filter(pk=run.pk).update(progress=share)
    progress(share)


def _freshness_check(run: ScoringRun) -> Freshness:
    """The declarations the run's features would read, checked before anything is computed.

    Also counts the employers the run will score (its progress is reported against them)."""
    freshness = declarations_freshness(sector=run.sector_id, as_of=run.as_of)
    if not freshness.active:
        raise RunFailed(f"No active employer in {run.sector_id} on {run.as_of}: nothing to score.")
    refusal = freshness_refusal(freshness=freshness, minimum=settings.SCORING_MIN_DECLARED_SHARE)
    if refusal is not None:
        raise RunRefused(refusal, freshness)
    return freshness


def _score(run: ScoringRun, progress: Progress, *, expected: int) -> ScoredSector:
    parts: list[ScoredSector] = []
    done = 0
    artifact: Artifact | None = None
    params = {"sector": run.sector_id, "as_of": run.as_of}
    # One thread for the model: PostgreSQL keeps a core busy computing the next chunks, and
    # two OpenMP threads on the other one would spin against it.
    # The model file is checked on the run's own first employers before it is loaded here,
    # by a sandbox that starts while PostgreSQL computes them.
    with threadpool_limits(limits=1), Sandbox() as sandbox:
        for chunk in features_read(targets=SECTOR_TARGETS, params=params):
            if chunk.empty:  # no rows at all: pandas still yields the CSV header as one empty chunk
                continue
            if artifact is None:
                data = bytes(run.model_version.artifact)
                artifact = artifact_check(data=data, sample=check_sample_of(chunk), sandbox=sandbox)
            parts.append(chunk_score(artifact, chunk, run.as_of))
            done += len(chunk)
            _progress(run, min(0.9, 0.9 * done / max(expected, 1)), progress)
    if not parts:
        raise RunFailed(f"No active employer in {run.sector_id} on {run.as_of}: nothing to score.")
    return ScoredSector.concat(parts)


def chunk_score(artifact: Artifact, chunk: pd.DataFrame, as_of: date | None = None) -> ScoredSector:
    """Scores of one chunk of feature rows (columns as features_read), and the contributions of its
    highest scores, from which the red and orange bands' reasons are picked once the sector is ranked."""
    missing = [name for name in artifact.features if name not in chunk.columns]
    if missing:
        raise RunFailed(f"The model needs features that cannot be computed: {', '.join(missing)}.")
    values = chunk[artifact.features].to_numpy(dtype=np.float64)
    scores = artifact.model.predict_proba(values)[:, 1]
    bad = ~np.isfinite(scores) | (scores < 0) | (scores > 1)
    if bad.any():
        raise RunFailed(f"The model gave {int(bad.sum())} scores that are not probabilities (NaN or out of range).")
    listing = Listing.of(chunk, as_of) if as_of is not None else None
    scored = ScoredSector.explain(
        employer_ids=chunk["employer_id"].to_numpy(), scores=scores, values=values, artifact=artifact, listing=listing
    )
    # Rendered now, while PostgreSQL computes the next chunk's features, not after the last.
    return replace(scored, tails=row_tails(scored, artifact.features))


def _publish(run: ScoringRun, scored: ScoredSector, freshness: Freshness) -> None:
    version: ModelVersion = run.model_version
    rank, percentile, band = scores_rank(scored.scores, scored.employer_ids, version.cutoffs)
    with transaction.atomic(), connection.cursor() as cursor:
        partition = _partition_create(cursor, run)
        with CopyStream(cursor, copy_sql(partition, _SCORE_COLUMNS)) as stream:
            for payload, rows in rows_render(run.pk, scored, rank, percentile, band, version.features):
                stream.send(payload, rows)
        _partition_attach(cursor, run, partition)
        if scored.listing is not None:
            _counts_write(cursor, run, scored.listing.counts(band))
            _lookup_write(run, scored.employer_ids, band, scored.listing)
        _statistics_gather(cursor, partition)
        published = ScoringRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
            status=RunStatus.SUCCEEDED,
            finished_at=timezone.now(),
            employers_scored=len(rank),
            progress=1,
            message=_band_summary(band),
            data_quarter=freshness.latest_declared,
            declared_shares=freshness.as_json(),
        )
        if not published:
            raise RunFailed("The run was no longer running when its scores were ready; nothing published.")
        stamps.stamp_bump(stamps.SCORES)  # lists rendered from the previous run are stale
    logger.info("run %s published: %s employers", run.pk, len(rank))


def _partition(run_id: int) -> str:
    return f"{Score._meta.db_table}_run_{int(run_id)}"


def _partition_create(cursor: CursorWrapper, run: ScoringRun) -> str:
    """The run's own table, bare (no index yet), with the checks of scoring_score (migration 0005).

    Created in the publishing transaction: a run that fails or whose worker dies leaves
    nothing behind."""
    partition = _partition(run.pk)
    cursor.execute(f"CREATE TABLE {partition} (LIKE {Score._meta.db_table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    # What ATTACH would otherwise check by reading every row.
    cursor.execute(f"ALTER TABLE {partition} ADD CONSTRAINT {partition}_run CHECK (run_id = {int(run.pk)})")
    return partition


def _partition_attach(cursor: CursorWrapper, run: ScoringRun, partition: str) -> None:
    """Attach the filled table: PostgreSQL builds its indexes (the keys and the list index)
    in one pass each, and checks the default partition holds no row of this run (it is
    empty in production: every run has its partition)."""
    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
    cursor.execute(f"ALTER TABLE {Score._meta.db_table} ATTACH PARTITION {partition} FOR VALUES IN ({int(run.pk)})")


def _statistics_gather(cursor: CursorWrapper, partition: str) -> None:
    """The planner's statistics of the run's scores and counts, committed with the run.

    Whoever publishes a run (the nightly chain, a command, an activation, a retry), its
    lists are read with statistics from their first page: a partition nobody analysed
    looks empty to the planner until autovacuum gets to it, and its lists were planned
    several times slower until then."""
    cursor.execute(f"ANALYZE {partition}, {ScoreCount._meta.db_table}")


def runs_unanalysed(*, run_ids: list[int]) -> list[int]:
    """The runs among `run_ids` whose scores the planner has no statistics of
    (reltuples is -1 for a table never analysed)."""
    names = {_partition(run_id): run_id for run_id in run_ids}
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relname = ANY(%s) AND reltuples >= 0", [list(names)])
        analysed = {row[0] for row in cursor.fetchall()}
    return sorted(run_id for name, run_id in names.items() if name not in analysed)


def _counts_write(cursor: object, run: ScoringRun, counts: pd.DataFrame) -> None:
    """The run's ScoreCount rows (a few thousand), in the publishing transaction."""
    columns = [
        constant(str(run.pk), len(counts)),
        counts["subregion_id"].astype(str).to_numpy(dtype=object),
        np.where(counts["size_class"] > 0, counts["size_class"].astype(str), "\\N"),
        counts["legal_form"].to_numpy(dtype=object),
        counts["visit_recency"].astype(str).to_numpy(dtype=object),
        counts["band"].astype(str).to_numpy(dtype=object),
        counts["employers"].astype(str).to_numpy(dtype=object),
    ]
    copy_in(cursor, ScoreCount._meta.db_table, _COUNT_COLUMNS, copy_text(columns))


def _lookup_write(run: ScoringRun, employer_ids: np.ndarray, band: np.ndarray, listing: Listing) -> None:
    """The run's RunLookup row, in the publishing transaction."""
    first, packed = lookup_pack(
        employer_ids=employer_ids,
        band=band,
        size_class=listing.size_class,
        visit_recency=listing.visit_recency,
        legal_form=listing.legal_form,
    )
    RunLookup.objects.create(run=run, first_employer=first, packed=packed)


def _band_summary(band: np.ndarray) -> str:
    counts = np.bincount(band, minlength=5)
    return ", ".join(f"{Band(number).label} {counts[number]}" for number in Band.values)


def _fail(run: ScoringRun, message: str) -> None:
    logger.warning("run %s failed: %s", run.pk, message)
    ScoringRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
        status=RunStatus.FAILED, finished_at=timezone.now(), message=message[:2000]
    )


def _refuse(run: ScoringRun, refused: RunRefused) -> None:
    """Running -> refused, with the reason and what the check found; no score was written."""
    logger.warning("run %s refused: %s", run.pk, refused)
    ScoringRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
        status=RunStatus.REFUSED,
        finished_at=timezone.now(),
        message=str(refused)[:2000],
        declared_shares=refused.freshness.as_json(),
    )


def scoring_runs_abandoned_fail() -> int:
    """Mark failed the runs still 'running' whose worker is gone (its advisory lock is free)."""
    failed = 0
    for run in ScoringRun.objects.filter(status=RunStatus.RUNNING):
        if not _lock(run):
            continue  # alive
        try:
            failed += ScoringRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
                status=RunStatus.FAILED,
                finished_at=timezone.now(),
                message="The worker stopped during the run; the previous scores stay published.",
            )
        finally:
            _unlock(run)
    return failed


def scores_prune(*, keep: int = 2) -> int:
    """Delete the scores of all but the `keep` latest succeeded runs of each (sector, offence)."""
    runs = ScoringRun.objects.filter(status__in=[RunStatus.SUCCEEDED, RunStatus.FAILED]).order_by(
        "sector", "offence_type", F("finished_at").desc(nulls_last=True), "-id"
    )
    seen: dict[tuple[str, str], int] = {}
    stale: list[int] = []
    for run in runs.only("pk", "sector_id", "offence_type_id", "status"):
        key = (run.sector_id, run.offence_type_id)
        if run.status == RunStatus.SUCCEEDED:
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > keep:
                stale.append(run.pk)
        else:
            stale.append(run.pk)
    ScoreCount.objects.filter(run_id__in=stale).delete()
    RunLookup.objects.filter(run_id__in=stale).delete()
    return _scores_drop(stale)


def _scores_drop(run_ids: list[int]) -> int:
    """Drop the runs' partitions, and delete their rows in the default partition; the count."""
    if not run_ids:
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {Score._meta.db_table} WHERE run_id = ANY(%s)", [run_ids])
        deleted = cursor.fetchone()[0]
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass AND c.relname = ANY(%s)",
            [Score._meta.db_table, [_partition(run_id) for run_id in run_ids]],
        )
        for (partition,) in cursor.fetchall():
            cursor.execute(f"DROP TABLE {partition}")
        Score.objects.filter(run_id__in=run_ids).delete()  # runs without a partition (tests)
    return deleted


def scores_tidy(*, keep: int = 2) -> int:
    """After a rescore: drop the scores of older runs, then refresh the statistics of the
    parent tables, which the pruning changed (each run analysed its own partition and
    counts when it was published)."""
    deleted = scores_prune(keep=keep)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Score._meta.db_table}, {ScoreCount._meta.db_table}")
    return deleted
