"""Data imports from the app: send a file, follow its import, read or download its problems.

Analysts, the task force and administrators upload; a worker imports (inspections.services
.data_imports). The pages only read the record and the progress its worker tells.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inspections import selectors
from inspections.models import DataImport
from inspections.services.data_imports import (
    UploadRefused,
    data_import_retry,
    data_imports_abandoned_fail,
    data_upload_create,
    rescore_asked,
    rescore_asked_mark,
)
from miningwatch.queueing import QUEUE_ERRORS
from miningwatch.uploads import body_limit_bytes
from scoring.selectors import rescore_since
from scoring.services.nightly import rescore_request
from workspace.forms import DataUploadForm

HISTORY_ROWS = 50
QUEUE_DOWN = gettext_lazy("The task queue cannot be reached: nothing was stored or queued. Try again later.")


@require_http_methods(["GET", "POST"])
@permission_required("inspections.view_dataimport", raise_exception=True)
def data_imports(request: HttpRequest) -> HttpResponse:
    """The upload form and the history of imports."""
    form = DataUploadForm()
    if request.method == "POST":
        form, sent = _upload(request)
        if sent is not None:
            return redirect("workspace:data_import", pk=sent.pk)
    data_imports_abandoned_fail()
    context = {
        "form": form,
        "history": selectors.data_imports_listed()[:HISTORY_ROWS],
        "max_mb": settings.IMPORT_UPLOAD_MAX_MB,
    }
    return render(request, "workspace/data_imports.html", context, status=400 if form.errors else 200)


def _upload(request: HttpRequest) -> tuple[DataUploadForm, DataImport | None]:
    """The form, and the import once the file is queued (else the form says why not)."""
    if not request.user.has_perm("inspections.add_dataimport"):
        raise PermissionDenied
    limit = settings.IMPORT_UPLOAD_MAX_MB
    if _body_bytes(request) > body_limit_bytes():
        # Its body was left unread (miningwatch.uploads): say why the file is missing.
        form = DataUploadForm()
        form.cleaned_data = {}  # an unbound form takes an error once it has (empty) cleaned data
        form.add_error("file", _("The file is larger than %(limit)d MB.") % {"limit": limit})
        return form, None
    form = DataUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return form, None
    try:
        sent = data_upload_create(kind=form.cleaned_data["kind"], upload=form.cleaned_data["file"], user=request.user)
    except UploadRefused as exc:
        form.add_error("file", str(exc))
    except QUEUE_ERRORS:
        form.add_error(None, QUEUE_DOWN)
    else:
        return form, sent
    return form, None


def _body_bytes(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


@require_GET
@permission_required("inspections.view_dataimport", raise_exception=True)
def data_import(request: HttpRequest, pk: int) -> HttpResponse:
    """Where an import stands: its progress bar (polled by htmx), then its result."""
    data_imports_abandoned_fail()  # a running import whose worker is gone shows as failed
    shown = get_object_or_404(DataImport.objects.select_related("created_by", "retry_of"), pk=pk)
    context = {
        "data_import": shown,
        "progress": selectors.data_import_progress(data_import=shown),
        "rescore": rescore_since(shown.finished_at) if shown.status == DataImport.Status.SUCCEEDED else None,
        "rescore_asked": rescore_asked(shown.pk),
    }
    template = "workspace/_import_state.html" if request.htmx else "workspace/data_import.html"
    return render(request, template, context)


@require_GET
@permission_required("inspections.view_dataimport", raise_exception=True)
def data_import_report(request: HttpRequest, pk: int) -> FileResponse:
    """Every problem found, as CSV (line, column, reason), in the uploader's language."""
    shown = get_object_or_404(DataImport.objects.only("report_path"), pk=pk)
    path = Path(shown.report_path) if shown.report_path else None
    if path is None or path.parent != settings.IMPORT_UPLOAD_DIR.resolve() or not path.is_file():
        raise Http404("This import has no problem report.")
    # FileResponse closes the file once it is sent.
    return FileResponse(open(path, "rb"), as_attachment=True, filename=f"import-{pk}-problems.csv")


@require_POST
@permission_required("inspections.add_dataimport", raise_exception=True)
def data_import_again(request: HttpRequest, pk: int) -> HttpResponse:
    failed = get_object_or_404(DataImport, pk=pk)
    try:
        retry = data_import_retry(data_import=failed, user=request.user)
    except UploadRefused as exc:
        messages.error(request, str(exc))
        return redirect("workspace:data_import", pk=pk)
    except QUEUE_ERRORS:
        messages.error(request, QUEUE_DOWN)
        return redirect("workspace:data_import", pk=pk)
    return redirect("workspace:data_import", pk=retry.pk)


@require_POST
@permission_required("scoring.add_modelversion", raise_exception=True)
def data_import_rescore(request: HttpRequest, pk: int) -> HttpResponse:
    """Rescore every active model now, on the data the import brought (followed on the import's page)."""
    get_object_or_404(DataImport.objects.only("pk"), pk=pk, status=DataImport.Status.SUCCEEDED)
    try:
        rescore_request(user=request.user)
        rescore_asked_mark(pk)
    except QUEUE_ERRORS:
        messages.error(request, QUEUE_DOWN)
    else:
        messages.success(request, _("The rescore is queued: the lists change once it finishes."))
    return redirect("workspace:data_import", pk=pk)
