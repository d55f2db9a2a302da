"""The problems and the summary of an import are worded in the language active while it
runs (the worker runs it inside translation.override of the uploader's language), with
the values filled in; in English they stay word for word as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import translation

from inspections.services.imports import declaration_import, employer_import

from .import_support import (
    DECLARATION_COLUMNS,
    EMPLOYER_COLUMNS,
    csv_text,
    csv_write,
    declaration_row,
    employer_row,
    problems,
)

pytestmark = pytest.mark.django_db

LANGUAGES = ["en", "nl", "fr"]
BAD_NUMBER = "0700000200"  # enterprise_number(2) is 0700000203: the mod-97 check fails
FORMS = "BV, NV, CV, COMMV, VOF, VZW, EZ, FOREIGN"
COLUMNS = ", ".join(EMPLOYER_COLUMNS)
LATIN1 = "000203,500000002,Café BV,BV,43.320,124,3"  # the bytes around the é, as Latin-1

# Where the problems of test_row_problems_and_summary are, then their reason in each language.
ROW_PLACES = [(3, "enterprise_number"), (3, "legal_form"), (3, "start_date"), (3, "end_date")]
ROW_PLACES += [(4, "enterprise_number"), (4, "nsso_number")]
ROW_REASONS = {
    "en": [
        f"'{BAD_NUMBER}' is not a valid enterprise number: the last two digits (the mod-97 check) do not match "
        "the first eight.",
        f"'GmbH' is not a known legal form; use one of: {FORMS}.",
        "'2024-02-30' is not a real date (no day 30 in month 2 of 2024).",
        "'31/12/2024' is not a date in the form YYYY-MM-DD (e.g. 2024-03-31).",
        "The same enterprise number is already on line 2.",
        "The same social-security number is already on line 2.",
        "File refused, nothing imported: 6 error(s) in 3 row(s).",
    ],
    "nl": [
        f"'{BAD_NUMBER}' is geen geldig ondernemingsnummer: de laatste twee cijfers (de controle modulo 97) kloppen "
        "niet met de eerste acht.",
        f"'GmbH' is geen gekende rechtsvorm; gebruik een van: {FORMS}.",
        "'2024-02-30' is geen bestaande datum (maand 2 van 2024 heeft geen dag 30).",
        "'31/12/2024' is geen datum in de vorm JJJJ-MM-DD (bv. 2024-03-31).",
        "Hetzelfde ondernemingsnummer staat al op regel 2.",
        "Hetzelfde RSZ-nummer staat al op regel 2.",
        "Bestand geweigerd, niets geïmporteerd: 6 fout(en) in 3 rij(en).",
    ],
    "fr": [
        f"« {BAD_NUMBER} » n'est pas un numéro d'entreprise valide : les deux derniers chiffres (le contrôle "
        "modulo 97) ne correspondent pas aux huit premiers.",
        f"« GmbH » n'est pas une forme juridique connue ; utilisez l'une des suivantes : {FORMS}.",
        "« 2024-02-30 » n'est pas une date qui existe (le mois 2 de 2024 n'a pas de jour 30).",
        "« 31/12/2024 » n'est pas une date au format AAAA-MM-JJ (p. ex. 2024-03-31).",
        "Le même numéro d'entreprise figure déjà à la ligne 2.",
        "Le même numéro ONSS figure déjà à la ligne 2.",
        "Fichier refusé, rien n'a été importé : 6 erreur(s) dans 3 ligne(s).",
    ],
}

# A header without end_date (but with "end"), a Latin-1 line, a line with a value too many.
FILE_REASONS = {
    "en": [
        "This column is missing from the header.",
        f"Unknown column; the columns are: {COLUMNS}.",
        f"Not UTF-8 text (byte 0xE9 in '{LATIN1}'; the file looks Latin-1/Windows-1252 encoded); export it from the "
        "spreadsheet as 'CSV UTF-8' (comma or semicolon separated).",
        "10 value(s) where the header has 9; quote values that contain the delimiter.",
    ],
    "nl": [
        "Deze kolom ontbreekt in de kopregel.",
        f"Onbekende kolom; de kolommen zijn: {COLUMNS}.",
        f"Geen UTF-8-tekst (byte 0xE9 in '{LATIN1}'; het bestand lijkt in Latin-1/Windows-1252 gecodeerd); "
        "exporteer het vanuit het rekenblad als 'CSV UTF-8' (gescheiden door komma's of puntkomma's).",
        "10 waarde(n) waar de kopregel er 9 heeft; zet waarden die het scheidingsteken bevatten tussen "
        "aanhalingstekens.",
    ],
    "fr": [
        "Cette colonne manque dans la ligne d'en-tête.",
        f"Colonne inconnue ; les colonnes sont : {COLUMNS}.",
        f"Ce n'est pas du texte UTF-8 (octet 0xE9 dans « {LATIN1} » ; le fichier semble encodé en "
        "Latin-1/Windows-1252) ; exportez-le depuis le tableur au format « CSV UTF-8 » (séparateur virgule ou "
        "point-virgule).",
        "10 valeur(s) alors que la ligne d'en-tête en compte 9 ; mettez entre guillemets les valeurs qui "
        "contiennent le séparateur.",
    ],
}

# Employers imported, then declarations with a key twice: the summaries and the two problems shown.
DECLARATION_REASONS = {
    "en": [
        "2 row(s) read: 2 created, 0 updated, 0 unchanged.",
        "File refused, nothing imported: 3 error(s) in 4 row(s). The first 2 are listed.",
        "This employer already has a declaration for this quarter on line 2.",
        "12 full-time equivalents is more than the headcount.",
    ],
    "nl": [
        "2 rij(en) gelezen: 2 aangemaakt, 0 bijgewerkt, 0 ongewijzigd.",
        "Bestand geweigerd, niets geïmporteerd: 3 fout(en) in 4 rij(en). De eerste 2 staan in de lijst.",
        "Deze werkgever heeft al een aangifte voor dit kwartaal op regel 2.",
        "12 voltijdse equivalenten is meer dan het aantal werknemers.",
    ],
    "fr": [
        "2 ligne(s) lue(s) : 2 créée(s), 0 mise(s) à jour, 0 inchangée(s).",
        "Fichier refusé, rien n'a été importé : 3 erreur(s) dans 4 ligne(s). Les 2 premières sont listées.",
        "Cet employeur a déjà une déclaration pour ce trimestre à la ligne 2.",
        "12 équivalents temps plein dépassent le nombre de travailleurs.",
    ],
}


def _employers_in(language: str, path: Path, text: str | bytes) -> list[tuple[int, str, str]]:
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    with translation.override(language):
        result = employer_import(path=path)
    assert not result.ok
    return problems(result)


@pytest.mark.parametrize("language", LANGUAGES)
def test_row_problems_and_summary(tmp_path, language):
    bad = {"enterprise_number": BAD_NUMBER, "legal_form": "GmbH", "start_date": "2024-02-30", "end_date": "31/12/2024"}
    rows = [employer_row(1), employer_row(2, **bad), employer_row(1, name="Twice BV")]
    path = csv_write(tmp_path / "employers.csv", rows, EMPLOYER_COLUMNS)
    with translation.override(language):
        result = employer_import(path=path)
        summary = result.summary()
    *reasons, refused = ROW_REASONS[language]
    assert problems(result) == [(*place, reason) for place, reason in zip(ROW_PLACES, reasons, strict=True)]
    assert summary == refused


@pytest.mark.parametrize("language", LANGUAGES)
def test_file_problems(tmp_path, language):
    missing, unknown, latin1, count = FILE_REASONS[language]
    header = ",".join(EMPLOYER_COLUMNS).replace("end_date", "end") + "\n"
    assert _employers_in(language, tmp_path / "header.csv", header) == [(1, "end_date", missing), (1, "end", unknown)]
    text = csv_text([employer_row(1), employer_row(2, name="Café BV")], EMPLOYER_COLUMNS)
    assert _employers_in(language, tmp_path / "latin1.csv", text.encode("latin-1")) == [(3, "name", latin1)]
    lines = csv_text([employer_row(1), employer_row(2)], EMPLOYER_COLUMNS).splitlines()
    lines[2] += ",extra"
    assert _employers_in(language, tmp_path / "count.csv", "\n".join(lines) + "\n") == [(3, "", count)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_duplicate_key_and_summaries(tmp_path, language):
    imported, refused, twice, fte = DECLARATION_REASONS[language]
    employers = csv_write(tmp_path / "employers.csv", [employer_row(5), employer_row(6)], EMPLOYER_COLUMNS)
    rows = [declaration_row(5), declaration_row(5), declaration_row(6, fte="12", headcount="10"), declaration_row(7)]
    path = csv_write(tmp_path / "declarations.csv", rows, DECLARATION_COLUMNS)
    with translation.override(language):
        assert employer_import(path=employers).summary() == imported
        result = declaration_import(path=path, max_errors=2)
        assert result.summary() == refused
    assert problems(result) == [(3, "quarter", twice), (4, "fte", fte)]


def test_the_language_is_the_one_of_each_import(tmp_path):
    """Messages defined when the modules were loaded (what a file looks like, how to save
    it, the legal forms) follow the language of each import, one after another."""
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    row = csv_text([employer_row(1, legal_form="GmbH")], EMPLOYER_COLUMNS)
    not_csv = {
        "en": "This is not a CSV text file: it looks like a PNG image; export it from the spreadsheet as 'CSV UTF-8' "
        "(comma or semicolon separated).",
        "nl": "Dit is geen CSV-tekstbestand: het is zo te zien een PNG-afbeelding; exporteer het vanuit het rekenblad "
        "als 'CSV UTF-8' (gescheiden door komma's of puntkomma's).",
        "fr": "Ce n'est pas un fichier texte CSV : on dirait une image PNG ; exportez-le depuis le tableur au format "
        "« CSV UTF-8 » (séparateur virgule ou point-virgule).",
    }
    for language in ["nl", "en", "fr", "nl"]:
        assert _employers_in(language, tmp_path / "image.csv", png) == [(0, "", not_csv[language])]
        legal_form = ROW_REASONS[language][1]
        assert _employers_in(language, tmp_path / "employers.csv", row) == [(2, "legal_form", legal_form)]
