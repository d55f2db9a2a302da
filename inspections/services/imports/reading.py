"""Reading an import file: from bytes to tidy cells, a chunk of rows at a time.

The stdlib csv module, strict about quotes, walks the records once for where each starts
and how many values it has (pandas pads a short line without a word and counts records,
not lines); pandas' C parser then reads the values. A quote anywhere but around a whole
value is refused (RFC 4180). See docs/data-format.md.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, NoReturn

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from miningwatch import bulk

from .checks import choice, columns_check
from .common import Column, FileRefused, ImportResult, Problems, RowChecks

if TYPE_CHECKING:
    from django.db.backends.utils import CursorWrapper

BOM = b"\xef\xbb\xbf"
HEADER_MAX_BYTES = 64 * 1024  # a longer first line is not a header
CHUNK_ROWS = 100_000
SAVE_AS = gettext_lazy("export it from the spreadsheet as 'CSV UTF-8' (comma or semicolon separated)")
_SIGNATURES = {
    b"\x89PNG": gettext_lazy("a PNG image"),
    b"PK\x03\x04": gettext_lazy("a ZIP archive (an Excel .xlsx or OpenDocument workbook is one)"),
    b"PK\x05\x06": gettext_lazy("a ZIP archive"),
    b"\xd0\xcf\x11\xe0": gettext_lazy("an old-style Office document (an Excel .xls workbook?)"),
    b"%PDF": gettext_lazy("a PDF document"),
    b"\x1f\x8b": gettext_lazy("a gzip archive"),
    b"\xff\xd8\xff": gettext_lazy("a JPEG image"),
    b"GIF8": gettext_lazy("a GIF image"),
    b"\xff\xfe": gettext_lazy("UTF-16 text"),
    b"\xfe\xff": gettext_lazy("UTF-16 text"),
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNDECODED = re.compile("[\udc80-\udcff]")  # bytes that are not UTF-8, decoded with surrogateescape
_LINE_ENDS = gettext_lazy("save the file with Windows (CRLF) or Unix (LF) line endings.")
_STRAY_QUOTE = gettext_lazy(
    'A quote (") inside a value that is not itself enclosed in quotes. Enclose the whole value in '
    'quotes and write the quote twice, e.g. "Café ""De Hoek"" BV".'
)
# csv stops at a value over 128 KiB by default; a long value must be read, to be refused with its length.
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))


# Told how far an import is: its phase ("checking", "writing"), rows done, rows in all.
Progress = Callable[[str, int, int], None]


@dataclass
class CsvLayout:
    """Where the rows of a file are (pandas returns them in this order)."""

    path: Path
    start: int  # byte offset of the first data line
    delimiter: str
    columns: tuple[str, ...]  # header names, tidied, in file order
    lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # where each row starts
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # its values; 0: a blank line
    longest: int = 0  # no value is longer (characters)
    progress: Progress = field(default=lambda phase, done, total: None)  # told as rows are checked and written

    @property
    def records(self) -> int:
        return int(np.count_nonzero(self.counts))


logger = logging.getLogger("inspections.imports")


class FileKind:
    """A kind of import file: its columns, declared (`spec`); what `check` adds for each chunk
    of rows; how `write` stores them. An instance lives for one import, in its transaction,
    and holds what the checks carry from chunk to chunk."""

    spec: ClassVar[dict[str, Column]]
    table: ClassVar[str]  # locked for the import
    bulk_load: ClassVar[bool] = True  # may a big file suspend the table's indexes (bulk.bulk_mode_wanted)

    def __init__(self, cursor: CursorWrapper, layout: CsvLayout, problems: Problems) -> None:
        self.cursor, self.layout, self.problems = cursor, layout, problems
        self.big = self.bulk_load and bulk.bulk_mode_wanted(cursor, self.table, layout.records)
        bulk.table_lock(cursor, self.table, exclusive=self.big)
        self.parsers = {name: _parser(column) for name, column in self.spec.items()}
        self.lookups = {name: dict(column.lookup()) for name, column in self.spec.items() if column.lookup}
        self.start()

    @classmethod
    def run(cls, *, path: Path, progress: Progress | None = None, max_errors: int = 0) -> ImportResult:
        """Check the file and store its rows in one transaction: a problem found anywhere,
        even in the last row, leaves nothing stored. The first `max_errors` problems are
        worded (settings.IMPORT_MAX_ERRORS_SHOWN if 0); all are counted."""
        problems = Problems(limit=max_errors or settings.IMPORT_MAX_ERRORS_SHOWN)
        layout, start = None, time.perf_counter()
        try:
            layout = csv_layout_read(path=path, expected=tuple(cls.spec), problems=problems)
            layout.progress = progress or layout.progress
            layout.progress("checking", 0, layout.records)
            with transaction.atomic(), connection.cursor() as cursor:
                kind = cls(cursor, layout, problems)
                result = kind.write(
                    kind.check(rows, columns_check(cls.spec, rows, kind.parsers, kind.lookups))
                    for rows in csv_chunks(layout, problems=problems)
                )
        except FileRefused:
            result = ImportResult(errors=problems.first(), error_count=problems.count)
        result.rows_read = layout.records if layout else 0
        logger.info("Import of %s: %s in %.2f s", path, result.summary(), time.perf_counter() - start)
        return result

    def start(self) -> None:
        """Read what the checks compare rows with, once an import."""

    def check(self, rows: RowChecks, read: dict[str, np.ndarray]) -> pd.DataFrame:
        """The checks of one chunk beyond its columns' own (`read`: their values as read):
        its good rows as they are stored."""
        raise NotImplementedError

    def write(self, checked: Iterator[pd.DataFrame]) -> ImportResult:
        """Store the checked rows, chunk by chunk as they come; call `writing` once all are."""
        raise NotImplementedError

    def writing(self) -> None:
        """Every row is checked: refuse the file if any is wrong, else go on to write."""
        if self.problems:
            raise FileRefused
        self.layout.progress("writing", 0, self.layout.records)


def _parser(column: Column) -> Callable[[str], object] | None:
    if column.choices is None:
        return column.parse
    return choice(list(column.choices()), column.unknown, fold=column.fold)


def copy_text(rows: pd.DataFrame, columns: tuple[str, ...]) -> bytes:
    return bulk.copy_text([rows[column].to_numpy(dtype=object) for column in columns])


def csv_layout_read(*, path: Path, expected: tuple[str, ...], problems: Problems) -> CsvLayout:
    """Check that `path` is UTF-8 CSV text with exactly the `expected` columns. What leaves
    values unreadable raises FileRefused; lines with the wrong number of values are only
    recorded, so that the others are still checked."""
    header, start = _header_line(path, problems)
    layout = CsvLayout(path, start, *_header_check(header, expected, problems))
    problems.column_order = {name: i for i, name in enumerate(layout.columns)}
    _walk(layout, _Refusals(problems))
    if problems:
        raise FileRefused
    wrong = (layout.counts > 0) & (layout.counts != len(expected))
    reason = _("{value} value(s) where the header has %(count)s; quote values that contain the delimiter.")
    problems.add(layout.lines[wrong], "", reason % {"count": len(expected)}, layout.counts[wrong])
    return layout


def _refused(problems: Problems, line: int, reason: str, column: str = "") -> NoReturn:
    problems.add_one(line, column, reason)
    raise FileRefused


def _header_line(path: Path, problems: Problems) -> tuple[str, int]:
    """Refuse what is not CSV text at all; the header line, decoded, and where the data begins."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(HEADER_MAX_BYTES + len(BOM) + 1)
    except OSError as exc:
        _refused(problems, 0, _("The file cannot be read: %(error)s.") % {"error": exc.strerror or exc})
    start = len(BOM) if head.startswith(BOM) else 0
    end = head.find(b"\n", start)
    kinds = [kind for signature, kind in _SIGNATURES.items() if head.startswith(signature)]
    if size == 0:
        _refused(problems, 0, _("The file is empty."))
    if kinds or b"\x00" in head[:8192]:
        binary = _("This is not a CSV text file (it holds binary data); %(save_as)s.")
        reason = _("This is not a CSV text file: it looks like %(kind)s; %(save_as)s.") if kinds else binary
        _refused(problems, 0, reason % {"kind": kinds[0] if kinds else "", "save_as": SAVE_AS})
    if not head[start:].strip() and size <= len(head):
        _refused(problems, 0, _("The file is empty: it has no header line."))
    if end < 0 and size > len(head):
        _refused(problems, 1, _("The first line is too long to be a header."))
    end = len(head) if end < 0 else end  # a file of only a header, without a final line feed
    try:
        header = head[start:end].decode("utf-8").rstrip("\r")
    except UnicodeDecodeError as exc:
        reason = _("The header is not UTF-8 text (byte 0x%(byte)02X); %(save_as)s.")
        _refused(problems, 1, reason % {"byte": head[start + exc.start], "save_as": SAVE_AS})
    if "\r" in header:
        _refused(problems, 1, _("Lines end with a carriage return (CR) alone: %(fix)s") % {"fix": _LINE_ENDS})
    return header, min(end + 1, size)


