"""Benchmark model quality against the ground truth: our published scores beside a plain reference.

    .venv/bin/python bench/bench_quality.py --employers 30000 --seed 42 --mechanisms a
    .venv/bin/python bench/bench_quality.py --employers 30000 --seed 42 --mechanisms b
    .venv/bin/python bench/bench_quality.py --employers 1000000 --seed 42 --mechanisms a --as-of 2026-01-01
    .venv/bin/python bench/bench_quality.py --employers 30000 --seed 42 --mechanisms a --reuse
    .venv/bin/python bench/bench_quality.py --employers 30000 --seed 42 --mechanisms b --reference-only

The data set is generated (`manage.py generate_data ... --truth FILE`) into a database
of its own, mw_quality_{mechanisms}_{employers} on the server of DATABASE_URL unless
--database-url names one; it is created and migrated when missing. With --reuse a data
set already there with the same parameters is kept (the truth file and a note of the
parameters live in var/quality/). Every model version, run and score of that database is
then deleted, and our pipeline runs as a user would run it: `manage.py retrain --as-of D`
then `manage.py rescore --as-of D` (D: --as-of, by default the day after the last
declared quarter).

Lift against the truth, per (sector, offence): the share of employers that commit the
offence among the top 5 % of the sector, divided by that share among all the employers
scored in the sector. Per offence, the top 5 % of each sector are pooled and compared
with the pooled share: over the sectors with a published run of ours (the reference
too, for the ratio), and the reference's over all sectors beside it.

- ours: the ranks of the published run of each pair (ScoringRun.objects.published()).
- reference: scikit-learn's HistGradientBoostingClassifier, default parameters and
  random_state=0, on long-run aggregates per employer (the mean of every declaration
  column over all its declarations of quarters ended by D, and ratios of sums such as
  wages, hours and FTE per worker, lay-off days, hires, exits and posted workers per
  worker, one SQL GROUP BY), trained per pair on the sector's employers inspected for
  the offence before D (label: found by any completed inspection that checked it) and
  scoring every employer of the sector active on D.
- self-reported: the active version's metrics["lift"] (the hit rate of the validation
  year's random controls in the red band over that of all the validation year's random
  controls) and its 95 % interval metrics["intervals"]["lift"], with whether that
  interval holds the lift against the truth.

Both are also shown for "new" fraudsters only: the same lift among the employers that no
inspection before D found committing the offence (re-ranked among them). The reference
learns those found ones by heart (they are its training rows), and much of any lift
over all employers comes from ranking them first; the new column shows what is left.

The truth marks an employer that commits the offence at some point in the generated
window; with an --as-of before its end, the few whose fraud starts after D count as
fraudsters too. Per pair, k (the top 5 %) and the fraudsters among them are printed:
a lift from a handful of hits is noisy.

Targets printed at the end: every pair ours >= 0.9 x reference; every offence ours >= 3;
the self-reported interval holds the truth for at least 10 of the 12 pairs; and the
pairs without an active model, with the note of their latest version.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import io
import json
import operator
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "miningwatch.settings")
os.environ.setdefault("DEBUG", "1")  # spares a SECRET_KEY

DEFAULT_AS_OF = dt.date(2026, 10, 1)  # the day after the generator's last declared quarter
TOP_SHARE = 0.05
# Ratios of sums over all the employer's declarations: numerator, denominator.
RATIOS = {
    "wages_per_fte": ("gross_wages", "fte"),
    "hours_per_fte": ("declared_hours", "fte"),
    "wages_per_hour": ("gross_wages", "declared_hours"),
    "fte_per_worker": ("fte", "headcount"),
    "layoff_days_per_worker": ("temporary_unemployment_days", "headcount"),
    "hires_per_worker": ("hires", "headcount"),
    "exits_per_worker": ("exits", "headcount"),
    "short_per_hire": ("short_contracts", "hires"),
    "posted_per_worker": ("posted_workers", "headcount"),
    "debt_per_wages": ("social_security_debt", "gross_wages"),
}


@dataclass(frozen=True)
class Lift:
    """The top TOP_SHARE of a ranking against the truth."""

    scored: int
    fraudsters: int
    k: int
    hits: int

    @property
    def value(self) -> float | None:
        if not self.k or not self.fraudsters:
            return None
        return (self.hits / self.k) / (self.fraudsters / self.scored)

    def __add__(self, other: Lift) -> Lift:
        return Lift(
            self.scored + other.scored, self.fraudsters + other.fraudsters, self.k + other.k, self.hits + other.hits
        )


@dataclass(frozen=True)
class PairLift:
    """A ranking's lift over all scored employers, and over those not found before ("new")."""

    all: Lift
    new: Lift


