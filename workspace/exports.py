"""CSV and XLSX exports of a ranked list, with the same filters as the page.

Cells that a spreadsheet would run as a formula (starting with = + - @, a tab, a carriage
return or a line feed: OWASP's list) are neutralised with a leading apostrophe, once the
control characters XML cannot carry are dropped. Past EXPORT_MAX_ROWS rows the export is
refused with a message asking for a narrower filter. Every export is recorded.

Both formats hold the same columns: the list's, the three reasons, the scores' date and the
model version. A CSV is one plain table, with the separator and decimal mark of the
reader's language (semicolons and decimal commas in Dutch and French); its file name says
which filters made it. An XLSX has real dates and numbers, a frozen header, a filter, the
band colours, and a second sheet that says what the scores and filters were and what each
column holds. See "Exports" in docs/workspace.md.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext_lazy, pgettext
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from inspections.models import LegalForm
from scoring.features.registry import reason_text
from scoring.models import Band, Score, ScoringRun, SizeClass
from workspace import selectors, services
from workspace.filters import RankedListFilter
from workspace.selectors import ListBlinding

EXPORT_MAX_ROWS = 10_000
# The starts OWASP's CSV injection guidance lists, exactly. Not on it, so not here: spaces
# before "=" and the full-width "＝", which spreadsheets open as text (LibreOffice's CSV
# import trims spaces only when its user asks it to).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
# C0 controls other than tab, line feed and carriage return: XML 1.0 cannot carry them (openpyxl
# refused a name holding one, a 500) and a spreadsheet would drop them anyway.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def cell_safe(value: Any) -> Any:
    """The value without control characters, with a leading apostrophe if a spreadsheet
    would read it as a formula.

    The controls go first: "\x0b=1+1" checked as it is would pass, and become "=1+1"."""
    if not isinstance(value, str):
        return value
    value = _CONTROLS.sub("", value)
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


@dataclass(frozen=True)
class _Column:
    """One column of the ranked list's exports: its header, what it means (the XLSX's About
    sheet), its width in the XLSX and, for numbers, how many decimals both formats show."""

    header: str | Promise
    meaning: str | Promise
    width: int
    decimals: int | None = None
    date: bool = False


_COLUMNS = (
    _Column(
        gettext_lazy("Rank"),
        gettext_lazy("Place in the ranking of the sector for this offence type; 1 is the highest risk."),
        8,
    ),
    _Column(
        gettext_lazy("Band"),
        gettext_lazy("Risk band of that place: red, orange, green or blue, from the highest risk down."),
        10,
    ),
    _Column(
        gettext_lazy("Percentile"),
        gettext_lazy("Share of the ranked employers with a lower score, 0 to 100."),
        11,
        decimals=1,
    ),
    _Column(
        gettext_lazy("Score"),
        gettext_lazy("The model's score, 0 to 1: the higher, the likelier the offence."),
        9,
        decimals=4,
    ),
    _Column(
        gettext_lazy("Enterprise number"), gettext_lazy("Number in the Crossroads Bank for Enterprises, as text."), 18
    ),
    _Column(gettext_lazy("Name"), gettext_lazy("Name of the employer."), 36),
    _Column(gettext_lazy("Sub-region"), gettext_lazy("Sub-region of the employer when the scores were made."), 20),
    _Column(gettext_lazy("Size"), gettext_lazy("Workers on the payroll, average of the last four quarters."), 20),
    _Column(gettext_lazy("Legal form"), gettext_lazy("Legal form of the employer."), 30),
    _Column(gettext_lazy("Strongest reason"), gettext_lazy("What raises the score most (red and orange bands)."), 50),
    _Column(gettext_lazy("Second reason"), gettext_lazy("What raises the score second most."), 50),
    _Column(gettext_lazy("Third reason"), gettext_lazy("What raises the score third most."), 50),
    _Column(
        gettext_lazy("Last inspection"), gettext_lazy("Visit date of the last completed inspection."), 14, date=True
    ),
    _Column(
        gettext_lazy("The list's offence found at the last inspection"),
        gettext_lazy("Whether that inspection found the list's offence: yes, no, or not checked then."),
        14,
    ),
    _Column(gettext_lazy("Scores as of"), gettext_lazy("Date of the data the scores were made from."), 14, date=True),
    _Column(
        gettext_lazy("Model version"),
        gettext_lazy("Version of the model that made the scores (see the model pages)."),
        10,
    ),
)
_BAND_COLUMN = 1
_REASONS = 3


def _header() -> list[str]:
    return [str(column.header) for column in _COLUMNS]


@dataclass(frozen=True)
class _Row:
    """One employer's row: its values in the columns' order (cells made safe) and its band,
    which colours the band cell of the XLSX."""

    band: int
    values: list[Any]


def _rows(*, scores: QuerySet[Score], blinding: ListBlinding, run: ScoringRun) -> list[_Row]:
    """The rows of the export, in rank order: two queries however many employers (the scores
    with their employers and sub-regions, then their last inspections)."""
    chosen = list(scores.select_related("employer", "subregion").order_by("rank")[:EXPORT_MAX_ROWS])
    last = selectors.last_inspections(employer_ids=[score.employer_id for score in chosen], offence=run.offence_type_id)
    legal_forms = dict(LegalForm.choices)
    return [_row(score=score, seen=last.get(score.employer_id), blinding=blinding, run=run, legal_forms=legal_forms)
            for score in chosen]  # fmt: skip


def _row(
    *,
    score: Score,
    seen: selectors.LastInspection | None,
    blinding: ListBlinding,
    run: ScoringRun,
    legal_forms: dict[str, str | Promise],
) -> _Row:
    reasons = [reason_text(*reason) for reason in score.reasons()][:_REASONS]
    values = [
        blinding.shown(score.rank),
        str(Band(score.band).label),
        round(blinding.percentile(score.rank, score.percentile), 1),
        round(score.score, 4),
        score.employer.enterprise_number,
        score.employer.name,
        score.subregion.name if score.subregion else "",
        str(SizeClass(score.size_class).label) if score.size_class else "",
        # In words, as the list's filter names them; a code the choices no longer know stays as it is.
        str(legal_forms.get(score.legal_form, score.legal_form)),
        *reasons,
        *[None] * (_REASONS - len(reasons)),
        seen.visit_date if seen else None,
        _finding_cell(seen),
        run.as_of,
        run.model_version_id,
    ]
    return _Row(band=score.band, values=[cell_safe(value) for value in values])


def _finding_cell(seen: selectors.LastInspection | None) -> str | None:
    """The list's offence at the last inspection: yes, no, or not checked then."""
    if seen is None:
        return None
    if seen.found is None:
        return pgettext("offence at the last inspection", "not checked")
    return _("yes") if seen.found else _("no")


