"""Figures of the programme: against the plan's targets, a call's pipeline, what is overdue, the inspection
calendar and the provinces side by side — computed in the database, scoped to who asks; the dashboard, the
statistics API and the Excel exports all ask the same operations."""
