"""One e-mail address as a setting names it: bare, or with a display name (``名称 <noreply@example.gov.cn>``)."""

from __future__ import annotations

from email import policy
from email.errors import HeaderParseError, NonASCIILocalPartDefect
from email.headerregistry import Address


def mailbox(value: str) -> Address | None:
    """The one address ``value`` names, or None: no domain, two addresses, a group, or text the parser had to
    guess around (a missing ``>``, a line break). Read with the e-mail package's header parser, which says what
    it guessed; ``email.utils.parseaddr`` (Python 3.11) takes the first of two addresses and completes a
    missing ``>`` without a word. A non-ASCII local part is an address too (SMTPUTF8)."""
    try:
        header = policy.default.header_factory("From", value)
        groups, defects = header.groups, header.defects
    except (HeaderParseError, IndexError, ValueError):  # the parser fails on some values instead of noting it
        return None
    if len(groups) != 1 or groups[0].display_name is not None or len(groups[0].addresses) != 1:
        return None
    if any(not isinstance(defect, NonASCIILocalPartDefect) for defect in defects):
        return None
    (address,) = groups[0].addresses
    return address if address.username and address.domain else None
