"""Scoring runs: publish all or nothing, idempotent, claimed by one live worker, pruned."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import numpy as np
import psycopg2
import pytest
from django.db import connection
from django.utils import timezone

from inspections.models import Employer
from scoring.features.registry import FEATURE_NAMES, reason_parts
from scoring.models import Band, ModelStatus, ModelVersion, RunLookup, RunStatus, Score, ScoreCount, ScoringRun
from scoring.services import runs
from scoring.services.lookups import lookup_read
from scoring.services.ranking import scores_rank
from scoring.services.runs import (
    RunFailed,
    scores_prune,
    scoring_run_create,
    scoring_run_execute,
    scoring_runs_abandoned_fail,
)
from scoring.services.training import model_retrain
from tests.processes import test_database_url as database_url

from .conftest import AS_OF, OFFENCE, SECTOR, generated_data

pytestmark = pytest.mark.django_db

# Statements of a whole run, whatever the number of employers (about 600 here): the run,
# the lock, the claim, the model, a count, one feature COPY, a progress update per chunk,
# the savepoint, the run's partition (create, check, memory setting, attach), one score
# COPY, the publishing update, the unlock and a refresh (17 today).
# + the sector medians check (declared quarters, medians present), + the ANALYZE of the
# run's scores and counts before it is published.
MAX_STATEMENTS = 22


@pytest.fixture(scope="module")
def model(django_db_setup, django_db_blocker) -> Iterator[ModelVersion]:
    with generated_data(django_db_blocker):
        with django_db_blocker.unblock():
            version = model_retrain(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)
            assert version.status == ModelStatus.ACTIVE
        yield version


def _active_employers() -> set[int]:
    return set(Employer.objects.filter(sector=SECTOR).active_on(AS_OF).values_list("pk", flat=True))


def _scores(run: ScoringRun) -> list[tuple]:
    return list(
        Score.objects.filter(run=run)
        .order_by("rank")
        .values_list("employer_id", "score", "rank", "percentile", "band", "reason_1", "reason_2", "reason_3")
    )


def _run(**kwargs) -> ScoringRun:
    run = scoring_run_create(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)
    return scoring_run_execute(run_id=run.pk, **kwargs)


def _break_model(monkeypatch, scores) -> None:
    real = runs.artifact_check

    def broken(**kwargs):
        artifact = real(**kwargs)
        artifact.model.predict_proba = lambda X: np.column_stack([1 - scores(len(X)), scores(len(X))])
        return artifact

    monkeypatch.setattr(runs, "artifact_check", broken)


def test_a_run_started_alone_has_planner_statistics_once_it_is_visible(model) -> None:
    """No scores_tidy, no nightly chain: the run's own publication gathers them."""
    run = _run()

    partition = runs._partition(run.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [partition])
        estimated_rows = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = %s", [partition])
        columns_with_statistics = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = %s", [ScoreCount._meta.db_table])
        count_columns_with_statistics = cursor.fetchone()[0]
    assert run.status == RunStatus.SUCCEEDED
    assert estimated_rows == run.employers_scored  # -1 for a table never analysed
    assert columns_with_statistics > 0 and count_columns_with_statistics > 0
    assert runs.runs_unanalysed(run_ids=[run.pk]) == []


def test_a_run_whose_partition_lost_its_statistics_is_named_unanalysed(model) -> None:
    run = _run()
    with connection.cursor() as cursor:  # as a partition restored from a dump would be
        cursor.execute("UPDATE pg_class SET reltuples = -1 WHERE relname = %s", [runs._partition(run.pk)])

    assert runs.runs_unanalysed(run_ids=[run.pk]) == [run.pk]


