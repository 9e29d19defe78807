#!/usr/bin/env bash
# Installs Debian's haproxy for the PROXY protocol tests (test/e2e/haproxy.test.ts), as root.
# The tests start their own haproxy with their own config on ephemeral loopback ports; the package's
# own service must not run (it would listen on the ports of /etc/haproxy/haproxy.cfg): a temporary
# policy-rc.d keeps the maintainer scripts from starting it, and only a service this script's install
# would have started is disabled.
# Idempotent and fast when haproxy is present: apt-get runs only when it is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

log() { printf 'setup-haproxy: %s\n' "$*" >&2; }

[[ $(id -u) -eq 0 ]] || {
  log "ERROR: must run as root (it installs a Debian package)"
  exit 1
}
if command -v haproxy >/dev/null; then
  exit 0
fi

policy=/usr/sbin/policy-rc.d
own_policy=false
if [[ ! -e $policy ]]; then
  # 101: "action forbidden by policy" — invoke-rc.d then starts no service during the install.
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  own_policy=true
fi
cleanup() { if $own_policy; then rm -f "$policy"; fi; }
trap cleanup EXIT

apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
log "installing haproxy"
if ! apt-get install -y -q "${apt_opts[@]}" --no-install-recommends haproxy >/dev/null; then
  apt-get update -q "${apt_opts[@]}" >/dev/null
  apt-get install -y -q "${apt_opts[@]}" --no-install-recommends haproxy >/dev/null
fi
# Where systemd runs, keep the unit from starting at the next boot as well.
if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
  systemctl disable haproxy >/dev/null 2>&1 || true
fi
command -v haproxy >/dev/null || {
  log "ERROR: haproxy is still missing after apt-get install"
  exit 1
}
log "$(haproxy -v | head -1)"
