"""Celery task: one run of the e-mail outbox dispatcher (beat sends it every few seconds)."""

from __future__ import annotations

import logging

from celery import shared_task

from kxflow.notifications.dispatch import dispatch_due

log = logging.getLogger(__name__)


@shared_task(name="kxflow.dispatch_email")
def dispatch_email() -> dict:
    run = dispatch_due()
    if run.sent or run.failed or run.cancelled or run.released:
        log.info(
            "e-mail dispatch: %s sent, %s failed, %s cancelled, %s left for the next run (its time was up)",
            run.sent,
            run.failed,
            run.cancelled,
            run.released,
        )
    return {"held_lock": run.held_lock, "sent": run.sent, "failed": run.failed}
