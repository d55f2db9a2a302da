"""Employers: stored attributes, latent fraud propensity and symptoms, company names, and their COPY."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from inspections.models import Employer, LegalForm

from .profiles import (
    ALL_SYMPTOMS,
    BSE,
    DAYS_PER_QUARTER,
    LATE_ONSET_SHARE,
    LEGAL_EFFECT,
    LEGAL_FORMS,
    NOISE_SD,
    OFFENCE_INTERCEPT,
    OFFENCES,
    OLD_EFFECT,
    SECTOR_PROFILES,
    SHARED_SD,
    SIZE_EFFECT,
    STRUGGLING_SHARE,
    SYMPTOM_PROBABILITY,
    SYMPTOMS,
    TRACE_SHARE,
    UW,
    YOUNG_EFFECT,
    SectorProfile,
)
from .reference import _Reference, _Window
from .writing import _copy


@dataclass
class _Employers:
    """One chunk of employers: the attributes that are stored and the latent ones that are not."""

    sector: np.ndarray
    nace: np.ndarray
    postal: np.ndarray
    legal: np.ndarray
    size: np.ndarray  # typical workforce
    start: np.ndarray  # datetime64[D]
    end: np.ndarray  # datetime64[D]; as_of + 100 years when still active
    struggling: np.ndarray  # a legitimate firm in difficulty
    flexible: np.ndarray  # a legitimate firm living on extras and short contracts
    fraud: np.ndarray  # (n, 4) bool: commits the offence during the window
    intensity: np.ndarray  # (n, 4) how heavily, 0.5..1.5
    onset: np.ndarray  # (n, 4) datetime64[D]: from when (the company's start for most fraudsters)
    logit: np.ndarray  # (n, 4) latent propensity
    symptom: dict[str, np.ndarray]  # strength of every symptom in ALL_SYMPTOMS, 0 for most


# What the inspection draw and the ground truth need to know about every employer, kept from each chunk.
_POPULATION_FIELDS = ("sector", "size", "start", "end", "fraud", "intensity", "onset", "logit")


@dataclass(frozen=True)
class _Population:
    """All employers together (ids and the _POPULATION_FIELDS), plus the declarations written."""

    ids: np.ndarray
    enterprise_numbers: np.ndarray
    sector: np.ndarray
    size: np.ndarray
    start: np.ndarray
    end: np.ndarray
    fraud: np.ndarray
    intensity: np.ndarray
    onset: np.ndarray
    logit: np.ndarray
    declarations: int

    @classmethod
    def from_chunks(cls, chunks: list[dict[str, np.ndarray]], declarations: int) -> _Population:
        names = ("ids", "enterprise_numbers", *_POPULATION_FIELDS)
        columns = {name: np.concatenate([chunk[name] for chunk in chunks]) for name in names}
        return cls(**columns, declarations=declarations)

    def committing(self, day: np.ndarray, employers: np.ndarray | None = None) -> np.ndarray:
        """(rows, 4) bool: which offences each employer (all, or those given) commits on the given days."""
        rows = slice(None) if employers is None else employers
        return self.fraud[rows] & (self.onset[rows] <= np.asarray(day)[..., None])


def _identifiers_draw(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Unique KBO/BCE numbers (eight digits, then 97 minus their mod 97) and NSSO numbers."""
    # Real numbers run from 0200.000.000 upward; the first digit is 0 or 1.
    base = rng.choice(18_000_000, size=count, replace=False).astype(np.int64) + 2_000_000
    enterprise = base * 100 + (97 - base % 97)
    nsso = rng.choice(9_000_000_000, size=count, replace=False).astype(np.int64) + 1_000_000_000
    return np.char.zfill(enterprise.astype(str), 10), nsso.astype(str)


