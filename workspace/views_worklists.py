"""Views of the blinded worklists and the detection statistics: thin, over workspace.worklists
and workspace.statistics."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from workspace import statistics, worklists
from workspace.exports import cell_safe, statistics_csv
from workspace.forms import WorklistForm


@require_http_methods(["GET", "POST"])
@permission_required("inspections.add_inspection", raise_exception=True)  # a worklist plans inspections
def worklist_new(request: HttpRequest) -> HttpResponse:
    form = WorklistForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            worklist = worklists.worklist_create(user=request.user, request=form.worklist_request())
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            messages.success(request, _("Worklist %(number)s is planned.") % {"number": worklist.pk})
            return redirect("workspace:worklist_detail", pk=worklist.pk)
    status = 400 if form.errors else 200
    context = {"form": form, "worklists": worklists.worklists_of(user=request.user)[:50]}
    return render(request, "workspace/worklists.html", context, status=status)


@require_GET
def worklist_detail(request: HttpRequest, pk: int) -> HttpResponse:
    worklist = get_object_or_404(worklists.worklists_of(user=request.user), pk=pk)
    entries = worklists.worklist_entries(worklist=worklist, user=request.user)
    return render(request, "workspace/worklist_detail.html", {"worklist": worklist, "entries": entries})


@require_GET
def worklist_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The worklist as CSV: employer and planned inspection, no score, band, rank or origin."""
    worklist = get_object_or_404(worklists.worklists_of(user=request.user), pk=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="worklist-{worklist.pk}.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [_("Position"), _("Reference"), _("Enterprise number"), _("Employer"), _("Address"), _("Sub-region")]
    )
    for entry in worklists.worklist_entries(worklist=worklist, user=request.user):
        employer = entry.employer
        address = f"{employer.postal_code.code} {employer.postal_code.municipality}"
        row = [entry.position, entry.inspection.reference, employer.enterprise_number, employer.name, address]
        writer.writerow([cell_safe(value) for value in [*row, employer.subregion.name]])
    return response


@require_GET
def detection_statistics(request: HttpRequest) -> HttpResponse:
    """Detection rates per origin, band, sector, offence type, region and month, precision at
    the top k and the lift of the worklists, contributions recovered per origin, and the
    share of own-initiative inspections from the lists; `?export=<table>` as CSV."""
    tables = {by: statistics.detection_rates(user=request.user, by=by) for by in statistics.GROUPINGS}
    tables["precision"] = statistics.precision_at_k(user=request.user)
    lifts = statistics.worklist_lifts(user=request.user)
    recovered = statistics.recovered_per_origin(user=request.user)
    shares = statistics.list_shares(user=request.user)
    export = request.GET.get("export")
    if export is not None:
        return statistics_csv(export, tables, lifts, recovered, shares)
    sections = [
        (
            by,
            rows,
            {"labels": [row.label for row in rows], "percent": [round(100 * (row.rate or 0), 1) for row in rows]},
        )
        for by, rows in tables.items()
    ]
    context = {
        "sections": sections,
        "lifts": lifts,
        "recovered": recovered,
        "shares": shares,
        "top_k": statistics.TOP_K,
    }
    return render(request, "workspace/statistics.html", context)
