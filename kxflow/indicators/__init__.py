"""Indicator sets: versioned definitions (data files), validation, derived values, scoring, veto."""
