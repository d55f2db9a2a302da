"""CSV and XLSX exports of a ranked list, with the same filters as the page.

Cells that a spreadsheet would run as a formula (starting with = + - @, a tab, a carriage
return or a line feed: OWASP's list) are neutralised with a leading apostrophe, once the
control characters XML cannot carry are dropped. Past EXPORT_MAX_ROWS rows the export is
refused with a message asking for a narrower filter. Every export is recorded.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from openpyxl import Workbook

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


def _header() -> list[str]:
    return [
        _("Rank"),
        _("Band"),
        _("Percentile"),
        _("Score"),
        _("Enterprise number"),
        _("Name"),
        _("Sub-region"),
        _("Size"),
        _("Legal form"),
        _("Strongest reason"),
        _("Last inspection"),
        _("The list's offence found at the last inspection"),
    ]


def _rows(scores: QuerySet[Score], blinding: ListBlinding, offence: str) -> Iterator[list[Any]]:
    chosen = list(scores.select_related("employer", "subregion").order_by("rank")[:EXPORT_MAX_ROWS])
    last = selectors.last_inspections(employer_ids=[score.employer_id for score in chosen], offence=offence)
    for score in chosen:
        reasons = score.reasons()
        seen = last.get(score.employer_id)
        row = [
            blinding.shown(score.rank),
            str(Band(score.band).label),
            round(blinding.percentile(score.rank, score.percentile), 1),
            round(score.score, 4),
            score.employer.enterprise_number,
            score.employer.name,
            score.subregion.name if score.subregion else "",
            str(SizeClass(score.size_class).label) if score.size_class else "",
            score.legal_form,
            reason_text(*reasons[0]) if reasons else "",
            seen.visit_date.isoformat() if seen else "",
            _finding_cell(seen),
        ]
        yield [cell_safe(value) for value in row]


def _finding_cell(seen: selectors.LastInspection | None) -> str:
    """The list's offence at the last inspection: yes, no, or not checked then."""
    if seen is None:
        return ""
    if seen.found is None:
        return pgettext("offence at the last inspection", "not checked")
    return _("yes") if seen.found else _("no")


def export_response(
    *,
    request: HttpRequest,
    run: ScoringRun,
    scores: QuerySet[Score],
    blinding: ListBlinding,
    filters: QueryDict,
    format: str,
) -> HttpResponse:
    count = scores.count()
    if count > EXPORT_MAX_ROWS:
        messages.error(
            request,
            _("%(count)s employers match: an export holds at most %(max)s. Narrow the filters (a region, a band).")
            % {"count": f"{count:,}", "max": f"{EXPORT_MAX_ROWS:,}"},
        )
        return redirect(f"{reverse('workspace:ranked_list')}?{filters.urlencode()}")
    rows = list(_rows(scores, blinding, run.offence_type_id))
    # The filters only: any other parameter of the query string means nothing here, and one
    # holding a NUL byte could not be stored (PostgreSQL refuses \u0000 in JSON).
    recorded = {name: filters.getlist(name) for name in RankedListFilter.base_filters if name in filters}
    services.list_export_record(user=request.user, format=format, filters=recorded, rows=len(rows))
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    name = f"miningwatch-{run.sector_id}-{run.offence_type_id}-{stamp}.{format}"
    body, content_type = (_csv(rows), "text/csv; charset=utf-8") if format == "csv" else (_xlsx(rows), _XLSX)
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _csv(rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_header())
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM: Excel then reads UTF-8


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Ranked list"))
    sheet.append(_header())
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


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
