"""The model pages of analysts and the task force: versions per (sector, offence), four
eyes, activation and rollback, the history, and the rescore that follows an activation.
Thin: reads through scoring.selectors, writes through scoring.services.versions."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from inspections.models import OffenceType, Sector
from scoring import selectors
from scoring.features.registry import FeatureRefused
from scoring.models import ModelVersion
from scoring.services.artifacts import ArtifactRefused
from scoring.services.versions import (
    NOTE_MAX_CHARS,
    QUEUE_ERRORS,
    VersionRefused,
    model_version_activate,
    model_version_approve,
    model_version_refuse,
    pair_retrain_request,
)

PAGES_PERMISSION = "scoring.approve_modelversion"  # analysts and the task force


class DecisionForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Why (kept in the history)"),
        required=False,
        max_length=NOTE_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


@require_GET
@permission_required(PAGES_PERMISSION, raise_exception=True)
def model_pairs(request: HttpRequest) -> HttpResponse:
    return render(request, "workspace/model_pairs.html", {"pairs": selectors.pairs_overview()})


@require_GET
@permission_required(PAGES_PERMISSION, raise_exception=True)
def model_pair(request: HttpRequest, sector: str, offence: str) -> HttpResponse:
    sector_row = get_object_or_404(Sector, pk=sector)
    offence_row = get_object_or_404(OffenceType, pk=offence)
    context = {
        "sector": sector_row,
        "offence": offence_row,
        "versions": selectors.pair_versions(sector=sector, offence=offence),
        "history": selectors.pair_history(sector=sector, offence=offence),
        "state": selectors.lists_state(sector=sector, offence=offence),
        "retrain": selectors.retrain_state(sector=sector, offence=offence),
        "form": DecisionForm(),
    }
    return render(request, "workspace/model_pair.html", context)


@require_GET
@permission_required(PAGES_PERMISSION, raise_exception=True)
def lists_state(request: HttpRequest, sector: str, offence: str) -> HttpResponse:
    """The rescore's progress bar (htmx, polled while a rescore is under way)."""
    context = {
        "state": selectors.lists_state(sector=sector, offence=offence),
        "retrain": selectors.retrain_state(sector=sector, offence=offence),
        "sector": sector,
        "offence": offence,
    }
    return render(request, "workspace/_lists_state.html", context)


@require_POST
@permission_required("scoring.add_modelversion", raise_exception=True)
def pair_retrain(request: HttpRequest, sector: str, offence: str) -> HttpResponse:
    """Retrain the pair now (a Celery task); the page follows it until its version appears."""
    get_object_or_404(Sector, pk=sector)
    get_object_or_404(OffenceType, pk=offence)
    try:
        pair_retrain_request(sector=sector, offence=offence, user=request.user)
    except VersionRefused as exc:
        messages.error(request, str(exc))
    except QUEUE_ERRORS:
        messages.error(request, _("The task queue cannot be reached: nothing was queued. Try again later."))
    else:
        messages.success(request, _("A retrain is queued; this page follows it."))
    return redirect("workspace:model_pair", sector=sector, offence=offence)


DECISIONS = {
    "approve": lambda version, user, note: model_version_approve(version=version, user=user, justification=note),
    "refuse": lambda version, user, note: model_version_refuse(version=version, user=user, reason=note),
    "activate": lambda version, user, note: model_version_activate(version=version, user=user, note=note),
}


@require_POST
@permission_required(PAGES_PERMISSION, raise_exception=True)
def model_version_decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    if decision not in DECISIONS:
        raise Http404
    version = get_object_or_404(ModelVersion.objects.defer("artifact"), pk=pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("note", [])))
    else:
        try:
            DECISIONS[decision](version, request.user, form.cleaned_data["note"])
        except (VersionRefused, ArtifactRefused, FeatureRefused, ValidationError) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _DONE[decision] % {"version": version.pk})
    return redirect("workspace:model_pair", sector=version.sector_id, offence=version.offence_type_id)


@require_GET
@permission_required(PAGES_PERMISSION, raise_exception=True)
def model_card(request: HttpRequest, pk: int) -> HttpResponse:
    """The version's model card, as Markdown: viewed in the browser or downloaded."""
    version = get_object_or_404(ModelVersion.objects.defer("artifact").select_related("sector", "offence_type"), pk=pk)
    card = selectors.model_card(version=version)
    text = render_to_string("workspace/model_card.md", {"card": card, "version": version}, request=request)
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="model-card-{version.pk}.md"'
    return response


_DONE = {
    "approve": gettext_lazy("Version %(version)s is approved: an analyst may now activate it."),
    "refuse": gettext_lazy("Version %(version)s is refused."),
    "activate": gettext_lazy("Version %(version)s is active; the lists change once its rescore finishes."),
}