def _employers_draw(rng: np.random.Generator, ref: _Reference, n: int, window: _Window, mechanisms: str) -> _Employers:
    """Stored attributes (sector, NACE, place, legal form, dates) and latent ones (fraud, look-alikes)."""
    profiles = ref.profiles
    sector = rng.choice(len(profiles), size=n, p=[p.share for p in profiles])
    legal = np.empty(n, dtype=np.int64)
    for s, profile in enumerate(profiles):
        legal[sector == s] = rng.choice(len(LEGAL_FORMS), size=int(np.sum(sector == s)), p=profile.legal_shares)
    size = _sizes_draw(rng, sector, profiles)
    # Company age spread over decades: many young firms, some over half a century old.
    age_years = np.minimum(rng.exponential(12.0, size=n) + 0.1, 70.0)
    start = window.as_of - np.round(age_years * 365.25).astype("timedelta64[D]")
    young, old = age_years < 3, age_years > 20
    logit = _propensity_logits(rng, sector, size, young, old, legal, profiles)
    fraud = rng.random((n, len(OFFENCES))) < 1 / (1 + np.exp(-logit))
    struggling = rng.random(n) < STRUGGLING_SHARE * np.where(young, 1.5, 1.0)
    intensity = rng.uniform(0.5, 1.5, size=(n, len(OFFENCES)))
    nace = _within_groups_draw(rng, ref.nace_sector, sector)
    postal = rng.choice(len(ref.postal_codes), size=n, p=ref.postal_weight)
    end = _closures_draw(rng, sector, start, young, struggling, fraud, window, profiles)
    flexible = rng.random(n) < np.array([p.flexible_share for p in profiles])[sector]
    return _Employers(
        sector=sector,
        nace=nace,
        postal=postal,
        legal=legal,
        size=size,
        start=start,
        end=end,
        struggling=struggling,
        flexible=flexible,
        fraud=fraud,
        intensity=intensity,
        onset=_onsets_draw(rng, start, end, window),
        logit=logit,
        symptom=_symptoms_draw(rng, fraud, intensity, mechanisms),
    )


def _onsets_draw(rng: np.random.Generator, start: np.ndarray, end: np.ndarray, window: _Window) -> np.ndarray:
    """(n, 4) first day of each offence: the company's start, or for late starters a declared quarter.

    Late starters begin on the first day of one of the declared quarters after the first,
    while the company is open, so that they too commit the offence during the window.
    """
    n, offences = start.size, len(OFFENCES)
    late = rng.random((n, offences)) < LATE_ONSET_SHARE
    later = window.quarters[1:]
    pick = np.floor(rng.random((n, offences)) * max(later.size, 1)).astype(np.int64)
    if not later.size:  # one declared quarter: nobody starts within it
        return np.repeat(start[:, None], offences, axis=1)
    quarter = later[pick]
    last = (end - np.timedelta64(DAYS_PER_QUARTER, "D"))[:, None]  # a quarter before it closes, at the latest
    late &= (quarter > start[:, None]) & (quarter <= last)
    return np.where(late, quarter, start[:, None])


def _symptoms_draw(
    rng: np.random.Generator, fraud: np.ndarray, intensity: np.ndarray, mechanisms: str
) -> dict[str, np.ndarray]:
    """Strength of each symptom: zero unless the employer commits the offence, leaves traces and shows that one.

    The same draws serve either set of mechanisms (four chances per offence, used in the
    order of its symptoms), so that a seed gives the same fraudsters with a and b.
    """
    n = fraud.shape[0]
    strength = fraud * intensity * (rng.random((n, len(OFFENCES))) < TRACE_SHARE)
    shows = rng.random((n, len(OFFENCES), 4)) < SYMPTOM_PROBABILITY
    symptom = {name: np.zeros(n) for name in ALL_SYMPTOMS}
    used = [0] * len(OFFENCES)
    for name, (k, _) in SYMPTOMS[mechanisms].items():
        symptom[name] = strength[:, k] * shows[:, k, used[k]]
        used[k] += 1
    return symptom


def _sizes_draw(rng: np.random.Generator, sector: np.ndarray, profiles: list[SectorProfile]) -> np.ndarray:
    """Workforce with a Pareto tail: over half have one worker, ~93 % fewer than ten, a few hundreds."""
    alpha = np.array([p.size_alpha for p in profiles])[sector]
    return np.minimum(np.floor(rng.random(sector.size) ** (-1 / alpha)), 3000).astype(np.int64)


def _within_groups_draw(rng: np.random.Generator, item_group: np.ndarray, group: np.ndarray) -> np.ndarray:
    """For each row, an item (e.g. a NACE code) drawn uniformly among those of the row's group."""
    chosen = np.empty(group.size, dtype=np.int64)
    for g in np.unique(group):
        items = np.flatnonzero(item_group == g)
        rows = group == g
        chosen[rows] = items[rng.integers(items.size, size=int(rows.sum()))]
    return chosen


