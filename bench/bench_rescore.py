"""Benchmark: the end-to-end rescore of one model against its floor.

    DATABASE_URL=postgres://root@127.0.0.1:5432/mw_bench_scoring \\
        .venv/bin/python bench/bench_rescore.py --sector construction --offence undeclared_work --repeat 3

Needs generated data (`python manage.py generate_data --employers 1000000 ...`) and an
active model for (sector, offence) (bench/bench_training.py trains all 12). For each
repeat it times, in this order, on the same connection:

- floor, features: COPY (the feature SQL of every active employer of the sector, the
  statement scoring runs use) TO STDOUT into a memory buffer, parsed with pandas' C parser
  (text format) into a float64 numpy matrix of the model's columns, plus the columns the
  list copies on each score need (headcount, subregion_id, legal_form, last_visit);
- floor, predict: a bare predict_proba of the active model on that matrix;
- floor, write: a raw COPY of as many score rows (every column the run writes, list
  columns included: sub-region, size class, legal form, visit recency; rendered
  beforehand, untimed) into a bare table without indexes or constraints;
- the rescore: scoring_run_create + scoring_run_execute (features in chunks, scores,
  ranks, bands, reasons, COPY into the run's partition of scoring_score, its indexes built
  when it is attached, publish).

Before each repeat the score table is pruned to the latest run of each model
(scores_prune(keep=1)) and vacuumed, then CHECKPOINTed: the table holds the previous
run's scores, as it does every night. It prints each part, the floor, the rescore, the
medians and the ratio median(rescore) / median(floor) (target: at most 1.3).
With --indexed-floor it also times, once, the same raw COPY into a copy of scoring_score
with its indexes, checks and foreign keys (committed: the deferred foreign-key checks
run at commit), holding one earlier run's rows: the cost of the table itself.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "miningwatch.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from django.db import connection, reset_queries, transaction  # noqa: E402

from scoring.features.computation import COLUMNS, LIST_COLUMNS, SECTOR_TARGETS, features_sql  # noqa: E402
from scoring.models import ModelVersion, RunStatus, Score, ScoringRun  # noqa: E402
from scoring.services.artifacts import artifact_load  # noqa: E402
from scoring.services.ranking import Listing, ScoredSector, rows_render, scores_rank  # noqa: E402
from scoring.services.runs import _SCORE_COLUMNS, scores_prune, scoring_run_create, scoring_run_execute  # noqa: E402

FLOOR = "bench_score_floor"
TARGET = 1.3


def checkpoint() -> None:
    with connection.cursor() as cursor:
        try:
            cursor.execute("CHECKPOINT")
        except Exception:  # not a superuser: time without it
            connection.rollback()


def floor_features(sql: str, features: list[str]) -> tuple[float, np.ndarray, np.ndarray, pd.DataFrame]:
    """COPY out into a buffer, parse the model's columns into a matrix and the list columns.

    Returns (seconds, ids, X, listing columns: headcount, subregion_id, legal_form, last_visit).
    """
    start = time.perf_counter()
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY ({sql}) TO STDOUT", buffer)
    buffer.seek(0)
    positions = [0, *(COLUMNS.index(name) for name in features)]
    listed = {COLUMNS.index(name): name for name in ("headcount", *LIST_COLUMNS)}
    dtypes = dict.fromkeys({*positions, COLUMNS.index("headcount")}, np.float64)
    dtypes.update({COLUMNS.index(name): object for name in LIST_COLUMNS})
    frame = pd.read_csv(
        buffer,
        sep="\t",
        header=None,
        usecols=sorted({*positions, *listed}),
        na_values=["\\N"],
        keep_default_na=False,
        dtype=dtypes,
        engine="c",
    )
    matrix = frame[positions[1:]].to_numpy()
    ids = frame[0].to_numpy(dtype=np.int64)
    listing = frame[list(listed)].rename(columns=listed)
    return time.perf_counter() - start, ids, matrix, listing


def floor_predict(model, matrix: np.ndarray) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    scores = model.predict_proba(matrix)[:, 1]
    return time.perf_counter() - start, scores


def rows_rendered(
    version: ModelVersion,
    artifact,
    ids: np.ndarray,
    matrix: np.ndarray,
    scores: np.ndarray,
    listing: pd.DataFrame,
    as_of: dt.date,
    run_id: int = 0,
) -> bytes:
    """Score rows of the floor, rendered as the run renders them, list columns included (untimed)."""
    scored = ScoredSector.explain(
        employer_ids=ids, scores=scores, values=matrix, artifact=artifact, listing=Listing.of(listing, as_of)
    )
    rank, percentile, band = scores_rank(scored.scores, scored.employer_ids, version.cutoffs)
    return b"".join(payload for payload, _ in rows_render(run_id, scored, rank, percentile, band, version.features))


def columns_check(payload: bytes) -> None:
    """The floor writes every column of scoring_score, as many as each rendered row has."""
    with connection.cursor() as cursor:
        table = [column.name for column in connection.introspection.get_table_description(cursor, Score._meta.db_table)]
    if sorted(table) != sorted(_SCORE_COLUMNS):
        raise SystemExit(f"scoring_score has columns {table}, the run writes {list(_SCORE_COLUMNS)}")
    fields = payload[: payload.index(b"\n")].count(b"\t") + 1
    if fields != len(_SCORE_COLUMNS):
        raise SystemExit(f"the floor renders {fields} fields per row, scoring_score takes {len(_SCORE_COLUMNS)}")


def floor_write(payload: bytes) -> float:
    columns_check(payload)
    columns = ", ".join(_SCORE_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {FLOOR}")
        cursor.execute(f"CREATE TABLE {FLOOR} AS SELECT {columns} FROM {Score._meta.db_table} WITH NO DATA")
    checkpoint()
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY {FLOOR} ({columns}) FROM STDIN", io.BytesIO(payload))
    seconds = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {FLOOR}")
    return seconds


def indexed_floor(payload: bytes, run_id: int) -> tuple[float, float]:
    """COPY into a copy of the score table with its indexes, checks and foreign keys. Returns (copy, commit)."""
    table = Score._meta.db_table
    columns = ", ".join(_SCORE_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_score_indexed")
        cursor.execute(f"CREATE TABLE bench_score_indexed (LIKE {table} INCLUDING ALL)")
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' AND conrelid = %s::regclass",
            [table],
        )
        for (definition,) in cursor.fetchall():
            cursor.execute(f"ALTER TABLE bench_score_indexed ADD {definition}")
        cursor.execute(
            f"INSERT INTO bench_score_indexed ({columns}) SELECT {columns} FROM {table} WHERE run_id = %s", [run_id]
        )
        cursor.execute("VACUUM ANALYZE bench_score_indexed")
    checkpoint()
    start = time.perf_counter()
    with transaction.atomic():  # one transaction, as the run publishes: the foreign keys are checked at commit
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(f"COPY bench_score_indexed ({columns}) FROM STDIN", io.BytesIO(payload))
        copied = time.perf_counter()
    committed = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_score_indexed")
    return copied - start, committed - copied


def steady_state() -> None:
    scores_prune(keep=1)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {Score._meta.db_table}")
    checkpoint()


def rescore(sector: str, offence: str, as_of: dt.date) -> tuple[float, int]:
    start = time.perf_counter()
    run = scoring_run_create(sector=sector, offence=offence, as_of=as_of)
    run = scoring_run_execute(run_id=run.pk)
    seconds = time.perf_counter() - start
    reset_queries()
    if run.status != RunStatus.SUCCEEDED:
        raise SystemExit(f"run {run.pk} {run.status}: {run.message}")
    return seconds, run.employers_scored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sector", default="construction")
    parser.add_argument("--offence", default="undeclared_work")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 10, 1))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--indexed-floor", action="store_true", help="also time a COPY into an indexed copy")
    args = parser.parse_args()
    version = ModelVersion.objects.active().filter(sector=args.sector, offence_type=args.offence).first()
    if version is None:
        raise SystemExit(f"No active model for {args.sector}/{args.offence}: run bench/bench_training.py first.")
    artifact = artifact_load(bytes(version.artifact))
    with connection.cursor() as cursor:
        sql = cursor.mogrify(features_sql(SECTOR_TARGETS), {"sector": args.sector, "as_of": args.as_of}).decode()
    print(f"model {version} ({len(version.features)} features), as of {args.as_of}, {os.cpu_count()} cores", flush=True)
    floor_features(sql, version.features)  # warm the cache once, untimed
    rows = {"features": [], "predict": [], "write": [], "floor": [], "rescore": []}
    for repeat in range(1, args.repeat + 1):
        steady_state()
        read, ids, matrix, listing = floor_features(sql, version.features)
        predict, scores = floor_predict(artifact.model, matrix)
        payload = rows_rendered(version, artifact, ids, matrix, scores, listing, args.as_of)
        write = floor_write(payload)
        del payload
        checkpoint()
        seconds, scored = rescore(args.sector, args.offence, args.as_of)
        if scored != len(ids):
            raise SystemExit(f"the run scored {scored} employers, the floor read {len(ids)}")
        floor = read + predict + write
        for name, value in zip(rows, (read, predict, write, floor, seconds), strict=True):
            rows[name].append(value)
        print(
            f"repeat {repeat}: {len(ids):,} employers | floor: features COPY+parse {read:.2f} s, predict_proba "
            f"{predict:.2f} s, score COPY {write:.2f} s = {floor:.2f} s | rescore {seconds:.2f} s | "
            f"ratio {seconds / floor:.2f}",
            flush=True,
        )
    median = {name: statistics.median(values) for name, values in rows.items()}
    print(
        f"median: features {median['features']:.2f} s, predict {median['predict']:.2f} s, write "
        f"{median['write']:.2f} s, floor {median['floor']:.2f} s, rescore {median['rescore']:.2f} s"
    )
    print(
        f"ratio median(rescore) / median(floor) = {median['rescore'] / median['floor']:.2f} (target: at most {TARGET})"
    )
    if args.indexed_floor:
        read, ids, matrix, listing = floor_features(sql, version.features)
        held = Score.objects.order_by("-run_id").values_list("run_id", flat=True).first()
        other = ScoringRun.objects.exclude(pk=held).order_by("-pk").values_list("pk", flat=True).first()
        scores = artifact.model.predict_proba(matrix)[:, 1]
        copy, commit = indexed_floor(
            rows_rendered(version, artifact, ids, matrix, scores, listing, args.as_of, run_id=other), held
        )
        print(
            f"COPY of the same rows into an indexed copy of scoring_score (+1 run's rows): COPY {copy:.2f} s, "
            f"commit (deferred foreign-key checks) {commit:.2f} s, total {copy + commit:.2f} s "
            f"(bare table: {median['write']:.2f} s)"
        )


if __name__ == "__main__":
    main()