def export_response(
    *,
    request: HttpRequest,
    run: ScoringRun,
    scores: QuerySet[Score],
    blinding: ListBlinding,
    filterset: RankedListFilter,
    format: str,
) -> HttpResponse:
    filters = filterset.data
    count = scores.count()
    if count > EXPORT_MAX_ROWS:
        messages.error(
            request,
            _("%(count)s employers match: an export holds at most %(max)s. Narrow the filters (a region, a band).")
            % {"count": f"{count:,}", "max": f"{EXPORT_MAX_ROWS:,}"},
        )
        return redirect(f"{reverse('workspace:ranked_list')}?{filters.urlencode()}")
    rows = _rows(scores=scores, blinding=blinding, run=run)
    # The filters only: any other parameter of the query string means nothing here, and one
    # holding a NUL byte could not be stored (PostgreSQL refuses \u0000 in JSON).
    recorded = {name: filters.getlist(name) for name in RankedListFilter.base_filters if name in filters}
    services.list_export_record(user=request.user, format=format, filters=recorded, rows=len(rows))
    now = timezone.localtime()
    if format == "csv":
        body, content_type = _csv(rows, language=get_language()), "text/csv; charset=utf-8"
    else:
        about = _About(run=run, filters=_filters_described(filterset), exported=now, rows=len(rows))
        body, content_type = _xlsx(rows, about=about), _XLSX
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = (
        f'attachment; filename="{_file_name(run=run, filters=recorded, now=now, format=format)}"'
    )
    return response


_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The list filters a file name names, with the short word it uses for each: the sector and
# offence type come first anyway, and a search's text never goes into a file name.
_NAMED_FILTERS = {
    "region": "region",
    "subregion": "subregion",
    "band": "band",
    "size_class": "size",
    "legal_form": "form",
    "not_inspected": "not-inspected",
}
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9]")
_NAME_PART_MAX = 40


