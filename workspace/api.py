"""The REST API (Django REST framework, token or session authentication, OpenAPI 3 at
/api/schema/). Thin: the same FilterSet, scope, blinding and caps as the pages, and the
same services for every write. docs/api.md lists the endpoints."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, parser_classes, permission_classes
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from inspections import selectors as import_selectors
from inspections.models import DataImport, Employer, Inspection, OffenceType, ReportKind, Sector
from inspections.services.data_imports import UploadRefused, data_imports_abandoned_fail, data_upload_create
from miningwatch.queueing import QUEUE_ERRORS
from scoring.features.registry import FeatureRefused, reason_text
from scoring.models import ModelVersion, Score
from scoring.services.artifacts import ArtifactRefused
from scoring.services.evaluation import gates_failed
from scoring.services.uploads import MAX_UPLOAD_BYTES, model_upload_create
from scoring.services.versions import NOTE_MAX_CHARS, VersionRefused
from workspace import selectors, views_lists
from workspace.forms import OutcomeForm
from workspace.views_models import DECISIONS


class ScoreReasons(serializers.Serializer):
    """A score's reasons in words, as the pages give them."""

    reasons = serializers.SerializerMethodField()

    def get_reasons(self, score: Score) -> list[str]:
        return [reason_text(name, value) for name, value in score.reasons()]


class ScoreRow(ScoreReasons):
    enterprise_number = serializers.CharField(source="employer.enterprise_number")
    name = serializers.CharField(source="employer.name")
    rank = serializers.IntegerField(source="rank_shown")
    percentile = serializers.FloatField(source="percentile_shown")
    band = serializers.IntegerField()
    subregion = serializers.CharField(source="subregion_id", allow_null=True)


_LIST_FILTERS = ["sector", "offence", "region", "subregion", "band", "size_class", "legal_form", "not_inspected", "q"]


@extend_schema(
    parameters=[OpenApiParameter(name, OpenApiTypes.STR) for name in [*_LIST_FILTERS, "after"]],
    responses=inline_serializer(
        "RankedList",
        {
            "run": serializers.IntegerField(allow_null=True),
            "model_version": serializers.IntegerField(allow_null=True),
            "scores_as_of": serializers.DateField(allow_null=True),
            "counts": serializers.DictField(child=serializers.IntegerField()),
            "results": ScoreRow(many=True),
            "next_after": serializers.IntegerField(allow_null=True),
        },
    ),
)
@api_view(["GET"])
def ranked_list(request: Request) -> Response:
    """A page of a ranked list: the list page's filters, scope and blinding, 50 rows a page
    by keyset (`after` = the last rank of the page before)."""
    django_request: HttpRequest = request._request
    blinded = selectors.blinded_employer_ids(user=request.user)
    query = views_lists.ranked_query(django_request, blinded=blinded)
    if not query.filterset.is_valid():
        return Response({"errors": query.filterset.errors}, status=400)
    if query.run is None or query.scores is None:
        return Response({"run": None, "model_version": None, "scores_as_of": None, "counts": {}, "results": []})
    after, _, _, problems = views_lists.page_keys(django_request)
    if problems:
        return Response({"errors": {"after": problems}}, status=400)
    page = selectors.ranked_page(
        scores=query.scores,
        after=after,
        before=None,
        last=False,
        offence=query.run.offence_type_id,
        blinding=query.blinding,
    )
    return Response(
        {
            "run": query.run.pk,
            "model_version": query.run.model_version_id,
            "scores_as_of": query.run.as_of,
            "counts": {str(band): count for band, count in views_lists.list_band_counts(django_request, query).items()},
            "results": ScoreRow(page.rows, many=True).data,
            "next_after": page.last_rank if page.has_next else None,
        }
    )


class EmployerScore(ScoreReasons):
    offence = serializers.CharField(source="run.offence_type_id")
    band = serializers.IntegerField()
    rank = serializers.IntegerField(source="rank_shown")
    percentile = serializers.FloatField(source="percentile_shown")
    model_version = serializers.IntegerField(source="run.model_version_id")
    scores_as_of = serializers.DateField(source="run.as_of")


