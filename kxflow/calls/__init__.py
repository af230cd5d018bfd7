"""Calls for applications (申报批次): dates, quotas, thresholds, admitted division types."""