def main() -> None:
    args = _arguments()
    url = args.database_url or _quality_url(args.mechanisms, args.employers)
    os.environ["DATABASE_URL"] = url
    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else DEFAULT_AS_OF
    print(f"database: {urlsplit(url).path.lstrip('/')}; {args.employers:,} employers, seed {args.seed}, "
          f"mechanisms {args.mechanisms}, inspection rate {args.inspection_rate}; as of {as_of}")  # fmt: skip
    _database_ensure(url)
    _manage(["migrate", "--verbosity", "0"])

    import django

    django.setup()
    truth_path = _data_ensure(args)
    truth = pd.read_csv(truth_path, dtype={"enterprise_number": str})
    employers = _employers_read(as_of)
    labels = _inspection_labels(as_of)
    _calibration_print(employers, truth)

    ours: dict[tuple[str, str], PairLift] = {}
    timings: dict[str, float] = {}
    if not args.reference_only:
        _scoring_clear()
        timings["retrain"] = _manage(["retrain", "--as-of", as_of.isoformat()], echo=True)
        timings["rescore"] = _manage(["rescore", "--as-of", as_of.isoformat()], echo=True)
        ours = _our_lifts(employers, truth, labels)
    started = time.perf_counter()
    reference = _reference_lifts(as_of, employers, truth, labels)
    timings["reference"] = time.perf_counter() - started
    _report(ours, reference, timings, reference_only=args.reference_only)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employers", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--mechanisms", choices=("a", "b"), default="a")
    parser.add_argument("--inspection-rate", type=float, default=0.15, help="as `make demo` (default 0.15)")
    parser.add_argument("--as-of", help="YYYY-MM-DD (default: the day after the last declared quarter)")
    parser.add_argument("--database-url", help="default: mw_quality_{mechanisms}_{employers} on DATABASE_URL's server")
    parser.add_argument("--reuse", action="store_true", help="keep the data set if the database holds that one")
    parser.add_argument("--reference-only", action="store_true", help="skip retrain and rescore: data and reference")
    return parser.parse_args()


# --- The data set -----------------------------------------------------------------------


def _quality_url(mechanisms: str, employers: int) -> str:
    base = urlsplit(os.environ.get("DATABASE_URL", "postgres://root@127.0.0.1:5432/postgres"))
    return urlunsplit(base._replace(path=f"/mw_quality_{mechanisms}_{employers}"))


def _database_ensure(url: str) -> None:
    """Create the database when the server does not have it yet."""
    import psycopg2

    name = urlsplit(url).path.lstrip("/")
    server = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    connection = psycopg2.connect(server)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
                print(f"created database {name}")
    finally:
        connection.close()


