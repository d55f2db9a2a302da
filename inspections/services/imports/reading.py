"""Reading an import file: from bytes to tidy cells, a chunk of rows at a time.

Two library parsers read the file, each for what it does best. The stdlib csv module,
strict about quotes, walks every record once to learn where it starts and how many
values it has (pandas pads a short line with empty cells without a word, and counts
records, not lines: a quoted value may span lines). pandas' C parser then reads the
values. The walk runs in C (only each record's length is kept); when it meets
something it cannot place (a csv error, a record over several lines, a line of one
value, NUL bytes, bytes that are not UTF-8) the file is walked again record by record,
to say where. See docs/data-format.md.
"""

from __future__ import annotations

import csv
import io
import itertools
import operator
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .common import FileRefused, Problems, RowChecks

BOM = b"\xef\xbb\xbf"
# A header line longer than this is not a header.
HEADER_MAX_BYTES = 64 * 1024
BLOCK_BYTES = 16 * 1024 * 1024
CHUNK_ROWS = 100_000
SAVE_AS = "export it from the spreadsheet as 'CSV UTF-8' (comma or semicolon separated)"
_SIGNATURES = (
    (b"\x89PNG", "a PNG image"),
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx or OpenDocument workbook is one)"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"\xd0\xcf\x11\xe0", "an old-style Office document (an Excel .xls workbook?)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\xff\xfe", "UTF-16 text"),
    (b"\xfe\xff", "UTF-16 text"),
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BYTES = bytes(range(32)) + b"\x7f"
_STRAY_QUOTE = (
    'A quote (") inside a value that is not itself enclosed in quotes. Enclose the whole value in '
    'quotes and write the quote twice, e.g. "Café ""De Hoek"" BV".'
)
_LONE_CR = "A carriage return (CR) without a line feed: save the file with Windows (CRLF) or Unix (LF) line endings."
# csv stops at a value over 128 KiB by default; a long value must be read, to be refused with its length.
csv.field_size_limit(max(csv.field_size_limit(), min(sys.maxsize, 2**31 - 1)))


@dataclass(frozen=True)
class CsvLayout:
    """Where the rows of a checked file are; pandas returns them in this order."""

    path: Path
    start: int  # byte offset of the first data line
    delimiter: str
    columns: tuple[str, ...]  # header names, tidied, in file order
    lines: np.ndarray  # first line of each row (a blank line is a row of 0 values)
    counts: np.ndarray  # values in each row
    records: int  # rows that are not blank
    longest: int  # no value is longer (characters)
    controls: bool  # some value may hold a control character


@dataclass
class Chunk:
    lines: np.ndarray
    cells: dict[str, np.ndarray]  # column -> object array of str, whitespace stripped
    longest: int


class _Odd(Exception):
    """Raised in the walk in C for what only the walk record by record can place."""


class _Fatal:
    """Problems that leave values unreadable: the first `limit` of each kind are kept, the rest counted."""

    def __init__(self, limit: int) -> None:
        self.limit, self.more = limit, 0
        self.kept: dict[str, list[tuple[int, str, str]]] = {}

    def add(self, kind: str, line: int, reason: str, column: str = "") -> None:
        kept = self.kept.setdefault(kind, [])
        if len(kept) < self.limit:
            kept.append((line, column, reason))
        else:
            self.more += 1

    def report(self, problems: Problems) -> None:
        """Record the problems, and refuse the file if there are any."""
        for line, column, reason in itertools.chain(*self.kept.values()):
            problems.add_one(line, column, reason)
        problems.count_more(self.more)
        if problems:
            raise FileRefused


