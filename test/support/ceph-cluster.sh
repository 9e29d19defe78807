#!/usr/bin/env bash
# Starts a throw-away single-node Ceph cluster for one test suite (called by ceph.ts): one monitor,
# one memstore OSD (object data in RAM) and a RADOS Gateway serving S3 on 127.0.0.1, all state in
# DIR. The daemons fork themselves and write PID files to DIR/run/*.pid; ceph.ts stops them by PID.
# Usage: ceph-cluster.sh DIR MON_V2_PORT MON_V1_PORT S3_PORT ACCESS_KEY SECRET_KEY MEM_BYTES
# On failure it prints the tail of the logs and exits non-zero (ceph.ts then stops what started).
set -Eeuo pipefail
DIR=$1 MON2=$2 MON1=$3 PORT=$4 AK=$5 SK=$6 MEM=$7
CONF=$DIR/ceph.conf
K=$DIR/keyring
die() {
  printf 'ceph-cluster: %s\n' "$*" >&2
  tail -n 20 "$DIR"/log/*.log "$DIR/log/setup.err" 2>/dev/null >&2 || true
  exit 1
}
trap 'die "command failed at line $LINENO"' ERR
# wait_for SECONDS WHAT CMD...: poll CMD until it succeeds (daemons give no readiness signal)
wait_for() {
  local limit=$1 what=$2
  shift 2
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || die "timed out after ${limit}s waiting for $what"
    sleep 0.1
  done
}
cephc() { timeout 30 ceph -c "$CONF" --connect-timeout 20 "$@"; }

mkdir -p "$DIR"/{run,log,crash,keyring,data/mon/ceph-a,data/osd/ceph-0,data/rgw}
FSID=$(cat /proc/sys/kernel/random/uuid)
cat >"$CONF" <<CONF
# test-only single-node cluster (Ferry test/support/ceph-cluster.sh)
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MON2,v1:127.0.0.1:$MON1]
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = $K/\$cluster.\$name.keyring
run dir = $DIR/run
admin socket = $DIR/run/\$cluster-\$name.asok
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
crash dir = $DIR/crash
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1
# each osdmap change otherwise waits ~1 s for the next paxos round
paxos propose interval = 0.05
mon data = $DIR/data/mon/\$cluster-\$id
osd data = $DIR/data/osd/\$cluster-\$id

[mon]
keyring = $DIR/data/mon/\$cluster-\$id/keyring

[osd]
osd objectstore = memstore
memstore device bytes = $MEM

[client.rgw.s3]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $DIR/data/rgw
rgw thread pool size = 128
# memstore keeps deleted data in RAM until garbage collection: collect within a minute
rgw gc obj min wait = 30
rgw gc processor period = 30
rgw init timeout = 120
# no lifecycle worker: radosgw exits in about 1 s
rgw enable lc threads = false
CONF

ceph-authtool --create-keyring "$K/ceph.mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool --create-keyring "$K/ceph.client.admin.keyring" --gen-key -n client.admin \
  --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
ceph-authtool "$K/ceph.mon.keyring" --import-keyring "$K/ceph.client.admin.keyring" >/dev/null
monmaptool --create --addv a "[v2:127.0.0.1:$MON2,v1:127.0.0.1:$MON1]" --fsid "$FSID" "$DIR/monmap" >/dev/null
timeout 60 ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$K/ceph.mon.keyring" 2>>"$DIR/log/setup.err"
timeout 60 ceph-mon -c "$CONF" -i a 2>>"$DIR/log/setup.err"
wait_for 60 "the monitor" cephc mon stat

OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_KEY=$(ceph-authtool --gen-print-key)
printf '{"cephx_secret": "%s"}\n' "$OSD_KEY" >"$DIR/osd-new.json"
OSD_ID=$(cephc osd new "$OSD_UUID" -i "$DIR/osd-new.json" 2>>"$DIR/log/setup.err")
[[ $OSD_ID == 0 ]] || die "unexpected osd id '$OSD_ID'"
printf '[osd.0]\n\tkey = %s\n' "$OSD_KEY" >"$K/ceph.osd.0.keyring"
timeout 60 ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" 2>>"$DIR/log/setup.err"
timeout 60 ceph-osd -c "$CONF" -i 0 2>>"$DIR/log/setup.err"
osd_up() { cephc osd dump 2>/dev/null | grep -q '^osd.0 up'; }
wait_for 60 "osd.0" osd_up

# radosgw's pools, made up front: the first bucket and first multipart upload then do not stall
/usr/bin/python3 - "$CONF" <<'PY' 2>>"$DIR/log/setup.err"
import json, sys, rados
c = rados.Rados(conffile=sys.argv[1], name='client.admin'); c.connect(timeout=20)
def cmd(**kw):
    r, out, err = c.mon_command(json.dumps(kw), b'', timeout=30)
    if r != 0: raise SystemExit(f"{kw}: {r} {err}")
for p in ['.rgw.root', 'default.rgw.log', 'default.rgw.control', 'default.rgw.meta',
          'default.rgw.buckets.index', 'default.rgw.buckets.non-ec', 'default.rgw.buckets.data']:
    cmd(prefix='osd pool create', pool=p, pg_num=8, pgp_num=8)
    cmd(prefix='osd pool application enable', pool=p, app='rgw')
c.shutdown()
PY

cephc auth get-or-create client.rgw.s3 mon 'allow rw' osd 'allow rwx' -o "$K/ceph.client.rgw.s3.keyring" 2>>"$DIR/log/setup.err"
timeout 60 radosgw -c "$CONF" -n client.rgw.s3 2>>"$DIR/log/setup.err"
s3_up() { [[ $(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/") == 200 ]]; }
wait_for 120 "the S3 endpoint" s3_up
timeout 60 radosgw-admin -c "$CONF" user create --uid=ferry-test --display-name="Ferry tests" \
  --access-key="$AK" --secret-key="$SK" >/dev/null 2>>"$DIR/log/setup.err"
