"""docker-compose.yml cannot run here (no Docker engine), so its structure is checked instead."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("migrate", "web", "worker", "beat")


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def variables_the_app_reads() -> set[str]:
    source = (ROOT / "kxflow" / "config.py").read_text(encoding="utf-8")
    return set(re.findall(r'(?:os\.environ\.get|_flag)\("([A-Z_]+)"', source))


def test_services_and_health_checks():
    services = compose()["services"]
    assert set(services) >= {"postgres", "redis", "migrate", "web", "worker", "beat"}
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in services[name], name
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "db upgrade" in " ".join(services["migrate"]["command"])
    assert "uploads:/data/uploads" in services["web"]["volumes"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "workers.celery_app", "beat"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "workers.celery_app", "worker"]
    for name in ("worker", "beat"):  # nothing runs before the schema is there
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_every_app_variable_is_one_the_app_reads():
    read = variables_the_app_reads()
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "KXFLOW_ENV"} <= read
    for name in APP_SERVICES:
        env = compose()["services"][name]["environment"]
        unknown = set(env) - read
        assert unknown == set(), f"{name} sets variables the app never reads: {unknown}"


def test_the_app_connects_as_the_restricted_role_and_only_migrate_as_the_owner():
    """Finding 8: the compose file connected every service as the superuser-like owner."""
    services = compose()["services"]
    for name in ("web", "worker", "beat"):
        url = services[name]["environment"]["DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://kxflow_app:"), name
        assert "KXFLOW_DATABASE_OWNER" not in services[name]["environment"]
    migrate = services["migrate"]["environment"]
    assert migrate["DATABASE_URL"].startswith("postgresql+psycopg://kxflow:")
    assert migrate["KXFLOW_DATABASE_OWNER"] == "1" and migrate["DATABASE_APP_ROLE"] == "kxflow_app"
    assert "./deploy/postgres:/docker-entrypoint-initdb.d:ro" in services["postgres"]["volumes"]
    script = (ROOT / "deploy" / "postgres" / "10-app-role.sh").read_text()
    assert "CREATE ROLE kxflow_app LOGIN NOSUPERUSER" in script
    assert services["web"]["ports"][0].startswith("127.0.0.1:")  # behind the TLS proxy, never plain on the network


def test_the_dockerfile_serves_wsgi_with_gunicorn():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert '"wsgi:app"' in dockerfile and "gunicorn" in dockerfile
    assert "db upgrade" not in dockerfile  # migrations belong to the one-shot service
