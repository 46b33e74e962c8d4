#!/usr/bin/env bash
# Start the local PostgreSQL cluster for the tests if one is installed but stopped.
# On a machine without PostgreSQL this does nothing: the PostgreSQL tests then skip with a
# reason (they never skip when CI=true).
set -u
url="${MDM_TEST_POSTGRES_URL:-}"
if [ -n "$url" ] && [[ "$url" != *127.0.0.1* && "$url" != *localhost* ]]; then
  exit 0  # a remote server is not ours to start
fi
if command -v pg_isready >/dev/null 2>&1 && pg_isready -h 127.0.0.1 -p 5432 -q; then
  exit 0
fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  for version in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
  done
  for _ in $(seq 1 30); do
    pg_isready -h 127.0.0.1 -p 5432 -q && exit 0
    sleep 1
  done
  echo "ensure-postgres: PostgreSQL did not become ready on 127.0.0.1:5432" >&2
fi
exit 0
