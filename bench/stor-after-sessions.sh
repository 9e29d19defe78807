#!/usr/bin/env bash
# STOR of 1 GiB by the shared harness's C client, on a fresh `ferry serve --workers 1` and again
# after the harness's 1,000-session test: prints MB/s and the server's user and system CPU seconds
# per upload. Usage (as root, after ../shared/bench/setup): bench/stor-after-sessions.sh [ferry dir]
# The ferry dir (default: this repository) must be built; pass another checkout to compare builds.
# FERRY_BENCH_QUOTA=SIZE (e.g. 100G): the user comes from a users file, with that quota.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
ferry="$(cd "${1:-$here}" && pwd)"
H="${FERRY_BENCH_HARNESS:-$(cd "$here/../shared/bench" && pwd)}"
W="$H"; [ -w "$H" ] || W="${FERRY_BENCH_HOME:-/var/tmp/ferry-bench}"
FTPSC="$W/.state/ftpsc"; PORT="${FERRY_BENCH_PORT:-22500}"
data="$(mktemp -d)"
user=(--root "$W/data" --user bench:bench)
if [ -n "${FERRY_BENCH_QUOTA:-}" ]; then
  echo bench | node "$ferry/dist/src/cli/main.js" users add --data-dir "$data" --home "$W/data" \
    --quota-size "$FERRY_BENCH_QUOTA" --password-stdin bench >/dev/null
  user=()
fi
node --max-semi-space-size=4 "$ferry/dist/src/cli/main.js" serve "${user[@]}" --listen 127.0.0.1 \
  --implicit-port "$PORT" --explicit-port $((PORT + 1)) --pasv-ports $((PORT + 10))-$((PORT + 99)) \
  --cert "$W/.state/cert.pem" --key "$W/.state/key.pem" --allow-root \
  --data-dir "$data" --workers 1 --log-level warn >"$data/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do "$FTPSC" cmd 127.0.0.1 "$PORT" implicit bench bench NOOP >/dev/null 2>&1 && break; sleep 0.1; done
ticks() { awk '{print $14, $15}' "/proc/$pid/stat"; }
hz="$(getconf CLK_TCK)"
stor() {
  read -r u0 s0 < <(ticks)
  mbps="$("$FTPSC" stor 127.0.0.1 "$PORT" implicit bench bench /upload/after-sessions.bin "$W/data/big.bin" | sed -n 's/^MBps=//p')"
  read -r u1 s1 < <(ticks)
  echo "$1 MB/s=$mbps user_s=$(bc <<<"scale=2; ($u1 - $u0) / $hz") sys_s=$(bc <<<"scale=2; ($s1 - $s0) / $hz")"
  "$FTPSC" cmd 127.0.0.1 "$PORT" implicit bench bench "DELE /upload/after-sessions.bin" >/dev/null
  sync
}
stor fresh-1; stor fresh-2
FTPS_HOST=127.0.0.1 FTPS_PORT="$PORT" FTPS_MODE=implicit FTPS_USER=bench FTPS_PASS=bench FTPS_PID="$pid" \
  TESTS=concurrency REPS=1 "$H/run" >/dev/null 2>&1
stor after-sessions-1; stor after-sessions-2
