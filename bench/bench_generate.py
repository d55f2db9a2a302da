"""Benchmark the synthetic-data generator: employers per second, rows, wall time, peak memory.

    DATABASE_URL=postgres://root@127.0.0.1:5432/mw_gen_bench \\
        .venv/bin/python bench/bench_generate.py --employers 1000000

The target database must be migrated. Its employers, declarations, inspections and
findings are deleted first (replace=True), so point DATABASE_URL at a scratch database.
Peak RSS is this Python process's; PostgreSQL's own memory is not included.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "miningwatch.settings")
os.environ.setdefault("DEBUG", "1")  # spares a SECRET_KEY; the debug query log is capped and holds a few hundred here


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quarters", type=int, default=12)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    from inspections.services.generation import demo_data_generate

    print(f"database: {connection.settings_dict['NAME']} on {connection.settings_dict['HOST'] or 'local socket'}")
    started = time.perf_counter()
    summary = demo_data_generate(
        employers=args.employers, seed=args.seed, quarters=args.quarters, replace=True, progress=not args.no_progress
    )
    wall = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    print(summary)
    print(f"employers/s:   {args.employers / wall:,.0f}")
    print(
        f"rows written:  {summary.rows:,} (employers {summary.employers:,}, declarations {summary.declarations:,}, "
        f"inspections {summary.inspections:,}, findings {summary.findings:,})"
    )
    print(f"wall time:     {wall:.1f} s")
    print(f"peak RSS:      {peak_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
