"""Refresh the README screenshots from a running `make demo` (python tools/screenshots.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser_support import CHROMIUM_ARGS, chromium_path  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--username", default="inspector")
    parser.add_argument("--password", default="inspector-demo")
    args = parser.parse_args()
    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 560})
        page.goto(args.url + "/accounts/login/")
        page.fill("#id_username", args.username)
        page.fill("#id_password", args.password)
        page.click("button[type=submit]")
        page.wait_for_selector("#sector-region-counts")
        page.screenshot(path=str(out / "home.png"), full_page=True)
        browser.close()
    print(f"wrote {out / 'home.png'}")


if __name__ == "__main__":
    main()
