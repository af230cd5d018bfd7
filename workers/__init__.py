"""Background workers (Celery): dispatch of the notification outbox, reminders and schedules."""