def _propensity_logits(
    rng: np.random.Generator,
    sector: np.ndarray,
    size: np.ndarray,
    young: np.ndarray,
    old: np.ndarray,
    legal: np.ndarray,
    profiles: list[SectorProfile],
) -> np.ndarray:
    """Latent propensity per offence: mild observable effects, a shared factor, much noise."""
    n = sector.size
    sector_effect = np.array([p.offence_logit for p in profiles])[sector]
    size_term = np.outer(np.log1p(size) - 1.0, SIZE_EFFECT)
    age_term = np.outer(young, YOUNG_EFFECT) + np.outer(old, OLD_EFFECT)
    shared = rng.normal(0.0, SHARED_SD, size=(n, 1))
    noise = rng.normal(0.0, NOISE_SD, size=(n, len(OFFENCES)))
    return OFFENCE_INTERCEPT + sector_effect + size_term + age_term + LEGAL_EFFECT[legal] + shared + noise


def _closures_draw(
    rng: np.random.Generator,
    sector: np.ndarray,
    start: np.ndarray,
    young: np.ndarray,
    struggling: np.ndarray,
    fraud: np.ndarray,
    window: _Window,
    profiles: list[SectorProfile],
) -> np.ndarray:
    """Closure or bankruptcy dates within the inspection window; far future for the rest."""
    hazard = np.array([p.closure_hazard for p in profiles])[sector]
    # Young, struggling and "phoenix" employers (undeclared work, bogus self-employment) close more.
    hazard = hazard * np.where(young, 1.6, 1.0) * np.where(struggling, 1.8, 1.0)
    hazard = hazard * np.where(fraud[:, UW] | fraud[:, BSE], 1.4, 1.0)
    opens = np.maximum(start, window.inspections_from)
    years = (window.as_of - opens).astype(float) / 365.25
    closes = rng.random(sector.size) < 1 - np.exp(-hazard * years)
    offset = np.floor(rng.random(sector.size) * (window.as_of - opens).astype(float)).astype("timedelta64[D]")
    end = np.maximum(opens + offset, start + np.timedelta64(30, "D"))
    far = window.as_of + np.timedelta64(36_500, "D")
    return np.where(closes & (end < window.as_of), end, far)


# --- Names ---------------------------------------------------------------------------

# fmt: off
_FAMILY_NL = np.array([
    "Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters",
    "De Smet", "Vermeulen", "Pauwels", "Van den Broeck", "Hermans", "Aerts", "Michiels", "Dierckx",
    "Verstraete", "Lemmens", "Coppens", "Segers", "Martens", "Cools", "Smets", "Van Damme", "Desmet",
    "Hendrickx", "Wuyts", "Bogaert", "Claeys", "Verhoeven", "Stevens", "Dewulf", "Declercq",
])
_FAMILY_FR = np.array([
    "Dubois", "Lambert", "Martin", "Dupont", "Simon", "Laurent", "Leclercq", "Dumont", "Lejeune",
    "Renard", "Leroy", "Lefebvre", "Mathieu", "Collard", "Mercier", "François", "Denis", "Masson",
    "Gilson", "Henry", "Lemaire", "Marchal", "Thiry", "Piette", "Hubert", "Jacquet", "Fontaine",
    "Noël", "Bertrand", "Charlier", "Wauters", "Lecomte", "Maréchal", "Delvaux",
])
# Trade words per sector (by joint committee), in Dutch, French and English.
_TRADES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "124": (
        ("Bouwwerken", "Bouw", "Renovatie", "Dakwerken", "Schilderwerken", "Elektro", "Sanitair",
         "Tegelwerken", "Aannemingen", "Metselwerken"),
        ("Construction", "Rénovation", "Toitures", "Peinture", "Électricité", "Sanitaire", "Carrelages",
         "Entreprise", "Maçonnerie", "Bâtiment"),
        ("Build", "Construct", "Renovation", "Roofing", "Building Works"),
    ),
    "302": (
        ("Brasserie", "Eethuis", "Hotel", "Taverne", "Restaurant", "Frituur", "Café", "Bistro", "Traiteur"),
        ("Brasserie", "Restaurant", "Hôtel", "Taverne", "Friterie", "Bistro", "Traiteur", "Auberge", "Snack"),
        ("Grill", "Kitchen", "Lounge", "Hotel", "Diner"),
    ),
    "121": (
        ("Schoonmaak", "Poetsdienst", "Reiniging", "Glazenwassers", "Schoonmaakdiensten"),
        ("Nettoyage", "Entretien", "Propreté", "Lavage", "Services de nettoyage"),
        ("Cleaning", "Clean", "Facility Services", "Cleaning Services"),
    ),
}
_BRANDS = np.array([
    "Euro", "Top", "Nova", "Prima", "Alpha", "Delta", "Best", "Quality", "Royal", "City", "Modern", "Pro",
])
# fmt: on
_SUFFIX_NL = ("BV", "NV", "CV", "CommV", "VOF", "VZW", "", "")
_SUFFIX_FR = ("SRL", "SA", "SC", "SComm", "SNC", "ASBL", "", "")
_SUFFIX_FOREIGN = np.array(["Ltd", "GmbH", "B.V.", "SARL", "Sp. z o.o.", "S.R.L.", "Lda", "s.r.o."])


