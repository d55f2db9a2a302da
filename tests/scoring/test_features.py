"""Point-in-time features: hand-computed values, the scoring population, no look-ahead, one statement."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from inspections.models import Declaration, InspectionStatus, NaceCode, OffenceType
from scoring.features.computation import (
    COLUMNS,
    INSPECTED_TARGETS,
    features_frame,
    sector_features,
)
from scoring.features.registry import FEATURE_NAMES
from tests.factories import DeclarationFactory, EmployerFactory, FindingFactory, InspectionFactory

from .conftest import declarations_make, money, quarters_back

pytestmark = pytest.mark.django_db

# Mid-quarter on purpose: 2025-Q1 (2025-01-01) has begun but not ended on this date.
AS_OF = dt.date(2025, 2, 15)
WINDOW = [dt.date(2024, 1, 1), dt.date(2024, 4, 1), dt.date(2024, 7, 1), dt.date(2024, 10, 1)]
DECLARATION_FEATURES = [
    name for name in FEATURE_NAMES if name not in ("company_years", "own_sector") and not name.startswith("earlier_")
]


def _offence(code: str = "undeclared_work") -> OffenceType:
    return OffenceType.objects.get(code=code)


def _row(frame: pd.DataFrame, employer_id: int) -> pd.Series:
    rows = frame[frame["employer_id"] == employer_id]
    assert len(rows) == 1, f"employer {employer_id}: {len(rows)} rows"
    return rows.iloc[0]


@pytest.fixture
def sector() -> dict[str, object]:
    """Employer A, hand-built so each feature has a value worked out below, and two peers paid 10,000 per FTE."""
    a = EmployerFactory(start_date=dt.date(2015, 1, 1))
    declarations_make(
        a,
        WINDOW,
        headcount=[10, 10, 12, 12],
        fte=Decimal("8.00"),
        part_time_share=[Decimal("0.200"), Decimal("0.200"), Decimal("0.400"), Decimal("0.400")],
        declared_hours=3640,
        gross_wages=money(49_600),  # 6,200 per FTE: 38 % below the peers' 10,000
        hires=2,
        exits=1,
        short_contracts=1,
        posted_workers=2,
        temporary_unemployment_days=[10, 10, 36, 36],  # 1, 1, 3, 3 days per worker
        social_security_debt=[money(0), money(0), money(4960), money(4960)],
    )
    peers = [EmployerFactory(), EmployerFactory()]
    for peer in peers:
        declarations_make(peer, WINDOW, fte=Decimal("8.50"), gross_wages=money(85_000))
    earlier = InspectionFactory(employer=a, visit_date=dt.date(2023, 5, 10))
    FindingFactory(inspection=earlier, offence_type=_offence("undeclared_work"), found=True)
    FindingFactory(inspection=earlier, offence_type=_offence("part_time_abuse"), found=True)
    FindingFactory(inspection=earlier, offence_type=_offence("bogus_self_employment"), found=False)
    # Neither counts: not completed.
    cancelled = InspectionFactory(employer=a, visit_date=dt.date(2024, 6, 1), status=InspectionStatus.CANCELLED)
    FindingFactory(inspection=cancelled, found=True)
    InspectionFactory(employer=a, visit_date=None, planned_date=dt.date(2024, 8, 1), status=InspectionStatus.PLANNED)
    return {"a": a, "peers": peers}


def test_hand_built_values(sector) -> None:
    a = sector["a"]
    row = _row(sector_features(sector="construction", as_of=AS_OF), a.pk)

    expected = {
        "wage_per_fte_vs_sector": -0.38,
        "hours_per_fte": 455.0,  # 4 x 3,640 hours over 4 x 8 FTE
        "fte_per_worker": 32 / 44,
        "part_time_share": 0.3,
        "part_time_fraction": (32 - (44 - 13.6)) / 13.6,  # 13.6 part-timer quarters, 30.4 full-timer quarters
        "headcount": 11.0,
        "headcount_change": 12 / 10 - 1,
        "headcount_volatility": 1 / 11,
        "hires_per_worker": 8 / 11,
        "exits_per_worker": 4 / 11,
        "short_contract_share": 0.5,
        "layoff_days_per_worker": 92 / 11,
        "layoff_days_change": (3 + 3) - (1 + 1),
        "layoff_days_spring_summer": 1 + 3,  # 2024-Q2 and 2024-Q3
        "posted_worker_share": 8 / 44,
        "debt_to_wages": 4960 / 49_600,
        "company_years": (AS_OF - dt.date(2015, 1, 1)).days / 365.25,
        "earlier_inspections": 1,
        "earlier_findings": 2,
        "earlier_undeclared_work": 1,
        "earlier_part_time_abuse": 1,
        "earlier_bogus_self_employment": 0,  # checked, not found
        "earlier_temporary_layoff_fraud": 0,
        "own_sector": 1.0,  # every employer scored is of the sector; only borrowed training rows say 0
        "headcount_seasonality": (12 - 10) / 11,  # busiest seasons 12 workers, quietest 10
    }
    # No quarter before the last four: nothing to compare the recent ones with.
    trends = ["wage_per_fte_change", "hours_per_fte_change", "part_time_share_change", "headcount_trend"]
    for name, value in expected.items():
        assert row[name] == pytest.approx(value, rel=1e-6), name
    assert all(math.isnan(row[name]) for name in trends)
    assert set(expected) | set(trends) == set(FEATURE_NAMES), "every registered feature has a hand-computed value here"
    assert list(sector_features(sector="construction", as_of=AS_OF).columns) == list(COLUMNS)
    peer = _row(sector_features(sector="construction", as_of=AS_OF), sector["peers"][0].pk)
    assert peer["wage_per_fte_vs_sector"] == pytest.approx(0.0)


def test_trends_compare_the_last_four_quarters_with_the_eight_before() -> None:
    employer = EmployerFactory(start_date=dt.date(2015, 1, 1))
    earlier = [dt.date(2022, 1, 1), dt.date(2022, 4, 1), dt.date(2022, 7, 1), dt.date(2022, 10, 1), *quarters_2023()]
    declarations_make(
        employer,
        earlier,
        headcount=10,
        fte=Decimal("10.00"),
        declared_hours=4550,
        gross_wages=money(100_000),
        part_time_share=Decimal("0.100"),
    )
    declarations_make(
        employer,
        WINDOW,
        headcount=8,
        fte=Decimal("8.00"),
        declared_hours=2912,  # 364 hours per FTE, down 20 % on 455
        gross_wages=money(72_000),  # 9,000 per FTE, down 10 % on 10,000
        part_time_share=Decimal("0.350"),
    )
    DeclarationFactory(employer=employer, quarter=dt.date(2021, 10, 1), headcount=1000)  # thirteen quarters back

    row = _row(sector_features(sector="construction", as_of=AS_OF), employer.pk)

    assert row["wage_per_fte_change"] == pytest.approx(-0.10)
    assert row["hours_per_fte_change"] == pytest.approx(-0.20)
    assert row["part_time_share_change"] == pytest.approx(0.25)
    assert row["headcount_trend"] == pytest.approx(8 / 10 - 1)
    assert row["headcount"] == pytest.approx(8.0)  # the size now: the last four quarters
    assert row["part_time_share"] == pytest.approx((8 * 0.1 + 4 * 0.35) / 12)  # long-run: all twelve
    assert row["headcount_seasonality"] == pytest.approx(0.0)  # the same in every season


def quarters_2023() -> list[dt.date]:
    return [dt.date(2023, 1, 1), dt.date(2023, 4, 1), dt.date(2023, 7, 1), dt.date(2023, 10, 1)]


def test_only_active_employers_of_the_sector_are_targets() -> None:
    active = EmployerFactory(start_date=dt.date(2020, 1, 1))
    closing_later = EmployerFactory(start_date=dt.date(2020, 1, 1), end_date=AS_OF + dt.timedelta(days=1))
    starting_today = EmployerFactory(start_date=AS_OF)
    EmployerFactory(start_date=dt.date(2020, 1, 1), end_date=AS_OF)  # closed on the day: gone
    EmployerFactory(start_date=dt.date(2020, 1, 1), end_date=dt.date(2023, 3, 1))
    EmployerFactory(start_date=AS_OF + dt.timedelta(days=1))  # not started yet
    EmployerFactory(nace=NaceCode.objects.get(code="81.210"))  # cleaning

    frame = sector_features(sector="construction", as_of=AS_OF)

    assert frame["employer_id"].tolist() == sorted([active.pk, closing_later.pk, starting_today.pk])
    assert (frame["as_of"] == pd.Timestamp(AS_OF)).all()
    cleaning = sector_features(sector="cleaning", as_of=AS_OF)
    assert len(cleaning) == 1


def test_no_declarations_in_the_window_gives_nan_not_zero() -> None:
    employer = EmployerFactory()
    DeclarationFactory(employer=employer, quarter=dt.date(2021, 10, 1))  # before the twelve quarters

    row = _row(sector_features(sector="construction", as_of=AS_OF), employer.pk)

    assert [name for name in DECLARATION_FEATURES if not math.isnan(row[name])] == []
    assert row["earlier_inspections"] == 0 and row["earlier_findings"] == 0
    assert row["company_years"] > 0 and row["own_sector"] == 1.0


def test_no_part_timers_gives_no_part_time_fraction() -> None:
    """PostgreSQL's greatest/least skip NULLs: a firm without part-timers must not read as 100 %."""
    employer = EmployerFactory()
    declarations_make(employer, WINDOW, part_time_share=Decimal("0"))

    row = _row(sector_features(sector="construction", as_of=AS_OF), employer.pk)

    assert row["part_time_share"] == 0
    assert math.isnan(row["part_time_fraction"])


