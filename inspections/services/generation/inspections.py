"""Past inspections of every origin and their findings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from inspections.models import Finding, Inspection, InspectionOrigin, InspectionStatus

from .population import _Population
from .profiles import (
    _STREAM_INSPECTIONS,
    CANCELLED_SHARE,
    DETECTION_BASE,
    DETECTION_MAX,
    DETECTION_PER_INTENSITY,
    FALSE_FINDING_RATE,
    OFFENCES,
    OFFENCES_CHECKED_P,
    ORIGIN_OFFENCE_PULL,
    ORIGIN_SHARES,
    PLANNED_WINDOW_DAYS,
    RECOVERED_PER_WORKER,
    SECTOR_PROFILES,
)
from .reference import _Reference, _Window
from .writing import _copy, _ids_reserve

ORIGINS = list(ORIGIN_SHARES)
# Per origin: weight of an employer without any offence, and how much size attracts attention.
_ORIGIN_BASE = np.array([0.3, 0.3, 0.3, 0.0, 0.5, 1.0])
_ORIGIN_SIZE_POWER = np.array([0.3, 0.3, 0.3, 0.0, 0.2, 0.0])


@dataclass(frozen=True)
class _Inspections:
    employer: np.ndarray  # index into the population
    origin: np.ndarray  # index into ORIGINS
    day: np.ndarray  # datetime64[D]: when the visit happened or was due


def _inspections_write(
    population: _Population, seed: int, ref: _Reference, window: _Window, rate: float
) -> dict[str, object]:
    """Draw past inspections and what they found, COPY both, and count the outcome."""
    rng = np.random.default_rng([seed, _STREAM_INSPECTIONS])
    drawn = _inspections_draw(rng, population, window, rate)
    status = _statuses_draw(rng, drawn, window)
    completed = status == InspectionStatus.COMPLETED
    ids = _ids_reserve(Inspection, drawn.day.size)
    _inspections_copy(rng, ids, population, drawn, status, window)
    checked = _offences_checked(rng, population, drawn) & completed[:, None]
    found = _findings_copy(rng, ids, population, drawn, checked)
    random_controls = completed & (drawn.origin == ORIGINS.index(InspectionOrigin.RANDOM_CONTROL))
    return {
        "inspections": int(drawn.day.size),
        "inspections_by_origin": {str(o): int(np.sum(drawn.origin == i)) for i, o in enumerate(ORIGINS)},
        "findings": int(checked.sum()),
        "offences_found": int(found.sum()),
        "random_controls": int(random_controls.sum()),
        "random_control_hits": int(found[random_controls].any(axis=1).sum()),
    }


def _inspections_draw(rng: np.random.Generator, pop: _Population, window: _Window, rate: float) -> _Inspections:
    """Per quarter of the window, inspections of each origin among the employers active then."""
    ranked = _ranked_list_weights(rng, pop)
    months = np.arange(window.inspections_from.astype("datetime64[M]"), window.as_of.astype("datetime64[M]"), 3)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for first in months.astype("datetime64[D]"):
        after = (first.astype("datetime64[M]") + 3).astype("datetime64[D]")
        active = np.flatnonzero((pop.start < after) & (pop.end > first))
        # Complaints and reports point at what an employer does in that quarter: a fraud
        # that starts later draws no attention yet.
        weights = _origin_weights(pop, active, first + np.timedelta64(45, "D"), ranked[active])
        for o, share in enumerate(ORIGIN_SHARES.values()):
            count = rng.poisson(rate / 4 * active.size * share)
            if not count:
                continue
            w = weights[:, o]
            chosen = rng.choice(active, size=count, p=w / w.sum())
            parts.append((chosen, np.full(count, o), _days_within(rng, pop, chosen, first, after)))
    if not parts:
        empty = np.array([], dtype=np.int64)
        return _Inspections(empty, empty, np.array([], dtype="datetime64[D]"))
    employer, origin, day = (np.concatenate(column) for column in zip(*parts, strict=True))
    return _Inspections(employer, origin, day)


def _ranked_list_weights(rng: np.random.Generator, pop: _Population) -> np.ndarray:
    """Ranked lists came from an earlier, imperfect model: a noisy view of the latent propensity."""
    noisy = pop.logit.max(axis=1) + rng.normal(0.0, 0.8, size=pop.size.size)
    return np.exp(0.9 * (noisy - noisy.max()))


def _origin_weights(pop: _Population, active: np.ndarray, day: np.datetime64, ranked: np.ndarray) -> np.ndarray:
    """(active, origins) selection weights: imposed origins lean toward employers committing offences."""
    severity = pop.committing(day, active) * pop.intensity[active]
    pull = np.array([ORIGIN_OFFENCE_PULL[o] for o in ORIGINS])  # (origins, offences)
    size = np.power.outer(pop.size[active].astype(float), _ORIGIN_SIZE_POWER)
    weights = size * (_ORIGIN_BASE + severity @ pull.T)
    weights[:, ORIGINS.index(InspectionOrigin.RANKED_LIST)] = ranked
    weights[:, ORIGINS.index(InspectionOrigin.RANDOM_CONTROL)] = 1.0  # uniform: the unbiased baseline
    return weights


def _days_within(
    rng: np.random.Generator, pop: _Population, chosen: np.ndarray, first: np.datetime64, after: np.datetime64
) -> np.ndarray:
    """A day in [first, after) on which the chosen employer is active."""
    low = np.maximum(pop.start[chosen], first)
    high = np.minimum(pop.end[chosen], after)
    span = (high - low).astype(np.int64)
    return low + np.floor(rng.random(chosen.size) * span).astype("timedelta64[D]")


def _statuses_draw(rng: np.random.Generator, drawn: _Inspections, window: _Window) -> np.ndarray:
    """Completed, except a few cancelled ones and about half of those due in the last weeks."""
    n = drawn.day.size
    status = np.full(n, InspectionStatus.COMPLETED.value, dtype=object)
    recent = drawn.day >= window.as_of - np.timedelta64(PLANNED_WINDOW_DAYS, "D")
    status[recent & (rng.random(n) < 0.5)] = InspectionStatus.PLANNED.value
    status[rng.random(n) < CANCELLED_SHARE] = InspectionStatus.CANCELLED.value
    return status


def _inspections_copy(
    rng: np.random.Generator,
    ids: np.ndarray,
    pop: _Population,
    drawn: _Inspections,
    status: np.ndarray,
    window: _Window,
) -> None:
    completed = status == InspectionStatus.COMPLETED
    planned = status == InspectionStatus.PLANNED
    # Completed visits were planned up to three weeks ahead; open ones are due after the window.
    lead = rng.integers(0, 22, size=drawn.day.size).astype("timedelta64[D]")
    planned_day = np.where(completed, drawn.day - lead, drawn.day)
    planned_day = np.where(planned, drawn.day + np.timedelta64(PLANNED_WINDOW_DAYS, "D"), planned_day)
    created = planned_day - np.timedelta64(7, "D")
    frame = pd.DataFrame(
        {
            "id": ids,
            "reference": _references_make(np.where(completed, drawn.day, planned_day)),
            "employer": pop.ids[drawn.employer],
            "origin": np.array([str(o) for o in ORIGINS])[drawn.origin],
            "status": status,
            "planned_date": np.datetime_as_string(planned_day),
            "visit_date": np.where(completed, np.datetime_as_string(drawn.day), ""),
            "created_at": np.char.add(np.datetime_as_string(created), " 08:00:00+00"),
        }
    )
    _copy(Inspection, list(frame.columns), frame.to_csv(header=False, index=False), csv=True)


def _references_make(day: np.ndarray) -> np.ndarray:
    """Case references like INS-2024-000123, numbered by date within each year."""
    order = np.argsort(day, kind="stable")
    year = day[order].astype("datetime64[Y]").astype(np.int64) + 1970
    first_of_year = np.searchsorted(year, year, side="left")
    number = np.arange(year.size) - first_of_year + 1
    labels = np.empty(day.size, dtype=object)
    labels[order] = [f"INS-{y}-{k:06d}" for y, k in zip(year.tolist(), number.tolist(), strict=True)]
    return labels


def _offences_checked(rng: np.random.Generator, pop: _Population, drawn: _Inspections) -> np.ndarray:
    """(inspections, offences) bool: 1-4 offence types each, the first one what prompted the visit."""
    n = drawn.day.size
    relevance = np.array([p.check_weight for p in SECTOR_PROFILES.values()])[pop.sector[drawn.employer]]
    pull = np.array([ORIGIN_OFFENCE_PULL[o] for o in ORIGINS])[drawn.origin]
    # A complaint or request usually names an offence the employer does commit.
    prompt = relevance * (0.2 + 4.0 * pull * pop.committing(drawn.day, drawn.employer))
    first = np.argmax(np.log(prompt) + rng.gumbel(size=prompt.shape), axis=1)
    keys = np.log(relevance) + rng.gumbel(size=relevance.shape)
    keys[np.arange(n), first] = np.inf
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    count = rng.choice(len(OFFENCES_CHECKED_P), size=n, p=OFFENCES_CHECKED_P) + 1
    return rank < count[:, None]


def _findings_copy(
    rng: np.random.Generator, ids: np.ndarray, pop: _Population, drawn: _Inspections, checked: np.ndarray
) -> np.ndarray:
    """One Finding per offence checked; returns the (inspections, offences) found matrix."""
    fraud, intensity = pop.committing(drawn.day, drawn.employer), pop.intensity[drawn.employer]
    # Inspectors miss some fraud, heavier fraud is easier to prove, and an occasional
    # offence turns up anywhere (including before a fraud has started).
    detect = DETECTION_BASE + DETECTION_PER_INTENSITY * intensity
    detect = np.where(fraud, np.minimum(detect, DETECTION_MAX), FALSE_FINDING_RATE)
    found = checked & (rng.random(checked.shape) < detect)
    size = pop.size[drawn.employer][:, None]
    workers = (1 + rng.poisson(np.array([0.15, 0.2, 0.1, 0.25]) * size * intensity)) * found
    amount = workers * RECOVERED_PER_WORKER * rng.lognormal(0.0, 0.7, size=checked.shape)
    rows, offence = np.nonzero(checked)
    frame = pd.DataFrame(
        {
            "inspection": ids[rows],
            "offence_type": np.array(OFFENCES)[offence],
            "found": np.where(found[rows, offence], "t", "f"),
            "workers_regularised": workers[rows, offence],
            "contributions_recovered": np.round(amount[rows, offence], 2),
        }
    )
    _copy(Finding, list(frame.columns), frame.to_csv(header=False, index=False), csv=True)
    return found
