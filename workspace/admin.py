from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from inspections.admin import EmployerDataAdmin
from workspace.models import ListExport, Note, RiskProfile, RiskProfileComment, WorklistSettings


@admin.register(Note)
class NoteAdmin(EmployerDataAdmin):
    list_display = ("employer", "author", "created_at", "updated_at")
    list_select_related = ("employer", "author")
    raw_id_fields = ("employer",)
    search_fields = ("text", "employer__name", "employer__enterprise_number")


class CommentInline(admin.TabularInline):
    model = RiskProfileComment
    extra = 0


@admin.register(RiskProfile)
class RiskProfileAdmin(admin.ModelAdmin):
    list_display = ("sector", "offence_type", "updated_by", "updated_at")
    inlines = [CommentInline]


@admin.register(ListExport)
class ListExportAdmin(admin.ModelAdmin):
    """The audit trail of exports: read-only."""

    list_display = ("created_at", "user", "format", "rows")
    list_filter = ("format",)
    readonly_fields = ("user", "format", "filters", "rows", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ListExport | None = None) -> bool:
        return False


@admin.register(WorklistSettings)
class WorklistSettingsAdmin(admin.ModelAdmin):
    """One row: the share of random controls in every new worklist."""

    list_display = ("__str__", "random_share")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not WorklistSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: WorklistSettings | None = None) -> bool:
        return False
