"""The demo's worklists and simulated outcomes, so a new user sees the statistics filled in."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth.models import Group

from inspections.models import Finding, Inspection, OffenceType
from inspections.roles import INSPECTOR, TASK_FORCE
from tests.factories import UserFactory
from tests.workspace.support import publish_run
from workspace import statistics
from workspace.demo import RECORDED, SIZE, demo_worklists_ensure
from workspace.models import Worklist

pytestmark = pytest.mark.django_db

OFFENCES = ["bogus_self_employment", "part_time_abuse", "temporary_layoff_fraud", "undeclared_work"]


def test_the_demo_draws_worklists_and_records_outcomes_from_the_truth(tmp_path) -> None:
    runs = {offence: publish_run(60, sector="construction", offence=offence) for offence in OFFENCES}
    lead = UserFactory(username="taskforce")
    lead.groups.add(Group.objects.get(name=TASK_FORCE))
    UserFactory(username="inspector").groups.add(Group.objects.get(name=INSPECTOR))
    truth = tmp_path / "truth.csv"
    with truth.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["enterprise_number", "sector", *OFFENCES])
        for offence, published in runs.items():
            for score in published.scores:  # the top third commits the offence of its run
                row = [int(o == offence and score.rank <= 20) for o in OFFENCES]
                writer.writerow([score.employer.enterprise_number, "construction", *row])

    recorded = demo_worklists_ensure(truth_path=truth, as_of=dt.date(2026, 10, 1), seed=1)

    assert recorded == 4 * RECORDED and Worklist.objects.count() == 4
    assert Inspection.objects.filter(status="completed", worklist_entry__isnull=False).count() == recorded
    assert set(Worklist.objects.values_list("size", flat=True)) == {SIZE}
    lifts = statistics.worklist_lifts(user=lead)
    assert sorted(lift.offence for lift in lifts) == sorted(OffenceType.objects.get(pk=o).name for o in OFFENCES)
    # The model's picks (the top ranks, where the truth put the fraud) are found far more often.
    picks = sum(lift.picks.found for lift in lifts) / sum(lift.picks.inspections for lift in lifts)
    controls = sum(lift.controls.found for lift in lifts) / sum(lift.controls.inspections for lift in lifts)
    assert picks > 0.4 > 0.15 > controls
    assert Finding.objects.filter(inspection__worklist_entry__isnull=False).count() == recorded
    # Run again: nothing more.
    assert demo_worklists_ensure(truth_path=truth, as_of=dt.date(2026, 10, 1), seed=1) == 0


def test_the_demo_command_writes_a_risk_profile_for_every_sector_and_offence(monkeypatch, client) -> None:
    from django.core.management import call_command
    from django.urls import reverse

    from inspections.models import Sector
    from workspace.management.commands.demo import Command
    from workspace.models import RiskProfile

    # The data, models and worklists are other tests' business: here only the profiles.
    for step in ("_ensure_data", "_ensure_scores", "_ensure_worklists"):
        monkeypatch.setattr(Command, step, lambda self, **kwargs: None)
    kept = RiskProfile.objects.create(sector_id="cleaning", offence_type_id="undeclared_work", patterns="Ours.")

    call_command("demo", no_serve=True, stdout=io.StringIO())

    pairs = Sector.objects.count() * OffenceType.objects.count()
    profiles = RiskProfile.objects.all()
    assert pairs == 12 and len(profiles) == pairs
    assert all(p.patterns and p.on_site for p in profiles if p.pk != kept.pk)
    kept.refresh_from_db()
    assert kept.patterns == "Ours." and kept.on_site == ""
    client.force_login(UserFactory(username="reader"))
    assert "Not written yet" not in client.get(reverse("workspace:risk_profiles")).content.decode()
