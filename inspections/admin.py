from __future__ import annotations

from django.contrib import admin

from inspections import models


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
class DeclarationAdmin(admin.ModelAdmin):
    list_display = ("employer", "quarter", "headcount", "fte", "gross_wages", "temporary_unemployment_days")
    list_filter = ("quarter",)
    raw_id_fields = ("employer",)
    search_fields = ("employer__enterprise_number",)
    list_select_related = ("employer",)
    show_full_result_count = False


class FindingInline(admin.TabularInline):
    model = models.Finding
    extra = 0


@admin.register(models.Inspection)
class InspectionAdmin(admin.ModelAdmin):
    list_display = ("reference", "employer", "origin", "status", "inspector", "planned_date", "visit_date")
    list_filter = ("origin", "status")
    search_fields = ("reference", "employer__enterprise_number", "employer__name")
    raw_id_fields = ("employer", "inspector")
    list_select_related = ("employer", "inspector")
    inlines = [FindingInline]
    show_full_result_count = False


@admin.register(models.InspectorScope)
class InspectorScopeAdmin(admin.ModelAdmin):
    list_display = ("user",)
    filter_horizontal = ("regions", "subregions")


@admin.register(models.DataImport)
class DataImportAdmin(admin.ModelAdmin):
    list_display = ("pk", "kind", "original_name", "status", "rows_read", "rows_created", "rows_updated", "created_at")
    list_filter = ("kind", "status")
    readonly_fields = [field.name for field in models.DataImport._meta.fields]
