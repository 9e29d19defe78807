#!/usr/bin/env bash
# Installs what the S3 tests run against (Debian 12, as root): Ceph's RADOS Gateway, one monitor and
# one OSD (memstore), and the ceph CLI. No daemon is started or enabled here: test.sh starts one
# throw-away cluster in a temp dir for the run (test/support/shared-ceph.ts, ceph.ts, ceph-cluster.sh).
# Idempotent and fast when installed: apt-get update runs only when a package is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
log() { printf 'setup-ceph: %s\n' "$*" >&2; }
die() {
  printf 'setup-ceph: ERROR: %s\n' "$*" >&2
  exit 1
}
[[ $(id -u) -eq 0 ]] || die "must run as root (it installs Debian packages)"

packages=(radosgw ceph-mon ceph-osd ceph-common python3-rados)
missing=()
while read -r p st; do
  [[ $st == installed ]] || missing+=("$p")
done < <(for p in "${packages[@]}"; do
  printf '%s %s\n' "$p" "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || echo missing)"
done)

if ((${#missing[@]} > 0)); then
  log "installing: ${missing[*]}"
  apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
  # policy-rc.d answering 101 keeps maintainer scripts from starting Ceph daemons.
  policy=/usr/sbin/policy-rc.d
  own_policy=no
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# written by ferry scripts/setup-ceph.sh during apt-get install\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=yes
  fi
  set +e
  apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/tmp/ferry-setup-ceph-apt.log 2>&1 ||
    { apt-get "${apt_opts[@]}" update -qq >>/tmp/ferry-setup-ceph-apt.log 2>&1 &&
      apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" >>/tmp/ferry-setup-ceph-apt.log 2>&1; }
  rc=$?
  set -e
  [[ $own_policy == yes ]] && rm -f "$policy"
  if ((rc != 0)); then
    tail -n 30 /tmp/ferry-setup-ceph-apt.log >&2
    die "apt-get install failed (full log: /tmp/ferry-setup-ceph-apt.log)"
  fi
  rm -f /tmp/ferry-setup-ceph-apt.log
fi
for bin in radosgw ceph-mon ceph-osd ceph ceph-authtool monmaptool radosgw-admin; do
  command -v "$bin" >/dev/null || die "$bin not found after installing ${packages[*]}"
done
/usr/bin/python3 -c 'import rados' 2>/dev/null || die "/usr/bin/python3 cannot import rados (python3-rados)"
log "ready: ceph $(dpkg-query -W -f='${Version}' radosgw)"
