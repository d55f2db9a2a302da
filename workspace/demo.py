"""Demo only: worklists with outcomes, so that a new user of `make demo` sees statistics.

The demo task force draws a worklist per offence type in construction for the demo
inspector, and most of each gets an outcome. What the inspections "find" is simulated
from the generator's ground truth (the demo writes it beside the data): an employer that
commits the offence is caught three times in four, one that does not gets a finding once
in thirty (inspectors miss fraud, and write up the odd honest mistake). These figures are
the demo's assumptions, not measurements; on real data the outcomes are recorded by
people.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
from django.contrib.auth import get_user_model
from django.utils import timezone

from inspections.models import OffenceType
from inspections.services.outcomes import FindingOutcome, inspection_outcome_record
from workspace.models import Worklist
from workspace.worklists import WorklistRequest, worklist_create

SECTOR = "construction"
SIZE = 40
RECORDED = 30  # of each worklist's entries, the first by position get an outcome
CAUGHT, FALSE_FINDING = 0.75, 1 / 30


def demo_worklists_ensure(*, truth_path: Path, as_of: date, seed: int = 0) -> int:
    """Draw the demo worklists and record outcomes from the truth; returns the outcomes
    recorded (0, and nothing done, when worklists exist already or the truth is missing)."""
    if Worklist.objects.exists() or not truth_path.exists():
        return 0
    users = get_user_model().objects
    lead, inspector = users.get(username="taskforce"), users.get(username="inspector")
    truth = _truth_read(truth_path)
    rng = np.random.default_rng(seed)
    recorded = 0
    for number, offence in enumerate(OffenceType.objects.order_by("code").values_list("code", flat=True)):
        request = WorklistRequest(SECTOR, offence, SIZE, inspector=inspector)
        worklist = worklist_create(user=lead, request=request, seed=seed + number)
        entries = worklist.entries.select_related("employer", "inspection").order_by("position")[:RECORDED]
        for entry in entries:
            commits = truth.get(entry.employer.enterprise_number, {}).get(offence, False)
            found = rng.random() < (CAUGHT if commits else FALSE_FINDING)
            workers = int(rng.integers(1, 5)) if found else 0
            inspection_outcome_record(
                inspection=entry.inspection,
                user=inspector,
                status="completed",
                visit_date=min(as_of + timedelta(days=int(rng.integers(1, 45))), timezone.localdate()),
                summary="",
                findings=[FindingOutcome(offence, found, workers, Decimal(1450 * workers))],
            )
            recorded += 1
    return recorded


def _truth_read(path: Path) -> dict[str, dict[str, bool]]:
    """enterprise number -> offence code -> commits it (the generator's truth CSV)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        offences = [name for name in reader.fieldnames or [] if name not in ("enterprise_number", "sector")]
        return {row["enterprise_number"]: {name: row[name] == "1" for name in offences} for row in reader}
