"""Is a sector's declaration data fresh enough to score it as of a date?

The features read the declarations of the last HISTORY_QUARTERS quarters that had ended
by the as-of date (features.computation; a quarter has ended by a date when its first
day plus three months is on or before it). If most employers have not declared the
latest of them yet (an import that has not arrived, an as-of date past the data), their
features rest on fewer, older quarters and the scores quietly lose their meaning. A
scoring run therefore first counts, for each quarter of the window, how many of the
sector's employers active in that quarter declared it, and is refused when too few did.

Cheap at a million employers: the declarations per sector and quarter are already
counted next to the sector medians (scoring_sectorquarterwage), so one statement reads
the sector's employers once and those counts, never the declarations. The triggers on
the declaration table forget a quarter's counts when its declarations change; the check
then has them computed with the medians, as the feature statement would next, and reads
them again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from django.db import connection

from scoring.features.computation import HISTORY_QUARTERS
from scoring.features.medians import sector_wage_medians_ensure

# The latest quarters the threshold applies to: the features compare the last two with
# the two before (headcount, temporary unemployment) and read the debt of the last two,
# so a gap in either moves the scores. Older quarters are only reported: a data set may
# hold less history than the window, and the features average what there is.
CHECKED_QUARTERS = 2

# Employers active in quarter i: started before it ended, not closed before it began.
_EMPLOYED = "count(*) FILTER (WHERE start_date < %(end_{i})s AND (end_date IS NULL OR end_date > %(start_{i})s))"

_FRESHNESS_SQL = """
WITH employed AS (
    SELECT count(*) FILTER (WHERE end_date IS NULL OR end_date > %(as_of)s) AS active,
        ARRAY[{employed}]::bigint[] AS employed
    FROM inspections_employer
    WHERE sector_id = %(sector)s AND start_date <= %(as_of)s
)
SELECT active, employed, ARRAY(
    SELECT m.declarations
    FROM unnest(%(quarters)s::date[]) WITH ORDINALITY AS q(quarter, position)
    LEFT JOIN scoring_sectorquarterwage m ON m.sector_id = %(sector)s AND m.quarter = q.quarter
    ORDER BY q.position
) AS declared
FROM employed
"""


@dataclass(frozen=True)
class QuarterDeclared:
    """One quarter of the window: the sector's employers active in it, and how many declared it."""

    quarter: date
    employers: int
    declared: int

    @property
    def share(self) -> float | None:
        """Share of the employers that declared it; None when none was active then."""
        return min(1.0, self.declared / self.employers) if self.employers else None


@dataclass(frozen=True)
class Freshness:
    """What a run's features would read: the window's quarters, newest first."""

    sector: str
    as_of: date
    active: int  # active on the as-of date: the employers a run scores
    quarters: tuple[QuarterDeclared, ...]

    @property
    def latest_declared(self) -> date | None:
        """The newest quarter of the window that holds any declaration: what the scores rest on."""
        return next((quarter.quarter for quarter in self.quarters if quarter.declared), None)

    def as_json(self) -> dict[str, dict[str, int]]:
        """Per quarter (ISO date), declarations and employers active in it: stored on the run."""
        return {
            quarter.quarter.isoformat(): {"declared": quarter.declared, "employers": quarter.employers}
            for quarter in self.quarters
        }


def quarter_start(day: date) -> date:
    """The first day of the quarter `day` falls in."""
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def quarter_shift(quarter: date, quarters: int) -> date:
    """The first day of the quarter `quarters` later (earlier when negative)."""
    months = quarter.year * 12 + quarter.month - 1 + 3 * quarters
    return date(months // 12, months % 12 + 1, 1)


def quarters_ended_by(as_of: date, count: int = HISTORY_QUARTERS) -> list[date]:
    """The first days of the `count` quarters that had ended by `as_of`, newest first: the
    window of the feature statement (tests/scoring/test_freshness.py holds the two together)."""
    latest = quarter_shift(quarter_start(as_of), -1)
    return [quarter_shift(latest, -back) for back in range(count)]


def declarations_freshness(*, sector: str, as_of: date, quarters: int = HISTORY_QUARTERS) -> Freshness:
    """The declared share of each of the last `quarters` quarters ended by `as_of`: one
    statement while every quarter's count is kept."""
    window = quarters_ended_by(as_of, quarters)
    params: dict[str, object] = {"sector": sector, "as_of": as_of, "quarters": window}
    for i, quarter in enumerate(window):
        params[f"start_{i}"] = quarter
        params[f"end_{i}"] = quarter_shift(quarter, 1)
    statement = _FRESHNESS_SQL.format(employed=", ".join(_EMPLOYED.format(i=i) for i in range(len(window))))
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        active, employers, declared = cursor.fetchone()
        if None in declared:
            # Not counted since its declarations changed. Counting it here would be done twice:
            # the feature statement computes it next, with the medians.
            sector_wage_medians_ensure(sectors=[sector])
            cursor.execute(statement, params)
            active, employers, declared = cursor.fetchone()
    return Freshness(
        sector=sector,
        as_of=as_of,
        active=active,
        # Still none: the sector declared nothing in that quarter.
        quarters=tuple(
            QuarterDeclared(quarter, employed, count or 0)
            for quarter, employed, count in zip(window, employers, declared, strict=True)
        ),
    )


def freshness_refusal(*, freshness: Freshness, minimum: float) -> str | None:
    """Why a run on these data would rest on stale data, in words; None when they are fresh enough."""
    for quarter in freshness.quarters[:CHECKED_QUARTERS]:
        share = quarter.share
        if share is not None and share < minimum:
            return (
                f"Only {_percent(share)} of {freshness.sector}'s active employers have declared the quarter "
                f"{quarter.quarter.isoformat()}; the scores as of {freshness.as_of.isoformat()} would rest on "
                f"stale data. At least {_percent(minimum)} are needed (SCORING_MIN_DECLARED_SHARE); the previous "
                "scores stay published."
            )
    return None


def _percent(share: float) -> str:
    """Rounded down, as the message compares with the minimum: 49.6 % is not 50 %."""
    return f"{math.floor(share * 100 + 1e-9)} %"