def test_a_quarter_without_workers_does_not_break_the_sector() -> None:
    """A declaration with headcount 0 (a quarter without staff) is valid input, not a division by zero."""
    employer = EmployerFactory()
    declarations_make(
        employer,
        WINDOW,
        headcount=[0, 4, 4, 4],
        fte=[Decimal("0"), Decimal("4"), Decimal("4"), Decimal("4")],
        temporary_unemployment_days=[0, 8, 8, 8],
    )
    other = EmployerFactory()
    declarations_make(other, WINDOW)

    frame = sector_features(sector="construction", as_of=AS_OF)

    assert sorted(frame["employer_id"]) == sorted([employer.pk, other.pk])
    row = _row(frame, employer.pk)
    assert row["headcount"] == 3.0
    assert row["layoff_days_change"] == pytest.approx(2.0)  # 2 + 2 days per worker, against (none) + 2


# --- The point-in-time proof ----------------------------------------------------------------


def test_data_dated_after_the_as_of_date_do_not_move_the_features(sector) -> None:
    a, peer = sector["a"], sector["peers"][0]
    before = sector_features(sector="construction", as_of=AS_OF)

    # The quarter of the as-of date itself has started but not ended: not known yet.
    DeclarationFactory(employer=a, quarter=dt.date(2025, 1, 1), headcount=99, gross_wages=money(1), hires=50)
    DeclarationFactory(employer=peer, quarter=dt.date(2025, 1, 1), fte=Decimal("1"), gross_wages=money(999_999))
    # A later quarter.
    DeclarationFactory(employer=a, quarter=dt.date(2025, 4, 1), headcount=1, temporary_unemployment_days=500)
    # Quarters before the window are forgotten too.
    DeclarationFactory(employer=a, quarter=dt.date(2021, 10, 1), headcount=500, hires=400)
    # A later inspection that found offences, and one on the as-of date itself.
    later = InspectionFactory(employer=a, visit_date=AS_OF + dt.timedelta(days=10))
    FindingFactory(inspection=later, found=True)
    on_the_day = InspectionFactory(employer=a, visit_date=AS_OF)
    FindingFactory(inspection=on_the_day, found=True)
    FindingFactory(inspection=on_the_day, offence_type=_offence("part_time_abuse"), found=True)
    # A new employer of the sector, started after the as-of date, declaring from then on.
    newcomer = EmployerFactory(start_date=AS_OF + dt.timedelta(days=1))
    declarations_make(newcomer, [dt.date(2025, 4, 1), dt.date(2025, 7, 1)], fte=Decimal("1"), gross_wages=money(1))

    after = sector_features(sector="construction", as_of=AS_OF)

    pd.testing.assert_frame_equal(before, after)


