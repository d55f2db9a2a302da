"""Detection statistics against an independent computation on a fixture with known answers."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from collections import defaultdict
from decimal import Decimal

import pytest
from django.urls import reverse

from inspections.models import Employer, Finding, Inspection, OffenceType, PostalCode, Region, Sector
from tests.factories import EmployerFactory, FindingFactory, InspectionFactory
from tests.workspace.support import OFFENCE, SECTOR
from workspace import statistics
from workspace.worklists import WorklistRequest, worklist_create

pytestmark = pytest.mark.django_db

ORIGINS = ["complaint", "prosecutor", "random_control", "ranked_list", "own_initiative"]
OFFENCES = ["undeclared_work", "part_time_abuse", "bogus_self_employment"]


@pytest.fixture
def inspected(db) -> list[Inspection]:
    """60 completed inspections in Flanders and Wallonia, with seeded findings; a few planned."""
    rng = random.Random(5)
    places = [PostalCode.objects.get(code="2000"), PostalCode.objects.get(code="4000")]
    inspections = []
    for i in range(60):
        employer = EmployerFactory(postal_code=places[i % 2])
        inspection = InspectionFactory(
            employer=employer, origin=rng.choice(ORIGINS), visit_date=dt.date(2025, 1 + i % 6, 1 + i % 27)
        )
        for offence in rng.sample(OFFENCES, rng.randint(1, 3)):
            found = rng.random() < 0.3
            amount = Decimal(rng.randint(1, 900)) if found else Decimal(0)
            FindingFactory(inspection=inspection, offence_type_id=offence, found=found, contributions_recovered=amount)
        inspections.append(inspection)
    InspectionFactory(status="planned", visit_date=None, planned_date=dt.date(2026, 1, 1))
    return inspections


def expected_rates(inspections: list[Inspection], key) -> dict[str, tuple[int, int]]:
    """Per group: (inspections, found an offence), by plain Python over the rows."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for inspection in inspections:
        found = any(f.found for f in Finding.objects.filter(inspection=inspection))
        counts[key(inspection)][0] += 1
        counts[key(inspection)][1] += int(found)
    return {label: (n, hits) for label, (n, hits) in counts.items()}


def shown(rates: list[statistics.Rate]) -> dict[str, tuple[int, int]]:
    return {rate.label: (rate.inspections, rate.found) for rate in rates}


def test_detection_rates_match_an_independent_count(inspected, task_force) -> None:
    origins = dict(Inspection._meta.get_field("origin").choices)
    keys = {
        "origin": lambda i: str(origins[i.origin]),
        "sector": lambda i: Employer.objects.get(pk=i.employer_id).sector.name,
        "region": lambda i: Employer.objects.get(pk=i.employer_id).subregion.region.name,
        "month": lambda i: i.visit_date.strftime("%Y-%m"),
    }
    for by, key in keys.items():
        assert shown(statistics.detection_rates(user=task_force, by=by)) == expected_rates(inspected, key), by
    per_offence: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for finding in Finding.objects.filter(inspection__in=inspected):
        per_offence[finding.offence_type_id][0] += 1
        per_offence[finding.offence_type_id][1] += int(finding.found)
    assert shown(statistics.detection_rates(user=task_force, by="offence")) == {
        OffenceType.objects.get(pk=code).name: tuple(pair) for code, pair in per_offence.items()
    }


def test_rates_carry_a_95_percent_interval_around_them(inspected, task_force) -> None:
    for rate in statistics.detection_rates(user=task_force, by="origin"):
        low, high = rate.interval
        assert 0 <= low <= rate.rate <= high <= 1


def test_contributions_recovered_per_origin(inspected, task_force) -> None:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for finding in Finding.objects.filter(inspection__in=inspected).select_related("inspection"):
        totals[finding.inspection.origin] += finding.contributions_recovered
    origins = dict(Inspection._meta.get_field("origin").choices)
    got = {row.label: row.recovered for row in statistics.recovered_per_origin(user=task_force)}
    assert got == {str(origins[origin]): total for origin, total in totals.items()}


def test_inspectors_count_only_their_regions(inspected, walloon_inspector) -> None:
    walloon = [i for i in inspected if Employer.objects.get(pk=i.employer_id).subregion.region_id == "BE3"]

    rates = statistics.detection_rates(user=walloon_inspector, by="region")

    wallonia = Region.objects.get(code="BE3").name
    assert shown(rates) == {wallonia: expected_rates(walloon, lambda i: wallonia)[wallonia]}