@extend_schema(
    responses=inline_serializer(
        "EmployerScores",
        {
            "enterprise_number": serializers.CharField(),
            "blinded": serializers.BooleanField(),
            "scores": EmployerScore(many=True),
        },
    )
)
@api_view(["GET"])
def employer_scores(request: Request, enterprise_number: str) -> Response:
    """An employer's published score per offence type, with its reasons; none while it is on
    one of the user's open worklist inspections (`blinded`)."""
    employer = get_object_or_404(Employer.objects.visible_to(request.user), enterprise_number=enterprise_number)
    hidden = selectors.blinded_employer_ids(user=request.user)
    blinded = employer.pk in hidden
    scores = (
        []
        if blinded
        else selectors.scores_as_shown(scores=selectors.employer_scores(employer=employer), blinded=hidden)
    )
    data = {"enterprise_number": employer.enterprise_number, "blinded": blinded}
    return Response({**data, "scores": EmployerScore(scores, many=True).data})


def _outcome(inspection: Inspection) -> dict[str, Any]:
    return {
        "reference": inspection.reference,
        "enterprise_number": inspection.employer.enterprise_number,
        "status": inspection.status,
        "visit_date": inspection.visit_date,
        "summary": inspection.summary,
        "findings": [
            {
                "offence": finding.offence_type_id,
                "found": finding.found,
                "workers_regularised": finding.workers_regularised,
                "contributions_recovered": str(finding.contributions_recovered),
                "report": finding.report,
            }
            for finding in inspection.findings.order_by("offence_type_id")
        ],
    }


@extend_schema(
    request=OpenApiTypes.OBJECT,
    responses=OpenApiTypes.OBJECT,
    description="POST takes the outcome form's fields: status, visit_date, summary, and per offence code "
    "`<code>-checked`, `<code>-found`, `<code>-workers`, `<code>-amount`, `<code>-report`.",
)
@api_view(["GET", "POST"])
def inspection_outcome(request: Request, reference: str) -> Response:
    """The outcome of an inspection; recorded by the task force or the inspector it is planned for."""
    inspection = selectors.visible_inspection(user=request.user, reference=reference)
    if request.method == "GET":
        return Response(_outcome(inspection))
    if not inspection.outcome_editable_by(request.user):
        raise ApiPermissionDenied("Only the task force or the inspector it is planned for records this outcome.")
    fields = _form_fields(request.data)
    if fields is None:
        return Response(
            {"errors": {"__all__": ["Send the outcome as an object of text, number or true/false fields."]}}, status=400
        )
    offences = list(OffenceType.objects.order_by("code"))
    # A report kind left out is "none", as the page's form starts.
    given = {f"{offence.code}-report": ReportKind.NONE for offence in offences} | fields
    form = OutcomeForm(given, offences=offences)
    if not form.is_valid():
        return Response({"errors": form.errors}, status=400)
    try:
        inspection = form.record(inspection=inspection, user=request.user)
    except ValidationError as exc:
        return Response({"errors": {"__all__": exc.messages}}, status=400)
    return Response(_outcome(inspection))


def _form_fields(data: Any) -> dict[str, Any] | None:
    """A JSON object or form body as the form's fields: text, numbers as text, true/false
    as they are; None for anything else (a list, an object inside, a body that is no object)."""
    if not hasattr(data, "items"):
        return None
    fields: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, bool | str):
            fields[name] = value
        elif isinstance(value, int | float):
            fields[name] = str(value)
        elif value is None:
            fields[name] = ""
        else:
            return None
    return fields


class ModelsPermission(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.has_perm("scoring.approve_modelversion"))


