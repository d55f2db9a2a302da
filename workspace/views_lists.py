"""The ranked lists: the page, its htmx results, the sub-region options and the exports.

One request, from the query string to the rows: RankedListFilter (workspace/filters.py)
validates the filters and picks the published run; selectors (workspace/selectors.py)
read the page of scores and leave out the user's open worklist employers; the results
(band counts, rows, pager: templates/workspace/_ranked_results.html) are kept in the
shared cache, and the filter form is rendered around them on every page
(templates/workspace/ranked_list.html).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.cache import cache
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from inspections.models import InspectorScope, OffenceType, Sector, SubRegion
from miningwatch import stamps
from scoring.models import Band, Score, ScoreCount, ScoringRun
from workspace import selectors
from workspace.exports import EXPORT_MAX_ROWS, export_response
from workspace.filters import RankedListFilter


def _list_data(request: HttpRequest) -> QueryDict:
    """The filters from the query string, with the first sector and offence by default."""
    data = request.GET.copy()
    if not data.get("sector"):
        data["sector"] = Sector.objects.values_list("code", flat=True).first() or ""
    if not data.get("offence"):
        data["offence"] = OffenceType.objects.values_list("code", flat=True).first() or ""
    # Choosing another region leaves the old sub-region in the form for a moment (htmx
    # replaces its options as the form is sent): the region wins, the sub-region goes.
    region, subregion = data.get("region"), data.get("subregion")
    if region and subregion and not SubRegion.objects.filter(code=subregion, region_id=region).exists():
        data.pop("subregion")
    return data


def page_keys(request: HttpRequest) -> tuple[int | None, int | None, bool, list[str]]:
    """after / before / last from the query string; out-of-range values give the first page."""
    problems: list[str] = []
    keys: dict[str, int | None] = {"after": None, "before": None}
    for name in keys:
        raw = request.GET.get(name)
        if raw in (None, ""):
            continue
        # ASCII digits only: "²".isdigit() is true, and int("²") fails.
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
            problems.append(_("The page asked for does not exist; here is the first page."))
            continue
        keys[name] = int(raw)
    return keys["after"], keys["before"], request.GET.get("page") == "last", problems


@dataclass
class _RankedQuery:
    """What a ranked list and its exports read: the filters, the run they chose, its scores."""

    data: QueryDict
    filterset: RankedListFilter
    run: ScoringRun | None = None
    scores: QuerySet[Score] | None = None
    blinding: selectors.ListBlinding = field(default_factory=selectors.ListBlinding)
    blinded_scores: QuerySet[Score] | None = None  # those the filters match and the blinding hides


def ranked_query(request: HttpRequest, *, blinded: tuple[int, ...]) -> _RankedQuery:
    """The filters of the query string; with valid filters, the published run and its
    filtered scores, without those of `blinded` (the user's open worklist employers)."""
    filterset = _ranked_filter(request)
    query = _RankedQuery(filterset.data, filterset)
    if not query.filterset.is_valid():
        return query
    cleaned = query.filterset.form.cleaned_data
    query.run = selectors.published_run(sector=cleaned["sector"].pk, offence=cleaned["offence"].pk)
    if query.run is not None:
        query.filterset.run = query.run
        scores = query.filterset.filter_queryset(Score.objects.visible_to(request.user).filter(run=query.run))
        if blinded:
            query.blinding = selectors.list_blinding(employer_ids=blinded, run=query.run)
            query.blinded_scores = scores.filter(employer_id__in=blinded)
            scores = scores.exclude(employer_id__in=blinded)
        query.scores = scores
    return query


def _ranked_context(request: HttpRequest, *, blinded: tuple[int, ...]) -> dict[str, Any]:
    query = ranked_query(request, blinded=blinded)
    filterset, run, scores = query.filterset, query.run, query.scores
    context: dict[str, Any] = {"bands": Band, "export_limit": EXPORT_MAX_ROWS}
    if not filterset.is_valid():
        context["problems"] = _filter_problems(filterset)
        return context
    context["run"] = run
    if run is None or scores is None:
        return context
    after, before, last, problems = page_keys(request)
    context["problems"] = problems
    context["page"] = selectors.ranked_page(
        scores=scores, after=after, before=before, last=last, offence=run.offence_type_id, blinding=query.blinding
    )
    # The form's own OffenceType (already read): the rows' last inspection is of this offence.
    context["offence"] = filterset.form.cleaned_data["offence"]
    context["band_shares"] = selectors.band_shares(cutoffs=run.version_cutoffs)
    context["counts"] = list_band_counts(request, query)
    context["matching"] = sum(context["counts"].values())
    context["query"] = _query_without_page(request)
    # The employer pages' way back to this very page of the list (workspace.navigation).
    context["back"] = urlencode({"back": request.get_full_path()})
    return context


def list_band_counts(request: HttpRequest, query: _RankedQuery) -> dict[int, int]:
    """Employers per band for the list's filters: summed from ScoreCount; for a name search
    looked up in the run's lookup; for a number search (or a run without a lookup) counted
    from the filtered scores. The first two count the blinded employers too: they are
    taken off again, or a count would say what band a hidden employer is in."""
    filterset, run = query.filterset, query.run
    assert run is not None
    counts: dict[int, int] | None = None
    if filterset.matching_ids is not None:
        counts = selectors.band_counts_looked_up(
            run=run, employer_ids=filterset.matching_ids, keep=filterset.listed_match
        )
    if counts is None and filterset.searching:
        return selectors.band_counts(counts=None, scores=query.scores)
    if counts is None:
        # As of the run for everyone (see ScoreCount): counting a limited user's scores with
        # their employers' current places would count a whole region's scores on every page.
        summed = filterset.filter_queryset(ScoreCount.objects.visible_to(request.user).filter(run=run))
        counts = selectors.band_counts(counts=summed, scores=None)
    if query.blinded_scores is not None:
        hidden = selectors.band_counts(counts=None, scores=query.blinded_scores)
        # Never below zero: an employer that moved since the run may be counted by its
        # current place in a name search's lookup but hidden by the run's.
        counts = {band: max(count - hidden[band], 0) for band, count in counts.items()}
    return counts


def _ranked_results(request: HttpRequest, *, blinded: tuple[int, ...]) -> tuple[int, str]:
    """The list's results (band counts, rows, pager) rendered, with the page's status."""
    context = _ranked_context(request, blinded=blinded)
    status = 400 if context.get("problems") and "page" not in context else 200
    return status, render_to_string("workspace/_ranked_results.html", context, request=request)


def _filter_problems(filterset: RankedListFilter) -> list[str]:
    """The form's errors, each after the label of its filter: "Band: Select a valid choice…"."""
    fields = filterset.form.fields
    return [
        f"{fields[name].label}: {error}" if name in fields else str(error)
        for name, errors in filterset.errors.items()
        for error in errors
    ]


_PAGE_KEYS = ("after", "before", "page")


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    for name in _PAGE_KEYS:
        query.pop(name, None)
    return query.urlencode()


@require_GET
def ranked_list(request: HttpRequest) -> HttpResponse:
    blinded = selectors.blinded_employer_ids(user=request.user)
    status, results = _results_cached(
        request=request, blinded=blinded, render=lambda: _ranked_results(request, blinded=blinded)
    )
    if request.htmx and not request.htmx.boosted:
        # htmx swaps no 4xx response: its partial comes with 200, or the messages would never show.
        return HttpResponse(results)
    context = {
        "filter": _ranked_filter(request),
        "results": mark_safe(results),  # rendered and escaped by _ranked_results
    }
    return render(request, "workspace/ranked_list.html", context, status=status)


def _ranked_filter(request: HttpRequest) -> RankedListFilter:
    """The list's FilterSet, one per request: the results and the form share its validation."""
    if not hasattr(request, "_ranked_filter"):
        request._ranked_filter = RankedListFilter(
            _list_data(request), queryset=Score.objects.visible_to(request.user), request=request
        )
    return request._ranked_filter


@require_GET
def subregion_options(request: HttpRequest) -> HttpResponse:
    """The sub-region <option>s of a region, for the list's filter form (htmx)."""
    region = request.GET.get("region", "")
    subregions = SubRegion.objects.filter(region_id=region) if region else SubRegion.objects.all()
    return render(request, "workspace/_subregion_options.html", {"subregions": subregions.order_by("name_en")})


@require_GET
def ranked_list_export(request: HttpRequest, format: str) -> HttpResponse:
    if format not in ("csv", "xlsx"):
        raise Http404
    query = ranked_query(request, blinded=selectors.blinded_employer_ids(user=request.user))
    if not query.filterset.is_valid():
        messages.error(request, _("The filters are not valid; nothing was exported."))
        return redirect(f"{reverse('workspace:ranked_list')}?{request.GET.urlencode()}")
    if query.run is None or query.scores is None:
        messages.error(request, _("There are no scores for this sector and offence yet; nothing was exported."))
        return redirect(f"{reverse('workspace:ranked_list')}?{request.GET.urlencode()}")
    return export_response(
        request=request,
        run=query.run,
        scores=query.scores,
        blinding=query.blinding,
        filterset=query.filterset,
        format=format,
    )


# The rendered results (band counts, rows, pager), kept in the shared cache. Scores change
# once a night, names and last inspections seldom: most list pages asked for during a day
# were rendered for somebody before. The key holds everything the results depend on: the
# query string, the language, the user's sub-regions (an inspector limited to some regions
# never shares results with anybody who sees others), the employers left out for the
# user's open worklist inspections (ListBlinding), and the stamps of the published scores
# and of the employer and inspection data (miningwatch.stamps).
RESULTS_SECONDS = 3600


def _results_key(*, request: HttpRequest, blinded: tuple[int, ...]) -> str:
    scope = InspectorScope.subregion_codes_for(request.user)
    parts = (
        sorted(request.GET.lists()),
        get_language(),
        None if scope is None else sorted(scope),
        blinded,
        stamps.stamps_read(stamps.SCORES, stamps.INSPECTIONS),
    )
    return "ranked-results:" + hashlib.sha256(repr(parts).encode()).hexdigest()


def _results_cached(
    *, request: HttpRequest, blinded: tuple[int, ...], render: Callable[[], tuple[int, str]]
) -> tuple[int, str]:
    """(status, html) of the list's results: from the cache, or rendered and kept."""
    key = _results_key(request=request, blinded=blinded)
    found = cache.get(key)
    if found is not None:
        return found
    rendered = render()
    cache.set(key, rendered, RESULTS_SECONDS)
    return rendered
