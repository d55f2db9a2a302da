"""Refresh the README screenshots from a running `make demo` (python tools/screenshots.py).

Writes docs/screenshots/home.png (the overview), list.png (a ranked list with its filters
and band counts) and employer.png (an employer's page with the declaration chart).
"""

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
    parser.add_argument("--region", default="BE2", help="the region the ranked list is narrowed to")
    parser.add_argument(
        "--only", nargs="+", choices=["home", "list", "employer"], help="write these screenshots only (default: all)"
    )
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
        written = []
        if not args.only or "home" in args.only:
            page.screenshot(path=str(out / "home.png"), full_page=True)
            written.append(out / "home.png")
        if not args.only or {"list", "employer"} & set(args.only):
            written += _ranked_list_and_employer(page, args.url, out, region=args.region, only=args.only)
        browser.close()
    for path in written:
        print(f"wrote {path}")


def _ranked_list_and_employer(page, url: str, out: Path, *, region: str, only: list[str] | None) -> list[Path]:
    """The ranked list narrowed to a region (filters and band chips on top), then the page
    of an employer from it, with the declaration chart."""
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(url + "/lists/")
    page.wait_for_selector("#ranked-table")
    page.select_option("#id_region", region)
    page.wait_for_function("(r) => new URLSearchParams(location.search).get('region') === r", arg=region)
    page.wait_for_selector("#ranked-table")
    page.wait_for_load_state("networkidle")
    page.mouse.move(0, 0)
    written = []
    if not only or "list" in only:
        page.screenshot(path=str(out / "list.png"))
        written.append(out / "list.png")
    if only and "employer" not in only:
        return written
    # The riskiest employer with 10 to 49 workers: a declaration history worth a chart.
    page.goto(f"{url}/lists/?region={region}&size_class=2")
    page.click("#ranked-table tbody tr:first-child td:nth-child(4) a")
    page.wait_for_selector("#declaration-chart")
    page.wait_for_function("() => window.Chart && window.Chart.getChart(document.getElementById('declaration-chart'))")
    # From the top to the end of the chart's card: the notes form below it is empty in the demo.
    chart_card = page.locator("section[aria-labelledby=history-title]").bounding_box()
    height = chart_card["y"] + chart_card["height"] + 16
    clip = {"x": 0, "y": 0, "width": 1200, "height": height}
    page.screenshot(path=str(out / "employer.png"), full_page=True, clip=clip)
    return [*written, out / "employer.png"]


if __name__ == "__main__":
    main()
