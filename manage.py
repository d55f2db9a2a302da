#!/usr/bin/env python
"""Django's command-line utility for MiningWatch."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "miningwatch.settings")
    from django.core.management import execute_from_command_line

    from miningwatch.embedded import urls_ensure
    from miningwatch.startup import run_guarded

    urls_ensure()  # embedded PostgreSQL and Redis for the URLs left unset

    run_guarded(lambda: execute_from_command_line(sys.argv))


if __name__ == "__main__":
    main()