def _manage(arguments: list[str], *, echo: bool = False) -> float:
    """Run a manage.py command on the quality database; its wall time in seconds."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *arguments],
        env={**os.environ},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if echo or result.returncode:
        print(f"\n$ manage.py {' '.join(arguments)}  ({seconds:.1f} s)")
        print(result.stdout.rstrip())
    if result.returncode:
        print(result.stderr.rstrip()[-4000:])
        raise SystemExit(f"manage.py {arguments[0]} failed with exit code {result.returncode}")
    return seconds


def _data_ensure(args: argparse.Namespace) -> Path:
    """Generate the data set and its truth file, unless --reuse finds the same one in place."""
    from django.db import connection

    from inspections.models import Employer

    folder = ROOT / "var" / "quality"
    folder.mkdir(parents=True, exist_ok=True)
    name = connection.settings_dict["NAME"]
    truth, note = folder / f"{name}.truth.csv", folder / f"{name}.json"
    wanted = {
        "employers": args.employers,
        "seed": args.seed,
        "mechanisms": args.mechanisms,
        "inspection_rate": args.inspection_rate,
    }
    if args.reuse and truth.exists() and note.exists():
        if json.loads(note.read_text()) == wanted and Employer.objects.count() == args.employers:
            print("data set already in place: reused")
            return truth
        print("--reuse: the database holds another data set; generating this one")
    note.unlink(missing_ok=True)
    seconds = _manage(
        [
            "generate_data",
            "--employers", str(args.employers),
            "--seed", str(args.seed),
            "--mechanisms", args.mechanisms,
            "--inspection-rate", str(args.inspection_rate),
            "--truth", str(truth),
            "--replace",
            "--verbosity", "0",
        ],
        echo=True,
    )  # fmt: skip
    print(f"generated in {seconds:.1f} s")
    note.write_text(json.dumps(wanted))
    return truth


def _scoring_clear() -> None:
    """Start from no model at all: the gates then compare with nothing left from an earlier run."""
    from django.db import connection, transaction

    from scoring.models import ModelVersion, RunLookup, Score, ScoreCount, ScoringRun

    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass AND c.relname <> %s",
            [Score._meta.db_table, f"{Score._meta.db_table}_default"],
        )
        for (partition,) in cursor.fetchall():
            cursor.execute(f"DROP TABLE {quote(partition)}")
        tables = [quote(m._meta.db_table) for m in (Score, ScoreCount, RunLookup, ScoringRun, ModelVersion)]
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


def _employers_read(as_of: dt.date) -> pd.DataFrame:
    """Every employer with its sector and whether it is active on as_of (the scored population)."""
    from inspections.models import Employer

    active = set(Employer.objects.active_on(as_of).values_list("id", flat=True))
    frame = pd.DataFrame.from_records(
        Employer.objects.values_list("id", "enterprise_number", "sector_id"),
        columns=["employer_id", "enterprise_number", "sector"],
    )
    frame["active"] = frame["employer_id"].isin(active)
    return frame.set_index("employer_id")


def _truth_of(employers: pd.DataFrame, truth: pd.DataFrame, offence: str) -> pd.Series:
    """1/0 per employer id: whether it commits the offence."""
    flags = truth.set_index("enterprise_number")[offence]
    return employers["enterprise_number"].map(flags).fillna(0).astype(int)


def _calibration_print(employers: pd.DataFrame, truth: pd.DataFrame) -> None:
    from inspections.models import InspectionOrigin, InspectionStatus
    from inspections.services.generation import OFFENCES

    controls = _random_controls()
    print(
        f"\nrandom controls: {controls[1]:,} of {controls[0]:,} found at least one offence "
        f"({controls[1] / max(controls[0], 1):.1%}; {InspectionOrigin.RANDOM_CONTROL}, {InspectionStatus.COMPLETED})"
    )
    active = employers[employers["active"]]
    rows = []
    for sector in sorted(active["sector"].unique()):
        members = active[active["sector"] == sector]
        shares = [_truth_of(members, truth, offence).mean() for offence in OFFENCES]
        rows.append((sector, f"{len(members):,}", *(f"{share:.1%}" for share in shares)))
    print("share of active employers committing each offence (truth):")
    _table(("sector", "active", *OFFENCES), rows)


def _random_controls() -> tuple[int, int]:
    from django.db.models import Exists, OuterRef

    from inspections.models import Finding, Inspection, InspectionOrigin, InspectionStatus

    controls = Inspection.objects.filter(origin=InspectionOrigin.RANDOM_CONTROL, status=InspectionStatus.COMPLETED)
    hits = controls.filter(Exists(Finding.objects.filter(inspection=OuterRef("pk"), found=True)))
    return controls.count(), hits.count()


# --- Lifts --------------------------------------------------------------------------------


def _pair_lift(scores: pd.Series, fraud: pd.Series, found: pd.Index) -> PairLift:
    """The lift over all of `scores`, and over those whose ids are not in `found`."""
    new = ~scores.index.isin(found)
    return PairLift(all=_lift(scores, fraud), new=_lift(scores[new], fraud[new]))


def _found_before(labels: pd.DataFrame, offence: str) -> pd.Index:
    rows = labels[(labels["offence"] == offence) & labels["found"]]
    return pd.Index(rows["employer_id"])


def _lift(scores: pd.Series, fraud: pd.Series) -> Lift:
    """Top TOP_SHARE of `scores` (ties by employer id, as the runs rank) against `fraud`, same index."""
    order = pd.DataFrame({"score": scores.to_numpy(), "id": scores.index.to_numpy()}).sort_values(
        ["score", "id"], ascending=[False, True], kind="stable"
    )
    k = max(1, round(TOP_SHARE * len(order)))
    top = order["id"].to_numpy()[:k]
    return Lift(scored=len(scores), fraudsters=int(fraud.sum()), k=k, hits=int(fraud.loc[top].sum()))


def _our_lifts(employers: pd.DataFrame, truth: pd.DataFrame, labels: pd.DataFrame) -> dict[tuple[str, str], PairLift]:
    """Per pair, the published run's ranks against the truth."""
    from django.db import connection

    from scoring.models import Score, ScoringRun

    lifts = {}
    for run in ScoringRun.objects.published():
        buffer = io.StringIO()
        with connection.cursor() as cursor:
            table = connection.ops.quote_name(Score._meta.db_table)
            cursor.copy_expert(
                f"COPY (SELECT employer_id, rank FROM {table} WHERE run_id = {int(run.pk)}) TO STDOUT WITH CSV", buffer
            )
        buffer.seek(0)
        ranks = pd.read_csv(buffer, names=["employer_id", "rank"], index_col="employer_id")["rank"]
        fraud = _truth_of(employers.loc[ranks.index], truth, run.offence_type_id)
        found = _found_before(labels, run.offence_type_id)
        lifts[(run.sector_id, run.offence_type_id)] = _pair_lift(-ranks.astype(float), fraud, found)
    return lifts


