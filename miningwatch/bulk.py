"""PostgreSQL bulk helpers for imports, the generator and scoring runs: COPY in and out,
rows staged in a temporary table then stored by one UPDATE and one INSERT, table locks,
and indexes suspended for a load. Never a query per row.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd
from django.db import connection

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from django.db.backends.utils import CursorWrapper


class Phases(Protocol):
    """What times the phases of a load (an import's Stopwatch)."""

    def phase(self, name: str) -> AbstractContextManager[object]: ...


# Below this many incoming rows, indexes are kept and updated row by row.
BULK_MIN_ROWS = 50_000
_STAGE = "mw_import_rows"
_ABORT = object()
NULL = "\\N"  # in COPY text


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def copy_sql(table: str, columns: Sequence[str]) -> str:
    return f"COPY {quote(table)} ({', '.join(map(quote, columns))}) FROM STDIN"


# --- Rendering rows as COPY text ------------------------------------------------------


def copy_text(columns: Sequence[np.ndarray]) -> bytes:
    """Rows in COPY's text format; values must already be escaped (see text_escaped)."""
    if not len(columns) or not len(columns[0]):
        return b""
    return ("\n".join(map("\t".join, zip(*columns, strict=True))) + "\n").encode("utf-8")


def text_escaped(values: np.ndarray) -> np.ndarray:
    """Escape for COPY text format. Control characters are refused on reading, so only
    the backslash can need it; the join finds out at once whether any does."""
    if "\\" not in "".join(values):
        return values
    return np.array([value.replace("\\", "\\\\") for value in values], dtype=object)


def nullable(values: np.ndarray) -> np.ndarray:
    """Empty cells as NULL."""
    out = values.copy()
    out[out == ""] = NULL
    return out


def constant(value: str, count: int) -> np.ndarray:
    return np.full(count, value, dtype=object)


# --- Reading from the database -----------------------------------------------------------


def copy_out(cursor: CursorWrapper, sql: str, names: Sequence[str], dtypes: dict[str, object]) -> pd.DataFrame:
    """One query's rows through COPY TO (much faster than fetchall for millions)."""
    buffer = io.BytesIO()
    cursor.cursor.copy_expert(f"COPY ({sql}) TO STDOUT", buffer)
    if not buffer.tell():
        return pd.DataFrame({name: pd.Series(dtype=dtypes.get(name, object)) for name in names})
    buffer.seek(0)
    return pd.read_csv(
        buffer, sep="\t", header=None, names=list(names), dtype=dtypes, na_filter=False, quoting=3, engine="c"
    )


# --- Writing --------------------------------------------------------------------------------


class CopyStream:
    """COPY ... FROM STDIN fed from another thread, so PostgreSQL stores one chunk
    while Python checks the next (psycopg2 releases the GIL while it sends)."""

    def __init__(self, cursor: CursorWrapper, sql: str) -> None:
        self._raw = cursor.cursor
        self._sql = sql
        self._queue: queue.Queue[object] = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="import-copy", daemon=True)
        self._ended = False
        self.rows = 0

    def __enter__(self) -> CopyStream:
        self._thread.start()
        return self

    def __exit__(self, kind, error, trace) -> None:
        if error is not None:
            self.abort()
            return
        self._end(None)
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            self._raw.copy_expert(self._sql, self, size=1 << 20)
        except BaseException as exc:
            self._error = exc

    def read(self, size: int = -1) -> bytes:
        """Called by psycopg2 in the thread; raising aborts the COPY."""
        item = self._queue.get()
        if item is _ABORT:
            raise RuntimeError("import refused")
        return item or b""  # None: the end

    def send(self, payload: bytes, rows: int) -> None:
        if self._ended or not payload:
            return
        self.rows += rows
        while self._thread.is_alive():
            try:
                self._queue.put(payload, timeout=0.5)
                return
            except queue.Full:
                continue
        raise self._error or RuntimeError("COPY stopped")

    def abort(self) -> None:
        """Stop sending: what was sent is rolled back with the transaction."""
        self._end(_ABORT)
        self._error = None

    def _end(self, marker: object) -> None:
        if self._ended:
            return
        self._ended = True
        while self._thread.is_alive():
            try:
                self._queue.put(marker, timeout=0.5)
                break
            except queue.Full:
                continue
        self._thread.join()


def copy_in(cursor: CursorWrapper, table: str, columns: Sequence[str], payload: bytes) -> None:
    if payload:
        cursor.cursor.copy_expert(copy_sql(table, columns), io.BytesIO(payload), size=1 << 20)


@contextmanager
def staged(cursor: CursorWrapper, table: str, columns: Sequence[str], *, direct: bool = False) -> Iterator[CopyStream]:
    """A temporary table of `table`'s `columns`, filled by a CopyStream; staged_apply stores
    it. `direct`: the stream fills `table` itself."""
    if not direct:
        cursor.execute(f"DROP TABLE IF EXISTS {_STAGE}")
        listed = ", ".join(map(quote, columns))
        cursor.execute(f"CREATE TEMP TABLE {_STAGE} AS SELECT {listed} FROM {quote(table)} WITH NO DATA")
    with CopyStream(cursor, copy_sql(table if direct else _STAGE, columns)) as stream:
        yield stream


@dataclass
class Applied:
    """What staged_apply stored: how many rows, and the `returning` columns of each."""

    created: int
    updated: int
    inserted: list[tuple]
    changed: list[tuple]


