"""Site inspections and periodic re-checks: date, team, place, the report's arrival, and their schedule."""
