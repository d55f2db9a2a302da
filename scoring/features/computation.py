"""Point-in-time features, in bulk: one SQL statement for every employer at once.

Targets are (employer_id, as_of) pairs: all active employers of a sector on one date
(scoring), or the inspected employers on their visit dates (training). A feature as of
a date uses only what was known before it:

- declarations of the twelve quarters that had ended by the as-of date
  (quarter + 3 months <= as_of): long-run levels over all twelve, recent levels over
  the last four, their trends, volatility and the seasonal pattern;
- inspections visited strictly before the as-of date, with their findings;
- the employer's start date.

The statement is the whole computation: PostgreSQL aggregates, Python only reads the
result (features_read), which is also what the scoring benchmark's floor copies out.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import IO

import numpy as np
import pandas as pd
from django.db import connection

from .medians import sector_wage_medians_ensure
from .registry import FEATURE_NAMES
from .streaming import copy_followed

HISTORY_QUARTERS = 12  # quarters of declarations a feature may read (long-run levels and patterns)
RECENT_QUARTERS = 4  # of which "recent": the last year (the SQL's 15-month bound)

# Declarations in the window: the HISTORY_QUARTERS quarters ended by as_of (long-run levels,
# volatility, seasonal pattern); "recent" = the last RECENT_QUARTERS of them, "earlier" =
# the ones before (trends); "last two" and "two before" for changes within the last year.
# Performance: the amounts are aggregated as float8 (numeric sums and averages are several
# times slower, and numeric averages print 20 digits that features_read then parses). The
# sector medians per quarter come from scoring_sectorquarterwage (features.medians), kept
# up to date outside this statement: sorting every quarter's declarations here dominated
# the training query.
_FEATURES_SQL = """
WITH targets AS ({targets}),
declared AS (
    SELECT t.employer_id, t.as_of,
        count(*) AS quarters,
        avg(d.headcount::float8) AS heads,
        stddev_pop(d.headcount::float8) AS heads_sd,
        avg(d.headcount::float8) FILTER (WHERE d.quarter > t.as_of - interval '15 months') AS heads_recent,
        avg(d.headcount::float8) FILTER (WHERE d.quarter <= t.as_of - interval '15 months') AS heads_earlier,
        avg(d.headcount::float8) FILTER (WHERE d.quarter > t.as_of - interval '9 months') AS heads_last_two,
        avg(d.headcount::float8) FILTER (WHERE d.quarter > t.as_of - interval '15 months'
                                           AND d.quarter <= t.as_of - interval '9 months') AS heads_two_before,
        avg(d.headcount::float8) FILTER (WHERE extract(month FROM d.quarter) = 1) AS heads_q1,
        avg(d.headcount::float8) FILTER (WHERE extract(month FROM d.quarter) = 4) AS heads_q2,
        avg(d.headcount::float8) FILTER (WHERE extract(month FROM d.quarter) = 7) AS heads_q3,
        avg(d.headcount::float8) FILTER (WHERE extract(month FROM d.quarter) = 10) AS heads_q4,
        sum(d.headcount) AS head_quarters,
        sum(d.fte::float8) AS fte,
        sum(d.fte::float8) FILTER (WHERE d.quarter > t.as_of - interval '15 months') AS fte_recent,
        sum(d.fte::float8) FILTER (WHERE d.quarter <= t.as_of - interval '15 months') AS fte_earlier,
        sum(d.declared_hours::float8) AS hours,
        sum(d.declared_hours::float8) FILTER (WHERE d.quarter > t.as_of - interval '15 months') AS hours_recent,
        sum(d.declared_hours::float8) FILTER (WHERE d.quarter <= t.as_of - interval '15 months') AS hours_earlier,
        sum(d.gross_wages::float8) AS wages,
        sum(d.gross_wages::float8) FILTER (WHERE d.quarter > t.as_of - interval '15 months') AS wages_recent,
        sum(d.gross_wages::float8) FILTER (WHERE d.quarter <= t.as_of - interval '15 months') AS wages_earlier,
        count(*) FILTER (WHERE d.quarter > t.as_of - interval '15 months') AS quarters_recent,
        sum(d.part_time_share::float8 * d.headcount) AS part_timers,
        avg(d.part_time_share::float8) AS part_time_share,
        avg(d.part_time_share::float8) FILTER (WHERE d.quarter > t.as_of - interval '15 months') AS part_time_recent,
        avg(d.part_time_share::float8) FILTER (WHERE d.quarter <= t.as_of - interval '15 months') AS part_time_earlier,
        sum(d.hires) AS hires,
        sum(d.exits) AS exits,
        sum(d.short_contracts) AS short_contracts,
        sum(d.posted_workers) AS posted,
        sum(d.temporary_unemployment_days) AS layoff_days,
        sum(d.temporary_unemployment_days::float / nullif(d.headcount, 0))
            FILTER (WHERE d.quarter > t.as_of - interval '9 months') AS layoff_last_two,
        sum(d.temporary_unemployment_days::float / nullif(d.headcount, 0))
            FILTER (WHERE d.quarter > t.as_of - interval '15 months'
                      AND d.quarter <= t.as_of - interval '9 months') AS layoff_two_before,
        avg(d.temporary_unemployment_days::float / nullif(d.headcount, 0))
            FILTER (WHERE extract(month FROM d.quarter) IN (4, 7)) AS layoff_spring_summer,
        avg(d.social_security_debt::float8) FILTER (WHERE d.quarter > t.as_of - interval '9 months') AS debt
    FROM targets t
    JOIN inspections_declaration d ON d.employer_id = t.employer_id
     AND d.quarter > t.as_of - interval '{history_months} months' AND d.quarter <= t.as_of - interval '3 months'
    GROUP BY t.employer_id, t.as_of
),
windows AS (
    SELECT DISTINCT e.sector_id, t.as_of FROM targets t JOIN inspections_employer e ON e.id = t.employer_id
),
quarter_median AS (
    SELECT m.sector_id, m.quarter, m.wage_per_fte FROM scoring_sectorquarterwage m
    WHERE m.sector_id = ANY (ARRAY(SELECT DISTINCT sector_id FROM windows))
),
sector_median AS (
    SELECT w.sector_id, w.as_of, avg(m.wage_per_fte) AS wage_per_fte
    FROM windows w JOIN quarter_median m ON m.sector_id = w.sector_id
     AND m.quarter > w.as_of - interval '{history_months} months' AND m.quarter <= w.as_of - interval '3 months'
    GROUP BY w.sector_id, w.as_of
),
history AS (
    SELECT t.employer_id, t.as_of, count(DISTINCT i.id) AS inspections, count(f.id) FILTER (WHERE f.found) AS findings,
        count(f.id) FILTER (WHERE f.found AND f.offence_type_id = 'undeclared_work') AS undeclared_work,
        count(f.id) FILTER (WHERE f.found AND f.offence_type_id = 'part_time_abuse') AS part_time_abuse,
        count(f.id) FILTER (WHERE f.found AND f.offence_type_id = 'bogus_self_employment') AS bogus_self_employment,
        count(f.id) FILTER (WHERE f.found AND f.offence_type_id = 'temporary_layoff_fraud') AS temporary_layoff_fraud,
        max(i.visit_date) AS last_visit
    FROM targets t
    JOIN inspections_inspection i ON i.employer_id = t.employer_id
     AND i.status = 'completed' AND i.visit_date < t.as_of
    LEFT JOIN inspections_finding f ON f.inspection_id = i.id
    GROUP BY t.employer_id, t.as_of
)
SELECT t.employer_id, t.as_of,
    (d.wages / nullif(d.fte, 0)) / nullif(s.wage_per_fte, 0) - 1 AS wage_per_fte_vs_sector,
    (d.wages_recent / nullif(d.fte_recent, 0)) / nullif(d.wages_earlier / nullif(d.fte_earlier, 0), 0) - 1
        AS wage_per_fte_change,
    d.hours / nullif(d.fte, 0) AS hours_per_fte,
    (d.hours_recent / nullif(d.fte_recent, 0)) / nullif(d.hours_earlier / nullif(d.fte_earlier, 0), 0) - 1
        AS hours_per_fte_change,
    d.fte / nullif(d.head_quarters, 0) AS fte_per_worker,
    d.part_time_share,
    d.part_time_recent - d.part_time_earlier AS part_time_share_change,
    -- greatest/least skip NULLs: without part-timers this would be 1, not NULL.
    CASE WHEN d.part_timers > 0 THEN greatest(0, least(1, (d.fte - (d.head_quarters - d.part_timers)) / d.part_timers))
        END AS part_time_fraction,
    d.heads_recent AS headcount,
    d.heads_last_two / nullif(d.heads_two_before, 0) - 1 AS headcount_change,
    d.heads_recent / nullif(d.heads_earlier, 0) - 1 AS headcount_trend,
    d.heads_sd / nullif(d.heads, 0) AS headcount_volatility,
    -- Only with every season declared: greatest/least would skip a missing one.
    CASE WHEN d.heads_q1 IS NOT NULL AND d.heads_q2 IS NOT NULL AND d.heads_q3 IS NOT NULL AND d.heads_q4 IS NOT NULL
        THEN (greatest(d.heads_q1, d.heads_q2, d.heads_q3, d.heads_q4)
              - least(d.heads_q1, d.heads_q2, d.heads_q3, d.heads_q4)) / nullif(d.heads, 0) END
        AS headcount_seasonality,
    d.hires * 4.0 / d.quarters / nullif(d.heads, 0) AS hires_per_worker,
    d.exits * 4.0 / d.quarters / nullif(d.heads, 0) AS exits_per_worker,
    d.short_contracts::float / nullif(d.hires, 0) AS short_contract_share,
    d.layoff_days * 4.0 / d.quarters / nullif(d.heads, 0) AS layoff_days_per_worker,
    d.layoff_last_two - d.layoff_two_before AS layoff_days_change,
    CASE WHEN d.quarters > 0 THEN 2 * coalesce(d.layoff_spring_summer, 0) END AS layoff_days_spring_summer,
    d.posted::float / nullif(d.head_quarters, 0) AS posted_worker_share,
    d.debt / nullif(d.wages_recent / nullif(d.quarters_recent, 0), 0) AS debt_to_wages,
    (t.as_of - e.start_date) / 365.25 AS company_years,
    coalesce(h.inspections, 0) AS earlier_inspections,
    coalesce(h.findings, 0) AS earlier_findings,
    coalesce(h.undeclared_work, 0) AS earlier_undeclared_work,
    coalesce(h.part_time_abuse, 0) AS earlier_part_time_abuse,
    coalesce(h.bogus_self_employment, 0) AS earlier_bogus_self_employment,
    coalesce(h.temporary_layoff_fraud, 0) AS earlier_temporary_layoff_fraud,
    1.0 AS own_sector,  -- 0 only for rows another sector's model borrows (training.py)
    e.subregion_id, e.legal_form, h.last_visit
