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
OFFENCE_INTERCEPT = np.array([-3.0, -3.0, -3.6, -3.4])
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
# Each employer committing an offence shows each of that offence's symptoms with this
# probability, with a strength that grows with its intensity: no symptom is necessary,
# none alone is sufficient, and legitimate firms show every one of them too.
SYMPTOM_PROBABILITY = 0.6
SYMPTOMS: dict[str, int] = {
    "low_pay": UW,  # hourly wage below the firm's normal level (the rest paid in cash)
    "high_churn": UW,  # workers declared in and out
    "short_contracts": UW,  # more hires on contracts shorter than a quarter
    "short_hours": UW,  # fewer hours declared per FTE
    "part_time_share": PTA,  # more workers on part-time contracts
    "part_time_hours": PTA,  # each part-timer declared for fewer hours
    "shrinking": BSE,  # employees turned into "self-employed contractors"
    "exits": BSE,  # extra exits on top of the shrinking
    "posted_workers": BSE,  # subcontracting chains with posted workers
    "layoff_days": TLF,  # temporary-unemployment days in every season
    "rising_layoffs": TLF,  # more of them quarter after quarter
    "hiring_on": TLF,  # hiring goes on while workers are laid off
}
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
