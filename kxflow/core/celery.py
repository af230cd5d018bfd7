"""Celery wired the Flask way: every task runs in the app context; config under app.config["CELERY"].

With REDIS_URL, Redis is the broker. Without it (the embedded default of ``make run``) kombu's
filesystem transport under instance/celery is, so web, worker and beat need nothing installed.
Delivery state lives in the database either way: the broker only carries "run the scan now".
"""

from __future__ import annotations

from pathlib import Path

from celery import Celery, Task
from flask import Flask


def celery_config(app: Flask) -> dict:
    cfg = app.config
    conf = {
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "task_acks_late": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        "timezone": "Asia/Shanghai",
        "beat_schedule": {
            "dispatch-email": {"task": "kxflow.dispatch_email", "schedule": cfg["EMAIL_DISPATCH_SECONDS"]},
            "scan-reminders": {"task": "kxflow.scan_reminders", "schedule": cfg["REMINDER_SCAN_SECONDS"]},
        },
        # the scans are cheap and idempotent; a tick that waited longer than one period is dropped
        "task_default_expires": max(cfg["EMAIL_DISPATCH_SECONDS"], 5.0),
    }
    if cfg.get("REDIS_URL"):
        conf["broker_url"] = cfg["REDIS_URL"]
    else:
        folder = Path(cfg.get("CELERY_FOLDER") or Path(app.instance_path) / "celery").resolve()
        for sub in ("queue", "control", "processed"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        conf["broker_url"] = "filesystem://"
        conf["broker_transport_options"] = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),  # relative by default: must be absolute
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
        }
    return conf


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config.setdefault("CELERY", celery_config(app)))
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
