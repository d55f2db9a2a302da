"""Excel workbooks (.xlsx) in, CSV out: an uploaded workbook is turned into the CSV the
import reads, so that every check runs once, on one format (docs/data-format.md).

openpyxl parses the workbook's XML with defusedxml (installed beside it), and the archive
is measured before it is opened: a workbook that unpacks to more than a set size is
refused, not read into memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from openpyxl.workbook.workbook import Workbook

ZIP_SIGNATURE = b"PK\x03\x04"
_WORKBOOK_PART = "xl/workbook.xml"
_STRINGS_PART = "xl/sharedStrings.xml"
_MAX_RATIO = 100  # unpacked / packed: real sheets compress 5 to 20 times, a bomb thousands of times
_MAX_COLUMNS = 64  # read of each row: the files have at most 13 columns, a few more are reported


class SpreadsheetRefused(Exception):
    """The file is not a workbook that can be read; the message says why."""


def is_zip(head: bytes) -> bool:
    return head.startswith(ZIP_SIGNATURE)


def workbook_check(path: Path) -> None:
    """Refuse a ZIP archive that is not an Excel workbook, or one that would take far more
    memory to read than its size says: openpyxl keeps the shared strings in memory."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = {info.filename: info for info in archive.infolist()}
    except Exception:  # BadZipFile, OSError, NotImplementedError (a feature zipfile lacks)...
        raise SpreadsheetRefused(_("This is a damaged ZIP archive, not a CSV file or an Excel workbook.")) from None
    if _WORKBOOK_PART not in parts:
        raise SpreadsheetRefused(_("This is a ZIP archive, not a CSV file or an Excel workbook (.xlsx)."))
    limit = settings.IMPORT_UPLOAD_MAX_MB * 4
    unpacked = sum(info.file_size for info in parts.values())
    packed = sum(info.compress_size for info in parts.values())
    strings = parts[_STRINGS_PART].file_size if _STRINGS_PART in parts else 0
    if unpacked > limit * 2**20 or strings > limit * 2**20 // 8 or unpacked > _MAX_RATIO * max(packed, 1):
        raise SpreadsheetRefused(
            _("The workbook unpacks to far more than its size (at most %(limit)d MB are read): send it as CSV.")
            % {"limit": limit}
        )


def xlsx_to_csv(source: Path, target: Path) -> None:
    """Write the first sheet of a workbook as UTF-8 CSV: one line per row, as the sheet's rows
    are numbered, so that a problem on line n is on row n of the sheet."""
    from openpyxl import load_workbook  # only the worker converts workbooks

    workbook_check(source)
    with open(source, "rb") as stream:  # a stream: openpyxl would judge a path by its suffix
        try:
            _sheet_write(load_workbook(stream, read_only=True, data_only=True), target)
        except Exception as exc:  # openpyxl and defusedxml raise many kinds on a broken or hostile workbook
            raise SpreadsheetRefused(_("The workbook cannot be read: %(error)s") % {"error": exc}) from None


def _sheet_write(workbook: Workbook, target: Path) -> None:
    try:
        sheet = workbook.worksheets[0]
        with open(target, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            width = None
            for row in sheet.iter_rows(values_only=True, max_col=_MAX_COLUMNS):
                cells = list(row)
                width = _width(cells) if width is None else width
                if not any(value is not None for value in cells[width:]):
                    cells = cells[:width]  # cells formatted but empty beyond the header's columns
                # An empty row stays a blank line, so that the lines keep the sheet's row numbers.
                writer.writerow([_cell_text(value) for value in cells] if any(v is not None for v in cells) else [])
    finally:
        workbook.close()


def _width(header: list[object]) -> int:
    """The header's columns, without the empty cells after its last name."""
    while header and header[-1] is None:
        header = header[:-1]
    return len(header)


def _cell_text(value: object) -> str:
    """A cell as the CSV format writes it: dates as YYYY-MM-DD, whole numbers without '.0'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