def csv_layout_read(*, path: Path, expected: tuple[str, ...], problems: Problems) -> CsvLayout:
    """Check that `path` is a UTF-8 CSV text with exactly the `expected` columns.

    Problems that make the values unreadable raise FileRefused; lines with the wrong
    number of values are only recorded, so the other lines can still be checked.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        problems.add_one(0, "", f"The file cannot be read: {exc.strerror or exc}.")
        raise FileRefused from exc
    with open(path, "rb") as handle:
        head = handle.read(HEADER_MAX_BYTES + len(BOM) + 1)
    header, start = _header_line(head, _text_check(head, size, problems), size, problems)
    delimiter, columns = _header_check(header, expected, problems)
    problems.column_order = {name: i for i, name in enumerate(columns)}
    layout = _walk(path, start, delimiter, columns, problems)
    records = layout.counts > 0
    wrong = records & (layout.counts != len(columns))
    problems.add(layout.lines[wrong], "", _count_reason(len(columns)), layout.counts[wrong])
    return CsvLayout(path, start, delimiter, columns, **layout.__dict__, records=int(records.sum()))


@dataclass
class _Rows:
    lines: np.ndarray
    counts: np.ndarray
    longest: int = 0
    controls: bool = False


def _count_reason(expected: int) -> Callable[[object], str]:
    return lambda count: f"{count} value(s) where the header has {expected}; quote values that contain the delimiter."


def _text_check(head: bytes, size: int, problems: Problems) -> int:
    """Refuse empty and binary files; return where the text starts (after a BOM)."""
    if size == 0:
        problems.add_one(0, "", "The file is empty.")
        raise FileRefused
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            problems.add_one(0, "", f"This is not a CSV text file: it looks like {kind}; {SAVE_AS}.")
            raise FileRefused
    if b"\x00" in head[:8192]:
        problems.add_one(0, "", f"This is not a CSV text file (it holds binary data); {SAVE_AS}.")
        raise FileRefused
    start = len(BOM) if head.startswith(BOM) else 0
    if not head[start:].strip() and size <= len(head):
        problems.add_one(0, "", "The file is empty: it has no header line.")
        raise FileRefused
    return start


def _header_line(head: bytes, start: int, size: int, problems: Problems) -> tuple[str, int]:
    """The header line, decoded, and the byte offset where the data lines begin."""
    newline = head.find(b"\n", start)
    if newline < 0:
        if size > len(head):
            problems.add_one(1, "", "The first line is too long to be a header.")
            raise FileRefused
        newline = len(head)  # a file holding only a header, without a final line feed
    raw = head[start:newline]
    try:
        text = raw.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError as exc:
        problems.add_one(1, "", f"The header is not UTF-8 text (byte 0x{raw[exc.start]:02X}); {SAVE_AS}.")
        raise FileRefused from exc
    if "\r" in text:
        reason = (
            "Lines end with a carriage return (CR) alone: save the file with Windows (CRLF) or Unix (LF) line endings."
        )
        problems.add_one(1, "", reason)
        raise FileRefused
    return text, min(newline + 1, size)


def _header_check(header: str, expected: tuple[str, ...], problems: Problems) -> tuple[str, tuple[str, ...]]:
    """Delimiter and column names: the exact set expected, in any order."""
    if not header.strip():
        problems.add_one(1, "", f"The first line is empty: it must be the header ({', '.join(expected)}).")
        raise FileRefused
    # The column names hold neither ',' nor ';', so whichever appears more separates them.
    delimiter = ";" if header.count(";") > header.count(",") else ","
    if header.count(delimiter) == 0:
        problems.add_one(1, "", f"The header has no ',' or ';' between column names; expected: {', '.join(expected)}.")
        raise FileRefused
    names = tuple(name.strip().lower() for name in next(csv.reader([header], delimiter=delimiter)))
    for name in sorted({name for name in names if names.count(name) > 1}):
        problems.add_one(1, name, "This column appears more than once in the header.")
    for name in [name for name in expected if name not in names]:
        problems.add_one(1, name, "This column is missing from the header.")
    for name in [name for name in names if name not in expected]:
        problems.add_one(1, name or "(empty)", f"Unknown column; the columns are: {', '.join(expected)}.")
    if problems:
        raise FileRefused
    return delimiter, names


# --- The walk over the records ---------------------------------------------------------------


def _walk(path: Path, start: int, delimiter: str, columns: tuple[str, ...], problems: Problems) -> _Rows:
    """Where each row starts and how many values it has; refuses what cannot be read."""
    fatal = _Fatal(problems.limit)
    try:
        rows = _walk_in_c(path, start, delimiter, fatal)
    except _Odd:
        rows = _walk_by_record(path, start, delimiter, columns, fatal)
    fatal.report(problems)
    return rows


def _blocks(path: Path, start: int) -> Iterator[bytes]:
    """The data bytes in blocks that end at a line end (so that each decodes on its own)."""
    with open(path, "rb") as handle:
        handle.seek(start)
        while block := handle.read(BLOCK_BYTES):
            yield block + handle.readline()


def _text_lines(path: Path, start: int, rows: _Rows) -> Iterator[str]:
    """The data lines, decoded; notes the longest line and any control character on the way."""
    for block in _blocks(path, start):
        if b"\x00" in block:
            raise _Odd
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            raise _Odd from None
        rows.longest = max(rows.longest, max(map(len, block.split(b"\n"))))
        # Control bytes other than line ends (LF, and the CR of CRLF): a tab or such in some value.
        controls = len(block) - len(block.translate(None, _CONTROL_BYTES))
        rows.controls |= controls > block.count(b"\n") + block.count(b"\r\n")
        yield from io.StringIO(text, newline="\n")


def _walk_in_c(path: Path, start: int, delimiter: str, fatal: _Fatal) -> _Rows:
    """The walk with no Python per record: the length of each and whether a value holds a quote."""
    rows = _Rows(np.zeros(0, np.int64), np.zeros(0, np.int64))
    reader = csv.reader(_text_lines(path, start, rows), delimiter=delimiter, strict=True)
    shapes, texts = itertools.tee(reader)
    found = zip(map(len, shapes), map(operator.contains, map("".join, texts), itertools.repeat('"')), strict=True)
    try:
        found = np.fromiter(found, dtype=[("count", np.int64), ("quote", bool)])
    except csv.Error:
        raise _Odd from None
    rows.counts = found["count"]
    if reader.line_num != len(rows.counts) or (rows.counts == 1).any():
        raise _Odd  # a record over several lines; a blank line of spaces or a record of one value
    rows.lines = np.arange(2, len(rows.counts) + 2)
    if found["quote"].any():
        _quotes_check(path, start, delimiter, found["quote"], rows.lines, fatal)
    return rows


def _quotes_check(
    path: Path, start: int, delimiter: str, holding: np.ndarray, lines: np.ndarray, fatal: _Fatal
) -> None:
    """Values holding a quote (few) must be enclosed in quotes: looked up in their lines."""
    with open(path, "rb") as handle:
        handle.seek(start)
        texts = itertools.compress(io.TextIOWrapper(handle, encoding="utf-8", newline="\n"), holding)
        for line, text in zip(lines[holding].tolist(), texts, strict=True):
            if not _quotes_enclosed(text, delimiter):
                fatal.add("quote", line, _STRAY_QUOTE)


def _quotes_enclosed(text: str, delimiter: str) -> bool:
    """Whether each value of a record that holds a quote is in it enclosed, quotes doubled (RFC 4180)."""
    padded = f"{delimiter}{text.rstrip(chr(10)).rstrip(chr(13))}{delimiter}"
    values = next(csv.reader(io.StringIO(text, newline="\n"), delimiter=delimiter), [])
    quoted = ('"' + value.replace('"', '""') + '"' for value in values if '"' in value)
    return all(f"{delimiter}{value}{delimiter}" in padded for value in quoted)


def _walk_by_record(path: Path, start: int, delimiter: str, columns: tuple[str, ...], fatal: _Fatal) -> _Rows:
    """The walk record by record, with each record's lines at hand: says where each problem is."""
    taken: list[str] = []

    def lines() -> Iterator[str]:
        with open(path, "rb") as handle:
            handle.seek(start)
            for number, raw in enumerate(handle, start=2):
                taken.append(_line_decode(raw, number, delimiter, columns, fatal))
                yield taken[-1]

    reader = csv.reader(lines(), delimiter=delimiter, strict=True)
    starts, counts = [], []
    while True:
        first = reader.line_num + 2
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            _csv_error(exc, first, reader.line_num + 1, "".join(taken), delimiter, fatal)
            values = None
        text = "".join(taken)
        taken.clear()
        if values is not None and any('"' in value for value in values) and not _quotes_enclosed(text, delimiter):
            fatal.add("quote", first, _STRAY_QUOTE)
        starts.append(first)
        counts.append(len(values) if values and text.strip(" \t\r\n") else 0)
    return _Rows(np.array(starts, dtype=np.int64), np.array(counts, dtype=np.int64), sys.maxsize, True)


