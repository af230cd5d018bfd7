"""Celery task: one scan of due reminders (beat sends it every minute)."""

from __future__ import annotations

from celery import shared_task

from kxflow.reminders.operations import scan_due


@shared_task(name="kxflow.scan_reminders")
def scan_reminders() -> int | None:
    return scan_due()
