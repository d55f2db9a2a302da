"""The ground truth: which employer commits which offence, for measuring models against it.

Inspections only ever show part of it (few employers are inspected, inspectors miss
some fraud); the generator knows all of it, and writes it on request as a CSV file.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .population import _Population
from .profiles import OFFENCES
from .reference import _Reference

TRUTH_HEADER = ("enterprise_number", "sector", *OFFENCES)


def _truth_write(path: str | Path, population: _Population, ref: _Reference) -> int:
    """One row per employer, 1/0 per offence committed at some point in the window; returns the rows."""
    offences = population.fraud.astype(np.int8)
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(TRUTH_HEADER)
        writer.writerows(
            zip(
                population.enterprise_numbers.tolist(),
                ref.sector_codes[population.sector].tolist(),
                *(offences[:, k].tolist() for k in range(len(OFFENCES))),
                strict=True,
            )
        )
    return int(population.ids.size)
