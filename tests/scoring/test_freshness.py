"""Stale data never goes unnoticed: a run on a window whose latest quarters are mostly
undeclared is refused in words, the previous scores stay published, and a published run
says which quarter its data reach."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.db import connection

from inspections.models import Declaration, Employer
from scoring.features.computation import HISTORY_QUARTERS, sector_features
from scoring.features.medians import sector_wage_medians_ensure
from scoring.models import (
    ModelStatus,
    ModelVersion,
    RunLookup,
    RunStatus,
    Score,
    ScoreCount,
    ScoringRun,
    SectorQuarterWage,
)
from scoring.services import runs
from scoring.services.freshness import CHECKED_QUARTERS, declarations_freshness, freshness_refusal, quarters_ended_by
from scoring.services.nightly import scores_refresh_all
from scoring.services.runs import scoring_run_create, scoring_run_execute
from scoring.services.training import model_retrain
from scoring.tasks import run_execute
from tests.factories import EmployerFactory

from .conftest import AS_OF, OFFENCE, SECTOR, declarations_make, generated_data, money, quarters_back

pytestmark = pytest.mark.django_db

LATEST = dt.date(2026, 7, 1)  # the latest quarter ended by AS_OF (2026-10-01)
OTHER_SECTOR = "hospitality"


# --- The window ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "latest"),
    [
        (dt.date(2026, 10, 1), dt.date(2026, 7, 1)),  # ended on the day itself
        (dt.date(2026, 9, 30), dt.date(2026, 4, 1)),
        (dt.date(2026, 7, 15), dt.date(2026, 4, 1)),
        (dt.date(2026, 2, 1), dt.date(2025, 10, 1)),
    ],
)
def test_the_window_is_the_quarters_ended_by_the_as_of_date(as_of, latest) -> None:
    window = quarters_ended_by(as_of)
    assert window[0] == latest and len(window) == HISTORY_QUARTERS
    assert window == quarters_back(as_of, HISTORY_QUARTERS)[::-1]  # newest first


def test_the_features_read_exactly_the_window_the_check_reads() -> None:
    """The check's quarter arithmetic and the feature statement's intervals name the same quarters."""
    employer = EmployerFactory(start_date=dt.date(2010, 1, 1))
    window = quarters_ended_by(AS_OF)
    older = quarters_ended_by(AS_OF, HISTORY_QUARTERS + 1)[-1]
    shares = [money(0.01 * (n + 1)) for n in range(HISTORY_QUARTERS)]
    declarations_make(employer, [older, *window], part_time_share=[money(0.9), *shares])
    # The current quarter (not ended yet) must not be read either.
    declarations_make(employer, [dt.date(2026, 10, 1)], part_time_share=money(0.8))

    features = sector_features(sector=employer.sector_id, as_of=AS_OF)

    assert features["part_time_share"].tolist() == pytest.approx([float(sum(shares)) / HISTORY_QUARTERS])


# --- The check --------------------------------------------------------------------------------


def test_the_check_counts_per_quarter_the_employers_active_in_it_and_their_declarations() -> None:
    previous = quarters_ended_by(AS_OF)[1]
    steady = [EmployerFactory(start_date=dt.date(2015, 1, 1)) for _ in range(8)]
    for employer in steady[:3]:
        declarations_make(employer, [previous, LATEST])
    for employer in steady[3:]:
        declarations_make(employer, [previous])
    # Started after the latest quarter ended: expected in no quarter of the window, but scored.
    EmployerFactory(start_date=dt.date(2026, 10, 1))
    # Closed during the latest quarter: still expected to declare it (it did not).
    closed = EmployerFactory(start_date=dt.date(2015, 1, 1), end_date=dt.date(2026, 8, 15))
    declarations_make(closed, [previous])

    freshness = declarations_freshness(sector="construction", as_of=AS_OF)

    assert freshness.active == 9
    assert [q.quarter for q in freshness.quarters] == quarters_ended_by(AS_OF)
    latest, before = freshness.quarters[:2]
    assert (latest.declared, latest.employers) == (3, 9)
    assert (before.declared, before.employers) == (9, 9)
    assert freshness.latest_declared == LATEST
    assert freshness.as_json()[LATEST.isoformat()] == {"declared": 3, "employers": 9}
    assert freshness_refusal(freshness=freshness, minimum=0.3) is None
    assert freshness_refusal(freshness=freshness, minimum=0.5) == (
        "Only 33 % of construction's active employers have declared the quarter 2026-07-01; the scores as of "
        "2026-10-01 would rest on stale data. At least 50 % are needed (SCORING_MIN_DECLARED_SHARE); the "
        "previous scores stay published."
    )


def test_a_gap_in_the_quarter_before_the_latest_is_refused_too_older_ones_only_reported() -> None:
    window = quarters_ended_by(AS_OF)
    assert CHECKED_QUARTERS == 2
    for _ in range(4):
        declarations_make(EmployerFactory(), [window[0], window[3]])  # window[1] and window[2] missing

    freshness = declarations_freshness(sector="construction", as_of=AS_OF)

    refusal = freshness_refusal(freshness=freshness, minimum=0.5)
    assert refusal is not None
    assert refusal.startswith(f"Only 0 % of construction's active employers have declared the quarter {window[1]};")
    assert freshness.as_json()[window[2].isoformat()] == {"declared": 0, "employers": 4}


def test_the_check_is_one_statement_whatever_the_employers(sql_log) -> None:
    for _ in range(30):
        declarations_make(EmployerFactory(), quarters_ended_by(AS_OF))
    sector_wage_medians_ensure(sectors=["construction"])  # as the feature statement leaves them
    sql_log.clear()

    freshness = declarations_freshness(sector="construction", as_of=AS_OF)

    assert len(sql_log) == 1, sql_log
    assert [(q.declared, q.employers) for q in freshness.quarters] == [(30, 30)] * HISTORY_QUARTERS


def test_it_reads_the_counts_kept_beside_the_sector_medians_and_has_forgotten_ones_computed(sql_log) -> None:
    """A quarter whose declarations changed has no kept count until the next feature
    statement: the check has it computed with the medians, as that statement would."""
    window = quarters_ended_by(AS_OF)
    for _ in range(5):
        declarations_make(EmployerFactory(), window)
    sector_wage_medians_ensure(sectors=["construction"])
    assert SectorQuarterWage.objects.filter(sector="construction", quarter__in=window).count() == HISTORY_QUARTERS
    SectorQuarterWage.objects.filter(sector="construction", quarter=window[5]).update(declarations=99)
    declarations_make(EmployerFactory(), [window[0]])  # forgets the latest quarter's count (trigger)
    assert not SectorQuarterWage.objects.filter(quarter=window[0]).exists()
    sql_log.clear()

    freshness = declarations_freshness(sector="construction", as_of=AS_OF)

    statements = list(sql_log)
    assert freshness.quarters[0].declared == 6  # computed again
    assert freshness.quarters[5].declared == 99  # read, as kept
    assert SectorQuarterWage.objects.get(sector="construction", quarter=window[0]).declarations == 6
    assert statements[0] == statements[-1] and len(statements) > 2  # read, computed, read again


# --- Runs ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model(django_db_setup, django_db_blocker) -> Iterator[ModelVersion]:
    with generated_data(django_db_blocker):
        with django_db_blocker.unblock():
            version = model_retrain(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)
            assert version.status == ModelStatus.ACTIVE
        yield version


def _run(sector: str = SECTOR) -> ScoringRun:
    run = scoring_run_create(sector=sector, offence=OFFENCE, as_of=AS_OF)
    return scoring_run_execute(run_id=run.pk)


def _latest_quarter_mostly_missing(sector: str = SECTOR, keep_one_in: int = 8) -> float:
    """Delete all but one in `keep_one_in` of the sector's declarations of the latest quarter;
    the share of its active employers left with one."""
    declarations = Declaration.objects.filter(employer__sector=sector, quarter=LATEST)
    ids = list(declarations.order_by("employer_id").values_list("pk", flat=True))
    Declaration.objects.filter(pk__in=[pk for n, pk in enumerate(ids) if n % keep_one_in]).delete()
    expected = Employer.objects.filter(sector=sector, start_date__lt=AS_OF).exclude(end_date__lte=LATEST).count()
    return declarations.count() / expected


def _partitions() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relname LIKE 'scoring_score_run_%%' AND relkind = 'r'")
        return {row[0] for row in cursor.fetchall()}


def test_a_fresh_run_publishes_and_records_the_quarter_its_data_reach(model) -> None:
    run = _run()

    assert run.status == RunStatus.SUCCEEDED
    assert run.data_quarter == LATEST
    assert set(run.declared_shares) == {q.isoformat() for q in quarters_ended_by(AS_OF)}
    assert all(entry["declared"] >= 0.9 * entry["employers"] > 0 for entry in run.declared_shares.values())


def test_a_run_on_a_mostly_undeclared_latest_quarter_is_refused_and_the_previous_stays(model) -> None:
    published = _run()
    share = _latest_quarter_mostly_missing()
    partitions = _partitions()

    run = _run()

    assert run.status == RunStatus.REFUSED and run.finished_at is not None
    assert run.message == (
        f"Only {int(share * 100)} % of {SECTOR}'s active employers have declared the quarter 2026-07-01; the "
        "scores as of 2026-10-01 would rest on stale data. At least 50 % are needed "
        "(SCORING_MIN_DECLARED_SHARE); the previous scores stay published."
    )
    assert run.data_quarter is None and run.employers_scored == 0
    assert run.declared_shares[LATEST.isoformat()]["declared"] < run.declared_shares[LATEST.isoformat()]["employers"]
    # Nothing half-written: no score, count, lookup or table; the lists still read the previous run.
    assert not Score.objects.filter(run=run).exists()
    assert not ScoreCount.objects.filter(run=run).exists() and not RunLookup.objects.filter(run=run).exists()
    assert _partitions() == partitions
    assert list(ScoringRun.objects.published()) == [published]
    # Executed again (a task delivered twice): left alone.
    again = scoring_run_execute(run_id=run.pk)
    assert (again.status, again.message, again.finished_at) == (run.status, run.message, run.finished_at)


def test_the_refusal_comes_before_any_feature_is_computed(model, monkeypatch) -> None:
    _latest_quarter_mostly_missing()
    monkeypatch.setattr(runs, "features_read", lambda **kwargs: pytest.fail("features computed on stale data"))

    assert _run().status == RunStatus.REFUSED


def test_the_threshold_comes_from_the_settings(model, settings) -> None:
    share = _latest_quarter_mostly_missing()
    settings.SCORING_MIN_DECLARED_SHARE = share - 0.01

    run = _run()

    assert run.status == RunStatus.SUCCEEDED and run.data_quarter == LATEST


def test_with_the_check_off_a_published_run_still_says_how_old_its_data_are(model, settings) -> None:
    Declaration.objects.filter(employer__sector=SECTOR, quarter=LATEST).delete()
    settings.SCORING_MIN_DECLARED_SHARE = 0

    run = _run()

    assert run.status == RunStatus.SUCCEEDED
    assert run.data_quarter == quarters_ended_by(AS_OF)[1]  # the quarter before: the latest with data


def test_the_nightly_path_reports_a_refusal_and_scores_the_other_sectors(model) -> None:
    # The same model for another sector: a second pair, whose data stay fresh.
    ModelVersion.objects.create(
        **{field: getattr(model, field) for field in _COPIED}, sector_id=OTHER_SECTOR, status=ModelStatus.ACTIVE
    )
    share = _latest_quarter_mostly_missing(SECTOR)

    finished = {run.sector_id: run for run in scores_refresh_all(as_of=AS_OF, offences=[OFFENCE])}

    assert finished[SECTOR].status == RunStatus.REFUSED
    assert finished[SECTOR].message.startswith(f"Only {int(share * 100)} % of {SECTOR}'s")
    assert finished[OTHER_SECTOR].status == RunStatus.SUCCEEDED and finished[OTHER_SECTOR].data_quarter == LATEST
    assert {run.sector_id for run in ScoringRun.objects.published()} == {OTHER_SECTOR}

    # The Celery task (run here, synchronously) reports it in its result, without raising.
    queued = scoring_run_create(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)
    result = run_execute(queued.pk)
    assert result["status"] == RunStatus.REFUSED and result["message"] == finished[SECTOR].message


_COPIED = (
    "offence_type_id",
    "artifact",
    "artifact_sha256",
    "features",
    "training_from",
    "training_to",
    "validation_to",
    "training_rows",
    "validation_rows",
    "training_data_sha256",
    "sklearn_version",
    "metrics",
    "band_cutoffs",
    "origin",
)