def header_names(*, path: Path, problems: Problems) -> tuple[str, ...]:
    """A file's column names as the import reads them (the upload page tells kinds apart by them)."""
    header, _start = _header_line(path, problems)
    return tuple(name.strip().lower() for name in next(csv.reader([header], delimiter=_delimiter(header))))


def _delimiter(header: str) -> str:
    # The column names hold neither ',' nor ';', so whichever appears more separates them.
    return ";" if header.count(";") > header.count(",") else ","


def _header_check(header: str, expected: tuple[str, ...], problems: Problems) -> tuple[str, tuple[str, ...]]:
    """Delimiter and column names: the exact set expected, in any order."""
    listed = {"columns": ", ".join(expected)}
    delimiter = _delimiter(header)
    if not header.strip():
        _refused(problems, 1, _("The first line is empty: it must be the header (%(columns)s).") % listed)
    if delimiter not in header:
        _refused(problems, 1, _("The header has no ',' or ';' between column names; expected: %(columns)s.") % listed)
    names = tuple(name.strip().lower() for name in next(csv.reader([header], delimiter=delimiter)))
    for name in sorted({name for name in names if names.count(name) > 1}):
        problems.add_one(1, name, _("This column appears more than once in the header."))
    for name in [name for name in expected if name not in names]:
        problems.add_one(1, name, _("This column is missing from the header."))
    for name in [name for name in names if name not in expected]:
        problems.add_one(1, name or _("(empty)"), _("Unknown column; the columns are: %(columns)s.") % listed)
    if problems:
        raise FileRefused
    return delimiter, names


