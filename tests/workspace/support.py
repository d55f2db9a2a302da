"""Helpers of the workspace tests: a published scoring run with consistent Score and ScoreCount rows.

`publish_run` writes what a scoring run would: employers, one Score per employer (bands by
rank 5/10/25/60 %, the list columns cycling through sub-regions of two regions, size
classes, legal forms and visit recencies) and the ScoreCount rows summed from those scores,
so that any count the pages show can be checked against a count of Score rows.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from inspections.models import Employer, Finding, Inspection, InspectorScope, NaceCode, PostalCode, Region
from scoring.models import ModelVersion, RunLookup, Score, ScoreCount, ScoringRun
from scoring.services.lookups import lookup_pack
from tests.factories import (
    FindingFactory,
    InspectionFactory,
    ModelVersionFactory,
    ScoringRunFactory,
    valid_enterprise_number,
)

SECTOR = "cleaning"  # the first sector and offence (by code): the list's defaults
OFFENCE = "bogus_self_employment"
# (postal code, sub-region): Antwerp and Halle-Vilvoorde (Flemish Region), Liège (Walloon Region).
PLACES = [("2000", "BE211"), ("1800", "BE241"), ("4000", "BE332")]
LEGAL_FORMS = ["BV", "NV", "VZW", "EZ", "FOREIGN"]
NACE_OF = {"cleaning": "81.210", "construction": "43.320", "hospitality": "56.101"}


_serial = itertools.count(500_000)  # far from EmployerFactory's sequence


def band_for(rank: int, total: int) -> int:
    share = rank / total
    return 1 if share <= 0.05 else 2 if share <= 0.15 else 3 if share <= 0.40 else 4


@dataclass
class Published:
    run: ScoringRun
    scores: list[Score]  # in rank order

    def by_rank(self, rank: int) -> Score:
        return self.scores[rank - 1]

    def employer(self, rank: int) -> Employer:
        return self.scores[rank - 1].employer


def publish_run(
    n: int = 120,
    *,
    sector: str = SECTOR,
    offence: str = OFFENCE,
    names: dict[int, str] | None = None,
    places: list[tuple[str, str]] = PLACES,
    lookup: bool = True,
) -> Published:
    """A succeeded run of n employers (rank 1 = riskiest), its ScoreCount rows and (unless
    `lookup` is false, as in runs published before it existed) its RunLookup."""
    names = names or {}
    nace = NaceCode.objects.get(code=NACE_OF[sector])
    postal = {code: PostalCode.objects.get(code=code) for code, _ in places}
    employers = []
    for i in range(n):
        code, subregion = places[i % len(places)]
        serial = next(_serial)
        employers.append(
            Employer(  # not through save(): set the sector and sub-region it would copy
                enterprise_number=valid_enterprise_number(serial),
                name=names.get(i + 1, f"Employer {serial} BV"),
                legal_form=LEGAL_FORMS[i % len(LEGAL_FORMS)],
                nace=nace,
                sector_id=sector,
                joint_committee="121",
                postal_code=postal[code],
                subregion_id=subregion,
                start_date=dt.date(2015, 1, 1),
            )
        )
    Employer.objects.bulk_create(employers)
    version = ModelVersion.objects.active().filter(sector_id=sector, offence_type_id=offence).first()
    version = version or ModelVersionFactory(sector_id=sector, offence_type_id=offence)
    run = ScoringRunFactory(model_version=version, employers_scored=n)
    scores = []
    for i, employer in enumerate(employers):
        rank = i + 1
        scores.append(
            Score(
                run=run,
                employer=employer,
                score=round(1 - rank / (n + 1), 6),
                rank=rank,
                percentile=round(100 * (n - rank) / n, 3),
                band=band_for(rank, n),
                reason_1="wage_per_fte_vs_sector",
                reason_1_value=-0.38,
                reason_2="part_time_share",
                reason_2_value=0.6,
                subregion_id=employer.subregion_id,
                size_class=i % 4 + 1,
                legal_form=employer.legal_form,
                visit_recency=i % 5,
            )
        )
    Score.objects.bulk_create(scores)
    counts = Counter((s.subregion_id, s.size_class, s.legal_form, s.visit_recency, s.band) for s in scores)
    ScoreCount.objects.bulk_create(
        ScoreCount(
            run=run,
            subregion_id=subregion,
            size_class=size,
            legal_form=form,
            visit_recency=recency,
            band=band,
            employers=employers_n,
        )
        for (subregion, size, form, recency, band), employers_n in counts.items()
    )
    if lookup:
        first, packed = lookup_pack(
            employer_ids=np.array([s.employer_id for s in scores]),
            band=np.array([s.band for s in scores]),
            size_class=np.array([s.size_class for s in scores]),
            visit_recency=np.array([s.visit_recency for s in scores]),
            legal_form=np.array([s.legal_form for s in scores], dtype=object),
        )
        RunLookup.objects.create(run=run, first_employer=first, packed=packed)
    return Published(run, scores)


def publish_again(published: Published, *, offence: str) -> Published:
    """A run of the same employers, ranks and bands for another offence type of their sector
    (without a lookup: no name search on it)."""
    first = published.run
    version = ModelVersionFactory(sector_id=first.sector_id, offence_type_id=offence)
    run = ScoringRunFactory(model_version=version, employers_scored=first.employers_scored)
    scores = list(Score.objects.filter(run=first))
    for score in scores:  # the key is (run, rank): a new run is a new row
        score.run = run
    Score.objects.bulk_create(scores)
    counts = list(ScoreCount.objects.filter(run=first))
    for count in counts:
        count.pk, count.run = None, run
    ScoreCount.objects.bulk_create(counts)
    return Published(run, list(Score.objects.filter(run=run).select_related("employer").order_by("rank")))


def limit_to_region(user, code: str) -> InspectorScope:
    scope, _ = InspectorScope.objects.get_or_create(user=user)
    scope.regions.set(Region.objects.filter(code=code))
    return scope


_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")


def text(html: str) -> str:
    """The visible text of an HTML fragment, spaces collapsed (entities left as they are)."""
    return _SPACES.sub(" ", _TAGS.sub(" ", html)).strip()


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The body rows of the table with this id, as lists of cell texts."""
    match = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S)
    assert match, f"no table #{table_id}"
    return [
        [text(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", match.group(1), re.S)
    ]


def ranks_shown(response) -> list[int]:
    return [
        int(row[0].replace(",", "").replace(".", "")) for row in table_rows(response.content.decode(), "ranked-table")
    ]


def inspect(employer: Employer, visit: dt.date, *, found: bool, offence: str = "undeclared_work") -> Inspection:
    """A completed inspection of the employer with one finding."""
    inspection = InspectionFactory(employer=employer, visit_date=visit, status="completed")
    FindingFactory(
        inspection=inspection,
        offence_type_id=offence,
        found=found,
        workers_regularised=2 if found else 0,
        contributions_recovered=Decimal("1234.00") if found else Decimal("0"),
    )
    return inspection


def inspect_all(employers: list[Employer], visit: dt.date) -> None:
    """One completed inspection with a finding for each employer, in two statements."""
    inspections = Inspection.objects.bulk_create(
        Inspection(
            reference=f"BULK-{employer.pk}",
            employer=employer,
            origin="random_control",
            status="completed",
            visit_date=visit,
        )
        for employer in employers
    )
    Finding.objects.bulk_create(
        Finding(inspection=inspection, offence_type_id="undeclared_work", found=i % 2 == 0)
        for i, inspection in enumerate(inspections)
    )