class VersionRow(serializers.Serializer):
    id = serializers.IntegerField()
    sector = serializers.CharField(source="sector_id")
    offence = serializers.CharField(source="offence_type_id")
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    origin = serializers.CharField()
    metrics = serializers.SerializerMethodField()
    gates_failed = serializers.SerializerMethodField()

    def get_metrics(self, version: ModelVersion) -> dict[str, Any]:
        metrics = version.metrics or {}
        names = ("rows", "positives", "roc_auc", "average_precision", "lift", "precision_at_k", "k", "hits_at_k")
        return {
            **{name: metrics.get(name) for name in names},
            "intervals": metrics.get("intervals", {}),
            "random_controls": metrics.get("random_controls", {}),
        }

    def get_gates_failed(self, version: ModelVersion) -> list[str]:
        return gates_failed(version.metrics or {})


@extend_schema(
    parameters=[OpenApiParameter("sector", OpenApiTypes.STR), OpenApiParameter("offence", OpenApiTypes.STR)],
    responses=VersionRow(many=True),
)
@api_view(["GET"])
@permission_classes([IsAuthenticated, ModelsPermission])
def model_versions(request: Request) -> Response:
    """Model versions, newest first (at most 200), with their figures, intervals and counts."""
    versions = ModelVersion.objects.defer("artifact").order_by("-created_at", "-pk")
    for name, field in (("sector", "sector_id"), ("offence", "offence_type_id")):
        if request.query_params.get(name):
            versions = versions.filter(**{field: request.query_params[name]})
    return Response(VersionRow(versions[:200], many=True).data)


@extend_schema(
    request=inline_serializer("Decision", {"note": serializers.CharField(required=False, allow_blank=True)}),
    responses=VersionRow,
)
@api_view(["POST"])
@permission_classes([IsAuthenticated, ModelsPermission])
def model_version_decide(request: Request, pk: int, decision: str) -> Response:
    """approve, refuse or activate a version, by the rules of the model pages (four eyes)."""
    if decision not in DECISIONS:
        raise Http404
    version = get_object_or_404(ModelVersion.objects.defer("artifact"), pk=pk)
    note = request.data.get("note", "") if hasattr(request.data, "get") else ""
    if not isinstance(note, str):
        return Response({"errors": {"note": ["Give the note as text."]}}, status=400)
    try:
        version = DECISIONS[decision](version, request.user, note)
    except (VersionRefused, ArtifactRefused, FeatureRefused, ValidationError) as exc:
        return Response({"errors": {"__all__": [str(exc)]}}, status=400)
    return Response(VersionRow(version).data)


class UploadRequest(serializers.Serializer):
    sector = serializers.CharField()
    offence = serializers.CharField()
    file = serializers.FileField()
    description = serializers.CharField(required=False, allow_blank=True, max_length=NOTE_MAX_CHARS)
    red = serializers.FloatField(required=False, default=0.05, min_value=0.001, max_value=1)
    orange = serializers.FloatField(required=False, default=0.15, min_value=0.001, max_value=1)
    green = serializers.FloatField(required=False, default=0.40, min_value=0.001, max_value=1)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if not data["red"] < data["orange"] < data["green"]:
            raise serializers.ValidationError("The shares must grow from red to orange to green.")
        if not Sector.objects.filter(pk=data["sector"]).exists():
            raise serializers.ValidationError({"sector": ["No such sector."]})
        if not OffenceType.objects.filter(pk=data["offence"]).exists():
            raise serializers.ValidationError({"offence": ["No such offence type."]})
        if data["file"].size > MAX_UPLOAD_BYTES:
            raise serializers.ValidationError({"file": [f"The file is larger than {MAX_UPLOAD_BYTES // 2**20} MB."]})
        return data


