"""Thin views of the inspector's workspace: read through selectors, write through services."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inspections.models import Employer, Inspection, OffenceType, Sector
from inspections.selectors import employer_counts_by_sector_region, outcome_history
from scoring.models import Band, Score
from workspace import selectors, services
from workspace.forms import EmployerSearchForm, NoteForm, OutcomeForm, RiskProfileForm
from workspace.models import Note, RiskProfile, Verdict
from workspace.navigation import list_return_url, scores_with_list_urls


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    context = {
        "counts": employer_counts_by_sector_region(user=request.user),
        "band_counts": selectors.band_counts_for_user(user=request.user),
        "targets": selectors.targets_of(user=request.user)[:5],
        "recent_notes": selectors.recent_notes_for(user=request.user),
        "bands": Band.values,
    }
    return render(request, "workspace/home.html", context)


@require_GET
def help_page(request: HttpRequest) -> HttpResponse:
    """What a band, a percentile and a score are, how they are made, and what they are not."""
    shares = selectors.band_shares(cutoffs=None)
    return render(request, "workspace/help.html", {"shares": [(share, Band(share.band).label) for share in shares]})


@require_GET
def employer_search(request: HttpRequest) -> HttpResponse:
    """The navigation bar's search: one match opens its page, several are listed."""
    form = EmployerSearchForm(request.GET)
    found = None
    if form.is_valid() and form.cleaned_data["q"]:
        found = selectors.employer_search(user=request.user, text=form.cleaned_data["q"])
        if len(found.employers) == 1 and not found.more:
            return redirect("workspace:employer_detail", enterprise_number=found.employers[0].enterprise_number)
    context = {"form": form, "found": found, "limit": selectors.SEARCH_LIMIT}
    return render(request, "workspace/employer_search.html", context, status=400 if form.errors else 200)


def _chart_labels() -> dict[str, str]:
    return {
        "headcount": _("Workers"),
        "fte": _("FTE"),
        "part_time": _("Part-time share (%)"),
        "layoff_days": _("Temporary-unemployment days"),
        "people_axis": _("workers, FTE"),
        "share_axis": _("%"),
        "days_axis": _("days"),
    }


def _visible_employer(request: HttpRequest, enterprise_number: str) -> Employer:
    return get_object_or_404(
        Employer.objects.visible_to(request.user).select_related("sector", "subregion__region", "nace", "postal_code"),
        enterprise_number=enterprise_number,
    )


@require_GET
def employer_detail(request: HttpRequest, enterprise_number: str) -> HttpResponse:
    employer = _visible_employer(request, enterprise_number)
    declarations = list(employer.declarations.order_by("quarter"))
    hidden = selectors.blinded_employer_ids(user=request.user)
    blinded = employer.pk in hidden
    scores = (
        []
        if blinded
        else selectors.scores_as_shown(scores=selectors.employer_scores(employer=employer), blinded=hidden)
    )
    context = {
        "employer": employer,
        "blinded": blinded,
        "scores": scores_with_list_urls(scores=_with_judgements(scores, request.user, employer), employer=employer),
        "band_legends": selectors.band_legends(scores=scores),
        "declarations": declarations,
        "chart": selectors.declaration_chart(declarations=declarations),
        "chart_labels": json.dumps(_chart_labels()),
        "inspections": _origins_blinded(selectors.employer_inspections(employer=employer), request.user),
        "notes": selectors.employer_notes(employer=employer),
        "nearby_notes": selectors.recent_notes_nearby(employer=employer, user=request.user),
        "note_form": NoteForm(),
        "verdicts": Verdict.choices,
        "open_target": selectors.open_target(user=request.user, employer=employer),
        "list_url": list_return_url(
            back=request.GET.get("back"), referer=request.headers.get("referer"), host=request.get_host()
        ),
    }
    return render(request, "workspace/employer_detail.html", context)


def _outcome_refusal(inspection: Inspection, user: Any) -> str:
    if inspection.outcome_final_for(user):
        return _("This worklist inspection is completed: its outcome is final. Ask the task force to correct it.")
    return _("Only the task force or the inspector it is planned for records this outcome.")


def _origins_blinded(inspections: QuerySet[Inspection], user: Any) -> list[Inspection]:
    """The inspections, each with `origin_shown`: a worklist inspection's origin (model pick
    or random control) is the task force's to see, once its outcome is recorded."""
    rows = list(inspections)
    task_force = user.has_perm("inspections.record_any_outcome")
    for inspection in rows:
        inspection.origin_shown = not inspection.on_worklist or (task_force and inspection.status == "completed")
    return rows


def _with_judgements(scores: list[Score], user: Any, employer: Employer, inspection: Inspection | None = None) -> list:
    """The scores, each with the user's judgement of it (`my_judgement`, None when not given)."""
    given = selectors.judgements_by_author(author=user, employer=employer, inspection=inspection)
    for score in scores:
        score.my_judgement = given.get((score.run.offence_type_id, score.run.model_version_id))
    return scores


