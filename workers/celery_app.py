"""The Celery entry point: ``celery -A workers.celery_app worker`` (and ``beat``)."""

from kxflow import create_app
from kxflow.notifications import tasks as _notification_tasks  # noqa: F401  (registers the tasks)
from kxflow.papers import tasks as _papers_tasks  # noqa: F401
from kxflow.reminders import tasks as _reminder_tasks  # noqa: F401

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
