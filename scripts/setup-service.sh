#!/usr/bin/env bash
# What the "run as a service" tests need (test/cli/service.test.ts), as root: systemd-analyze
# (Debian's systemd package; it only verifies unit files, no systemd needs to run) and a system user
# that `ferry serve --run-as` becomes. Idempotent and quick once done.
set -euo pipefail
if ! command -v systemd-analyze >/dev/null; then
  echo 'setup-service: installing systemd (for systemd-analyze verify)' >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi
if ! id -u ferry-test >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin ferry-test
fi
