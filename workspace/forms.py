from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from inspections.models import (
    DataImport,
    Inspection,
    InspectionStatus,
    OffenceType,
    Region,
    ReportKind,
    Sector,
    SubRegion,
)
from inspections.roles import INSPECTOR
from inspections.services.outcomes import SUMMARY_MAX_CHARS, FindingOutcome, inspection_outcome_record
from workspace.filters import SEARCH_MAX_CHARS, SearchField
from workspace.models import NOTE_MAX_CHARS, RiskProfile
from workspace.worklists import MAX_SIZE as WORKLIST_MAX_SIZE
from workspace.worklists import WorklistRequest


class EmployerSearchForm(forms.Form):
    """The navigation bar's search: checked as the ranked list's (length, a letter or digit)."""

    q = SearchField(label=_("Name or enterprise number"), max_length=SEARCH_MAX_CHARS, strip=True, required=False)


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Note"),
        max_length=NOTE_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": NOTE_MAX_CHARS}),
        error_messages={
            "max_length": _("A note holds at most %(limit_value)d characters; this one has %(show_value)d."),
            "required": _("Write something first."),
        },
    )


class RiskProfileForm(forms.ModelForm):
    class Meta:
        model = RiskProfile
        fields = ["patterns", "on_site"]
        widgets = {"patterns": forms.Textarea(attrs={"rows": 8}), "on_site": forms.Textarea(attrs={"rows": 8})}


class OutcomeForm(forms.Form):
    """The outcome of one inspection: status, visit date, summary, and for each offence type
    whether it was checked and what was found (fields "<code>-checked", "<code>-found", ...)."""

    status = forms.ChoiceField(label=_("Status"), choices=InspectionStatus.choices)
    visit_date = forms.DateField(
        label=_("Visit date"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    summary = forms.CharField(
        label=_("Summary"),
        required=False,
        max_length=SUMMARY_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": SUMMARY_MAX_CHARS}),
    )

    def __init__(self, *args: Any, offences: list[OffenceType], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offences = offences
        for offence in offences:
            code = offence.code
            self.fields[f"{code}-checked"] = forms.BooleanField(label=_("Checked"), required=False)
            self.fields[f"{code}-found"] = forms.BooleanField(label=_("Offence found"), required=False)
            self.fields[f"{code}-workers"] = forms.IntegerField(
                label=_("Workers regularised"), required=False, min_value=0, max_value=1_000_000
            )
            self.fields[f"{code}-amount"] = forms.DecimalField(
                label=_("Contributions recovered (EUR)"),
                required=False,
                min_value=0,
                max_digits=14,
                decimal_places=2,
            )
            self.fields[f"{code}-report"] = forms.ChoiceField(
                label=_("Report drawn up"), choices=ReportKind.choices, initial=ReportKind.NONE
            )

    def offence_rows(self) -> list[tuple[OffenceType, list[forms.BoundField]]]:
        """Per offence type, its bound fields in table order (for the template)."""
        parts = ("checked", "found", "workers", "amount", "report")
        return [(offence, [self[f"{offence.code}-{part}"] for part in parts]) for offence in self.offences]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for offence in self.offences:
            code = offence.code
            if data.get(f"{code}-checked"):
                continue
            given = (
                data.get(f"{code}-found")
                or data.get(f"{code}-workers")
                or data.get(f"{code}-amount")
                or data.get(f"{code}-report", ReportKind.NONE) != ReportKind.NONE
            )
            if given:
                self.add_error(
                    f"{code}-checked",
                    _("%(offence)s was not checked: tick “Checked”, or clear its finding.") % {"offence": offence.name},
                )
        return data

    def findings(self) -> list[FindingOutcome]:
        """The offence types ticked as checked, with what was found (after is_valid)."""
        data = self.cleaned_data
        return [
            FindingOutcome(
                offence=offence.code,
                found=bool(data.get(f"{offence.code}-found")),
                workers_regularised=data.get(f"{offence.code}-workers") or 0,
                contributions_recovered=data.get(f"{offence.code}-amount") or Decimal(0),
                report=data.get(f"{offence.code}-report") or ReportKind.NONE,
            )
            for offence in self.offences
            if data.get(f"{offence.code}-checked")
        ]

    def record(self, *, inspection: Inspection, user: Any) -> Inspection:
        """Store the valid form's outcome through the service (its ValidationError says why not)."""
        data = self.cleaned_data
        return inspection_outcome_record(
            inspection=inspection,
            user=user,
            status=data["status"],
            visit_date=data["visit_date"],
            summary=data["summary"],
            findings=self.findings(),
        )

    @staticmethod
    def initial_for(inspection: Inspection) -> dict[str, Any]:
        """The form's starting values: the outcome as recorded."""
        initial: dict[str, Any] = {
            "status": inspection.status,
            "visit_date": inspection.visit_date,
            "summary": inspection.summary,
        }
        for finding in inspection.findings.all():
            code = finding.offence_type_id
            initial.update(
                {
                    f"{code}-checked": True,
                    f"{code}-found": finding.found,
                    f"{code}-workers": finding.workers_regularised,
                    f"{code}-amount": finding.contributions_recovered,
                    f"{code}-report": finding.report,
                }
            )
        return initial


class WorklistForm(forms.Form):
    sector = forms.ModelChoiceField(label=_("Sector"), queryset=Sector.objects.all())
    offence = forms.ModelChoiceField(label=_("Offence type"), queryset=OffenceType.objects.all())
    region = forms.ModelChoiceField(label=_("Region"), queryset=Region.objects.all(), required=False)
    subregion = forms.ModelChoiceField(label=_("Sub-region"), queryset=SubRegion.objects.all(), required=False)
    size = forms.IntegerField(label=_("Employers"), min_value=1, max_value=WORKLIST_MAX_SIZE, initial=20)
    inspector = forms.ModelChoiceField(
        label=_("Inspector"),
        queryset=get_user_model().objects.filter(groups__name=INSPECTOR, is_active=True).order_by("username"),
        required=False,
        empty_label=_("yourself"),
    )

    def worklist_request(self) -> WorklistRequest:
        data = self.cleaned_data
        return WorklistRequest(
            sector=data["sector"].pk,
            offence=data["offence"].pk,
            size=data["size"],
            region=data["region"],
            subregion=data["subregion"],
            inspector=data["inspector"],
        )


class DataUploadForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("The file holds"), choices=DataImport.Kind.choices, widget=forms.RadioSelect, initial="employers"
    )
    file = forms.FileField(label=_("File (CSV or Excel .xlsx)"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = settings.IMPORT_UPLOAD_MAX_MB
        # The browser refuses a file over the limit before sending it (static/js/upload-size.js).
        self.fields["file"].widget.attrs.update(
            {
                "accept": ".csv,.txt,.xlsx,text/csv",
                "data-max-bytes": limit * 2**20,
                "data-too-large": _("The file is larger than %(limit)d MB.") % {"limit": limit},
            }
        )
