"""The README's screenshots of the staff console: the queue and a case page at 1280 and
390 px wide, over the demo's database (tests/web_kit.py), in Debian's Chromium.

    .venv/bin/python -m bench.console_screenshots [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.web_kit import CHROMIUM, STAFF_NAME, STAFF_PASSWORD, serve

WIDTHS = (1280, 390)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as directory,
        serve(Path(directory) / "demo") as site,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        for width in WIDTHS:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(site.url + "/login")
            page.get_by_label("Name").fill(STAFF_NAME)
            page.get_by_label("Password").fill(STAFF_PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_selector("table.queue")
            page.screenshot(path=args.out / f"queue-{width}.png", full_page=width > 500)
            page.goto(f"{site.url}/cases/{site.overdue_reference}")
            page.screenshot(path=args.out / f"case-{width}.png")
            page.close()
        browser.close()
    for path in sorted(args.out.glob("*.png")):
        print(path)


if __name__ == "__main__":
    main()