def test_a_change_to_earlier_data_does_move_them(sector) -> None:
    """The control of the proof above: the same comparison notices a change inside the window."""
    a, peer = sector["a"], sector["peers"][0]
    before = sector_features(sector="construction", as_of=AS_OF)

    Declaration.objects.filter(employer=a, quarter=WINDOW[0]).update(hires=10)
    Declaration.objects.filter(employer=peer, quarter=WINDOW[3]).update(gross_wages=money(10_000))
    InspectionFactory(employer=a, visit_date=AS_OF - dt.timedelta(days=1))

    after = sector_features(sector="construction", as_of=AS_OF)

    row_before, row_after = _row(before, a.pk), _row(after, a.pk)
    assert row_after["hires_per_worker"] == pytest.approx(16 / 11)
    assert row_after["hires_per_worker"] != row_before["hires_per_worker"]
    assert row_after["earlier_inspections"] == row_before["earlier_inspections"] + 1
    # The peer's pay fell in one quarter: that quarter's median moved, and with it A's comparison.
    assert row_after["wage_per_fte_vs_sector"] != pytest.approx(row_before["wage_per_fte_vs_sector"])


def test_training_targets_see_only_the_past_of_each_visit() -> None:
    employer = EmployerFactory()
    declarations_make(employer, quarters_back(dt.date(2024, 10, 1), 8), hires=[1, 1, 1, 1, 5, 5, 5, 5])
    first = InspectionFactory(employer=employer, visit_date=dt.date(2024, 3, 1))
    FindingFactory(inspection=first, found=True)
    second = InspectionFactory(employer=employer, visit_date=dt.date(2024, 9, 1))
    FindingFactory(inspection=second, found=False)
    later = InspectionFactory(employer=employer, visit_date=dt.date(2025, 3, 1))  # on or after the as-of date
    FindingFactory(inspection=later, found=True)

    frame = features_frame(
        targets=INSPECTED_TARGETS,
        params={"sector": "construction", "as_of": dt.date(2025, 3, 1)},
    )

    assert frame["as_of"].tolist() == [pd.Timestamp("2024-03-01"), pd.Timestamp("2024-09-01")]
    assert frame["earlier_inspections"].tolist() == [0, 1]
    assert frame["earlier_findings"].tolist() == [0, 1]
    # The data start in 2022-Q4. As of 2024-03-01 the window holds 2022-Q4 to 2023-Q4 (1, 1, 1, 1, 5
    # hires for 10 workers: 1.8 a quarter); as of 2024-09-01, 2022-Q4 to 2024-Q2 (19 in 7 quarters).
    assert frame["hires_per_worker"].tolist() == pytest.approx([1.8 * 4 / 10, 19 / 7 * 4 / 10])


