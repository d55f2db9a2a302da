"""Benchmark: the employer import against raw PostgreSQL COPYs of the same file.

    DATABASE_URL=postgres://root@127.0.0.1:5432/mw_imp_bench \\
        python bench/bench_import.py --rows 1000000 --repeat 3

Uses (and empties: TRUNCATE ... CASCADE) the employer table of the database given by
DATABASE_URL, so point it at a database of its own. For each repeat it times:

- the bare floor: COPY of the file into a fresh plain table with the file's columns,
  typed, without indexes (psycopg2 copy_expert, the same connection);
- the table floor: COPY of the same rows, no checks, into the empty employer table
  itself, as PostgreSQL advises for bulk loads: its indexes and constraints dropped first
  and built again after, its name words filled by its own trigger. The file's NACE and
  postal codes are turned into sector and sub-region beforehand, untimed: the file
  cannot be copied into the table without them;
- the full employer_import of the file into the empty employer table;
- the re-import of the same file (every row unchanged).

It prints each time, the medians and the ratios median(import) / median(floor). It also
times pandas.read_csv of the file (dtype=str), the least any Python import reads it with.
With --indexed-floor it also times, once, a COPY of the same rows into a copy of the
employer table that keeps its indexes and foreign keys during the COPY.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "miningwatch.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from inspections.models import Employer, NaceCode, PostalCode  # noqa: E402
from inspections.services.imports import employer_import  # noqa: E402
from inspections.services.imports.kinds import Employers  # noqa: E402
from miningwatch.bulk import indexes_suspended  # noqa: E402

EMPLOYER = Employer._meta.db_table
FLOOR = "bench_copy_floor"
FLOOR_COLUMNS = (
    "enterprise_number varchar(10), nsso_number varchar(10), name varchar(200), legal_form varchar(10), "
    "nace_code varchar(6), joint_committee varchar(6), postal_code varchar(4), start_date date, end_date date"
)
LEGAL_FORMS = np.array(["BV", "NV", "CV", "COMMV", "VOF", "VZW", "EZ", "FOREIGN"])
COMMITTEE = {"construction": "124", "cleaning": "121", "hospitality": "302"}


def employers_file_write(path: Path, rows: int, seed: int = 2024) -> None:
    """A valid employer CSV of `rows` rows, drawn with numpy (a few seconds a million)."""
    rng = np.random.default_rng(seed)
    nace = pd.DataFrame(NaceCode.objects.values_list("code", "sector_id"), columns=["code", "sector"])
    postal = np.array(PostalCode.objects.values_list("code", flat=True))
    base = rng.choice(np.arange(2_000_000, 20_000_000), size=rows, replace=False)  # 8 digits, first 0 or 1
    numbers = pd.Series(base * 100 + (97 - base % 97)).astype(str).str.zfill(10)
    chosen = nace.iloc[rng.integers(0, len(nace), rows)]
    start = np.datetime64("1990-01-01") + rng.integers(0, 12_000, rows)
    closed = rng.random(rows) < 0.15
    end = np.where(closed, (start + rng.integers(30, 3_000, rows)).astype(str), "")
    names = pd.Series(np.arange(rows)).astype(str)
    names = np.where(rng.random(rows) < 0.01, "Bouw & Co, " + names + " BV", "Bouwbedrijf " + names + " BV")
    frame = pd.DataFrame(
        {
            "enterprise_number": numbers,
            "nsso_number": np.where(rng.random(rows) < 0.9, (100_000_000 + np.arange(rows)).astype(str), ""),
            "name": names,
            "legal_form": LEGAL_FORMS[rng.integers(0, len(LEGAL_FORMS), rows)],
            "nace_code": chosen["code"].to_numpy(),
            "joint_committee": chosen["sector"].map(COMMITTEE).to_numpy(),
            "postal_code": postal[rng.integers(0, len(postal), rows)],
            "start_date": start.astype(str),
            "end_date": end,
        }
    )
    frame.to_csv(path, index=False)


def checkpoint() -> None:
    """Start each timing without the previous run's dirty pages (needs a superuser)."""
    with connection.cursor() as cursor:
        try:
            cursor.execute("CHECKPOINT")
        except Exception:  # not allowed (no superuser): time without it
            connection.rollback()


def copy_floor(path: Path) -> float:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {FLOOR}")
        cursor.execute(f"CREATE TABLE {FLOOR} ({FLOOR_COLUMNS})")
    checkpoint()
    start = time.perf_counter()
    with connection.cursor() as cursor, open(path, "rb") as handle:
        cursor.cursor.copy_expert(f"COPY {FLOOR} FROM STDIN WITH (FORMAT csv, HEADER true)", handle)
    seconds = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {FLOOR}")
    return seconds