# --- The walk over the records ---------------------------------------------------------------


class _Refusals(Counter[str]):
    """Problems that leave values unreadable: the first `limit` of each kind are recorded, the rest counted."""

    def __init__(self, problems: Problems) -> None:
        super().__init__()
        self.problems = problems

    def shown(self, kind: str) -> bool:
        """Whether the next problem of this kind is recorded (and so worth wording)."""
        return self[kind] < self.problems.limit

    def add(self, kind: str, line: int, reason: str, column: str = "") -> None:
        if self.shown(kind):
            self.problems.add_one(line, column, reason)
        else:
            self.problems.count += 1
        self[kind] += 1


def _walk(layout: CsvLayout, refusals: _Refusals) -> None:
    """Where each record starts and how many values it has (0: a blank line); its lines are
    at hand, to say where a problem is."""
    taken: list[str] = []

    def lines() -> Iterator[str]:
        with open(layout.path, "rb") as handle:
            handle.seek(layout.start)
            for number, raw in enumerate(handle, start=2):
                taken.append(_line_decode(raw, number, layout, refusals))
                yield taken[-1]

    reader = csv.reader(lines(), delimiter=layout.delimiter, strict=True)
    starts, counts, longest = array("i"), array("i"), 0  # 4 bytes a record, not a Python int each
    while True:
        first, values = reader.line_num + 2, []
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            _csv_error(str(exc), first, reader.line_num + 1, "".join(taken), layout.delimiter, refusals)
        text = "".join(taken)
        taken.clear()
        if '"' in text and any('"' in value for value in values) and not _quotes_enclosed(text, layout.delimiter):
            refusals.add("quote", first, _STRAY_QUOTE)
        starts.append(first)
        counts.append(len(values) if text.strip(" \t\r\n") else 0)
        longest = max(longest, len(text))
    layout.lines, layout.counts = np.frombuffer(starts, dtype=np.int32), np.frombuffer(counts, dtype=np.int32)
    layout.longest = longest


def _quotes_enclosed(text: str, delimiter: str) -> bool:
    """Whether each value of a record that holds a quote appears in it enclosed, quotes doubled."""
    padded = delimiter + text.removesuffix("\n").removesuffix("\r") + delimiter
    values = next(csv.reader(io.StringIO(text, newline="\n"), delimiter=delimiter), [])
    enclosed = ('"' + value.replace('"', '""') + '"' for value in values if '"' in value)
    return all(delimiter + value + delimiter in padded for value in enclosed)


def _csv_error(message: str, first: int, line: int, text: str, delimiter: str, refusals: _Refusals) -> None:
    """A csv error in words: a quote that does not end a value, a lone CR, or no closing quote."""
    if message.startswith("unexpected end of data"):
        # The last value runs from its opening quote to the end of the file.
        values = list(csv.reader(io.StringIO(text, newline="\n"), delimiter=delimiter))
        tail = values[-1][-1] if values and values[-1] else ""
        opened = first + text[: len(text) - len(tail)].count("\n")
        refusals.add("unclosed", opened, _("A quoted value starts on this line and is never closed."))
    elif message.startswith("new-line character"):
        refusals.add("cr", line, _("A carriage return (CR) without a line feed: %(fix)s") % {"fix": _LINE_ENDS})
    elif "expected after" in message:
        refusals.add("quote", line, _STRAY_QUOTE)
    else:
        refusals.add("csv", line, _("The line cannot be read: %(error)s.") % {"error": message})


