"""Thin views: read through selectors, write through services."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from inspections.selectors import employer_counts_by_sector_region
from scoring.models import Band
from workspace import selectors as workspace


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    context = {
        "counts": employer_counts_by_sector_region(user=request.user),
        "band_counts": workspace.band_counts_for_user(user=request.user),
        "targets": workspace.targets_of(user=request.user)[:5],
        "recent_notes": workspace.recent_notes_for(user=request.user),
        "bands": Band.values,
    }
    return render(request, "inspections/home.html", context)


@login_not_required
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """For load balancers and docker-compose: is the database reachable?"""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