def _csv_error(exc: csv.Error, first: int, line: int, text: str, delimiter: str, fatal: _Fatal) -> None:
    """A csv error in words: a quote that does not end a value, a lone CR, or no closing quote."""
    message = str(exc)
    if message.startswith("unexpected end of data"):
        # The last value runs from its opening quote to the end of the file.
        values = list(csv.reader(io.StringIO(text, newline="\n"), delimiter=delimiter))
        tail = values[-1][-1] if values and values[-1] else ""
        opened = first + text[: len(text) - len(tail)].count("\n")
        fatal.add("unclosed", opened, "A quoted value starts on this line and is never closed.")
    elif message.startswith("new-line character"):
        fatal.add("cr", line, _LONE_CR)
    elif "expected after" in message:
        fatal.add("quote", line, _STRAY_QUOTE)
    else:
        fatal.add("csv", line, f"The line cannot be read: {message}.")


def _line_decode(raw: bytes, number: int, delimiter: str, columns: tuple[str, ...], fatal: _Fatal) -> str:
    """One line as text; NUL bytes and bytes that are not UTF-8 are recorded (with the column)."""
    if b"\x00" in raw:
        fatal.add("nul", number, f"This line holds a NUL byte: this is not a CSV text file; {SAVE_AS}.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8", "surrogateescape")
        context = raw[max(exc.start - 20, 0) : exc.start + 20].decode("latin-1").strip()
        reason = (
            f"Not UTF-8 text (byte 0x{raw[exc.start]:02X} in '{context}'; the file looks Latin-1/Windows-1252 "
            f"encoded); {SAVE_AS}."
        )
        fatal.add("utf8", number, reason, _undecoded_column(text, delimiter, columns))
        return text


