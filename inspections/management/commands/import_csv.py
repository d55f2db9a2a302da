"""Import a CSV file of employers, declarations or inspections: all of it or nothing.

    python manage.py import_csv employers employers.csv

The file format is described in docs/data-format.md. The command records a DataImport
and runs it as the Celery worker does; it exits with status 1 when
the file is refused, after listing the problems (line, column, reason).
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inspections.models import DataImport
from inspections.services.data_imports import data_import_create, data_import_execute


class Command(BaseCommand):
    help = "Import a CSV file of employers, declarations or inspections (all rows or none)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=DataImport.Kind.values, help="What the file holds.")
        parser.add_argument("file", type=Path, help="The CSV file (UTF-8, comma or semicolon separated).")

    def handle(self, *args: object, kind: str, file: Path, **options: object) -> None:
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        data_import = data_import_create(kind=kind, path=file)
        data_import_execute(data_import_id=data_import.pk)
        data_import.refresh_from_db()
        if data_import.status == DataImport.Status.SUCCEEDED:
            self.stdout.write(self.style.SUCCESS(data_import.message))
            return
        for problem in data_import.errors:
            where = f"line {problem['line']}" if problem["line"] else "file"
            column = f", column {problem['column']}" if problem["column"] else ""
            self.stderr.write(f"{where}{column}: {problem['reason']}")
        if data_import.error_count > len(data_import.errors):
            self.stderr.write(f"... and {data_import.error_count - len(data_import.errors)} more.")
        raise CommandError(data_import.message, returncode=1)
