"""Reads for the model pages: the versions of a pair, their history, and what the lists show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from celery.result import AsyncResult
from celery.states import READY_STATES
from django.core.cache import cache
from django.db.models import Count, Q, QuerySet

from inspections.models import Employer, OffenceType, Sector
from scoring.features.registry import FEATURES
from scoring.models import ModelComparison, ModelEvent, ModelStatus, ModelVersion, RunStatus, ScoringRun
from scoring.services.evaluation import figure_text, gates_failed, strata_weighted
from scoring.services.versions import retrain_key

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.auth.models import AbstractBaseUser


@dataclass(frozen=True)
class PairSummary:
    sector: Sector
    offence: OffenceType
    active: ModelVersion | None
    waiting: int  # candidates and approved versions
    retrain: RetrainState | None = None


def pairs_overview() -> list[PairSummary]:
    """Every (sector, offence) with its active version and how many versions wait for a decision."""
    versions = ModelVersion.objects.defer("artifact")
    active = {(v.sector_id, v.offence_type_id): v for v in versions.filter(status=ModelStatus.ACTIVE)}
    waiting = {
        (row["sector_id"], row["offence_type_id"]): row["n"]
        for row in versions.values("sector_id", "offence_type_id")
        .annotate(n=Count("pk", filter=Q(status__in=[ModelStatus.CANDIDATE, ModelStatus.APPROVED])))
        .order_by()
    }
    pairs = [(sector, offence) for sector in Sector.objects.all() for offence in OffenceType.objects.all()]
    claims = cache.get_many([retrain_key(sector.pk, offence.pk) for sector, offence in pairs])  # one round trip
    return [
        PairSummary(
            sector,
            offence,
            active.get((sector.pk, offence.pk)),
            waiting.get((sector.pk, offence.pk), 0),
            _retrain_state(claims.get(retrain_key(sector.pk, offence.pk))),
        )
        for sector, offence in pairs
    ]


@dataclass(frozen=True)
class VersionShown:
    """A version with its figures in words, as the pair's page lists it."""

    version: ModelVersion
    roc_auc: str
    lift: str
    controls: str  # the counts the lift rests on
    gates: list[str]  # why it failed a gate (empty: it passed them all)


def pair_versions(*, sector: str, offence: str) -> list[VersionShown]:
    versions = (
        ModelVersion.objects.filter(sector_id=sector, offence_type_id=offence)
        .defer("artifact")
        .select_related("created_by")
        .order_by("-created_at", "-pk")
    )
    return [_shown(version) for version in versions]


def _shown(version: ModelVersion) -> VersionShown:
    metrics = version.metrics or {}
    controls = metrics.get("random_controls") or {}
    counts = (
        f"{controls.get('red_hits', 0)} of {controls.get('red_rows', 0)} random controls in the red band"
        f"{_strata_text(controls)}, "
        f"{controls.get('validation_hits', 0)} of {controls.get('validation_rows', 0)} in the validation year"
        if controls
        else "-"
    )
    return VersionShown(
        version, figure_text(metrics, "roc_auc"), figure_text(metrics, "lift"), counts, gates_failed(metrics)
    )


def _strata_text(controls: dict) -> str:
    """How the red band's rate was weighted (evaluation.red_lift), or why it was not."""
    if "published_earlier_share" not in controls:
        return ""
    earlier = f" ({controls['red_earlier_hits']} of {controls['red_earlier_rows']} with an earlier finding"
    if not strata_weighted(controls):
        return f"{earlier}: too few in one group to weight them)"
    return f"{earlier}, weighted to their {100 * controls['published_earlier_share']:.0f} % share of the red band)"


def pair_history(*, sector: str, offence: str) -> QuerySet[ModelEvent]:
    """Every step of the pair's versions, newest first: who made, approved, activated, retired what."""
    return (
        ModelEvent.objects.filter(version__sector_id=sector, version__offence_type_id=offence)
        .select_related("by", "version")
        .order_by("-at", "-pk")
    )


@dataclass(frozen=True)
class ListsState:
    """Which version the lists show, and the rescore that will change it, if one is under way."""

    shown: ScoringRun | None  # the published run
    pending: ScoringRun | None  # queued or running

    @property
    def behind(self) -> bool:
        return self.pending is not None


def lists_state(*, sector: str, offence: str) -> ListsState:
    runs = ScoringRun.objects.filter(sector_id=sector, offence_type_id=offence)
    shown = runs.published().first()
    pending = runs.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).order_by("-created_at").first()
    return ListsState(shown, pending)


