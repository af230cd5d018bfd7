"""Settings from the environment: development (default), testing, production."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("KXFLOW_INSTANCE", ROOT / "instance"))


class ConfigError(RuntimeError):
    pass


def load(overrides: dict | None = None) -> dict:
    env = os.environ.get("KXFLOW_ENV", "development")
    if env not in ("development", "testing", "production"):
        raise ConfigError(f"KXFLOW_ENV must be development, testing or production, not {env!r}")
    secret = os.environ.get("SECRET_KEY")
    if env == "production" and not secret:
        raise ConfigError("SECRET_KEY must be set in production")
    redis_url = os.environ.get("REDIS_URL") or None
    upload_mb = int(os.environ.get("ATTACHMENT_MAX_MB", "20"))
    cfg = {
        "KXFLOW_ENV": env,
        "SECRET_KEY": secret or "dev-only-not-secret",
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE / 'kxflow.sqlite'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        "UPLOAD_FOLDER": os.environ.get("UPLOAD_FOLDER") or str(INSTANCE / "uploads"),
        "ATTACHMENT_MAX_BYTES": upload_mb * 1024 * 1024,
        # the whole request may carry the file plus the multipart envelope and form fields
        "MAX_CONTENT_LENGTH": upload_mb * 1024 * 1024 + 256 * 1024,
        "API_TOKEN_TTL_SECONDS": int(os.environ.get("API_TOKEN_TTL_SECONDS", str(12 * 3600))),
        "SESSION_COOKIE_SECURE": env == "production",
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        "BABEL_DEFAULT_LOCALE": "zh",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_ENABLED": os.environ.get("RATELIMIT_ENABLED", "1") != "0",
        "RATELIMIT_HEADERS_ENABLED": True,
        # a Redis blip must not take logins down with it: fall back to per-process limits
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "TOKEN_RATE_LIMIT": os.environ.get("TOKEN_RATE_LIMIT", "20 per minute"),
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute"),
        "RECHECK_CYCLE_YEARS": int(os.environ.get("RECHECK_CYCLE_YEARS", "3")),  # designated counties re-checked
        "OBJECTION_RATE_LIMIT": os.environ.get("OBJECTION_RATE_LIMIT", "5 per hour"),
        "API_TITLE": "kxflow",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/static/vendor/swagger-ui/",
        "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None},  # no call to an outside validator
        "TESTING": env == "testing",
        # e-mail: with no MAIL_SERVER, messages are written as .eml files to MAIL_SINK_FOLDER
        "MAIL_SERVER": os.environ.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "25")),
        "MAIL_USE_TLS": os.environ.get("MAIL_USE_TLS", "0") == "1",
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_SENDER": os.environ.get("MAIL_SENDER", "kxflow@localhost"),
        "MAIL_SINK_FOLDER": os.environ.get("MAIL_SINK_FOLDER") or str(INSTANCE / "mail"),
        "MAIL_TIMEOUT_SECONDS": float(os.environ.get("MAIL_TIMEOUT_SECONDS", "20")),
        "EMAIL_MAX_ATTEMPTS": int(os.environ.get("EMAIL_MAX_ATTEMPTS", "8")),
        "EMAIL_RETRY_BASE_SECONDS": float(os.environ.get("EMAIL_RETRY_BASE_SECONDS", "60")),
        "EMAIL_DISPATCH_SECONDS": float(os.environ.get("EMAIL_DISPATCH_SECONDS", "10")),
        "REMINDER_SCAN_SECONDS": float(os.environ.get("REMINDER_SCAN_SECONDS", "60")),
        # longer than any one run; a run that died frees the queue after this long
        "SCHEDULER_LOCK_SECONDS": float(os.environ.get("SCHEDULER_LOCK_SECONDS", "300")),
        # who receives objections to a public notice (the notice names them)
        "OBJECTION_OFFICE": os.environ.get("OBJECTION_OFFICE", "科学技术部 国家科技进步示范县工作办公室"),
        "OBJECTION_ADDRESS": os.environ.get("OBJECTION_ADDRESS", "北京市海淀区复兴路乙15号 科学技术部（邮编 100862）"),
        "OBJECTION_PHONE": os.environ.get("OBJECTION_PHONE", "010-12345678（演示号码）"),
        "KXFLOW_BASE_URL": os.environ.get("KXFLOW_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
    }
    if env == "testing":
        cfg["WTF_CSRF_ENABLED"] = True
    if overrides:
        cfg.update(overrides)
    return cfg
