"""Users, roles, scopes and API tokens."""
