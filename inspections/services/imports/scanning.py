"""The byte scan of an import file: where each record starts and how many values it has.

pandas parses values fast but pads a short line with empty cells without saying so,
and does not tell which physical line a record came from (quoted values may span
lines). This pass over the bytes, a block at a time with numpy, finds both, and
refuses what would make the two disagree: quotes that do not enclose a whole value,
carriage returns without line feeds, NUL bytes and bytes that are not UTF-8.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .common import Problems

# The scan reads blocks this big (and bigger only for a longer record) to bound memory.
BLOCK_BYTES = 16 * 1024 * 1024
# A line longer than this is not parsed on its own to find the column of a bad byte.
LINE_PARSED_MAX = 64 * 1024
SAVE_AS = "export it from the spreadsheet as 'CSV UTF-8' (comma or semicolon separated)"
_LF, _CR, _QUOTE = 10, 13, 34


class _Block(NamedTuple):
    lines: np.ndarray  # first line of each record
    counts: np.ndarray  # values of each record
    size: int  # bytes scanned (up to the end of the last whole record)
    newlines: int  # line feeds in those bytes
    longest: int  # longest record, in bytes


class Scan:
    """One pass over the data bytes, a block at a time, with numpy.

    A line feed ends a record unless an odd number of quotes precedes it in the record
    (it is then inside a quoted value); likewise for delimiters. Blocks always end at
    the end of a record, so every block starts outside quotes.
    """

    def __init__(
        self, *, path: Path, size: int, start: int, delimiter: str, columns: tuple[str, ...], problems: Problems
    ) -> None:
        self.path, self.size, self.start = path, size, start
        self.delimiter = ord(delimiter)
        self.columns = columns
        self.problems = problems
        self.fatal = False
        self.spaces = False
        self.controls = False
        self._shown: dict[str, int] = {}

    def run(self) -> tuple[np.ndarray, np.ndarray, int]:
        lines: list[np.ndarray] = []
        counts: list[np.ndarray] = []
        longest = 0
        if self.start >= self.size:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), 0
        data = np.memmap(self.path, dtype=np.uint8, mode="r")
        position, line = self.start, 2
        block = BLOCK_BYTES
        while position < self.size:
            end = min(position + block, self.size)
            found = self._block(data[position:end], line, at_eof=end == self.size)
            if found is None:  # one record longer than the block: read a bigger block
                block *= 2
                continue
            block = BLOCK_BYTES
            lines.append(found.lines)
            counts.append(found.counts)
            longest = max(longest, found.longest)
            position += found.size
            line += found.newlines
        del data
        return np.concatenate(lines), np.concatenate(counts), longest

    def _block(self, block: np.ndarray, line: int, *, at_eof: bool) -> _Block | None:
        newlines = np.flatnonzero(block == _LF)
        quotes = np.flatnonzero(block == _QUOTE)
        ends = newlines if not quotes.size else newlines[(np.searchsorted(quotes, newlines) & 1) == 0]
        if not at_eof:
            if not ends.size:
                return None
            cut = int(ends[-1]) + 1
            block, quotes = block[:cut], quotes[quotes < cut]
            newlines = newlines[newlines < cut]
        cut = len(block)
        self._bytes_check(block, newlines, line)
        if quotes.size:
            self._quotes_check(block, quotes, newlines, line, at_eof=at_eof)
        self._carriage_returns_check(block, quotes, newlines, line)
        self._tidiness_check(block, ends, newlines)
        starts = np.concatenate(([0], ends + 1))
        stops = np.concatenate((ends, [cut]))
        if starts[-1] >= cut:  # the block ends with a line feed: no record after it
            starts, stops = starts[:-1], stops[:-1]
        delimiters = np.flatnonzero(block == self.delimiter)
        if quotes.size:
            delimiters = delimiters[(np.searchsorted(quotes, delimiters) & 1) == 0]
        counts = np.searchsorted(delimiters, stops) - np.searchsorted(delimiters, starts) + 1
        keep = np.ones(len(starts), dtype=bool)
        for i in np.flatnonzero(counts == 1):  # few: blank lines, or lines without a delimiter
            keep[i] = bool(bytes(block[starts[i] : stops[i]]).strip(b" \t\r"))
        record_lines = line + np.searchsorted(newlines, starts[keep])
        # The longest record (not line: a quoted value may span lines) bounds every cell.
        longest = int((stops - starts).max()) if len(starts) else 0
        return _Block(record_lines, counts[keep], cut, len(newlines), longest)

    def _tidiness_check(self, block: np.ndarray, ends: np.ndarray, newlines: np.ndarray) -> None:
        """Note whether any value may need stripping or holds a control character."""
        if not self.controls:
            # Line feeds inside quoted values, or any other control byte (tab, lone CR...).
            controls = np.count_nonzero(block < 32) - len(newlines) - np.count_nonzero(block == _CR)
            controls += np.count_nonzero(block == 127)
            self.controls = len(ends) != len(newlines) or controls > 0 or self._inner_returns(block, ends)
        if not self.spaces:
            blanks = np.flatnonzero((block == 32) | (block == 9))
            if blanks.size:
                edges = np.array([self.delimiter, _QUOTE, _LF, _CR], dtype=np.uint8)
                before = block[np.maximum(blanks - 1, 0)]
                after = block[np.minimum(blanks + 1, len(block) - 1)]
                at_end = (blanks == 0) | (blanks == len(block) - 1)
                self.spaces = bool((np.isin(before, edges) | np.isin(after, edges) | at_end).any())

    @staticmethod
    def _inner_returns(block: np.ndarray, ends: np.ndarray) -> bool:
        """A carriage return that does not end a record (CRLF) is inside a value."""
        returns = np.flatnonzero(block == _CR)
        if not returns.size:
            return False
        return not np.isin(returns + 1, ends).all()

    def _fatal(self, kind: str, lines: np.ndarray, column: str, reason: str, values: np.ndarray | None = None) -> None:
        """Fatal problems of one kind: the first `limit` are kept, the others counted."""
        self.fatal = True
        room = self.problems.limit - self._shown.get(kind, 0)
        shown = lines[: max(room, 0)]
        self._shown[kind] = self._shown.get(kind, 0) + len(shown)
        self.problems.add(shown, column, reason, None if values is None else values[: len(shown)])
        self.problems.count_more(len(lines) - len(shown))

    def _bytes_check(self, block: np.ndarray, newlines: np.ndarray, line: int) -> None:
        """NUL bytes and bytes that are not UTF-8: both mean this is not our kind of text."""
        if not block.size:
            return
        if block.min() == 0:
            nul_lines = np.unique(line + np.searchsorted(newlines, np.flatnonzero(block == 0)))
            self._fatal("nul", nul_lines, "", f"This line holds a NUL byte: this is not a CSV text file; {SAVE_AS}.")
        if block.max() < 0x80:  # pure ASCII: nothing to decode
            return
        raw = bytes(block)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            self._utf8_lines(raw, line)

    def _utf8_lines(self, raw: bytes, line: int) -> None:
        bad_lines, values = [], []
        for offset, text in enumerate(raw.split(b"\n")):
            try:
                text.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad_lines.append(line + offset)
                values.append((text, exc.start))
        reasons = np.array([self._utf8_reason(text, at) for text, at in values[: self.problems.limit]], dtype=object)
        column = np.array([self._utf8_column(text) for text, _ in values[: self.problems.limit]], dtype=object)
        lines = np.array(bad_lines)
        # One column per problem: add the shown ones one by one, count the rest.
        self.fatal = True
        for i in range(len(reasons)):
            self.problems.add_one(int(lines[i]), column[i], reasons[i])
        self.problems.count_more(len(lines) - len(reasons))

    @staticmethod
    def _utf8_reason(text: bytes, at: int) -> str:
        context = text[max(at - 20, 0) : at + 20].decode("latin-1").strip()
        return (
            f"Not UTF-8 text (byte 0x{text[at]:02X} in '{context}'; the file looks Latin-1/Windows-1252 encoded); "
            f"{SAVE_AS}."
        )

    def _utf8_column(self, text: bytes) -> str:
        """The column of the first undecodable byte, if the line parses on its own."""
        decoded = text.decode("utf-8", "surrogateescape").rstrip("\r")
        if len(decoded) > LINE_PARSED_MAX:
            return ""
        try:
            values = next(csv.reader([decoded], delimiter=chr(self.delimiter)))
        except (csv.Error, StopIteration):
            return ""
        for name, value in zip(self.columns, values, strict=False):
            if any("\udc80" <= char <= "\udcff" for char in value):
                return name
        return ""

    def _quotes_check(
        self, block: np.ndarray, quotes: np.ndarray, newlines: np.ndarray, line: int, *, at_eof: bool
    ) -> None:
        """Quotes only enclose whole values (RFC 4180); anything else is refused."""
        before = np.where(quotes > 0, block[np.maximum(quotes - 1, 0)], _LF)
        after_index = quotes + 1
        after = np.where(after_index < len(block), block[np.minimum(after_index, len(block) - 1)], _LF)
        opening = (np.arange(len(quotes)) & 1) == 0  # an even number of quotes before it
        bad_open = opening & (before != self.delimiter) & (before != _LF) & (before != _QUOTE)
        bad_close = ~opening & (after != self.delimiter) & (after != _LF) & (after != _CR) & (after != _QUOTE)
        stray = quotes[bad_open | bad_close]
        if stray.size:
            self._fatal(
                "quote",
                np.unique(line + np.searchsorted(newlines, stray)),
                "",
                'A quote (") inside a value that is not itself enclosed in quotes. Enclose the whole value in '
                'quotes and write the quote twice, e.g. "Café ""De Hoek"" BV".',
            )
        if at_eof and len(quotes) % 2:
            opened = quotes[-1]
            self._fatal(
                "unclosed",
                np.array([line + np.searchsorted(newlines, opened)]),
                "",
                "A quoted value starts on this line and is never closed.",
            )

    def _carriage_returns_check(self, block: np.ndarray, quotes: np.ndarray, newlines: np.ndarray, line: int) -> None:
        """A carriage return must be followed by a line feed (outside quoted values)."""
        returns = np.flatnonzero(block == _CR)
        if not returns.size:
            return
        following = returns + 1
        lone = returns[(following < len(block)) & (block[np.minimum(following, len(block) - 1)] != _LF)]
        if quotes.size:
            lone = lone[(np.searchsorted(quotes, lone) & 1) == 0]
        if lone.size:
            self._fatal(
                "cr",
                np.unique(line + np.searchsorted(newlines, lone)),
                "",
                "A carriage return (CR) without a line feed: save the file with Windows (CRLF) or Unix (LF) "
                "line endings.",
            )
