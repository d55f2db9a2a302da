"""Reads over the inspectorate's data. Every employer read starts from visible_to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Count

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
