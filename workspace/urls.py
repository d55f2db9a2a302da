from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.urls import path, register_converter
from drf_spectacular.views import SpectacularAPIView

from inspections.converters import EnterpriseNumberConverter
from workspace import api, views, views_imports, views_lists, views_models, views_worklists

register_converter(EnterpriseNumberConverter, "enterprise_number")

app_name = "workspace"

urlpatterns = [
    path("help/", views.help_page, name="help"),
    path("lists/", views_lists.ranked_list, name="ranked_list"),
    path("lists/subregions/", views_lists.subregion_options, name="subregion_options"),
    path("lists/export.<str:format>", views_lists.ranked_list_export, name="ranked_list_export"),
    path("employers/", views.employer_search, name="employer_search"),
    path("employers/<enterprise_number:enterprise_number>/", views.employer_detail, name="employer_detail"),
    path("employers/<enterprise_number:enterprise_number>/notes/", views.note_create, name="note_create"),
    path("employers/<enterprise_number:enterprise_number>/target/", views.target_add, name="target_add"),
    path(
        "employers/<enterprise_number:enterprise_number>/judgements/<slug:offence>/",
        views.judgement_record,
        name="judgement_record",
    ),
    path("targets/<path:reference>/sheet/", views.visit_sheet, name="visit_sheet"),
    path("targets/<path:reference>/<slug:action>/", views.target_change, name="target_change"),
    path("judgements/", views.judgements, name="judgements"),
    path("statistics/", views_worklists.detection_statistics, name="statistics"),
    path("worklists/", views_worklists.worklist_new, name="worklists"),
    path("worklists/<int:pk>/", views_worklists.worklist_detail, name="worklist_detail"),
    path("worklists/<int:pk>/export.csv", views_worklists.worklist_export, name="worklist_export"),
    path("notes/<int:pk>/edit/", views.note_edit, name="note_edit"),
    path("targets/", views.my_targets, name="my_targets"),
    path("inspections/<path:reference>/outcome/", views.inspection_outcome, name="inspection_outcome"),
    path("models/", views_models.model_pairs, name="model_pairs"),
    path("models/upload/", views_models.model_upload, name="model_upload"),
    path("models/retrain/", views_models.retrain_all, name="retrain_all"),
    path("models/compare/", views_models.comparison_new, name="comparison_new"),
    path("models/comparisons/<int:pk>/", views_models.comparison, name="comparison"),
    path("models/uploads/<int:pk>/", views_models.model_upload_detail, name="model_upload_detail"),
    path("models/<slug:sector>/<slug:offence>/", views_models.model_pair, name="model_pair"),
    path("models/<slug:sector>/<slug:offence>/lists/", views_models.lists_state, name="lists_state"),
    path("models/<slug:sector>/<slug:offence>/retrain/", views_models.pair_retrain, name="pair_retrain"),
    path("models/versions/<int:pk>/card.md", views_models.model_card, name="model_card"),
    path("models/versions/<int:pk>/<slug:decision>/", views_models.model_version_decide, name="model_version_decide"),
    path("imports/", views_imports.data_imports, name="data_imports"),
    path("imports/<int:pk>/", views_imports.data_import, name="data_import"),
    path("imports/<int:pk>/problems.csv", views_imports.data_import_report, name="data_import_report"),
    path("imports/<int:pk>/again/", views_imports.data_import_again, name="data_import_again"),
    path("imports/<int:pk>/rescore/", views_imports.data_import_rescore, name="data_import_rescore"),
    path("profiles/", views.risk_profiles, name="risk_profiles"),
    path("profiles/<slug:sector>/<slug:offence>/", views.risk_profile, name="risk_profile"),
    # The API authenticates by token as well: not behind the login page's redirect.
    path("api/lists/", login_not_required(api.ranked_list), name="api_ranked_list"),
    path(
        "api/employers/<enterprise_number:enterprise_number>/scores/",
        login_not_required(api.employer_scores),
        name="api_employer_scores",
    ),
    path("api/inspections/<path:reference>/outcome/", login_not_required(api.inspection_outcome), name="api_outcome"),
    path("api/models/", login_not_required(api.model_versions), name="api_model_versions"),
    path("api/models/upload/", login_not_required(api.model_upload), name="api_model_upload"),
    path(
        "api/models/<int:pk>/<slug:decision>/",
        login_not_required(api.model_version_decide),
        name="api_model_version_decide",
    ),
    path("api/imports/", login_not_required(api.data_imports), name="api_data_imports"),
    path("api/imports/<int:pk>/", login_not_required(api.data_import), name="api_data_import"),
    path("api/schema/", login_not_required(SpectacularAPIView.as_view()), name="api_schema"),
]
