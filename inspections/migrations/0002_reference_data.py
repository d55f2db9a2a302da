"""Load Belgian reference data: NUTS regions, postal codes, sectors, NACE codes, offences.

The rows live in inspections/reference/*.csv so they can be read and reviewed as data.
"""

from __future__ import annotations

import csv
from pathlib import Path

from django.db import migrations

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference"


def _rows(name: str) -> list[dict[str, str]]:
    with open(REFERENCE_DIR / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _names(row: dict[str, str]) -> dict[str, str]:
    return {key: row[key] for key in ("name_en", "name_nl", "name_fr")}


def load(apps, schema_editor) -> None:
    get = apps.get_model
    for row in _rows("regions.csv"):
        get("inspections", "Region").objects.update_or_create(code=row["code"], defaults=_names(row))
    province_region = {}
    for row in _rows("provinces.csv"):
        province_region[row["code"]] = row["region_code"]
        get("inspections", "Province").objects.update_or_create(
            code=row["code"], defaults={**_names(row), "region_id": row["region_code"]}
        )
    for row in _rows("subregions.csv"):
        get("inspections", "SubRegion").objects.update_or_create(
            code=row["code"],
            defaults={
                **_names(row),
                "province_id": row["province_code"],
                "region_id": province_region[row["province_code"]],
                "population": int(row["population"]),
            },
        )
    for row in _rows("postal_codes.csv"):
        get("inspections", "PostalCode").objects.update_or_create(
            code=row["code"], defaults={"municipality": row["municipality"], "subregion_id": row["subregion_code"]}
        )
    for row in _rows("sectors.csv"):
        get("inspections", "Sector").objects.update_or_create(
            code=row["code"], defaults={**_names(row), "joint_committee": row["joint_committee"]}
        )
    for row in _rows("nace_codes.csv"):
        get("inspections", "NaceCode").objects.update_or_create(
            code=row["code"], defaults={**_names(row), "sector_id": row["sector"]}
        )
    for row in _rows("offence_types.csv"):
        descriptions = {key: row[key] for key in ("description_en", "description_nl", "description_fr")}
        get("inspections", "OffenceType").objects.update_or_create(
            code=row["code"], defaults={**_names(row), **descriptions}
        )


class Migration(migrations.Migration):
    dependencies = [("inspections", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