def staged_apply(
    cursor: CursorWrapper,
    *,
    table: str,
    columns: Sequence[str],
    keys: Sequence[str],
    returning: Sequence[str] = (),
) -> Applied:
    """Store the staged rows: one UPDATE of the stored rows with the same `keys` where another
    column differs (IS DISTINCT FROM leaves identical rows untouched: no new row version, no
    trigger), then one INSERT of the rows not stored yet. Columns `created_at` and
    `updated_at` are not compared: the first is kept on an update, the second set."""
    cursor.execute(f"ANALYZE {_STAGE}")
    compared = [c for c in columns if c not in (*keys, "created_at", "updated_at")]
    assigned = ", ".join(f"{quote(c)} = s.{quote(c)}" for c in (*compared, "updated_at") if c in columns)
    joined = " AND ".join(f"t.{quote(c)} = s.{quote(c)}" for c in keys)
    before, after = (", ".join(f"{side}.{quote(c)}" for c in compared) for side in "ts")
    listed = ", ".join(map(quote, columns))
    returned = f" RETURNING {', '.join(f't.{quote(c)}' for c in returning)}" if returning else ""

    def run(sql: str) -> tuple[int, list[tuple]]:
        cursor.execute(sql + returned)
        return cursor.rowcount, cursor.fetchall() if returning else []

    updated, changed = run(
        f"UPDATE {quote(table)} AS t SET {assigned} FROM {_STAGE} AS s "
        f"WHERE {joined} AND ({before}) IS DISTINCT FROM ({after})"
    )
    created, inserted = run(
        f"INSERT INTO {quote(table)} AS t ({listed}) SELECT {listed} FROM {_STAGE} AS s "
        f"WHERE NOT EXISTS (SELECT FROM {quote(table)} AS t WHERE {joined})"
    )
    cursor.execute(f"DROP TABLE {_STAGE}")
    return Applied(created, updated, inserted, changed)


def table_lock(cursor: CursorWrapper, table: str, *, exclusive: bool = False) -> None:
    """Two imports of one table must not interleave (SHARE ROW EXCLUSIVE conflicts with
    itself and with writes, not with reads); dropping indexes needs ACCESS EXCLUSIVE."""
    mode = "ACCESS EXCLUSIVE" if exclusive else "SHARE ROW EXCLUSIVE"
    cursor.execute(f"LOCK TABLE {quote(table)} IN {mode} MODE")


def bulk_mode_wanted(cursor: CursorWrapper, table: str, incoming: int) -> bool:
    """Rebuild the indexes after loading rather than update them row by row?

    Building an index once costs about a quarter of maintaining it for every row, and
    foreign keys are checked by one query instead of one trigger call per row; but the
    rebuild covers the rows already there too. So: only for large files into a table
    at most half their size (then most rows are new and outnumber the old ones).
    """
    if incoming < BULK_MIN_ROWS:
        return False
    cursor.execute(f"SELECT count(*) FROM {quote(table)}")
    return cursor.fetchone()[0] * 2 <= incoming


@contextmanager
def indexes_suspended(cursor: CursorWrapper, *tables: str, watch: Phases | None = None) -> Iterator[None]:
    """Drop the secondary indexes, unique and foreign-key constraints of `tables`, then
    create them again exactly as they were (definitions read from the catalogue).

    This is PostgreSQL's own advice for bulk loads ("Populating a Database"). It runs
    inside the caller's transaction: if anything fails, the drops are rolled back too.
    Primary keys stay, and so does a unique constraint that a foreign key of a table
    not listed depends on.
    """
    cursor.execute(_CONSTRAINTS_SQL, [list(tables), list(tables)])
    constraints = cursor.fetchall()  # foreign keys ('f') sort before unique constraints ('u')
    cursor.execute(_INDEXES_SQL, [list(tables)])
    indexes = cursor.fetchall()
    # ALTER TABLE refuses to run while deferred foreign-key checks of this transaction
    # are pending (rows written before, e.g. by an enclosing atomic block): run them now.
    # Django creates every foreign key DEFERRABLE INITIALLY DEFERRED, which the last
    # statement below restores.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for table, name, _definition, _kind in constraints:
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
    yield
    with watch.phase("indexes rebuilt") if watch else nullcontext():
        _indexes_restore(cursor, constraints, indexes)
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")


_CONSTRAINTS_SQL = """
    SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype
    FROM pg_constraint c
    WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('u', 'f')
      AND NOT (c.contype = 'u' AND EXISTS (
          SELECT 1 FROM pg_constraint r
          WHERE r.contype = 'f' AND r.conindid = c.conindid AND NOT r.conrelid = ANY(%s::regclass[])))
    ORDER BY c.contype, 1, c.conname
"""
_INDEXES_SQL = """
    SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
    FROM pg_index i
    WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
    ORDER BY 1
"""


def _indexes_restore(
    cursor: CursorWrapper, constraints: list[tuple[str, str, str, str]], indexes: list[tuple[str, str]]
) -> None:
    # Sorting a million keys in the default 64 MB spills to disk; this transaction only.
    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
    # Unique constraints first: building them early reports a duplicate before the
    # slower work, and the foreign keys that use them need them back.
    for table, name, definition, kind in constraints:
        if kind == "u":
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")
    for _name, definition in indexes:
        cursor.execute(definition)
    for table, name, definition, kind in constraints:
        if kind == "f":
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")
