#!/usr/bin/env bash
# Installs PostgreSQL 15 (Debian's postgresql-15) for the tests that run against a real database
# (test/support/postgres.ts makes a throwaway cluster with initdb in a temp dir and runs it as the
# `postgres` system user the package creates). Debian's own cluster is not wanted: if installing
# the package started it, only that cluster is stopped again; one that was running stays running.
# Idempotent and fast when the binaries are present (no apt-get at all then).
set -euo pipefail

bin=/usr/lib/postgresql/15/bin
log() { printf 'setup-postgres: %s\n' "$*" >&2; }

if [[ -x $bin/initdb && -x $bin/pg_ctl ]] && id postgres >/dev/null 2>&1; then
  exit 0
fi
[[ $(id -u) -eq 0 ]] || {
  log "ERROR: must run as root to install postgresql-15"
  exit 1
}
running_before=$(pg_lsclusters --no-header 2>/dev/null | awk '$4 == "online" {print $1 "/" $2}' || true)
log 'installing postgresql-15'
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends postgresql-15 >/dev/null ||
  { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends postgresql-15 >/dev/null; }
# Stop only what the install started (Debian creates and starts a "main" cluster).
while read -r ver name _port status _; do
  [[ $status == online ]] || continue
  grep -qx "$ver/$name" <<<"$running_before" && continue
  log "stopping the cluster $ver/$name the package started"
  pg_ctlcluster "$ver" "$name" stop || true
done < <(pg_lsclusters --no-header 2>/dev/null || true)
[[ -x $bin/initdb ]] || {
  log "ERROR: $bin/initdb missing after install"
  exit 1
}
