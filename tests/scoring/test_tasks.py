"""The nightly chain through the real broker (Redis) and a real worker process.

scoring.nightly -> chord(scoring.pair_retrain per pair) -> scoring.rescore_all ->
group(scoring.run_execute per active model), every message on the test worker's queue.
"""

from __future__ import annotations

import os
import time

import pytest

from inspections.models import Employer, Inspection
from inspections.services.generation import demo_data_generate
from scoring.models import Band, ModelStatus, ModelVersion, RunStatus, Score, ScoringRun
from scoring.services.nightly import pairs_select
from scoring.tasks import nightly, pair_retrain
from tests.processes import WorkerProcess, celery_worker_process
from tests.scoring.conftest import AS_OF, GENERATED_EMPLOYERS, GENERATED_SEED, INSPECTION_RATE

# Its inspections are deleted: its four retrains are refused, which must not stop the chord.
EMPTY_SECTOR = "hospitality"


def _wait_for_runs(timeout: float, worker: WorkerProcess) -> list[ScoringRun]:
    """rescore_all creates all its runs in one transaction: wait until they have all finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = list(ScoringRun.objects.order_by("pk"))
        if runs and all(run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.REFUSED) for run in runs):
            return runs
        time.sleep(0.5)
    versions = list(ModelVersion.objects.values_list("sector_id", "offence_type_id", "status"))
    raise AssertionError(
        f"the nightly chain did not finish within {timeout}s: runs {list(ScoringRun.objects.all())}, "
        f"versions {versions}; the worker said:\n{worker.output()[-6000:]}"
    )


@pytest.mark.integration
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_nightly_chain_retrains_activates_and_rescores_on_a_real_worker() -> None:
    demo_data_generate(
        employers=GENERATED_EMPLOYERS, seed=GENERATED_SEED, inspection_rate=INSPECTION_RATE, replace=True
    )
    Inspection.objects.filter(employer__sector=EMPTY_SECTOR).delete()
    with celery_worker_process() as worker:
        nightly.apply_async(kwargs={"as_of_iso": AS_OF.isoformat(), "queue": worker.queue}, queue=worker.queue)
        # A safety net, not a measurement: twelve retrains and rescores on one worker, on a
        # machine that may be busy with other tests.
        runs = _wait_for_runs(timeout=480, worker=worker)
        output = worker.output()

    trained = {(version.sector_id, version.offence_type_id) for version in ModelVersion.objects.all()}
    expected = {pair for pair in pairs_select() if pair[0] != EMPTY_SECTOR}
    assert trained == expected, output
    assert "retraining" not in output, "a retrain failed instead of being refused"
    assert all(version.origin == "nightly retrain" for version in ModelVersion.objects.all())
    active = {version.pk: version for version in ModelVersion.objects.filter(status=ModelStatus.ACTIVE)}
    assert len(active) >= len(expected) // 2, [(v, v.review_note) for v in ModelVersion.objects.all()]
    # One run per active model, each published by the worker process, not this one.
    assert sorted(run.model_version_id for run in runs) == sorted(active)
    for run in runs:
        assert run.status == RunStatus.SUCCEEDED, run.message
        assert run.as_of == AS_OF
        assert run.worker and not run.worker.endswith(f":{os.getpid()}")
        sector = Employer.objects.filter(sector=run.sector_id).active_on(AS_OF)
        scored = Score.objects.filter(run=run)
        assert set(scored.values_list("employer_id", flat=True)) == set(sector.values_list("pk", flat=True))
        assert set(scored.values_list("band", flat=True)) == set(Band.values)
    published = {run.pk for run in ScoringRun.objects.published()}
    assert published == {run.pk for run in runs}


@pytest.mark.django_db
def test_pair_retrain_task_reports_refusal_instead_of_raising() -> None:
    """A raising header task would cancel the chord's rescore: a refusal is a result."""
    result = pair_retrain.apply(args=["cleaning", "undeclared_work", AS_OF.isoformat()]).get()
    assert result["version_id"] is None
    assert "error" not in result
    assert result["refused"] == "No completed inspection in cleaning checked undeclared_work before 2026-10-01."
    assert not ModelVersion.objects.exists()


def test_every_task_has_a_time_limit() -> None:
    from celery import current_app

    import inspections.tasks
    import scoring.tasks  # noqa: F401  (registered when imported)

    assert inspections.tasks.data_import_run.name in current_app.tasks
    ours = [task for name, task in current_app.tasks.items() if name.startswith(("scoring.", "inspections."))]

    assert {task.name for task in ours} >= {"scoring.nightly", "scoring.pair_retrain", "inspections.data_import_run"}
    assert all(task.time_limit for task in ours), [task.name for task in ours if not task.time_limit]
