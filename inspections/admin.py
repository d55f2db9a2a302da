from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.utils.translation import gettext_lazy as _

from inspections import models
from inspections.services.outcomes import outcome_change_keep, outcome_snapshot

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.db.models import Field, QuerySet
    from django.forms import ModelChoiceField
    from django.http import HttpRequest


def employer_rows_visible_to(rows: QuerySet, user: AbstractBaseUser | AnonymousUser) -> QuerySet:
    """Rows that belong to an employer (an `employer` foreign key), of the employers the
    user may see: Employer.objects.visible_to decides, as everywhere else."""
    if user.is_authenticated and models.InspectorScope.subregion_codes_for(user) is None:
        return rows  # not limited: the same query as ever, without a semi-join on a million employers
    return rows.filter(employer__in=models.Employer.objects.visible_to(user))


class ScopedRawIdWidget(ForeignKeyRawIdWidget):
    """A raw-id box that names an employer next to its id only if the user may see it:
    typing another region's ids must not reveal their names."""

    def __init__(self, *args: Any, visible: QuerySet, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.visible = visible

    def label_and_url_for_value(self, value: Any) -> tuple[str, str]:
        key = self.rel.get_related_field().name
        try:
            seen = self.visible.filter(**{key: value}).exists()
        except (ValueError, ValidationError):
            seen = False
        return super().label_and_url_for_value(value) if seen else ("", "")


class EmployerDataAdmin(admin.ModelAdmin):
    """Admin of rows that belong to an employer: lists, change pages, deletions and the
    employer chosen in a form hold the employers the user may see, as the workspace does."""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return employer_rows_visible_to(super().get_queryset(request), request.user)

    def formfield_for_foreignkey(self, db_field: Field, request: HttpRequest, **kwargs: Any) -> ModelChoiceField:
        if db_field.related_model is models.Employer:
            # The form refuses another region's employer, whatever id is typed or posted.
            kwargs["queryset"] = models.Employer.objects.visible_to(request.user)
            if db_field.name in self.raw_id_fields:
                kwargs["widget"] = ScopedRawIdWidget(
                    db_field.remote_field, self.admin_site, visible=kwargs["queryset"], using=kwargs.get("using")
                )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReferenceAdmin(admin.ModelAdmin):
    list_display = ("code", "name_en", "name_nl", "name_fr")
    search_fields = ("code", "name_en", "name_nl", "name_fr")


admin.site.register(models.Region, ReferenceAdmin)
admin.site.register(models.Sector, ReferenceAdmin)
admin.site.register(models.OffenceType, ReferenceAdmin)


@admin.register(models.Province)
class ProvinceAdmin(ReferenceAdmin):
    list_display = ("code", "name_en", "name_nl", "name_fr", "region")
    list_filter = ("region",)


@admin.register(models.SubRegion)
class SubRegionAdmin(ReferenceAdmin):
    list_display = ("code", "name_en", "name_nl", "name_fr", "province", "region", "population")
    list_filter = ("region", "province")


@admin.register(models.NaceCode)
class NaceCodeAdmin(ReferenceAdmin):
    list_display = ("code", "name_en", "sector")
    list_filter = ("sector",)


@admin.register(models.PostalCode)
class PostalCodeAdmin(admin.ModelAdmin):
    list_display = ("code", "municipality", "subregion")
    list_filter = ("subregion__region",)
    search_fields = ("code", "municipality")
    list_select_related = ("subregion",)


class DeclarationInline(admin.TabularInline):
    model = models.Declaration
    extra = 0
    show_change_link = True


@admin.register(models.Employer)
class EmployerAdmin(admin.ModelAdmin):
    list_display = ("enterprise_number", "name", "legal_form", "sector", "subregion", "start_date", "end_date")
    list_filter = ("sector", "legal_form", "subregion__region")
    search_fields = ("enterprise_number", "name", "nsso_number")
    list_select_related = ("sector", "subregion")
    raw_id_fields = ("nace", "postal_code")
    show_full_result_count = False  # a COUNT(*) over a million rows on every page is wasted work

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)


@admin.register(models.Declaration)
class DeclarationAdmin(EmployerDataAdmin):
    list_display = ("employer", "quarter", "headcount", "fte", "gross_wages", "temporary_unemployment_days")
    list_filter = ("quarter",)
    raw_id_fields = ("employer",)
    search_fields = ("employer__enterprise_number",)
    list_select_related = ("employer",)
    show_full_result_count = False


class FindingInline(admin.TabularInline):
    model = models.Finding
    extra = 0


class InspectionChangeInline(admin.TabularInline):
    """The outcome's history: shown, never added, changed or deleted here."""

    model = models.InspectionChange
    extra = 0
    can_delete = False
    fields = readonly_fields = ("changed_at", "changed_by", "before", "after")

    def has_add_permission(self, request: HttpRequest, obj: models.Inspection | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Inspection | None = None) -> bool:
        return False


@admin.register(models.Inspection)
class InspectionAdmin(EmployerDataAdmin):
    list_display = ("reference", "employer", "origin", "status", "inspector", "planned_date", "visit_date")
    list_filter = ("origin", "status")
    search_fields = ("reference", "employer__enterprise_number", "employer__name")
    raw_id_fields = ("employer", "inspector")
    list_select_related = ("employer", "inspector")
    inlines = [FindingInline, InspectionChangeInline]
    show_full_result_count = False

    def save_model(self, request: HttpRequest, obj: models.Inspection, form: Any, change: bool) -> None:
        # The outcome as it was, before the form and its findings are saved (save_related).
        # Locked until the admin's transaction ends, so an edit in the app cannot slip between.
        stored = models.Inspection.objects.select_for_update().filter(pk=obj.pk).first() if change else None
        request._outcome_before = outcome_snapshot(stored) if stored else None  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        before = getattr(request, "_outcome_before", None)
        outcome_change_keep(inspection=form.instance, user=request.user, before=before)


@admin.register(models.InspectorScope)
class InspectorScopeAdmin(admin.ModelAdmin):
    list_display = ("user",)
    filter_horizontal = ("regions", "subregions")


@admin.register(models.DataImport)
class DataImportAdmin(admin.ModelAdmin):
    """The import history, read-only: imports are sent from the upload page (or `import_csv`)."""

    list_display = ("pk", "kind", "original_name", "status", "rows_read", "rows_created", "rows_updated", "created_at")
    list_filter = ("kind", "status")
    readonly_fields = [field.name for field in models.DataImport._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.DataImport | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: models.DataImport | None = None) -> bool:
        return False


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class UserWithRolesAdmin(UserAdmin):
    """Django's user admin, with each user's roles (groups) and regional scope in the list."""

    list_display = (*UserAdmin.list_display, "roles", "scope_shown")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Four queries for the page, whatever its length: not three per user.
        return super().get_queryset(request).prefetch_related("groups", "scope__regions", "scope__subregions")

    @admin.display(description=_("roles"))
    def roles(self, user: Any) -> str:
        return ", ".join(sorted(group.name for group in user.groups.all())) or "—"

    @admin.display(description=_("scope"))
    def scope_shown(self, user: Any) -> str:
        try:
            scope = user.scope
        except ObjectDoesNotExist:
            return _("all regions")
        places = [str(region) for region in scope.regions.all()] + [str(sub) for sub in scope.subregions.all()]
        # A scope that names nothing shows nothing (InspectorScope): say so, it is not "all".
        return ", ".join(places) or _("none (sees no employer)")
