"""Quarterly declarations: workforce, hours, wages, lay-offs and debt per employer and quarter."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inspections.models import Declaration

from .population import _Employers
from .profiles import (
    BSE,
    DAYS_PER_QUARTER,
    FULL_TIME_HOURS_PER_QUARTER,
    UW,
    WORKDAYS_PER_QUARTER,
    SectorProfile,
)
from .reference import _Reference, _Window
from .writing import _Column, _copy, _fixed_width_text


@dataclass
class _Declarations:
    """(n employers, q quarters) arrays; `active` says which cells are declared."""

    active: np.ndarray
    headcount: np.ndarray
    fte: np.ndarray
    part_time_share: np.ndarray
    hours: np.ndarray
    wages: np.ndarray
    tu_days: np.ndarray
    hires: np.ndarray
    exits: np.ndarray
    short: np.ndarray
    posted: np.ndarray
    debt: np.ndarray


def _declarations_draw(
    rng: np.random.Generator, employers: _Employers, window: _Window, ref: _Reference
) -> _Declarations:
    """Quarterly declarations for every quarter in which the employer is active."""
    profiles = ref.profiles
    quarter_end = window.quarters + np.timedelta64(DAYS_PER_QUARTER - 1, "D")
    active = (employers.start[:, None] <= quarter_end) & (employers.end[:, None] > window.quarters)
    tu_rate = _tu_rate(rng, employers, window, profiles)
    headcount, hires, exits = _workforce_paths(rng, employers, window, profiles, active, tu_rate)
    part_timers, fte = _part_time(rng, employers, profiles, headcount, hires, exits)
    tu_days = np.minimum(rng.poisson(tu_rate * headcount), headcount * WORKDAYS_PER_QUARTER * 0.8).astype(np.int64)
    hours, wages = _hours_and_wages(rng, employers, profiles, headcount, fte, tu_days)
    return _Declarations(
        active=active,
        headcount=headcount,
        fte=fte,
        part_time_share=part_timers / np.maximum(headcount, 1),
        hours=hours,
        wages=wages,
        tu_days=tu_days,
        hires=hires,
        exits=exits,
        short=_short_contracts(rng, employers, profiles, hires),
        posted=_posted_workers(rng, employers, profiles, headcount),
        debt=_social_security_debt(rng, employers, wages),
    )


def _tu_rate(
    rng: np.random.Generator, employers: _Employers, window: _Window, profiles: list[SectorProfile]
) -> np.ndarray:
    """Expected days of temporary unemployment per worker and quarter."""
    n, q = employers.sector.size, window.quarters.size
    seasonal = np.array([p.tu_days for p in profiles])[employers.sector][:, window.quarter_of_year]
    # Some firms follow the weather, others lay off in any season when work runs short.
    weather = rng.random((n, 1))
    seasonal = weather * seasonal + (1 - weather) * seasonal.mean(axis=1, keepdims=True)
    users = rng.random(n) < np.array([p.tu_users for p in profiles])[employers.sector]
    # Users lay off more or less each year as their order books fill or empty.
    drift = np.exp(rng.normal(0.0, 0.08, size=n)[:, None] * np.arange(q))
    rate = seasonal * (users * rng.lognormal(0.0, 0.7, size=n))[:, None] * drift
    # Legitimate firms in difficulty lay workers off in every season, often more and more.
    drift = np.exp(rng.normal(0.03, 0.08, size=n)[:, None] * np.arange(q))
    rate = rate + employers.struggling[:, None] * rng.uniform(1.5, 6.0, size=(n, 1)) * drift
    # Lay-off fraud: days in every season, rising over the window.
    steady = 0.8 * employers.symptom["layoff_days"][:, None]
    return rate + steady + 0.12 * employers.symptom["rising_layoffs"][:, None] * np.arange(q)


def _workforce_paths(
    rng: np.random.Generator,
    employers: _Employers,
    window: _Window,
    profiles: list[SectorProfile],
    active: np.ndarray,
    tu_rate: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Headcount, hires and exits, consistent quarter on quarter (end = start + hires - exits)."""
    n, q = active.shape
    target = _headcount_targets(rng, employers, window, profiles)
    churn = _churn_rates(rng, employers, profiles)
    # Legitimate firms stop hiring while their workers are laid off; lay-off fraudsters do not.
    hiring = np.exp(-0.2 * tu_rate * (employers.symptom["hiring_on"] == 0)[:, None])
    extra_exits = 0.07 * employers.symptom["exits"]
    headcount, hires, exits = (np.zeros((n, q), dtype=np.int64) for _ in range(3))
    previous = np.where(active[:, 0], np.maximum(1, np.round(target[:, 0])), 0).astype(np.int64)
    for t in range(q):
        gap = target[:, t] - previous
        hire = rng.poisson(churn * previous * hiring[:, t] + np.maximum(gap, 0))
        leave = rng.poisson((churn + extra_exits) * previous + np.maximum(-gap, 0))
        leave = np.minimum(leave, previous + hire - 1).clip(0)
        hire = np.maximum(hire, leave - previous + 1)  # an active employer keeps at least one worker
        current = previous + hire - leave
        headcount[:, t], hires[:, t], exits[:, t] = current, hire, leave
        previous = np.where(active[:, t], current, previous)
    return headcount * active, hires * active, exits * active


