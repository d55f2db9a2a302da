"""`make demo`: migrate, fill with demo data, create demo users, serve web + worker + beat."""

from __future__ import annotations

import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connections

from inspections.models import Employer
from inspections.services.accounts import demo_accounts_ensure
from miningwatch.processes import processes_run

# Three times the generator's realistic 5 % a year: with 20,000 employers most (sector,
# offence) pairs then have enough inspections in the validation year (the last 12 months)
# to show a model beats chance; a pair that does not keeps no model, and the retrain
# table says why. Data, training and scoring stay within a few minutes.
DEMO_INSPECTION_RATE = 0.15


class Command(BaseCommand):
    help = "Bring the whole application up with demo data (Ctrl-C stops everything)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--employers", type=int, default=20_000)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--inspection-rate", type=float, default=DEMO_INSPECTION_RATE)
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument("--no-serve", action="store_true", help="prepare the data and users, then exit")

    def handle(
        self,
        *args: Any,
        employers: int,
        seed: int,
        inspection_rate: float,
        bind: str,
        no_serve: bool,
        **options: Any,
    ) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        started = time.perf_counter()
        self._ensure_data(employers=employers, seed=seed, inspection_rate=inspection_rate)
        self._ensure_scores()
        self._ensure_worklists()
        self._ensure_profiles()
        self.stdout.write(f"Data, models and scores ready in {time.perf_counter() - started:.0f} s.")
        self._print_accounts(bind)
        if no_serve:
            return
        call_command("collectstatic", interactive=False, verbosity=0)
        connections.close_all()
        code = processes_run(self._commands(bind))
        self._stop_embedded_services()
        sys.exit(code)

    def _ensure_data(self, *, employers: int, seed: int, inspection_rate: float) -> None:
        if Employer.objects.exists():
            self.stdout.write("Demo data already present; keeping it (delete var/ to start afresh).")
            return
        from inspections.services.generation import demo_data_generate

        self.stdout.write(f"Generating {employers:,} demo employers (seed {seed})...")
        summary = demo_data_generate(
            employers=employers, seed=seed, inspection_rate=inspection_rate, progress=True, truth=_truth_path()
        )
        self.stdout.write(self.style.SUCCESS(str(summary)))

    def _ensure_scores(self) -> None:
        """Train the 12 models and publish ranked, banded scores, as the nightly task would."""
        from inspections.services.generation import DEFAULT_END_QUARTER
        from scoring.management.arguments import retrain_table, runs_table
        from scoring.models import ScoringRun
        from scoring.services.nightly import models_retrain_all, scores_refresh_all

        if ScoringRun.objects.published().exists():
            self.stdout.write("Scores already published; keeping them (manage.py retrain / rescore redo them).")
            return
        # The day after the last generated quarter: "today" for the demo data.
        as_of = _months_later(DEFAULT_END_QUARTER, 3)
        self.stdout.write(f"Training a model per sector and offence type (data as of {as_of})...")
        self.stdout.write("\n".join(retrain_table(models_retrain_all(as_of=as_of, origin="demo"))))
        self.stdout.write("Scoring every employer with the active models...")
        self.stdout.write("\n".join(runs_table(scores_refresh_all(as_of=as_of))))

    def _ensure_worklists(self) -> None:
        """Worklists with outcomes, so the statistics page has something to show (workspace.demo)."""
        from inspections.services.generation import DEFAULT_END_QUARTER
        from workspace.demo import demo_worklists_ensure

        demo_accounts_ensure()  # the task force draws them for the inspector
        recorded = demo_worklists_ensure(truth_path=_truth_path(), as_of=_months_later(DEFAULT_END_QUARTER, 3))
        if recorded:
            self.stdout.write(f"Drew four worklists for the demo inspector and recorded {recorded} outcomes.")

    def _ensure_profiles(self) -> None:
        """A risk profile for each sector and offence, so a new user sees what one holds (workspace.demo_profiles)."""
        from workspace.demo_profiles import demo_risk_profiles_ensure

        written = demo_risk_profiles_ensure()
        if written:
            self.stdout.write(f"Wrote {written} demo risk profiles.")

    def _print_accounts(self, bind: str) -> None:
        self.stdout.write(self.style.SUCCESS(f"\nMiningWatch demo on http://{bind}/  (Ctrl-C stops it)"))
        self.stdout.write("Demo accounts (username / password, role):")
        for account in demo_accounts_ensure():
            note = f" - {account.note}" if account.note else ""
            self.stdout.write(f"  {account.username:20} {account.password:18} {account.role}{note}")
        self.stdout.write("")

    def _commands(self, bind: str) -> dict[str, list[str]]:
        python = sys.executable
        bin_dir = os.path.dirname(python)
        return {
            "web": [
                os.path.join(bin_dir, "gunicorn"),
                "miningwatch.wsgi:application",
                "--bind",
                bind,
                "--workers",
                "2",
                "--access-logfile",
                "-",
            ],
            "worker": [
                os.path.join(bin_dir, "celery"),
                "-A",
                "miningwatch",
                "worker",
                "--loglevel",
                "info",
                "--concurrency",
                "2",
            ],
            "beat": [os.path.join(bin_dir, "celery"), "-A", "miningwatch", "beat", "--loglevel", "info", "--pidfile="],
        }

    def _stop_embedded_services(self) -> None:
        from miningwatch.embedded import embedded_postgres_stop, embedded_redis_stop

        connections.close_all()
        if not os.environ.get("REDIS_URL"):
            embedded_redis_stop(settings.VAR_DIR)
        if not os.environ.get("DATABASE_URL"):
            embedded_postgres_stop(settings.VAR_DIR)
        self.stdout.write("Stopped.")


def _months_later(day: date, months: int) -> date:
    month = day.month - 1 + months
    return day.replace(year=day.year + month // 12, month=month % 12 + 1)


def _truth_path() -> Path:
    """The generator's ground truth for the demo data (the demo's simulated outcomes read it)."""
    return Path(settings.VAR_DIR) / "demo-truth.csv"