@require_POST
@permission_required("workspace.add_note", raise_exception=True)
def note_create(request: HttpRequest, enterprise_number: str) -> HttpResponse:
    employer = _visible_employer(request, enterprise_number)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.note_create(employer=employer, author=request.user, text=form.cleaned_data["text"])
            form = NoteForm()
        except ValidationError as exc:
            form.add_error("text", exc)
    context = {"employer": employer, "notes": selectors.employer_notes(employer=employer), "note_form": form}
    if request.htmx:
        # 200 even when refused: htmx swaps no 4xx response, and the form shows the error.
        return render(request, "workspace/_notes.html", context)
    if form.errors:
        messages.error(request, " ".join(form.errors["text"]))
    return redirect("workspace:employer_detail", enterprise_number=employer.enterprise_number)


@require_http_methods(["GET", "POST"])
@permission_required("workspace.change_note", raise_exception=True)
def note_edit(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(Note.objects.filter(employer__in=Employer.objects.visible_to(request.user)), pk=pk)
    if not note.editable_by(request.user):
        raise PermissionDenied
    form = NoteForm(request.POST or None, initial={"text": note.text})
    if request.method == "POST" and form.is_valid():
        try:
            services.note_update(note=note, user=request.user, text=form.cleaned_data["text"])
        except ValidationError as exc:
            form.add_error("text", exc)
        else:
            messages.success(request, _("Note saved."))
            return redirect("workspace:employer_detail", enterprise_number=note.employer.enterprise_number)
    return render(request, "workspace/note_edit.html", {"note": note, "form": form}, status=400 if form.errors else 200)


@require_POST
@permission_required("inspections.add_inspection", raise_exception=True)  # a target is a planned inspection
def target_add(request: HttpRequest, enterprise_number: str) -> HttpResponse:
    employer = _visible_employer(request, enterprise_number)
    inspection, created = services.target_add(employer=employer, user=request.user)
    if request.htmx:  # the button's place says it; a message would wait for the next full page
        return render(request, "workspace/_target_button.html", {"employer": employer, "open_target": inspection})
    if created:
        messages.success(
            request,
            _("%(employer)s is now among your targets (%(reference)s).")
            % {"employer": employer.name, "reference": inspection.reference},
        )
    else:
        messages.info(request, _("%(employer)s is already among your targets.") % {"employer": employer.name})
    return redirect("workspace:employer_detail", enterprise_number=employer.enterprise_number)


@require_http_methods(["GET", "POST"])
def inspection_outcome(request: HttpRequest, reference: str) -> HttpResponse:
    """The outcome of one inspection and its history; the form for those who may record it."""
    inspection = selectors.visible_inspection(user=request.user, reference=reference)
    editable = inspection.outcome_editable_by(request.user)
    offences = list(OffenceType.objects.order_by("code"))
    form = OutcomeForm(request.POST or None, initial=OutcomeForm.initial_for(inspection), offences=offences)
    status = 200
    if request.method == "POST":
        if not editable:
            messages.error(request, _outcome_refusal(inspection, request.user))
            status = 403
        elif form.is_valid() and _outcome_recorded(request, inspection, form):
            return redirect("workspace:inspection_outcome", reference=inspection.reference)
        else:
            status = 400
    context = {
        "inspection": inspection,
        "form": form,
        "editable": editable,
        "final": inspection.outcome_final_for(request.user),
        "history": outcome_history(inspection=inspection),
        "verdicts": Verdict.choices,
        # Hidden while it is one of the user's open worklist inspections (blinding).
        "scores": []
        if selectors.blinded_for(user=request.user, employer=inspection.employer)
        else _with_judgements(
            selectors.employer_scores(employer=inspection.employer), request.user, inspection.employer, inspection
        ),
    }
    return render(request, "workspace/inspection_outcome.html", context, status=status)


def _outcome_recorded(request: HttpRequest, inspection: Inspection, form: OutcomeForm) -> bool:
    try:
        form.record(inspection=inspection, user=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            form.add_error(None, message)
        return False
    messages.success(request, _("The outcome of %(reference)s is recorded.") % {"reference": inspection.reference})
    return True


@require_POST
@permission_required("workspace.add_scorejudgement", raise_exception=True)
def judgement_record(request: HttpRequest, enterprise_number: str, offence: str) -> HttpResponse:
    """An inspector's word on a published score: from the employer page, or an outcome's."""
    employer = _visible_employer(request, enterprise_number)
    scores = (
        []
        if selectors.blinded_for(user=request.user, employer=employer)
        else selectors.employer_scores(employer=employer)
    )
    score = next((s for s in scores if s.run.offence_type_id == offence), None)
    if score is None:  # none published, or hidden from this user (blinding)
        raise Http404(_("No published score of this employer for that offence type."))
    reference = request.POST.get("inspection", "")
    inspection = (
        selectors.visible_inspection(user=request.user, reference=reference, employer=employer) if reference else None
    )
    if inspection is not None and not inspection.outcome_editable_by(request.user):
        raise PermissionDenied(_("Only the inspector it is planned for, or the task force, judges on an inspection."))
    try:
        services.score_judgement_record(
            score=score,
            author=request.user,
            verdict=request.POST.get("verdict", ""),
            comment=request.POST.get("comment", ""),
            inspection=inspection,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Thank you: your judgement of the %(offence)s score is kept.") % {"offence": score.run.offence_type.name},
        )
    if inspection is not None:
        return redirect("workspace:inspection_outcome", reference=inspection.reference)
    return redirect("workspace:employer_detail", enterprise_number=employer.enterprise_number)


@require_GET
@permission_required("workspace.view_scorejudgement", raise_exception=True)
def judgements(request: HttpRequest) -> HttpResponse:
    models, reasons = selectors.judgements_summary(user=request.user)
    return render(request, "workspace/judgements.html", {"models": models, "reasons": reasons})


@require_POST
def target_change(request: HttpRequest, reference: str, action: str) -> HttpResponse:
    """Reschedule (`plan`, planned_date) or remove (`remove`, reason) a target of My targets."""
    if action not in ("plan", "remove"):
        raise Http404
    inspection = selectors.visible_inspection(user=request.user, reference=reference)
    try:
        if action == "plan":
            planned = _day(request.POST.get("planned_date", ""))
            services.target_plan(inspection=inspection, user=request.user, planned_date=planned)
            message = _("%(reference)s is planned for %(date)s.") % {"reference": reference, "date": planned}
        else:
            services.target_remove(inspection=inspection, user=request.user, reason=request.POST.get("reason", ""))
            message = _("%(reference)s is removed from the plan.") % {"reference": reference}
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, message)
    return redirect("workspace:my_targets")


def _day(text: str) -> date:
    """A YYYY-MM-DD day, or ValidationError in words."""
    try:
        day = parse_date(text.strip())
    except ValueError:  # well-formed but no such day, e.g. 2026-02-30
        day = None
    if day is None:
        raise ValidationError(_("Enter the day as YYYY-MM-DD."))
    return day


@require_GET
def visit_sheet(request: HttpRequest, reference: str) -> HttpResponse:
    """A printable sheet for the visit: identity, declarations, earlier findings, notes; no score."""
    inspection = selectors.visible_inspection(user=request.user, reference=reference)
    employer = inspection.employer
    context = {
        "inspection": inspection,
        "employer": employer,
        "declarations": list(employer.declarations.order_by("-quarter")[:12]),
        "earlier": selectors.employer_inspections(employer=employer)
        .exclude(pk=inspection.pk)
        .filter(status="completed"),
        "notes": selectors.employer_notes(employer=employer),
    }
    return render(request, "workspace/visit_sheet.html", context)


@require_GET
def my_targets(request: HttpRequest) -> HttpResponse:
    return render(request, "workspace/my_targets.html", {"targets": selectors.targets_of(user=request.user)})


@require_GET
def risk_profiles(request: HttpRequest) -> HttpResponse:
    profiles = {(p.sector_id, p.offence_type_id): p for p in RiskProfile.objects.all()}
    rows = [
        (sector, [(offence, profiles.get((sector.pk, offence.pk))) for offence in OffenceType.objects.all()])
        for sector in Sector.objects.all()
    ]
    return render(request, "workspace/risk_profiles.html", {"rows": rows})


@require_http_methods(["GET", "POST"])
def risk_profile(request: HttpRequest, sector: str, offence: str) -> HttpResponse:
    sector_obj = get_object_or_404(Sector, pk=sector)
    offence_obj = get_object_or_404(OffenceType, pk=offence)
    # Reading a profile nobody wrote yet stores nothing; the first edit or comment does.
    profile = RiskProfile.objects.filter(sector=sector_obj, offence_type=offence_obj).first() or RiskProfile(
        sector=sector_obj, offence_type=offence_obj
    )
    can_edit = request.user.has_perm("workspace.change_riskprofile")
    form = RiskProfileForm(instance=profile)
    comment_form = NoteForm()
    if request.method == "POST":
        if request.POST.get("kind") == "profile":
            if not can_edit:
                raise PermissionDenied
            form = RiskProfileForm(request.POST, instance=profile)
            if form.is_valid():
                services.risk_profile_update(profile=profile, user=request.user, **form.cleaned_data)
                messages.success(request, _("Risk profile saved."))
                return redirect("workspace:risk_profile", sector=sector, offence=offence)
        else:
            if not request.user.has_perm("workspace.add_riskprofilecomment"):
                raise PermissionDenied
            comment_form = NoteForm(request.POST)
            if comment_form.is_valid():
                try:
                    services.risk_profile_comment_create(
                        profile=profile, author=request.user, text=comment_form.cleaned_data["text"]
                    )
                except ValidationError as exc:
                    comment_form.add_error("text", exc)
                else:
                    return redirect("workspace:risk_profile", sector=sector, offence=offence)
    context = {
        "profile": profile,
        "form": form,
        "comment_form": comment_form,
        "can_edit": can_edit,
        "can_comment": request.user.has_perm("workspace.add_riskprofilecomment"),
        "comments": profile.comments.select_related("author") if profile.pk else [],
        "strongest": selectors.strongest_features(sector=sector, offence=offence),
    }
    status = 400 if form.errors or comment_form.errors else 200
    return render(request, "workspace/risk_profile.html", context, status=status)
