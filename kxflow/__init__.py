"""kxflow: the national S&T progress demonstration county programme (国家科技进步示范县（市）)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import text

from kxflow import config as config_module


def create_app(overrides: dict | None = None) -> Flask:
    """Builds the app. Never migrates: ``flask db upgrade`` (or the one-shot service) does that."""
    app = Flask(__name__, instance_path=str(config_module.INSTANCE))
    app.config.update(config_module.load(overrides))
    from kxflow.core.inputs import init_inputs

    init_inputs(app)  # before any route exists: the bounded <int:…> converter applies to all of them
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    from kxflow.core.afterwards import init_afterwards
    from kxflow.core.db import database_role_problems, db
    from kxflow.core.errors import register_error_handlers
    from kxflow.core.extensions import api, csrf, limiter, login_manager, migrate
    from kxflow.core.headers import init_headers
    from kxflow.core.i18n import babel, select_locale

    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        config_module.INSTANCE.mkdir(parents=True, exist_ok=True)
        _sqlite_pragmas(app)
    elif app.config["KXFLOW_ENV"] == "production" and not app.config["DATABASE_IS_OWNER"]:
        with app.app_context():
            problems = database_role_problems()
            db.engine.dispose()  # forked workers open their own connections
        if problems:
            raise config_module.ConfigError("refusing to start in production:\n  - " + "\n  - ".join(problems))
    init_headers(app)
    init_afterwards(app)
    migrate.init_app(app, db, directory=str(config_module.ROOT / "migrations"), render_as_batch=True, compare_type=True)
    babel.init_app(app, locale_selector=select_locale)
    csrf.init_app(app)
    limiter.init_app(app)
    api.init_app(app)
    login_manager.init_app(app)
    _import_models()

    from kxflow.core.celery import celery_init_app

    celery_init_app(app)

    from kxflow.accounts.api import blp as tokens_blp
    from kxflow.accounts.api import me_blp
    from kxflow.applications.api import blp as applications_blp
    from kxflow.applications.handling_api import blp as handling_blp
    from kxflow.applications.review_api import blp as review_blp
    from kxflow.assessments.api import blp as assessments_blp
    from kxflow.calls.api import blp as calls_blp
    from kxflow.experts.api import blp as experts_blp
    from kxflow.indicators.api import blp as sets_blp
    from kxflow.inspections.api import blp as inspections_blp
    from kxflow.notifications.api import blp as notifications_blp
    from kxflow.publicity.api import blp as objections_blp
    from kxflow.publicity.api import public_blp
    from kxflow.reminders.api import blp as reminders_blp
    from kxflow.statistics.api import blp as statistics_blp

    for blp in (
        tokens_blp,
        me_blp,
        calls_blp,
        applications_blp,
        handling_blp,
        review_blp,
        notifications_blp,
        inspections_blp,
        reminders_blp,
        assessments_blp,
        sets_blp,
        experts_blp,
        objections_blp,
        public_blp,
        statistics_blp,
    ):
        api.register_blueprint(blp)
        csrf.exempt(blp)  # bearer tokens or no login at all: no cookies, so nothing to forge

    register_error_handlers(app)

    @app.get("/healthz")
    def healthz():
        try:
            db.session.execute(text("SELECT 1"))
        except Exception:
            db.session.rollback()
            app.logger.exception("health check: database did not answer")
            return {"status": "unavailable", "database": False}, 503
        return {"status": "ok", "database": True}

    from kxflow.accounts.views import bp as accounts_web
    from kxflow.applications.handling_views import bp as handling_web
    from kxflow.applications.review_views import bp as review_web
    from kxflow.applications.views import bp as applications_web
    from kxflow.assessments.views import bp as assessments_web
    from kxflow.calls.views import bp as calls_web
    from kxflow.core.web import init_web
    from kxflow.experts.views import bp as experts_web
    from kxflow.indicators.views import bp as indicators_web
    from kxflow.inspections.views import bp as inspections_web
    from kxflow.notifications.views import bp as notifications_web
    from kxflow.papers.views import bp as papers_web
    from kxflow.publicity.views import bp as publicity_web
    from kxflow.regions.views import bp as regions_web
    from kxflow.statistics.views import bp as statistics_web
    from kxflow.workdays.views import bp as workdays_web

    init_web(app)
    for blp in (
        accounts_web,
        applications_web,
        handling_web,
        review_web,
        calls_web,
        notifications_web,
        assessments_web,
        experts_web,
        indicators_web,
        inspections_web,
        publicity_web,
        papers_web,
        regions_web,
        statistics_web,
        workdays_web,
    ):
        app.register_blueprint(blp)

    _register_contributions()

    from kxflow.core.uow import wrap_write_routes

    wrap_write_routes(app)

    from kxflow.cli import register as register_cli

    register_cli(app)
    return app


def _register_contributions() -> None:
    """What features add to the workflow they sit on: guards, reminder senders, visibility rules; then a
    check that every guard the trigger table names and every reminder kind has its owner."""
    import kxflow.applications.deadlines  # noqa: F401
    import kxflow.applications.guards  # noqa: F401
    import kxflow.assessments.guards  # noqa: F401
    import kxflow.experts.guards  # noqa: F401
    import kxflow.experts.reminders  # noqa: F401
    import kxflow.experts.scope  # noqa: F401
    import kxflow.inspections.guards  # noqa: F401
    import kxflow.inspections.reminders  # noqa: F401
    import kxflow.publicity.guards  # noqa: F401
    from kxflow.reminders.operations import check_registered as check_reminder_kinds
    from kxflow.workflow.guards import check_registered as check_guards

    check_guards()
    check_reminder_kinds()


def _import_models() -> None:
    """Every model module, so metadata (and Alembic autogenerate) sees all tables."""
    import kxflow.accounts.models  # noqa: F401
    import kxflow.applications.phrases  # noqa: F401
    import kxflow.assessments.models  # noqa: F401
    import kxflow.calls.models  # noqa: F401
    import kxflow.core.locks  # noqa: F401
    import kxflow.core.security_log  # noqa: F401
    import kxflow.core.throttle  # noqa: F401
    import kxflow.experts.models  # noqa: F401
    import kxflow.indicators.models  # noqa: F401
    import kxflow.inspections.models  # noqa: F401
    import kxflow.notifications.copies  # noqa: F401
    import kxflow.notifications.models  # noqa: F401
    import kxflow.papers.models  # noqa: F401
    import kxflow.publicity.models  # noqa: F401
    import kxflow.regions.models  # noqa: F401
    import kxflow.reminders.models  # noqa: F401
    import kxflow.workdays.models  # noqa: F401
    import kxflow.workflow.holders  # noqa: F401
    import kxflow.workflow.models  # noqa: F401


def _sqlite_pragmas(app: Flask) -> None:
    from sqlalchemy import event

    from kxflow.core.db import db

    with app.app_context():
        engine = db.engine

    from kxflow.core.db import guard_sqlite

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
        guard_sqlite(dbapi_conn)
