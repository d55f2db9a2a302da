"""Benchmark: retraining all 12 models (3 sectors x 4 offence types), and the nightly run.

    DATABASE_URL=postgres://root@127.0.0.1:5432/mw_bench_scoring \\
        .venv/bin/python bench/bench_training.py --as-of 2026-10-01 [--passes 2] [--rescore] [--profile FILE]

Needs a generated data set (about 500,000 inspections: `python manage.py generate_data
--employers 1000000 --seed 42 --inspection-rate 0.16`). For each pass it times
models_retrain_all, as `manage.py retrain` runs it in this process: the 12 pairs one after
the other, the offence types of a sector sharing its feature rows. The first pass on a database
without models trains without an active model to compare against; later passes compare
each new version with the active one (the steady state of the nightly run).

It prints each call's time, the total of each pass, and the quality of the stored
versions: ROC AUC on the validation inspections and the lift of the red band among the
random controls of the validation year, each with its 95 % interval. With --rescore it
then runs scoring_run_create + scoring_run_execute for the 12 models as of --as-of and
scores_tidy (the whole nightly run) and prints the wall time and the peak RSS of this
process (resource.getrusage ru_maxrss; PostgreSQL's memory not included).
Target: the 12 trainings in under 120 s on 2 cores; the nightly run under 4 GB.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "miningwatch.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from django.db import connection, reset_queries  # noqa: E402

from inspections.models import OffenceType, Sector  # noqa: E402
from scoring.models import RunStatus  # noqa: E402
from scoring.services.nightly import RetrainOutcome, models_retrain_all  # noqa: E402
from scoring.services.runs import scores_prune, scores_tidy, scoring_run_create, scoring_run_execute  # noqa: E402

TARGET_SECONDS = 120.0


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def models() -> list[tuple[str, str]]:
    return [
        (sector, offence)
        for sector in Sector.objects.order_by("pk").values_list("pk", flat=True)
        for offence in OffenceType.objects.order_by("pk").values_list("pk", flat=True)
    ]


def train_all(as_of: dt.date) -> tuple[float, list]:
    """models_retrain_all, as `manage.py retrain` runs it: the offences of a sector share its features."""
    versions = []
    started = last = time.perf_counter()

    def progress(outcome: RetrainOutcome) -> None:
        nonlocal last
        now, version = time.perf_counter(), outcome.version
        reset_queries()
        versions.append(version)
        rows = f"{version.training_rows + version.validation_rows:>7} rows  {version.status}" if version else "refused"
        print(f"  {outcome.sector:<12} {outcome.offence:<22} {now - last:6.2f} s  {rows}", flush=True)
        last = now

    models_retrain_all(as_of=as_of, progress=progress, origin="benchmark")
    return time.perf_counter() - started, [version for version in versions if version is not None]


def quality_table(versions: list) -> None:
    print(
        "| sector | offence | training / validation rows | ROC AUC (95 % interval) | random controls of the "
        "validation year (found) | lift of the red band (95 % interval) | status |"
    )
    print("|---|---|---|---|---|---|---|")
    for version in versions:
        metrics = version.metrics
        controls = metrics.get("random_controls") or {"validation_rows": 0, "validation_hits": 0}
        print(
            f"| {version.sector_id} | {version.offence_type_id} | {version.training_rows:,} / "
            f"{version.validation_rows:,} | "
            f"{_with_interval(metrics.get('roc_auc'), metrics['intervals'].get('roc_auc'))} | "
            f"{controls['validation_rows']} ({controls['validation_hits']}) | "
            f"{_with_interval(metrics.get('lift'), metrics['intervals'].get('lift'))} | {version.status} |"
        )


def _with_interval(value: float | None, pair: list[float] | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" + (f" ({pair[0]:.2f}-{pair[1]:.2f})" if pair else "")


def rescore_all(as_of: dt.date, pairs: list[tuple[str, str]]) -> float:
    started = time.perf_counter()
    for sector, offence in pairs:
        start = time.perf_counter()
        run = scoring_run_execute(run_id=scoring_run_create(sector=sector, offence=offence, as_of=as_of).pk)
        reset_queries()
        if run.status != RunStatus.SUCCEEDED:
            raise SystemExit(f"run {run.pk} {sector}/{offence}: {run.status} {run.message}")
        print(
            f"  {sector:<12} {offence:<22} {time.perf_counter() - start:6.2f} s  {run.employers_scored:>7} scored  "
            f"peak RSS {peak_mib():,.0f} MiB",
            flush=True,
        )
    pruned = scores_tidy()  # what the nightly chain's last task does: prune, then ANALYZE
    print(f"  scores_tidy: {pruned:,} old scores pruned, tables analysed ({time.perf_counter() - started:.1f} s)")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 10, 1))
    parser.add_argument("--passes", type=int, default=1, help="training passes (the first may have no active model)")
    parser.add_argument("--rescore", action="store_true", help="then rescore all 12: the whole nightly run")
    parser.add_argument("--profile", help="write a cProfile of the last training pass to this file")
    args = parser.parse_args()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'completed') FROM inspections_inspection "
            "WHERE visit_date < %s",
            [args.as_of],
        )
        inspections, completed = cursor.fetchone()
    print(
        f"database {connection.settings_dict['NAME']}: {inspections:,} inspections before {args.as_of} "
        f"({completed:,} completed); {os.cpu_count()} cores",
        flush=True,
    )
    pairs = models()
    totals = []
    nightly_started = time.perf_counter()
    versions: list = []
    for number in range(1, args.passes + 1):
        print(f"training pass {number}:", flush=True)
        profile = cProfile.Profile() if args.profile and number == args.passes else None
        if profile:
            profile.enable()
        seconds, versions = train_all(args.as_of)
        if profile:
            profile.disable()
            profile.dump_stats(args.profile)
        totals.append(seconds)
        print(
            f"pass {number}: 12 trainings in {seconds:.1f} s (target: under {TARGET_SECONDS:.0f} s), "
            f"peak RSS {peak_mib():,.0f} MiB",
            flush=True,
        )
    quality_table(versions)
    if args.rescore:
        scores_prune(keep=1)
        print("rescoring all 12:", flush=True)
        rescore = rescore_all(args.as_of, pairs)
        nightly = totals[-1] + rescore
        print(f"rescore of 12 models: {rescore:.1f} s")
        print(
            f"nightly run (last training pass + 12 rescores): {nightly:.1f} s; "
            f"whole process {time.perf_counter() - nightly_started:.1f} s; peak RSS {peak_mib():,.0f} MiB "
            f"(limit 4096 MiB)"
        )


if __name__ == "__main__":
    main()
