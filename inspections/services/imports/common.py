"""What every import shares: a column's description, the result, and the problems found.

Problems are kept as arrays (one array of lines per failed check), not one object per bad
cell: a million wrong rows must be reported quickly, and only the first few are worded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from django.utils.translation import gettext as _

# A reason is either a template ("'{value}' is not a date", translated) or a function of the value.
Reason = str | Callable[[object], str]
_VALUE_SHOWN_CHARS = 60  # values are echoed in messages; a 10-million-character one must not be


@dataclass(frozen=True)
class Column:
    """A column of a file kind: may it be empty, what stands in for an empty cell, how long
    a value may be (`too_long` has %(max)s), and how a value is read, once per distinct value:
    by `parse` (raises ValueError(message, values)), or as one of `codes` (read when an import
    starts: the codes, or what each stands for; compared once folded; `unknown`, with
    %(value)s and %(options)s, says why a code is refused)."""

    required: bool = True
    default: str | None = None
    max_chars: int = 0
    too_long: str = ""
    parse: Callable[[str], object] | None = None
    codes: Callable[[], Iterable[str] | Mapping[str, object]] | None = None
    fold: Callable[[str], str] = str.lower
    unknown: str = ""


@dataclass(frozen=True)
class ImportProblem:
    """One thing wrong with a file: where (line 1 is the header; 0 the whole file) and why."""

    line: int
    column: str
    reason: str


@dataclass
class ImportResult:
    rows_read: int = 0
    rows_created: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    errors: list[ImportProblem] = field(default_factory=list)
    error_count: int = 0

    @classmethod
    def stored(cls, rows: int, created: int, updated: int) -> ImportResult:
        return cls(rows_created=created, rows_updated=updated, rows_unchanged=rows - created - updated)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def summary(self) -> str:
        n = {"read": self.rows_read, "created": self.rows_created, "updated": self.rows_updated}
        n |= {"unchanged": self.rows_unchanged, "errors": self.error_count, "listed": len(self.errors)}
        if self.ok:
            return _("%(read)s row(s) read: %(created)s created, %(updated)s updated, %(unchanged)s unchanged.") % n
        refused = _("File refused, nothing imported: %(errors)s error(s) in %(read)s row(s).") % n
        listed = _("The first %(listed)s are listed.") % n
        return f"{refused} {listed}" if self.error_count > len(self.errors) else refused


class FileRefused(Exception):
    """Raised once the file cannot be imported; inside transaction.atomic(), it undoes what was written."""


class Problems:
    """Every problem of one file: all are counted, the first `limit` (by line) are kept."""

    def __init__(self, *, limit: int) -> None:
        self.limit, self.count, self._last = limit, 0, 0  # _last: the last line kept
        self._parts: list[tuple[np.ndarray, str, Reason, np.ndarray | None]] = []
        self.column_order: dict[str, int] = {}  # header position of each column: a line's problems in it

    def __bool__(self) -> bool:
        return self.count > 0

    def add(self, lines: np.ndarray, column: str, reason: Reason, values: np.ndarray | None = None) -> None:
        """Record that the cells of `column` on `lines` fail for `reason` (worded later)."""
        if len(lines):
            self.count += len(lines)
            lines = np.asarray(lines, dtype=np.int64)
            if len(lines) > self.limit:  # only the first `limit` of all can be worded: keep those of this part
                kept = np.sort(np.argpartition(lines, self.limit - 1)[: self.limit])
                lines, values = lines[kept], None if values is None else np.asarray(values)[kept]
            self._parts.append((lines, column, reason, values))
            self._last = max(self._last, int(lines.max()))

    def wanted(self, line: int) -> bool:
        """Whether a problem on `line` can be among the first `limit` (and so is worth wording)."""
        return self.count < self.limit or line < self._last

    def add_one(self, line: int, column: str, reason: Reason) -> None:
        """Record one problem; one that cannot be among the first `limit` is only counted."""
        if self.wanted(line):
            self.add(np.array([line]), column, reason)
        else:
            self.count += 1

    def clear(self) -> None:
        self.count, self._last, self._parts = 0, 0, []

    def first(self) -> list[ImportProblem]:
        """The first `limit` problems by line; within a line, by column as in the header."""
        if not self._parts:
            return []
        width = len(self.column_order) + 1
        order = [lines * width + self.column_order.get(column, width - 1) for lines, column, *_ in self._parts]
        owner = np.repeat(np.arange(len(self._parts)), [len(part[0]) for part in self._parts])
        offset = np.concatenate([np.arange(len(part[0])) for part in self._parts])
        chosen = np.argsort(np.concatenate(order), kind="stable")[: self.limit]
        return [self._word(*self._parts[owner[i]], int(offset[i])) for i in chosen]

    @staticmethod
    def _word(lines: np.ndarray, column: str, reason: Reason, values: np.ndarray | None, at: int) -> ImportProblem:
        value = None if values is None else values[at]
        if callable(reason):
            reason = reason(value)
        elif value is not None:
            text = str(value)
            shown = text if len(text) <= _VALUE_SHOWN_CHARS else text[: _VALUE_SHOWN_CHARS - 1] + "…"
            reason = str(reason).format(value=shown)
        return ImportProblem(line=int(lines[at]), column=column, reason=str(reason))  # lazy ones worded now


class RowChecks:
    """The cells of one chunk of rows and their checks. A cell already found wrong (too long,
    not a number...) is not judged again by a later check: one mistake, one message."""

    def __init__(self, *, lines: np.ndarray, cells: dict[str, np.ndarray], problems: Problems) -> None:
        self.lines, self.cells, self.problems = lines, cells, problems
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
        return ~np.any([self.bad[column] for column in columns or self.cells], axis=0)