@dataclass(frozen=True)
class ModelCard:
    """What a model card says about one version: its purpose, data, features in words,
    figures with intervals and counts, limits, and the people involved."""

    version: ModelVersion
    shown: VersionShown
    features: list[tuple[str, str, str]]  # label, what it is, what it may mean for the risk
    events: list[ModelEvent]
    band_hit_rates: list[tuple[str, dict]]


def model_card(*, version: ModelVersion) -> ModelCard:
    features = [
        (str(FEATURES[name].label), str(FEATURES[name].description), str(FEATURES[name].risk))
        for name in version.features
        if name in FEATURES
    ]
    rates = (version.metrics or {}).get("band_hit_rates") or {}
    ordered = [(band, rates[band]) for band in ("red", "orange", "green", "blue") if isinstance(rates.get(band), dict)]
    events = list(version.events.select_related("by").order_by("at", "pk"))
    return ModelCard(version, _shown(version), features, events, ordered)


@dataclass(frozen=True)
class RetrainState:
    """A retrain asked for from the model pages, as the worker reports it."""

    by: str
    at: str
    state: str  # Celery's: PENDING (queued), STARTED, SUCCESS, FAILURE
    result: dict | None

    @property
    def running(self) -> bool:
        return self.state not in READY_STATES


def retrain_state(*, sector: str, offence: str) -> RetrainState | None:
    return _retrain_state(cache.get(retrain_key(sector, offence)))


def _retrain_state(entry: dict | None) -> RetrainState | None:
    if not entry:
        return None
    task = AsyncResult(entry["task"])
    result = task.result if task.state == "SUCCESS" and isinstance(task.result, dict) else None
    return RetrainState(entry["by"], entry["at"], task.state, result)


BANDS = ("red", "orange", "green", "blue")
_COMPARED = (
    ("roc_auc", "ROC AUC"),
    ("average_precision", "Average precision"),
    ("precision_at_k", "Precision at capacity"),
    ("lift", "Lift of the red band (random controls)"),
    ("brier", "Brier score"),
)


@dataclass(frozen=True)
class ComparisonShown:
    comparison: ModelComparison
    figures: list[tuple[str, str, str]]  # name, first's figure, second's (with intervals)
    bands: list[tuple[str, str, str]]  # band, first's hit rate, second's
    chart: dict  # what the charts draw (static/js/comparison-chart.js)
    entering: list[str]  # enterprise numbers the user may see
    leaving: list[str]


def comparison_shown(*, comparison: ModelComparison, user: AbstractBaseUser) -> ComparisonShown:
    result = comparison.result or {}
    named = [*result.get("entering", []), *result.get("leaving", [])]
    visible = set(
        Employer.objects.visible_to(user)
        .filter(enterprise_number__in=named)
        .values_list("enterprise_number", flat=True)
    )
    first, second = (result.get("figures", {}).get(str(pk), {}) for pk in (comparison.first_id, comparison.second_id))
    figures = [(label, figure_text(first, name), figure_text(second, name)) for name, label in _COMPARED]
    bands = [(band, _band_rate(first, band), _band_rate(second, band)) for band in BANDS]
    chart = {
        "versions": [comparison.first_id, comparison.second_id],
        "reliability": [metrics.get("reliability", []) for metrics in (first, second)],
        "bands": [
            [(metrics.get("band_hit_rates", {}).get(band) or {}).get("rate") for band in BANDS]
            for metrics in (first, second)
        ],
        "histograms": result.get("histograms", []),
    }
    entering = [number for number in result.get("entering", []) if number in visible]
    leaving = [number for number in result.get("leaving", []) if number in visible]
    return ComparisonShown(comparison, figures, bands, chart, entering, leaving)


def _band_rate(metrics: dict, band: str) -> str:
    entry = (metrics.get("band_hit_rates") or {}).get(band) or {}
    if not entry.get("rows"):
        return "-"
    return f"{entry.get('hits', 0)} of {entry['rows']} ({100 * (entry.get('rate') or 0):.0f} %)"


@dataclass(frozen=True)
class RescoreState:
    """The scoring runs made since a moment (an import finished): how many, how far."""

    runs: int
    finished: int
    share: float  # mean progress of the runs

    @property
    def running(self) -> bool:
        return self.finished < self.runs


def rescore_since(when: datetime) -> RescoreState | None:
    """None when no run was made since `when`."""
    runs = list(ScoringRun.objects.filter(created_at__gte=when).values_list("status", "progress"))
    if not runs:
        return None
    finished = sum(status not in (RunStatus.QUEUED, RunStatus.RUNNING) for status, _progress in runs)
    share = sum(1.0 if status not in (RunStatus.QUEUED, RunStatus.RUNNING) else progress for status, progress in runs)
    return RescoreState(len(runs), finished, share / len(runs))
