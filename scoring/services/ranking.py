"""Ranks, bands, reasons and COPY rows of a scored sector, vectorised (numpy, no loop per employer)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from dateutil.relativedelta import relativedelta

from miningwatch.bulk import constant, copy_text
from scoring.features.registry import reason_key
from scoring.models import Band, SizeClass, VisitRecency

from .artifacts import Artifact
from .contributions import LOG_ODDS, PROBABILITY, ModelContributions

REASONS = 3
# Reasons are given to these bands: the employers inspectors are sent to.
REASON_BANDS = (Band.RED, Band.ORANGE)
# The least a reason adds to the score. On the log-odds, 0.1 multiplies the odds by 1.1: a
# tenth more risk at the hit rates of inspections (5-15 %). On the probability scale (a
# forest), one percentage point: about as much at those rates.
MIN_CONTRIBUTION = {LOG_ODDS: 0.1, PROBABILITY: 0.01}
# Of each chunk, the share of highest scores whose contributions are computed while
# PostgreSQL computes the next chunk: red and orange are 15 % by default.
EARLY_SHARE = 0.2
# The sector's quartiles and medians are read off this many of its employers at random
# (all of a smaller sector): within a few tenths of a percentile of the exact ones.
PROFILE_SAMPLE = 100_000
RENDER_ROWS = 100_000
_NO_REASONS = "\t\\N\t\t\\N\t\t\\N"  # reason_1, reason_1_value, ...: empty and NULL


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
class FeatureRows:
    """A sector's feature rows (one column per model feature), kept in the chunks they were
    read in: joining them would copy the whole matrix, and only some rows are read again."""

    chunks: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return sum(len(chunk) for chunk in self.chunks)

    def take(self, positions: np.ndarray) -> np.ndarray:
        """The rows at these positions (0 to len - 1, in increasing order)."""
        starts = np.cumsum([0, *(len(chunk) for chunk in self.chunks)])
        bounds = np.searchsorted(positions, starts)  # each chunk's slice of `positions`
        out = np.empty((len(positions), self.chunks[0].shape[1]))
        for number, chunk in enumerate(self.chunks):
            mine = slice(bounds[number], bounds[number + 1])
            out[mine] = chunk[positions[mine] - starts[number]]
        return out

    def sample(self, count: int) -> np.ndarray:
        """All the rows, or `count` of them drawn at random (the same ones on every call)."""
        total = len(self)
        if total <= count:
            return self.take(np.arange(total))
        return self.take(np.sort(np.random.default_rng(0).choice(total, size=count, replace=False)))


@dataclass(frozen=True)
class SectorProfile:
    """Where a sector's employers stand on each feature as of a run (arrays, one value per
    feature): the first quartile, the median and the third quartile, each a value some
    employer has (so a count's median is a whole number). NaN for a feature nobody has."""

    low: np.ndarray
    median: np.ndarray
    high: np.ndarray

    @classmethod
    def of(cls, rows: np.ndarray) -> SectorProfile:
        """From feature rows (one column per feature), missing values left out."""
        quartiles = np.full((3, rows.shape[1]), np.nan)
        for column in range(rows.shape[1]):
            known = rows[:, column][~np.isnan(rows[:, column])]
            if len(known):
                # The smallest value with at least a quarter (a half, ...) of the employers at
                # or below it (numpy's "inverted_cdf"), by selection rather than a full sort.
                ranks = np.ceil(np.array([0.25, 0.5, 0.75]) * len(known)).astype(int) - 1
                quartiles[:, column] = np.partition(known, ranks)[ranks]
        return cls(*quartiles)

    def atypical(self, values: np.ndarray) -> np.ndarray:
        """Values outside the middle half of the sector; never a missing value, never the median."""
        return (values < self.low) | (values > self.high)


@dataclass(frozen=True)
class Early:
    """Contributions computed before the sector was ranked: rows (positions) and their
    contributions (one row each, one column per feature)."""

    positions: np.ndarray
    contributions: np.ndarray


@dataclass(frozen=True)
class Reasons:
    """The reasons of the rows at `positions`: index (k x 3, position in the model's feature
    list, -1 for none, strongest first) and value (k x 3, the employer's value, NaN for
    none); `profile` holds the sector medians they are compared with."""

    positions: np.ndarray
    index: np.ndarray
    value: np.ndarray
    profile: SectorProfile


@dataclass(frozen=True)
class ScoredSector:
    """Arrays of equal length n: employer_ids (int64) and scores (float64); with, for the
    reasons, the employers' feature rows, the model taken apart (ModelContributions) and
    the contributions of the rows most likely to be red or orange."""

    employer_ids: np.ndarray
    scores: np.ndarray
    rows: FeatureRows | None = None
    model: ModelContributions | None = None
    early: Early | None = None
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
        """A chunk's scores with what their reasons need.

        Reasons are given to the red and orange bands, which are known only once the
        whole sector is scored (rows_render picks them). The contributions of the chunk's
        highest EARLY_SHARE are computed now, while PostgreSQL computes the next chunk:
        in a chunk drawn from the whole sector they hold its red and orange employers,
        and rows_render computes any it still lacks.
        """
        model = artifact.contributions
        early = _highest(scores, EARLY_SHARE)
        explained = model.explain(values[early]).contributions
        return cls(employer_ids, scores, FeatureRows((values,)), model, Early(early, explained), listing)

    @classmethod
    def concat(cls, parts: list[ScoredSector]) -> ScoredSector:
        offsets = np.cumsum([0, *(len(part.scores) for part in parts)])
        listings = [part.listing for part in parts]
        tails = [part.tails for part in parts]
        explained = all(part.rows is not None and part.early is not None for part in parts)
        return cls(
            np.concatenate([part.employer_ids for part in parts]),
            np.concatenate([part.scores for part in parts]),
            FeatureRows(tuple(chunk for part in parts for chunk in part.rows.chunks)) if explained else None,
            parts[0].model if explained else None,
            Early(
                np.concatenate([part.early.positions + at for part, at in zip(parts, offsets[:-1], strict=True)]),
                np.concatenate([part.early.contributions for part in parts]),
            )
            if explained
            else None,
            Listing.concat(listings) if all(item is not None for item in listings) else None,
            np.concatenate(tails) if all(item is not None for item in tails) else None,
        )

    def reasons(self, band: np.ndarray) -> Reasons | None:
        """The reasons of the red and orange employers (see reasons_pick); None without
        feature rows."""
        if self.rows is None or self.model is None or self.early is None:
            return None
        positions = np.flatnonzero(np.isin(band, REASON_BANDS))
        profile = SectorProfile.of(self.rows.sample(PROFILE_SAMPLE))
        # What each feature adds at the sector's medians: the reference of the direction.
        typical = self.model.explain(profile.median[np.newaxis, :]).contributions[0]
        index, value = reasons_pick(
            contributions=self._contributions(positions),
            values=self.rows.take(positions),
            profile=profile,
            typical=typical,
            floor=MIN_CONTRIBUTION[self.model.scale],
        )
        return Reasons(positions, index, value, profile)

    def _contributions(self, positions: np.ndarray) -> np.ndarray:
        """Contributions of the rows at `positions`: computed early, or now."""
        early = self.early.positions  # in increasing order (explain, concat)
        at = np.minimum(np.searchsorted(early, positions), max(len(early) - 1, 0))
        known = early[at] == positions if len(early) else np.zeros(len(positions), dtype=bool)
        if known.all():
            return self.early.contributions[at]
        out = np.empty((len(positions), self.early.contributions.shape[1]))
        out[known] = self.early.contributions[at[known]]
        out[~known] = self.model.explain(self.rows.take(positions[~known])).contributions
        return out


def _highest(scores: np.ndarray, share: float) -> np.ndarray:
    """Positions of the `share` highest scores, in position order."""
    count = min(len(scores), int(np.ceil(share * len(scores))))
    if count == 0 or count == len(scores):
        return np.arange(count)
    return np.sort(np.argpartition(-scores, count - 1)[:count])


def reasons_pick(
    *, contributions: np.ndarray, values: np.ndarray, profile: SectorProfile, typical: np.ndarray, floor: float
) -> tuple[np.ndarray, np.ndarray]:
    """Up to three reasons per row, strongest contribution first: index (n x 3, -1 for
    none) and value (n x 3, NaN for none).

    A feature is a reason when all of these hold:

    - it raises the employer's score by at least `floor` (MIN_CONTRIBUTION);
    - the employer's value is known and outside the middle half of the sector, below its
      first quartile or above its third: a value most employers share (no earlier
      inspection, no short contracts) is no reason, however the model weighs it, and a
      value equal to the median never is;
    - it raises this employer's score more than it raises one at the sector's medians
      (`typical`), so that the direction the reason states (above or below the median)
      is the one that raises the score.
    """
    eligible = (contributions >= floor) & profile.atypical(values) & (contributions > typical)
    weight = np.where(eligible, contributions, 0.0)
    rows = np.arange(len(weight))
    index = np.full((len(weight), REASONS), -1)
    value = np.full((len(weight), REASONS), np.nan)
    for number in range(min(REASONS, weight.shape[1])):  # strongest first, ties by feature
        best = weight.argmax(axis=1)
        named = weight[rows, best] > 0
        index[named, number] = best[named]
        value[named, number] = values[rows[named], best[named]]
        weight[rows, best] = 0.0
    return index, value


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
    """The values as COPY text, NULL for NaN; only the values that are there are converted
    (most reason slots are empty)."""
    out = constant("\\N", len(values))
    known = ~np.isnan(values)
    out[known] = np.round(values[known], digits).astype(str)
    return out


def _joined(columns: list[np.ndarray], count: int) -> np.ndarray:
    # Lists iterate faster than arrays, whose elements become Python objects one by one.
    return np.fromiter(map("\t".join, zip(*(column.tolist() for column in columns), strict=True)), object, count)


def row_tails(scored: ScoredSector, features: list[str] | None = None) -> np.ndarray:
    """Each employer's COPY text that needs neither ranks nor reasons (n x 2): employer_id
    and score; then the list columns. The reasons go between them (rows_render).
    `features` is not used: the reasons are written by rows_render."""
    count = len(scored.scores)
    head = _joined([scored.employer_ids.astype(str), np.round(scored.scores, 6).astype(str)], count)
    listing = _joined(_listing_columns(scored.listing, slice(None), count), count)
    return np.stack([head, listing], axis=1)


@dataclass(frozen=True)
class ReasonCells:
    """The six reason columns of each row as COPY text: `text` for the rows that have reasons
    (slot[position] >= 0), empty and NULL for the others."""

    slot: np.ndarray
    text: np.ndarray

    def of(self, positions: np.ndarray) -> np.ndarray:
        slot = self.slot[positions]
        cells = constant(_NO_REASONS, len(positions))
        mine = slot >= 0
        cells[mine] = self.text[slot[mine]]
        return cells


def reason_cells(reasons: Reasons | None, count: int, features: list[str]) -> ReasonCells:
    """The reason columns of `count` rows: for each reason the feature's name with the sector
    median it is compared with (registry.reason_key), and the employer's value."""
    slot = np.full(count, -1)
    if reasons is None or not len(reasons.positions):
        return ReasonCells(slot, np.empty(0, dtype=object))
    medians = reasons.profile.median
    keys = np.array([*(reason_key(name, medians[at]) for at, name in enumerate(features)), ""], dtype=object)
    columns = []
    for number in range(REASONS):
        columns.append(keys[reasons.index[:, number]])  # index -1 picks ""
        columns.append(_numbers(reasons.value[:, number], 4))
    slot[reasons.positions] = np.arange(len(reasons.positions))
    return ReasonCells(slot, _joined(columns, len(reasons.positions)))


def rows_render(
    run_id: int,
    scored: ScoredSector,
    rank: np.ndarray,
    percentile: np.ndarray,
    band: np.ndarray,
    features: list[str],
) -> Iterator[tuple[bytes, int]]:
    """The score rows in COPY text format, in rank order, in chunks: (payload, row count).
    Columns: run_id, rank, percentile, band, employer_id, score, the three reasons with
    their values, the list columns (runs._SCORE_COLUMNS).

    The reasons of the red and orange employers are picked here, once the bands are known
    (ScoredSector.reasons).

    In rank order, so that a run's rows lie in the table as the lists read them: a page
    filtered on a rare value (a size class, a legal form) walks the (run, rank) index past
    thousands of rows, and reads them from a few consecutive table pages instead of one page
    each. The index itself is then filled from left to right, which is cheaper too.
    """
    tails = scored.tails if scored.tails is not None else row_tails(scored)
    cells = reason_cells(scored.reasons(band), len(rank), features)
    order = np.argsort(rank, kind="stable")
    for start in range(0, len(rank), RENDER_ROWS):
        part = order[start : start + RENDER_ROWS]
        count = len(part)
        columns = [
            constant(str(run_id), count),
            rank[part].astype(str),
            np.round(percentile[part], 3).astype(str),
            band[part].astype(str),
            tails[part, 0],
            cells.of(part),
            tails[part, 1],
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
