#!/bin/sh
# Runs once, when the postgres container creates its data directory: the restricted role the app connects as.
# It owns nothing and may create nothing; the migrations (run as the owner, POSTGRES_USER) grant it its rights:
# read and write every table but the audit trail and the security log, which it may only read and add to.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v app_password="$KXFLOW_APP_DB_PASSWORD" <<'SQL'
CREATE ROLE kxflow_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD :'app_password';
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