FROM targets t
JOIN inspections_employer e ON e.id = t.employer_id
LEFT JOIN declared d ON d.employer_id = t.employer_id AND d.as_of = t.as_of
LEFT JOIN sector_median s ON s.sector_id = e.sector_id AND s.as_of = t.as_of
LEFT JOIN history h ON h.employer_id = t.employer_id AND h.as_of = t.as_of
ORDER BY t.employer_id, t.as_of
"""

# Every active employer of one sector on one date.
SECTOR_TARGETS = """
    SELECT id AS employer_id, %(as_of)s::date AS as_of FROM inspections_employer
    WHERE sector_id = %(sector)s AND start_date <= %(as_of)s AND (end_date IS NULL OR end_date > %(as_of)s)
"""

# A fixed sample of them (the band cut-offs of a new model are drawn from it).
SECTOR_SAMPLE_TARGETS = SECTOR_TARGETS + " ORDER BY md5(id::text) LIMIT %(sample)s"

# The employers of one sector inspected before a date, on their visit dates: the training
# rows of every offence type of the sector (each offence's labels pick its own).
INSPECTED_TARGETS = """
    SELECT DISTINCT i.employer_id, i.visit_date AS as_of
    FROM inspections_inspection i
    JOIN inspections_employer e ON e.id = i.employer_id AND e.sector_id = %(sector)s
    WHERE i.status = 'completed' AND i.visit_date < %(as_of)s
