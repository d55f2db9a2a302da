"""Reading an import file into tidy cells, a chunk of rows at a time (docs/data-format.md): the
csv module parses records, strict about quotes; lines are decoded one by one, to say where a
byte is not UTF-8."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .checks import TOO_LONG, FileRefused, Problems, RowChecks, lengths

BOM = b"\xef\xbb\xbf"
HEADER_MAX_BYTES = 64 * 1024  # a longer first line is not a header
CHUNK_ROWS = 100_000
SAVE_AS = gettext_lazy("export it from the spreadsheet as 'CSV UTF-8' (comma or semicolon separated)")
_SIGNATURES = {  # what a file's first bytes say it is
    b"\x89PNG": gettext_lazy("a PNG image"),
    b"PK\x03\x04": gettext_lazy("a ZIP archive (an Excel .xlsx or OpenDocument workbook is one)"),
    b"PK\x05\x06": gettext_lazy("a ZIP archive"),
    b"\xd0\xcf\x11\xe0": gettext_lazy("an old-style Office document (an Excel .xls workbook?)"),
    b"%PDF": gettext_lazy("a PDF document"),
    b"\x1f\x8b": gettext_lazy("a gzip archive"),
    b"\xff\xd8\xff": gettext_lazy("a JPEG image"),
    b"GIF8": gettext_lazy("a GIF image"),
    (b"\xff\xfe", b"\xfe\xff"): gettext_lazy("UTF-16 text"),
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNDECODED = re.compile("[\udc80-\udcff]")  # bytes that are not UTF-8, decoded with surrogateescape
_LINE_ENDS = gettext_lazy("save the file with Windows (CRLF) or Unix (LF) line endings.")
_STRAY_QUOTE = gettext_lazy(
    'A quote (") inside a value that is not itself enclosed in quotes. Enclose the whole value in '
    'quotes and write the quote twice, e.g. "Café ""De Hoek"" BV".'
)
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))  # not 128 KiB: a long value is refused by length
Progress = Callable[[str, int, int], None]  # told how far an import is: phase ("checking", "writing"), done, total


@dataclass
class CsvFile:
    """A file whose header is checked: where its rows are, how many were read, and the walk over
    them. What leaves values unreadable is reported, and sets `unreadable`."""

    path: Path
    start: int  # byte offset of the first data line
    delimiter: str
    columns: tuple[str, ...]  # header names, tidied, in file order
    lines: int  # lines with text after the header: the rows, near enough, before they are read
    problems: Problems
    records: int = 0  # rows read so far, blank lines left out
    progress: Progress = field(default=lambda phase, done, total: None)
    unreadable: bool = False
    taken: list[str] = field(default_factory=list)  # the lines of the record being read

    def refuse(self, line: int, reason: str, column: str = "") -> None:
        """A file that cannot be read is refused for that alone: the rows read so far may be wrong."""
        if not self.unreadable:
            self.problems.clear()
        self.unreadable = True
        self.problems.add_one(line, column, reason)

    def walk(self) -> Iterator[tuple[int, list[str], int]]:
        """The records: the line each starts on, its values, its length; blank lines left out."""
        reader = csv.reader(self._lines(), delimiter=self.delimiter, strict=True)
        while True:
            first = reader.line_num + 2
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self._csv_error(str(exc), first, reader.line_num + 1, "".join(self.taken))
                values = []
            text = "".join(self.taken)
            self.taken.clear()
            if '"' in text and any('"' in value for value in values) and not self._enclosed(text):
                self.refuse(first, _STRAY_QUOTE)
            if values and text.strip(" \t\r\n"):
                yield first, values, len(text)

    def _lines(self) -> Iterator[str]:
        with open(self.path, "rb") as handle:
            handle.seek(self.start)
            for number, raw in enumerate(handle, start=2):
                self.taken.append(self._decode(raw, number))
                yield self.taken[-1]

    def _values(self, text: str) -> list[str]:
        return next(csv.reader(io.StringIO(text, newline="\n"), delimiter=self.delimiter), [])

    def _enclosed(self, text: str) -> bool:
        """Whether each value of a record that holds a quote appears in it enclosed, quotes doubled."""
        delimiter = self.delimiter
        padded = delimiter + text.removesuffix("\n").removesuffix("\r") + delimiter
        enclosed = ('"' + value.replace('"', '""') + '"' for value in self._values(text) if '"' in value)
        return all(delimiter + value + delimiter in padded for value in enclosed)

    def _csv_error(self, message: str, first: int, line: int, text: str) -> None:
        """A csv error in words: a quote that does not end a value, a lone CR, or no closing quote."""
        if message.startswith("unexpected end of data"):
            # The last value runs from its opening quote to the end of the file.
            values = list(csv.reader(io.StringIO(text, newline="\n"), delimiter=self.delimiter))
            tail = values[-1][-1] if values and values[-1] else ""
            opened = first + text[: len(text) - len(tail)].count("\n")
            self.refuse(opened, _("A quoted value starts on this line and is never closed."))
        elif message.startswith("new-line character"):
            self.refuse(line, _("A carriage return (CR) without a line feed: %(fix)s") % {"fix": _LINE_ENDS})
        elif "expected after" in message:
            self.refuse(line, _STRAY_QUOTE)
        else:
            self.refuse(line, _("The line cannot be read: %(error)s.") % {"error": message})

    def _decode(self, raw: bytes, number: int) -> str:
        """One line as text; NUL bytes and bytes that are not UTF-8 are refused (with their column)."""
        if b"\x00" in raw:
            reason = _("This line holds a NUL byte: this is not a CSV text file; %(save_as)s.")
            self.refuse(number, reason % {"save_as": SAVE_AS})
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = raw.decode("utf-8", "surrogateescape")
            if not self.problems.wanted(number):
                self.refuse(number, "")  # only counted
                return text
            try:
                values = self._values(text)
            except csv.Error:
                values = []
            pairs = zip(self.columns, values, strict=False)
            column = next((name for name, value in pairs if _UNDECODED.search(value)), "")
            context = raw[max(exc.start - 20, 0) : exc.start + 20].decode("latin-1").strip()
            reason = _(
                "Not UTF-8 text (byte 0x%(byte)02X in '%(context)s'; the file looks Latin-1/Windows-1252 encoded); "
                "%(save_as)s."
            )
            self.refuse(number, reason % {"byte": raw[exc.start], "context": context, "save_as": SAVE_AS}, column)
            return text


def csv_open(*, path: Path, expected: tuple[str, ...], problems: Problems) -> CsvFile:
    """Check that `path` is CSV text with exactly the `expected` columns, else raise FileRefused."""
    header, start = _header_line(path, problems)
    delimiter, columns = _header_check(header, expected, problems)
    with open(path, "rb") as handle:
        lines = sum(1 for line in handle if line.strip()) - 1  # the header has text
    return CsvFile(path, start, delimiter, columns, lines=lines, problems=problems)


def header_names(*, path: Path, problems: Problems) -> tuple[str, ...]:
    """A file's column names as the import reads them (the upload page tells kinds apart by them)."""
    return _names(_header_line(path, problems)[0])[1]


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