def _headcount_targets(
    rng: np.random.Generator, employers: _Employers, window: _Window, profiles: list[SectorProfile]
) -> np.ndarray:
    n, q = employers.sector.size, window.quarters.size
    season = np.array([p.season for p in profiles])[employers.sector][:, window.quarter_of_year]
    growth = rng.normal(0.005, 0.02, size=n)
    # Firms in difficulty shrink; bogus self-employment turns employees into "contractors".
    growth = growth - 0.03 * employers.struggling
    growth = growth - 0.045 * employers.symptom["shrinking"]
    trend = np.exp(growth[:, None] * (np.arange(q) - (q - 1) / 2))
    noise = rng.lognormal(0.0, 0.05, size=(n, q))
    return employers.size[:, None] * trend * season * noise


def _churn_rates(rng: np.random.Generator, employers: _Employers, profiles: list[SectorProfile]) -> np.ndarray:
    """Hires (and exits) per worker and quarter; undeclared work shows up as workers in and out."""
    base = np.array([p.churn for p in profiles])[employers.sector] * rng.lognormal(0.0, 0.45, employers.sector.size)
    return base * np.where(employers.flexible, 2.0, 1.0) * (1 + 0.5 * employers.symptom["high_churn"])


def _part_time(
    rng: np.random.Generator,
    employers: _Employers,
    profiles: list[SectorProfile],
    headcount: np.ndarray,
    hires: np.ndarray,
    exits: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Part-timers and FTE (never above headcount)."""
    n = employers.sector.size
    mean_share = np.array([p.part_time_share for p in profiles])[employers.sector]
    share = rng.beta(6 * mean_share + 0.2, 6 * (1 - mean_share) + 0.2)
    # Part-time abuse: more workers on part-time contracts, each declared for fewer hours.
    share = share + (1 - share) * 0.25 * employers.symptom["part_time_share"]
    fraction = np.array([p.part_time_hours for p in profiles])[employers.sector] + rng.normal(0, 0.08, n)
    # Some legitimate firms do run on short part-time contracts (office cleaning at dawn).
    mini_jobs = (rng.random(n) < 0.10) & (mean_share > 0.3)
    fraction = np.where(mini_jobs, rng.uniform(0.25, 0.4, n), fraction) * (
        1 - 0.25 * employers.symptom["part_time_hours"]
    )
    fraction = fraction.clip(0.15, 0.9)[:, None]
    part_timers = rng.binomial(headcount, share[:, None])
    # Workers who came or left during the quarter were not there for all of it.
    presence = 1 - 0.25 * (hires + exits) / np.maximum(headcount + exits, 1)
    fte = (headcount - part_timers + part_timers * fraction) * presence.clip(0.6, 1.0)
    return part_timers, np.minimum(np.round(fte, 2), headcount)


def _hours_and_wages(
    rng: np.random.Generator,
    employers: _Employers,
    profiles: list[SectorProfile],
    headcount: np.ndarray,
    fte: np.ndarray,
    tu_days: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Declared hours follow FTE, less lay-off days; wages follow hours at the firm's rate."""
    n, q = headcount.shape
    short_hours = 1 - 0.03 * employers.symptom["short_hours"]
    per_fte = FULL_TIME_HOURS_PER_QUARTER * rng.normal(1.0, 0.03, n) * short_hours
    laid_off = np.minimum(tu_days / np.maximum(headcount * WORKDAYS_PER_QUARTER, 1), 0.9)
    hours = np.round(fte * per_fte[:, None] * (1 - laid_off) * rng.normal(1.0, 0.02, (n, q))).clip(0)
    wage = np.array([p.hourly_wage for p in profiles])[employers.sector] * rng.lognormal(0.0, 0.11, n)
    # Larger firms pay a little more; undeclared work hides behind minimum declared pay.
    wage = wage * (1 + 0.03 * np.log1p(employers.size)) * (1 - 0.07 * employers.symptom["low_pay"])
    wages = np.round(hours * wage[:, None] * rng.normal(1.0, 0.02, (n, q)), 2).clip(0)
    return hours.astype(np.int64), wages


def _short_contracts(
    rng: np.random.Generator, employers: _Employers, profiles: list[SectorProfile], hires: np.ndarray
) -> np.ndarray:
    base = np.array([p.short_share for p in profiles])[employers.sector] * rng.lognormal(0, 0.4, hires.shape[0])
    share = base + 0.15 * employers.flexible + 0.12 * employers.symptom["short_contracts"]
    return rng.binomial(hires, share.clip(0, 0.95)[:, None])


def _posted_workers(
    rng: np.random.Generator, employers: _Employers, profiles: list[SectorProfile], headcount: np.ndarray
) -> np.ndarray:
    """Posted foreign workers on site: subcontracting chains, more common with bogus self-employment."""
    bogus = employers.symptom["posted_workers"]
    p_user = np.array([p.posted_users for p in profiles])[employers.sector] + 0.15 * bogus
    users = rng.random(headcount.shape[0]) < p_user
    level = 0.3 * rng.lognormal(0.0, 0.5, headcount.shape[0]) * (1 + 0.5 * bogus)
    return rng.poisson((users * level)[:, None] * np.maximum(headcount, 1)) * (headcount > 0)


def _social_security_debt(rng: np.random.Generator, employers: _Employers, wages: np.ndarray) -> np.ndarray:
    """Unpaid contributions: a few firms, many of those in difficulty, somewhat more among fraudsters."""
    n, q = wages.shape
    p_debt = 0.10 + 0.45 * employers.struggling + 0.10 * (employers.fraud[:, UW] | employers.fraud[:, BSE])
    debtor = rng.random(n) < p_debt
    level = debtor * rng.lognormal(np.log(0.15), 0.9, n) * wages.mean(axis=1)
    growth = rng.normal(0.02, 0.05, n) + 0.08 * employers.struggling
    debt = level[:, None] * np.exp(growth[:, None] * np.arange(q)) * rng.lognormal(0, 0.1, (n, q))
    return np.round(debt, 2) * (wages > 0)


def _declarations_copy(ids: np.ndarray, d: _Declarations, quarters: np.ndarray) -> int:
    """COPY the active cells as fixed-width text (fast to build; PostgreSQL reads the zeros fine)."""
    rows, cols = np.nonzero(d.active)
    columns = {
        "employer": _Column(ids[rows]),
        "quarter": _Column(quarters[cols]),
        "headcount": _Column(d.headcount[rows, cols]),
        "fte": _Column(np.round(d.fte[rows, cols] * 100), 2),
        "part_time_share": _Column(np.round(d.part_time_share[rows, cols] * 1000), 3),
        "declared_hours": _Column(d.hours[rows, cols]),
        "gross_wages": _Column(np.round(d.wages[rows, cols] * 100), 2),
        "temporary_unemployment_days": _Column(d.tu_days[rows, cols]),
        "hires": _Column(d.hires[rows, cols]),
        "exits": _Column(d.exits[rows, cols]),
        "short_contracts": _Column(d.short[rows, cols]),
        "posted_workers": _Column(d.posted[rows, cols]),
        "social_security_debt": _Column(np.round(d.debt[rows, cols] * 100), 2),
    }
    _copy(Declaration, list(columns), _fixed_width_text(list(columns.values())), csv=False)
    return int(rows.size)
