"""Logging in through the real login form (with its CSRF token) for test-client web tests."""

from __future__ import annotations

import re

from tests.factories import PASSWORD

_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
_CHALLENGE = re.compile(r'name="challenge" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


class Browser:
    """A test client holding one user's session, posting forms the way the pages do."""

    def __init__(self, app, username: str | None = None, lang: str = "zh-CN"):
        self.client = app.test_client()
        self.headers = {"Accept-Language": lang}
        if username:
            r = self.post_form("/login", {"username": username, "password": PASSWORD}, page="/login")
            assert r.status_code == 302, r.data.decode()[:500]

    def get(self, path: str, **kw):
        return self.client.get(path, headers=self.headers, **kw)

    def post_form(self, path: str, data: dict, page: str | None = None, **kw):
        html = self.get(page or path).data.decode()
        hidden = {"csrf_token": csrf_token(html)}
        challenge = _CHALLENGE.search(html)  # the public form's challenge travels as a hidden field, as in a browser
        if challenge:
            hidden["challenge"] = challenge.group(1)
        return self.client.post(path, data={**data, **hidden}, headers=self.headers, **kw)

    def text(self, path: str) -> str:
        return self.get(path).data.decode()
