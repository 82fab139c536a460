#!/usr/bin/env bash
# Installs PostgreSQL from Debian's packages (when missing), starts a cluster
# and creates the test database owned by a non-superuser role.
# Prints the URL for AERIE_TEST_DATABASE_URL (the schema owner) on its last
# line; services under test run as aerie_test_app (AERIE_TEST_APP_DATABASE_URL).
set -euo pipefail

if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
if ! pg_lsclusters -h | grep -q "^$version main"; then
  pg_createcluster "$version" main >&2
fi
pg_ctlcluster "$version" main start >&2 || true
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 && break
  sleep 1
done
pg_isready -h 127.0.0.1 >&2

su postgres -c "psql -q -v ON_ERROR_STOP=1" >&2 <<'SQL'
DROP DATABASE IF EXISTS aerie_test;
DROP ROLE IF EXISTS aerie_test;
DROP ROLE IF EXISTS aerie_test_app;
CREATE ROLE aerie_test LOGIN PASSWORD 'aerie_test' NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
-- The role services run as: it owns nothing, so it cannot turn RLS off.
CREATE ROLE aerie_test_app LOGIN PASSWORD 'aerie_test_app' NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
CREATE DATABASE aerie_test OWNER aerie_test;
SQL
echo "postgres://aerie_test:aerie_test@127.0.0.1:5432/aerie_test"
