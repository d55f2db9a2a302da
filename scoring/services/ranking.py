"""Ranks, bands, reasons and COPY rows of a scored sector, vectorised (numpy, no loop per employer)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from dateutil.relativedelta import relativedelta

from inspections.services.imports.copying import constant, copy_text
from scoring.models import SizeClass, VisitRecency

from .artifacts import Artifact

REASONS = 3
MIN_DEVIATION = 0.5  # in standard deviations of the normal quantile transform
MIN_PUSH = 0.1  # log-odds
RENDER_ROWS = 100_000


@dataclass(frozen=True)
class Listing:
    """What the ranked lists filter on, per employer (arrays of length n): sub-region and
    legal form (str), size class (1-4, 0 unknown) and visit recency (VisitRecency, 0-4)."""

    subregion: np.ndarray
    legal_form: np.ndarray
    size_class: np.ndarray
    visit_recency: np.ndarray

    @classmethod
    def of(cls, chunk: pd.DataFrame, as_of: date) -> Listing:
        """From features_read's columns: headcount, subregion_id, legal_form, last_visit."""
        headcount = chunk["headcount"].to_numpy(dtype=np.float64)
        size = np.digitize(headcount, SizeClass.limits()).astype(np.int16) + 1
        size[np.isnan(headcount)] = 0
        visited = pd.to_datetime(chunk["last_visit"], errors="coerce").to_numpy()
        recency = np.full(len(chunk), VisitRecency.LONGER_OR_NEVER, dtype=np.int16)
        # From the longest span to the shortest, so the most recent class wins.
        for number, months in reversed(list(enumerate(VisitRecency.months()))):
            since = np.datetime64(as_of - relativedelta(months=months))
            recency[visited >= since] = number
        return cls(
            chunk["subregion_id"].to_numpy(dtype=object),
            chunk["legal_form"].fillna("").to_numpy(dtype=object),
            size,
            recency,
        )

    @classmethod
    def concat(cls, parts: list[Listing]) -> Listing:
        return cls(*(np.concatenate([getattr(part, name) for part in parts]) for name in cls.__dataclass_fields__))

    def counts(self, band: np.ndarray) -> pd.DataFrame:
        """Employers per band and list-filter value: the run's ScoreCount rows.

        Columns: subregion_id, size_class, legal_form, visit_recency, band, employers.
        """
        frame = pd.DataFrame(
            {
                "subregion_id": self.subregion,
                "size_class": self.size_class,
                "legal_form": self.legal_form,
                "visit_recency": self.visit_recency,
                "band": band,
            }
        )
        return frame.groupby(list(frame.columns), dropna=False).size().rename("employers").reset_index()


@dataclass(frozen=True)
class ScoredSector:
    """Arrays of equal length n: employer_ids (int64), scores (float64); reason_index (n x 3,
    position in the model's feature list, -1 for none) and reason_value (n x 3, the
    employer's value of that feature, NaN when unknown)."""

    employer_ids: np.ndarray
    scores: np.ndarray
    reason_index: np.ndarray
    reason_value: np.ndarray
    listing: Listing | None = None
    tails: np.ndarray | None = None  # row_tails, when rendered already

    @classmethod
    def explain(
        cls,
        *,
        employer_ids: np.ndarray,
        scores: np.ndarray,
        values: np.ndarray,
        artifact: Artifact,
        listing: Listing | None = None,
    ) -> ScoredSector:
        """The three features that push each employer's risk up most, by the explainer.

        The explainer is a logistic regression on quantile-normalised features, so each
        feature's push is its coefficient times the employer's normalised value: the
        additive part of the log-odds that feature is responsible for.
        """
        normalised, push = artifact.pushes(values)
        # A reason must stand out: the employer at least half a standard deviation from the
        # sector's middle, in the risky direction, and a push worth naming. Otherwise "0
        # posted workers" would be a reason merely because most firms have none either.
        push = np.where((np.abs(normalised) >= MIN_DEVIATION) & (push >= MIN_PUSH), push, 0.0)
        order = np.argsort(-push, axis=1, kind="stable")[:, :REASONS]
        strongest = np.take_along_axis(push, order, axis=1)
        index = np.where(strongest > 0, order, -1)
        picked = np.take_along_axis(values, order, axis=1)
        return cls(employer_ids, scores, index, np.where(index >= 0, picked, np.nan), listing)

    @classmethod
    def concat(cls, parts: list[ScoredSector]) -> ScoredSector:
        arrays = ("employer_ids", "scores", "reason_index", "reason_value")
        listings = [part.listing for part in parts]
        listing = Listing.concat(listings) if all(item is not None for item in listings) else None
        tails = [part.tails for part in parts]
        joined = np.concatenate(tails) if all(item is not None for item in tails) else None
        return cls(*(np.concatenate([getattr(part, name) for part in parts]) for name in arrays), listing, joined)


