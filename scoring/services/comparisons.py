"""Two versions of a pair side by side, on the same data: the same validation inspections
and the same sample of the sector's employers, as of one day.

Each version's stored figures were computed on the validation year of its own day; an
upload made a month after a retrain was judged on other inspections. Only figures on the
same rows compare: the same file compared with itself gives the same figures twice.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from inspections.models import Employer
from miningwatch.queueing import task_send_on_commit
from scoring.models import ComparisonStatus, ModelComparison, ModelVersion

from .artifact_checks import artifact_check, sector_sample
from .artifacts import Artifact, ArtifactRefused
from .training import TrainingRefused, TrainingSet, scores_of, training_set_build, validation_metrics
from .versions import VersionRefused

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger("scoring.comparisons")

LISTED_MAX = 25  # employers entering or leaving the red band, named on the page
HISTOGRAM_BINS = 20


def comparison_request(
    *, first: ModelVersion, second: ModelVersion, user: AbstractBaseUser, queue: str | None = None
) -> ModelComparison:
    """The comparison of two versions on today's data: the one already asked for today, or
    a new one queued for a worker."""
    if not user.has_perm("scoring.approve_modelversion"):
        raise PermissionDenied
    if (first.sector_id, first.offence_type_id) != (second.sector_id, second.offence_type_id):
        raise VersionRefused("Compare two versions of the same sector and offence type.")
    if first.pk == second.pk:
        raise VersionRefused("Choose two different versions.")
    as_of = timezone.localdate()
    found = ModelComparison.objects.filter(first=first, second=second, as_of=as_of).first()
    if found is not None and found.status != ComparisonStatus.FAILED:
        return found
    try:
        with transaction.atomic():
            comparison = found or ModelComparison.objects.create(
                first=first, second=second, as_of=as_of, requested_by=user
            )
            if found is not None:  # a failed one is tried again
                ModelComparison.objects.filter(pk=found.pk).update(status=ComparisonStatus.QUEUED, message="")
    except IntegrityError:  # the same comparison asked for at the same moment
        return ModelComparison.objects.get(first=first, second=second, as_of=as_of)
    from scoring.tasks import versions_compare

    task_send_on_commit(
        versions_compare,
        args=[comparison.pk],
        queue=queue,
        unsent=lambda: ModelComparison.objects.filter(pk=comparison.pk).update(
            status=ComparisonStatus.FAILED, message="The task queue could not be reached."
        ),
    )
    return comparison


def comparison_execute(*, comparison_id: int) -> ModelComparison:
    """Compute a queued comparison. Safe to run twice: claimed by a conditional update."""
    claimed = ModelComparison.objects.filter(pk=comparison_id, status=ComparisonStatus.QUEUED).update(
        status=ComparisonStatus.RUNNING
    )
    comparison = ModelComparison.objects.select_related("first", "second").get(pk=comparison_id)
    if not claimed:
        return comparison
    try:
        result = versions_compare(first=comparison.first, second=comparison.second, as_of=comparison.as_of)
    except (ArtifactRefused, TrainingRefused, ValueError) as exc:
        comparison.status, comparison.message = ComparisonStatus.FAILED, str(exc)
    else:
        comparison.status, comparison.result = ComparisonStatus.DONE, result
    comparison.save(update_fields=["status", "message", "result"])
    return comparison


def versions_compare(*, first: ModelVersion, second: ModelVersion, as_of: date) -> dict:
    """Both versions' figures on the validation inspections as of `as_of`, the shift of their
    scores and the overlap of their red bands on the sector's sample (JSON)."""
    data = training_set_build(sector=first.sector_id, offence=first.offence_type_id, as_of=as_of)
    sample = sector_sample(sector=first.sector_id, as_of=as_of)
    artifacts = [artifact_check(data=bytes(version.artifact), sample=sample) for version in (first, second)]
    figures = {
        str(version.pk): validation_metrics(artifact=artifact, data=data, cutoffs=version.cutoffs)
        for version, artifact in zip((first, second), artifacts, strict=True)
    }
    return {
        "as_of": as_of.isoformat(),
        "validation_rows": len(data.validation),
        "figures": figures,
        **_population_compare(data, artifacts, red_share=first.cutoffs["red"]),
    }


def _population_compare(data: TrainingSet, artifacts: list[Artifact], *, red_share: float) -> dict:
    """On the sector's sample: the two score distributions, and who is red for one and not the other.

    `data.population()` columns: employer_id and the features."""
    population = data.population()
    ids = population["employer_id"].to_numpy()
    scores = [scores_of(artifact, population) for artifact in artifacts]
    # The red band of each as the lists would draw it: the top share of the sample.
    red = [set(ids[score >= float(np.quantile(score, 1 - red_share))].tolist()) for score in scores]
    union = red[0] | red[1]
    edges = np.linspace(0, 1, HISTOGRAM_BINS + 1)
    return {
        "population": len(ids),
        "quantiles": {
            str(share): [float(np.quantile(score, share)) for score in scores] for share in (0.5, 0.9, 0.95, 0.99)
        },
        "histograms": [np.histogram(score, bins=edges)[0].tolist() for score in scores],
        "red_jaccard": len(red[0] & red[1]) / len(union) if union else None,
        "red_sizes": [len(red[0]), len(red[1])],
        "entering": _employer_numbers(sorted(red[1] - red[0])),
        "leaving": _employer_numbers(sorted(red[0] - red[1])),
        "entering_count": len(red[1] - red[0]),
        "leaving_count": len(red[0] - red[1]),
    }


def _employer_numbers(employer_ids: list[int]) -> list[str]:
    chosen = employer_ids[:LISTED_MAX]
    numbers = dict(Employer.objects.filter(pk__in=chosen).values_list("pk", "enterprise_number"))
    return [numbers[pk] for pk in chosen if pk in numbers]