def _file_name(*, run: ScoringRun, filters: dict[str, list[str]], now: datetime, format: str) -> str:
    """miningwatch-<sector>-<offence>[-<filter>-<values>…][-search]-<yyyymmdd-hhmm>.<format>.

    The filters go into the name because a CSV holds one plain table: a block of them above
    the header would break a spreadsheet's import. The values are the validated codes, and
    are stripped to letters and digits all the same: they end up in a header."""
    parts = [f"miningwatch-{run.sector_id}-{run.offence_type_id}"]
    for name, short in _NAMED_FILTERS.items():
        # A set: a query string may repeat a value as often as it likes, and each passes the form.
        values = {_NAME_UNSAFE.sub("", value) for value in filters.get(name, [])} - {""}
        if values:
            parts.append(f"{short}-{'.'.join(sorted(values))}"[:_NAME_PART_MAX])
    if any(filters.get("q", [])):
        parts.append("search")
    parts.append(now.strftime("%Y%m%d-%H%M"))
    return f"{'-'.join(parts)}.{format}"


def _filters_described(filterset: RankedListFilter) -> list[tuple[str, str]]:
    """(label, value in words) of every filter the export used, in the form's order."""
    described = []
    for name, field in filterset.form.fields.items():
        value = filterset.form.cleaned_data.get(name)
        if value in (None, "", []):
            continue
        if isinstance(field, forms.ModelChoiceField) or not hasattr(field, "choices"):
            words = str(value)  # a sector, a region…, or the search as typed
        else:
            labels = {str(key): str(label) for key, label in field.choices}
            words = ", ".join(
                labels.get(str(item), str(item)) for item in (value if isinstance(value, list) else [value])
            )
        described.append((str(field.label), cell_safe(words)))
    return described


# CSV as the spreadsheets of each language read it without an import dialog: in French and
# Dutch the decimal mark is a comma, so fields are separated by semicolons.
_CSV_MARKS = {"en": (",", "."), "nl": (";", ","), "fr": (";", ",")}


def csv_marks(*, language: str | None) -> tuple[str, str]:
    """(field separator, decimal mark) of the CSV exports in `language` (English's otherwise)."""
    return _CSV_MARKS.get((language or "en").split("-")[0], _CSV_MARKS["en"])


def _csv(rows: list[_Row], *, language: str | None) -> bytes:
    separator, decimal = csv_marks(language=language)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=separator)
    writer.writerow(_header())
    for row in rows:
        writer.writerow([_csv_text(value, column, decimal) for value, column in zip(row.values, _COLUMNS, strict=True)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM: Excel then reads UTF-8


def _csv_text(value: Any, column: _Column, decimal: str) -> str:
    """A value as CSV text: numbers with the language's decimal mark, dates as ISO 8601
    (2026-04-01, which spreadsheets read as a date in every language), None as nothing."""
    if value is None:
        return ""
    if column.decimals is not None:
        return f"{value:.{column.decimals}f}".replace(".", decimal)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class _About:
    """What the XLSX's About sheet says besides the columns: the scores and the filters."""

    run: ScoringRun
    filters: list[tuple[str, str]]
    exported: datetime
    rows: int


# The band chips' colours (static/css/app.css): each text colour on its light fill meets
# WCAG AA, as on the pages.
_BAND_COLOURS = {1: ("B71C1C", "FDE8E8"), 2: ("9A4F00", "FFF1E0"), 3: ("256B29", "E8F5E9"), 4: ("1F5FAE", "E6EFFA")}
_DATE_FORMAT = "dd/mm/yyyy"  # as the pages write dates in every language
_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="EEEEEE")


def _xlsx(rows: list[_Row], *, about: _About) -> bytes:
    """The rows on a first sheet, what they are on a second ("About"). Write-only: rows go
    to the file as they come, without a cell object kept for each."""
    book = Workbook(write_only=True)
    _list_sheet(book.create_sheet(_("Ranked list")), rows)
    _about_sheet(book.create_sheet(pgettext("export sheet", "About")), about)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _list_sheet(sheet: WriteOnlyWorksheet, rows: list[_Row]) -> None:
    # Widths, the frozen header and the filter are set before the first row is written:
    # a write-only sheet writes them with it.
    for number, column in enumerate(_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = column.width
    sheet.freeze_panes = "A2"
    sheet.append([_styled(sheet, header, font=_BOLD, fill=_HEADER_FILL) for header in _header()])
    bands = {band: (Font(bold=True, color=text), PatternFill("solid", fgColor=fill))
             for band, (text, fill) in _BAND_COLOURS.items()}  # fmt: skip
    formats = [_number_format(column) for column in _COLUMNS]
    for row in rows:
        cells: list[Any] = [
            _styled(sheet, value, number_format=formats[i]) if formats[i] and value is not None else value
            for i, value in enumerate(row.values)
        ]
        font, fill = bands[row.band]
        cells[_BAND_COLUMN] = _styled(sheet, row.values[_BAND_COLUMN], font=font, fill=fill)
        sheet.append(cells)
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(_COLUMNS))}{len(rows) + 1}"