@extend_schema(
    request={"multipart/form-data": UploadRequest},
    responses=inline_serializer("Upload", {"upload": serializers.IntegerField(), "status": serializers.CharField()}),
)
@api_view(["POST"])
@parser_classes([MultiPartParser])
@permission_classes([IsAuthenticated, ModelsPermission])
def model_upload(request: Request) -> Response:
    """Send a model file: a worker checks it and stores it as a candidate (GET the upload's
    page, /models/uploads/<id>/, or list the versions, to follow it)."""
    given = UploadRequest(data=request.data)
    if not given.is_valid():
        return Response({"errors": given.errors}, status=400)
    data = given.validated_data
    try:
        upload = model_upload_create(
            sector=data["sector"],
            offence=data["offence"],
            data=data["file"].read(),
            file_name=data["file"].name,
            user=request.user,
            description=data.get("description", ""),
            band_cutoffs={name: data[name] for name in ("red", "orange", "green")},
        )
    except ArtifactRefused as exc:
        return Response({"errors": {"file": [str(exc)]}}, status=400)
    except QUEUE_ERRORS:
        return Response({"errors": {"__all__": ["The task queue cannot be reached: nothing was queued."]}}, status=503)
    return Response({"upload": upload.pk, "status": upload.status}, status=202)


# --- Data imports --------------------------------------------------------------------------------


class ImportsPermission(BasePermission):
    """Everyone who sees the import history reads it; those who may send files send them."""

    def has_permission(self, request: Request, view: Any) -> bool:
        needed = "inspections.view_dataimport" if request.method == "GET" else "inspections.add_dataimport"
        return bool(request.user and request.user.has_perm(needed))


class ImportRow(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    file_name = serializers.CharField(source="original_name")
    file_size = serializers.IntegerField()
    file_sha256 = serializers.CharField()
    status = serializers.CharField()
    sent_by = serializers.CharField(source="created_by", allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    rows_read = serializers.IntegerField()
    rows_created = serializers.IntegerField()
    rows_updated = serializers.IntegerField()
    rows_unchanged = serializers.IntegerField()
    error_count = serializers.IntegerField()
    message = serializers.CharField()


class ImportShown(ImportRow):
    errors = serializers.ListField(child=serializers.DictField(), help_text="the first problems: line, column, reason")
    progress = serializers.SerializerMethodField()

    def get_progress(self, data_import: DataImport) -> dict[str, Any]:
        progress = import_selectors.data_import_progress(data_import=data_import)
        return {"phase": progress.phase, "done": progress.done, "total": progress.total}


class ImportRequest(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DataImport.Kind.choices)
    file = serializers.FileField()


@extend_schema(methods=["GET"], responses=ImportRow(many=True))
@extend_schema(
    methods=["POST"],
    request={"multipart/form-data": ImportRequest},
    responses=inline_serializer("ImportSent", {"id": serializers.IntegerField(), "status": serializers.CharField()}),
)
@api_view(["GET", "POST"])
@parser_classes([MultiPartParser])
@permission_classes([IsAuthenticated, ImportsPermission])
def data_imports(request: Request) -> Response:
    """GET: the latest 50 imports. POST: send a CSV or XLSX file (202); a worker imports it, all
    of it or none; GET /api/imports/<id>/ follows it."""
    if request.method == "GET":
        return Response(ImportRow(import_selectors.data_imports_listed()[:50], many=True).data)
    given = ImportRequest(data=request.data)
    if not given.is_valid():
        return Response({"errors": given.errors}, status=400)
    try:
        sent = data_upload_create(
            kind=given.validated_data["kind"], upload=given.validated_data["file"], user=request.user
        )
    except UploadRefused as exc:
        return Response({"errors": {"file": [str(exc)]}}, status=400)
    except QUEUE_ERRORS:
        return Response({"errors": {"__all__": ["The task queue cannot be reached: nothing was stored."]}}, status=503)
    return Response({"id": sent.pk, "status": sent.status}, status=202)


@extend_schema(responses=ImportShown)
@api_view(["GET"])
@permission_classes([IsAuthenticated, ImportsPermission])
def data_import(request: Request, pk: int) -> Response:
    """One import: its status, progress while it runs, counts, and the first problems of a refused file."""
    data_imports_abandoned_fail()
    return Response(ImportShown(get_object_or_404(DataImport.objects.select_related("created_by"), pk=pk)).data)
