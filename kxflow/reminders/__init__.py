"""Time as data: deadline reminders, waiting-time (SLA) reminders and escalations, 催办."""
