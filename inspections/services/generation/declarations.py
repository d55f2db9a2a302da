"""Quarterly declarations: workforce, hours, wages, lay-offs and debt per employer and quarter.

Every honest firm has persistent habits of its own (pay, hours, part-time work, churn,
seasonality, lay-offs), and a fraudster's symptoms shift some of them a little, only in
the quarters in which it commits the offence (see profiles.SYMPTOMS).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inspections.models import Declaration

from .population import _Employers
from .profiles import (
    ALL_YEAR_SHARE,
    CHURN_SPREAD,
    CORE_PAYROLL_PAY,
    DAYS_PER_QUARTER,
    FULL_TIME_HOURS_PER_QUARTER,
    GROWTH_SPREAD,
    HOURS_SPREAD,
    PART_TIME_HOURS_SPREAD,
    QUARTER_NOISE,
    SEASON_SPREAD,
    SHORT_SPREAD,
    SYMPTOMS,
    WAGE_SPREAD,
    WORKDAYS_PER_QUARTER,
    SectorProfile,
)
from .reference import _Reference, _Window
from .writing import _Column, _copy, _fixed_width_text

_OFFENCE_OF = {name: k for symptoms in SYMPTOMS.values() for name, (k, _) in symptoms.items()}
_SIZE_OF = {name: size for symptoms in SYMPTOMS.values() for name, (_, size) in symptoms.items()}


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


class _Symptoms:
    """Each symptom's effect per employer and quarter: its size (profiles.SYMPTOMS) times
    the employer's strength, zero before the offence starts and for everyone else.

    `since` multiplies it by the quarters since the offence started (or since the window
    opened, for those that started earlier), for symptoms that build up: a shrinking
    workforce, rising lay-offs.
    """

    def __init__(self, employers: _Employers, window: _Window) -> None:
        quarter_end = window.quarters + np.timedelta64(DAYS_PER_QUARTER - 1, "D")
        self._on = employers.onset[:, :, None] <= quarter_end  # (n, 4, q)
        begun = np.maximum(employers.onset, window.quarters[0])[:, :, None]
        self._since = ((window.quarters - begun).astype(float) / DAYS_PER_QUARTER).clip(0)
        self._strength = employers.symptom

    def __call__(self, name: str) -> np.ndarray:
        return _SIZE_OF[name] * self.strength(name)

    def strength(self, name: str) -> np.ndarray:
        """The employer's strength (its intensity, 0.5 to 1.5, when it shows the symptom), per quarter."""
        return self._strength[name][:, None] * self._on[:, _OFFENCE_OF[name]]

    def since(self, name: str) -> np.ndarray:
        return self(name) * self._since[:, _OFFENCE_OF[name]]


def _declarations_draw(
    rng: np.random.Generator, employers: _Employers, window: _Window, ref: _Reference
) -> _Declarations:
    """Quarterly declarations for every quarter in which the employer is active."""
    profiles = ref.profiles
    symptom = _Symptoms(employers, window)
    quarter_end = window.quarters + np.timedelta64(DAYS_PER_QUARTER - 1, "D")
    active = (employers.start[:, None] <= quarter_end) & (employers.end[:, None] > window.quarters)
    tu_rate = _tu_rate(rng, employers, window, profiles, symptom)
    headcount, hires, exits = _workforce_paths(rng, employers, window, profiles, active, tu_rate, symptom)
    part_timers, fte = _part_time(rng, employers, profiles, headcount, hires, exits, symptom)
    tu_days = np.minimum(rng.poisson(tu_rate * headcount), headcount * WORKDAYS_PER_QUARTER * 0.8).astype(np.int64)
    hours, wages = _hours_and_wages(rng, employers, profiles, headcount, fte, tu_days, symptom)
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
        short=_short_contracts(rng, employers, profiles, hires, symptom),
        posted=_posted_workers(rng, employers, profiles, headcount, symptom),
        debt=_social_security_debt(rng, employers, wages, symptom),
    )


def _tu_rate(
    rng: np.random.Generator,
    employers: _Employers,
    window: _Window,
    profiles: list[SectorProfile],
    symptom: _Symptoms,
) -> np.ndarray:
    """Expected days of temporary unemployment per worker and quarter."""
    n, q = employers.sector.size, window.quarters.size
    sector_season = np.array([p.tu_days for p in profiles])[employers.sector][:, window.quarter_of_year]
    # Some firms follow the weather, others lay off in any season when work runs short.
    weather = rng.random((n, 1))
    seasonal = weather * sector_season + (1 - weather) * sector_season.mean(axis=1, keepdims=True)
    users = rng.random(n) < np.array([p.tu_users for p in profiles])[employers.sector]
    # Users lay off more or less each year as their order books fill or empty.
    drift = np.exp(rng.normal(0.0, 0.08, size=n)[:, None] * np.arange(q))
    rate = seasonal * (users * rng.lognormal(0.0, 0.7, size=n))[:, None] * drift
    # Legitimate firms in difficulty lay workers off in every season, often more and more.
    drift = np.exp(rng.normal(0.03, 0.08, size=n)[:, None] * np.arange(q))
    rate = rate + employers.struggling[:, None] * rng.uniform(1.5, 6.0, size=(n, 1)) * drift
    # Lay-off fraud (a): days in every season, rising over the window.
    rate = rate + symptom("layoff_days") + symptom.since("rising_layoffs")
    # Lay-off fraud (b): the sector's usual seasonal lay-offs, at a typical user's level.
    return rate + sector_season * symptom("seasonal_user")


