"""Settings from the environment: production unless told otherwise; development and testing are asked for.

Production refuses to start while any setting is unsafe (``unsafe_settings`` lists them all at once).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from kxflow.core import clock
from kxflow.core.mailbox import mailbox

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("KXFLOW_INSTANCE", ROOT / "instance"))
ENVIRONMENTS = ("development", "testing", "production")
# the roles that must use a second factor in production unless MFA_REQUIRED_ROLES says otherwise
PRODUCTION_MFA_ROLES = "admin,ministry_staff,province_reviewer"
MIN_SECRET_LENGTH = 32


class ConfigError(RuntimeError):
    pass


def _dev_secret() -> str:
    """A development key made once per instance (instance/secret_key, readable by its owner only), never a
    constant: a key printed in the code would let anyone forge a session of a copy left running."""
    path = INSTANCE / "secret_key"
    if not path.exists():
        INSTANCE.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def _flag(name: str, default: str = "0") -> bool:
    return os.environ.get(name, default) == "1"


def load(overrides: dict | None = None) -> dict:
    env = os.environ.get("KXFLOW_ENV", "production")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"KXFLOW_ENV must be development, testing or production, not {env!r}")
    production = env == "production"
    secret = os.environ.get("SECRET_KEY") or None
    if secret is None and not production:
        secret = secrets.token_hex(32) if env == "testing" else _dev_secret()
    redis_url = os.environ.get("REDIS_URL") or None
    upload_mb = int(os.environ.get("ATTACHMENT_MAX_MB", "20"))
    mfa_roles = os.environ.get("MFA_REQUIRED_ROLES", PRODUCTION_MFA_ROLES if production else "")
    cfg = {
        "KXFLOW_ENV": env,
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE / 'kxflow.sqlite'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # the role the app connects as (PostgreSQL): migrations, run as the owner, grant it exactly its rights
        "DATABASE_APP_ROLE": os.environ.get("DATABASE_APP_ROLE") or None,
        # set only for the one-shot migration service, which connects as the schema's owner
        "DATABASE_IS_OWNER": _flag("KXFLOW_DATABASE_OWNER"),
        "REDIS_URL": redis_url,
        "UPLOAD_FOLDER": os.environ.get("UPLOAD_FOLDER") or str(INSTANCE / "uploads"),
        "ATTACHMENT_MAX_BYTES": upload_mb * 1024 * 1024,
        # the whole request may carry the file plus the multipart envelope and form fields
        "MAX_CONTENT_LENGTH": upload_mb * 1024 * 1024 + 256 * 1024,
        # what an OOXML file (DOCX, XLSX) may unpack to, checked on the zip's directory before it is opened
        "OOXML_MAX_UNCOMPRESSED_BYTES": int(os.environ.get("OOXML_MAX_UNCOMPRESSED_MB", "100")) * 1024 * 1024,
        "OOXML_MAX_RATIO": int(os.environ.get("OOXML_MAX_RATIO", "100")),
        "OOXML_MAX_ENTRIES": int(os.environ.get("OOXML_MAX_ENTRIES", "1000")),
        "API_TOKEN_TTL_SECONDS": int(os.environ.get("API_TOKEN_TTL_SECONDS", str(12 * 3600))),
        # sessions: a server-side record each; ended by logout, password change, deactivation or an admin
        "SESSION_IDLE_MINUTES": int(os.environ.get("SESSION_IDLE_MINUTES", "30")),
        "SESSION_ABSOLUTE_HOURS": int(os.environ.get("SESSION_ABSOLUTE_HOURS", "12")),
        "SESSION_COOKIE_NAME": "__Host-kxflow" if production else "kxflow",
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        "PASSWORD_HASH_METHOD": "argon2id",
        "PASSWORD_MIN_LENGTH": 12,
        # a login name gets this many wrong passwords or codes in the window, then waits out the lockout
        "LOGIN_MAX_FAILURES": int(os.environ.get("LOGIN_MAX_FAILURES", "10")),
        "LOGIN_FAILURE_WINDOW_SECONDS": int(os.environ.get("LOGIN_FAILURE_WINDOW_SECONDS", "900")),
        "LOGIN_LOCKOUT_SECONDS": int(os.environ.get("LOGIN_LOCKOUT_SECONDS", "900")),
        "MFA_REQUIRED_ROLES": frozenset(r.strip() for r in mfa_roles.split(",") if r.strip()),
        "MFA_ISSUER": os.environ.get("MFA_ISSUER", "kxflow 示范县"),
        # how many reverse proxies in front set X-Forwarded-For/-Proto (0: trust no forwarded header)
        "PROXY_COUNT": int(os.environ.get("PROXY_COUNT", "0")),
        # production answers plain HTTP only from this machine (a benchmark, a health check), never from outside
        "ALLOW_PLAIN_HTTP_LOOPBACK": _flag("ALLOW_PLAIN_HTTP_LOOPBACK"),
        "HSTS_SECONDS": int(os.environ.get("HSTS_SECONDS", "31536000")) if production else 0,
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
        # PDFs (申报书, review summary, 公示名单, 命名名单) per user, all four together: each is rendered in the request
        "PDF_RATE_LIMIT": os.environ.get("PDF_RATE_LIMIT", "12 per minute"),
        "RECHECK_CYCLE_YEARS": int(os.environ.get("RECHECK_CYCLE_YEARS", "3")),  # designated counties re-checked
        "OBJECTION_RATE_LIMIT": os.environ.get("OBJECTION_RATE_LIMIT", "5 per hour"),
        # every address together: a flood from many addresses still cannot bury the ministry
        "OBJECTION_GLOBAL_LIMIT": os.environ.get("OBJECTION_GLOBAL_LIMIT", "200 per hour"),
        # the public form's challenge: a signed token from the form, accepted no sooner than this after it was
        # issued (a person reads and writes; a script posts at once) and no later than the max age
        "OBJECTION_MIN_FILL_SECONDS": float(os.environ.get("OBJECTION_MIN_FILL_SECONDS", "5")),
        "OBJECTION_CHALLENGE_MAX_AGE_SECONDS": int(os.environ.get("OBJECTION_CHALLENGE_MAX_AGE_SECONDS", "7200")),
        # one digest e-mail to the ministry per this many minutes of new objections
        "OBJECTION_DIGEST_MINUTES": int(os.environ.get("OBJECTION_DIGEST_MINUTES", "60")),
        "API_TITLE": "kxflow",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/static/vendor/swagger-ui/",
        "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None},  # no call to an outside validator
        "TESTING": env == "testing",
        "DEBUG": False,
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
        # a reminder whose sending raises: tried again after 2, 4, 8 … minutes (at most 6 h), given up after 6
        "REMINDER_MAX_ATTEMPTS": int(os.environ.get("REMINDER_MAX_ATTEMPTS", "6")),
        "REMINDER_RETRY_BASE_SECONDS": float(os.environ.get("REMINDER_RETRY_BASE_SECONDS", "120")),
        # longer than any one run; a run that died frees the queue after this long
        "SCHEDULER_LOCK_SECONDS": float(os.environ.get("SCHEDULER_LOCK_SECONDS", "300")),
        # who receives objections to a public notice (the notice names them)
        "OBJECTION_OFFICE": os.environ.get("OBJECTION_OFFICE", "科学技术部 国家科技进步示范县工作办公室"),
        "OBJECTION_ADDRESS": os.environ.get("OBJECTION_ADDRESS", "北京市海淀区复兴路乙15号 科学技术部（邮编 100862）"),
        "OBJECTION_PHONE": os.environ.get("OBJECTION_PHONE", "010-12345678（演示号码）"),
        "KXFLOW_BASE_URL": os.environ.get("KXFLOW_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        # a running export with no progress report for this long has lost its worker: shown as failed, to retry
        "EXPORT_STALL_SECONDS": float(os.environ.get("EXPORT_STALL_SECONDS", "600")),
        # the dashboard's figures are kept this long per scope and call (0: computed on every view)
        "STATISTICS_CACHE_SECONDS": float(os.environ.get("STATISTICS_CACHE_SECONDS", "60")),
    }
    if env == "testing":
        cfg["STATISTICS_CACHE_SECONDS"] = 0.0  # tests change the data between two looks
        cfg["WTF_CSRF_ENABLED"] = True
        cfg["OBJECTION_MIN_FILL_SECONDS"] = 0.0
    if overrides:
        cfg.update(overrides)
    if production:
        problems = unsafe_settings(cfg)
        if problems:
            raise ConfigError("refusing to start in production:\n  - " + "\n  - ".join(problems))
    return cfg


def unsafe_settings(cfg: dict) -> list[str]:
    """Every setting that would make a production instance unsafe, all at once (an operator fixes them in one go)."""
    problems = []
    secret = cfg.get("SECRET_KEY") or ""
    if not secret:
        problems.append("SECRET_KEY must be set (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)")
    elif len(secret) < MIN_SECRET_LENGTH or len(set(secret)) < 10:
        problems.append(f"SECRET_KEY must be a random value of at least {MIN_SECRET_LENGTH} characters")
    if clock.offset():
        problems.append(f"{clock.OFFSET_VARIABLE} must not be set (it moves the clock; replays only)")
    if cfg.get("DEBUG"):
        problems.append("DEBUG must be off")
    if cfg.get("TESTING"):
        problems.append("TESTING must be off")
    if not cfg.get("SESSION_COOKIE_SECURE"):
        problems.append("SESSION_COOKIE_SECURE must be on (cookies over HTTPS only)")
    if not str(cfg.get("SESSION_COOKIE_NAME", "")).startswith("__Host-"):
        problems.append("SESSION_COOKIE_NAME must start with __Host- (bound to this host, HTTPS, path /)")
    if not cfg.get("SESSION_COOKIE_HTTPONLY"):
        problems.append("SESSION_COOKIE_HTTPONLY must be on")
    if cfg.get("SESSION_COOKIE_SAMESITE") not in ("Lax", "Strict"):
        problems.append("SESSION_COOKIE_SAMESITE must be Lax or Strict")
    if cfg.get("WTF_CSRF_ENABLED") is False:
        problems.append("CSRF protection (WTF_CSRF_ENABLED) must be on")
    if not cfg.get("RATELIMIT_ENABLED"):
        problems.append("RATELIMIT_ENABLED must be on")
    if str(cfg.get("SQLALCHEMY_DATABASE_URI", "")).startswith("sqlite"):
        problems.append("DATABASE_URL must name a PostgreSQL database (SQLite is for development)")
    if not cfg.get("REDIS_URL"):
        problems.append("REDIS_URL must be set: login throttles and rate limits must hold across all workers")
    if not cfg.get("HSTS_SECONDS"):
        problems.append("HSTS_SECONDS must be positive")
    if str(cfg.get("PASSWORD_HASH_METHOD")) != "argon2id":
        problems.append("PASSWORD_HASH_METHOD must be argon2id")
    if cfg.get("SESSION_IDLE_MINUTES", 0) > 30 or cfg.get("SESSION_ABSOLUTE_HOURS", 0) > 12:
        problems.append("sessions may idle at most 30 minutes and last at most 12 hours")
    if cfg.get("PROXY_COUNT", 0) < 0:
        problems.append("PROXY_COUNT cannot be negative")
    if mailbox(str(cfg.get("MAIL_SENDER", ""))) is None:
        problems.append(
            "MAIL_SENDER must be one e-mail address, bare or with a display name "
            "(noreply@example.gov.cn or 国家科技进步示范县管理系统 <noreply@example.gov.cn>)"
        )
    return problems
