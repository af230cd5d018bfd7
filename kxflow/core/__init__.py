"""Plumbing shared by every feature: database, clock, errors, auth, scope, i18n."""