DERIVED_COLUMNS = (
    "enterprise_number, nsso_number, name, legal_form, nace_id, joint_committee, postal_code_id, "
    "start_date, end_date, sector_id, subregion_id, updated_at"
)
DERIVED_COPY = "FROM STDIN WITH (FORMAT csv, NULL '', FORCE_NULL (nsso_number))"


def derived_rows_write(path: Path) -> Path:
    """The file's rows with the sector and sub-region the employer table needs (untimed)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    sectors = dict(NaceCode.objects.values_list("code", "sector_id"))
    subregions = dict(PostalCode.objects.values_list("code", "subregion_id"))
    frame["sector"] = frame["nace_code"].map(sectors)
    frame["subregion"] = frame["postal_code"].map(subregions)
    frame["updated_at"] = "2024-01-01 00:00:00+00"
    derived = path.with_suffix(".derived.csv")
    frame.to_csv(derived, index=False, header=False)
    return derived


def table_floor(derived: Path) -> float:
    """COPY, unchecked, into the empty employer table with its indexes suspended."""
    employers_truncate()
    checkpoint()
    start = time.perf_counter()
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        open(derived, "rb") as handle,
        indexes_suspended(cursor, *Employers.suspended),
    ):
        cursor.cursor.copy_expert(f"COPY {EMPLOYER} ({DERIVED_COLUMNS}) {DERIVED_COPY}", handle)
    seconds = time.perf_counter() - start
    employers_truncate()
    return seconds


def indexed_floor(derived: Path) -> float:
    """COPY of the same rows into a copy of the employer table: indexes, checks, foreign keys."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_indexed_floor")
        cursor.execute(f"CREATE TABLE bench_indexed_floor (LIKE {EMPLOYER} INCLUDING ALL)")
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' AND conrelid = %s::regclass",
            [EMPLOYER],
        )
        for (definition,) in cursor.fetchall():
            cursor.execute(f"ALTER TABLE bench_indexed_floor ADD {definition}")
    checkpoint()
    start = time.perf_counter()
    with connection.cursor() as cursor, open(derived, "rb") as handle:
        cursor.cursor.copy_expert(f"COPY bench_indexed_floor ({DERIVED_COLUMNS}) {DERIVED_COPY}", handle)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred foreign-key checks: part of the cost
    seconds = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_indexed_floor")
    return seconds


def csv_read(path: Path) -> float:
    start = time.perf_counter()
    pd.read_csv(path, dtype=str, keep_default_na=False)
    return time.perf_counter() - start


def employers_truncate() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {EMPLOYER} CASCADE")


def timed_import(path: Path, *, expect_created: int) -> float:
    checkpoint()
    start = time.perf_counter()
    result = employer_import(path=path)
    seconds = time.perf_counter() - start
    if not result.ok or result.rows_created != expect_created:
        raise SystemExit(f"Unexpected import result: {result.summary()} {result.errors[:5]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--indexed-floor", action="store_true", help="also time a COPY into an indexed copy")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        raise SystemExit("Set DATABASE_URL to a database of the benchmark's own (its employers are deleted).")
    call_command("migrate", verbosity=0)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "employers.csv"
        start = time.perf_counter()
        employers_file_write(path, args.rows)
        size = path.stat().st_size / 1e6
        print(f"{args.rows} rows, {size:.1f} MB, written in {time.perf_counter() - start:.1f} s", flush=True)
        derived = derived_rows_write(path)
        times: dict[str, list[float]] = {"bare": [], "table": [], "import": [], "re-import": [], "read_csv": []}
        for repeat in range(1, args.repeat + 1):
            times["bare"].append(copy_floor(path))
            times["table"].append(table_floor(derived))
            times["import"].append(timed_import(path, expect_created=args.rows))
            times["re-import"].append(timed_import(path, expect_created=0))
            times["read_csv"].append(csv_read(path))
            employers_truncate()
            figures = " | ".join(f"{name} {runs[-1]:.2f} s" for name, runs in times.items())
            print(f"repeat {repeat}: {figures}", flush=True)
        median = {name: statistics.median(runs) for name, runs in times.items()}
        print("median: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in median.items()))
        for numerator, floor in (("import", "table"), ("import", "bare"), ("read_csv", "bare")):
            print(f"ratio median({numerator}) / median({floor} COPY) = {median[numerator] / median[floor]:.2f}")
        if args.indexed_floor:
            indexed = indexed_floor(derived)
            print(f"COPY into an indexed copy of the employer table (indexes, checks, foreign keys): {indexed:.2f} s")
            print(f"ratio median(import) / indexed COPY = {median['import'] / indexed:.2f}")
        employers_truncate()


if __name__ == "__main__":
    main()
