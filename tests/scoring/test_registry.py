"""The feature registry: described in words, no personal characteristics or web data, reasons in a sentence."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from scoring.features.computation import COLUMNS, LIST_COLUMNS
from scoring.features.registry import (
    DENYLIST,
    FEATURE_NAMES,
    FEATURES,
    FeatureRefused,
    features_check,
    reason_text,
)

KNOWN_TABLES = {"inspections_declaration", "inspections_employer", "inspections_inspection", "inspections_finding"}


@pytest.mark.parametrize("name", FEATURE_NAMES)
def test_every_feature_is_described_in_english(name) -> None:
    feature = FEATURES[name]
    assert feature.name == name
    with translation.override("en"):
        label, description, risk = str(feature.label), str(feature.description), str(feature.risk)
    assert label and label == label.strip(), label
    # Sentences of words, not a column name: at least a few words, ending with a full stop.
    for text in (description, risk):
        assert len(text.split()) >= 5 and text.endswith("."), text
        assert "_" not in text, text
    assert feature.sources and set(feature.sources) <= KNOWN_TABLES
    assert re.fullmatch(r"[a-z_]+", name)


def test_the_feature_sql_computes_exactly_the_registered_features() -> None:
    assert list(COLUMNS[2 : -len(LIST_COLUMNS)]) == list(FEATURE_NAMES)
    assert features_check(FEATURE_NAMES) == list(FEATURE_NAMES)


@pytest.mark.parametrize(
    "name",
    [
        "nationality",
        "Nationality",
        "worker_nationality_share",
        "gender",
        "share_female_gender",
        "sex",
        "age",
        "worker_age",
        "manager_age_years",
        "mother_tongue",
        "language",
        "birth_country",
        "country_of_birth",
        "ethnicity",
        "religion",
        "disability_share",
        "marital_status",
        "family_size",
        "manager_name",
        "home_address",
        "facebook_likes",
        "social_media_activity",
        "website_visits",
        "web_mentions",
        "online_reviews",
        "linkedin_posts",
        "twitter_followers",
        # Proxies of sex, nationality and age.
        "female_share",
        "women_share",
        "male_workers",
        "foreigner_share",
        "migrant_share",
        "immigrant_workers",
        "worker_ages",
        "youth_share",
        "sexual_orientation",
        "skin_colour",
    ],
)
def test_personal_characteristics_and_web_data_are_refused(name) -> None:
    with pytest.raises(FeatureRefused, match=rf"Not allowed: {name}: personal characteristics"):
        features_check(["headcount", name])


def test_a_denied_name_is_refused_even_among_allowed_ones() -> None:
    with pytest.raises(FeatureRefused) as refused:
        features_check([*FEATURE_NAMES, "worker_age", "facebook_likes"])
    assert "worker_age, facebook_likes" in str(refused.value)


def test_registered_names_do_not_trip_the_denylist() -> None:
    """The denylist must not catch the legitimate features (e.g. 'headcount_change' has 'age' inside a word)."""
    assert [name for name in FEATURE_NAMES if DENYLIST.search(name)] == []


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["profit_margin"], "Not in the feature registry: profit_margin"),
        (["headcount", "turnover", "vat_gap"], "Not in the feature registry: turnover, vat_gap"),
        ([], "at least one feature"),
        (iter([]), "at least one feature"),
        (["headcount", "hires_per_worker", "headcount"], "listed twice"),
    ],
    ids=["unknown", "several unknown", "empty", "empty iterator", "duplicate"],
)
def test_unknown_empty_and_duplicate_lists_are_refused(names, message) -> None:
    with pytest.raises(FeatureRefused, match=message):
        features_check(names)


def test_features_check_returns_the_names_in_order() -> None:
    assert features_check(iter(["hires_per_worker", "headcount"])) == ["hires_per_worker", "headcount"]


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("wage_per_fte_vs_sector", -0.38, "wage per FTE 38 % below the sector median"),
        ("wage_per_fte_vs_sector", 0.12, "wage per FTE 12 % above the sector median"),
        ("wage_per_fte_vs_sector", 0.0, "wage per FTE 0 % above the sector median"),
        ("headcount_change", -0.25, "workers down 25 % in a year"),
        ("headcount_change", 0.5, "workers up 50 % in a year"),
        ("part_time_share", 0.8, "80 % of the workers part-time"),
        ("hires_per_worker", 1.234, "1.23 hires per worker in a year"),
        ("earlier_findings", 2, "2 offences found by earlier inspections"),
        ("hours_per_fte", 300.4, "300 declared hours per FTE a quarter"),
    ],
)
def test_reason_text_in_english(name, value, text) -> None:
    with translation.override("en"):
        assert reason_text(name, value) == text


@pytest.mark.parametrize("name", FEATURE_NAMES)
@pytest.mark.parametrize("value", [-0.5, 0.0, 0.37, 12.0])
def test_every_feature_has_a_reason_sentence(name, value) -> None:
    with translation.override("en"):
        text = reason_text(name, value)
    assert text and "%(" not in text and "%%" not in text, text


def test_reason_text_without_a_value_or_for_an_unknown_name() -> None:
    with translation.override("en"):
        assert reason_text("hires_per_worker", None) == "hires per worker"
        assert reason_text("no_such_feature", 1.0) == "no_such_feature"


@pytest.mark.parametrize("language", ["nl", "fr"])
@pytest.mark.parametrize("name", FEATURE_NAMES)
def test_every_feature_is_translated(name, language) -> None:
    feature = FEATURES[name]
    with translation.override("en"):
        english = [str(feature.label), str(feature.description), str(feature.risk)]
    with translation.override(language):
        translated = [str(feature.label), str(feature.description), str(feature.risk)]
    for text, original in zip(translated, english, strict=True):
        assert text and text.strip() == text, (language, original)
        assert text != original, (language, original)


@pytest.mark.parametrize("language", ["nl", "fr"])
@pytest.mark.parametrize("name", FEATURE_NAMES)
def test_every_reason_sentence_is_translated(name, language) -> None:
    with translation.override("en"):
        english = reason_text(name, 0.37)
    with translation.override(language):
        text = reason_text(name, 0.37)
    assert text and text != english, (language, english)
    assert "%(" not in text and "%%" not in text, text


@pytest.mark.parametrize(
    ("language", "name", "value", "text"),
    [
        # Numbers follow the language: a decimal comma in Dutch and French, and no thousands
        # separator (USE_THOUSAND_SEPARATOR is off; Django 5 always localises formats).
        ("nl", "wage_per_fte_vs_sector", -0.38, "loon per VTE 38 % onder de mediaan van de sector"),
        ("fr", "wage_per_fte_vs_sector", 0.12, "salaire par ETP 12 % au-dessus de la médiane du secteur"),
        ("nl", "hires_per_worker", 1.25, "1,25 indiensttredingen per werknemer in een jaar"),
        ("fr", "hires_per_worker", 1.25, "1,25 entrées en service par travailleur en un an"),
        ("nl", "headcount", 1234.5, "gemiddeld 1234,5 werknemers"),
        ("fr", "headcount", 1234.5, "1234,5 travailleurs en moyenne"),
        (
            "fr",
            "layoff_days_change",
            -2.5,
            "chômage temporaire en baisse de 2,5 jours par travailleur par rapport au semestre précédent",
        ),
        ("fr", "part_time_share", 0.8, "80 % des travailleurs à temps partiel"),
    ],
)
def test_reason_text_in_dutch_and_french(language, name, value, text) -> None:
    with translation.override(language):
        assert reason_text(name, value) == text


def test_reason_text_without_a_value_gives_the_translated_label() -> None:
    with translation.override("nl"):
        assert reason_text("hires_per_worker", None) == "indiensttredingen per werknemer"
    with translation.override("fr"):
        assert reason_text("layoff_days_per_worker", None) == "chômage temporaire"


def test_reason_numbers_are_rounded_not_cut() -> None:
    from scoring.features.registry import reason_text

    assert reason_text("hours_per_fte", 455.9) == "456 declared hours per FTE a quarter"
    assert reason_text("hires_per_worker", 2.999) == "3.00 hires per worker in a year"


def test_counts_take_the_right_plural() -> None:
    from django.utils import translation

    from scoring.features.registry import reason_text

    assert reason_text("earlier_findings", 1.0) == "1 offence found by earlier inspections"
    assert reason_text("earlier_findings", 3.0) == "3 offences found by earlier inspections"
    with translation.override("nl"):
        assert reason_text("earlier_inspections", 1.0) == "1 eerdere inspectie"
        assert reason_text("earlier_inspections", 2.0) == "2 eerdere inspecties"
