"""Reads over the inspectorate's data. Every employer read starts from visible_to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Count, QuerySet
from django.utils.translation import gettext_lazy as _

from inspections.models import (
    DataImport,
    Employer,
    Inspection,
    InspectionChange,
    InspectionStatus,
    InspectorScope,
    OffenceType,
    Region,
    ReportKind,
    Sector,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


@dataclass(frozen=True)
class SectorRegionCounts:
    """Employer counts as a table: one row per sector, one column per region."""

    regions: list[Region]
    rows: list[tuple[Sector, list[int], int]]
    column_totals: list[int]
    total: int


def employer_counts_by_sector_region(*, user: AbstractBaseUser | AnonymousUser) -> SectorRegionCounts:
    """Active employers the user may see, counted per sector and region in one query."""
    grouped = (
        Employer.objects.visible_to(user)
        .filter(end_date__isnull=True)
        .values("sector_id", "subregion__region_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {(row["sector_id"], row["subregion__region_id"]): row["n"] for row in grouped}
    regions = list(Region.objects.all())
    rows = []
    for sector in Sector.objects.all():
        cells = [counts.get((sector.code, region.code), 0) for region in regions]
        rows.append((sector, cells, sum(cells)))
    column_totals = [sum(row[1][i] for row in rows) for i in range(len(regions))]
    return SectorRegionCounts(regions, rows, column_totals, sum(column_totals))


@dataclass(frozen=True)
class OutcomeChangeShown:
    """One recorded change of an outcome, as lines of "what: before → after"."""

    change: InspectionChange
    lines: list[tuple[str, str, str]]


def outcome_history(*, inspection: Inspection) -> list[OutcomeChangeShown]:
    """The inspection's outcome changes, newest first, each with what it changed (two queries:
    the offence names and the changes)."""
    names = {offence.code: offence.name for offence in OffenceType.objects.all()}
    changes = inspection.changes.select_related("changed_by")
    return [OutcomeChangeShown(change=change, lines=_change_lines(change, names)) for change in changes]


def _change_lines(change: InspectionChange, names: dict[str, str]) -> list[tuple[str, str, str]]:
    before, after = change.before, change.after
    lines = []
    statuses = dict(InspectionStatus.choices)
    if before["status"] != after["status"]:
        lines.append(
            (str(_("Status")), str(statuses.get(before["status"], "")), str(statuses.get(after["status"], "")))
        )
    if before.get("planned_date") != after.get("planned_date"):
        lines.append((str(_("Planned date")), before.get("planned_date") or "—", after.get("planned_date") or "—"))
    if before["visit_date"] != after["visit_date"]:
        lines.append((str(_("Visit date")), before["visit_date"] or "—", after["visit_date"] or "—"))
    if before["summary"] != after["summary"]:
        lines.append((str(_("Summary")), before["summary"] or "—", after["summary"] or "—"))
    for code in sorted(set(before["findings"]) | set(after["findings"])):
        old, new = before["findings"].get(code), after["findings"].get(code)
        if old != new:
            lines.append((names.get(code, code), _finding_text(old), _finding_text(new)))
    return lines


def _finding_text(finding: dict | None) -> str:
    if finding is None:
        return str(_("not checked"))
    if not finding["found"]:
        return str(_("not found")) + _report_text(finding)
    return str(_("found, %(workers)s workers regularised, EUR %(amount)s")) % {
        "workers": finding["workers_regularised"],
        "amount": finding["contributions_recovered"],
    } + _report_text(finding)


def _report_text(finding: dict) -> str:
    if finding["report"] == ReportKind.NONE:
        return ""
    return "; " + str(dict(ReportKind.choices).get(finding["report"], finding["report"]))


@dataclass(frozen=True)
class ImportProgress:
    """How far a queued or running import is, as its worker last told (services.data_imports)."""

    phase: str  # waiting, converting, checking, writing, done; "" before the worker took it
    done: int
    total: int

    @property
    def label(self) -> str:
        return str(_PHASES.get(self.phase, _("Queued")))

    @property
    def share(self) -> float | None:
        """Share of rows checked, or None while no count is known (the bar then spins)."""
        if self.phase == "checking" and self.total:
            return min(self.done / self.total, 1.0)
        return None


_PHASES = {
    "waiting": _("Waiting for the import of the same kind before it"),
    "converting": _("Reading the workbook"),
    "checking": _("Checking rows"),
    "writing": _("Writing"),
    "done": _("Finishing"),
}


def data_import_progress(*, data_import: DataImport) -> ImportProgress:
    from inspections.services.data_imports import progress_read

    told = progress_read(data_import.pk) if data_import.status == DataImport.Status.RUNNING else {}
    return ImportProgress(str(told.get("phase", "")), int(told.get("done", 0)), int(told.get("total", 0)))


def data_imports_listed() -> QuerySet[DataImport]:
    """The import history, newest first: everyone who may see it sees all of it."""
    return DataImport.objects.select_related("created_by").defer("errors")


def scope_places(*, user: AbstractBaseUser | AnonymousUser) -> list[str] | None:
    """The names of the regions, then the sub-regions, a limited user's scope names (in the
    reader's language); None for a user who is not limited. Three queries, for limited users
    only: whoever is limited is told so, or a short list reads as missing data."""
    # The codes are kept on the user once a page has read through visible_to: no query
    # here for a user who is not limited.
    if not user.is_authenticated or InspectorScope.subregion_codes_for(user) is None:
        return None
    scope = InspectorScope.objects.filter(user_id=user.pk).first()
    if scope is None:
        return None
    return [region.name for region in scope.regions.order_by("code")] + [
        subregion.name for subregion in scope.subregions.order_by("code")
    ]
