"""Thin views: read through selectors, write through services."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from inspections.selectors import employer_counts_by_sector_region


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    counts = employer_counts_by_sector_region(user=request.user)
    return render(request, "inspections/home.html", {"counts": counts})


@login_not_required
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """For load balancers and docker-compose: is the database reachable?"""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