def test_the_lift_of_worklists_compares_picks_with_random_controls(ranked, task_force) -> None:
    worklist = worklist_create(user=task_force, request=WorklistRequest(SECTOR, OFFENCE, 20), seed=3)
    entries = list(worklist.entries.select_related("inspection"))
    for n, entry in enumerate(entries):
        Inspection.objects.filter(pk=entry.inspection_id).update(status="completed", visit_date=dt.date(2026, 2, 2))
        pick = entry.inspection.origin == "ranked_list"
        FindingFactory(inspection=entry.inspection, offence_type_id=OFFENCE, found=pick and n % 2 == 0 or n % 6 == 0)
    picks = [e for e in entries if e.inspection.origin == "ranked_list"]
    controls = [e for e in entries if e.inspection.origin == "random_control"]
    hits = lambda group: sum(Finding.objects.get(inspection=e.inspection).found for e in group)  # noqa: E731

    (lift,) = statistics.worklist_lifts(user=task_force)

    assert (lift.sector, lift.offence) == (Sector.objects.get(pk=SECTOR).name, OffenceType.objects.get(pk=OFFENCE).name)
    assert (lift.picks.inspections, lift.picks.found) == (len(picks), hits(picks)) == (14, hits(picks))
    assert (lift.controls.inspections, lift.controls.found) == (len(controls), hits(controls))
    value, (low, high) = lift.value_and_interval
    assert low <= value <= high
    bands = shown(statistics.detection_rates(user=task_force, by="band"))
    assert sum(n for n, _ in bands.values()) == 20


def test_the_page_shows_every_table_with_its_export(inspected, logged_in, django_assert_max_num_queries) -> None:
    # One query per table, and a few for the names of sectors, offence types and regions:
    # however many inspections there are.
    with django_assert_max_num_queries(30):
        response = logged_in.get(reverse("workspace:statistics"))

    html = response.content.decode()
    assert response.status_code == 200
    for by in statistics.GROUPINGS:
        assert f'id="title-{by}"' in html
        # No worklist here: no band to count, and the page says so instead of an empty table.
        assert (f'href="?export={by}"' in html) == (by != "band")
    assert 'data-chart="chart-origin"' in html and 'id="chart-origin"' in html
    assert 'id="title-precision"' in html and 'id="table-shares"' in html and 'href="?export=shares"' in html
    export = logged_in.get(reverse("workspace:statistics") + "?export=sector")
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert rows[0][:3] == ["Group", "Inspections", "Offence found"]
    assert sum(int(row[1]) for row in rows[1:]) == 60
    assert logged_in.get(reverse("workspace:statistics") + "?export=nothing").status_code == 400


def test_precision_at_the_top_k_and_the_share_from_the_lists(ranked, task_force) -> None:
    worklist = worklist_create(user=task_force, request=WorklistRequest(SECTOR, OFFENCE, 20), seed=4)
    entries = list(worklist.entries.select_related("inspection"))
    for n, entry in enumerate(entries):
        Inspection.objects.filter(pk=entry.inspection_id).update(status="completed", visit_date=dt.date(2026, 3, 3))
        FindingFactory(inspection=entry.inspection, offence_type_id=OFFENCE, found=n % 3 == 0)
    InspectionFactory(employer=ranked.employer(50), origin="own_initiative", visit_date=dt.date(2026, 3, 9))
    InspectionFactory(employer=ranked.employer(51), origin="complaint", visit_date=dt.date(2026, 3, 9))

    (precision,) = statistics.precision_at_k(user=task_force, k=5)

    picks = sorted((e for e in entries if e.inspection.origin == "ranked_list"), key=lambda e: e.rank)[:5]
    found = [Finding.objects.get(inspection=e.inspection).found for e in picks]
    label = f"{Sector.objects.get(pk=SECTOR).name} / {OffenceType.objects.get(pk=OFFENCE).name}"
    assert (precision.label, precision.inspections, precision.found) == (label, 5, sum(found))
    assert [e.rank for e in picks] == sorted(e.rank for e in picks) and picks[0].rank == 1
    # Own initiative per region and month: the worklist's 20 (picks and controls) and one chosen otherwise;
    # the complaint is not the inspectorate's own choice.
    shares = {(row.region, row.month): row for row in statistics.list_shares(user=task_force)}
    employers = {e.employer_id for e in entries} | {ranked.employer(50).pk}
    per_region = defaultdict(lambda: [0, 0])
    for employer in Employer.objects.filter(pk__in=employers).select_related("subregion"):
        per_region[employer.subregion.region_id][0] += 1
        per_region[employer.subregion.region_id][1] += int(employer.pk != ranked.employer(50).pk)
    names = {region.code: region.name for region in Region.objects.all()}
    assert {region: [row.own_initiative, row.from_lists] for (region, _), row in shares.items()} == {
        names[code]: counts for code, counts in per_region.items()
    }
    assert all(row.target == Decimal("0.30") for row in shares.values())
