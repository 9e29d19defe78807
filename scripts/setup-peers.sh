#!/usr/bin/env bash
# Installs the real FTPS peers and clients that the interop tests run (Debian 12, as root).
#
# - apt installs: clients (curl, lftp, rclone, python3 ftplib), pyftpdlib, openssl, vsftpd (the benchmark's peer;
#   its maintainer script is kept from starting a daemon on port 21), and the shared libraries the
#   unpacked servers need.
# - proftpd-core (with mod_tls) and pure-ftpd conflict with vsftpd (all Provide ftp-server), so they are
#   `apt-get download`ed and unpacked with `dpkg-deb -x` into .peers/ (git-ignored).
# - vsftpd logs in a system user `ferrytest` (no shell, locked system password) through a dedicated PAM
#   service `ferry-vsftpd` backed by pam_userdb, so the password is valid for that service only.
#
# Idempotent and fast when everything is present: `apt-get update` runs only when something is missing.
set -euo pipefail

cd "$(dirname "$0")/.."
repo="$(pwd)"
peers_dir="$repo/.peers"
export DEBIAN_FRONTEND=noninteractive

log() { printf 'setup-peers: %s\n' "$*" >&2; }
die() {
  printf 'setup-peers: ERROR: %s\n' "$*" >&2
  exit 1
}

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs Debian packages and a PAM service)"
command -v apt-get >/dev/null || die "apt-get not found: this script supports Debian 12 only"

# Keep these in sync with test/support/peers.ts.
vsftpd_user=ferrytest
vsftpd_password=ferrytest-Pa55
vsftpd_pam_service=ferry-vsftpd
vsftpd_userdb=/etc/ferry-test/vsftpd-users # pam_userdb appends .db

apt_packages=(
  curl lftp rclone openssl python3 python3-pyftpdlib python3-openssl
  nftables # the keepalive test blocks a control connection on loopback
  vsftpd libpam-modules db-util passwd
  # shared libraries of the unpacked proftpd-core and pure-ftpd (checked with ldd below)
  libhiredis0.14 libmemcached11 libmemcachedutil2 libpcre2-posix3 libpcre2-8-0 libsodium23
  libcap2 libacl1 libcrypt1 libidn2-0 libncursesw6 libtinfo6 libssl3 zlib1g libpam0g
)
# .peers/ subdirectory -> packages unpacked into it (mod_tls is in proftpd-mod-crypto, not proftpd-core)
declare -A unpacked=([proftpd]="proftpd-core proftpd-mod-crypto" [pure-ftpd]="pure-ftpd")

# A background apt run (for example CI provisioning) may hold the dpkg lock: wait for it, bounded.
apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)

is_installed() {
  [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]
}

# Candidate versions of all unpacked packages, from one apt-cache call (empty without package lists).
declare -A candidate=()
read_candidates() {
  local pkg="" line
  while IFS= read -r line; do
    if [[ $line =~ ^([^[:space:]]+):$ ]]; then
      pkg="${BASH_REMATCH[1]}"
    elif [[ $line =~ ^[[:space:]]+Candidate:[[:space:]]+(.+)$ && -n $pkg && ${BASH_REMATCH[1]} != "(none)" ]]; then
      candidate[$pkg]="${BASH_REMATCH[1]}"
    fi
  done < <(apt-cache policy ${unpacked[*]} 2>/dev/null)
}
read_candidates

# "pkg=version" lines of the candidates of a group; empty when apt has no package lists.
wanted_stamp() {
  local p out=""
  for p in $1; do
    [[ -n ${candidate[$p]:-} ]] || return 0
    out+="$p=${candidate[$p]}"$'\n'
  done
  printf '%s' "$out"
}

# One dpkg-query for all packages (unknown packages print nothing on stdout).
declare -A installed=()
while read -r p st; do
  [[ $st == installed ]] && installed[$p]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${apt_packages[@]}" 2>/dev/null || true)
missing=()
for p in "${apt_packages[@]}"; do
  [[ -n ${installed[$p]:-} ]] || missing+=("$p")
done

