#!/usr/bin/env bash
# Makes sure the PostgreSQL used by the test suite answers. Starts a locally installed but
# stopped cluster; otherwise fails with a message saying how to provide one. Also drops test
# databases left behind by interrupted runs.
set -euo pipefail
URL="${IMO_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

ready() { pg_isready -q -d "$URL" 2>/dev/null; }

if ! command -v pg_isready >/dev/null; then
  echo "error: PostgreSQL client tools (pg_isready, psql) are not installed." >&2
  echo "       Install PostgreSQL (Debian: apt-get install postgresql) or point IMO_TEST_POSTGRES_URL at a server." >&2
  exit 1
fi
if ! ready; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
    ver="$(ls /etc/postgresql | sort -V | tail -n1)"
    echo "[postgres] starting local cluster $ver/main" >&2
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    for _ in $(seq 1 60); do ready && break; sleep 0.5; done
  fi
fi
if ! ready; then
  echo "error: PostgreSQL is not reachable at $URL." >&2
  echo "       Start it (e.g. 'pg_ctlcluster 15 main start') or set IMO_TEST_POSTGRES_URL to a server where" >&2
  echo "       the user may CREATE DATABASE. The PostgreSQL suite is part of 'make test' and is never skipped." >&2
  exit 1
fi
# Leftovers of interrupted runs (each test creates and drops its own imo_test_* database).
psql -q -At "$URL" -c "SELECT datname FROM pg_database WHERE datname LIKE 'imo\_test\_%'" 2>/dev/null |
  while read -r db; do psql -q "$URL" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true; done
echo "[postgres] ready at $URL" >&2