# --- One statement for every employer --------------------------------------------------------


def _sector_of(count: int) -> None:
    for _ in range(count):
        declarations_make(EmployerFactory(), WINDOW)


@pytest.mark.parametrize("employers", [2, 40])
def test_one_statement_for_the_whole_sector(employers, sql_log, django_assert_num_queries) -> None:
    _sector_of(employers)
    sector_features(sector="construction", as_of=AS_OF)  # the sector medians, computed once
    sql_log.clear()

    with django_assert_num_queries(2):  # the two small reads below; no ORM query
        frame = sector_features(sector="construction", as_of=AS_OF)

    assert len(frame) == employers
    # The feature statement, plus two small reads that find every sector median present
    # (the declared quarters, by a loose index scan, and the medians stored): 3 whatever
    # the number of employers.
    assert len(sql_log) == 3, sql_log
    assert sql_log[-1].startswith("COPY (")
    assert not [s for s in sql_log if "percentile_cont" in s]
    assert not np.isnan(frame["wage_per_fte_vs_sector"]).any()


@pytest.mark.django_db
def test_a_change_to_declarations_refreshes_the_sector_median() -> None:
    """The medians are kept (scoring_sectorquarterwage); a trigger forgets a quarter's
    median when its declarations change, and the next computation makes it again."""
    from scoring.models import SectorQuarterWage

    employers = [EmployerFactory() for _ in range(3)]
    for employer in employers:
        declarations_make(employer, WINDOW)
    sector_features(sector="construction", as_of=AS_OF)
    stored = SectorQuarterWage.objects.get(sector_id="construction", quarter=WINDOW[0])

    Declaration.objects.filter(employer=employers[0], quarter=WINDOW[0]).update(gross_wages=money(1))
    assert not SectorQuarterWage.objects.filter(quarter=WINDOW[0]).exists()
    assert SectorQuarterWage.objects.filter(quarter=WINDOW[1]).exists()  # other quarters are kept

    sector_features(sector="construction", as_of=AS_OF)
    again = SectorQuarterWage.objects.get(sector_id="construction", quarter=WINDOW[0])
    assert again.declarations == stored.declarations == 3