def _workforce_paths(
    rng: np.random.Generator,
    employers: _Employers,
    window: _Window,
    profiles: list[SectorProfile],
    active: np.ndarray,
    tu_rate: np.ndarray,
    symptom: _Symptoms,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Headcount, hires and exits, consistent quarter on quarter (end = start + hires - exits)."""
    n, q = active.shape
    target = _headcount_targets(rng, employers, window, profiles, symptom)
    churn = _churn_rates(rng, employers, profiles, symptom)
    # Legitimate firms stop hiring while their workers are laid off; lay-off fraudsters (a) do not.
    hiring = np.exp(-0.2 * tu_rate * (symptom("hiring_on") == 0))
    extra_exits = symptom("exits")
    headcount, hires, exits = (np.zeros((n, q), dtype=np.int64) for _ in range(3))
    previous = np.where(active[:, 0], np.maximum(1, np.round(target[:, 0])), 0).astype(np.int64)
    for t in range(q):
        gap = target[:, t] - previous
        hire = rng.poisson(churn[:, t] * previous * hiring[:, t] + np.maximum(gap, 0))
        leave = rng.poisson((churn[:, t] + extra_exits[:, t]) * previous + np.maximum(-gap, 0))
        leave = np.minimum(leave, previous + hire - 1).clip(0)
        hire = np.maximum(hire, leave - previous + 1)  # an active employer keeps at least one worker
        current = previous + hire - leave
        headcount[:, t], hires[:, t], exits[:, t] = current, hire, leave
        previous = np.where(active[:, t], current, previous)
    return headcount * active, hires * active, exits * active


def _headcount_targets(
    rng: np.random.Generator,
    employers: _Employers,
    window: _Window,
    profiles: list[SectorProfile],
    symptom: _Symptoms,
) -> np.ndarray:
    n, q = employers.sector.size, window.quarters.size
    sector_swing = np.array([p.season for p in profiles])[employers.sector][:, window.quarter_of_year] - 1
    # Each firm has its own seasonal swing; some trade all year round.
    amplitude = rng.lognormal(0.0, SEASON_SPREAD, size=n) * (rng.random(n) >= ALL_YEAR_SHARE)
    # Part-time abuse (b): part-timers work the peaks off the books, so the payroll stays flat.
    amplitude = amplitude[:, None] * (1 - symptom("flat_season")).clip(0)
    season = 1 + amplitude * sector_swing
    growth = rng.normal(0.005, GROWTH_SPREAD, size=n) - 0.03 * employers.struggling  # firms in difficulty shrink
    log_trend = growth[:, None] * (np.arange(q) - (q - 1) / 2)
    # Bogus self-employment (a) turns employees into "contractors"; lay-off fraud (b) grows meanwhile.
    log_trend = log_trend - symptom.since("shrinking") + symptom.since("growing")
    # How much the workforce swings from quarter to quarter is a habit too; bogus
    # self-employment (b) moves workers on and off the payroll with the order book.
    swings = 0.05 * rng.lognormal(0.0, 0.4, size=n)[:, None] + symptom("payroll_swings")
    noise = np.exp(rng.normal(0.0, 1.0, size=(n, q)) * swings)
    return employers.size[:, None] * np.exp(log_trend) * season * noise


def _churn_rates(
    rng: np.random.Generator, employers: _Employers, profiles: list[SectorProfile], symptom: _Symptoms
) -> np.ndarray:
    """(n, q) hires (and exits) per worker and quarter."""
    n = employers.sector.size
    base = np.array([p.churn for p in profiles])[employers.sector] * rng.lognormal(0.0, CHURN_SPREAD, n)
    base = base * np.where(employers.flexible, 2.0, 1.0)
    # Undeclared work (a) shows as workers declared in and out; (b) as newcomers never declared.
    return base[:, None] * (1 + symptom("high_churn")) * (1 - symptom("few_hires")).clip(0.2)


def _part_time(
    rng: np.random.Generator,
    employers: _Employers,
    profiles: list[SectorProfile],
    headcount: np.ndarray,
    hires: np.ndarray,
    exits: np.ndarray,
    symptom: _Symptoms,
) -> tuple[np.ndarray, np.ndarray]:
    """Part-timers and FTE (never above headcount)."""
    n = employers.sector.size
    mean_share = np.array([p.part_time_share for p in profiles])[employers.sector]
    share = rng.beta(6 * mean_share + 0.2, 6 * (1 - mean_share) + 0.2)[:, None]
    # Part-time abuse (a): more workers on part-time contracts, each declared for fewer hours.
    share = share + (1 - share) * symptom("part_time_share")
    # Bogus self-employment (b): the part-timers are the first to become "contractors".
    share = share * (1 - symptom("core_payroll")).clip(0)
    fraction = np.array([p.part_time_hours for p in profiles])[employers.sector] + rng.normal(
        0, PART_TIME_HOURS_SPREAD, n
    )
    # Some legitimate firms do run on short part-time contracts (office cleaning at dawn).
    mini_jobs = (rng.random(n) < 0.10) & (mean_share > 0.3)
    fraction = np.where(mini_jobs, rng.uniform(0.25, 0.4, n), fraction)[:, None]
    fraction = (fraction * (1 - symptom("part_time_hours"))).clip(0.15, 0.9)
    part_timers = rng.binomial(headcount, share.clip(0, 1))
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
    symptom: _Symptoms,
) -> tuple[np.ndarray, np.ndarray]:
    """Declared hours follow FTE, less lay-off days; wages follow hours at the firm's rate."""
    n, q = headcount.shape
    per_fte = FULL_TIME_HOURS_PER_QUARTER * rng.normal(1.0, HOURS_SPREAD, n)[:, None]
    # Undeclared work (b): part of the hours off the books; bogus self-employment (b):
    # the employees who stay are declared for long hours.
    per_fte = per_fte * (1 - symptom("short_hours")) * (1 + symptom("long_hours"))
    laid_off = np.minimum(tu_days / np.maximum(headcount * WORKDAYS_PER_QUARTER, 1), 0.9)
    hours = np.round(fte * per_fte * (1 - laid_off) * rng.normal(1.0, QUARTER_NOISE, (n, q))).clip(0)
    wage = np.array([p.hourly_wage for p in profiles])[employers.sector] * rng.lognormal(0.0, WAGE_SPREAD, n)
    wage = (wage * (1 + 0.03 * np.log1p(employers.size)))[:, None]  # larger firms pay a little more
    # Undeclared work (a) hides behind minimum declared pay; part-time abuse (b) pays the
    # extra hours partly as allowances; bogus self-employment (b) keeps the better paid.
    wage = wage * (1 - symptom("low_pay")) * (1 + symptom("premium_pay"))
    wage = wage * (1 + CORE_PAYROLL_PAY * symptom.strength("core_payroll"))
    wages = np.round(hours * wage * rng.normal(1.0, QUARTER_NOISE, (n, q)), 2).clip(0)
    return hours.astype(np.int64), wages


def _short_contracts(
    rng: np.random.Generator,
    employers: _Employers,
    profiles: list[SectorProfile],
    hires: np.ndarray,
    symptom: _Symptoms,
) -> np.ndarray:
    n = hires.shape[0]
    base = np.array([p.short_share for p in profiles])[employers.sector] * rng.lognormal(0, SHORT_SPREAD, n)
    share = (base + 0.15 * employers.flexible)[:, None]
    # Undeclared work (a): more short contracts; part-time abuse (b): chains of short part-time ones.
    share = share + symptom("short_contracts") + symptom("rolling_contracts")
    return rng.binomial(hires, share.clip(0, 0.95))


def _posted_workers(
    rng: np.random.Generator,
    employers: _Employers,
    profiles: list[SectorProfile],
    headcount: np.ndarray,
    symptom: _Symptoms,
) -> np.ndarray:
    """Posted foreign workers on site: subcontracting chains (a: bogus self-employment), or
    stand-ins for laid-off staff (b: lay-off fraud)."""
    n = headcount.shape[0]
    fraud = symptom("posted_workers") + symptom("posted_cover")
    p_user = np.array([p.posted_users for p in profiles])[employers.sector][:, None] + fraud
    users = rng.random(n)[:, None] < p_user
    level = 0.3 * rng.lognormal(0.0, 0.5, n)[:, None] * (1 + 2.5 * fraud)
    return rng.poisson(users * level * np.maximum(headcount, 1)) * (headcount > 0)


def _social_security_debt(
    rng: np.random.Generator, employers: _Employers, wages: np.ndarray, symptom: _Symptoms
) -> np.ndarray:
    """Unpaid contributions: a few firms, many of those in difficulty, and undeclared work (b)."""
    n, q = wages.shape
    unpaid = symptom("unpaid_contributions")
    p_debt = (0.10 + 0.45 * employers.struggling)[:, None] + unpaid
    debtor = rng.random(n)[:, None] < p_debt
    level = rng.lognormal(np.log(0.15), 0.9, n) * wages.mean(axis=1)
    growth = rng.normal(0.02, 0.05, n) + 0.08 * employers.struggling
    debt = debtor * level[:, None] * (1 + 5 * unpaid) * np.exp(growth[:, None] * np.arange(q))
    return np.round(debt * rng.lognormal(0, 0.1, (n, q)), 2) * (wages > 0)


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