def _reference_lifts(
    as_of: dt.date, employers: pd.DataFrame, truth: pd.DataFrame, labels: pd.DataFrame
) -> dict[tuple[str, str], PairLift]:
    """Per pair, the plain gradient boosting on long-run aggregates, against the truth."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from inspections.models import OffenceType, Sector

    features = _aggregates(as_of).reindex(employers.index)
    lifts = {}
    for sector in Sector.objects.order_by("pk").values_list("pk", flat=True):
        in_sector = employers["sector"] == sector
        scored = employers.index[in_sector & employers["active"]]
        for offence in OffenceType.objects.order_by("pk").values_list("pk", flat=True):
            checked = labels[labels["offence"] == offence].set_index("employer_id")["found"]
            train = checked[checked.index.isin(employers.index[in_sector])]
            if train.nunique() < 2:
                continue
            model = HistGradientBoostingClassifier(random_state=0)
            model.fit(features.loc[train.index].to_numpy(), train.to_numpy().astype(int))
            score = pd.Series(model.predict_proba(features.loc[scored].to_numpy())[:, 1], index=scored)
            fraud = _truth_of(employers.loc[scored], truth, offence)
            lifts[(sector, offence)] = _pair_lift(score, fraud, _found_before(labels, offence))
    return lifts


def _aggregates(as_of: dt.date) -> pd.DataFrame:
    """Long-run means and ratios of sums per employer, over the quarters ended by as_of."""
    from django.db import connection

    from inspections.models import Declaration
    from inspections.services.imports.kinds import DECLARATION_COLUMNS as COLUMNS

    # Every measured column of a declaration file: all but the employer and the quarter.
    measured = [column for column in COLUMNS if column not in ("enterprise_number", "quarter")]
    table = connection.ops.quote_name(Declaration._meta.db_table)
    means = [f"avg({column})::float AS mean_{column}" for column in measured]
    ratios = [f"sum({top})::float / nullif(sum({bottom}), 0) AS {name}" for name, (top, bottom) in RATIOS.items()]
    sql = (
        f"SELECT employer_id, count(*) AS quarters, {', '.join(means + ratios)} FROM {table} "
        f"WHERE quarter + interval '3 months' <= '{as_of.isoformat()}'::date GROUP BY employer_id"
    )
    buffer = io.StringIO()
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY ({sql}) TO STDOUT WITH CSV HEADER", buffer)
    buffer.seek(0)
    return pd.read_csv(buffer, index_col="employer_id")


def _inspection_labels(as_of: dt.date) -> pd.DataFrame:
    """Per employer and offence checked by a completed inspection before as_of: found in any of them."""
    from django.contrib.postgres.aggregates import BoolOr

    from inspections.models import Finding, InspectionStatus

    rows = (
        Finding.objects.filter(inspection__status=InspectionStatus.COMPLETED, inspection__visit_date__lt=as_of)
        .values("inspection__employer_id", "offence_type_id")
        .annotate(found=BoolOr("found"))
        .values_list("inspection__employer_id", "offence_type_id", "found")
    )
    return pd.DataFrame.from_records(list(rows), columns=["employer_id", "offence", "found"])


# --- Report -------------------------------------------------------------------------------


def _report(
    ours: dict[tuple[str, str], PairLift],
    reference: dict[tuple[str, str], PairLift],
    timings: dict[str, float],
    *,
    reference_only: bool,
) -> None:
    from inspections.models import OffenceType, Sector
    from scoring.models import ModelVersion

    sectors = list(Sector.objects.order_by("pk").values_list("pk", flat=True))
    offences = list(OffenceType.objects.order_by("pk").values_list("pk", flat=True))
    pairs = [(sector, offence) for sector in sectors for offence in offences]
    active = {(v.sector_id, v.offence_type_id): v for v in ModelVersion.objects.active().defer("artifact")}
    rows, contains, ratio_ok = [], [], []
    for pair in pairs:
        mine, theirs = ours.get(pair), reference.get(pair)
        version = active.get(pair)
        claimed = version.metrics.get("lift") if version else None
        interval = (version.metrics.get("intervals") or {}).get("lift") if version else None
        ratio = _ratio(mine and mine.all, theirs and theirs.all)
        truth = mine.all.value if mine else None
        holds = None if interval is None or truth is None else interval[0] <= truth <= interval[1]
        contains.append(holds)
        ratio_ok.append(ratio is not None and ratio >= 0.9)
        rows.append(
            (
                *pair,
                f"{theirs.all.scored:,}" if theirs else "-",
                _rate(theirs and theirs.all),
                _shown(mine and mine.all),
                _shown(theirs and theirs.all),
                _number(ratio),
                _number(claimed),
                f"[{interval[0]:.2f}, {interval[1]:.2f}]" if interval else "-",
                "-" if holds is None else ("yes" if holds else "no"),
                _shown(mine and mine.new),
                _shown(theirs and theirs.new),
            )
        )
    print("\nLift of the top 5 % against the truth, per pair (hits/k: fraudsters among the k of the top 5 %)")
    header = ("sector", "offence", "scored", "base", "ours", "reference", "ratio", "self-reported", "interval")
    _table((*header, "contains", "ours new", "reference new"), rows)

    print("\nPer offence, the top 5 % of each sector pooled (ours and the ratio: the sectors with a published run)")
    pooled_rows, offence_ok = [], []
    for offence in offences:
        mine = _pooled(ours, sectors, offence)
        scored = [sector for sector in sectors if (sector, offence) in ours]
        theirs, everywhere = _pooled(reference, scored, offence), _pooled(reference, sectors, offence)
        offence_ok.append(mine is not None and (mine.all.value or 0) >= 3)
        pooled_rows.append(
            (
                offence,
                f"{len(scored)}",
                _shown(mine and mine.all),
                _shown(theirs and theirs.all),
                _number(_ratio(mine and mine.all, theirs and theirs.all)),
                _shown(mine and mine.new),
                _shown(theirs and theirs.new),
                _shown(everywhere and everywhere.all),
                _shown(everywhere and everywhere.new),
            )
        )
    header = ("offence", "sectors", "ours", "reference", "ratio", "ours new", "reference new")
    _table((*header, "reference, all sectors", "new, all sectors"), pooled_rows)

    print("\nTimes: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items()))
    if reference_only:
        return
    print("\nTargets")
    print(f"  every pair ours >= 0.9 x reference: {_verdict(all(ratio_ok))} ({sum(ratio_ok)} of {len(pairs)})")
    print(f"  every offence ours >= 3:            {_verdict(all(offence_ok))} ({sum(offence_ok)} of {len(offences)})")
    held = sum(1 for value in contains if value)
    known = sum(1 for value in contains if value is not None)
    print(f"  interval holds the truth >= 10/12:  {_verdict(held >= 10)} ({held} of {known} intervals given)")
    missing = [pair for pair in pairs if pair not in active]
    print(f"  pairs without an active model:      {len(missing)}")
    for sector, offence in missing:
        latest = ModelVersion.objects.filter(sector_id=sector, offence_type_id=offence).order_by("-created_at").first()
        note = f"version {latest.pk} {latest.status}: {latest.review_note}" if latest else "no version (see retrain)"
        print(f"    {sector}/{offence}: {note}")


def _pooled(lifts: dict[tuple[str, str], PairLift], sectors: list[str], offence: str) -> PairLift | None:
    parts = [lifts[(sector, offence)] for sector in sectors if (sector, offence) in lifts]
    if not parts:
        return None
    return PairLift(all=_sum(part.all for part in parts), new=_sum(part.new for part in parts))


def _sum(lifts: Iterable[Lift]) -> Lift:
    return functools.reduce(operator.add, lifts)


def _ratio(mine: Lift | None, theirs: Lift | None) -> float | None:
    if mine is None or theirs is None or mine.value is None or not theirs.value:
        return None
    return mine.value / theirs.value


def _shown(lift: Lift | None) -> str:
    if lift is None:
        return "-"
    return f"{_number(lift.value)} ({lift.hits}/{lift.k})"


def _rate(lift: Lift | None) -> str:
    return f"{lift.fraudsters / lift.scored:.1%}" if lift and lift.scored else "-"


def _number(value: float | None) -> str:
    return "-" if value is None or np.isnan(value) else f"{value:.2f}"


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    cells = [header, *rows]
    widths = [max(len(str(row[column])) for row in cells) for column in range(len(header))]
    for number, row in enumerate(cells):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if number == 0:
            print("  ".join("-" * width for width in widths))


if __name__ == "__main__":
    main()