def _names_draw(rng: np.random.Generator, ref: _Reference, employers: _Employers) -> np.ndarray:
    """Plausible Belgian company names: trade words and family names plus the legal-form suffix."""
    n = employers.sector.size
    french = rng.random(n) < ref.postal_french[employers.postal]
    english = rng.random(n) < 0.12
    family = np.where(french, rng.choice(_FAMILY_FR, n), rng.choice(_FAMILY_NL, n)).astype(object)
    other = np.where(french, rng.choice(_FAMILY_FR, n), rng.choice(_FAMILY_NL, n)).astype(object)
    trade = _trades_draw(rng, employers.sector, np.where(english, 2, np.where(french, 1, 0)))
    partner = np.where(french, " & Fils", np.where(rng.random(n) < 0.5, " & Zonen", " & Co")).astype(object)
    patterns = [
        trade + " " + family,
        family + " " + trade,
        family + partner,
        trade + " " + family + "-" + other,
        rng.choice(_BRANDS, n).astype(object) + " " + trade,
    ]
    name = np.choose(rng.choice(len(patterns), size=n, p=[0.35, 0.2, 0.15, 0.1, 0.2]), patterns)
    return name + _suffixes(rng, employers.legal, french)


def _trades_draw(rng: np.random.Generator, sector: np.ndarray, language: np.ndarray) -> np.ndarray:
    trade = np.empty(sector.size, dtype=object)
    for s, joint_committee in enumerate(SECTOR_PROFILES):
        for lang, words in enumerate(_TRADES[joint_committee]):
            rows = (sector == s) & (language == lang)
            trade[rows] = rng.choice(np.array(words), int(rows.sum()))
    return trade


def _suffixes(rng: np.random.Generator, legal: np.ndarray, french: np.ndarray) -> np.ndarray:
    """Suffix in the company's language; sole traders have none, foreign firms their own."""
    nl = np.array(_SUFFIX_NL, dtype=object)[legal]
    fr = np.array(_SUFFIX_FR, dtype=object)[legal]
    suffix = np.where(french, fr, nl)
    foreign = legal == LEGAL_FORMS.index(LegalForm.FOREIGN)
    suffix[foreign] = rng.choice(_SUFFIX_FOREIGN, int(foreign.sum()))
    return np.where(suffix == "", "", " " + suffix.astype(str)).astype(object)


def _employers_copy(
    ids: np.ndarray,
    employers: _Employers,
    names: np.ndarray,
    enterprise_numbers: np.ndarray,
    nsso_numbers: np.ndarray,
    ref: _Reference,
) -> None:
    far = employers.end > np.datetime64("2100-01-01")
    frame = pd.DataFrame(
        {
            "id": ids,
            "enterprise_number": enterprise_numbers,
            "nsso_number": nsso_numbers,
            "name": names,
            "legal_form": np.array([form.value for form in LEGAL_FORMS])[employers.legal],
            "nace": ref.nace_codes[employers.nace],
            "sector": ref.sector_codes[employers.sector],
            "joint_committee": ref.joint_committees[employers.sector],
            "postal_code": ref.postal_codes[employers.postal],
            "subregion": ref.postal_subregion[employers.postal],
            "start_date": np.datetime_as_string(employers.start),
            "end_date": np.where(far, "", np.datetime_as_string(employers.end)),
            # When the row was written: bookkeeping, not part of the seeded data.
            "updated_at": dt.datetime.now(dt.UTC).isoformat(),
        }
    )
    _copy(Employer, list(frame.columns), frame.to_csv(header=False, index=False), csv=True)
