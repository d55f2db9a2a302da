"""Queue an import through the real broker; a running worker must finish it."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "miningwatch.settings")
django.setup()

from inspections.models import DataImport, Employer  # noqa: E402
from inspections.services.data_imports import data_import_queue  # noqa: E402

csv_text = (
    "enterprise_number,nsso_number,name,legal_form,nace_code,joint_committee,postal_code,start_date,end_date\n"
    "0403170701,1000000001,CI Bouw BV,BV,43.320,124,3000,2010-01-01,\n"
)
path = Path(tempfile.mkdtemp()) / "employers.csv"
path.write_text(csv_text, encoding="utf-8")
data_import = data_import_queue(kind="employers", path=path, user=None)
for _ in range(60):
    data_import.refresh_from_db()
    if data_import.finished:
        break
    time.sleep(1)
assert data_import.status == DataImport.Status.SUCCEEDED, (data_import.status, data_import.message, data_import.errors)
assert Employer.objects.filter(enterprise_number="0403170701").exists()
print("worker ran the import task through the broker:", data_import)
