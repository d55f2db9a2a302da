"""Checking an import file, over whole arrays: a million wrong rows are reported quickly (one
array of lines per failed check; only the first few worded). Dates, codes and amounts are
parsed once per distinct value, with precise messages; keys with numpy."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _  # lazy: worded in the language of whoever reads it
from stdnum.be import vat as be_enterprise_number

from inspections.models import enterprise_number_validate

Reason = str | Callable[[object], str]  # a template ("'{value}' is not a date") or a function of the value
Parser = Callable[[str], object]  # raises ValueError(message, values): see parse_distinct
_VALUE_SHOWN_CHARS = 60  # values are echoed in messages; a 10-million-character one must not be
DATE_YEARS = (1800, 2199)  # outside: a typing mistake, not a date anyone means
INT_MAX = 2_147_483_647  # PostgreSQL integer
TOO_LONG = _("The value has {value} characters; at most %(limit)s are allowed.")


@dataclass(frozen=True)
class Column:
    """A column of a file kind. A value is read by `parse`, or as one of `codes` (read when an
    import starts), compared once folded; `unknown` (%(value)s, %(options)s) refuses a code."""

    required: bool = True
    max_chars: int = 0
    parse: Parser | None = None
    codes: Callable[[], Iterable[str] | Mapping[str, object]] | None = None
    fold: Callable[[str], str] = str.lower
    unknown: str = ""

    def parser(self) -> Parser | None:
        return self.parse if self.codes is None else one_of(self.codes(), self.unknown, fold=self.fold)


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
        if len(lines):
            self.count += len(lines)
            lines = np.asarray(lines, dtype=np.int64)
            if len(lines) > self.limit:  # only the first `limit` of all can be worded: keep those of this part
                kept = np.sort(np.argpartition(lines, self.limit - 1)[: self.limit])
                lines, values = lines[kept], None if values is None else np.asarray(values)[kept]
            self._parts.append((lines, column, reason, values))
            self._last = max(self._last, int(lines.max()))

    def wanted(self, line: int) -> bool:  # can a problem on `line` be among those worded?
        return self.count < self.limit or line < self._last

    def add_one(self, line: int, column: str, reason: Reason) -> None:
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
    """The cells of a chunk of rows and their checks: a cell found wrong is not judged again."""

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

    def columns_check(self, spec: Mapping[str, Column], parsers: Mapping[str, Parser | None]) -> dict[str, np.ndarray]:
        """The checks the columns' spec declares: what the values read stand for (None where a cell failed)."""
        read = {}
        for name, column in spec.items():
            values = self.cells[name]
            if column.required:
                self.fail(name, values == "", _("A value is required."))
            if column.max_chars:
                sizes = lengths(values)
                self.fail(name, sizes > column.max_chars, TOO_LONG % {"limit": column.max_chars}, sizes)
            if parsers[name] is not None:
                ok, read[name], why = parse_distinct(values, parsers[name])
                self.fail(name, ~ok & (values != ""), lambda why: why[0] % why[1], why)  # (message, values)
        return read

    def enterprise_numbers_check(self, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Normalised numbers, whether each is valid (as stdnum.be.vat.is_valid, over whole arrays),
        and the valid ones as int64 keys (0 for the others); the others are reported."""
        numbers = np.array(self.cells[column], dtype=object)
        plain = lengths(numbers) == 10
        plain[plain] = _digits(numbers[plain], 10)[0]
        numbers[~plain] = [be_enterprise_number.compact(value) for value in numbers[~plain]]
        valid, keys = lengths(numbers) == 10, np.zeros(len(numbers), dtype=np.int64)
        digits, keys[valid] = _digits(numbers[valid], 10)
        # stdnum's rule: digits, not all zero, the first 0 or 1, the first 8 plus the last 2 a multiple of 97.
        valid[valid] = digits
        valid &= (keys > 0) & (keys < 2 * 10**9) & ((keys // 100 + keys % 100) % 97 == 0)
        self.fail(column, ~valid, _enterprise_number_reason)
        return numbers, valid, np.where(valid, keys, 0)


def lengths(values: np.ndarray) -> np.ndarray:
    return np.fromiter(map(len, values), dtype=np.int64, count=len(values))


def _enterprise_number_reason(value: object) -> str:
    try:
        enterprise_number_validate(str(value), stored=False)
    except ValidationError as exc:
        return exc.messages[0]
    return _("'%(value)s' is not valid.") % {"value": value}


def _digits(values: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Of values all `width` long: which are digits only, and their numbers (0 for the others)."""
    raw = np.frombuffer("".join(values).encode("ascii", "replace"), dtype=np.uint8)  # not ASCII: '?'
    digits = raw.reshape(-1, width).astype(np.int64) - ord("0")
    ok = ((digits >= 0) & (digits <= 9)).all(axis=1)
    return ok, np.where(ok, digits @ 10 ** np.arange(width - 1, -1, -1, dtype=np.int64), 0)


def digit_keys(values: np.ndarray, widths: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Which values are digits only, `widths` long, and those as int64 keys (0123 and 123 differ)."""
    sizes = lengths(values)
    ok, keys = np.zeros(len(values), dtype=bool), np.zeros(len(values), dtype=np.int64)
    for width in widths:
        rows = sizes == width
        ok[rows], numbers = _digits(values[rows], width)
        keys[rows] = np.where(ok[rows], numbers + width * 10**12, 0)
    return ok, keys


class KeyIndex:
    """Distinct int64 keys and a value of each (0 for a key not there), looked up for whole arrays."""

    def __init__(self, keys: np.ndarray, values: np.ndarray) -> None:
        self.keys, self.values = pd.Index(keys), np.append(values, 0)  # get_indexer's -1: the 0 at the end

    def get(self, keys: np.ndarray) -> np.ndarray:
        return self.values[self.keys.get_indexer(keys)]


class SeenKeys:
    """The keys met in the chunks of a file so far, and the line each was first met on."""

    def __init__(self) -> None:
        self.chunks: list[KeyIndex] = []

    def repeats_fail(self, rows: RowChecks, column: str, keys: np.ndarray, given: np.ndarray, reason: str) -> None:
        """Fail the rows of `given` whose key is on an earlier line (the value shown)."""
        keys, lines = keys[given], rows.lines[given]
        first = pd.Series(lines).groupby(keys, sort=False).transform("first").to_numpy()
        for chunk in self.chunks:
            earlier = chunk.get(keys)
            first = np.where(earlier > 0, earlier, first)
        self.chunks.append(KeyIndex(keys[first == lines], lines[first == lines]))
        shown = np.zeros(len(given), dtype=np.int64)
        shown[given] = first
        rows.fail(column, given & (shown != rows.lines), reason, shown)


def greater(first: np.ndarray, second: np.ndarray, where: np.ndarray, kind: type = float) -> np.ndarray:
    """Rows of `where` whose first value, read as `kind` (text for ISO dates), is greater."""
    out = np.zeros(len(where), dtype=bool)
    out[where] = first[where].astype(kind) > second[where].astype(kind)
    return out


def parse_distinct(values: np.ndarray, parse: Parser) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply `parse` to each distinct value: whether it reads, as what, and why not (its ValueError's args)."""
    codes, uniques = pd.factorize(values)
    parsed, why = np.empty(len(uniques), dtype=object), np.empty(len(uniques), dtype=object)
    for i, value in enumerate(uniques):
        try:
            parsed[i] = parse(value)
        except ValueError as exc:
            why[i] = exc.args
    return np.equal(why, None)[codes], parsed[codes], why[codes]


def _year_check(text: str, year: int) -> None:
    if not DATE_YEARS[0] <= year <= DATE_YEARS[1]:
        years = {"value": text, "first": DATE_YEARS[0], "last": DATE_YEARS[1]}
        raise ValueError(_("'%(value)s': the year must be between %(first)s and %(last)s."), years)


def iso_date(text: str) -> str:
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        raise ValueError(_("'%(value)s' is not a date in the form YYYY-MM-DD (e.g. 2024-03-31)."), {"value": text})
    year, month, day = int(text[:4]), int(text[5:7]), int(text[8:])
    try:
        dt.date(year, month, day)
    except ValueError:
        message = _("'%(value)s' is not a real date (no day %(day)s in month %(month)s of %(year)s).")
        raise ValueError(message, {"value": text, "day": day, "month": month, "year": year}) from None
    _year_check(text, year)
    return text


def quarter_start(text: str) -> str:
    """'2024-Q3' -> '2024-07-01' (the first day of the quarter)."""
    if not re.fullmatch(r"[0-9]{4}-[Qq][0-9]", text):
        raise ValueError(_("'%(value)s' is not a quarter in the form YYYY-Qn (e.g. 2024-Q3)."), {"value": text})
    year, number = int(text[:4]), int(text[-1])
    if not 1 <= number <= 4:
        raise ValueError(_("'%(value)s': a year has quarters Q1 to Q4."), {"value": text})
    _year_check(text, year)
    return f"{year:04d}-{3 * number - 2:02d}-01"


def count(text: str) -> str:
    """A whole number from 0 to 2,147,483,647 (leading zeros dropped); an empty cell is 0."""
    if re.fullmatch(r"[0-9]*", text):
        if text and int(text) > INT_MAX:
            raise ValueError(_("'%(value)s' is too large (at most %(max)s)."), {"value": text, "max": INT_MAX})
        return str(int(text or 0))
    if text.startswith("-") and _number_like(text[1:]):
        raise ValueError(_("'%(value)s' is negative; it must be 0 or more."), {"value": text})
    raise ValueError(_("'%(value)s' is not a whole number (digits only, e.g. 12)."), {"value": text})


def amount(*, digits: int, decimals: int, maximum: float | None = None) -> Parser:
    """A parser of decimals from 0, `digits` digits at most, `decimals` after the dot; empty: 0."""
    whole = digits - decimals
    form = re.compile(rf"[0-9]{{1,{whole}}}(\.[0-9]{{1,{decimals}}})?")

    def parse(text: str) -> str:
        if form.fullmatch(text or "0"):
            if maximum is not None and float(text or 0) > maximum:
                raise ValueError(_("'%(value)s' is above %(maximum)s."), {"value": text, "maximum": f"{maximum:g}"})
            return text or "0"
        values = {"value": text, "decimals": decimals, "digits": whole}  # the text is refused from here on
        if text.startswith("-") and _number_like(text[1:]):
            raise ValueError(_("'%(value)s' is negative; it must be 0 or more."), values)
        if "," in text and _number_like(text.replace(",", ".", 1)):
            raise ValueError(_("'%(value)s': write decimals with a dot, e.g. 8.5."), values)
        whole_part, fraction = text.partition(".")[::2]
        if _number_like(text) and len(fraction) > decimals:
            raise ValueError(_("'%(value)s' has more than %(decimals)s decimals."), values)
        if _number_like(text) and len(whole_part) > whole:
            raise ValueError(_("'%(value)s' is too large (at most %(digits)s digits before the dot)."), values)
        raise ValueError(_("'%(value)s' is not a number (e.g. 1234.50)."), values)

    return parse


def _number_like(text: str) -> bool:
    whole, _, fraction = text.partition(".")
    return bool(whole) and whole.isascii() and whole.isdigit() and (not fraction or fraction.isdigit())


def one_of(codes: Iterable[str] | Mapping[str, object], message: str, *, fold: Callable[[str], str]) -> Parser:
    """A parser of codes, compared once folded: what each stands for (itself, if not a mapping)."""
    meaning = codes if isinstance(codes, Mapping) else {code: code for code in codes}
    folded, options = {fold(code): value for code, value in meaning.items()}, ", ".join(meaning)

    def parse(text: str) -> object:
        if fold(text) not in folded:
            raise ValueError(message, {"value": text, "options": options})
        return folded[fold(text)]

    return parse


def pattern(regex: str, message: str) -> Parser:
    def parse(text: str) -> str:
        if not re.fullmatch(regex, text):
            raise ValueError(message, {"value": text})
        return text

    return parse


_BOOLEANS = {"true": "t", "1": "t", "yes": "t", "false": "f", "0": "f", "no": "f"}
boolean = one_of(_BOOLEANS, _("'%(value)s' is not one of true/false, 1/0, yes/no."), fold=str.lower)
