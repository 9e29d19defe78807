#!/usr/bin/env bash
# Installs Debian's fail2ban for its fail2ban-regex, which test/cli/fail2ban.test.ts runs over a log
# Ferry wrote with the filter Ferry ships (packaging/fail2ban/ferry.conf), as root. Nothing is
# banned: the package's own service must not run (its default sshd jail), so a temporary
# policy-rc.d keeps the maintainer scripts from starting it, and only a service this script's install
# would have started is disabled.
# Idempotent and fast when fail2ban-regex is present: apt-get runs only when it is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

log() { printf 'setup-fail2ban: %s\n' "$*" >&2; }

[[ $(id -u) -eq 0 ]] || {
  log "ERROR: must run as root (it installs a Debian package)"
  exit 1
}
if command -v fail2ban-regex >/dev/null; then
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

# No recommends (python3-systemd, nftables, whois…): fail2ban-regex needs only python3.
apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
log "installing fail2ban"
if ! apt-get install -y -q "${apt_opts[@]}" --no-install-recommends fail2ban >/dev/null; then
  apt-get update -q "${apt_opts[@]}" >/dev/null
  apt-get install -y -q "${apt_opts[@]}" --no-install-recommends fail2ban >/dev/null
fi
# Where systemd runs, keep the unit from starting at the next boot as well.
if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
  systemctl disable fail2ban >/dev/null 2>&1 || true
fi
command -v fail2ban-regex >/dev/null || {
  log "ERROR: fail2ban-regex is still missing after apt-get install"
  exit 1
}
log "fail2ban $(dpkg-query -W -f='${Version}' fail2ban)"
