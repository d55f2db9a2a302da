"""Reading an import file: from bytes to records, before any value is judged.

The order matters. First refuse what is not CSV text at all (empty, binary). Then
read the header (delimiter, column names). Then scan the bytes (scanning.Scan: where
each record starts, how many values it has, encoding). Only then does pandas parse
the values, in chunks.

Quoting follows RFC 4180: a value may be enclosed in double quotes (then it may hold
the delimiter, quotes written twice, and line breaks); a quote anywhere else is
refused, because spreadsheet programs never write one and parsers disagree about it.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .common import FileRefused, Problems, RowChecks
from .scanning import SAVE_AS, Scan

BOM = b"\xef\xbb\xbf"
# A header line longer than this is not a header. It also keeps the csv module, used
# on the header, below its field_size_limit (128 KiB by default).
HEADER_MAX_BYTES = 64 * 1024
CHUNK_ROWS = 100_000
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


@dataclass(frozen=True)
class CsvLayout:
    """Where the records of a checked file are; pandas returns them in this order."""

    path: Path
    start: int  # byte offset of the first data line
    delimiter: str
    columns: tuple[str, ...]  # header names, tidied, in file order
    lines: np.ndarray  # first physical line of each record (blank lines are no records)
    wrong: np.ndarray  # records with the wrong number of values: reported, not checked further
    records: int
    longest_record: int  # in bytes: no cell is longer than this
    # Found by the scan, so that clean files (the usual case) skip the per-cell work:
    spaces: bool  # a space or tab next to a delimiter, quote or line end: values to strip
    controls: bool  # a control character (tab, line break...) inside some value


@dataclass
class Chunk:
    lines: np.ndarray
    cells: dict[str, np.ndarray]  # column -> object array of str, whitespace stripped
    longest_record: int  # of the file, in bytes: no cell of the chunk is longer


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
    start = _text_check(head, size, problems)
    header, header_end = _header_line(head, start, size, problems)
    delimiter, columns = _header_check(header, expected, problems)
    problems.column_order = {name: i for i, name in enumerate(columns)}
    scan = Scan(path=path, size=size, start=header_end, delimiter=delimiter, columns=columns, problems=problems)
    lines, counts, longest = scan.run()
    if scan.fatal:
        raise FileRefused
    wrong = counts != len(columns)
    if wrong.any():
        problems.add(lines[wrong], "", _count_reason(len(columns)), counts[wrong])
    return CsvLayout(
        path=path,
        start=header_end,
        delimiter=delimiter,
        columns=columns,
        lines=lines,
        wrong=wrong,
        records=len(lines),
        longest_record=longest,
        spaces=scan.spaces,
        controls=scan.controls,
    )


def _count_reason(expected: int) -> Callable[[object], str]:
    def word(count: object) -> str:
        return f"{count} value(s) where the header has {expected}; quote values that contain the delimiter."

    return word


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
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.add_one(1, "", f"The header is not UTF-8 text (byte 0x{raw[exc.start]:02X}); {SAVE_AS}.")
        raise FileRefused from exc
    text = text.rstrip("\r")
    if "\r" in text:
        problems.add_one(
            1,
            "",
            "Lines end with a carriage return (CR) alone: save the file with Windows (CRLF) or Unix (LF) line endings.",
        )
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
    try:
        names = tuple(name.strip().lower() for name in next(csv.reader([header], delimiter=delimiter)))
    except csv.Error as exc:
        problems.add_one(1, "", f"The header cannot be read: {exc}.")
        raise FileRefused from exc
    for name in sorted({name for name in names if names.count(name) > 1}):
        problems.add_one(1, name, "This column appears more than once in the header.")
    for name in [name for name in expected if name not in names]:
        problems.add_one(1, name, "This column is missing from the header.")
    for name in [name for name in names if name not in expected]:
        problems.add_one(1, name or "(empty)", f"Unknown column; the columns are: {', '.join(expected)}.")
    if problems:
        raise FileRefused
    return delimiter, names


def csv_chunks(layout: CsvLayout, *, problems: Problems, max_chars: int) -> Iterator[tuple[Chunk, RowChecks]]:
    """The records pandas parses, a chunk at a time, with their cells tidied and checked."""
    if not layout.records:
        return
    with open(layout.path, "rb") as handle:
        handle.seek(layout.start)
        # header=None with names and usecols: one row per record whatever its number of
        # values (more are cut, fewer padded); the scan already reported those records.
        reader = pd.read_csv(
            handle,
            sep=layout.delimiter,
            header=None,
            names=list(layout.columns),
            usecols=list(range(len(layout.columns))),
            index_col=False,
            dtype=object,
            na_filter=False,
            engine="c",
            chunksize=CHUNK_ROWS,
            skip_blank_lines=True,
            quotechar='"',
            doublequote=True,
            encoding="utf-8",
        )
        done = 0
        for frame in _frames(reader, problems):
            count = len(frame)
            lines = layout.lines[done : done + count]
            keep = ~layout.wrong[done : done + count]
            done += count
            if len(lines) != count:
                break
            cells = {name: frame[name].to_numpy(dtype=object)[keep] for name in layout.columns}
            chunk = Chunk(lines=lines[keep], cells=cells, longest_record=layout.longest_record)
            checks = RowChecks(lines=chunk.lines, cells=chunk.cells, problems=problems)
            _cells_tidy(chunk, checks, layout, max_chars=max_chars)
            yield chunk, checks
    if done != len(layout.lines):
        # The scan and pandas disagree on where records are: never guess.
        problems.add_one(0, "", "The file could not be read consistently (unusual quoting or line endings).")


def _frames(reader: pd.io.parsers.TextFileReader, problems: Problems) -> Iterator[pd.DataFrame]:
    try:
        yield from reader
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        # The scan refuses what pandas cannot parse; this is a last guard, not a path.
        problems.add_one(0, "", f"The file could not be parsed: {exc}")


_EDGE_BLANK = re.compile(r"(?:^|\x00)[ \t]|[ \t](?:\x00|$)")


def _edge_blanks(values: np.ndarray) -> bool:
    """Whether any value starts or ends with a space or tab.

    One regex over the joined column instead of a strip per cell: the scan only knows
    that a blank sits next to a delimiter somewhere, which a name like "Bouw, Co" does
    too, and stripping every cell of a million-row file took two seconds.
    """
    return _EDGE_BLANK.search("\x00".join(values)) is not None


def _cells_tidy(chunk: Chunk, checks: RowChecks, layout: CsvLayout, *, max_chars: int) -> None:
    """Refuse over-long cells and control characters; strip surrounding spaces.

    Each step runs only if the scan saw a reason for it somewhere in the file.
    """
    for name, values in chunk.cells.items():
        if layout.longest_record > max_chars:
            sizes = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
            too_long = sizes > max_chars
            if too_long.any():
                reason = f"The value has {{value}} characters; at most {max_chars} are allowed."
                checks.fail(name, too_long, reason, sizes)
                values = values.copy()
                values[too_long] = ""
        if layout.spaces and _edge_blanks(values):
            values = np.array([value.strip(" \t") for value in values], dtype=object)
        if layout.controls:
            control = np.fromiter((bool(_CONTROL.search(v)) for v in values), dtype=bool, count=len(values))
            checks.fail(name, control, "The value holds a tab, a line break or another control character.")
            values[control] = ""
        chunk.cells[name] = values
        checks.cells[name] = values