def test_a_run_publishes_one_score_per_active_employer(model, sql_log, django_assert_max_num_queries) -> None:
    shares = []
    run = scoring_run_create(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)
    sql_log.clear()

    with django_assert_max_num_queries(MAX_STATEMENTS):
        run = scoring_run_execute(run_id=run.pk, progress=shares.append)

    assert len(sql_log) <= MAX_STATEMENTS, sql_log
    # Features out (the model file's check reads its sample from them), scores in, the run's list counts in.
    assert len([s for s in sql_log if s.startswith("COPY")]) == 3
    assert run.status == RunStatus.SUCCEEDED and run.progress == 1 and run.finished_at is not None
    active = _active_employers()
    assert len(active) > 500 and run.employers_scored == len(active)
    scores = Score.objects.filter(run=run)
    assert set(scores.values_list("employer_id", flat=True)) == active
    ranked = _scores(run)
    assert [row[2] for row in ranked] == list(range(1, len(active) + 1))
    values = np.array([row[1] for row in ranked])
    assert (np.diff(values) <= 1e-6).all() and values.min() >= 0 and values.max() <= 1
    # Bands as the model's cut-offs say, and the run says how many of each.
    _, _, band = scores_rank(values, np.array([row[0] for row in ranked]), model.cutoffs)
    assert [row[4] for row in ranked] == band.tolist()
    counts = np.bincount(band, minlength=5)
    assert counts[Band.RED] == int(np.ceil(0.05 * len(active)))
    assert run.message == ", ".join(f"{Band(n).label} {counts[n]}" for n in Band.values)
    # Reasons: registered names with the sector median, none twice, the first one always
    # given by a high score; none below orange.
    for row, number in zip(ranked, band, strict=True):
        names = [reason_parts(key)[0] for key in row[5:] if key]
        assert set(names) <= set(FEATURE_NAMES) and len(names) == len(set(names))
        assert number <= Band.ORANGE or not names
    assert all(row[5] and reason_parts(row[5])[1] is not None for row in ranked[:10])
    assert list(ScoringRun.objects.published()) == [run]
    assert shares and shares[-1] <= 0.9


def test_running_it_again_changes_nothing(model) -> None:
    run = _run()
    before = _scores(run)

    again = scoring_run_execute(run_id=run.pk)

    assert again.status == RunStatus.SUCCEEDED and again.finished_at == run.finished_at
    assert _scores(again) == before
    assert Score.objects.count() == len(before)


def test_a_newer_run_is_the_published_one(model) -> None:
    first = _run()
    second = _run()
    assert list(ScoringRun.objects.published()) == [second]
    assert _scores(first) == _scores(second)  # same data, same model


@pytest.mark.parametrize(
    "scores",
    [
        lambda n: np.full(n, np.nan),
        lambda n: np.r_[np.full(n - 1, 0.5), 1.5],
        lambda n: np.r_[-0.1, np.full(n - 1, 0.5)],
    ],
    ids=["nan", "above one", "below zero"],
)
def test_a_model_giving_no_probabilities_fails_and_publishes_nothing(model, monkeypatch, scores) -> None:
    published = _run()
    _break_model(monkeypatch, scores)

    run = _run()

    assert run.status == RunStatus.FAILED and run.finished_at is not None
    assert "scores that are not probabilities (NaN or out of range)" in run.message
    assert not Score.objects.filter(run=run).exists()
    assert list(ScoringRun.objects.published()) == [published]
    assert Score.objects.filter(run=published).count() == published.employers_scored


def test_features_that_cannot_be_computed_fail_the_run(model, monkeypatch) -> None:
    published = _run()
    real = runs.features_read

    def without_debt(**kwargs):
        for chunk in real(**kwargs):
            yield chunk.drop(columns=["debt_to_wages"])

    monkeypatch.setattr(runs, "features_read", without_debt)

    run = _run()

    assert run.status == RunStatus.FAILED
    assert run.message == "The model needs features that cannot be computed: debt_to_wages."
    assert not Score.objects.filter(run=run).exists()
    assert list(ScoringRun.objects.published()) == [published]


def test_a_sector_without_active_employers_fails_in_words(model) -> None:
    published = _run()
    first = Employer.objects.filter(sector=SECTOR).order_by("start_date").values_list("start_date", flat=True)[0]
    before = first - dt.timedelta(days=1)
    run = scoring_run_create(sector=SECTOR, offence=OFFENCE, as_of=before)
    run = scoring_run_execute(run_id=run.pk)
    assert run.status == RunStatus.FAILED
    assert run.message == f"No active employer in {SECTOR} on {before}: nothing to score."
    # An empty run must never replace the published scores.
    assert list(ScoringRun.objects.published()) == [published]


