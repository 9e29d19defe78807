#!/usr/bin/env bash
# The one test command (`npm test`): set up the interop peers (Debian packages), install the npm
# dependencies when they are missing or stale, build, type-check, lint, run every test.
# `--unit` (`npm run test:unit`): only the unit tests beside the modules (src/**/*.test.ts); no root,
# no peers, no network servers.
set -euo pipefail
cd "$(dirname "$0")/.."
unit=false
[[ ${1:-} == --unit ]] && unit=true

$unit || bash scripts/setup-peers.sh
$unit || bash scripts/setup-postgres.sh
$unit || bash scripts/setup-ceph.sh # radosgw for the S3 tests (one cluster for the run, below)
$unit || bash scripts/setup-service.sh
$unit || bash scripts/setup-haproxy.sh
$unit || bash scripts/setup-fail2ban.sh # fail2ban-regex for the shipped filter's test
# A fresh clone has no node_modules (npx would refuse to fetch tsc); after a pull that changed
# package-lock.json they are stale. npm writes node_modules/.package-lock.json on every install, so it
# is older than package-lock.json exactly when the lock changed since (CI's `npm ci` just ran: skipped).
# A node_modules that is a link (a second worktree sharing the first one's) is never reinstalled
# from here: npm would empty the linked folder under every other user of it.
if [[ -L node_modules ]]; then
  echo 'test: node_modules is a link: not installing into it' >&2
elif [[ ! -x node_modules/.bin/tsc || ! -f node_modules/.package-lock.json ||
  package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo 'test: installing npm dependencies (npm ci)' >&2
  npm ci --no-audit --no-fund --ignore-scripts # no `prepare` build: the build below is the one
fi
build() {
  npx tsc -p tsconfig.json
  node scripts/bundle-client.mjs # the client's entry points, one file each (src/client/bundle.ts)
  # The unit tests (dist/src/**/*.test.js) run in one process, through one entry that imports them
  # all: a process each cost 45 s more CPU for Node's and the runner's start-up (82 s against 37 s).
  find dist/src -name '*.test.js' | sort | sed -E "s#^dist/(.*)\$#import './\1';#" >dist/unit-tests.js
}
if $unit; then
  build
  exec node --test dist/unit-tests.js
fi
# The build, ESLint and Prettier need nothing of each other (ESLint does not type-check) and each
# uses one core for about half a minute: run at once, they take the longest one's time, not the
# sum (about 45 s less on CI's 2 cores). Each one's output is printed whole once all are done.
checks=$(mktemp -d "${TMPDIR:-/tmp}/ferry-checks.XXXXXX")
shared=(ceph postgres) # the servers the suites share (below)
declare -A started=()
cleanup() {
  local rc=$? s
  for s in "${!started[@]}"; do # each once its start has ended
    wait "${started[$s]}" || true
    [[ -s $checks/$s ]] && node "dist/test/support/shared-$s.js" stop "$(<"$checks/$s")" || true
  done
  rm -rf "$checks"
  exit "$rc"
}
trap cleanup EXIT
build >"$checks/build" 2>&1 &
pids=($!)
npx eslint . >"$checks/eslint" 2>&1 &
pids+=($!)
npx prettier --check . >"$checks/prettier" 2>&1 &
pids+=($!)
names=(build eslint prettier)
failed=()
for i in 0 1 2; do
  wait "${pids[$i]}" || failed+=("${names[$i]}")
  cat "$checks/${names[$i]}"
  # One Ceph gateway and one PostgreSQL cluster for the whole run (test/support/shared-*.ts), a
  # bucket or a database each suite: a cluster of each suite's own cost ~4.3 s (Ceph) and ~1.35 s
  # (initdb) of CPU. Started once built, beside ESLint and Prettier.
  if ((i == 0 && ${#failed[@]} == 0)); then
    for s in "${shared[@]}"; do
      node "dist/test/support/shared-$s.js" start >"$checks/$s" 2>"$checks/$s.err" &
      started[$s]=$!
    done
  fi
done
((${#failed[@]} == 0)) || {
  echo "test: failed: ${failed[*]}" >&2
  exit 1
}
for s in "${shared[@]}"; do
  wait "${started[$s]}" || {
    cat "$checks/$s.err" >&2
    echo "test: failed: starting the shared $s cluster" >&2
    exit 1
  }
done
FERRY_TEST_CEPH=$(<"$checks/ceph")
FERRY_TEST_POSTGRES=$(<"$checks/postgres")
export FERRY_TEST_CEPH FERRY_TEST_POSTGRES
# Test files are the compiled *.test.js under dist/test (e2e and interop), and the unit tests' entry.
mapfile -t all < <(find dist/test -name '*.test.js' | sort)
# The unit tests' entry (one of the longest files) and the long files first (scripts/tests-first.txt),
# then the rest in name order.
mapfile -t first < <(grep -v '^#' scripts/tests-first.txt | sed -E 's#^(.*)\.ts$#dist/\1.js#')
files=(dist/unit-tests.js)
declare -A listed=()
for f in "${first[@]}"; do
  [[ -f $f ]] && files+=("$f") && listed[$f]=1
done
for f in "${all[@]}"; do
  [[ -z ${listed[$f]:-} ]] && files+=("$f")
done
# The usual reporter (spec on a terminal, TAP otherwise), then every failure again at the end.
reporter=tap
[[ -t 1 ]] && reporter=spec
node --test --test-concurrency=2 --test-timeout=600000 \
  --test-reporter="$reporter" --test-reporter-destination=stdout \
  --test-reporter=./scripts/failures-reporter.mjs --test-reporter-destination=stdout "${files[@]}"
