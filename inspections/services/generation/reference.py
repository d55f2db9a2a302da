"""Reference rows (sectors, NACE codes, postal codes) as numpy arrays, and the time window."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from inspections.models import NaceCode, OffenceType, PostalCode, Sector, SubRegion

from .profiles import OFFENCES, SECTOR_PROFILES, SectorProfile
from .summary import GenerationError


@dataclass(frozen=True)
class _Reference:
    """Reference rows as numpy arrays; sectors in the order of SECTOR_PROFILES."""

    profiles: list[SectorProfile]
    sector_codes: np.ndarray
    joint_committees: np.ndarray
    nace_codes: np.ndarray
    nace_sector: np.ndarray  # index into sector_codes
    postal_codes: np.ndarray
    postal_subregion: np.ndarray
    postal_weight: np.ndarray  # probability of a postal code, from sub-region population
    postal_french: np.ndarray  # probability that a company there has a French name


def _reference_load() -> _Reference:
    sectors = {s.joint_committee: s.code for s in Sector.objects.all()}
    missing = [jc for jc in SECTOR_PROFILES if jc not in sectors]
    offences = set(OffenceType.objects.values_list("code", flat=True))
    if missing or not set(OFFENCES) <= offences:
        raise GenerationError(
            f"Reference data incomplete (joint committees {missing}, offence types "
            f"{sorted(set(OFFENCES) - offences)}): run `manage.py migrate` first."
        )
    sector_codes = np.array([sectors[jc] for jc in SECTOR_PROFILES])
    nace = list(NaceCode.objects.filter(sector_id__in=sector_codes).values_list("code", "sector_id"))
    nace_sector = np.array([list(sector_codes).index(sector) for _, sector in nace])
    if len(np.unique(nace_sector)) != len(sector_codes):
        raise GenerationError("Every sector needs at least one NACE code: run `manage.py migrate` first.")
    return _Reference(
        profiles=list(SECTOR_PROFILES.values()),
        sector_codes=sector_codes,
        joint_committees=np.array(list(SECTOR_PROFILES)),
        nace_codes=np.array([code for code, _ in nace]),
        nace_sector=nace_sector,
        **_postal_arrays(),
    )


def _postal_arrays() -> dict[str, np.ndarray]:
    """Postal codes weighted so that each sub-region gets employers in line with its population."""
    rows = list(PostalCode.objects.values_list("code", "subregion_id", "subregion__region_id"))
    population = dict(SubRegion.objects.values_list("code", "population"))
    if not rows or not sum(population.values()):
        raise GenerationError("No postal codes or sub-region populations: run `manage.py migrate` first.")
    codes, subregions, regions = (np.array(column) for column in zip(*rows, strict=True))
    codes_per_subregion = pd.Series(subregions).value_counts()
    weight = np.array([population[s] / codes_per_subregion[s] for s in subregions], dtype=float)
    # Brussels companies mostly carry French names, Walloon ones French, Flemish ones Dutch.
    french = np.select([regions == "BE1", regions == "BE3"], [0.85, 1.0], default=0.0)
    return {
        "postal_codes": codes,
        "postal_subregion": subregions,
        "postal_weight": weight / weight.sum(),
        "postal_french": french,
    }


@dataclass(frozen=True)
class _Window:
    """Dates as numpy day numbers (datetime64[D])."""

    quarters: np.ndarray  # first day of each declared quarter, oldest first
    quarter_of_year: np.ndarray  # 0..3 for each declared quarter
    as_of: np.datetime64  # the day after the last declared quarter: "now" for the data
    inspections_from: np.datetime64


def _window_make(end_quarter: dt.date, quarters: int, inspection_years: int) -> _Window:
    months = np.datetime64(end_quarter, "M") - 3 * np.arange(quarters - 1, -1, -1)
    as_of = (np.datetime64(end_quarter, "M") + 3).astype("datetime64[D]")
    return _Window(
        quarters=months.astype("datetime64[D]"),
        quarter_of_year=(months.astype(int) % 12) // 3,
        as_of=as_of,
        inspections_from=(np.datetime64(end_quarter, "M") + 3 - 12 * inspection_years).astype("datetime64[D]"),
    )
