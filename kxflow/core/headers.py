"""Browser security headers on every response, HTTPS in production, and the client address behind proxies.

One after-request hook, no extension: a Content-Security-Policy with no inline script or style at all
(every script and stylesheet is a static file of this site), no framing (clickjacking), nosniff, a
referrer policy, HSTS in production, and ``no-store`` on everything a logged-in user or a token holder
is served, so a shared computer's cache keeps nothing personal.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, redirect, request
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
LOOPBACK = ("127.", "::1")


def _authenticated() -> bool:
    if request.headers.get("Authorization") or g.get("api_user") is not None:
        return True
    try:
        return bool(current_user and current_user.is_authenticated)
    except Exception:  # no login manager on this request
        return False


def security_headers(response: Response) -> Response:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h["X-Content-Type-Options"] = "nosniff"
    h["X-Frame-Options"] = "DENY"
    h["Referrer-Policy"] = "same-origin"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    h["Cross-Origin-Resource-Policy"] = "same-origin"
    h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
    seconds = current_app.config.get("HSTS_SECONDS") or 0
    if seconds:
        h["Strict-Transport-Security"] = f"max-age={seconds}; includeSubDomains"
    # the assets (content-hashed, the same for everyone) stay cacheable: a page that needs a large one (the charts)
    # would otherwise fetch it anew on every view
    if _authenticated() and not request.path.startswith(("/static/", "/assets/")):
        h["Cache-Control"] = "no-store"
        h["Pragma"] = "no-cache"
    return response


def _plain_http_allowed() -> bool:
    if request.is_secure or request.path == "/healthz":  # the container's own health check speaks plain HTTP
        return True
    remote = request.remote_addr or ""
    return current_app.config.get("ALLOW_PLAIN_HTTP_LOOPBACK", False) and remote.startswith(LOOPBACK)


def init_headers(app: Flask) -> None:
    proxies = app.config.get("PROXY_COUNT", 0)
    if proxies:
        # trust exactly this many hops of X-Forwarded-For/-Proto/-Host: the address limits and logs see is the
        # client's, not the proxy's, and HTTPS terminated at the proxy counts as HTTPS
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]

    if app.config["KXFLOW_ENV"] == "production":

        @app.before_request
        def _https_only():
            if _plain_http_allowed():
                return None
            if request.method in ("GET", "HEAD"):
                return redirect(request.url.replace("http://", "https://", 1), code=301)
            return Response("HTTPS required\n", status=403, mimetype="text/plain")

    app.after_request(security_headers)
