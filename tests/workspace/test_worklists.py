"""Blinded worklists: the mix, the draw, its seed, the population, and what nobody may see."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone
from scipy.stats import chisquare

from inspections.models import Inspection, Region
from tests.factories import InspectionFactory
from tests.workspace.support import OFFENCE, SECTOR
from workspace.models import Worklist, WorklistEntry, WorklistSettings
from workspace.worklists import WorklistRequest, worklist_create, worklist_draw, worklist_mix, worklist_population

pytestmark = pytest.mark.django_db

FORM = {"sector": SECTOR, "offence": OFFENCE, "size": "10"}


def ask(user, size: int = 10, seed: int | None = 7, **where) -> Worklist:
    return worklist_create(user=user, request=WorklistRequest(SECTOR, OFFENCE, size, **where), seed=seed)


@pytest.mark.parametrize(
    ("size", "share", "mix"),
    [
        (10, "0.30", (7, 3)),
        (1, "0.30", (1, 0)),
        (5, "0.50", (2, 3)),
        (7, "0.30", (5, 2)),
        (4, "0", (4, 0)),
        (3, "1", (0, 3)),
    ],
)
def test_the_mix_is_round_n_times_r_random_controls(size, share, mix) -> None:
    assert worklist_mix(size, Decimal(share)) == mix


def test_a_worklist_holds_the_highest_ranked_and_random_controls_shuffled(ranked, inspector) -> None:
    worklist = ask(inspector)

    entries = list(WorklistEntry.objects.filter(worklist=worklist).select_related("inspection"))
    assert len(entries) == 10 and [entry.position for entry in entries] == list(range(1, 11))
    picks = {e.employer_id for e in entries if e.inspection.origin == "ranked_list"}
    randoms = {e.employer_id for e in entries if e.inspection.origin == "random_control"}
    assert picks == {ranked.employer(rank).pk for rank in range(1, 8)}  # the top 7 of 120
    assert len(randoms) == 3 and not randoms & picks
    for entry in entries:
        assert (entry.inspection.status, entry.inspection.inspector) == ("planned", inspector)
        assert entry.inspection.reference == f"WL-{worklist.pk}-{entry.position:03d}"
    # Shuffled: the random controls are not all at the end.
    assert [e.inspection.origin for e in entries] != ["ranked_list"] * 7 + ["random_control"] * 3
    assert (worklist.size, worklist.random_share, worklist.seed, worklist.population) == (10, Decimal("0.30"), 7, 120)


def test_the_draw_is_reproduced_from_its_seed(ranked, inspector) -> None:
    request = WorklistRequest(SECTOR, OFFENCE, 10)
    population = list(
        worklist_population(user=inspector, request=request, run=ranked.run).values_list("employer_id", flat=True)
    )

    worklist = worklist_create(user=inspector, request=request, seed=123456)

    again = worklist_draw(ranked_ids=population, picks=7, randoms=3, seed=worklist.seed)
    stored = [
        (entry.employer_id, entry.inspection.origin == "random_control")
        for entry in worklist.entries.select_related("inspection").order_by("position")
    ]
    assert stored == again
    assert worklist_draw(ranked_ids=population, picks=7, randoms=3, seed=654321) != again


def test_random_controls_are_drawn_uniformly_from_the_rest_of_the_population() -> None:
    ranked_ids = list(range(1000, 1100))  # rank order; the first 5 are the model's picks
    counts = np.zeros(100, dtype=int)
    for seed in range(4000):
        for employer, random in worklist_draw(ranked_ids=ranked_ids, picks=5, randoms=5, seed=seed):
            if random:
                counts[employer - 1000] += 1
            else:
                assert employer < 1005
    assert counts[:5].sum() == 0
    # 20,000 draws over the 95 others: a chi-square test of uniformity (fixed seeds).
    assert chisquare(counts[5:]).pvalue > 0.01


def test_employers_inspected_recently_or_planned_are_left_out(ranked, inspector) -> None:
    today = timezone.localdate()
    InspectionFactory(employer=ranked.employer(1), status="completed", visit_date=today - dt.timedelta(days=30))
    InspectionFactory(employer=ranked.employer(2), status="planned", visit_date=None, planned_date=today)
    InspectionFactory(employer=ranked.employer(3), status="completed", visit_date=today - dt.timedelta(days=400))

    worklist = ask(inspector, size=3)

    picks = set(worklist.entries.filter(inspection__origin="ranked_list").values_list("employer_id", flat=True))
    assert picks == {ranked.employer(3).pk, ranked.employer(4).pk} and worklist.population == 118


def test_the_share_of_random_controls_is_set_in_the_admin(ranked, inspector) -> None:
    WorklistSettings.objects.update_or_create(pk=1, defaults={"random_share": Decimal("0.50")})

    worklist = ask(inspector, size=6)

    assert worklist.entries.filter(inspection__origin="random_control").count() == 3


def test_a_worklist_stays_within_the_users_regions(ranked, walloon_inspector) -> None:
    worklist = ask(walloon_inspector, size=5)

    regions = {entry.employer.subregion.region_id for entry in worklist.entries.select_related("employer__subregion")}
    assert regions == {"BE3"}
    assert worklist.population == sum(1 for s in ranked.scores if s.employer.subregion.region_id == "BE3")


def test_a_region_limits_the_population(ranked, task_force) -> None:
    worklist = ask(task_force, size=4, region=Region.objects.get(code="BE2"))

    assert {e.employer.subregion.region_id for e in worklist.entries.select_related("employer__subregion")} == {"BE2"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"size": "0"}, "Ensure this value is greater than or equal to 1."),
        # One employer at 30 %: no random control, so it would be a model pick for sure.
        ({"size": "1"}, "With 30 % random controls, a worklist must hold at least 2 employers."),
        ({"size": "201"}, "Ensure this value is less than or equal to 200."),
        ({"size": "ten"}, "Enter a whole number."),
        ({"size": "119"}, "Only 118 employers fit this choice"),
        ({"offence": "undeclared_work"}, "There are no published scores for this sector and offence type yet."),
        ({"offence": "tax"}, "Select a valid choice."),
        ({"region": "BE3", "subregion": "BE211"}, "That sub-region is not in that region."),
    ],
)
def test_bad_requests_get_a_message_and_plan_nothing(ranked, logged_in, data, message) -> None:
    today = timezone.localdate()
    InspectionFactory(employer=ranked.employer(1), status="completed", visit_date=today)
    InspectionFactory(employer=ranked.employer(2), status="completed", visit_date=today)
    before = Inspection.objects.count()

    response = logged_in.post(reverse("workspace:worklists"), {**FORM, **data})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Worklist.objects.exists() and Inspection.objects.count() == before


def _blind(html: str) -> None:
    for shown in ('class="band', ">Percentile<", ">Rank<", ">Why<", "Random control", "from the ranked lists"):
        assert shown not in html, shown


def test_nobody_can_tell_a_model_pick_from_a_random_control(ranked, logged_in, task_force, client) -> None:
    response = logged_in.post(reverse("workspace:worklists"), FORM, follow=True)
    worklist = Worklist.objects.get()
    assert response.status_code == 200 and f"Worklist {worklist.pk} is planned." in response.content.decode()

    page = logged_in.get(reverse("workspace:worklist_detail", args=[worklist.pk])).content.decode()
    _blind(page.split("<main", 1)[1])
    export = logged_in.get(reverse("workspace:worklist_export", args=[worklist.pk])).content.decode()
    rows = list(csv.reader(io.StringIO(export)))
    assert rows[0] == ["Position", "Reference", "Enterprise number", "Employer", "Address", "Sub-region"]
    assert len(rows) == 11
    _blind(export)
    for entry in worklist.entries.select_related("employer", "inspection"):
        employer_page = logged_in.get(reverse("workspace:employer_detail", args=[entry.employer.enterprise_number]))
        html = employer_page.content.decode()
        assert 'id="blinded"' in html
        _blind(html.split("<main", 1)[1])
        outcome = logged_in.get(reverse("workspace:inspection_outcome", args=[entry.inspection.reference]))
        _blind(outcome.content.decode().split("<main", 1)[1])
    # The task force sees the origin once the outcome is recorded.
    entry = worklist.entries.select_related("employer", "inspection").first()
    Inspection.objects.filter(pk=entry.inspection.pk).update(status="completed", visit_date=timezone.localdate())
    client.force_login(task_force)
    html = client.get(reverse("workspace:employer_detail", args=[entry.employer.enterprise_number])).content.decode()
    assert entry.inspection.get_origin_display() in html


def test_others_cannot_open_an_inspectors_worklist(ranked, inspector, colleague, client) -> None:
    worklist = ask(inspector)
    client.force_login(colleague)

    assert client.get(reverse("workspace:worklist_detail", args=[worklist.pk])).status_code == 404
    assert client.get(reverse("workspace:worklist_export", args=[worklist.pk])).status_code == 404


def test_a_completed_worklist_inspection_is_final_for_its_inspector(ranked, logged_in, inspector, task_force) -> None:
    """Completing shows the scores: reopening it, or changing its findings, would let an
    inspector look and then go on as if blinded. Only the task force corrects it."""
    from inspections.services.outcomes import inspection_outcome_record
    from tests.workspace.test_outcomes import form_data, outcome_url

    entry = ask(inspector).entries.select_related("inspection", "employer").first()
    inspection = entry.inspection
    assert (
        logged_in.post(outcome_url(inspection), form_data(visit_date=timezone.localdate().isoformat())).status_code
        == 302
    )

    reopened = logged_in.post(outcome_url(inspection), form_data(status="planned", visit_date=None))

    assert reopened.status_code == 403
    assert "its outcome is final. Ask the task force to correct it." in reopened.content.decode()
    inspection.refresh_from_db()
    assert inspection.status == "completed"
    assert 'id="outcome-final"' in logged_in.get(outcome_url(inspection)).content.decode()
    # The task force may correct it.
    inspection_outcome_record(
        inspection=inspection, user=task_force, status="planned", visit_date=None, summary="", findings=[]
    )
    inspection.refresh_from_db()
    assert inspection.status == "planned"


def test_an_inspectors_statistics_leave_out_their_own_worklist_inspections(ranked, inspector, task_force) -> None:
    """Else the figures before and after completing one would tell its origin."""
    from workspace.statistics import detection_rates

    entry = ask(inspector).entries.select_related("inspection").first()
    before = detection_rates(user=inspector, by="origin")
    Inspection.objects.filter(pk=entry.inspection.pk).update(status="completed", visit_date=timezone.localdate())

    assert detection_rates(user=inspector, by="origin") == before
    assert detection_rates(user=task_force, by="origin") != before


def test_the_scores_show_once_the_whole_worklist_is_done(ranked, logged_in, inspector) -> None:
    """One by one, the model picks among the first visits done would tell that the rest
    are random controls."""
    worklist = ask(inspector)
    entries = list(worklist.entries.select_related("inspection", "employer").order_by("position"))

    def blinded(entry) -> bool:
        page = logged_in.get(reverse("workspace:employer_detail", args=[entry.employer.enterprise_number]))
        return 'id="blinded"' in page.content.decode()

    done = [entry.inspection.pk for entry in entries[:-1]]
    Inspection.objects.filter(pk__in=done).update(status="completed", visit_date=timezone.localdate())
    assert all(blinded(entry) for entry in entries)  # one visit still to do: every employer hidden

    Inspection.objects.filter(pk=entries[-1].inspection.pk).update(status="cancelled")
    assert [blinded(entry) for entry in entries] == [False] * 9 + [True]  # a cancelled one stays hidden
