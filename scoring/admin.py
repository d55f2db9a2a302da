"""Administrators upload model versions and set their band cut-offs here; runs and the
history of versions are read-only. Analysts approve and activate versions on the model
pages (workspace/views_models.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from inspections.models import OffenceType, Sector
from miningwatch.queueing import QUEUE_ERRORS
from scoring.features.registry import FeatureRefused
from scoring.models import DEFAULT_BAND_CUTOFFS, ModelEvent, ModelStatus, ModelVersion, ScoringRun
from scoring.schedules import UnknownTask, cron_in_words, periodic_tasks_queue
from scoring.services.artifacts import ArtifactRefused
from scoring.services.evaluation import figure_text
from scoring.services.training import TrainingRefused
from scoring.services.uploads import MAX_UPLOAD_BYTES, model_version_upload


def _metric(name: str, label: str) -> Any:
    def show(self: Any, version: ModelVersion) -> str:
        return figure_text(version.metrics, name)

    show.short_description = label  # type: ignore[attr-defined]
    return show


class BandCutoffsForm(forms.ModelForm):
    """The band cut-offs as three shares instead of raw JSON."""

    red = forms.FloatField(label=_("red: top share"), min_value=0.001, max_value=1)
    orange = forms.FloatField(label=_("orange: top share, red included"), min_value=0.001, max_value=1)
    green = forms.FloatField(label=_("green: top share, red and orange included"), min_value=0.001, max_value=1)

    class Meta:
        model = ModelVersion
        fields = ["review_note"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, share in (self.instance.band_cutoffs or DEFAULT_BAND_CUTOFFS).items():
            self.fields[name].initial = share

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        shares = [data.get(name) for name in ("red", "orange", "green")]
        if None not in shares and not shares[0] < shares[1] < shares[2]:
            raise forms.ValidationError(_("The shares must grow from red to orange to green."))
        return data

    def save(self, commit: bool = True) -> ModelVersion:
        self.instance.band_cutoffs = {name: self.cleaned_data[name] for name in ("red", "orange", "green")}
        return super().save(commit)


class UploadForm(forms.ModelForm):
    """A model trained elsewhere, as a skops file: it becomes a candidate."""

    sector = forms.ModelChoiceField(queryset=Sector.objects.all())
    offence_type = forms.ModelChoiceField(queryset=OffenceType.objects.all())
    file = forms.FileField(label=_("model file (.skops)"))

    class Meta:
        model = ModelVersion
        fields: list[str] = []

    def clean_file(self) -> bytes:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 50 MB."))
        return upload.read()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            self.instance = model_version_upload(
                sector=data["sector"].pk, offence=data["offence_type"].pk, data=data["file"], user=self.user
            )
        except (ArtifactRefused, FeatureRefused, TrainingRefused) as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data

    def _post_clean(self) -> None:
        """The service checked and stored the version: no model validation of a blank
        instance, which would add "This field cannot be null." under fields filled in."""

    def save(self, commit: bool = True) -> ModelVersion:
        self.save_m2m = lambda: None  # the admin calls it after save(commit=False)
        return self.instance  # stored by the service


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "sector",
        "offence_type",
        "status",
        "created_at",
        "origin",
        "roc_auc",
        "average_precision",
        "lift",
        "training_rows",
        "validation_rows",
    )
    list_filter = ("status", "sector", "offence_type")
    readonly_fields = (
        "sector",
        "offence_type",
        "status",
        "features",
        "training_from",
        "training_to",
        "validation_to",
        "training_rows",
        "validation_rows",
        "training_data_sha256",
        "artifact_sha256",
        "sklearn_version",
        "metrics",
        "band_cutoffs",
        "origin",
        "created_by",
        "created_at",
        "activated_at",
    )
    roc_auc = _metric("roc_auc", "AUC")
    average_precision = _metric("average_precision", _("avg. precision"))
    lift = _metric("lift", _("lift"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[ModelVersion]:
        return super().get_queryset(request).defer("artifact").select_related("sector", "offence_type")

    def _frozen(self, request: HttpRequest, obj: ModelVersion | None) -> bool:
        return obj is not None and not self.has_change_permission(request, obj)

    def get_form(self, request: HttpRequest, obj: ModelVersion | None = None, **kwargs: Any) -> type[forms.ModelForm]:
        if self._frozen(request, obj):  # shown, never changed: every field read-only
            kwargs.update(form=forms.ModelForm, fields=[])
            return super().get_form(request, obj, **kwargs)
        kwargs["form"] = UploadForm if obj is None else BandCutoffsForm
        kwargs["fields"] = None
        klass = super().get_form(request, obj, **kwargs)
        klass.user = request.user  # type: ignore[attr-defined]
        return klass

    def has_change_permission(self, request: HttpRequest, obj: ModelVersion | None = None) -> bool:
        # Band cut-offs and the note change only while a version is a candidate: the gates
        # and the approval were on the version as it stood.
        if obj is not None and obj.status != ModelStatus.CANDIDATE:
            return False
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: ModelVersion | None = None) -> tuple[str, ...]:
        if self._frozen(request, obj):
            return ("review_note", *self.readonly_fields)
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: ModelVersion | None = None) -> list[str]:
        if obj is None:
            return ["sector", "offence_type", "file"]
        if self._frozen(request, obj):
            return ["review_note", *self.readonly_fields]
        return ["red", "orange", "green", "review_note", *self.readonly_fields]


@admin.register(ScoringRun)
class ScoringRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "sector",
        "offence_type",
        "model_version",
        "as_of",
        "status",
        "progress",
        "employers_scored",
        "finished_at",
    )
    list_filter = ("status", "sector", "offence_type")
    readonly_fields = [field.name for field in ScoringRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ScoringRun | None = None) -> bool:
        return False


@admin.register(ModelEvent)
class ModelEventAdmin(admin.ModelAdmin):
    """The history of model versions, for reading only: nobody adds, changes or deletes a step."""

    list_display = ("at", "version", "action", "by", "note")
    list_filter = ("action", "version__sector", "version__offence_type")
    readonly_fields = [field.name for field in ModelEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ModelEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ModelEvent | None = None) -> bool:
        return False


# --- Periodic tasks (django-celery-beat): "run now" says it queues; schedules in words ------


def _schedule_in_words(crontab: CrontabSchedule) -> str:
    """The schedule in words beside its cron text; the cron text alone for a rare form."""
    cron = f"{crontab.minute} {crontab.hour} {crontab.day_of_month} {crontab.month_of_year} {crontab.day_of_week}"
    words = cron_in_words(
        minute=crontab.minute,
        hour=crontab.hour,
        day_of_month=crontab.day_of_month,
        month_of_year=crontab.month_of_year,
        day_of_week=crontab.day_of_week,
    )
    return f"{words} ({cron}, {crontab.timezone})" if words else f"{cron} ({crontab.timezone})"


admin.site.unregister(PeriodicTask)
admin.site.unregister(CrontabSchedule)


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin):
    list_display = ("name", "enabled", "schedule_shown", "start_time", "last_run_at", "one_off")

    @admin.display(description=_("schedule"))
    def schedule_shown(self, task: PeriodicTask) -> str:
        return _schedule_in_words(task.crontab) if task.crontab else str(task.schedule_object)

    def crontab_translation(self, task: PeriodicTask) -> str:
        return _schedule_in_words(task.crontab) if task.crontab else ""

    @admin.action(description=_("Queue the selected tasks now"))
    def run_tasks(self, request: HttpRequest, queryset: QuerySet[PeriodicTask]) -> None:
        # Django-celery-beat says "successfully run" when it has only queued them: a worker
        # runs them later, or never if none is up. Say what happened.
        try:
            queued = periodic_tasks_queue(periodic_tasks=queryset)
        except UnknownTask as exc:
            message = _("No task was queued: no worker knows the task “%(task)s”.") % {"task": exc.args[0]}
            self.message_user(request, message, level=messages.ERROR)
            return
        except QUEUE_ERRORS:
            self.message_user(request, _("No task was queued: the task queue cannot be reached."), messages.ERROR)
            return
        text = ngettext(
            "%(count)d task was queued: a worker runs it as soon as one is free.",
            "%(count)d tasks were queued: workers run them as soon as they are free.",
            queued,
        )
        self.message_user(request, text % {"count": queued})


@admin.register(CrontabSchedule)
class CrontabScheduleAdmin(beat_admin.CrontabScheduleAdmin):
    list_display = ("in_words",)
    fields = ("in_words", "minute", "hour", "day_of_month", "month_of_year", "day_of_week", "timezone")
    readonly_fields = ("in_words",)

    @admin.display(description=_("schedule"))
    def in_words(self, crontab: CrontabSchedule) -> str:
        return _schedule_in_words(crontab)
