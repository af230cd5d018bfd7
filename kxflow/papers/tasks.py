"""Celery task: one long export, run by a worker (the page polls its progress)."""

from __future__ import annotations

from celery import shared_task

from kxflow.papers import exports

TASK = "kxflow.run_export"


@shared_task(name=TASK)
def run_export(export_id: int) -> None:
    exports.run(export_id)