# An unpacked group is current when its stamp names the candidate versions (or, with no package
# lists at all, when a stamp exists: nothing newer can be known then).
need_unpack=()
for d in "${!unpacked[@]}"; do
  stamp="$peers_dir/$d/.versions"
  want="$(wanted_stamp "${unpacked[$d]}")"
  if [[ ! -f $stamp ]] || { [[ -n $want ]] && [[ "$(cat "$stamp")" != "${want%$'\n'}" ]]; }; then
    need_unpack+=("$d")
  fi
done

apt_updated=no
apt_update_once() {
  [[ $apt_updated == no ]] || return 0
  log "apt-get update"
  # DPkg::Lock::Timeout does not cover the package lists lock: retry while another apt holds it.
  local deadline=$((SECONDS + 600)) out
  until out="$(apt-get "${apt_opts[@]}" update -qq 2>&1)"; do
    if [[ $out != *"Could not get lock"* ]] || ((SECONDS >= deadline)); then
      printf '%s\n' "$out" >&2
      die "apt-get update failed"
    fi
    sleep 2
  done
  apt_updated=yes
}

if ((${#missing[@]} > 0)); then
  log "installing: ${missing[*]}"
  apt_update_once
  # policy-rc.d answering 101 keeps maintainer scripts (vsftpd's) from starting daemons.
  policy=/usr/sbin/policy-rc.d
  own_policy=no
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# written by ferry scripts/setup-peers.sh during apt-get install\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=yes
  fi
  vsftpd_was_installed=no
  is_installed vsftpd && vsftpd_was_installed=yes
  set +e
  apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/tmp/ferry-setup-peers-apt.log 2>&1
  rc=$?
  set -e
  [[ $own_policy == yes ]] && rm -f "$policy"
  if ((rc != 0)); then
    tail -n 30 /tmp/ferry-setup-peers-apt.log >&2
    die "apt-get install failed (full log: /tmp/ferry-setup-peers-apt.log)"
  fi
  rm -f /tmp/ferry-setup-peers-apt.log
  if [[ $vsftpd_was_installed == no ]]; then
    # We installed vsftpd: no system daemon of it may stay enabled, or running on port 21.
    if [[ -d /run/systemd/system ]]; then
      systemctl disable --now vsftpd.service >/dev/null 2>&1 || true
    else
      update-rc.d vsftpd disable >/dev/null 2>&1 || true
    fi
    if command -v ss >/dev/null; then
      for pid in $(ss -ltnpH 'sport = :21' 2>/dev/null | grep -o '"vsftpd",pid=[0-9]*' | cut -d= -f2); do
        log "stopping the vsftpd daemon (pid $pid) its package started on port 21"
        kill "$pid" 2>/dev/null || true
      done
    fi
  fi
fi

if ((${#need_unpack[@]} > 0)); then
  pkgs=()
  for d in "${need_unpack[@]}"; do
    for p in ${unpacked[$d]}; do pkgs+=("$p"); done
  done
  # apt-get download needs package lists; fetch them if there are none (fresh machine).
  [[ -n $(wanted_stamp "${pkgs[*]}") ]] || apt_update_once
  dl="$(mktemp -d /tmp/ferry-peers-dl.XXXXXX)"
  trap 'rm -rf "$dl"' EXIT
  chmod 755 "$dl"
  chown _apt "$dl" 2>/dev/null || true # lets apt download sandboxed instead of warning
  if ! (cd "$dl" && apt-get "${apt_opts[@]}" download -qq "${pkgs[@]}" 2>/dev/null); then
    apt_update_once # stale lists name versions the mirror no longer has
    (cd "$dl" && apt-get "${apt_opts[@]}" download -qq "${pkgs[@]}") || die "apt-get download ${pkgs[*]} failed"
  fi
  mkdir -p "$peers_dir"
  for d in "${need_unpack[@]}"; do
    dest="$peers_dir/$d"
    rm -rf "$dest"
    mkdir -p "$dest"
    stamp=""
    for p in ${unpacked[$d]}; do
      deb="$(ls "$dl/${p}"_*.deb)"
      dpkg-deb -x "$deb" "$dest"
      stamp+="$p=$(dpkg-deb -f "$deb" Version)"$'\n'
    done
    printf '%s\n' "${stamp%$'\n'}" >"$dest/.versions"
    log "unpacked ${unpacked[$d]} into ${dest#"$repo"/}"
  done
fi

# Every binary the tests run must find its shared libraries.
check_ldd() {
  local f="$1" out
  [[ -x $f || -f $f ]] || die "missing $f"
  out="$(ldd "$f" 2>&1 | grep 'not found' || true)"
  [[ -z $out ]] || die "$f lacks shared libraries (add their packages to apt_packages): $out"
}
check_ldd "$peers_dir/proftpd/usr/sbin/proftpd"
check_ldd "$peers_dir/proftpd/usr/lib/proftpd/mod_tls.so"
check_ldd "$peers_dir/pure-ftpd/usr/sbin/pure-ftpd"
check_ldd "$peers_dir/pure-ftpd/usr/bin/pure-pw"
check_ldd /usr/sbin/vsftpd
/usr/bin/python3 -c 'import pyftpdlib.handlers, OpenSSL' 2>/dev/null ||
  die "/usr/bin/python3 cannot import pyftpdlib with TLS (python3-pyftpdlib, python3-openssl)"

# vsftpd's login: system user (no shell, no usable system password) + PAM service with pam_userdb.
# vsftpd changes into the user's home directory before applying local_root, so it must exist.
vsftpd_home=/var/lib/ferrytest
mkdir -p "$vsftpd_home"
chmod 755 "$vsftpd_home"
if ! id -u "$vsftpd_user" >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir "$vsftpd_home" --shell /usr/sbin/nologin "$vsftpd_user"
  log "created system user $vsftpd_user"
elif [[ $(getent passwd "$vsftpd_user" | cut -d: -f6) != "$vsftpd_home" ]]; then
  usermod --home "$vsftpd_home" "$vsftpd_user"
fi
mkdir -p "$(dirname "$vsftpd_userdb")"
chmod 700 "$(dirname "$vsftpd_userdb")"
# Rebuild the db only when the user or password changed (the hash is salted, so compare with crypt()).
if ! /usr/bin/python3 - "$vsftpd_userdb.db" "$vsftpd_user" "$vsftpd_password" <<'EOF' 2>/dev/null; then
import sys, subprocess
path, user, password = sys.argv[1:]
out = subprocess.run(['db_dump', '-p', path], capture_output=True, text=True, check=True).stdout
lines = [l.strip() for l in out.splitlines()]
i = lines.index('HEADER=END')
pairs = dict(zip(lines[i + 1::2], lines[i + 2::2]))
stored = pairs.get(user)
got = subprocess.run(['openssl', 'passwd', '-6', '-salt', stored.split('$')[2], password],
                     capture_output=True, text=True, check=True).stdout.strip()
sys.exit(0 if got == stored else 1)
EOF
  hash="$(openssl passwd -6 "$vsftpd_password")"
  tmpdb="$(mktemp -u "$vsftpd_userdb.XXXXXX").db"
  printf '%s\n%s\n' "$vsftpd_user" "$hash" | db_load -T -t hash "$tmpdb"
  chmod 600 "$tmpdb"
  mv -f "$tmpdb" "$vsftpd_userdb.db"
  log "wrote $vsftpd_userdb.db"
fi
pam_file="/etc/pam.d/$vsftpd_pam_service"
pam_text="# Ferry interop tests (scripts/setup-peers.sh): vsftpd logins from $vsftpd_userdb.db only.
auth     required pam_userdb.so db=$vsftpd_userdb crypt=crypt
account  required pam_userdb.so db=$vsftpd_userdb crypt=crypt
session  required pam_permit.so"
if [[ ! -f $pam_file || $(cat "$pam_file") != "$pam_text" ]]; then
  printf '%s\n' "$pam_text" >"$pam_file"
  log "wrote $pam_file"
fi

log "ready: vsftpd $(dpkg-query -W -f='${Version}' vsftpd), $(cat "$peers_dir"/*/.versions | paste -sd' '), pyftpdlib $(dpkg-query -W -f='${Version}' python3-pyftpdlib), curl $(dpkg-query -W -f='${Version}' curl), lftp $(dpkg-query -W -f='${Version}' lftp)"
