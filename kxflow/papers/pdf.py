"""HTML to PDF with WeasyPrint, in Chinese: Debian's Noto CJK fonts (fonts-noto-cjk) must be installed.

Without them WeasyPrint would print every Chinese character as an empty box, so a paper is refused with a clear
message instead (503), and the message says what to install. ``make test`` and ``make run`` install the fonts
when apt can (tests/services.sh).
"""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from flask_babel import gettext

from kxflow.core.errors import AppError

try:
    import weasyprint
except OSError as exc:  # Pango or HarfBuzz missing: the rest of the app still starts
    weasyprint = None
    _IMPORT_PROBLEM: str | None = str(exc)
else:
    _IMPORT_PROBLEM = None

# the families the paper style sheet asks for, in order (fonts-noto-cjk ships both)
CJK_FAMILIES = ("Noto Serif CJK SC", "Noto Sans CJK SC")


class PapersUnavailable(AppError):
    """The server cannot print Chinese: the PDF library or the CJK fonts are missing."""

    status, code = 503, "papers_unavailable"


@lru_cache(maxsize=1)
def _cjk_fonts_installed() -> bool:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    found = subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=20).stdout
    return any(family in found for family in CJK_FAMILIES)


def problem() -> str | None:
    """Why papers cannot be printed on this server, or None."""
    if weasyprint is None:
        return gettext(
            "PDF printing is not available on this server: the PDF library could not load (%(detail)s). "
            "Install the Debian packages libpango-1.0-0 and libharfbuzz-subset0.",
            detail=_IMPORT_PROBLEM,
        )
    if not _cjk_fonts_installed():
        _cjk_fonts_installed.cache_clear()  # installed later, it is found without a restart
        return gettext(
            "PDF printing is not available on this server: the Chinese fonts are missing. "
            "Install the Debian package fonts-noto-cjk (apt-get install fonts-noto-cjk)."
        )
    return None


STYLE_SHEET = Path(__file__).with_name("paper.css")


def _css_text(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def page_numbers_css() -> str:
    """The footer of every page, 第 1 页，共 3 页, in the reader's language (CSS counters between the words)."""
    words = gettext("Page {page} of {pages}")
    before, rest = words.split("{page}", 1)
    middle, after = rest.split("{pages}", 1)
    content = " ".join((_css_text(before), "counter(page)", _css_text(middle), "counter(pages)", _css_text(after)))
    return f"@page {{ @bottom-center {{ content: {content}; }} }}"


def render(html: str) -> bytes:
    """The PDF of a paper's HTML: A4, the paper style sheet, page numbers in the footer."""
    why = problem()
    if why is not None:
        raise PapersUnavailable(why)
    sheets = [weasyprint.CSS(filename=str(STYLE_SHEET)), weasyprint.CSS(string=page_numbers_css())]
    return weasyprint.HTML(string=html, base_url=str(STYLE_SHEET.parent)).write_pdf(stylesheets=sheets)