def test_a_run_needs_an_active_model(model) -> None:
    with pytest.raises(RunFailed, match=f"No active model for {SECTOR} / undeclared_work: train or activate one"):
        scoring_run_create(sector=SECTOR, offence="undeclared_work")
    ModelVersion.objects.filter(pk=model.pk).update(status=ModelStatus.RETIRED)
    with pytest.raises(RunFailed, match="No active model"):
        scoring_run_create(sector=SECTOR, offence=OFFENCE)
    assert not ScoringRun.objects.exists()


def _succeeded(model: ModelVersion, offence: str, finished: dt.datetime, employers: list[int]) -> ScoringRun:
    run = ScoringRun.objects.create(
        sector_id=SECTOR,
        offence_type_id=offence,
        model_version=model,
        as_of=AS_OF,
        status=RunStatus.SUCCEEDED,
        finished_at=finished,
    )
    Score.objects.bulk_create(
        Score(run=run, employer_id=pk, score=0.5, rank=rank, percentile=0, band=Band.BLUE)
        for rank, pk in enumerate(employers, start=1)
    )
    return run


def test_scores_prune_keeps_the_latest_runs(model) -> None:
    employers = sorted(_active_employers())[:5]
    now = timezone.now()
    runs_ = [_succeeded(model, OFFENCE, now - dt.timedelta(days=days), employers) for days in (4, 3, 2, 1)]
    other = [_succeeded(model, "undeclared_work", now - dt.timedelta(days=days), employers) for days in (9, 8)]
    failed = ScoringRun.objects.create(
        sector_id=SECTOR, offence_type_id=OFFENCE, model_version=model, as_of=AS_OF, status=RunStatus.FAILED
    )
    running = _succeeded(model, OFFENCE, now, employers)
    ScoringRun.objects.filter(pk=running.pk).update(status=RunStatus.RUNNING, finished_at=None)

    for run in (runs_[0], runs_[3]):
        RunLookup.objects.create(run=run, first_employer=employers[0], packed=b"\x04\x00")

    deleted = scores_prune(keep=2)

    assert deleted == 2 * len(employers)
    assert list(RunLookup.objects.values_list("run_id", flat=True)) == [runs_[3].pk]
    kept = set(Score.objects.values_list("run_id", flat=True).distinct())
    assert kept == {runs_[2].pk, runs_[3].pk, *(run.pk for run in other), running.pk}
    assert ScoringRun.objects.filter(pk__in=[runs_[0].pk, failed.pk]).count() == 2  # the runs stay, as history
    assert set(ScoringRun.objects.published()) == {runs_[3], other[1]}
    assert scores_prune(keep=2) == 0


def test_a_rescore_of_every_model_tidies_up_after_itself(model) -> None:
    """scores_refresh_all (the commands, the demo) and the nightly chain end with scores_tidy:
    no more than two runs' scores per pair stay, and the planner knows the new rows."""
    from scoring.services.nightly import scores_refresh_all

    for _ in range(3):
        scores_refresh_all(as_of=AS_OF)

    per_pair = Score.objects.values("run__sector_id", "run__offence_type_id", "run_id").distinct()
    runs_kept = {}
    for row in per_pair:
        runs_kept.setdefault((row["run__sector_id"], row["run__offence_type_id"]), set()).add(row["run_id"])
    assert runs_kept and all(len(kept) == 2 for kept in runs_kept.values())
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'scoring_score'")
        assert cursor.fetchone()[0] is not None


# --- Claiming -------------------------------------------------------------------------------


@pytest.fixture
def other_session() -> Iterator[psycopg2.extensions.connection]:
    """A second session on the test database, as another worker would hold."""
    session = psycopg2.connect(database_url())
    session.autocommit = True
    try:
        yield session
    finally:
        session.close()


def _hold(session, run: ScoringRun) -> None:
    with session.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [run.advisory_key])


def _close(session) -> None:
    """Close the session and wait for its server process to let go of its locks."""
    pid = session.get_backend_pid()
    session.close()
    with connection.cursor() as cursor:
        for _ in range(200):
            cursor.execute("SELECT count(*) FROM pg_locks WHERE pid = %s", [pid])  # live, unlike pg_stat_activity
            if not cursor.fetchone()[0]:
                return
            time.sleep(0.025)
    raise AssertionError(f"session {pid} did not end")


