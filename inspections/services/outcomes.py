"""Recording what an inspection found, outside the admin.

The task force records the outcome of any inspection of the employers it may see; an
inspector records the outcome of the inspections planned for them (Inspection.
outcome_editable_by). Every change is kept with who made it and when (InspectionChange):
the outcome before and after, so the history on the inspection page needs no diffing of
other tables. The next nightly retrain reads the findings like any imported ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inspections.models import (
    Employer,
    Finding,
    Inspection,
    InspectionChange,
    InspectionStatus,
    OffenceType,
    ReportKind,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

SUMMARY_MAX_CHARS = 5000
MAX_AMOUNT = Decimal("999999999999.99")  # the column's 14 digits, 2 after the point
# Findings belong to a visit that has at least begun.
STATUSES_WITH_FINDINGS = (InspectionStatus.IN_PROGRESS, InspectionStatus.COMPLETED)


@dataclass(frozen=True)
class FindingOutcome:
    """What the inspection found for one offence type it checked."""

    offence: str
    found: bool
    workers_regularised: int = 0
    contributions_recovered: Decimal = Decimal(0)
    report: str = ReportKind.NONE


def outcome_snapshot(inspection: Inspection) -> dict[str, Any]:
    """The recorded outcome as plain JSON: status, planned and visit dates, summary, findings by offence."""
    return {
        "status": inspection.status,
        "planned_date": inspection.planned_date.isoformat() if inspection.planned_date else None,
        "visit_date": inspection.visit_date.isoformat() if inspection.visit_date else None,
        "summary": inspection.summary,
        "findings": {
            finding.offence_type_id: {
                "found": finding.found,
                "workers_regularised": finding.workers_regularised,
                "contributions_recovered": str(Decimal(finding.contributions_recovered).quantize(Decimal("0.01"))),
                "report": finding.report,
            }
            for finding in inspection.findings.order_by("offence_type_id")
        },
    }


def inspection_outcome_record(
    *,
    inspection: Inspection,
    user: AbstractBaseUser,
    status: str,
    visit_date: date | None,
    summary: str,
    findings: list[FindingOutcome],
) -> Inspection:
    """Store the outcome as given (findings of offence types not listed are removed) and keep
    the change; PermissionDenied or ValidationError, in words, and nothing stored otherwise."""
    if not _in_scope(inspection, user):
        raise PermissionDenied(_("You may not record the outcome of this inspection."))
    summary = _outcome_check(status=status, visit_date=visit_date, summary=summary, findings=findings)
    with transaction.atomic():
        locked = Inspection.objects.select_for_update().get(pk=inspection.pk)
        before = outcome_snapshot(locked)
        locked.status, locked.visit_date, locked.summary = status, visit_date, summary
        locked.clean()
        locked.save(update_fields=["status", "visit_date", "summary"])
        _findings_store(locked, findings)
        outcome_change_keep(inspection=locked, user=user, before=before)
    return locked


def outcome_change_keep(*, inspection: Inspection, user: AbstractBaseUser, before: dict[str, Any] | None) -> None:
    """Keep a change of the outcome (`before`: its snapshot, None for a new inspection), if any;
    the admin calls this too, so that no way of changing an outcome leaves it out."""
    before = before or {"status": None, "planned_date": None, "visit_date": None, "summary": "", "findings": {}}
    after = outcome_snapshot(inspection)
    if after != before:
        InspectionChange.objects.create(
            inspection=inspection, changed_by=user, changed_at=timezone.now(), before=before, after=after
        )


def _in_scope(inspection: Inspection, user: AbstractBaseUser) -> bool:
    visible = Employer.objects.visible_to(user).filter(pk=inspection.employer_id).exists()
    return visible and inspection.outcome_editable_by(user)


def _outcome_check(*, status: str, visit_date: date | None, summary: str, findings: list[FindingOutcome]) -> str:
    """The summary as stored; ValidationError listing every problem otherwise."""
    errors = []
    if status not in InspectionStatus.values:
        errors.append(_("Choose a status from the list."))
    if visit_date is not None and visit_date > timezone.localdate():
        errors.append(_("The visit date %(date)s lies in the future.") % {"date": visit_date.isoformat()})
    if status == InspectionStatus.COMPLETED and visit_date is None:
        errors.append(_("A completed inspection needs a visit date."))
    if status == InspectionStatus.COMPLETED and not findings:
        errors.append(_("Tick at least one offence type the inspection checked."))
    if findings and status not in STATUSES_WITH_FINDINGS:
        errors.append(_("Findings are recorded once the inspection is in progress or completed."))
    errors.extend(_findings_problems(findings))
    summary = (summary or "").strip()
    if len(summary) > SUMMARY_MAX_CHARS:
        errors.append(
            _("The summary holds at most %(max)d characters; this one has %(count)d.")
            % {"max": SUMMARY_MAX_CHARS, "count": len(summary)}
        )
    if "\x00" in summary:
        errors.append(_("The summary holds a character that cannot be stored."))
    if errors:
        raise ValidationError(errors)
    return summary


def _findings_problems(findings: list[FindingOutcome]) -> list[str]:
    known = {offence.code: offence.name for offence in OffenceType.objects.all()}
    problems = []
    offences = [finding.offence for finding in findings]
    if len(set(offences)) != len(offences):
        problems.append(_("Each offence type can be checked once per inspection."))
    for finding in findings:
        name = known.get(finding.offence)
        if name is None:
            problems.append(_("Unknown offence type: %(code)s.") % {"code": finding.offence})
            continue
        problems.extend(_finding_problems(finding, name))
    return problems


def _finding_problems(finding: FindingOutcome, name: str) -> list[str]:
    problems = []
    if finding.workers_regularised < 0 or finding.contributions_recovered < 0:
        problems.append(_("%(offence)s: workers and amounts cannot be negative.") % {"offence": name})
    if finding.contributions_recovered > MAX_AMOUNT or finding.contributions_recovered != round(
        finding.contributions_recovered, 2
    ):
        problems.append(_("%(offence)s: the amount must be in euros and cents, below a trillion.") % {"offence": name})
    if not finding.found and (finding.workers_regularised or finding.contributions_recovered):
        problems.append(
            _("%(offence)s: nothing can be regularised or recovered when no offence was found.") % {"offence": name}
        )
    if finding.report not in ReportKind.values:
        problems.append(_("%(offence)s: choose the report from the list.") % {"offence": name})
    return problems


def _findings_store(inspection: Inspection, findings: list[FindingOutcome]) -> None:
    """One row per offence checked: bounded by the few offence types, not by employers."""
    inspection.findings.exclude(offence_type_id__in=[finding.offence for finding in findings]).delete()
    for finding in findings:
        Finding.objects.update_or_create(
            inspection=inspection,
            offence_type_id=finding.offence,
            defaults={
                "found": finding.found,
                "workers_regularised": finding.workers_regularised,
                "contributions_recovered": finding.contributions_recovered,
                "report": finding.report,
            },
        )
