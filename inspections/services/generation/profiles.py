"""The parameters of the synthetic inspectorate: sector profiles, fraud propensity, inspection mix.

docs/data-generation.md explains where the numbers come from and how they were calibrated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from inspections.models import InspectionOrigin, LegalForm

# The last quarter declared. A constant, not "today", so a seed always gives the same data.
DEFAULT_END_QUARTER = dt.date(2026, 7, 1)
# Employers per chunk: big enough for numpy to be efficient, small enough that a
# chunk's 600,000 declarations stay well under a gigabyte of memory.
CHUNK_SIZE = 50_000
DEFAULT_INSPECTION_RATE = 0.05  # share of active employers inspected per year

# Offence types the generator plants; the order is the column order of every (n, 4) array.
OFFENCES = ("undeclared_work", "part_time_abuse", "bogus_self_employment", "temporary_layoff_fraud")
UW, PTA, BSE, TLF = range(4)
LEGAL_FORMS = list(LegalForm)  # BV, NV, CV, COMMV, VOF, VZW, EZ, FOREIGN
DAYS_PER_QUARTER = 91
WORKDAYS_PER_QUARTER = 65
FULL_TIME_HOURS_PER_QUARTER = 455  # 38 h x 13 weeks, less public holidays and leave

# Independent random streams, so that e.g. changing how inspections are drawn leaves
# the employers and declarations of a seed untouched.
_STREAM_IDENTIFIERS, _STREAM_EMPLOYERS, _STREAM_INSPECTIONS = 1, 2, 3


@dataclass(frozen=True)
class SectorProfile:
    """How employers of one sector look; keyed by joint committee (stable across code renames)."""

    share: float  # of all employers generated
    size_alpha: float  # Pareto tail index of the workforce: lower means more large firms
    hourly_wage: float  # gross EUR per declared hour
    part_time_share: float  # mean share of part-time workers
    part_time_hours: float  # hours of a part-timer relative to a full-timer
    churn: float  # hires (and exits) per worker per quarter
    short_share: float  # share of hires on contracts shorter than a quarter
    flexible_share: float  # legitimate firms living on extras and short contracts: high churn
    season: tuple[float, float, float, float]  # headcount multiplier per quarter of the year
    tu_days: tuple[float, float, float, float]  # temporary-unemployment days per worker, users only
    tu_users: float  # share of employers that use temporary unemployment at all
    posted_users: float  # share of employers that take on posted foreign workers
    closure_hazard: float  # closures and bankruptcies per employer per year
    offence_logit: tuple[float, float, float, float]  # sector effect on each offence's propensity
    check_weight: tuple[float, float, float, float]  # how often inspectors check each offence here
    legal_shares: tuple[float, ...]  # over LEGAL_FORMS


SECTOR_PROFILES: dict[str, SectorProfile] = {
    # Construction: winter lay-offs for bad weather, posted workers, subcontracting chains.
    "124": SectorProfile(
        share=0.55,
        size_alpha=1.25,
        hourly_wage=19.5,
        part_time_share=0.08,
        part_time_hours=0.6,
        churn=0.07,
        short_share=0.12,
        flexible_share=0.08,
        season=(0.96, 1.02, 1.03, 0.99),
        tu_days=(3.0, 0.6, 0.4, 1.8),
        tu_users=0.55,
        posted_users=0.10,
        closure_hazard=0.045,
        offence_logit=(0.0, -1.3, 0.5, 0.7),
        check_weight=(1.0, 0.4, 1.0, 1.0),
        legal_shares=(0.60, 0.06, 0.02, 0.03, 0.03, 0.01, 0.19, 0.06),
    ),
    # Hotels and catering: summer peaks, many extras on short contracts, part-time work.
    "302": SectorProfile(
        share=0.30,
        size_alpha=1.35,
        hourly_wage=14.5,
        part_time_share=0.45,
        part_time_hours=0.5,
        churn=0.14,
        short_share=0.35,
        flexible_share=0.20,
        season=(0.90, 1.05, 1.15, 0.95),
        tu_days=(1.5, 0.4, 0.2, 0.8),
        tu_users=0.35,
        posted_users=0.01,
        closure_hazard=0.07,
        offence_logit=(0.4, 0.3, -0.6, -0.1),
        check_weight=(1.0, 1.0, 0.4, 0.6),
        legal_shares=(0.58, 0.04, 0.03, 0.04, 0.04, 0.04, 0.22, 0.01),
    ),
    # Cleaning: mostly part-time, a few very large firms, school holidays in summer.
    "121": SectorProfile(
        share=0.15,
        size_alpha=1.05,
        hourly_wage=15.5,
        part_time_share=0.60,
        part_time_hours=0.5,
        churn=0.11,
        short_share=0.20,
        flexible_share=0.10,
        season=(1.0, 1.0, 0.97, 1.01),
        tu_days=(0.4, 0.3, 0.6, 0.3),
        tu_users=0.25,
        posted_users=0.03,
        closure_hazard=0.05,
        offence_logit=(0.2, 0.6, -0.2, -0.6),
        check_weight=(1.0, 1.0, 0.5, 0.4),
        legal_shares=(0.62, 0.07, 0.03, 0.02, 0.02, 0.05, 0.15, 0.04),
    ),
}

# --- Latent fraud propensity (logit scale) -------------------------------------------
# Intercepts were tuned so that random controls find at least one offence in about 16 %
# of cases (see docs/data-generation.md); the other effects are deliberately mild.
OFFENCE_INTERCEPT = np.array([-2.7, -2.7, -3.3, -3.1])
SIZE_EFFECT = np.array([-0.15, 0.10, -0.25, 0.15])  # per log-worker above a typical firm
YOUNG_EFFECT = np.array([0.3, 0.0, 0.6, 0.1])  # company younger than three years
OLD_EFFECT = np.array([-0.2, -0.1, -0.2, -0.1])  # company older than twenty years
LEGAL_EFFECT = np.array(  # rows follow LEGAL_FORMS
    [
        [0.0, 0.0, 0.2, 0.0],  # BV
        [-0.4, -0.2, -0.4, -0.1],  # NV
        [-0.1, 0.0, 0.0, 0.0],  # CV
        [0.2, 0.0, 0.1, 0.0],  # CommV
        [0.3, 0.1, 0.2, 0.0],  # VOF
        [-0.6, 0.0, -0.5, -0.3],  # VZW
        [0.3, 0.0, 0.5, -0.2],  # sole trader
        [0.3, -0.2, 0.6, 0.1],  # foreign company
    ]
)
SHARED_SD = 0.7  # a general disregard for the rules, common to all offences
NOISE_SD = 1.0  # what no data explains
STRUGGLING_SHARE = 0.08  # legitimate firms in difficulty: lay-offs, shrinking, debt

# --- Honest firms' persistent habits ---------------------------------------------------
# Legitimate employers differ from each other in ways that last over every quarter: how
# much they pay, how many hours a full-timer works, how many part-timers they employ, how
# often staff come and go, how seasonal their trade is. A fraud trace has to stand out
# from these, which is why most traces are faint.
WAGE_SPREAD = 0.13  # lognormal sd of a firm's hourly wage around the sector's
HOURS_SPREAD = 0.04  # sd of a firm's declared hours per FTE, relative
PART_TIME_HOURS_SPREAD = 0.10  # sd of a firm's part-timers' share of full time
CHURN_SPREAD = 0.5  # lognormal sd of a firm's hires and exits per worker
SHORT_SPREAD = 0.5  # lognormal sd of a firm's share of hires on short contracts
GROWTH_SPREAD = 0.025  # sd of a firm's headcount growth per quarter
SEASON_SPREAD = 0.5  # lognormal sd of a firm's seasonal swing around the sector's
ALL_YEAR_SHARE = 0.2  # firms whose trade has no season at all (canteens, offices)
QUARTER_NOISE = 0.03  # relative noise of hours and pay from one quarter to the next

# --- How fraud shows (or does not) ------------------------------------------------------
# Most fraudsters commit their offence over the whole window; the others start in one of
# the declared quarters (from the second on), and show nothing before.
LATE_ONSET_SHARE = 0.2
# A careful share of fraudsters leaves no trace in the declarations at all (cash paid
# outside the books, paperwork in order); only an inspection can find them.
TRACE_SHARE = 0.7
# The others show each symptom of their offence with this probability, with a strength
# that grows with their intensity: no symptom is necessary, none alone is sufficient,
# and legitimate firms show every one of them too, through their own persistent habits.
SYMPTOM_PROBABILITY = 0.6
# Two sets of mechanisms: the same fraudsters leave traces in different declaration
# fields. A model design that holds on both is less likely to be tuned to one of them.
MECHANISMS = ("a", "b")
# Per set, each symptom: the offence it belongs to and its size at intensity 1 (it
# scales with the intensity, 0.5 to 1.5). docs/data-generation.md has them in words.
SYMPTOMS: dict[str, dict[str, tuple[int, float]]] = {
    "a": {
        "low_pay": (UW, 0.15),  # hourly wage 15 % below the firm's own level (the rest paid in cash)
        "high_churn": (UW, 1.0),  # twice as many hires and exits: workers declared in and out
        "short_contracts": (UW, 0.2),  # 20 points more hires on contracts shorter than a quarter
        "part_time_share": (PTA, 0.45),  # part-time share 45 % of the way to all staff
        "part_time_hours": (PTA, 0.3),  # each part-timer declared for 30 % fewer hours
        "shrinking": (BSE, 0.06),  # 6 % fewer employees a quarter: they become "contractors"
        "exits": (BSE, 0.12),  # 12 % extra exits a quarter
        "posted_workers": (BSE, 0.25),  # 25 points more chance of posted workers (subcontracting chains)
        "layoff_days": (TLF, 2.0),  # 2 days of temporary unemployment per worker in every season
        "rising_layoffs": (TLF, 0.2),  # 0.2 days per worker more every quarter
        "hiring_on": (TLF, 1.0),  # hiring goes on while workers are laid off (a switch)
    },
    "b": {
        "short_hours": (UW, 0.06),  # 6 % fewer hours per FTE: part of the hours off the books
        "few_hires": (UW, 0.5),  # half the hires and exits: newcomers start off the books
        "unpaid_contributions": (UW, 0.35),  # 35 points more chance of social-security debt, and more of it
        "flat_season": (PTA, 1.0),  # no seasonal hiring: part-timers cover the peaks with undeclared hours
        "premium_pay": (PTA, 0.18),  # 18 % more pay per declared hour: extra hours paid as allowances
        "rolling_contracts": (PTA, 0.25),  # 25 points more short contracts: part-timers on chains of them
        "core_payroll": (BSE, 0.6),  # 60 % fewer part-timers and 8 % higher pay: only core staff employed
        "long_hours": (BSE, 0.06),  # 6 % more hours per FTE for the employees who stay
        "payroll_swings": (BSE, 0.2),  # workforce swings 20 % more from quarter to quarter
        "seasonal_user": (TLF, 1.5),  # lay-offs in the sector's usual seasons, 1.5 times a typical user's
        "growing": (TLF, 0.04),  # the workforce grows 4 % a quarter while workers are laid off
        "posted_cover": (TLF, 0.2),  # 20 points more chance of posted workers filling in
    },
}
CORE_PAYROLL_PAY = 0.08  # core payroll (b) also raises the pay per declared hour by 8 % at intensity 1
ALL_SYMPTOMS = tuple(name for symptoms in SYMPTOMS.values() for name in symptoms)
# Inspectors miss some fraud: the chance that checking an offence the employer commits
# finds it rises with the intensity, from 0.65 to 0.9 (0.79 on average).
DETECTION_BASE, DETECTION_PER_INTENSITY, DETECTION_MAX = 0.5, 0.3, 0.9
FALSE_FINDING_RATE = 0.01  # offences found in employers without a lasting fraud pattern

# --- Inspections ---------------------------------------------------------------------
ORIGIN_SHARES: dict[str, float] = {
    InspectionOrigin.PROSECUTOR: 0.15,
    InspectionOrigin.OTHER_SERVICE: 0.30,
    InspectionOrigin.COMPLAINT: 0.25,
    InspectionOrigin.RANKED_LIST: 0.08,
    InspectionOrigin.OWN_INITIATIVE: 0.12,
    InspectionOrigin.RANDOM_CONTROL: 0.10,
}
# How strongly each origin points at each offence when the employer commits it:
# unemployment and self-employment services report lay-off and self-employment fraud,
# workers complain about undeclared hours.
ORIGIN_OFFENCE_PULL: dict[str, tuple[float, float, float, float]] = {
    InspectionOrigin.PROSECUTOR: (1.5, 1.0, 1.5, 1.0),
    InspectionOrigin.OTHER_SERVICE: (0.6, 0.6, 1.8, 1.8),
    InspectionOrigin.COMPLAINT: (1.6, 1.6, 0.6, 0.6),
    InspectionOrigin.RANKED_LIST: (0.8, 0.8, 0.8, 0.8),
    InspectionOrigin.OWN_INITIATIVE: (0.5, 0.5, 0.5, 0.5),
    InspectionOrigin.RANDOM_CONTROL: (0.0, 0.0, 0.0, 0.0),
}
OFFENCES_CHECKED_P = (0.35, 0.30, 0.20, 0.15)  # 1, 2, 3 or 4 offence types per inspection
CANCELLED_SHARE = 0.02
PLANNED_WINDOW_DAYS = 45  # inspections due in the last weeks are still planned
RECOVERED_PER_WORKER = np.array([6000.0, 2500.0, 9000.0, 3500.0])  # median EUR, per offence
