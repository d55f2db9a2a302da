"""Synthetic inspectorate data: employers, quarterly declarations, past inspections.

Everything is drawn with numpy from one seed (same seed, same rows) and written with
PostgreSQL COPY in chunks, so a million employers take minutes, not hours.

Fraud is planted through a latent propensity per employer and offence type. An
employer that commits an offence shifts several declaration fields a little each,
and legitimate employers show each of those patterns too (struggling firms, seasonal
firms, genuine part-time work), so that no single column gives fraud away while a
multivariate model can find it. Inspections of every origin are drawn on top: imposed
ones lean toward fraudulent employers, random controls are drawn uniformly and give
the unbiased baseline (about 16 % find at least one offence). docs/data-generation.md
explains the mechanisms and the calibration in plain words.

No personal characteristics (nationality, gender, age of people) exist anywhere here.

The package: profiles (parameters), reference (reference data and time window),
population (employers and their names), declarations, inspections (and findings),
writing (COPY and index handling), summary (result and error types) and run (the
entry point, demo_data_generate).
"""

from __future__ import annotations

from .profiles import DEFAULT_END_QUARTER, DEFAULT_INSPECTION_RATE, OFFENCES
from .run import demo_data_generate
from .summary import GenerationError, GenerationSummary
from .writing import _Column as _Column  # re-exported for the tests
from .writing import _fixed_width_text as _fixed_width_text

__all__ = [
    "DEFAULT_END_QUARTER",
    "DEFAULT_INSPECTION_RATE",
    "OFFENCES",
    "GenerationError",
    "GenerationSummary",
    "demo_data_generate",
]
