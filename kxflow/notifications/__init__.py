"""In-app notifications: one row per recipient, written with the change that causes it (the outbox)."""
