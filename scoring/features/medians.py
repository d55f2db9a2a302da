"""Sector medians of wage per FTE per quarter (scoring.models.SectorQuarterWage)."""

from __future__ import annotations

from datetime import date

from django.db import connection

_REFRESH_SQL = """
INSERT INTO scoring_sectorquarterwage (sector_id, quarter, wage_per_fte, declarations, computed_at)
SELECT e.sector_id, d.quarter,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY d.gross_wages::float8 / d.fte::float8) FILTER (WHERE d.fte > 0),
    count(*), now()
FROM inspections_declaration d JOIN inspections_employer e ON e.id = d.employer_id
WHERE e.sector_id = ANY (%(sectors)s) AND d.quarter = ANY (%(quarters)s)
GROUP BY e.sector_id, d.quarter
ON CONFLICT (sector_id, quarter) DO UPDATE
SET wage_per_fte = EXCLUDED.wage_per_fte, declarations = EXCLUDED.declarations, computed_at = EXCLUDED.computed_at
"""

# Every declared quarter, by a loose index scan on declaration_quarter (a few probes).
_QUARTERS_SQL = """
WITH RECURSIVE quarters(quarter) AS (
    SELECT min(quarter) FROM inspections_declaration
    UNION ALL
    SELECT (SELECT min(quarter) FROM inspections_declaration WHERE quarter > quarters.quarter)
    FROM quarters WHERE quarters.quarter IS NOT NULL
)
SELECT quarter FROM quarters WHERE quarter IS NOT NULL
"""


def declared_quarters() -> list[date]:
    with connection.cursor() as cursor:
        cursor.execute(_QUARTERS_SQL)
        return [row[0] for row in cursor.fetchall()]


def _all_sectors() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT code FROM inspections_sector")
        return [row[0] for row in cursor.fetchall()]


def sector_wage_medians_refresh(*, sectors: list[str] | None = None, quarters: list[date] | None = None) -> int:
    """Recompute the medians of these sectors and quarters (all of them by default)."""
    sectors = sectors if sectors is not None else _all_sectors()
    quarters = quarters if quarters is not None else declared_quarters()
    if not sectors or not quarters:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_REFRESH_SQL, {"sectors": sectors, "quarters": quarters})
        return cursor.rowcount


def sector_wage_medians_ensure(*, sectors: list[str]) -> int:
    """Compute the medians of declared quarters that have none yet (cheap when all exist)."""
    quarters = declared_quarters()
    with connection.cursor() as cursor:
        cursor.execute("SELECT sector_id, quarter FROM scoring_sectorquarterwage WHERE sector_id = ANY (%s)", [sectors])
        present = set(cursor.fetchall())
    missing = sorted({quarter for sector in sectors for quarter in quarters if (sector, quarter) not in present})
    if not missing:
        return 0
    return sector_wage_medians_refresh(sectors=sectors, quarters=missing)
