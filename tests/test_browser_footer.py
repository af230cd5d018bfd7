"""The footer on a 390 px phone, in Chromium: each of its links stays whole on one line (the footer wraps between
its items, never inside a link) and keeps clear of the screen's edges, in Chinese and in English. Screenshots land
in test-output/screenshots/footer-390-<locale>.png."""

from __future__ import annotations

import pytest

from tests.browser import screenshot

pytestmark = pytest.mark.pg_only

PHONE = {"width": 390, "height": 844}
EDGE = 8  # px: the least room between a link and either side of the screen

# per footer link: its text, its box, its line height, and how many line boxes it was broken into
FOOTER_LINKS_JS = """() => Array.from(document.querySelectorAll('footer.foot a')).map(a => {
  const r = a.getBoundingClientRect(), style = getComputedStyle(a);
  const lineHeight = parseFloat(style.lineHeight) || 1.2 * parseFloat(style.fontSize);
  return {text: a.textContent.trim(), left: r.left, right: r.right, height: r.height, lineHeight,
          lines: a.getClientRects().length};
})"""


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_each_footer_link_stays_whole_and_clear_of_the_edge_on_a_phone(locale, new_page):
    page = new_page(locale=locale)
    page.set_viewport_size(PHONE)
    page.goto("/login")
    width = page.evaluate("() => document.documentElement.clientWidth")
    links = page.evaluate(FOOTER_LINKS_JS)
    screenshot(page, f"footer-390-{locale}")
    assert len(links) == 3, links
    problems = [
        link
        for link in links
        if link["lines"] != 1
        or link["height"] > 1.5 * link["lineHeight"]
        or link["left"] < EDGE
        or link["right"] > width - EDGE
    ]
    assert problems == [], f"{width} px wide: {problems}"