def scores_rank(scores: np.ndarray, employer_ids: np.ndarray, cutoffs: dict[str, float]) -> tuple[np.ndarray, ...]:
    """Rank (1 = highest score, ties by employer id), percentile (share scored lower, 0-100) and band (1-4)."""
    count = len(scores)
    order = np.lexsort((employer_ids, -scores))
    rank = np.empty(count, dtype=np.int64)
    rank[order] = np.arange(1, count + 1)
    percentile = 100.0 * (count - rank) / count
    band = np.full(count, 4, dtype=np.int16)
    # Rounded first: 0.07 * 100 is 7.000000000000001 in floating point, which would ceil to 8.
    limits = np.ceil(np.round(np.array([cutoffs["red"], cutoffs["orange"], cutoffs["green"]]) * count, 6))
    for number, limit in reversed(list(enumerate(limits, start=1))):
        band[rank <= limit] = number
    return rank, percentile, band


def _numbers(values: np.ndarray, digits: int) -> np.ndarray:
    text = np.round(values, digits).astype(str)
    return np.where(np.isnan(values), "\\N", text)


def row_tails(scored: ScoredSector, features: list[str]) -> np.ndarray:
    """Each employer's COPY text after its rank, percentile and band (which need the whole
    sector): employer_id, score, the three reasons with their values, the list columns."""
    names = np.array([*features, ""], dtype=object)  # index -1 picks ""
    count = len(scored.scores)
    columns = [scored.employer_ids.astype(str), np.round(scored.scores, 6).astype(str)]
    for slot in range(REASONS):
        columns.append(names[scored.reason_index[:, slot]])
        columns.append(_numbers(scored.reason_value[:, slot], 4))
    columns.extend(_listing_columns(scored.listing, slice(None), count))
    return np.fromiter(map("\t".join, zip(*columns, strict=True)), dtype=object, count=count)


def rows_render(
    run_id: int,
    scored: ScoredSector,
    rank: np.ndarray,
    percentile: np.ndarray,
    band: np.ndarray,
    features: list[str],
) -> Iterator[tuple[bytes, int]]:
    """The score rows in COPY text format, in rank order, in chunks: (payload, row count).
    Columns: run_id, rank, percentile, band, then row_tails' (runs._SCORE_COLUMNS).

    In rank order, so that a run's rows lie in the table as the lists read them: a page
    filtered on a rare value (a size class, a legal form) walks the (run, rank) index past
    thousands of rows, and reads them from a few consecutive table pages instead of one page
    each. The index itself is then filled from left to right, which is cheaper too.
    """
    tails = scored.tails if scored.tails is not None else row_tails(scored, features)
    order = np.argsort(rank, kind="stable")
    for start in range(0, len(rank), RENDER_ROWS):
        part = order[start : start + RENDER_ROWS]
        count = len(part)
        columns = [
            constant(str(run_id), count),
            rank[part].astype(str),
            np.round(percentile[part], 3).astype(str),
            band[part].astype(str),
            tails[part],
        ]
        yield copy_text(columns), count


def _listing_columns(listing: Listing | None, part: slice, count: int) -> list[np.ndarray]:
    """subregion_id, size_class, legal_form, visit_recency (LISTING_COLUMNS order)."""
    if listing is None:
        return [constant("\\N", count), constant("\\N", count), constant("", count), constant("\\N", count)]
    size = listing.size_class[part]
    return [
        listing.subregion[part],
        np.where(size > 0, size.astype(str), "\\N"),
        listing.legal_form[part],
        listing.visit_recency[part].astype(str),
    ]