def _names(header: str) -> tuple[str, tuple[str, ...]]:
    """The delimiter (names hold neither ',' nor ';': the one found more often) and the names."""
    delimiter = ";" if header.count(";") > header.count(",") else ","
    return delimiter, tuple(name.strip().lower() for name in next(csv.reader([header], delimiter=delimiter)))


def _header_check(header: str, expected: tuple[str, ...], problems: Problems) -> tuple[str, tuple[str, ...]]:
    """Delimiter and column names: the exact set expected, in any order."""
    listed = {"columns": ", ".join(expected)}
    delimiter, names = _names(header)
    if not header.strip():
        _refused(problems, 1, _("The first line is empty: it must be the header (%(columns)s).") % listed)
    if delimiter not in header:
        _refused(problems, 1, _("The header has no ',' or ';' between column names; expected: %(columns)s.") % listed)
    for name in sorted({name for name in names if names.count(name) > 1}):
        problems.add_one(1, name, _("This column appears more than once in the header."))
    for name in [name for name in expected if name not in names]:
        problems.add_one(1, name, _("This column is missing from the header."))
    for name in [name for name in names if name not in expected]:
        problems.add_one(1, name or _("(empty)"), _("Unknown column; the columns are: %(columns)s.") % listed)
    if problems:
        raise FileRefused
    problems.column_order = {name: i for i, name in enumerate(names)}  # a line's problems in header order
    return delimiter, names


def csv_chunks(file: CsvFile) -> Iterator[RowChecks]:
    """The rows, a chunk at a time, tidied; blank lines and rows of the wrong width left out. After
    a value that cannot be read, rows are only counted, and the file is refused at its end."""
    problems, width = file.problems, len(file.columns)
    reason = _("{value} value(s) where the header has %(count)s; quote values that contain the delimiter.")
    # The cells row after row, in one list: a list per row would keep the garbage collector busy.
    lines, cells, longest = [], [], 0
    for first, values, size in file.walk():
        file.records += 1
        if file.unreadable:  # the file is refused: only what else cannot be read still counts
            continue
        if len(values) != width:
            problems.add_one(first, "", reason.format(value=len(values)) % {"count": width})
        else:
            lines.append(first)
            cells.extend(values)
            longest = max(longest, size)
        if len(lines) == CHUNK_ROWS:
            yield _chunk(file, lines, cells, longest, problems)
            file.progress("checking", file.records, max(file.lines, file.records))
            lines, cells, longest = [], [], 0
    if file.unreadable:
        raise FileRefused
    yield _chunk(file, lines, cells, longest, problems)  # maybe empty: checked rows still have their columns


def _chunk(file: CsvFile, lines: list[int], cells: list[str], longest: int, problems: Problems) -> RowChecks:
    """The cells as columns: over-long values and control characters refused, edge blanks stripped;
    cell by cell only where a search over the column (or `longest`, the longest record) calls for it."""
    grid = np.array(cells, dtype=object).reshape(len(lines), len(file.columns))
    columns = {name: grid[:, i] for i, name in enumerate(file.columns)}
    rows = RowChecks(lines=np.array(lines, dtype=np.int64), cells=columns, problems=problems)
    limit = settings.IMPORT_MAX_CELL_CHARS
    for name, values in columns.items():  # each column replaced by its tidy cells
        if longest > limit:
            sizes = lengths(values)
            rows.fail(name, sizes > limit, TOO_LONG % {"limit": limit}, sizes)
            values = np.where(sizes > limit, "", values)
        joined = "\x00".join(values)  # no value holds a NUL: the walk refuses them
        if any(edge in f"\x00{joined}\x00" for edge in (" \x00", "\t\x00", "\x00 ", "\x00\t")):
            values = pd.Series(values, dtype=object).str.strip(" \t").to_numpy(dtype=object)
        if not joined.replace("\x00", "").isprintable():  # also true of a no-break space, say: look closer
            control = pd.Series(values, dtype=object).str.contains(_CONTROL).to_numpy(dtype=bool)
            rows.fail(name, control, _("The value holds a tab, a line break or another control character."))
            values = np.where(control, "", values)
        rows.cells[name] = values
    return rows