def test_a_run_held_by_a_live_worker_is_not_claimed(model, other_session) -> None:
    run = scoring_run_create(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)
    _hold(other_session, run)

    result = scoring_run_execute(run_id=run.pk)

    assert result.status == RunStatus.QUEUED and result.worker == ""
    assert not Score.objects.filter(run=run).exists()

    _close(other_session)  # the lock goes with the session
    assert scoring_run_execute(run_id=run.pk).status == RunStatus.SUCCEEDED


def test_a_running_run_whose_worker_died_is_failed(model, other_session) -> None:
    published = _run()
    run = scoring_run_create(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)
    ScoringRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, worker="elsewhere:1", started_at=timezone.now()
    )
    _hold(other_session, run)

    assert scoring_runs_abandoned_fail() == 0  # alive: its worker still holds the lock
    assert ScoringRun.objects.get(pk=run.pk).status == RunStatus.RUNNING
    assert scoring_run_execute(run_id=run.pk).status == RunStatus.RUNNING  # nor can another worker take it

    _close(other_session)

    assert scoring_runs_abandoned_fail() == 1
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.finished_at is not None
    assert run.message == "The worker stopped during the run; the previous scores stay published."
    assert list(ScoringRun.objects.published()) == [published]
    assert scoring_runs_abandoned_fail() == 0


def test_a_worker_picks_up_a_run_left_running_by_a_dead_one(model) -> None:
    run = scoring_run_create(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)
    ScoringRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, worker="dead:1")

    result = scoring_run_execute(run_id=run.pk)

    assert result.status == RunStatus.SUCCEEDED and result.worker != "dead:1"
    assert Score.objects.filter(run=run).count() == result.employers_scored > 0


def test_a_run_that_lost_its_claim_publishes_nothing(model, monkeypatch) -> None:
    """Marked failed by someone else while it scored: the scores are rolled back, the mark stays."""
    published = _run()
    real = runs.scores_rank
    abandoned = "The worker stopped during the run; the previous scores stay published."

    def taken_away(*args):
        ScoringRun.objects.filter(status=RunStatus.RUNNING).update(status=RunStatus.FAILED, message=abandoned)
        return real(*args)

    monkeypatch.setattr(runs, "scores_rank", taken_away)

    run = _run()

    assert run.status == RunStatus.FAILED and run.message == abandoned
    assert not Score.objects.filter(run=run).exists()
    assert list(ScoringRun.objects.published()) == [published]


@pytest.mark.django_db
def test_a_run_copies_the_list_columns_and_counts_them(model) -> None:
    """Sub-region, size, legal form and time since the last visit land on each score, and
    the run's ScoreCount rows add up to its scores per band and filter value."""
    from django.db.models import Count, Sum

    from scoring.models import ScoreCount

    run = scoring_run_execute(run_id=scoring_run_create(sector=SECTOR, offence=OFFENCE, as_of=AS_OF).pk)
    scores = Score.objects.filter(run=run)
    assert not scores.filter(subregion__isnull=True).exists()
    employer = Employer.objects.get(pk=scores.first().employer_id)
    first = scores.first()
    assert (first.subregion_id, first.legal_form) == (employer.subregion_id, employer.legal_form)
    keys = ("subregion_id", "size_class", "legal_form", "visit_recency", "band")
    from_scores = {tuple(row[k] for k in keys): row["n"] for row in scores.values(*keys).annotate(n=Count("*"))}
    counted = ScoreCount.objects.filter(run=run)
    from_counts = {tuple(row[k] for k in keys): row["n"] for row in counted.values(*keys).annotate(n=Sum("employers"))}
    assert from_counts == from_scores
    # The run's lookup holds the same copies, for every scored employer.
    lookup = RunLookup.objects.get(run=run)
    rows = list(scores.values_list("employer_id", "band", "size_class", "visit_recency", "legal_form"))
    listed = lookup_read(
        first_employer=lookup.first_employer, packed=bytes(lookup.packed), employer_ids=np.array([r[0] for r in rows])
    )
    assert listed.band.tolist() == [r[1] for r in rows]
    assert listed.size_class.tolist() == [r[2] or 0 for r in rows]
    assert listed.visit_recency.tolist() == [r[3] for r in rows]
    assert listed.legal_form.tolist() == [r[4] for r in rows]
