"""The entry point: check the arguments, then write employers, declarations and inspections."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from django.db import connection, transaction
from tqdm import tqdm

from inspections.models import Employer
from miningwatch import stamps
from miningwatch.bulk import indexes_suspended

from .declarations import _declarations_copy, _declarations_draw
from .inspections import _inspections_write
from .population import (
    _POPULATION_FIELDS,
    _employers_copy,
    _employers_draw,
    _identifiers_draw,
    _names_draw,
    _Population,
)
from .profiles import (
    _STREAM_EMPLOYERS,
    _STREAM_IDENTIFIERS,
    CHUNK_SIZE,
    DEFAULT_END_QUARTER,
    DEFAULT_INSPECTION_RATE,
    MECHANISMS,
)
from .reference import _Reference, _reference_load, _Window, _window_make
from .summary import GenerationError, GenerationSummary
from .truth import _truth_write
from .writing import _LOADED_MODELS, _ids_reserve, _tables_analyze, _tables_prepare


def demo_data_generate(
    *,
    employers: int,
    seed: int,
    quarters: int = 12,
    end_quarter: dt.date = DEFAULT_END_QUARTER,
    inspection_years: int = 4,
    inspection_rate: float = DEFAULT_INSPECTION_RATE,
    replace: bool = False,
    progress: bool = False,
    mechanisms: str = "a",
    truth: str | Path | None = None,
) -> GenerationSummary:
    """Fill the employer, declaration, inspection and finding tables with synthetic data.

    Refuses to run when employers exist, unless replace=True, which first empties those
    tables (and, through CASCADE, anything that points at them). `mechanisms` chooses
    how fraud shows in the declarations ("a" or "b"); `truth`, a path, receives the
    ground truth as CSV once the data are committed.
    """
    started = time.perf_counter()
    _arguments_check(
        employers=employers, quarters=quarters, end_quarter=end_quarter, years=inspection_years, rate=inspection_rate
    )
    if mechanisms not in MECHANISMS:
        raise GenerationError(f"mechanisms must be one of {', '.join(MECHANISMS)}, not {mechanisms!r}.")
    reference = _reference_load()
    window = _window_make(end_quarter, quarters, inspection_years)
    with transaction.atomic():
        _tables_prepare(replace=replace)
        with connection.cursor() as cursor, indexes_suspended(cursor, *(m._meta.db_table for m in _LOADED_MODELS)):
            population = _employers_and_declarations_write(
                employers, seed, reference, window, mechanisms, progress=progress
            )
            counts = _inspections_write(population, seed, reference, window, inspection_rate)
    stamps.stamp_bump(stamps.INSPECTIONS)
    _tables_analyze()
    if truth is not None:
        _truth_write(truth, population, reference)
    return GenerationSummary(
        employers=employers,
        active_employers=int(np.count_nonzero(population.end >= window.as_of)),  # not closed
        declarations=population.declarations,
        quarters=quarters,
        seconds=time.perf_counter() - started,
        mechanisms=mechanisms,
        **counts,
    )


def _arguments_check(*, employers: int, quarters: int, end_quarter: dt.date, years: int, rate: float) -> None:
    if not 1 <= employers <= 15_000_000:
        raise GenerationError("employers must be between 1 and 15,000,000 (enterprise numbers run out).")
    if quarters < 1:
        raise GenerationError("quarters must be at least 1.")
    if end_quarter.day != 1 or end_quarter.month not in (1, 4, 7, 10):
        raise GenerationError(f"end_quarter must be the first day of a quarter, not {end_quarter}.")
    if years < 0:
        raise GenerationError("inspection_years cannot be negative.")
    if not 0 <= rate <= 5:
        raise GenerationError("inspection_rate is a share of employers per year, between 0 and 5.")


def _employers_and_declarations_write(
    count: int, seed: int, reference: _Reference, window: _Window, mechanisms: str, *, progress: bool
) -> _Population:
    """Draw, chunk by chunk, employers and their declarations, and COPY both."""
    enterprise_numbers, nsso_numbers = _identifiers_draw(np.random.default_rng([seed, _STREAM_IDENTIFIERS]), count)
    kept: list[dict[str, np.ndarray]] = []
    declared = 0
    with tqdm(total=count, unit="employers", disable=not progress, desc="employers") as bar:
        for index, chunk in enumerate(_chunks(count)):
            rng = np.random.default_rng([seed, _STREAM_EMPLOYERS, index])
            employers = _employers_draw(rng, reference, len(chunk), window, mechanisms)
            ids = _ids_reserve(Employer, len(chunk))
            names = _names_draw(rng, reference, employers)
            _employers_copy(ids, employers, names, enterprise_numbers[chunk], nsso_numbers[chunk], reference)
            declarations = _declarations_draw(rng, employers, window, reference)
            declared += _declarations_copy(ids, declarations, window.quarters)
            fields = {name: getattr(employers, name) for name in _POPULATION_FIELDS}
            kept.append({"ids": ids, "enterprise_numbers": enterprise_numbers[chunk], **fields})
            bar.update(len(chunk))
    return _Population.from_chunks(kept, declared)


def _chunks(count: int) -> Iterator[np.ndarray]:
    for start in range(0, count, CHUNK_SIZE):
        yield np.arange(start, min(start + CHUNK_SIZE, count))
