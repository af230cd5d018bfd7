"""``make diagram``: draws the whole workflow once, as static SVG files the application page shows on demand.

Mermaid (vendored) runs in Debian's headless Chromium here, at build time, so no user ever downloads
it; each SVG carries the digest of the trigger table's text it was drawn from, and a test fails when
the table changed and the drawing was not made again.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from kxflow.workflow.diagram import mermaid, source_digest, svg_name
from tests.browser import CHROMIUM, CHROMIUM_ARGS

STATIC = Path(__file__).resolve().parent.parent / "kxflow" / "static"
MERMAID = STATIC / "vendor" / "mermaid" / "mermaid.min.js"
MARK = "<!-- kxflow workflow diagram, drawn from source {digest} by make diagram -->\n"
CONFIG = {
    "startOnLoad": False,
    "securityLevel": "strict",
    "theme": "neutral",
    "htmlLabels": False,  # plain SVG text: an <img> shows it the same in every browser
    "fontFamily": '"Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", sans-serif',
}


def draw(locale: str) -> Path:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        page.set_content("<!doctype html><html><body></body></html>")
        page.add_script_tag(path=str(MERMAID))
        svg = page.evaluate(
            "async ([config, text]) => { mermaid.initialize(config); return (await mermaid.render('wf', text)).svg; }",
            [CONFIG, mermaid(locale)],
        )
        browser.close()
    out = STATIC / svg_name(locale)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(MARK.format(digest=source_digest(locale)) + svg, encoding="utf-8")
    return out


def main() -> int:
    for locale in ("zh", "en"):
        path = draw(locale)
        print(f"{path.relative_to(STATIC.parent.parent)}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