def _undecoded_column(text: str, delimiter: str, columns: tuple[str, ...]) -> str:
    """The column of the first undecodable byte, if the line parses on its own."""
    try:
        values = next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return ""
    for name, value in zip(columns, values, strict=False):
        if any("\udc80" <= char <= "\udcff" for char in value):
            return name
    return ""


# --- The values --------------------------------------------------------------------------------


def csv_chunks(layout: CsvLayout, *, problems: Problems, max_chars: int) -> Iterator[tuple[Chunk, RowChecks]]:
    """The rows pandas parses, a chunk at a time, the blank and the wrong ones left out, tidied and checked."""
    if not (layout.counts == len(layout.columns)).any():
        return  # no row to read values from (pandas cannot cut every row to the header's width)
    done = 0
    for frame in _frames(layout, problems):
        lines, counts = layout.lines[done : done + len(frame)], layout.counts[done : done + len(frame)]
        done += len(frame)
        if len(lines) != len(frame):
            break
        keep = counts == len(layout.columns)
        cells = {name: frame[name].to_numpy(dtype=object)[keep] for name in layout.columns}
        chunk = Chunk(lines=lines[keep], cells=cells, longest=layout.longest)
        checks = RowChecks(lines=chunk.lines, cells=chunk.cells, problems=problems)
        _cells_tidy(chunk, checks, layout, max_chars=max_chars)
        yield chunk, checks
    if done != len(layout.lines):
        # The walk and pandas disagree on where rows are: never guess.
        problems.add_one(0, "", "The file could not be read consistently (unusual quoting or line endings).")


def _frames(layout: CsvLayout, problems: Problems) -> Iterator[pd.DataFrame]:
    with open(layout.path, "rb") as handle:
        handle.seek(layout.start)
        # Blank lines are rows, as in the walk; a row with more values than the header is
        # cut, one with fewer padded (the walk reported both).
        reader = pd.read_csv(
            handle, sep=layout.delimiter, header=None, names=list(layout.columns),
            usecols=list(range(len(layout.columns))), index_col=False, dtype=object, na_filter=False,
            engine="c", chunksize=CHUNK_ROWS, skip_blank_lines=False, quotechar='"', doublequote=True,
            encoding="utf-8",
        )  # fmt: skip
        try:
            yield from reader
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            # The walk refuses what pandas cannot parse; this is a last guard, not a path.
            problems.add_one(0, "", f"The file could not be parsed: {exc}")


def _edge_blanks(values: np.ndarray) -> bool:
    """Whether any value starts or ends with a space or tab: one search over the joined
    column instead of a strip per cell (no value holds a NUL: the walk refuses them)."""
    joined = "\x00".join(values)
    edges = (" \x00", "\t\x00", "\x00 ", "\x00\t")
    return joined.startswith((" ", "\t")) or joined.endswith((" ", "\t")) or any(edge in joined for edge in edges)


def _cells_tidy(chunk: Chunk, checks: RowChecks, layout: CsvLayout, *, max_chars: int) -> None:
    """Refuse over-long cells and control characters; strip surrounding spaces.

    The length and control checks run only if the walk saw a reason for them in the file.
    """
    for name, values in chunk.cells.items():
        if layout.longest > max_chars:
            sizes = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
            too_long = sizes > max_chars
            checks.fail(name, too_long, f"The value has {{value}} characters; at most {max_chars} are allowed.", sizes)
            values = np.where(too_long, "", values)
        if _edge_blanks(values):
            values = pd.Series(values, dtype=object).str.strip(" \t").to_numpy(dtype=object)
        if layout.controls:
            control = pd.Series(values, dtype=object).str.contains(_CONTROL).to_numpy(dtype=bool)
            checks.fail(name, control, "The value holds a tab, a line break or another control character.")
            values = np.where(control, "", values)
        chunk.cells[name] = checks.cells[name] = values
