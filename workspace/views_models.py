"""The model pages of analysts and the task force: versions per (sector, offence), four
eyes, activation and rollback, the history, and the rescore that follows an activation.
Thin: reads through scoring.selectors, writes through scoring.services.versions."""

from __future__ import annotations

from datetime import date

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inspections.models import OffenceType, Sector
from miningwatch.queueing import QUEUE_ERRORS
from scoring import selectors
from scoring.features.registry import FeatureRefused
from scoring.models import ModelComparison, ModelUpload, ModelVersion
from scoring.services.artifacts import ArtifactRefused
from scoring.services.comparisons import comparison_request
from scoring.services.uploads import MAX_UPLOAD_BYTES, model_upload_create
from scoring.services.versions import (
    NOTE_MAX_CHARS,
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
    pairs = selectors.pairs_overview()
    running = any(pair.retrain and pair.retrain.running for pair in pairs)
    return render(request, "workspace/model_pairs.html", {"pairs": pairs, "running": running})


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
    get_object_or_404(Sector, pk=sector)
    get_object_or_404(OffenceType, pk=offence)
    context = {
        "state": selectors.lists_state(sector=sector, offence=offence),
        "retrain": selectors.retrain_state(sector=sector, offence=offence),
        "sector": sector,
        "offence": offence,
    }
    return render(request, "workspace/_lists_state.html", context)


@require_POST
@permission_required("scoring.add_modelversion", raise_exception=True)
def retrain_all(request: HttpRequest) -> HttpResponse:
    """Retrain every pair now: one task per pair, each followed on its page and here."""
    queued = 0
    for summary in selectors.pairs_overview():
        try:
            pair_retrain_request(sector=summary.sector.pk, offence=summary.offence.pk, user=request.user)
        except VersionRefused:
            continue  # that pair's retrain is under way already
        except QUEUE_ERRORS:
            messages.error(request, _("The task queue cannot be reached: nothing was queued. Try again later."))
            return redirect("workspace:model_pairs")
        queued += 1
    messages.success(request, _("%(count)s retrains are queued.") % {"count": queued})
    return redirect("workspace:model_pairs")


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
    response["Content-Security-Policy"] = "sandbox"  # never active content, whatever a browser makes of it
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="model-card-{version.pk}.md"'
    return response


class UploadForm(forms.Form):
    sector = forms.ModelChoiceField(queryset=Sector.objects.all(), label=gettext_lazy("Sector"))
    offence = forms.ModelChoiceField(queryset=OffenceType.objects.all(), label=gettext_lazy("Offence type"))
    file = forms.FileField(label=gettext_lazy("Model file (.skops)"))
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, max_length=NOTE_MAX_CHARS, widget=forms.Textarea({"rows": 3})
    )
    training_from = forms.DateField(
        label=gettext_lazy("Trained on inspections from"), required=False, widget=forms.DateInput({"type": "date"})
    )
    training_to = forms.DateField(
        label=gettext_lazy("Trained on inspections up to"), required=False, widget=forms.DateInput({"type": "date"})
    )
    red = forms.FloatField(label=gettext_lazy("Red: top share"), min_value=0.001, max_value=1, initial=0.05)
    orange = forms.FloatField(
        label=gettext_lazy("Orange: top share, red included"), min_value=0.001, max_value=1, initial=0.15
    )
    green = forms.FloatField(
        label=gettext_lazy("Green: top share, red and orange included"), min_value=0.001, max_value=1, initial=0.40
    )

    def clean_file(self) -> bytes:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than %(mb)s MB.") % {"mb": MAX_UPLOAD_BYTES // 2**20})
        return upload.read()

    def clean(self) -> dict:
        data = super().clean()
        shares = [data.get(name) for name in ("red", "orange", "green")]
        if None not in shares and not shares[0] < shares[1] < shares[2]:
            raise forms.ValidationError(_("The shares must grow from red to orange to green."))
        window = data.get("training_from"), data.get("training_to")
        if (window[0] is None) != (window[1] is None):
            raise forms.ValidationError(_("Give both ends of the training window, or neither."))
        if window[0] and window[1] and window[0] > window[1]:
            raise forms.ValidationError(_("The training window must start before it ends."))
        return data

    def training_window(self) -> tuple[date, date] | None:
        start, end = self.cleaned_data.get("training_from"), self.cleaned_data.get("training_to")
        return (start, end) if start and end else None


@require_http_methods(["GET", "POST"])
@permission_required("scoring.add_modelversion", raise_exception=True)
def model_upload(request: HttpRequest) -> HttpResponse:
    """Send a model file; a worker checks it and stores it as a candidate."""
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            upload = model_upload_create(
                sector=data["sector"].pk,
                offence=data["offence"].pk,
                data=data["file"],
                file_name=request.FILES["file"].name,
                user=request.user,
                description=data["description"],
                band_cutoffs={name: data[name] for name in ("red", "orange", "green")},
                training_window=form.training_window(),
            )
        except ArtifactRefused as exc:
            form.add_error("file", str(exc))
        except QUEUE_ERRORS:
            form.add_error(None, _("The task queue cannot be reached: nothing was queued. Try again later."))
        else:
            return redirect("workspace:model_upload_detail", pk=upload.pk)
    status = 400 if form.errors else 200
    return render(request, "workspace/model_upload.html", {"form": form}, status=status)


@require_GET
@permission_required("scoring.add_modelversion", raise_exception=True)
def model_upload_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Where a sent file stands (polled by htmx until it is checked)."""
    upload = get_object_or_404(ModelUpload.objects.defer("file").select_related("sector", "offence_type"), pk=pk)
    template = "workspace/_upload_state.html" if request.htmx else "workspace/model_upload_detail.html"
    return render(request, template, {"upload": upload})


@require_POST
@permission_required(PAGES_PERMISSION, raise_exception=True)
def comparison_new(request: HttpRequest) -> HttpResponse:
    """Compare two versions of a pair on today's data (a worker computes it)."""
    versions = ModelVersion.objects.defer("artifact")
    first = _version_or_none(versions, request.POST.get("first"))
    second = _version_or_none(versions, request.POST.get("second"))
    if first is None or second is None:
        messages.error(request, _("Choose two versions to compare."))
        return redirect("workspace:model_pairs")
    try:
        comparison = comparison_request(first=first, second=second, user=request.user)
    except VersionRefused as exc:
        messages.error(request, str(exc))
        return redirect("workspace:model_pair", sector=first.sector_id, offence=first.offence_type_id)
    except QUEUE_ERRORS:
        messages.error(request, _("The task queue cannot be reached: nothing was queued. Try again later."))
        return redirect("workspace:model_pair", sector=first.sector_id, offence=first.offence_type_id)
    return redirect("workspace:comparison", pk=comparison.pk)


def _version_or_none(versions, value: str | None) -> ModelVersion | None:
    if not value or not value.isascii() or not value.isdigit() or len(value) > 9:
        return None
    return versions.filter(pk=int(value)).first()


@require_GET
@permission_required(PAGES_PERMISSION, raise_exception=True)
def comparison(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(ModelComparison.objects.select_related("first__sector", "first__offence_type"), pk=pk)
    context = {"shown": selectors.comparison_shown(comparison=found, user=request.user), "comparison": found}
    template = "workspace/_comparison.html" if request.htmx else "workspace/comparison.html"
    return render(request, template, context)


_DONE = {
    "approve": gettext_lazy("Version %(version)s is approved: an analyst may now activate it."),
    "refuse": gettext_lazy("Version %(version)s is refused."),
    "activate": gettext_lazy("Version %(version)s is active; the lists change once its rescore finishes."),
}
