#!/usr/bin/env bash
# The one test command: set up interop peers (Debian packages), build, type-check, lint, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-peers.sh
npx tsc -p tsconfig.json
npx eslint .
npx prettier --check .
# Test files are the compiled *.test.js under dist/ (unit tests beside modules, e2e and interop in test/).
mapfile -t files < <(find dist -name '*.test.js' | sort)
node --test --test-concurrency=2 --test-timeout=300000 "${files[@]}"
