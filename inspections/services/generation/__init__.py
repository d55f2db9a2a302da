"""Synthetic inspectorate data: employers, quarterly declarations, past inspections.

Everything is drawn with numpy from one seed (same seed, same rows) and written with
PostgreSQL COPY in chunks, so a million employers take minutes, not hours.

Fraud is planted through a latent propensity per employer and offence type. Most
fraudsters commit their offence over the whole window, some start during it. Many
leave faint traces in a few declaration fields, some none at all, and legitimate
employers differ from each other persistently in every one of those fields (struggling,
seasonal, part-time, flexible firms), so that no single column gives fraud away and a
model has to work for its lift. Two sets of mechanisms ("a" and "b") plant the same
fraudsters with traces in different fields, so that a model design can be checked
against both. Inspections of every origin are drawn on top: imposed ones lean toward
employers committing offences, random controls are drawn uniformly and give the
unbiased baseline (about 16 % find at least one offence), and inspectors miss some of
what they check. The ground truth can be written to a CSV file. docs/data-generation.md
explains the mechanisms and the calibration in plain words.

No personal characteristics (nationality, gender, age of people) exist anywhere here.

The package: profiles (parameters), reference (reference data and time window),
population (employers, their fraud and their names), declarations, inspections (and
findings), truth (the ground-truth file), writing (COPY and index handling), summary
(result and error types) and run (the entry point, demo_data_generate).
"""

from __future__ import annotations

from .profiles import DEFAULT_END_QUARTER, DEFAULT_INSPECTION_RATE, MECHANISMS, OFFENCES
from .run import demo_data_generate
from .summary import GenerationError, GenerationSummary
from .truth import TRUTH_HEADER
from .writing import _Column as _Column  # re-exported for the tests
from .writing import _fixed_width_text as _fixed_width_text

__all__ = [
    "DEFAULT_END_QUARTER",
    "DEFAULT_INSPECTION_RATE",
    "MECHANISMS",
    "OFFENCES",
    "TRUTH_HEADER",
    "GenerationError",
    "GenerationSummary",
    "demo_data_generate",
]