def _line_decode(raw: bytes, number: int, layout: CsvLayout, refusals: _Refusals) -> str:
    """One line as text; NUL bytes and bytes that are not UTF-8 are refused (with the column)."""
    if b"\x00" in raw:
        reason = _("This line holds a NUL byte: this is not a CSV text file; %(save_as)s.")
        refusals.add("nul", number, reason % {"save_as": SAVE_AS})
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8", "surrogateescape")
        if not refusals.shown("utf8"):
            refusals.add("utf8", number, "")  # only counted
            return text
        context = raw[max(exc.start - 20, 0) : exc.start + 20].decode("latin-1").strip()
        reason = _(
            "Not UTF-8 text (byte 0x%(byte)02X in '%(context)s'; the file looks Latin-1/Windows-1252 encoded); "
            "%(save_as)s."
        ) % {"byte": raw[exc.start], "context": context, "save_as": SAVE_AS}
        try:  # the column of the first undecodable byte, if the line parses on its own
            values = next(csv.reader([text.rstrip("\r\n")], delimiter=layout.delimiter))
        except csv.Error:
            values = []
        undecoded = (name for name, value in zip(layout.columns, values, strict=False) if _UNDECODED.search(value))
        refusals.add("utf8", number, reason, next(undecoded, ""))
        return text


# --- The values --------------------------------------------------------------------------------


def csv_chunks(layout: CsvLayout, *, problems: Problems) -> Iterator[RowChecks]:
    """The rows pandas parses, a chunk at a time, tidied; blank rows and those with the
    wrong number of values (already reported) left out."""
    readable = (layout.counts == len(layout.columns)).any()  # else pandas cannot cut rows to the header's width
    done = 0
    for frame in _frames(layout, problems) if readable else ():
        lines, counts = layout.lines[done : done + len(frame)], layout.counts[done : done + len(frame)]
        done += len(frame)
        if len(lines) != len(frame):
            break
        keep = counts == len(layout.columns)
        cells = {name: frame[name].to_numpy(dtype=object)[keep] for name in layout.columns}
        checks = RowChecks(lines=lines[keep], cells=cells, problems=problems)
        for name in layout.columns:
            checks.cells[name] = _cells_tidy(name, checks, layout)
        yield checks
        layout.progress("checking", int(np.count_nonzero(layout.counts[:done])), layout.records)
    if readable and done != len(layout.lines):
        # The walk and pandas disagree on where rows are: never guess.
        problems.add_one(0, "", _("The file could not be read consistently (unusual quoting or line endings)."))
    if not done:  # one empty chunk, so that a kind's checked rows always have their columns
        yield RowChecks(
            lines=np.zeros(0, np.int64), cells=dict.fromkeys(layout.columns, np.zeros(0, object)), problems=problems
        )


def _frames(layout: CsvLayout, problems: Problems) -> Iterator[pd.DataFrame]:
    with open(layout.path, "rb") as handle:
        handle.seek(layout.start)
        # Blank lines are rows, as in the walk; a row with more values than the header is
        # cut, one with fewer padded (the walk reported both).
        reader = pd.read_csv(
            handle, sep=layout.delimiter, header=None, names=list(layout.columns),
            usecols=list(range(len(layout.columns))), index_col=False, dtype=object, na_filter=False,
            engine="c", chunksize=CHUNK_ROWS, skip_blank_lines=False, encoding="utf-8",
        )  # fmt: skip
        try:
            yield from reader
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            # The walk refuses what pandas cannot parse; this is a last guard, not a path.
            problems.add_one(0, "", _("The file could not be parsed: %(error)s") % {"error": exc})


def _cells_tidy(name: str, checks: RowChecks, layout: CsvLayout) -> np.ndarray:
    """A column's cells, over-long ones and control characters refused, surrounding blanks
    stripped. Each step runs cell by cell only if one search over the column calls for it."""
    values, limit = checks.cells[name], settings.IMPORT_MAX_CELL_CHARS
    if layout.longest > limit:
        sizes = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        reason = _("The value has {value} characters; at most %(limit)s are allowed.") % {"limit": limit}
        checks.fail(name, sizes > limit, reason, sizes)
        values = np.where(sizes > limit, "", values)
    joined = "\x00".join(values)  # no value holds a NUL: the walk refuses them
    if any(edge in f"\x00{joined}\x00" for edge in (" \x00", "\t\x00", "\x00 ", "\x00\t")):
        values = pd.Series(values, dtype=object).str.strip(" \t").to_numpy(dtype=object)
    if not joined.replace("\x00", "").isprintable():  # also true of a no-break space, say: look closer
        control = pd.Series(values, dtype=object).str.contains(_CONTROL).to_numpy(dtype=bool)
        checks.fail(name, control, _("The value holds a tab, a line break or another control character."))
        values = np.where(control, "", values)
    return values
