#!/bin/sh
# First start of the compose PostgreSQL: the database, the role that owns it (and runs the
# migrations) and the plain role the app logs in as, so that row-level security applies to
# the app (superusers and BYPASSRLS roles would skip it; see README, Production).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_password="$HELPDESK_OWNER_PASSWORD" -v app_password="$HELPDESK_APP_PASSWORD" <<'SQL'
CREATE ROLE helpdesk_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE helpdesk_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE
  PASSWORD :'app_password';
CREATE DATABASE helpdesk OWNER helpdesk_owner;
SQL