"""

# Not features: what the ranked lists filter on, copied onto each score (scoring.models.Score).
LIST_COLUMNS = ("subregion_id", "legal_form", "last_visit")
COLUMNS = ("employer_id", "as_of", *FEATURE_NAMES, *LIST_COLUMNS)
CHUNK_ROWS = 100_000


def features_sql(targets: str) -> str:
    """The feature statement over a targets query that yields (employer_id, as_of)."""
    return _FEATURES_SQL.format(targets=targets, history_months=3 * HISTORY_QUARTERS + 3)


def features_copy_out(*, targets: str, params: dict[str, object]) -> IO[bytes]:
    """COPY the feature rows out as CSV into a temporary file (memory stays flat; the OS caches it).

    psycopg2 writes one call per row: a plain (C-buffered) file takes them at C speed,
    where a SpooledTemporaryFile's write method is Python code called once per row.
    """
    statement = _features_copy_statement(targets=targets, params=params)
    with connection.cursor() as cursor:
        spool = tempfile.TemporaryFile()  # noqa: SIM115 (the caller closes it)
        cursor.cursor.copy_expert(statement, spool)
    spool.seek(0)
    return spool


def _features_copy_statement(*, targets: str, params: dict[str, object]) -> str:
    """The COPY of the feature rows as CSV, parameters bound, once the sector medians it reads
    are up to date (committed outside a transaction, so another connection sees them too)."""
    sector_wage_medians_ensure(sectors=[str(params["sector"])])
    with connection.cursor() as cursor:
        query = cursor.mogrify(features_sql(targets), params).decode()
    return f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)"


def features_read(*, targets: str, params: dict[str, object], chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The features, in chunks of at most chunk_rows rows.

    Columns: employer_id (int64), as_of (datetime64), then one float64 column per
    registered feature (FEATURE_NAMES order), NaN where it cannot be computed (no
    declaration in the window, a zero denominator); then the LIST_COLUMNS: subregion_id
    and legal_form (str), last_visit ("YYYY-MM-DD" str, NaN when never visited before).
    """
    dtypes = {
        "employer_id": np.int64,
        **dict.fromkeys(FEATURE_NAMES, np.float64),
        "subregion_id": object,
        "legal_form": object,
        "last_visit": object,
    }
    with _copied_out(targets=targets, params=params) as spool:
        yield from pd.read_csv(spool, dtype=dtypes, parse_dates=["as_of"], chunksize=chunk_rows)


@contextmanager
def _copied_out(*, targets: str, params: dict[str, object]) -> Iterator[IO[bytes]]:
    """The feature rows as CSV: read while PostgreSQL writes them (streaming.copy_followed),
    or, inside a transaction (whose rows another connection would not see), once written."""
    if connection.in_atomic_block:
        with features_copy_out(targets=targets, params=params) as spool:
            yield spool
        return
    with copy_followed(_features_copy_statement(targets=targets, params=params)) as spool:
        yield spool


def features_frame(*, targets: str, params: dict[str, object]) -> pd.DataFrame:
    """All the feature rows at once (training sets, tests); columns as features_read."""
    chunks = list(features_read(targets=targets, params=params))
    if not chunks:
        return pd.DataFrame({name: pd.Series(dtype=np.float64) for name in COLUMNS})
    return pd.concat(chunks, ignore_index=True)


def sector_features(*, sector: str, as_of: date) -> pd.DataFrame:
    """Features of every active employer of a sector on a date."""
    return features_frame(targets=SECTOR_TARGETS, params={"sector": sector, "as_of": as_of})