def _number_format(column: _Column) -> str | None:
    if column.date:
        return _DATE_FORMAT
    if column.decimals is not None:
        return "0." + "0" * column.decimals
    return None


def _about_sheet(sheet: WriteOnlyWorksheet, about: _About) -> None:
    sheet.column_dimensions["A"].width = 36
    sheet.column_dimensions["B"].width = 90
    run = about.run
    sheet.append([_styled(sheet, _("MiningWatch: ranked list"), font=Font(bold=True, size=14))])
    sheet.append([])
    sheet.append([_("Scores as of"), _styled(sheet, run.as_of, number_format=_DATE_FORMAT)])
    if run.data_quarter:
        quarter = f"{run.data_quarter:%Y-%m} – {run.data_quarter_last_month:%Y-%m}"
        sheet.append([_("Declarations up to the quarter"), quarter])
    sheet.append([_("Model version"), run.model_version_id])
    exported = about.exported.replace(tzinfo=None, microsecond=0)  # Excel has no time zones: local time
    sheet.append([_("Exported on"), _styled(sheet, exported, number_format=_DATE_FORMAT + " hh:mm")])
    sheet.append([_("Employers"), about.rows])
    sheet.append([])
    sheet.append([_styled(sheet, _("Filters"), font=_BOLD)])
    for label, words in about.filters:
        sheet.append([label, words])
    sheet.append([])
    sheet.append([_styled(sheet, pgettext("export sheet", "Column"), font=_BOLD),
                  _styled(sheet, _("What it holds"), font=_BOLD)])  # fmt: skip
    wrapped = Alignment(wrap_text=True, vertical="top")
    for column in _COLUMNS:
        sheet.append([str(column.header), _styled(sheet, str(column.meaning), alignment=wrapped)])


def _styled(sheet: WriteOnlyWorksheet, value: Any, **style: Any) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    for name, setting in style.items():
        setattr(cell, name, setting)
    return cell


def statistics_csv(export: str, tables: dict, lifts: list, recovered: list, shares: list) -> HttpResponse:
    """One table of the statistics page as CSV (`export`: its name); 400 for another name."""
    if export == "shares":
        header = [
            _("Region"),
            _("Month"),
            _("Own-initiative inspections"),
            _("From the lists"),
            _("Share"),
            _("Target"),
        ]
        rows = [
            [row.region, row.month, row.own_initiative, row.from_lists, _number(row.share), row.target]
            for row in shares
        ]
    elif export == "lift":
        header = [
            _("Sector"),
            _("Offence type"),
            _("Model picks"),
            _("found"),
            _("Random controls"),
            _("found"),
            _("Lift"),
        ]
        rows = [
            [lift.sector, lift.offence, lift.picks.inspections, lift.picks.found, lift.controls.inspections,
             lift.controls.found, _number(lift.value_and_interval[0])]
            for lift in lifts
        ]  # fmt: skip
    elif export == "recovered":
        header = [_("Origin"), _("Inspections"), _("Contributions recovered (EUR)"), _("Per inspection (EUR)")]
        rows = [[row.label, row.inspections, row.recovered, row.recovered_per_inspection] for row in recovered]
    elif export in tables:
        header = [
            _("Group"),
            _("Inspections"),
            _("Offence found"),
            _("Detection rate"),
            _("Lower bound (95 %)"),
            _("Upper bound (95 %)"),
        ]
        rows = [
            [
                row.label,
                row.inspections,
                row.found,
                _number(row.rate),
                *(_number(v) for v in (row.interval or (None, None))),
            ]
            for row in tables[export]
        ]
    else:
        return HttpResponse(
            _("Unknown table: choose one of the page's exports."), status=400, content_type="text/plain"
        )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="statistics-{export}.csv"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows([[cell_safe(value) for value in row] for row in rows])
    return response


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
