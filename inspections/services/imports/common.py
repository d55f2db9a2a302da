"""What every import shares: the result, the problems found and how they are gathered,
and the declarative description of a file's columns.

Problems are gathered as arrays (one array of line numbers per failed check), not one
object per bad cell: a file where every one of a million rows is wrong must still be
reported quickly, and only the first few (settings.IMPORT_MAX_ERRORS_SHOWN) are worded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

logger = logging.getLogger("inspections.imports")

# A reason is either a template ("'{value}' is not a date") or a function of the value.
Reason = str | Callable[[object], str]
_VALUE_SHOWN_CHARS = 60  # cell values are echoed in messages; a 10-million-character cell must not be


@dataclass(frozen=True)
class Column:
    """One column of a file: whether it may be empty, and how a value is read.

    `parse` runs once per distinct value and raises ValueError with the reason; the
    columns that need more (lookups, keys, rules across columns) are checked by the
    import of their file kind. `default` stands in for an empty optional cell.
    """

    required: bool = True
    parse: Callable[[str], object] | None = None
    default: str | None = None


@dataclass(frozen=True)
class ImportProblem:
    """One thing wrong with a file: where (line 1 is the header; 0 the whole file) and why."""

    line: int
    column: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "column": self.column, "reason": self.reason}

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}, column {self.column}: {self.reason}" if self.column else f"{where}: {self.reason}"


@dataclass
class ImportResult:
    rows_read: int = 0
    rows_created: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    errors: list[ImportProblem] = field(default_factory=list)
    error_count: int = 0

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @classmethod
    def refused(cls, problems: Problems, *, rows_read: int) -> ImportResult:
        return cls(rows_read=rows_read, errors=problems.first(), error_count=problems.count)

    def summary(self) -> str:
        if not self.ok:
            listed = f" The first {len(self.errors)} are listed." if self.error_count > len(self.errors) else ""
            return f"File refused, nothing imported: {self.error_count} error(s) in {self.rows_read} row(s).{listed}"
        return (
            f"{self.rows_read} row(s) read: {self.rows_created} created, "
            f"{self.rows_updated} updated, {self.rows_unchanged} unchanged."
        )


class FileRefused(Exception):
    """Raised inside an import once it is known the file cannot be imported.

    Raising it inside transaction.atomic() is what undoes anything already written.
    """


@dataclass
class _Part:
    lines: np.ndarray
    column: str
    reason: Reason
    values: np.ndarray | None


class Problems:
    """Every problem of one file: all are counted, the first `limit` (by line) are kept."""

    def __init__(self, *, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self._parts: list[_Part] = []
        # Header position of each column, once known: problems of a line are listed in it.
        self.column_order: dict[str, int] = {}

    def __bool__(self) -> bool:
        return self.count > 0

    def add(self, lines: np.ndarray, column: str, reason: Reason, values: np.ndarray | None = None) -> None:
        """Record that the cells of `column` on `lines` fail for `reason` (worded later)."""
        if len(lines):
            self.count += len(lines)
            self._parts.append(_Part(np.asarray(lines, dtype=np.int64), column, reason, values))

    def add_one(self, line: int, column: str, reason: str) -> None:
        self.add(np.array([line]), column, reason)

    def count_more(self, count: int) -> None:
        """Count problems that lie after `limit` problems of the same kind already added."""
        self.count += count

    def first(self) -> list[ImportProblem]:
        """The first `limit` problems by line; within a line, by column as in the header."""
        if not self._parts:
            return []
        width = len(self.column_order) + 1
        order = [part.lines * width + self.column_order.get(part.column, width - 1) for part in self._parts]
        owner = np.repeat(np.arange(len(self._parts)), [len(part.lines) for part in self._parts])
        offset = np.concatenate([np.arange(len(part.lines)) for part in self._parts])
        chosen = np.argsort(np.concatenate(order), kind="stable")[: self.limit]
        return [self._word(self._parts[owner[i]], int(offset[i])) for i in chosen]

    @staticmethod
    def _word(part: _Part, index: int) -> ImportProblem:
        value = None if part.values is None else part.values[index]
        if callable(part.reason):
            reason = part.reason(value)
        elif value is None:
            reason = part.reason
        else:
            text = str(value)
            shown = text if len(text) <= _VALUE_SHOWN_CHARS else text[: _VALUE_SHOWN_CHARS - 1] + "…"
            reason = part.reason.format(value=shown)
        return ImportProblem(line=int(part.lines[index]), column=part.column, reason=reason)


class RowChecks:
    """The cells of one chunk of rows and their checks: each cell gets at most one problem.

    A cell already found wrong (too long, not a number...) is not judged again by a
    later check of the same column, so one mistake gives one message.
    """

    def __init__(self, *, lines: np.ndarray, cells: dict[str, np.ndarray], problems: Problems) -> None:
        self.lines = lines
        self.cells = cells
        self.problems = problems
        self.bad = {column: np.zeros(len(lines), dtype=bool) for column in cells}

    def fail(self, column: str, mask: np.ndarray, reason: Reason, values: np.ndarray | None = None) -> None:
        """Report the rows of `mask` for `column`; values default to the cells themselves."""
        new = mask & ~self.bad[column]
        if new.any():
            self.bad[column] |= new
            shown = self.cells[column] if values is None else values
            self.problems.add(self.lines[new], column, reason, shown[new])

    def good(self, *columns: str) -> np.ndarray:
        """Rows whose given cells (all if none given) are still without a problem."""
        mask = np.ones(len(self.lines), dtype=bool)
        for column in columns or self.cells:
            mask &= ~self.bad[column]
        return mask


class Stopwatch:
    """Seconds spent per phase of one import, logged at the end (where did the time go?)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.phases: dict[str, float] = {}
        self._start = time.perf_counter()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - start

    def log(self, result: ImportResult) -> None:
        total = time.perf_counter() - self._start
        phases = {**self.phases, "other (commit...)": total - sum(self.phases.values())}
        spent = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in phases.items())
        logger.info("%s: %s in %.2f s (%s)", self.name, result.summary(), total, spent)
