"""A worker killed in the middle of a run: the published scores stay, nothing half-written shows.

A first run is published; a second run of the same (sector, offence) goes to a real
worker process through Redis; once it reports progress the whole worker is killed with
SIGKILL. The advisory lock dies with the worker's database connection, which is how
scoring_runs_abandoned_fail tells the dead run from a slow one.
"""

from __future__ import annotations

import time

import pytest

from inspections.services.generation import demo_data_generate
from scoring.models import ModelStatus, RunStatus, Score, ScoringRun
from scoring.services.runs import scoring_run_create, scoring_run_execute, scoring_runs_abandoned_fail
from scoring.services.training import model_retrain
from scoring.services.versions import model_version_activate
from scoring.tasks import run_execute
from tests.processes import celery_worker_process
from tests.scoring.conftest import AS_OF, GENERATED_SEED, INSPECTION_RATE, OFFENCE, SECTOR

# Small and quick: the worker is slowed down (tests/scoring/slow_worker.py), not the data made big.
EMPLOYERS = 3000


def _wait_until_midway(run: ScoringRun, timeout: float = 60) -> ScoringRun:
    """Poll until the worker has scored some chunks but not all of them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status == RunStatus.RUNNING and 0 < run.progress < 0.9:
            return run
        assert run.status in (RunStatus.QUEUED, RunStatus.RUNNING), f"run {run.pk} {run.status}: {run.message}"
        time.sleep(0.02)
    raise AssertionError(f"run {run.pk} still {run.status} at {run.progress:.0%} after {timeout}s")


def _abandoned_fail_within(timeout: float = 20) -> int:
    """PostgreSQL ends the dead worker's session (and its lock) once it sees the socket closed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        failed = scoring_runs_abandoned_fail()
        if failed:
            return failed
        time.sleep(0.2)
    return 0


@pytest.mark.integration
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_worker_killed_mid_run_leaves_published_scores_alone() -> None:
    demo_data_generate(employers=EMPLOYERS, seed=GENERATED_SEED, inspection_rate=INSPECTION_RATE, replace=True)
    version = model_retrain(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)
    if version.status != ModelStatus.ACTIVE:
        # This test is about runs, not the quality gates: use the version whatever they said.
        model_version_activate(version=version)
    first = scoring_run_execute(run_id=scoring_run_create(sector=SECTOR, offence=OFFENCE, as_of=AS_OF).pk)
    assert first.status == RunStatus.SUCCEEDED, first.message
    first_scores = set(Score.objects.filter(run=first).values_list("employer_id", "score", "rank", "band"))
    assert len(first_scores) == first.employers_scored > 0

    with celery_worker_process(app="tests.scoring.slow_worker") as worker:
        second = scoring_run_create(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)
        run_execute.apply_async(args=[second.pk], queue=worker.queue)
        _wait_until_midway(second)
        worker.kill()
        killed_at = second.progress

    second.refresh_from_db()
    assert second.status == RunStatus.RUNNING, "nothing is left to finish or fail the run"
    assert 0 < killed_at < 0.9
    published = ScoringRun.objects.published().get(sector=SECTOR, offence_type=OFFENCE)
    assert published.pk == first.pk
    assert set(Score.objects.filter(run=first).values_list("employer_id", "score", "rank", "band")) == first_scores
    assert not Score.objects.filter(run=second).exists()

    assert _abandoned_fail_within() == 1
    second.refresh_from_db()
    assert second.status == RunStatus.FAILED
    assert second.message == "The worker stopped during the run; the previous scores stay published."
    assert second.finished_at is not None
    assert ScoringRun.objects.published().get(sector=SECTOR, offence_type=OFFENCE).pk == first.pk
    assert scoring_runs_abandoned_fail() == 0
