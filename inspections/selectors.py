"""Reads over the inspectorate's data. Every employer read starts from visible_to."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Count, QuerySet
from django.utils.translation import get_language

from inspections.models import Employer, Region, Sector

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


# (SQL of the queryset, language) -> (when read, choices)
_REFERENCE_CHOICES: dict[tuple[str, str | None], tuple[float, list[tuple[str, str]]]] = {}
REFERENCE_SECONDS = 60


def reference_choices(queryset: QuerySet) -> list[tuple[str, str]]:
    """(code, name in the current language) of reference rows (sectors, offence types,
    regions, sub-regions), kept a minute by each process.

    The list's filter form shows them on every page it renders: reading and rendering them
    as model choices took a third of an uncached list page. They change only through a
    migration or the admin; the minute bounds how long a renamed one shows its old name.
    """
    key = (str(queryset.query), get_language())
    now = time.monotonic()
    found = _REFERENCE_CHOICES.get(key)
    if found is None or now - found[0] > REFERENCE_SECONDS:
        found = (now, [(row.pk, str(row)) for row in queryset])
        _REFERENCE_CHOICES[key] = found
    return found[1]


def reference_choices_forget() -> None:
    """Read reference rows afresh next time (tests that change them)."""
    _REFERENCE_CHOICES.clear()
